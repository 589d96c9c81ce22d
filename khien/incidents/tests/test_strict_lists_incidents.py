"""An analyst scripting against the incidents API: `?severty=high` (for `severity`) is a 400 naming the filters the
list takes, not every incident as if they were all high; a status, severity or category it does not know is a 400
naming those it does; an organization outside the reader's scope is answered like one that does not exist. An
incident's own lists (journal, timeline, tasks, observables, evidence, custody) take no parameter."""
import pytest

from khien.conftest import refusal
from khien.incidents import services
from khien.incidents.models import Status

pytestmark = pytest.mark.django_db
URL = "/api/incidents/"
UNKNOWN_ORG = "No organization with this code among those you may see."


def test_a_misspelt_filter_is_a_400_naming_it_not_every_incident(world, reader, report):
    report(title="High", severity="high")
    report(title="Low", severity="low")
    client = reader(world.analyst)
    answer = refusal(client.get(URL, {"severty": "high"}))
    assert answer["code"] == "unknown_parameter"
    assert "severty" in answer["detail"] and all(name in answer["detail"] for name in ("severity", "limit", "ordering"))
    rows = client.get(URL, {"severity": "high", "status": Status.NEW, "limit": 10, "offset": 0, "format": "json"})
    assert rows.status_code == 200, rows.content
    assert [row["title"] for row in rows.json()["results"]] == ["High"]


def test_the_refusal_is_in_the_readers_language(world, reader):
    answer = refusal(reader(world.analyst, "vi").get(URL, {"severty": "high"}))
    assert "severty" in answer["detail"] and "Unknown query parameter" not in answer["detail"]


@pytest.mark.parametrize("params, field, accepted", [
    ({"status": "opened"}, "status", Status.NEW),
    ({"severity": "urgent"}, "severity", "high"),
    ({"category": "malwar"}, "category", "infected-system"),
    ({"tlp": "purple"}, "tlp", "amber"),
])
def test_a_bad_choice_is_refused_naming_the_values_taken(world, reader, report, params, field, accepted):
    report()
    answer = refusal(reader(world.analyst).get(URL, params))
    wrong = next(iter(params.values()))
    assert answer[field][0].startswith(f"Unknown value “{wrong}”: use one of ") and accepted in answer[field][0]


def test_bad_dates_flags_and_orderings_are_refused(world, reader, report):
    report()
    client = reader(world.analyst)
    assert "detected_after" in refusal(client.get(URL, {"detected_after": "yesterday"}))
    assert "overdue" in refusal(client.get(URL, {"overdue": "perhaps"}))
    answer = refusal(client.get(URL, {"ordering": "-reported"}))
    assert answer["code"] == "unknown_ordering" and "reported_at" in answer["detail"]
    assert client.get(URL, {"ordering": "-severity,reference"}).status_code == 200
    assert client.get(URL, {"category": "infected-system"}).json()["count"] == 1


def test_an_organization_out_of_scope_is_answered_like_one_that_does_not_exist(world, reader, report):
    report(org=world.province, user=world.other_admin)
    client = reader(world.analyst)  # the ministry's: PROV and its incident are not theirs to see
    for name in ("organization", "responder"):
        assert refusal(client.get(URL, {name: "NOPE"})) == refusal(client.get(URL, {name: "PROV"})) == \
            {name: [UNKNOWN_ORG]}
    assert client.get(URL, {"organization": "MIN"}).json()["count"] == 0  # theirs: an empty list, not a 400


def test_a_responder_filters_by_the_reporting_organization_of_an_incident_it_sees(world, reader, report):
    incident = report(title="Assigned")
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    client = reader(world.responder)  # MIN is outside the responder's own scope, but its incident is seen
    rows = client.get(URL, {"organization": "MIN", "responder": "RESP"})
    assert rows.status_code == 200, rows.content
    assert [row["title"] for row in rows.json()["results"]] == ["Assigned"]


@pytest.mark.parametrize("path", ["journal/", "timeline/", "tasks/", "observables/", "evidence/"])
def test_an_incidents_own_lists_take_no_parameter(world, reader, report, path):
    incident = report()
    client = reader(world.analyst)
    assert client.get(f"{URL}{incident.pk}/{path}").status_code == 200
    answer = refusal(client.get(f"{URL}{incident.pk}/{path}", {"status": "open"}))
    assert answer["code"] == "unknown_parameter" and "status" in answer["detail"]
    # Another organization's incident stays a 404, whatever the query.
    assert reader(world.other_admin).get(f"{URL}{incident.pk}/{path}", {"status": "open"}).status_code == 404


def test_an_evidence_items_custody_takes_no_parameter(world, reader, report):
    incident = report()
    client = reader(world.analyst)
    item = client.post(f"{URL}{incident.pk}/evidence/", {"note": "Nhật ký máy chủ"}, format="json")
    assert item.status_code == 201, item.content
    url = f"{URL}{incident.pk}/evidence/{item.json()['id']}/custody/"
    assert client.get(url).status_code == 200
    assert refusal(client.get(url, {"limit": 5}))["code"] == "unknown_parameter"
