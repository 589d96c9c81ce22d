"""Intelligence pages: search with provenance, object detail, create forms, overview.

Real database, real services; each write is checked allowed, refused, and
that nothing changed after a refusal.
"""
import json

import pytest
from django.urls import reverse
from django.utils import translation

from khien.conftest import _user
from khien.core.roles import Role
from khien.intel import services
from khien.intel.models import Collection, IndicatorValue, StixObject, StixRecipient, Tlp

from .conftest import indicator

pytestmark = pytest.mark.django_db


def signed_in(client, user):
    """The test client signed in as `user` (the coordinator with a verified second factor, as the middleware requires)."""
    from khien.core.scoping import is_national_coordinator

    client.logout()
    if user is None:
        return client
    client.force_login(user)
    if is_national_coordinator(user):
        # the middleware asks the coordinator for a second factor: a verified TOTP device in the session
        # (what django_otp.login does after the code was checked; the real code flow is tested in core)
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or \
            TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


def own_collection(org, user, title="Own feed"):
    """A collection owned by `org`, made through the service by one of its administrators."""
    admin = _user(f"admin-{org.code.lower()}@own.test.vn", org, Role.ORG_ADMIN)
    return services.do_create_collection({"title": title, "owner": org}, acting_user=admin)


def html(response):
    return response.content.decode()


# --- search ----------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client, world):
    response = client.get(reverse("intel:search"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_same_value_from_two_producers_is_one_result_with_both_provenances(client, sharing):
    world = sharing.world
    # PROV produces the same IP (GREEN) into its own collection; MIN's AMBER one is in the national feed.
    prov_feed = own_collection(world.province, world.other_admin)
    services.do_add_objects(prov_feed, [indicator("203.0.113.9", tlp=Tlp.GREEN, confidence=40, name="Seen by PROV")],
                            acting_user=world.other_admin)
    services.do_add_objects(sharing.collection, [indicator("203.0.113.9", tlp=Tlp.AMBER, confidence=90,
                                                           name="Seen by MIN")], acting_user=world.analyst)
    # a RED one for REC only: never shown to the others
    services.do_add_objects(sharing.collection, [indicator("203.0.113.9", tlp=Tlp.RED, name="Secret for REC")],
                            acting_user=world.analyst, recipients=[sharing.rec_org])

    response = signed_in(client, world.other_admin).get(reverse("intel:search"), {"q": " 203.0.113.9 "})
    assert response.status_code == 200
    groups = response.context["groups"]
    assert [(g.kind, g.value) for g in groups] == [("ipv4", "203.0.113.9")]
    rows = groups[0].rows
    assert sorted((r.obj.producer.code, r.obj.confidence, r.obj.tlp) for r in rows) == [
        ("MIN", 90, Tlp.AMBER), ("PROV", 40, Tlp.GREEN)]
    assert groups[0].producers == 2
    page = html(response)
    assert page.count('data-value="203.0.113.9"') == 1
    assert "Seen by PROV" in page and "Seen by MIN" in page and "Secret for REC" not in page
    assert "National feed" in page  # the collection the PROV admin reads

    # the department analyst (another organization) sees only the GREEN one
    response = signed_in(client, world.dept_analyst).get(reverse("intel:search"), {"q": "203.0.113.9"})
    rows = response.context["groups"][0].rows
    assert [r.obj.producer.code for r in rows] == ["PROV"]


def test_an_ip_finds_the_networks_and_a_domain_its_parents(client, sharing):
    world = sharing.world
    services.do_add_objects(sharing.collection, [
        indicator("198.18.0.0/15", tlp=Tlp.GREEN, name="Bad network"),
        indicator("evil.example", kind="domain-name", tlp=Tlp.GREEN, name="Bad domain"),
    ], acting_user=world.analyst)
    c = signed_in(client, world.dept_analyst)
    groups = c.get(reverse("intel:search"), {"q": "198.19.4.4"}).context["groups"]
    assert [(g.kind, g.value, g.why) for g in groups] == [("cidr", "198.18.0.0/15", "network")]
    groups = c.get(reverse("intel:search"), {"q": "WWW.Login.Evil.Example."}).context["groups"]
    assert [(g.kind, g.value, g.why) for g in groups] == [("domain", "evil.example", "parent")]
    assert c.get(reverse("intel:search"), {"q": "evil.example.org"}).context["groups"] == []


def test_hashes_urls_and_names_are_found(client, sharing):
    world = sharing.world
    sha = "A" * 64
    services.do_add_objects(sharing.collection, [
        indicator(sha, tlp=Tlp.GREEN, name="Dropper hash", pattern=f"[file:hashes.'SHA-256' = '{sha}']"),
        indicator("http://bad.example/x?a=1", kind="url", tlp=Tlp.GREEN, name="Phishing page",
                  description="Kit giả mạo ngân hàng"),
    ], acting_user=world.analyst)
    c = signed_in(client, world.dept_analyst)
    groups = c.get(reverse("intel:search"), {"q": sha.lower()}).context["groups"]
    assert [(g.kind, g.value) for g in groups] == [("sha256", "a" * 64)]
    groups = c.get(reverse("intel:search"), {"q": "http://bad.example/x?a=1"}).context["groups"]
    assert [g.kind for g in groups] == ["url"]
    response = c.get(reverse("intel:search"), {"q": "ngân hàng"})
    names = [row["name"] for row in response.context["rows"]]
    assert names == ["Phishing page"]


def test_filters_and_bad_filters(client, sharing):
    world = sharing.world
    c = signed_in(client, world.analyst)
    response = c.get(reverse("intel:search"), {"tlp": "red"})
    assert [r["obj"].stix_id for r in response.context["rows"]] == [sharing.ids[Tlp.RED]]
    response = c.get(reverse("intel:search"), {"collection": str(sharing.collection.pk), "type": "indicator"})
    assert len(response.context["rows"]) == 5
    response = c.get(reverse("intel:search"), {"producer": "PROV"})
    assert response.status_code == 400  # PROV produced nothing this user can see: not a choice
    response = c.get(reverse("intel:search"), {"added_after": "not a date"})
    assert response.status_code == 400 and response.context["rows"] == []


def test_warning_listed_values_are_flagged(client, sharing):
    world = sharing.world
    services.do_add_objects(sharing.collection, [
        indicator("8.8.8.8", tlp=Tlp.GREEN, name="Resolver by mistake"),
        indicator("login-update.demo-threat.vn", kind="domain-name", tlp=Tlp.GREEN, name="Phishing domain"),
    ], acting_user=world.analyst)
    c = signed_in(client, world.dept_analyst)
    response = c.get(reverse("intel:search"), {"q": "8.8.8.8"})
    group = response.context["groups"][0]
    assert group.warninglists and "badge wl" in html(response)
    stix_id = group.rows[0].obj.stix_id
    response = c.get(reverse("intel:object", args=[stix_id]))
    assert response.context["values"][0]["warning_listed"] is True
    assert "wl-row" in html(response)
    # a value on no list carries no flag
    group = c.get(reverse("intel:search"), {"q": "login-update.demo-threat.vn"}).context["groups"][0]
    assert group.warninglists == []
    response = c.get(reverse("intel:object", args=[group.rows[0].obj.stix_id]))
    assert response.context["values"][0]["warning_listed"] is False
    assert "wl-row" not in html(response)


def test_overview_counts_and_chart_data(client, sharing):
    c = signed_in(client, sharing.world.dept_analyst)
    response = c.get(reverse("intel:search"))
    assert response.status_code == 200
    stats = response.context["stats"]
    by_type = {row["stix_type"]: row["n"] for row in stats["by_type"]}
    assert by_type["indicator"] == 2  # the CLEAR and GREEN ones of the fixture
    assert stats["by_tlp"].get(Tlp.GREEN) == 1 and Tlp.AMBER not in stats["by_tlp"] and Tlp.RED not in stats["by_tlp"]
    assert sum(response.context["week_chart"]["values"]) == stats["total"]
    assert 'id="chart-weeks"' in html(response)
    signed_in(client, sharing.world.analyst)
    stats = client.get(reverse("intel:search")).context["stats"]
    assert {row["stix_type"]: row["n"] for row in stats["by_type"]}["indicator"] == 5


# --- detail ------------------------------------------------------------------------------------------


def _sdo(stix_type, stix_id, level, **fields):
    from khien.intel.tlp import TLP_MARKING

    return {"type": stix_type, "spec_version": "2.1", "id": stix_id, "created": "2026-02-01T00:00:00.000Z",
            "modified": "2026-02-01T00:00:00.000Z", "object_marking_refs": [TLP_MARKING[level]], **fields}


def test_detail_relationships_sightings_versions_raw_and_download(client, sharing):
    world = sharing.world
    target = sharing.ids[Tlp.GREEN]
    malware = "malware--0b0c0d0e-1111-4222-8333-444455556666"
    secret_actor = "threat-actor--0b0c0d0e-1111-4222-8333-444455556667"
    services.do_add_objects(sharing.collection, [
        _sdo("malware", malware, Tlp.GREEN, name="DemoRAT <b>", is_family=True),
        _sdo("threat-actor", secret_actor, Tlp.RED, name="Secret actor"),
        _sdo("relationship", "relationship--0b0c0d0e-1111-4222-8333-000000000001", Tlp.GREEN,
             relationship_type="indicates", source_ref=target, target_ref=malware),
        _sdo("relationship", "relationship--0b0c0d0e-1111-4222-8333-000000000002", Tlp.GREEN,
             relationship_type="attributed-to", source_ref=target, target_ref=secret_actor),
        _sdo("sighting", "sighting--0b0c0d0e-1111-4222-8333-000000000003", Tlp.GREEN, sighting_of_ref=target,
             count=4, first_seen="2026-01-10T00:00:00Z", last_seen="2026-01-20T00:00:00Z"),
        _sdo("sighting", "sighting--0b0c0d0e-1111-4222-8333-000000000004", Tlp.RED, sighting_of_ref=target,
             count=100),
        # a second version of the GREEN indicator
        {**sharing.objects[Tlp.GREEN], "modified": "2026-03-01T00:00:00.000Z", "confidence": 55},
    ], acting_user=world.analyst)

    c = signed_in(client, world.dept_analyst)
    response = c.get(reverse("intel:object", args=[target]))
    assert response.status_code == 200
    ctx = response.context
    assert ctx["obj"].confidence == 55  # the latest version
    assert len(ctx["versions"]) == 2
    assert [(r["type"], r["other"].stix_id) for r in ctx["relationships"]] == [("indicates", malware)]
    assert ctx["sightings"]["count"] == 4  # the RED sighting is not the analyst's to see
    page = html(response)
    assert "DemoRAT &lt;b&gt;" in page and "Secret actor" not in page
    assert "&quot;pattern&quot;" in page  # raw JSON, escaped

    # the malware's page shows the incoming relationship
    response = c.get(reverse("intel:object", args=[malware]))
    assert [(r["type"], r["outgoing"]) for r in response.context["relationships"]] == [("indicates", False)]

    response = c.get(reverse("intel:object_download", args=[target]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    bundle = json.loads(response.content)
    assert bundle["type"] == "bundle" and [o["id"] for o in bundle["objects"]] == [target]
    assert bundle["objects"][0]["confidence"] == 55

    # invisible objects: 404, in the page and the download
    assert c.get(reverse("intel:object", args=[secret_actor])).status_code == 404
    assert c.get(reverse("intel:object_download", args=[secret_actor])).status_code == 404
    assert c.get(reverse("intel:object", args=["indicator--00000000-0000-4000-8000-000000000000"])).status_code == 404


# --- creating indicators and reports -----------------------------------------------------------------


def _indicator_post(collection, **extra):
    # The documentation values the tests use (TEST-NET, example domains) are on warning lists: confirmed here
    # (the confirmation itself: test_walkthrough_fixes).
    data = {"name": "C2 server", "value_kind": "ipv4", "value": "203.0.113.200", "indicator_type": "malicious-activity",
            "confidence": "80", "labels": "apt, c2", "tlp": "amber", "collection": str(collection.pk),
            "confirm_warninglisted": "on"}
    data.update(extra)
    return data


def test_analyst_creates_an_indicator(client, sharing):
    world = sharing.world
    c = signed_in(client, world.analyst)
    assert c.get(reverse("intel:indicator_create")).status_code == 200
    response = c.post(reverse("intel:indicator_create"), _indicator_post(sharing.collection))
    assert response.status_code == 302
    obj = StixObject.objects.get(data__name="C2 server")
    assert response["Location"] == reverse("intel:object", args=[obj.stix_id])
    assert obj.producer == world.ministry and obj.tlp == Tlp.AMBER and obj.confidence == 80
    assert obj.labels == ["apt", "c2"]
    assert obj.data["pattern"] == "[ipv4-addr:value = '203.0.113.200']"
    assert list(IndicatorValue.objects.filter(object=obj).values_list("kind", "value")) == [("ipv4", "203.0.113.200")]
    assert obj.collection_entries.get().collection == sharing.collection


@pytest.mark.parametrize("kind,value,pattern", [
    ("cidr", "203.0.113.7/24", "[ipv4-addr:value = '203.0.113.0/24']"),
    ("ipv6", "2001:DB8::1", "[ipv6-addr:value = '2001:db8::1']"),
    ("domain", "Bad.Example.", "[domain-name:value = 'bad.example']"),
    ("url", "https://bad.example/it's", "[url:value = 'https://bad.example/it\\'s']"),
    ("email", "Boss@Bad.Example", "[email-addr:value = 'boss@bad.example']"),
    ("md5", "D41D8CD98F00B204E9800998ECF8427E", "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"),
    ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']"),
])
def test_patterns_are_built_for_each_kind(client, sharing, kind, value, pattern):
    c = signed_in(client, sharing.world.analyst)
    response = c.post(reverse("intel:indicator_create"), _indicator_post(sharing.collection, value_kind=kind, value=value))
    assert response.status_code == 302, response.context["form"].errors
    assert StixObject.objects.get(data__name="C2 server").data["pattern"] == pattern


def test_expert_pattern(client, sharing):
    c = signed_in(client, sharing.world.analyst)
    pattern = "[ipv4-addr:value = '203.0.113.1'] OR [domain-name:value = 'x.example']"
    response = c.post(reverse("intel:indicator_create"),
                      _indicator_post(sharing.collection, value_kind="pattern", value="", pattern=pattern))
    assert response.status_code == 302
    obj = StixObject.objects.get(data__name="C2 server")
    assert sorted(obj.indicator_values.values_list("value", flat=True)) == ["203.0.113.1", "x.example"]


@pytest.mark.parametrize("change", [
    {"value": "999.1.1.1"}, {"value_kind": "ipv4", "value": "203.0.113.0/24"}, {"value_kind": "sha256", "value": "abc"},
    {"value_kind": "domain", "value": "not a domain"}, {"value_kind": "url", "value": "javascript:alert(1)"},
    {"value_kind": "pattern", "pattern": "[ipv4-addr:value = "}, {"name": ""}, {"confidence": "101"},
    {"valid_until": "2000-01-01T00:00"}, {"tlp": "red"}, {"tlp": "purple"},
])
def test_invalid_indicator_input_is_400_and_writes_nothing(client, sharing, change):
    before = StixObject.objects.count()
    c = signed_in(client, sharing.world.analyst)
    with translation.override("en"):
        response = c.post(reverse("intel:indicator_create"), _indicator_post(sharing.collection, **change))
    assert response.status_code == 400
    assert response.context["form"].errors
    assert StixObject.objects.count() == before


def test_red_indicator_names_its_recipients(client, sharing):
    world = sharing.world
    c = signed_in(client, world.analyst)
    response = c.post(reverse("intel:indicator_create"),
                      _indicator_post(sharing.collection, tlp="red", recipients=[str(sharing.rec_org.pk)]))
    assert response.status_code == 302
    obj = StixObject.objects.get(data__name="C2 server")
    assert obj.tlp == Tlp.RED
    assert list(StixRecipient.objects.filter(object=obj).values_list("organization__code", flat=True)) == ["REC"]
    # the recipient finds it; the province (a reader of the collection) does not
    assert signed_in(client, sharing.recipient).get(reverse("intel:object", args=[obj.stix_id])).status_code == 200
    assert signed_in(client, world.other_admin).get(reverse("intel:object", args=[obj.stix_id])).status_code == 404


def test_collection_choices_and_write_refusals(client, sharing):
    world = sharing.world
    # PROV reads the national feed but may not write into it: not offered, and a forged post is refused
    c = signed_in(client, world.other_admin)
    assert c.get(reverse("intel:indicator_create")).status_code == 403  # no collection it may write
    before = StixObject.objects.count()
    assert c.post(reverse("intel:indicator_create"), _indicator_post(sharing.collection)).status_code == 403
    own = own_collection(world.province, world.other_admin)
    form = c.get(reverse("intel:indicator_create")).context["form"]
    assert list(form.fields["collection"].queryset) == [own]
    response = c.post(reverse("intel:indicator_create"), _indicator_post(sharing.collection))
    assert response.status_code == 400 and "collection" in response.context["form"].errors
    assert StixObject.objects.count() == before
    # a user without organization
    assert signed_in(client, world.nobody).get(reverse("intel:indicator_create")).status_code == 403


def test_report_with_visible_objects_only(client, sharing):
    world = sharing.world
    c = signed_in(client, world.dept_analyst)
    dept_feed = own_collection(world.department, world.dept_analyst, title="D1 feed")
    green, red = sharing.ids[Tlp.GREEN], sharing.ids[Tlp.RED]
    form = c.get(reverse("intel:report_create")).context["form"]
    offered = {v for v, _label in form.fields["object_refs"].choices}
    assert green in offered and red not in offered
    before = StixObject.objects.count()
    post = {"name": "Campaign summary", "report_type": "campaign", "tlp": "green", "collection": str(dept_feed.pk),
            "object_refs": [green]}
    response = c.post(reverse("intel:report_create"), {**post, "extra_refs": red})
    assert response.status_code == 400 and StixObject.objects.count() == before  # RED not visible to D1
    response = c.post(reverse("intel:report_create"), {**post, "object_refs": []})
    assert response.status_code == 400 and StixObject.objects.count() == before
    response = c.post(reverse("intel:report_create"), post)
    assert response.status_code == 302
    report = StixObject.objects.get(stix_type="report")
    assert report.data["object_refs"] == [green] and report.producer == world.department
    page = html(c.get(reverse("intel:object", args=[report.stix_id])))
    assert green in page
    # the indicator's page lists the report citing it
    response = c.get(reverse("intel:object", args=[green]))
    assert [r.stix_id for r in response.context["reports"]] == [report.stix_id]


def test_object_page_of_a_report_hides_what_the_reader_may_not_see(client, sharing):
    world = sharing.world
    report = _sdo("report", "report--0b0c0d0e-1111-4222-8333-000000000009", Tlp.GREEN, name="Mixed report",
                  published="2026-02-01T00:00:00Z", object_refs=[sharing.ids[Tlp.GREEN], sharing.ids[Tlp.RED]])
    services.do_add_objects(sharing.collection, [report], acting_user=world.analyst)
    response = signed_in(client, world.dept_analyst).get(reverse("intel:object", args=[report["id"]]))
    assert [r["id"] for r in response.context["refs"]] == [sharing.ids[Tlp.GREEN]]
    assert response.context["hidden_refs"] == 1
    assert sharing.ids[Tlp.RED] not in html(response).split('id="raw"')[0]


def test_writable_collections(sharing):
    """The create forms offer the collections the user may write: the ministry writes the national feed."""
    from khien.intel.forms import writable_collections

    assert writable_collections(sharing.world.analyst) == [sharing.collection]
    assert writable_collections(sharing.world.other_admin) == []
    assert writable_collections(sharing.resp_writer) == [sharing.collection]  # write-only member
    for user in (sharing.world.responder, sharing.world.auditor, sharing.world.trainee):  # roles that only view
        assert writable_collections(user) == []
    assert Collection.objects.count() == 1


def test_expired_and_revoked_indicators_are_marked(client, sharing):
    world = sharing.world
    old = indicator("login-old.demo-threat.vn", kind="domain-name", tlp=Tlp.GREEN, name="Old domain",
                    valid_until="2026-01-02T00:00:00Z")
    services.do_add_objects(sharing.collection, [old], acting_user=world.analyst)
    c = signed_in(client, world.dept_analyst)
    assert 'id="expired"' in html(c.get(reverse("intel:object", args=[old["id"]])))
    assert 'id="expired"' not in html(c.get(reverse("intel:object", args=[sharing.ids[Tlp.GREEN]])))
    revoked = {**old, "modified": "2026-02-01T00:00:00.000Z", "revoked": True}
    services.do_add_objects(sharing.collection, [revoked], acting_user=world.analyst)
    response = c.get(reverse("intel:search"), {"q": "login-old.demo-threat.vn"})
    assert response.context["groups"][0].rows[0].obj.revoked is True  # the latest version


def test_a_sighting_dated_beyond_the_storable_years_does_not_break_the_object_page(client, sharing):
    """first_seen/last_seen are kept in the object's JSON only: a date no time zone can show is left out of the
    summary instead of failing the page of the sighted object for everyone."""
    target = sharing.ids[Tlp.GREEN]
    services.do_add_objects(sharing.collection, [
        _sdo("sighting", "sighting--0b0c0d0e-1111-4222-8333-000000000009", Tlp.GREEN, sighting_of_ref=target,
             first_seen="2026-01-10T00:00:00Z", last_seen="9999-12-31T23:59:59Z"),
    ], acting_user=sharing.world.analyst)
    response = signed_in(client, sharing.world.dept_analyst).get(reverse("intel:object", args=[target]))
    assert response.status_code == 200
    sightings = response.context["sightings"]
    assert sightings["first_seen"] == sightings["last_seen"] == services.parse_timestamp("2026-01-10T00:00:00Z")


def test_stix_types_are_named_in_the_readers_language(client, sharing):
    client.force_login(sharing.world.analyst)
    page = client.get(reverse("intel:search") + "?q=").content.decode()
    assert ">chỉ báo<" in page and ">indicator<" not in page
    obj = StixObject.objects.filter(stix_type="indicator").first()
    detail = client.get(reverse("intel:object", args=[obj.stix_id])).content.decode()
    # the STIX names stay for analysts in title attributes only, never as text beside the labels
    assert "› chỉ báo</p>" in detail and '<dd title="indicator">Chỉ báo</dd>' in detail
    assert '<dt title="pattern_type">Ngôn ngữ mẫu nhận dạng</dt>' in detail
    assert '<code class="small">indicator</code>' not in detail and '<code class="small">pattern_type</code>' not in detail
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "› indicator</p>" in client.get(reverse("intel:object", args=[obj.stix_id])).content.decode()


def test_the_warning_lists_are_described_in_the_readers_language(client, world):
    client.force_login(world.analyst)
    page = client.get(reverse("intel:allowlist")).content.decode()
    assert "Dải địa chỉ IPv4 riêng (RFC 1918)" in page and "Private IPv4 address space" not in page
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Private IPv4 address space (RFC 1918)" in client.get(reverse("intel:allowlist")).content.decode()


def test_the_report_form_offers_no_revoked_object_and_filters_its_list(client, sharing):
    from khien.intel import services_versions

    world = sharing.world
    green, clear = sharing.ids[Tlp.GREEN], sharing.ids[Tlp.CLEAR]
    services_versions.do_revoke_object(clear, acting_user=world.analyst, reason="Dương tính giả")
    c = signed_in(client, world.analyst)
    response = c.get(reverse("intel:report_create"))
    offered = {v for v, _label in response.context["form"].fields["object_refs"].choices}
    assert green in offered and clear not in offered
    assert 'id="id_object_refs" data-picker' in html(response)  # checkboxes (CheckboxPicker); filtered when long


def test_the_search_finds_an_object_by_its_label(client, sharing):
    world = sharing.world
    services.do_add_objects(sharing.collection, [indicator("198.51.100.77", tlp=Tlp.GREEN, name="C2 server",
                                                           labels=["apt-test", "phishing"])],
                            acting_user=world.analyst)
    services.do_add_objects(sharing.collection, [indicator("198.51.100.78", tlp=Tlp.RED, name="Hidden C2",
                                                           labels=["apt-test"])],
                            acting_user=world.analyst, recipients=[sharing.rec_org])
    rows = signed_in(client, world.other_admin).get(reverse("intel:search"), {"q": "apt-test"}).context["rows"]
    assert [r["name"] for r in rows] == ["C2 server"]  # not the RED one the province may not see
