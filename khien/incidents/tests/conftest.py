"""Incident fixtures: the content files loaded, and a helper that reports through the service."""
import datetime as dt

import pytest
from django.utils import timezone


@pytest.fixture
def incident_content(db):
    from khien.incidents import content

    content.load_all()


def give_reports(incident, user):
    """Give the detailed notification and the final report (closing an incident needs every report stage)."""
    from khien.incidents import services

    services.do_submit_stage(incident, "notification", {"services_disrupted": "Thư điện tử", "people_affected": 0},
                             acting_user=user)
    return services.do_submit_stage(incident, "final", {"root_cause": "Mật khẩu yếu", "mitigation": "Đổi mật khẩu"},
                                    acting_user=user)


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
        if reports_given:  # the later report stages too, as closing needs them
            give_reports(incident, user or world.analyst)
        return incident

    return make
