"""The reporting side's "To do" (`incidents.worklist`): its own incidents waiting for triage (it may triage them:
`services.may_triage`), with the earliest triage due time, and each report stage due within a day — before it is
overdue (then it is among the incidents past a deadline). Nobody counts another tree's incidents."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from khien.conftest import _user
from khien.core.roles import Role
from khien.incidents import notices, services, worklist
from khien.incidents.worklist import waiting_work

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)


@pytest.fixture
def officer(world):
    return _user("it@xa.test.vn", world.commune, Role.ORG_ANALYST)


def labels(user) -> list[str]:
    with translation.override("en"):
        return [i.label for i in waiting_work(user)]


def item(user, text):
    with translation.override("en"):
        found = [i for i in waiting_work(user) if text in i.label]
    return found[0] if found else None


def test_the_reporting_side_sees_its_incidents_waiting_for_triage(world, officer, report, client):
    now = timezone.now()
    incident = report(org=world.commune, user=officer, severity="medium", now=now, title="Thư giả mạo")
    report(org=world.ministry, user=world.analyst, title="Sự cố của bộ")
    due = notices.when_text(now + 24 * H)
    mine = item(officer, "waiting for triage")
    assert mine.label == f"Your organization has 1 incident waiting for triage, due by {due}"
    assert mine.count == 1 and not mine.urgent and mine.url == f"{reverse('incidents:incident_list')}?status=new"
    client.force_login(officer)
    page = client.get(mine.url).content.decode()
    assert "Thư giả mạo" in page and "Sự cố của bộ" not in page
    # The province above it may triage it too; the ministry, its auditor and trainee, a responder may not.
    assert item(world.other_admin, "waiting for triage").count == 1
    assert item(world.admin, "waiting for triage").count == 1  # its own, not the commune's
    for person in (world.auditor, world.trainee, world.responder, world.nobody):
        assert item(person, "waiting for triage") is None
    # The coordinator keeps the national line.
    assert item(world.coordinator, "waiting for triage").label == "2 incidents waiting for triage"
    services.do_triage(incident, {}, acting_user=officer)
    assert item(officer, "waiting for triage") is None


def test_triage_soon_due_is_urgent_and_several_say_the_earliest(world, officer, report):
    now = timezone.now()
    report(org=world.commune, user=officer, severity="low", now=now)  # triage due in 72 h
    # Triage due 1 h after the report, reported 31 minutes ago: in the deadline's second half, when the due-soon
    # notice goes out (`notices.soon_at`); a fresh one is not urgent yet.
    report(org=world.commune, user=officer, severity="critical", now=now - 31 * H / 60)
    mine = item(officer, "waiting for triage")
    assert mine.label == ("Your organization has 2 incidents waiting for triage, the earliest due by "
                          f"{notices.when_text(now - 31 * H / 60 + H)}")
    assert mine.urgent


def test_a_report_stage_shows_from_a_day_before_it_is_due_until_it_is_given(world, officer, report):
    now = timezone.now()
    # Detected 40 h ago: the detailed notification is due in 32 h — not yet on the list.
    later = report(org=world.commune, user=officer, severity="low", now=now - 39 * H, detected_at=now - 40 * H)
    assert item(officer, "Detailed notification") is None
    # Detected 50 h ago: due in 22 h — listed, linking to the incident's deadlines, not urgent yet.
    soon = report(org=world.commune, user=officer, severity="low", now=now - 49 * H, detected_at=now - 50 * H,
                  title="Trang bị thay giao diện")
    found = item(officer, "Detailed notification")
    due = notices.when_text(soon.detected_at + 72 * H)
    assert found.label == f"{soon.reference}: the report “Detailed notification” is due at {due}."
    assert found.url == reverse("incidents:incident_detail", args=[soon.pk]) + "#deadlines"
    assert found.count == 1 and not found.urgent
    # The province above sees it; another tree, the coordinator (not theirs to give) do not.
    assert item(world.other_admin, soon.reference) is not None
    assert item(world.admin, soon.reference) is None and item(world.coordinator, soon.reference) is None
    # Within the due-soon notice's lead time (2 h): urgent.
    close = report(org=world.commune, user=officer, severity="low", now=now - 70 * H, detected_at=now - 71 * H)
    assert item(officer, close.reference).urgent
    # Soonest first.
    assert [label.split(":")[0] for label in labels(officer) if "Detailed notification" in label] == \
        [close.reference, soon.reference]
    # Given: gone. Overdue: counted among the incidents past a deadline instead.
    services.do_submit_stage(soon, "notification", {"services_disrupted": "Cổng thông tin", "people_affected": 0},
                             acting_user=officer)
    assert item(officer, soon.reference) is None
    overdue = report(org=world.commune, user=officer, severity="low", now=now - 79 * H, detected_at=now - 80 * H)
    assert item(officer, overdue.reference) is None
    assert item(officer, "past a deadline").count >= 1
    assert item(officer, later.reference) is None


def test_past_the_listed_ones_the_rest_are_counted_on_one_line(world, officer, report, monkeypatch):
    monkeypatch.setattr(worklist, "REPORTS_LISTED", 2)
    now = timezone.now()
    made = [report(org=world.commune, user=officer, severity="low", now=now - (49 + k) * H,
                   detected_at=now - (50 + k) * H) for k in range(4)]
    lines = [label for label in labels(officer) if "Detailed notification" in label or "more report" in label]
    assert lines[:2] == [f"{made[3].reference}: the report “Detailed notification” is due at "
                         f"{notices.when_text(made[3].detected_at + 72 * H)}.",
                         f"{made[2].reference}: the report “Detailed notification” is due at "
                         f"{notices.when_text(made[2].detected_at + 72 * H)}."]
    assert lines[2] == f"2 more reports due by {notices.when_text(made[0].detected_at + 72 * H)}"
