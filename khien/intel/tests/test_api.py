"""The intel REST API: the same TLP table and rights as TAXII, through DRF."""
import datetime as dt
import uuid

import pytest

from khien.core.models import AuditEntry
from khien.core.timerange import MAX_YEAR, MIN_YEAR
from khien.intel.models import Collection, CollectionMember, StixObject, StixRecipient, Tlp, identity_id_for

from .conftest import indicator
from .test_tlp import EXPECTED

API = "/api/intel/"


@pytest.mark.parametrize("relation", [r for r in EXPECTED if r != "anonymous"])
def test_objects_follow_the_tlp_table(sharing, api, relation):
    client = api(sharing.users[relation])
    by_id = {v: k for k, v in sharing.ids.items()}
    response = client.get(f"{API}objects/?limit=1000")
    assert response.status_code == 200
    got = {by_id[o["stix_id"]] for o in response.json()["results"] if o["stix_id"] in by_id}
    assert got == EXPECTED[relation]
    for level, stix_id in sharing.ids.items():
        assert client.get(f"{API}objects/{stix_id}/").status_code == (200 if level in got else 404), level
        assert client.get(f"{API}objects/{stix_id}/versions/").status_code == (200 if level in got else 404)


def test_anonymous_is_401(sharing, api):
    assert api().get(f"{API}objects/").status_code == 401
    assert api().get(f"{API}collections/").status_code == 401


def test_lookup_by_value(sharing, api):
    client = api(sharing.world.other_admin)
    # 198.51.100.3 is the AMBER indicator, visible to the member; .5 is the RED one, not visible.
    found = client.get(f"{API}objects/?value=198.51.100.3").json()["results"]
    assert [o["stix_id"] for o in found] == [sharing.ids[Tlp.AMBER]]
    assert client.get(f"{API}objects/?value=198.51.100.5").json()["results"] == []
    assert [o["stix_id"] for o in api(sharing.world.analyst).get(f"{API}objects/?value=198.51.100.5")
            .json()["results"]] == [sharing.ids[Tlp.RED]]


def test_collections_listed_per_rights(sharing, api):
    listed = api(sharing.world.other_admin).get(f"{API}collections/").json()["results"]
    assert [(c["alias"], c["can_read"], c["can_write"]) for c in listed] == [(sharing.collection.alias, True, False)]
    assert api(sharing.recipient).get(f"{API}collections/").json()["results"] == []
    assert api(sharing.recipient).get(f"{API}collections/{sharing.collection.pk}/").status_code == 404


def test_create_collection_and_members(world, api):
    client = api(world.admin)
    response = client.post(f"{API}collections/", {"title": "MIN partners", "owner": "MIN"}, format="json")
    assert response.status_code == 201, response.json()
    cid = response.json()["id"]
    response = client.post(f"{API}collections/{cid}/members/",
                           {"organization": "PROV", "can_read": True, "can_write": False}, format="json")
    assert response.status_code == 201
    assert CollectionMember.objects.filter(collection_id=cid, organization__code="PROV", can_read=True).exists()
    # Another tree's administrator may not create for MIN, nor manage MIN's collection.
    other = api(world.other_admin)
    assert other.post(f"{API}collections/", {"title": "X", "owner": "MIN"}, format="json").status_code == 403
    assert other.post(f"{API}collections/{cid}/members/", {"organization": "RESP", "can_read": True,
                                                           "can_write": True}, format="json").status_code == 403
    assert Collection.objects.count() == 1 and CollectionMember.objects.count() == 1


def test_add_objects_with_recipients(sharing, api):
    client = api(sharing.world.analyst)
    red = indicator("203.0.113.240", tlp=Tlp.RED)
    response = client.post(f"{API}collections/{sharing.collection.pk}/objects/",
                           {"bundle": {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [red]},
                            "recipients": ["PROV"]}, format="json")
    assert response.status_code == 201 and response.json()["created"] == 1
    assert list(StixRecipient.objects.filter(object__stix_id=red["id"]).values_list("organization__code", flat=True)) \
        == ["PROV"]
    assert api(sharing.world.other_admin).get(f"{API}objects/{red['id']}/").status_code == 200


def test_add_objects_refusals_write_nothing(sharing, api):
    url = f"{API}collections/{sharing.collection.pk}/objects/"
    member, analyst = api(sharing.world.other_admin), api(sharing.world.analyst)
    before = (StixObject.objects.count(), AuditEntry.objects.count())
    assert member.post(url, {"bundle": [indicator()]}, format="json").status_code == 403
    bad = {**indicator(), "pattern": "[oops"}
    response = analyst.post(url, {"bundle": [indicator(), bad]}, format="json")
    assert response.status_code == 422 and list(response.json()["errors"]) == [bad["id"]]
    assert analyst.post(url, {"recipients": ["NOPE"]}, format="json").status_code == 400
    assert analyst.post(url, "{not json", content_type="application/json").status_code == 400
    assert (StixObject.objects.count(), AuditEntry.objects.count()) == before


# --- Warning-list flags on indicator values ---------------------------------------------------------


def _two_value_indicator(n=9, **extra):
    return indicator(f"198.51.100.{n}", tlp=Tlp.GREEN,
                     pattern=f"[ipv4-addr:value = '198.51.100.{n}'] OR [domain-name:value = 'c2-{n}.demo-khien.vn']",
                     **extra)


def test_indicator_values_carry_their_warning_list_flags(sharing, api):
    from khien.intel import services, warninglists

    obj = _two_value_indicator()
    services.do_add_objects(sharing.collection, [obj], acting_user=sharing.world.analyst)
    client = api(sharing.world.other_admin)
    expected = [
        {"kind": "domain", "value": "c2-9.demo-khien.vn", "warning_listed": False, "warninglists": []},
        {"kind": "ipv4", "value": "198.51.100.9", "warning_listed": True, "warninglists": ["rfc5737-documentation"]},
    ]
    listed = {o["stix_id"]: o for o in client.get(f"{API}objects/?limit=1000").json()["results"]}
    assert listed[obj["id"]]["values"] == expected
    assert client.get(f"{API}objects/{obj['id']}/").json()["values"] == expected
    assert client.get(f"{API}objects/{obj['id']}/versions/").json()[0]["values"] == expected
    # Objects that are not indicators have no values (the producer's identity, served with them).
    assert listed[identity_id_for(sharing.world.ministry.pk)]["values"] == []
    # The allow-list is read fresh: a value the coordinator allow-lists is flagged at the next request.
    warninglists.do_add_allow_entry("domain", "demo-khien.vn", note="test", acting_user=sharing.world.coordinator)
    try:
        values = client.get(f"{API}objects/{obj['id']}/").json()["values"]
    finally:
        warninglists.invalidate()  # the test's rollback does not tell the compiled lists
    assert values[0] == {"kind": "domain", "value": "c2-9.demo-khien.vn", "warning_listed": True,
                         "warninglists": ["allow-list"]}


def test_flags_cost_no_query_per_object(sharing, api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from khien.intel import services

    client = api(sharing.world.other_admin)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"{API}objects/?type=indicator&limit=1000").status_code == 200
        return len(ctx.captured_queries)

    services.do_add_objects(sharing.collection, [_two_value_indicator(n) for n in (10, 11)],
                            acting_user=sharing.world.analyst)
    few = queries()
    services.do_add_objects(sharing.collection, [_two_value_indicator(n) for n in range(12, 40)],
                            acting_user=sharing.world.analyst)
    # (At most one more: the warning lists' periodic freshness check may fall in either request.)
    assert queries() <= few + 1


# --- Provenance of a value ---------------------------------------------------------------------------

VALUE = "c2.demo-khien.vn"


def _value_indicator(tlp, **extra):
    return indicator(VALUE, kind="domain-name", tlp=tlp, **extra)


@pytest.fixture
def provenance(sharing):
    """One value said by three producers: MIN (GREEN, and a RED one), NCSC (AMBER, expired), RESP (AMBER+STRICT)."""
    from khien.intel import services

    w, c = sharing.world, sharing.collection
    p = {
        "min_green": _value_indicator(Tlp.GREEN, confidence=60),
        "min_red": _value_indicator(Tlp.RED, confidence=95),
        "ncsc_amber": _value_indicator(Tlp.AMBER, confidence=70, valid_until="2026-02-01T00:00:00Z"),
        "resp_strict": _value_indicator(Tlp.AMBER_STRICT, confidence=50),
    }
    services.do_add_objects(c, [p["min_green"], p["min_red"]], acting_user=w.analyst)
    services.do_add_objects(c, [p["ncsc_amber"]], acting_user=w.coordinator)
    services.do_add_objects(c, [p["resp_strict"]], acting_user=sharing.resp_writer)
    # A newer version of MIN's GREEN indicator: only the latest visible version is listed.
    newer = {**p["min_green"], "modified": "2026-03-01T00:00:00.000Z", "confidence": 85}
    services.do_add_objects(c, [newer], acting_user=w.analyst)
    return p


def _entry(client, value=VALUE, **params):
    response = client.get(f"{API}values/", {"value": value, **params})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("relation, expected", [
    ("producer", {"min_green", "min_red", "ncsc_amber"}),
    ("collection owner", {"min_green", "ncsc_amber", "resp_strict"}),
    ("collection member", {"min_green", "ncsc_amber"}),
    ("write-only member", {"min_green", "resp_strict"}),
    ("other organization (a unit of the producer)", {"min_green"}),
    ("signed in, no organization", set()),
])
def test_value_provenance_lists_every_visible_producer_and_nothing_else(sharing, provenance, api, relation,
                                                                        expected):
    by_id = {obj["id"]: name for name, obj in provenance.items()}
    body = _entry(api(sharing.users[relation]))
    if not expected:
        assert body == []  # not even the value's existence
        return
    [entry] = body
    assert (entry["kind"], entry["value"], entry["warning_listed"]) == ("domain", VALUE, False)
    assert {by_id[i["stix_id"]] for i in entry["indicators"]} == expected
    assert entry["indicator_count"] == len(expected)
    codes = {"min_green": "MIN", "min_red": "MIN", "ncsc_amber": "NCSC", "resp_strict": "RESP"}
    assert entry["producers"] == sorted({codes[name] for name in expected})
    for item in entry["indicators"]:
        name = by_id[item["stix_id"]]
        assert item["producer"] == codes[name]
        assert item["created_by_ref"] == identity_id_for(getattr(sharing.world, {
            "MIN": "ministry", "NCSC": "ncsc", "RESP": "responder_org"}[codes[name]]).pk)
        assert item["tlp"] == {"min_green": Tlp.GREEN, "min_red": Tlp.RED, "ncsc_amber": Tlp.AMBER,
                               "resp_strict": Tlp.AMBER_STRICT}[name]
    assert entry["active_count"] == len(expected - {"ncsc_amber"})


def when(text):
    from django.utils.dateparse import parse_datetime

    return parse_datetime(text)


def test_value_provenance_details(sharing, provenance, api):
    body = _entry(api(sharing.world.coordinator), "C2.Demo-Khien.VN.")  # normalised like the index
    [entry] = body
    items = {i["stix_id"]: i for i in entry["indicators"]}
    green = items[provenance["min_green"]["id"]]
    assert (when(green["version"]), green["confidence"], green["tlp"], green["revoked"], green["active"]) == \
        (when("2026-03-01T00:00:00Z"), 85, Tlp.GREEN, False, True)
    amber = items[provenance["ncsc_amber"]["id"]]
    assert (amber["tlp"], when(amber["valid_until"]), amber["active"]) == \
        (Tlp.AMBER, when("2026-02-01T00:00:00Z"), False)
    assert items[provenance["resp_strict"]["id"]]["tlp"] == Tlp.AMBER_STRICT
    assert entry["first_added"] <= entry["last_added"]
    assert _entry(api(sharing.world.coordinator), VALUE, kind="ipv4") == []


def test_value_provenance_refusals(sharing, api):
    client = api(sharing.world.coordinator)
    assert client.get(f"{API}values/").status_code == 400
    assert client.get(f"{API}values/", {"value": VALUE, "kind": "nope"}).status_code == 400
    assert client.get(f"{API}values/", {"value": "x" * 3000}).status_code == 400
    assert api().get(f"{API}values/", {"value": VALUE}).status_code == 401


# --- Members: rights left out ---------------------------------------------------------------------


def test_member_rights_left_out_stay_as_they_are_and_a_new_member_is_201(sharing, api):
    url = f"{API}collections/{sharing.collection.pk}/members/"
    reader, writer, client = api(sharing.world.other_admin), api(sharing.world.analyst), api(sharing.world.coordinator)
    before = (CollectionMember.objects.count(), AuditEntry.objects.count())
    # A reader (and a writer) of the collection who may not manage it: 403 whatever the body, nothing changed.
    for caller in (reader, writer):
        for body in ({"organization": "REC"}, {"organization": "REC", "can_write": True}):
            assert caller.post(url, body, format="json").status_code == 403
    assert (CollectionMember.objects.count(), AuditEntry.objects.count()) == before

    # A new member: rights left out take the model's defaults (read, not write); 201.
    response = client.post(url, {"organization": "REC"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"organization": "REC", "can_read": True, "can_write": False}
    row = CollectionMember.objects.get(collection=sharing.collection, organization=sharing.rec_org)
    assert (row.can_read, row.can_write) == (True, False)
    response = client.post(url, {"organization": "REC", "can_write": True}, format="json")
    assert response.status_code == 200
    assert response.json() == {"organization": "REC", "can_read": True, "can_write": True}
    row.refresh_from_db()
    assert (row.can_read, row.can_write) == (True, True)
    # An existing writer: leaving can_write out keeps it (it used to take write away).
    response = client.post(url, {"organization": "REC", "can_read": True}, format="json")
    assert response.json() == {"organization": "REC", "can_read": True, "can_write": True}
    row.refresh_from_db()
    assert (row.can_read, row.can_write) == (True, True)
    # Unchanged rights write nothing, so nothing is audited.
    audited = AuditEntry.objects.count()
    assert client.post(url, {"organization": "REC"}, format="json").status_code == 200
    assert AuditEntry.objects.count() == audited
    # Write only, then both false: the member goes, and the answer says what is in force.
    response = client.post(url, {"organization": "REC", "can_read": False}, format="json")
    assert response.json() == {"organization": "REC", "can_read": False, "can_write": True}
    response = client.post(url, {"organization": "REC", "can_write": False}, format="json")
    assert response.status_code == 200
    assert response.json() == {"organization": "REC", "can_read": False, "can_write": False}
    assert not CollectionMember.objects.filter(collection=sharing.collection, organization=sharing.rec_org).exists()
    assert client.post(url, {"can_read": True}, format="json").status_code == 400


# --- Timestamps outside the years the platform stores ------------------------------------------------

FAR = "9999-12-31T23:59:59.999Z"


def test_an_object_stored_before_with_a_date_at_the_end_of_year_9999_does_not_break_listings(sharing, api):
    """Such dates are refused now; one stored earlier has no local time (UTC+7): the API shows it in UTC instead
    of answering 400 for every listing that holds it."""
    end = dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.timezone.utc)
    stix_id = sharing.ids[Tlp.GREEN]
    StixObject.objects.filter(stix_id=stix_id).update(modified=end, created=end, valid_until=end)
    client = api(sharing.world.analyst)
    listed = client.get(f"{API}objects/")
    assert listed.status_code == 200, listed.content
    row = next(o for o in listed.json()["results"] if o["stix_id"] == stix_id)
    assert row["version"] == row["created"] == row["valid_until"] == "9999-12-31T23:00:00Z"
    assert client.get(f"{API}objects/{stix_id}/").status_code == 200
    assert client.get(f"{API}objects/{stix_id}/versions/").status_code == 200


@pytest.mark.parametrize("dates", [
    {"created": FAR, "modified": FAR, "valid_from": FAR},
    {"valid_until": FAR},
    {"created": "0001-01-01T00:00:00.000Z", "modified": "0001-01-01T00:00:00.000Z",
     "valid_from": "0001-01-01T00:00:00Z"},
])
def test_objects_dated_outside_the_storable_years_are_refused_each_with_its_error(sharing, api, dates):
    url = f"{API}collections/{sharing.collection.pk}/objects/"
    client = api(sharing.world.analyst)
    far, fine = indicator("203.0.113.77", tlp=Tlp.GREEN, **dates), indicator("203.0.113.78", tlp=Tlp.GREEN)
    before = (StixObject.objects.count(), AuditEntry.objects.count())
    response = client.post(url, {"bundle": {"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                            "objects": [fine, far]}}, format="json")
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert list(errors) == [far["id"]]
    for name in dates:
        assert any(e.startswith(f"{name}: ") and f"{MIN_YEAR}" in e and f"{MAX_YEAR}" in e
                   for e in errors[far["id"]]), errors
    assert (StixObject.objects.count(), AuditEntry.objects.count()) == before
    # The listings stay readable for everyone.
    assert client.get(f"{API}objects/").status_code == 200
    assert client.get(f"{API}values/", {"value": "203.0.113.77"}).json() == []


def test_objects_at_the_edges_of_the_storable_years_are_stored_and_listed(sharing, api):
    client = api(sharing.world.analyst)
    edge = indicator("203.0.113.79", tlp=Tlp.GREEN, created=f"{MIN_YEAR}-01-01T00:00:00.000Z",
                     modified=f"{MIN_YEAR}-01-01T00:00:00.000Z", valid_from=f"{MIN_YEAR}-01-01T00:00:00Z",
                     valid_until=f"{MAX_YEAR}-12-31T23:59:59.999Z")
    response = client.post(f"{API}collections/{sharing.collection.pk}/objects/", {"bundle": [edge]}, format="json")
    assert response.status_code == 201, response.content
    assert client.get(f"{API}objects/").status_code == 200
    assert client.get(f"{API}objects/{edge['id']}/").status_code == 200
    assert client.get(f"{API}values/", {"value": "203.0.113.79"}).status_code == 200


# --- Schema -----------------------------------------------------------------------------------------


def test_versions_are_documented_as_a_list():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    response = schema["paths"]["/api/intel/objects/{stix_id}/versions/"]["get"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/StixObject"}}


def test_downloads_are_documented_with_the_types_they_answer(world, api):
    """A client generated from the schema expects what the server sends: the RPZ zone as text/dns, the export
    as STIX, MISP (JSON) or CSV."""
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    rpz = paths["/api/intel/blocklists/rpz.zone"]["get"]["responses"]["200"]["content"]
    export = paths["/api/intel/exchange/export/"]["get"]["responses"]["200"]["content"]
    client = api(world.analyst)
    assert client.get("/api/intel/blocklists/rpz.zone")["Content-Type"].split(";")[0] in rpz
    for fmt in ("stix", "misp", "csv"):
        answered = client.get("/api/intel/exchange/export/", {"file_format": fmt})
        assert answered.status_code == 200 and answered["Content-Type"].split(";")[0] in export, fmt


# --- Codes are looked up among what the caller may see ----------------------------------------------------------


def _same_answer(first, second, first_code, second_code):
    """Two refusals are the same, but for the code each names."""
    assert first.status_code == second.status_code == 400, (first.content, second.content)
    assert first.content.decode().replace(first_code, "<code>") == second.content.decode().replace(second_code,
                                                                                                     "<code>")


def test_an_isac_the_caller_may_not_see_is_answered_as_one_that_does_not_exist(world, api):
    from khien.registry.models import Isac

    Isac.objects.create(code="PROV-ISAC", name_vi="ISAC tỉnh", operator=world.province)  # PROV's tree only
    own = Isac.objects.create(code="MIN-ISAC", name_vi="ISAC bộ", operator=world.ministry)
    client = api(world.admin)
    en = {"HTTP_ACCEPT_LANGUAGE": "en"}

    def create(code):
        return client.post(f"{API}collections/", {"title": "ISAC feed", "owner": "MIN", "kind": "isac",
                                                  "isac": code}, format="json", **en)

    _same_answer(create("PROV-ISAC"), create("NO-SUCH-ISAC"), "PROV-ISAC", "NO-SUCH-ISAC")
    assert Collection.objects.count() == 0
    response = create(own.code)  # the grant: an ISAC MIN operates
    assert response.status_code == 201 and response.json()["isac"] == "MIN-ISAC"

    # Early warnings name ISACs the same way (MIN's administrator operates MIN-ISAC: may issue).
    def warn(code):
        return client.post(f"{API}warnings/", {"title": "Cảnh báo", "isacs": [code]}, format="json", **en)

    _same_answer(warn("PROV-ISAC"), warn("NO-SUCH-ISAC"), "PROV-ISAC", "NO-SUCH-ISAC")


def test_a_collection_the_caller_may_not_manage_is_answered_as_one_that_does_not_exist(world, api):
    from khien.intel import services

    theirs = services.do_create_collection({"title": "PROV feed", "owner": world.province},
                                           acting_user=world.other_admin)
    ours = services.do_create_collection({"title": "MIN feed", "owner": world.ministry}, acting_user=world.admin)
    client = api(world.admin)
    nowhere = str(uuid.uuid4())

    def subscribe(collection_id, **extra):
        return client.post(f"{API}subscriptions/", {"name": "partner", "collection": collection_id,
                                                    "api_root_url": "https://cti.partner.example/taxii2/",
                                                    "remote_collection_id": "c1", **extra}, format="json")

    _same_answer(subscribe(str(theirs.pk)), subscribe(nowhere), str(theirs.pk), nowhere)
    response = subscribe(str(ours.pk))
    assert response.status_code == 201, response.content
    url = f"{API}subscriptions/{response.json()['id']}/"
    _same_answer(client.patch(url, {"collection": str(theirs.pk)}, format="json"),
                 client.patch(url, {"collection": nowhere}, format="json"), str(theirs.pk), nowhere)


# --- Value lookups: the search page's rule ----------------------------------------------------------------------


@pytest.fixture
def networks(sharing):
    """GREEN indicators on a network, an address inside it, and a subdomain; a RED one inside it (MIN's)."""
    from khien.intel import services

    n = {"net": indicator("10.1.0.0/16", tlp=Tlp.GREEN), "addr": indicator("10.1.2.3", tlp=Tlp.GREEN),
         "sub": indicator("login.evil-khien.vn", kind="domain-name", tlp=Tlp.GREEN),
         "red": indicator("10.1.9.9", tlp=Tlp.RED)}
    services.do_add_objects(sharing.collection, list(n.values()), acting_user=sharing.world.analyst)
    return {name: obj["id"] for name, obj in n.items()}


@pytest.mark.parametrize("query, expected", [
    ("10.1.2.3", {"addr", "net"}),          # an address: the networks holding it too
    ("10.1.0.0/16", {"net", "addr"}),       # a network: what lies inside it too
    ("10.0.0.0/8", {"net", "addr"}),
    ("10.0.0.0/7", set()),                  # a network wider than /8 is not looked inside
    ("10.1.77.1", {"net"}),
    ("login.evil-khien.vn", {"sub"}),
    ("www.login.evil-khien.vn", {"sub"}),   # a domain: its parent domains too
    ("192.0.2.200", set()),
])
def test_the_value_filter_and_provenance_match_as_the_search_page(sharing, networks, api, client, query, expected):
    from khien.intel import search

    name_of = {stix_id: name for name, stix_id in networks.items()}
    reader = sharing.world.other_admin  # PROV reads C: sees the GREEN ones, not MIN's RED one
    listed = api(reader).get(f"{API}objects/", {"value": query}).json()["results"]
    assert {name_of[o["stix_id"]] for o in listed} == expected
    entries = _entry(api(reader), query)
    assert {name_of[i["stix_id"]] for e in entries for i in e["indicators"]} == expected
    page = {(g.kind, g.value, g.why) for g in search.search_values(reader, query)}
    assert {(e["kind"], e["value"], e["match"]) for e in entries} == page


def test_provenance_says_why_each_value_matches(sharing, networks, api):
    entries = _entry(api(sharing.world.analyst), "10.1.2.3")
    assert [(e["kind"], e["value"], e["match"]) for e in entries] == [
        ("ipv4", "10.1.2.3", "exact"), ("cidr", "10.1.0.0/16", "network")]
    # MIN's analyst sees its RED indicator inside the network; PROV's administrator does not
    inside = {e["value"] for e in _entry(api(sharing.world.analyst), "10.1.0.0/16") if e["match"] == "inside"}
    assert inside == {"10.1.2.3", "10.1.9.9"}
    inside = {e["value"] for e in _entry(api(sharing.world.other_admin), "10.1.0.0/16") if e["match"] == "inside"}
    assert inside == {"10.1.2.3"}
