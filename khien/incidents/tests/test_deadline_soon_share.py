"""The "deadline soon" notice is proportional to the deadline's window (the duty officer's walkthrough: a critical
incident's 1-hour triage deadline sent "due soon" 3 minutes after the report, since the lead time was 2 hours).

A deadline is due soon in the second half of its window, at most the lead time (`KHIEN_INCIDENT_DEADLINE_LEAD_HOURS`)
before it: a fresh incident's short deadline does not warn at once; a long one still warns the lead time before."""
import datetime as dt

import pytest

from khien.core.models import Notification
from khien.incidents import jobs, notices

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)
MIN = dt.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _lead(settings):
    settings.KHIEN_INCIDENT_DEADLINE_LEAD_HOURS = 2


def _soon_keys(incident):
    incident.refresh_from_db()
    return [key for key in incident.deadline_notices if key.startswith("soon:")]


def test_a_fresh_critical_incident_is_not_due_soon_at_once(world, report):
    # Critical: triage due 1 hour after the report.
    incident = report(now=T0, severity="critical", detected_at=T0 - 10 * MIN)
    jobs.check_deadlines(T0 + 3 * MIN)  # the walkthrough's notice, 3 minutes in
    assert _soon_keys(incident) == []
    assert not Notification.objects.filter(kind="incidents.deadline_soon").exists()
    jobs.check_deadlines(T0 + 28 * MIN)  # 32 minutes before: not the second half yet
    assert _soon_keys(incident) == []
    jobs.check_deadlines(T0 + 32 * MIN)  # 28 minutes before: due soon, once
    assert _soon_keys(incident) == ["soon:sla:triage"]
    told = Notification.objects.filter(kind="incidents.deadline_soon", recipient=world.analyst)
    assert told.count() == 1 and incident.reference in told.get().title


def test_a_long_deadline_still_warns_the_lead_time_before(world, report):
    # Low severity: triage due 72 hours after the report; half of it (36 h) is capped at the 2-hour lead.
    incident = report(now=T0, severity="low", detected_at=T0 - 10 * MIN)
    jobs.check_deadlines(T0 + dt.timedelta(hours=69, minutes=50))  # 2 h 10 min before
    assert "soon:sla:triage" not in _soon_keys(incident)
    jobs.check_deadlines(T0 + dt.timedelta(hours=70, minutes=10))  # 1 h 50 min before
    assert "soon:sla:triage" in _soon_keys(incident)


def test_a_stage_counted_from_detection_starts_its_window_at_the_report(world, report):
    # Detected 70 hours before the report (the initial report late): the detailed notification is due 72 h after
    # detection, 2 hours after the report — its window for Khiên is those 2 hours: due soon 1 hour before.
    incident = report(now=T0, severity="low", detected_at=T0 - dt.timedelta(hours=70),
                      late_reason="Phát hiện muộn qua kiểm tra định kỳ.")
    jobs.check_deadlines(T0 + 5 * MIN)
    assert "soon:stage:notification" not in _soon_keys(incident)
    jobs.check_deadlines(T0 + 55 * MIN)  # 65 minutes before
    assert "soon:stage:notification" not in _soon_keys(incident)
    jobs.check_deadlines(T0 + 65 * MIN)  # 55 minutes before
    assert "soon:stage:notification" in _soon_keys(incident)


def test_the_rule():
    lead = dt.timedelta(hours=2)
    due = T0 + dt.timedelta(hours=1)
    assert notices.soon_at(T0, due, lead) == due - 30 * MIN
    assert notices.soon_at(T0, T0 + dt.timedelta(hours=4), lead) == T0 + dt.timedelta(hours=2)
    assert notices.soon_at(T0, T0 + dt.timedelta(hours=72), lead) == T0 + dt.timedelta(hours=70)
    assert notices.soon_at(T0, T0 - MIN, lead) == T0 - MIN  # a window already past: soon only when due
    assert notices.soon_at(None, due, lead) == due - lead


def test_the_audit_log_names_a_deadline_notice_and_an_escalation(world, report):
    """The deadline check's update of an incident read "Changed · incident" with no actor: it says what it was."""
    from django.utils import translation

    from khien.core import audit
    from khien.core.models import AuditEntry

    incident = report(now=T0, severity="critical", detected_at=T0 - 10 * MIN)
    jobs.check_deadlines(T0 + 32 * MIN)  # due soon
    jobs.check_deadlines(T0 + 61 * MIN)  # missed: escalated
    entries = AuditEntry.objects.filter(object_type="incidents.incident", object_id=str(incident.pk),
                                        actor_email="").order_by("seq")
    with translation.override("en"):
        assert [audit.entry_action_label(e) for e in entries] == ["Deadline notice sent", "Escalated to the coordinator"]
    # A person's edit of the incident keeps its plain label.
    edited = AuditEntry.objects.filter(object_type="incidents.incident", object_id=str(incident.pk)).exclude(
        actor_email="").first()
    if edited is not None:
        assert audit.entry_action_label(edited) not in ("Deadline notice sent", "Escalated to the coordinator")


def test_the_to_do_line_turns_urgent_when_the_notice_is_due(world, report):
    """The home page's "waiting for triage" line follows the due-soon notice: a fresh critical incident's 1-hour
    triage is not urgent 3 minutes in, it is in the deadline's second half."""
    from khien.incidents import worklist
    from khien.incidents.models import Incident

    report(now=T0, severity="critical", detected_at=T0 - 10 * MIN)
    [early] = worklist.waiting_for_triage(Incident.objects.all(), world.analyst, T0 + 3 * MIN)
    [late] = worklist.waiting_for_triage(Incident.objects.all(), world.analyst, T0 + 32 * MIN)
    assert (early.urgent, late.urgent) == (False, True)
