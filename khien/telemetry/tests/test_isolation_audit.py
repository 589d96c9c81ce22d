"""Cross-organization isolation of telemetry: a user of the ministry (MIN) against the province's (PROV) SOC data.

Another organization's alerts, sources, suppressions, dead letters and events are unknown (404) to every role,
through their own routes, the bulk actions (ids in the body) and the filters (`?source=`, `?organization=`);
nothing changes. An organization named by its code when registering a source gets the same answer whether it
exists elsewhere or not.
"""
import pytest

from khien.core.models import AuditEntry
from khien.incidents import content as incident_content
from khien.telemetry import services, triage
from khien.telemetry.models import Alert, AlertSource, AlertSuppression, DeadLetter
from khien.telemetry.tests.test_matching import ecs

pytestmark = pytest.mark.django_db

ROLES = ["analyst", "admin", "auditor", "trainee", "dept_analyst", "responder"]


@pytest.fixture
def theirs(world, make_source):
    """PROV's source with one alert, one suppression (of another alert) and one dead letter."""
    source = make_source(world.province, "ecs", name="prov-soc")[0]
    services.ingest_batch(source, [ecs("45.33.30.1", rule="scan"), ecs("45.33.30.2", rule="brute"), b"not json"])
    alert, other = Alert.objects.filter(source=source).order_by("rule_id")
    suppression = triage.do_suppress_alert(other, acting_user=world.other_admin, reason="Máy quét", days=3)
    return source, alert, suppression, DeadLetter.objects.get(source=source)


def _state():
    return (list(Alert.objects.order_by("pk").values_list("status", "incident_id", "assignee_id", "triage_note")),
            list(AlertSource.objects.order_by("pk").values_list("enabled", "key_hash", "format")),
            list(AlertSuppression.objects.order_by("pk").values_list("lifted_at", flat=True)),
            DeadLetter.objects.count(), AuditEntry.objects.count())


@pytest.mark.parametrize("role", ROLES)
def test_api_another_organizations_soc_data_is_unknown(world, api, theirs, role):
    source, alert, suppression, letter = theirs
    client = api(getattr(world, role))
    before = _state()
    a, s = f"/api/telemetry/alert-groups/{alert.pk}/", f"/api/telemetry/sources/{source.name}/"
    for method, url, body in [
        ("get", a, None), ("get", f"{a}related/", None),
        ("post", f"{a}incident/", {}), ("post", f"{a}suppress/", {"reason": "x", "days": 1}),
        ("get", s, None), ("patch", s, {"enabled": False}), ("post", f"{s}rotate-key/", {}),
        ("put", f"{s}systems/", {"systems": []}), ("post", f"{s}dead-letters/reprocess/", {"all": True}),
        ("post", f"{s}dead-letters/discard/", {"ids": [letter.pk]}),
        ("post", f"/api/telemetry/suppressions/{suppression.pk}/lift/", {}),
        ("post", "/api/telemetry/alert-groups/triage/", {"alerts": [str(alert.pk)], "status": "resolved"}),
    ]:
        response = getattr(client, method)(url, body, format="json") if body is not None else client.get(url)
        assert response.status_code == 404, (method, url, response.status_code, response.content[:200])
    assert _state() == before
    for url, params in [("/api/telemetry/alert-groups/", {"source": source.name}),
                        ("/api/telemetry/events/", {"organization": world.province.code}),
                        ("/api/telemetry/events/", {"source": source.name}),
                        ("/api/telemetry/suppressions/", {"source": source.name}),
                        ("/api/telemetry/dead-letters/", {"source": source.name}),
                        ("/api/telemetry/hourly/", {"organization": world.province.code}),
                        ("/api/telemetry/sources/", {})]:
        response = client.get(url, params)
        assert response.status_code in (200, 400), (url, response.status_code)
        assert source.name not in response.content.decode() and str(alert.pk) not in response.content.decode(), url


@pytest.mark.parametrize("role", ROLES)
def test_pages_of_another_organizations_soc_data_are_404s(world, client, theirs, role):
    source, alert, suppression, _letter = theirs
    client.force_login(getattr(world, role))
    before = _state()
    a, s = f"/telemetry/alerts/{alert.pk}/", f"/telemetry/sources/{source.name}/"
    assert client.get(a).status_code == 404
    assert client.get(s).status_code == 404
    for url, data in [(f"{a}triage/", {"status": "resolved"}), (f"{a}incident/", {}),
                      (f"{a}suppress/", {"reason": "x", "days": 1}), (f"{a}add-to-incident/", {"incident": "x"}),
                      (f"{s}settings/", {"enabled": ""}), (f"{s}rotate-key/", {}), (f"{s}systems/", {}),
                      (f"{s}dead-letters/", {"action": "discard", "ids": ["1"]}),
                      (f"{s}suppressions/{suppression.pk}/lift/", {})]:
        assert client.post(url, data).status_code == 404, url
    assert client.post("/telemetry/alerts/triage/", {"alerts": [str(alert.pk)], "status": "resolved"}).status_code \
        in (302, 400, 404)
    assert _state() == before
    for url, params in [("/telemetry/alerts/", {"source": source.name, "status": "all"}),
                        ("/telemetry/events/", {"organization": world.province.code}),
                        ("/telemetry/events/export/", {"organization": world.province.code}),
                        ("/telemetry/data/", {}), ("/telemetry/sources/", {})]:
        response = client.get(url, params)
        body = (b"".join(response.streaming_content) if response.streaming else response.content).decode()
        # The page repeats its query (the source's name): look for the rows only.
        assert str(alert.pk) not in body and "45.33.30.1" not in body and "Rule scan" not in body, url


def test_a_foreign_alert_cannot_join_ones_incident_nor_ones_alert_a_foreign_incident(world, api, theirs, make_source):
    import datetime as dt

    from django.utils import timezone

    from khien.incidents.services import do_report_incident

    incident_content.load_all()
    _source, alert, _s, _l = theirs

    data = {"organization": None, "title": "x", "detected_at": timezone.now() - dt.timedelta(hours=1),
            "category": "infected-system", "severity": "high", "suspected_malicious": True,
            "impact_beyond_organization": False, "description": "x"}
    mine = do_report_incident({**data, "organization": world.ministry}, acting_user=world.analyst)
    their_incident = do_report_incident({**data, "organization": world.province}, acting_user=world.other_admin)
    own_source = make_source(world.ministry, "ecs", name="min-soc")[0]
    services.ingest_batch(own_source, [ecs("45.33.31.1", rule="mine")])
    own_alert = Alert.objects.get(source=own_source)
    client = api(world.analyst)
    before = _state()
    joined = client.post("/api/telemetry/alert-groups/add-to-incident/",
                         {"alerts": [str(alert.pk)], "incident": mine.reference}, format="json")
    assert joined.status_code == 404
    for named in (their_incident.reference, str(their_incident.pk), "SC-1999-000001"):
        response = client.post("/api/telemetry/alert-groups/add-to-incident/",
                               {"alerts": [str(own_alert.pk)], "incident": named}, format="json")
        assert response.status_code == 404
        assert their_incident.title not in response.content.decode()
    assert _state() == before


def test_registering_a_source_for_another_organization_does_not_tell_it_exists(world, api):
    client = api(world.analyst)
    body = {"name": "probe", "format": "ecs"}
    foreign = client.post("/api/telemetry/sources/", {**body, "organization": world.province.code}, format="json")
    unknown = client.post("/api/telemetry/sources/", {**body, "organization": "NO-SUCH-ORG"}, format="json")
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.json()["organization"] == [m.replace("NO-SUCH-ORG", world.province.code)
                                              for m in unknown.json()["organization"]]
    # A trainee of the ministry sees it but may not add there: 403.
    assert api(world.trainee).post("/api/telemetry/sources/", {**body, "organization": world.ministry.code},
                                   format="json").status_code == 403
    assert not AlertSource.objects.filter(name="probe").exists()


def test_a_foreign_system_cannot_be_attached_to_ones_source(world, api, make_source, make_system):
    own = make_source(world.ministry, "ecs", name="min-soc")[0]
    foreign = make_system(world.province)
    response = api(world.analyst).put(f"/api/telemetry/sources/{own.name}/systems/", {"systems": [foreign.code]},
                                      format="json")
    assert response.status_code == 400 and foreign.name not in response.content.decode()
    assert not own.systems.exists()
