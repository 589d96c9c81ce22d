"""The home page's "To do" items of incidents (`incidents.worklist`): incidents past a deadline, incidents waiting
for triage (the national coordinator; the reporting side its own), open tasks given to the person; each count links to the list showing
exactly those, and nobody counts another organization's incidents."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from khien.core import worklist as core_worklist
from khien.incidents import services
from khien.incidents.models import Status, TaskStatus
from khien.incidents.worklist import waiting_work

from .conftest import walk

pytestmark = pytest.mark.django_db

OVERDUE, TRIAGE, TASKS = "overdue=1", "status=new", "mine=1"


def item(user, marker):
    found = [i for i in waiting_work(user) if marker in i.url]
    return found[0] if found else None


def listed(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def incidents(world, report):
    """MIN: one overdue and new (triage SLA missed), one overdue though triaged (the detailed notification is late),
    one on time; PROV: one overdue. Closed and resolved ones are past no deadline any more."""
    past = timezone.now() - dt.timedelta(days=5)
    late_new = report(title="Sự cố A quá hạn", now=past)
    late_triaged = walk(report(title="Sự cố B đã phân loại", now=past), [Status.TRIAGED], world.analyst)
    on_time = report(title="Sự cố C đúng hạn")
    foreign = report(org=world.province, user=world.other_admin, title="Sự cố D của tỉnh", now=past)
    return {"late_new": late_new, "late_triaged": late_triaged, "on_time": on_time, "foreign": foreign}


def test_the_provider_is_registered():
    assert waiting_work in core_worklist._providers


def test_incidents_past_a_deadline_are_counted_in_scope_and_listed_exactly(world, incidents, as_user):
    mine = item(world.admin, OVERDUE)
    assert mine.count == 2 and mine.urgent
    page = listed(as_user(world.admin), mine.url)
    assert "Sự cố A quá hạn" in page and "Sự cố B đã phân loại" in page
    assert "Sự cố C đúng hạn" not in page and "Sự cố D của tỉnh" not in page
    # The province's administrator counts only the province's.
    assert item(world.other_admin, OVERDUE).count == 1
    # The API's list takes the same filter (one FilterSet).
    from rest_framework.test import APIClient
    client = APIClient()
    client.force_authenticate(world.admin)
    rows = client.get("/api/incidents/?overdue=1").json()
    rows = rows.get("results", rows) if isinstance(rows, dict) else rows
    assert sorted(r["title"] for r in rows) == ["Sự cố A quá hạn", "Sự cố B đã phân loại"]


def test_a_met_deadline_is_no_longer_counted(world, incidents):
    services.do_transition(incidents["late_new"], Status.TRIAGED, acting_user=world.analyst)
    # Triaged late, but its detailed notification is overdue too: still past a deadline.
    assert item(world.admin, OVERDUE).count == 2
    services.do_submit_stage(incidents["late_new"], "notification",
                             {"services_disrupted": "Thư điện tử", "people_affected": 0}, acting_user=world.analyst)
    services.do_submit_stage(incidents["late_triaged"], "notification",
                             {"services_disrupted": "Thư điện tử", "people_affected": 0}, acting_user=world.analyst)
    # Containment (72 h for a high severity, from the report 5 days ago) is still missed for both.
    assert item(world.admin, OVERDUE).count == 2
    for key in ("late_new", "late_triaged"):
        services.do_transition(incidents[key], Status.IN_RESPONSE, acting_user=world.analyst)
        services.do_transition(incidents[key], Status.CONTAINED, acting_user=world.analyst)
    found = item(world.admin, OVERDUE)
    assert found is None or found.count == 0


def test_the_coordinator_sees_the_incidents_waiting_for_triage(world, incidents, coordinator_client):
    waiting = item(world.coordinator, TRIAGE)
    assert waiting.count == 3  # A, C and the province's D: new; B is triaged
    page = listed(coordinator_client, waiting.url)
    assert "Sự cố A quá hạn" in page and "Sự cố C đúng hạn" in page and "Sự cố D của tỉnh" in page
    assert "Sự cố B đã phân loại" not in page
    # The reporting side sees its own (it may triage them), never the province's: see test_worklist_reporting_side.py.
    assert item(world.admin, TRIAGE).count == 2
    assert item(world.responder, TRIAGE) is None


def test_open_tasks_given_to_me_are_counted_and_listed_exactly(world, incidents, as_user):
    incident = incidents["on_time"]
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    services.do_add_task(incident, {"title": "Việc một của tôi", "owner": world.responder}, acting_user=world.analyst)
    second = services.do_add_task(incident, {"title": "Việc hai của tôi", "owner": world.responder},
                                  acting_user=world.analyst)
    services.do_set_task_status(second, TaskStatus.IN_PROGRESS, acting_user=world.responder)
    done = services.do_add_task(incident, {"title": "Việc đã xong", "owner": world.responder},
                                acting_user=world.analyst)
    services.do_set_task_status(done, TaskStatus.DONE, acting_user=world.responder)
    services.do_add_task(incident, {"title": "Việc của người khác", "owner": world.admin}, acting_user=world.analyst)
    services.do_add_task(incidents["foreign"], {"title": "Việc của tỉnh", "owner": world.other_admin},
                         acting_user=world.other_admin)
    tasks = item(world.responder, TASKS)
    assert tasks.count == 2
    page = listed(as_user(world.responder), tasks.url)
    assert "Việc một của tôi" in page and "Việc hai của tôi" in page
    assert "Việc đã xong" not in page and "Việc của người khác" not in page and "Việc của tỉnh" not in page
    assert item(world.admin, TASKS).count == 1
    assert item(world.other_admin, TASKS).count == 1


def test_a_task_list_filter_never_shows_another_organizations_tasks(world, incidents, as_user):
    services.do_add_task(incidents["foreign"], {"title": "Việc của tỉnh"}, acting_user=world.other_admin)
    page = listed(as_user(world.admin), reverse("incidents:task_list"))
    assert "Việc của tỉnh" not in page
