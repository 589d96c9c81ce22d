"""Observables: recorded with the report or later, looked up in the intelligence store with the viewer's
TLP rights, shared as STIX indicators into a collection the user may write — or refused, writing nothing."""
import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from khien.conftest import _org, _user
from khien.core.errors import Forbidden
from khien.core.models import AuditEntry
from khien.core.roles import Role
from khien.incidents import observables
from khien.incidents.models import EventKind, IncidentEvent, Observable
from khien.intel import services as intel_services
from khien.intel import tlp as intel_tlp
from khien.intel.models import CollectionObject, IndicatorValue, StixObject, Tlp
from khien.intel.tests.conftest import indicator

pytestmark = pytest.mark.django_db


@pytest.fixture
def feed(world):
    """A collection owned by the ministry (the reporter's organization), and one owned by the province."""
    own = intel_services.do_create_collection({"title": "MIN feed", "owner": world.ministry, "kind": "group"},
                                              acting_user=world.coordinator)
    other = intel_services.do_create_collection({"title": "PROV feed", "owner": world.province, "kind": "group"},
                                                acting_user=world.coordinator)
    return own, other


def test_guess_and_normalize():
    assert observables.guess_kind("198.51.100.7") == "ipv4"
    assert observables.guess_kind("2001:db8::1") == "ipv6"
    assert observables.guess_kind("A" * 64) == "sha256"
    assert observables.guess_kind("d41d8cd98f00b204e9800998ecf8427e") == "md5"
    assert observables.guess_kind("http://evil.demo.khien.vn/x") == "url"
    assert observables.guess_kind("phish@evil.demo.khien.vn") == "email"
    assert observables.guess_kind("Evil.Demo.Khien.VN") == "domain"
    assert observables.guess_kind("not a value") is None
    assert observables.normalize("domain", "Evil.Demo.Khien.VN.") == "evil.demo.khien.vn"
    assert observables.normalize("sha256", "A" * 64) == "a" * 64
    with pytest.raises(ValueError):
        observables.normalize("sha256", "abc")
    with pytest.raises(ValueError):
        observables.normalize("ipv4", "198.51.100.0/24")  # a range is not one address
    items, errors = observables.parse_lines("198.51.100.7\n\n# comment\ndomain:Evil.demo.khien.vn\nbad value\n")
    assert items == [("ipv4", "198.51.100.7"), ("domain", "evil.demo.khien.vn")]
    assert len(errors) == 1
    # A mistyped address is refused, not kept as a domain name (an all-digit last label is no domain).
    for typo in ("10.0.0.256", "999.999.999.999", "1.2.3.4.5"):
        assert observables.guess_kind(typo) is None
        with pytest.raises(ValueError):
            observables.normalize("domain", typo)
    assert observables.guess_kind("a1.xn--p1ai") == "domain"
    assert observables.guess_kind("host.10x") is None  # a top-level label starts with a letter (core.shapes)
    assert len(observables.parse_lines("10.0.0.256\n")[1]) == 1


def test_report_with_observables_and_refusal_writes_nothing(world, report):
    incident = report(observables=[("ipv4", "198.51.100.7"), ("domain", "Evil.demo.khien.vn")])
    assert set(incident.observables.values_list("kind", "value")) == {
        ("ipv4", "198.51.100.7"), ("domain", "evil.demo.khien.vn")}
    assert IncidentEvent.objects.filter(incident=incident, kind=EventKind.OBSERVABLE).count() == 1
    count = Observable.objects.count(), AuditEntry.objects.count()
    with pytest.raises(ValidationError) as exc:
        report(observables=[("ipv4", "198.51.100.8"), ("sha256", "zz")])
    assert "observables" in exc.value.message_dict
    assert (Observable.objects.count(), AuditEntry.objects.count()) == count


def test_add_and_remove_are_for_participants(world, report):
    incident = report()
    added = observables.do_add_observables(incident, [("url", "https://evil.demo.khien.vn/a")], acting_user=world.analyst)
    assert len(added) == 1
    again = observables.do_add_observables(incident, [("url", "https://evil.demo.khien.vn/a")], acting_user=world.admin)
    assert again == []  # already recorded
    for outsider in (world.other_admin, world.responder):  # another org; a responder not assigned
        with pytest.raises(Forbidden):
            observables.do_add_observables(incident, [("ipv4", "198.51.100.9")], acting_user=outsider)
        with pytest.raises(Forbidden):
            observables.do_remove_observable(added[0], acting_user=outsider)
    assert incident.observables.count() == 1
    before = AuditEntry.objects.filter(action="delete").count()
    observables.do_remove_observable(added[0], acting_user=world.analyst)
    assert incident.observables.count() == 0
    assert AuditEntry.objects.filter(action="delete").count() == before + 1


def test_lookup_shows_only_indicators_the_viewer_may_see(world, report, feed):
    own, _other = feed
    stranger_org = _org("STR", "enterprise")
    stranger = _user("analyst@str.test.vn", stranger_org, Role.ORG_ANALYST)
    stranger_feed = intel_services.do_create_collection(
        {"title": "STR feed", "owner": stranger_org, "kind": "group"}, acting_user=world.coordinator)
    value = "198.51.100.77"
    # A RED indicator of another organization, and a GREEN one of the same value.
    intel_services.do_add_objects(stranger_feed, [indicator(value, tlp=Tlp.RED, name="red one")], acting_user=stranger)
    intel_services.do_add_objects(stranger_feed, [indicator(value, tlp=Tlp.GREEN, name="green one")],
                                  acting_user=stranger)
    incident = report(observables=[("ipv4", value), ("ipv4", "10.0.0.1"), ("domain", "c2.example-demo.vn")])
    results = {r.observable.value: r for r in observables.lookup(world.analyst, incident.observables.all())}
    names = [i.data["name"] for i in results[value].indicators]
    assert names == ["green one"]  # the RED one of another organization is not shown
    stranger_names = {i.data["name"] for r in observables.lookup(stranger, incident.observables.all())
                      for i in r.indicators}
    assert stranger_names == {"green one", "red one"}  # the producer sees its own RED indicator
    assert results["10.0.0.1"].warning_listed  # a private address is on a warning list
    assert results[value].warninglists == ["rfc5737-documentation"]
    assert not results["c2.example-demo.vn"].warning_listed and not results["c2.example-demo.vn"].indicators


def test_lookup_on_the_page_and_the_api(world, report, feed, as_user, api):
    own, _other = feed
    intel_services.do_add_objects(own, [indicator("198.51.100.5", tlp=Tlp.AMBER, name="known bad")],
                                  acting_user=world.analyst)
    incident = report(observables=[("ipv4", "198.51.100.5")])
    client = as_user(world.analyst)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="observables"' in page and "known bad" in page
    data = api(world.analyst).get(f"/api/incidents/{incident.pk}/observables/").json()
    assert data[0]["value"] == "198.51.100.5" and data[0]["indicators"][0]["name"] == "known bad"
    # The province's admin cannot see the incident at all.
    assert api(world.other_admin).get(f"/api/incidents/{incident.pk}/observables/").status_code == 404


def test_the_page_names_an_observables_warning_lists_in_words(world, report, as_user):
    from django.utils import translation

    from khien.intel import warninglists

    incident = report(observables=[("ipv4", "10.3.19.97")])
    codes = warninglists.hits("ipv4", "10.3.19.97", warninglists.compiled())
    assert codes
    with translation.override("vi"):
        labels = [warninglists.list_label(code) for code in codes]
    row = as_user(world.analyst).get(f"/incidents/{incident.pk}/", HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    row = row.split("10.3.19.97", 1)[1].split("</tr>", 1)[0]
    assert all(label in row for label in labels) and all(label not in codes for label in labels)


def test_share_creates_indicators_visible_per_tlp(world, report, feed):
    own, _other = feed
    incident = report(observables=[("ipv4", "198.51.100.44"), ("sha256", "b" * 64)])
    chosen = list(incident.observables.all())
    # 198.51.100.44 is a documentation address (a warning list): shared only when confirmed.
    result = observables.do_share_observables(incident, chosen, tlp=Tlp.AMBER, collection=own,
                                              acting_user=world.analyst, confirm_warninglisted=True)
    assert result.added.created == 2
    shared = StixObject.objects.filter(stix_type="indicator", collection_entries__collection=own)
    assert shared.count() == 2 and set(shared.values_list("tlp", flat=True)) == {Tlp.AMBER}
    assert set(IndicatorValue.objects.filter(object__in=shared).values_list("kind", "value")) == {
        ("ipv4", "198.51.100.44"), ("sha256", "b" * 64)}
    identity = intel_services.ensure_identities([world.ministry.pk])[world.ministry.pk]
    assert {o.data["created_by_ref"] for o in shared} == {identity.stix_id}
    # AMBER: the ministry sees them, the province (not a reader of the collection) does not.
    assert intel_tlp.visible_versions(world.analyst).filter(pk__in=shared).count() == 2
    assert intel_tlp.visible_versions(world.other_admin).filter(pk__in=shared).count() == 0
    assert all(o.shared_at and o.shared_tlp == Tlp.AMBER for o in incident.observables.all())
    event = IncidentEvent.objects.get(incident=incident, kind=EventKind.OBSERVABLE, data__action="shared")
    assert sorted(event.data["indicators"]) == sorted(shared.values_list("stix_id", flat=True))
    # Lookup now finds the shared indicators.
    assert all(r.indicators for r in observables.lookup(world.analyst, incident.observables.all()))


def test_share_green_is_seen_by_other_organizations(world, report, feed):
    own, _other = feed
    incident = report(observables=[("domain", "c2.demo.khien.vn")], tlp="green")  # no stricter than the TLP:GREEN share
    observables.do_share_observables(incident, list(incident.observables.all()), tlp=Tlp.GREEN, collection=own,
                                     acting_user=world.analyst)
    assert intel_tlp.visible_versions(world.other_admin).filter(
        indicator_values__value="c2.demo.khien.vn").count() == 1


def test_share_refused_without_write_right_writes_nothing(world, report, feed, as_user):
    own, other = feed
    incident = report(observables=[("ipv4", "198.51.100.45")])
    chosen = list(incident.observables.all())
    counts = (StixObject.objects.count(), CollectionObject.objects.count(), IncidentEvent.objects.count(),
              AuditEntry.objects.count())
    with pytest.raises(Forbidden):
        observables.do_share_observables(incident, chosen, tlp=Tlp.GREEN, collection=other, acting_user=world.analyst)
    # A reader (not a writer) of a collection is refused too.
    intel_services.do_set_collection_member(other, world.ministry, can_read=True, can_write=False,
                                            acting_user=world.coordinator)
    counts = (StixObject.objects.count(), CollectionObject.objects.count(), IncidentEvent.objects.count(),
              AuditEntry.objects.count())
    with pytest.raises(Forbidden):
        observables.do_share_observables(incident, chosen, tlp=Tlp.GREEN, collection=other, acting_user=world.analyst)
    assert (StixObject.objects.count(), CollectionObject.objects.count(), IncidentEvent.objects.count(),
            AuditEntry.objects.count()) == counts
    assert not incident.observables.filter(shared_at__isnull=False).exists()
    # Through the page: 403, nothing written.
    client = as_user(world.analyst)
    response = client.post(f"/incidents/{incident.pk}/observables/share/", {
        "share-observables": [str(chosen[0].pk)], "share-tlp": "green", "share-collection": str(other.pk)})
    assert response.status_code == 400  # not an offered collection
    assert StixObject.objects.count() == counts[0]


def test_share_through_page_and_api(world, report, feed, as_user, api):
    own, other = feed
    incident = report(observables=[("ipv4", "198.51.100.46"), ("ipv4", "198.51.100.47")])
    first, second = incident.observables.order_by("value")
    client = as_user(world.analyst)
    with translation.override("en"):
        page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="share-form"' in page and "MIN feed" in page and "PROV feed" not in page
    response = client.post(f"/incidents/{incident.pk}/observables/share/", {
        "share-observables": [str(first.pk)], "share-tlp": "amber", "share-collection": str(own.pk),
        "share-confirm_warninglisted": "on"})  # a documentation address: on a warning list
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.shared_tlp == "amber"
    response = api(world.analyst).post(f"/api/incidents/{incident.pk}/observables/share/", {
        "observables": [str(second.pk)], "tlp": "green", "collection": str(other.pk)}, format="json")
    assert response.status_code == 403
    response = api(world.analyst).post(f"/api/incidents/{incident.pk}/observables/share/", {
        "observables": [str(second.pk)], "tlp": "green", "collection": str(own.pk), "confirm_warninglisted": True,
        "confirm_downgrade": True}, format="json")  # wider than the incident's TLP:AMBER: confirmed
    assert response.status_code == 201
    assert {o["value"]: o["shared_tlp"] for o in response.json()["observables"]}["198.51.100.47"] == "green"


def test_api_report_and_add_observables(world, api, incident_content):
    client = api(world.analyst)
    response = client.post("/api/incidents/", {
        "organization": "MIN", "title": "Phishing", "detected_at": "2026-01-01T00:00:00+07:00",
        "category": "phishing", "severity": "medium", "suspected_malicious": True,
        "impact_beyond_organization": False, "description": "Thư lừa đảo", "late_reason": "Báo cáo bổ sung",
        "observables": [{"value": "phish@evil.demo.khien.vn"}, {"kind": "url", "value": "https://evil.demo.khien.vn/login"}],
    }, format="json")
    assert response.status_code == 201, response.content
    assert {o["kind"] for o in response.json()["observables"]} == {"email", "url"}
    pk = response.json()["id"]
    bad = client.post(f"/api/incidents/{pk}/observables/", [{"kind": "md5", "value": "xyz"}], format="json")
    assert bad.status_code == 400
    good = client.post(f"/api/incidents/{pk}/observables/", [{"value": "203.0.113.9"}], format="json")
    assert good.status_code == 201 and len(good.json()) == 3
    assert api(world.other_admin).post(f"/api/incidents/{pk}/observables/", [{"value": "203.0.113.10"}],
                                       format="json").status_code == 404


def test_report_form_takes_observables(world, as_user, incident_content):
    from django.utils import timezone
    client = as_user(world.analyst)
    detected = timezone.localtime(timezone.now() - __import__("datetime").timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    form = {"organization": str(world.ministry.pk), "title": "Quét cổng", "detected_at": detected,
            "category": "scanner", "severity": "low", "suspected_malicious": "true",
            "impact_beyond_organization": "false", "description": "Quét cổng từ bên ngoài", "tlp": "amber",
            "observables": "198.51.100.200\nnot valid at all"}
    response = client.post("/incidents/new/", form)
    assert response.status_code == 400 and Observable.objects.count() == 0
    form["observables"] = "198.51.100.200\nscan.demo.khien.vn"
    response = client.post("/incidents/new/", form)
    assert response.status_code == 302
    assert set(Observable.objects.values_list("value", flat=True)) == {"198.51.100.200", "scan.demo.khien.vn"}
