"""Deadline arithmetic: pure functions of times and the reporting policy's data (no database)."""
import datetime as dt

import pytest
import yaml

from khien.incidents import content, deadlines

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def policy():
    data = yaml.safe_load((content.DATA_DIR / "reporting.yaml").read_text())
    content.check_policy(data)
    return data


def t(*args):
    return dt.datetime(*args, tzinfo=UTC)


DETECTED = t(2026, 3, 10, 8, 0, 0)


def test_initial_report_due_24_hours_after_detection(policy):
    assert deadlines.report_due_at(DETECTED, policy) == t(2026, 3, 11, 8, 0, 0)


@pytest.mark.parametrize(
    ("reported_at", "late"),
    [
        (t(2026, 3, 10, 9, 0, 0), False),           # an hour later
        (t(2026, 3, 11, 7, 59, 59), False),         # a second before the deadline
        (t(2026, 3, 11, 8, 0, 0), False),           # exactly 24 h: on time
        (t(2026, 3, 11, 8, 0, 1), True),            # 24 h + 1 s: late
        (t(2026, 3, 14, 8, 0, 0), True),
    ],
)
def test_reported_late_boundaries(policy, reported_at, late):
    assert deadlines.is_late(reported_at, deadlines.report_due_at(DETECTED, policy)) is late


def test_boundary_holds_across_time_zones(policy):
    """The same instant written in Vietnam time is judged the same."""
    hcm = dt.timezone(dt.timedelta(hours=7))
    due = deadlines.report_due_at(DETECTED.astimezone(hcm), policy)
    assert due == t(2026, 3, 11, 8, 0, 0)
    assert deadlines.is_late(dt.datetime(2026, 3, 11, 15, 0, 0, tzinfo=hcm), due) is False  # = 08:00 UTC
    assert deadlines.is_late(dt.datetime(2026, 3, 11, 15, 0, 1, tzinfo=hcm), due) is True


def test_naive_times_refused(policy):
    with pytest.raises(ValueError):
        deadlines.report_due_at(dt.datetime(2026, 3, 10, 8, 0), policy)


def test_is_overdue_done_and_not_done():
    due = t(2026, 3, 11, 8, 0, 0)
    assert deadlines.is_overdue(due, done_at=due) is False
    assert deadlines.is_overdue(due, done_at=due + dt.timedelta(seconds=1)) is True
    assert deadlines.is_overdue(due, now=due) is False
    assert deadlines.is_overdue(due, now=due + dt.timedelta(seconds=1)) is True
    assert deadlines.is_overdue(None, now=due) is False
    assert deadlines.is_late(None, due) is None


def test_stage_schedule_and_next_stage(policy):
    times = {"detected_at": DETECTED, "reported_at": None, "notified_at": None, "final_report_at": None}
    stages = deadlines.schedule(times, policy)
    assert [s.code for s in stages] == ["initial", "notification", "final"]
    assert stages[0].due_at == t(2026, 3, 11, 8, 0, 0)
    assert stages[1].due_at == t(2026, 3, 13, 8, 0, 0)  # 72 h after detection
    assert stages[2].due_at is None                      # counts from the notification, not given yet
    assert deadlines.next_stage(times, policy).code == "initial"

    times["reported_at"] = t(2026, 3, 10, 20, 0, 0)
    nxt = deadlines.next_stage(times, policy)
    assert nxt.code == "notification" and nxt.due_at == t(2026, 3, 13, 8, 0, 0)
    assert nxt.overdue(now=t(2026, 3, 13, 8, 0, 0)) is False
    assert nxt.overdue(now=t(2026, 3, 13, 8, 0, 1)) is True

    times["notified_at"] = t(2026, 3, 13, 8, 0, 1)  # one second late
    stages = deadlines.schedule(times, policy)
    assert stages[0].late is False and stages[1].late is True
    final = deadlines.next_stage(times, policy)
    assert final.code == "final" and final.due_at == t(2026, 4, 13, 8, 0, 1)  # one calendar month later

    times["final_report_at"] = t(2026, 4, 13, 8, 0, 1)
    assert deadlines.schedule(times, policy)[2].late is False
    assert deadlines.next_stage(times, policy) is None


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (t(2026, 1, 31, 3, 0, 0), t(2026, 2, 28, 3, 0, 0)),   # end of month clamps (31 Jan → 28 Feb)
        (t(2028, 1, 31, 3, 0, 0), t(2028, 2, 29, 3, 0, 0)),   # leap year
        (t(2026, 12, 15, 3, 0, 0), t(2027, 1, 15, 3, 0, 0)),  # across the year
        # 30 Apr 20:00 UTC is already 1 May in Vietnam: the month is counted there
        # (1 May → 1 Jun, Vietnam time), not in UTC (which would give 30 May).
        (t(2026, 4, 30, 20, 0, 0), t(2026, 5, 31, 20, 0, 0)),
    ],
)
def test_final_report_month_is_a_calendar_month_in_vietnam_time(start, expected):
    assert deadlines.add_delay(start, months=1) == expected


@pytest.mark.parametrize(
    ("severity", "triage_hours", "contain_hours"),
    [("low", 72, 720), ("medium", 24, 168), ("high", 4, 72), ("critical", 1, 24)],
)
def test_sla_per_severity(policy, severity, triage_hours, contain_hours):
    reported = t(2026, 3, 10, 9, 0, 0)
    triage = deadlines.sla_due_at(severity, "triage", reported, policy)
    contain = deadlines.sla_due_at(severity, "contain", reported, policy)
    assert triage == reported + dt.timedelta(hours=triage_hours)
    assert contain == reported + dt.timedelta(hours=contain_hours)
    assert deadlines.is_overdue(triage, done_at=triage) is False
    assert deadlines.is_overdue(triage, done_at=triage + dt.timedelta(seconds=1)) is True


def test_sla_unknown_severity_or_measure(policy):
    with pytest.raises(KeyError):
        deadlines.sla_due_at("apocalyptic", "triage", DETECTED, policy)
    with pytest.raises(ValueError):
        deadlines.sla_due_at("low", "resolve", DETECTED, policy)


def _incident(policy, severity="high", status="new", **times):
    from types import SimpleNamespace

    fields = {"detected_at": DETECTED, "reported_at": DETECTED + dt.timedelta(hours=2), "notified_at": None,
              "final_report_at": None, "triaged_at": None, "contained_at": None, "resolved_at": None}
    fields.update(times)
    return SimpleNamespace(severity=severity, status=status, policy=SimpleNamespace(data=policy), **fields)


def test_next_deadline_is_the_soonest_one_still_to_meet(policy):
    """The list's "next deadline" column: a high incident reported 2 hours after detection must be triaged
    4 hours after the report (before its 72-hour detailed notification)."""
    reported = DETECTED + dt.timedelta(hours=2)
    incident = _incident(policy)
    pending = deadlines.incident_pending(incident)
    assert [(d.kind, d.code) for d in pending] == [("sla", "triage"), ("stage", "notification"), ("sla", "contain")]
    assert deadlines.incident_next_deadline(incident).due_at == reported + dt.timedelta(hours=4)
    triaged = _incident(policy, status="triaged", triaged_at=reported + dt.timedelta(hours=1))
    assert deadlines.incident_next_deadline(triaged).code == "notification"
    # Notification given: the final report is due a month after it; containment (72 h) comes first.
    notified = _incident(policy, status="in_response", triaged_at=reported, notified_at=reported)
    assert [(d.code) for d in deadlines.incident_pending(notified)] == ["contain", "final"]
    done = _incident(policy, status="resolved", triaged_at=reported, notified_at=reported,
                     final_report_at=reported, contained_at=reported, resolved_at=reported)
    assert deadlines.incident_pending(done) == [] and deadlines.incident_next_deadline(done) is None
    assert deadlines.incident_pending(_incident(policy, status="closed")) == []
