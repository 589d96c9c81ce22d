"""An incident's journal names the SOC alerts added to it only to the readers who may see those alerts (the duty
officer's walkthrough: "ET MALWARE … — BDTTG, ×1, 13:59" was shown to every reader of the incident, on its page and
in its PDF, while its "SOC alerts" section hid those alerts from them).

Each reader reads the lines of the alerts they may see (`Alert.objects.visible_to`) and the number of the others —
on the page, in the API's journal and in the PDF; the stored journal line stays as written."""
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from khien.conftest import _org, _user
from khien.core.roles import Role
from khien.incidents import content
from khien.incidents import services as incident_services
from khien.incidents.models import EventKind, IncidentEvent
from khien.telemetry import services, triage
from khien.telemetry.models import Alert
from khien.telemetry.tests.test_matching import ecs

pytestmark = pytest.mark.django_db

HIDDEN_1 = "1 alert of organizations you may not see"
HIDDEN_2 = "2 alerts of organizations you may not see"
HIDDEN_3 = "3 alerts of organizations you may not see"


def _alert(make_source, org, ip, rule):
    source = make_source(org, "ecs")[0]
    services.ingest_batch(source, [ecs(ip, rule=rule)])
    return Alert.objects.get(organization=org, rule_id=rule)


@pytest.fixture
def national(world, make_source, reads_in):
    """A national incident (as one made from a campaign) at the coordinator's organization, a unit of a ministry (as
    NCSC under its ministry): the alerts of the coordinator's organization, of a ministry's department and of a
    province join it. A responder organization is assigned. Readers: an auditor of the coordinator's organization
    (not a coordinator), an auditor of the ministry above it."""
    content.load_all()
    parent = _org("BCA", "ministry")
    centre = _org("BCA-NC", "agency", parent=parent)
    coordinator = _user("coordinator@bca-nc.test.vn", centre, Role.NATIONAL_COORDINATOR)
    centre_reader = _user("auditor@bca-nc.test.vn", centre, Role.AUDITOR)
    parent_reader = _user("auditor@bca.test.vn", parent, Role.AUDITOR)
    for user in (centre_reader, parent_reader, world.responder, world.coordinator):
        reads_in(user, "en")
    own = _alert(make_source, centre, "192.0.2.20", "nc-rule")
    dept = _alert(make_source, world.department, "192.0.2.21", "dept-rule")
    prov = _alert(make_source, world.province, "192.0.2.22", "prov-rule")
    now = timezone.now()
    incident = incident_services.do_report_incident({
        "organization": centre, "title": "Chiến dịch mã độc toàn quốc", "detected_at": now - dt.timedelta(hours=1),
        "category": "infected-system", "severity": "high", "suspected_malicious": True,
        "impact_beyond_organization": True, "description": "Chiến dịch quốc gia."}, acting_user=coordinator, now=now)
    alerts = list(Alert.objects.filter(pk__in=[own.pk, dept.pk, prov.pk]).select_related("organization")
                  .order_by("organization__code"))
    triage.join_incident(alerts, incident, acting_user=None, now=now)
    incident_services.do_assign_responder(incident, world.responder_org, acting_user=coordinator)
    return {"incident": incident, "centre_reader": centre_reader, "parent_reader": parent_reader, "own": own,
            "dept": dept, "prov": prov}


def _page(client, incident) -> str:
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get(f"/incidents/{incident.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    return html[html.index('id="journal"'):]


def _pdf(client, incident) -> str:
    response = client.get(f"/incidents/{incident.pk}/report.pdf?lang=en")
    assert response.status_code == 200
    return " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages).split())


def _api_line(api, user, incident) -> dict:
    response = api(user).get(f"/api/incidents/{incident.pk}/journal/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return next(line for line in response.json() if line["kind"] == "alerts")


def test_a_reader_of_the_coordinators_organization_reads_only_its_alert(world, national, as_user, api):
    incident, reader = national["incident"], national["centre_reader"]
    stored = IncidentEvent.objects.get(incident=incident, kind=EventKind.ALERTS)
    # The reader sees the incident (its organization's) but only the organization's own alert.
    assert {a.pk for a in Alert.objects.visible_to(reader).filter(incident=incident)} == {national["own"].pk}
    # The page speaks to its reader; the PDF, an official document, of the reading organization.
    for text, hidden in ((_page(as_user(reader), incident), HIDDEN_2),
                         (_pdf(as_user(reader), incident), "2 alerts of organizations the reading organization may not see")):
        assert "Rule nc-rule — BCA-NC" in text
        assert hidden in text
        assert "dept-rule" not in text and "prov-rule" not in text
        assert "MIN-D1" not in text and "PROV" not in text
        assert "3 SOC alerts added" in text  # the line's headline keeps the count
    line = _api_line(api, reader, incident)
    assert "Rule nc-rule — BCA-NC" in line["text"] and HIDDEN_2 in line["text"]
    assert "MIN-D1" not in line["text"] and "PROV" not in line["text"]
    assert line["data"]["alerts"] == [str(national["own"].pk)] and line["data"]["alerts_not_shown"] == 2
    # The stored line is as written (append-only): every alert is still in it.
    stored.refresh_from_db()
    assert "MIN-D1" in stored.text and "PROV" in stored.text and len(stored.data["alerts"]) == 3


def test_every_reader_reads_exactly_the_alerts_they_may_see(world, national, api):
    """Whoever may read the incident — the ministry above the coordinator's organization included, where its scope
    reaches it — reads the lines of the alerts `Alert.objects.visible_to` gives them and the number of the others;
    whoever may not read it gets 404."""
    incident = national["incident"]
    lines = {national["own"].pk: "Rule nc-rule — BCA-NC", national["dept"].pk: "Rule dept-rule — MIN-D1",
             national["prov"].pk: "Rule prov-rule — PROV"}
    readers = [national["parent_reader"], national["centre_reader"], world.responder, world.coordinator,
               world.admin, world.other_admin]
    for user in readers:
        response = api(user).get(f"/api/incidents/{incident.pk}/journal/", HTTP_ACCEPT_LANGUAGE="en")
        if response.status_code == 404:
            assert not IncidentEvent.objects.visible_to(user).filter(incident=incident).exists()
            continue
        line = next(entry for entry in response.json() if entry["kind"] == "alerts")
        seen = set(Alert.objects.visible_to(user).filter(pk__in=list(lines)).values_list("pk", flat=True))
        for pk, text in lines.items():
            assert (text in line["text"]) == (pk in seen), (user.email, text)
        hidden = len(lines) - len(seen)
        assert (f"{hidden} alert" in line["text"]) == bool(hidden), user.email
        assert line["data"]["alerts_not_shown"] == hidden
    assert api(world.admin).get(f"/api/incidents/{incident.pk}/journal/").status_code == 404


def test_an_assigned_responder_reads_only_the_count(world, national, as_user, api):
    incident = national["incident"]
    for text, hidden in ((_page(as_user(world.responder), incident), HIDDEN_3),
                         (_pdf(as_user(world.responder), incident),
                          "3 alerts of organizations the reading organization may not see")):
        assert hidden in text
        for hidden in ("nc-rule", "dept-rule", "prov-rule", "BCA-NC,", "MIN-D1", "PROV"):
            assert hidden not in text
    line = _api_line(api, world.responder, incident)
    assert line["text"] == HIDDEN_3
    assert line["data"]["alerts"] == [] and line["data"]["alerts_not_shown"] == 3


def test_the_coordinator_reads_every_alert(world, national, coordinator_client, api):
    incident = national["incident"]
    page = _page(coordinator_client, incident)
    for expected in ("Rule nc-rule — BCA-NC", "Rule dept-rule — MIN-D1", "Rule prov-rule — PROV"):
        assert expected in page
    assert "you may not see" not in page
    line = _api_line(api, world.coordinator, incident)
    assert "you may not see" not in line["text"] and line["data"]["alerts_not_shown"] == 0
    assert len(line["data"]["alerts"]) == 3


def test_a_deleted_alert_is_judged_by_the_organization_its_line_names(world, national, api):
    """Telemetry retention deletes old alerts; the journal line stays, and reads as before to whoever may see the
    organization's alerts."""
    incident = national["incident"]
    Alert.objects.filter(pk__in=[national["own"].pk, national["dept"].pk]).update(incident=None)
    Alert.objects.filter(pk__in=[national["own"].pk, national["dept"].pk]).delete()
    line = _api_line(api, national["centre_reader"], incident)
    assert "Rule nc-rule — BCA-NC" in line["text"] and HIDDEN_2 in line["text"] and "MIN-D1" not in line["text"]
    assert HIDDEN_3 == _api_line(api, world.responder, incident)["text"]
    everything = _api_line(api, world.coordinator, incident)["text"]
    assert "MIN-D1" in everything and "you may not see" not in everything


def test_the_reporting_ministry_reads_its_departments_alert_and_a_responder_does_not(world, make_source, as_user,
                                                                                      api):
    content.load_all()
    first = _alert(make_source, world.ministry, "192.0.2.10", "c2")
    dept = _alert(make_source, world.department, "192.0.2.12", "dept-c2")
    incident = triage.do_alert_to_incident(first, acting_user=world.analyst)
    triage.do_add_alerts_to_incident([dept.pk], incident, acting_user=world.analyst)
    incident_services.do_assign_responder(incident, world.responder_org, acting_user=world.admin)
    # The ministry's auditor sees its department's alert (a unit of the ministry).
    assert "Rule dept-c2 — MIN-D1" in _api_line(api, world.auditor, incident)["text"]
    assert "you may not see" not in _page(as_user(world.auditor), incident)
    # The responder reads the incident, not the ministry's alerts.
    assert "MIN-D1" not in _page(as_user(world.responder), incident)
    assert _api_line(api, world.responder, incident)["text"] == HIDDEN_1
