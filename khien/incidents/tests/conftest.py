"""Incident fixtures: the content files loaded, and a helper that reports through the service."""
import datetime as dt

import pytest
from django.utils import timezone


@pytest.fixture(autouse=True)
def _platform_language():
    """Each test starts and ends in the platform's language: a request in English (an API call with
    Accept-Language: en) leaves its language active in the thread, and a later test would read English."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def incident_content(db):
    from khien.incidents import content

    content.load_all()


def give_reports(incident, user):
    """Give the reports still missing that the incident's status allows: the detailed notification, and the final
    report once the incident is resolved (it reports the end of the response; closing needs every report stage)."""
    from khien.incidents import services
    from khien.incidents.models import Status

    if incident.notified_at is None:
        incident = services.do_submit_stage(
            incident, "notification", {"services_disrupted": "Thư điện tử", "people_affected": 0}, acting_user=user)
    if incident.final_report_at is None and incident.status == Status.RESOLVED:
        incident = services.do_submit_stage(
            incident, "final", {"root_cause": "Mật khẩu yếu", "mitigation": "Đổi mật khẩu"}, acting_user=user)
    return incident


def walk(incident, statuses, user):
    """Take the workflow steps `statuses` in order as `user`; on reaching "resolved", the reporting organization
    (the incident's reporter) gives the reports still missing, as it must before closing. Resolving and closing
    cancel the tasks still open."""
    from khien.incidents import services
    from khien.incidents.models import Status

    for status in statuses:
        # The walk ends the response with its tasks as they are: any still open are cancelled (an explicit choice,
        # see test_open_tasks_on_close.py).
        incident = services.do_transition(incident, status, acting_user=user,
                                          cancel_open_tasks=status in services.ENDS_THE_TASKS)
        if status == Status.RESOLVED:
            incident = give_reports(incident, incident.created_by or user)
    return incident


@pytest.fixture
def report(world, incident_content):
    """Report an incident for `org` as `user` through the service (defaults: the ministry's analyst)."""
    from khien.incidents import services

    def make(org=None, user=None, systems=(), now=None, observables=(), reports_given=False, **fields):
        now = now or timezone.now()
        data = {
            "organization": org or world.ministry,
            "title": "Mã độc trên máy chủ thư điện tử",
            "detected_at": now - dt.timedelta(hours=2),
            "category": "infected-system",
            "severity": "high",
            "suspected_malicious": True,
            "impact_beyond_organization": False,
            "description": "Phát hiện mã độc trên máy chủ thư điện tử.",
        }
        data.update(fields)
        incident = services.do_report_incident(data, acting_user=user or world.analyst, systems=systems, now=now,
                                               observables=observables)
        if reports_given:  # the reports its status allows (the final report comes once resolved: see `walk`)
            incident = give_reports(incident, user or world.analyst)
        return incident

    return make
