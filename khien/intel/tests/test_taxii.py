"""TAXII 2.1 endpoints through Django's test client: media types, authentication, errors,
the TLP matrix, filters and cursors. The interoperability tests with taxii2-client are in
test_taxii_client.py."""
import base64
import uuid

import orjson
import pytest
from django.core import signing

from khien.core import resumable
from khien.core.models import AuditEntry
from khien.core.timerange import MAX_YEAR, MIN_YEAR
from khien.intel import services
from khien.intel.models import CollectionObject, IndicatorValue, StixObject, TaxiiStatus, Tlp, identity_id_for

from .conftest import TAXII, assert_valid_stix, envelope, indicator
from .test_tlp import EXPECTED

ROOT = "/taxii2/api/"


@pytest.fixture
def taxii(client, make_token):
    """A caller: taxii(user) → function(method, path, body=None, **headers) returning (status, json, response)."""

    def make(user=None, basic=True):
        auth = {}
        if user is not None:
            key = make_token(user)
            if basic:
                auth["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(f"{user.email}:{key}".encode()).decode()
            else:
                auth["HTTP_AUTHORIZATION"] = f"Token {key}"

        def call(method, path, body=None, **headers):
            headers = {"HTTP_ACCEPT": TAXII, **auth, **headers}
            if method == "GET":
                response = client.get(path, **headers)
            else:
                data = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
                headers.setdefault("content_type", TAXII)
                response = client.post(path, data=data, **headers)
            payload = orjson.loads(response.content) if response.content else None
            return response.status_code, payload, response

        return call

    return make


def _counts():
    return (StixObject.objects.count(), CollectionObject.objects.count(), IndicatorValue.objects.count(),
            TaxiiStatus.objects.count(), AuditEntry.objects.count())


def _objects_url(collection):
    return f"{ROOT}collections/{collection.pk}/objects/"


# --- Discovery, media types, authentication ----------------------------------------------------------


def test_discovery_and_api_root(world, taxii):
    call = taxii(world.analyst)
    status, body, response = call("GET", "/taxii2/")
    assert status == 200 and response["Content-Type"] == TAXII
    assert body["default"].endswith("/taxii2/api/") and body["api_roots"] == [body["default"]]
    status, body, _r = call("GET", ROOT)
    assert status == 200
    assert body["versions"] == [TAXII] and body["max_content_length"] == 10 * 1024 * 1024


@pytest.mark.parametrize("accept", ["application/json", "text/html", "", "application/taxii+json;version=2.0"])
def test_wrong_accept_is_406(world, taxii, accept):
    status, body, response = taxii(world.analyst)("GET", "/taxii2/", HTTP_ACCEPT=accept)
    assert status == 406 and body["http_status"] == "406" and body["title"]
    assert response["Content-Type"] == TAXII


@pytest.mark.parametrize("accept", ["application/taxii+json", "application/taxii+json; version=2.1",
                                    "text/html, application/taxii+json;version=2.1"])
def test_acceptable_variants(world, taxii, accept):
    assert taxii(world.analyst)("GET", "/taxii2/", HTTP_ACCEPT=accept)[0] == 200


def test_token_header_works_too(world, taxii):
    assert taxii(world.analyst, basic=False)("GET", ROOT)[0] == 200


@pytest.mark.parametrize("header", [
    None,
    "Basic " + base64.b64encode(b"analyst@min.test.vn:wrong-key").decode(),
    "Basic not-base64!!",
    "Token wrong",
    "Bearer something",
])
def test_unauthenticated_is_401_with_basic_challenge(world, client, header):
    headers = {"HTTP_ACCEPT": TAXII}
    if header:
        headers["HTTP_AUTHORIZATION"] = header
    response = client.get("/taxii2/", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert orjson.loads(response.content)["http_status"] == "401"


def test_basic_needs_the_token_owners_email(world, client, make_token):
    key = make_token(world.analyst)
    creds = base64.b64encode(f"{world.admin.email}:{key}".encode()).decode()
    assert client.get("/taxii2/", HTTP_ACCEPT=TAXII, HTTP_AUTHORIZATION=f"Basic {creds}").status_code == 401


# --- Collections ------------------------------------------------------------------------------------


def test_collections_per_relation(sharing, taxii):
    expected = {  # relation -> (listed, can_read, can_write)
        "producer": (True, True, True),
        "collection owner": (True, True, True),
        "collection member": (True, True, False),
        "write-only member": (True, True, True),
        "named recipient": (False, None, None),
        "other organization (a unit of the producer)": (False, None, None),
        "signed in, no organization": (False, None, None),
    }
    for relation, (listed, can_read, can_write) in expected.items():
        call = taxii(sharing.users[relation])
        status, body, _r = call("GET", f"{ROOT}collections/")
        assert status == 200
        ids = [c["id"] for c in body.get("collections", [])]
        assert (str(sharing.collection.pk) in ids) == listed, relation
        status, body, _r = call("GET", f"{ROOT}collections/{sharing.collection.pk}/")
        if listed:
            assert status == 200 and (body["can_read"], body["can_write"]) == (can_read, can_write), relation
        else:
            assert status == 404 and body["http_status"] == "404", relation


def test_unknown_collection_is_404(world, taxii):
    call = taxii(world.analyst)
    for cid in (uuid.uuid4(), "not-a-uuid"):
        status, body, _r = call("GET", f"{ROOT}collections/{cid}/objects/")
        assert status == 404 and body["http_status"] == "404"


# --- The TLP matrix through TAXII ---------------------------------------------------------------------


TAXII_EXPECTED = {  # what GET objects of the collection returns; None = collection hidden (404) / 401
    "producer": EXPECTED["producer"],
    "collection owner": EXPECTED["collection owner"],
    "collection member": EXPECTED["collection member"],
    "write-only member": set(),  # reads back only what its own organizations pushed
    "named recipient": None,
    "other organization (a unit of the producer)": None,
    "signed in, no organization": None,
    "anonymous": None,
}


@pytest.mark.parametrize("relation", list(TAXII_EXPECTED))
def test_objects_follow_the_tlp_table(sharing, taxii, relation):
    user = sharing.users[relation]
    call = taxii(user)
    by_id = {v: k for k, v in sharing.ids.items()}
    status, body, _r = call("GET", _objects_url(sharing.collection))
    if TAXII_EXPECTED[relation] is None:
        assert status == (401 if user is None else 404)
        return
    assert status == 200
    got = {by_id[o["id"]] for o in body.get("objects", []) if o["type"] != "identity"}
    assert got == TAXII_EXPECTED[relation]
    # The creator every served object names is served with it (TLP:CLEAR identity of the producer).
    served = {o["id"]: o for o in body.get("objects", [])}
    for obj in list(served.values()):
        assert obj.get("created_by_ref", obj["id"]) in served
    # One object by id: granted exactly where listed.
    for level, stix_id in sharing.ids.items():
        status, body, _r = call("GET", f"{_objects_url(sharing.collection)}{stix_id}/")
        assert status == (200 if level in got else 404), (relation, level)
        status, body, _r = call("GET", f"{_objects_url(sharing.collection)}{stix_id}/versions/")
        assert status == (200 if level in got else 404), (relation, level)
    status, body, _r = call("GET", f"{ROOT}collections/{sharing.collection.pk}/manifest/")
    assert {by_id[o["id"]] for o in body.get("objects", []) if not o["id"].startswith("identity--")} == got


def test_anonymous_reads_public_clear_feed_only_when_enabled(sharing, taxii, settings):
    from khien.intel.models import Collection

    Collection.objects.filter(pk=sharing.collection.pk).update(is_public=True)
    call = taxii(None)
    assert call("GET", _objects_url(sharing.collection))[0] == 401
    settings.KHIEN_PUBLIC_CLEAR_FEED = True
    status, body, _r = call("GET", _objects_url(sharing.collection))
    # The CLEAR indicator, and the identity of its producer that its created_by_ref names.
    assert status == 200 and [o["id"] for o in body["objects"]] == [identity_id_for(sharing.world.ministry.pk),
                                                                    sharing.ids[Tlp.CLEAR]]
    status, body, _r = call("GET", f"{ROOT}collections/")
    assert [(c["can_read"], c["can_write"]) for c in body["collections"]] == [(True, False)]
    status, body, _r = call("POST", _objects_url(sharing.collection), envelope([indicator()]))
    assert status == 401
    Collection.objects.filter(pk=sharing.collection.pk).update(is_public=False)
    assert call("GET", _objects_url(sharing.collection))[0] == 404


def test_write_only_member_pushes_and_reads_back(sharing, taxii):
    call = taxii(sharing.resp_writer)
    obj = indicator("192.0.2.99", tlp=Tlp.AMBER)
    status, body, _r = call("POST", _objects_url(sharing.collection), envelope([obj]))
    assert status == 202 and body["success_count"] == 1
    status, body, _r = call("GET", _objects_url(sharing.collection))
    assert [o["id"] for o in body["objects"]] == [identity_id_for(sharing.world.responder_org.pk), obj["id"]]
    # The organization's responder reads its inbox back, but its role does not add (VIEW only).
    call = taxii(sharing.world.responder)
    status, body, _r = call("GET", f"{ROOT}collections/")
    assert [(c["can_read"], c["can_write"]) for c in body["collections"]] == [(True, False)]
    status, body, _r = call("GET", _objects_url(sharing.collection))
    assert [o["id"] for o in body["objects"]] == [identity_id_for(sharing.world.responder_org.pk), obj["id"]]


# --- Adding objects -----------------------------------------------------------------------------------


def test_post_objects_and_status(sharing, taxii):
    call = taxii(sharing.world.analyst)
    objs = [indicator("203.0.113.50", tlp=Tlp.GREEN), indicator("bad.example.org", kind="domain-name")]
    assert_valid_stix(objs)
    status, body, response = call("POST", _objects_url(sharing.collection), envelope(objs))
    assert status == 202 and response["Content-Type"] == TAXII
    assert body["status"] == "complete"
    assert (body["total_count"], body["success_count"], body["failure_count"], body["pending_count"]) == (2, 2, 0, 0)
    assert {s["id"] for s in body["successes"]} == {o["id"] for o in objs}
    status_url = f"{ROOT}status/{body['id']}/"
    assert call("GET", status_url)[1] == body
    assert call("GET", status_url.rstrip("/"))[0] == 200
    # Only the submitter sees the status.
    assert taxii(sharing.world.coordinator)("GET", status_url)[0] == 404
    assert call("GET", f"{ROOT}status/{uuid.uuid4()}/")[0] == 404


def test_post_without_write_right_is_403_and_writes_nothing(sharing, taxii):
    member, outsider = taxii(sharing.world.other_admin), taxii(sharing.recipient)
    before = _counts()
    status, body, _r = member("POST", _objects_url(sharing.collection), envelope([indicator()]))
    assert status == 403 and body["http_status"] == "403"
    status, body, _r = outsider("POST", _objects_url(sharing.collection), envelope([indicator()]))
    assert status == 404
    assert _counts() == before


BAD_BODIES = {
    "malformed JSON": (b'{"objects": [', 400),
    "not an envelope": (b'[1, 2]', 422),
    "objects not a list": (b'{"objects": {}}', 422),
    "empty envelope": (b'{"objects": []}', 422),
    "broken pattern": (orjson.dumps(envelope([indicator(), {**indicator(), "pattern": "[ipv4-addr:value = "}])), 422),
    "unknown type without extension": (orjson.dumps(envelope([{
        "type": "x-mystery", "spec_version": "2.1", "id": f"x-mystery--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"}])), 422),
    "missing required property": (orjson.dumps(envelope([{"type": "malware", "spec_version": "2.1",
                                                           "id": f"malware--{uuid.uuid4()}"}])), 422),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_input_is_a_taxii_error_and_writes_nothing(sharing, taxii, case):
    body, expected = BAD_BODIES[case]
    call = taxii(sharing.world.analyst)
    before = _counts()
    status, payload, response = call("POST", _objects_url(sharing.collection), body)
    assert status == expected, payload
    assert response["Content-Type"] == TAXII
    assert set(payload) >= {"title", "description", "http_status"} and payload["http_status"] == str(expected)
    assert _counts() == before


def test_invalid_stix_details_name_each_object(sharing, taxii):
    bad = {**indicator(), "pattern": "[nope"}
    status, payload, _r = taxii(sharing.world.analyst)("POST", _objects_url(sharing.collection),
                                                        envelope([indicator(), bad]))
    assert status == 422 and list(payload["details"]["errors"]) == [bad["id"]]


@pytest.mark.parametrize("content_type", ["application/json", "application/stix+json;version=2.1",
                                          "application/taxii+json;version=2.0", "text/plain"])
def test_wrong_content_type_is_415(sharing, taxii, content_type):
    call = taxii(sharing.world.analyst)
    before = _counts()
    status, payload, _r = call("POST", _objects_url(sharing.collection), envelope([indicator()]),
                               content_type=content_type)
    assert status == 415 and payload["http_status"] == "415"
    assert _counts() == before


def test_oversized_request_is_413(sharing, taxii, settings):
    settings.KHIEN_TAXII_MAX_CONTENT_LENGTH = 2000
    objs = [indicator(f"203.0.113.{n}") for n in range(1, 20)]
    call = taxii(sharing.world.analyst)
    before = _counts()
    status, payload, _r = call("POST", _objects_url(sharing.collection), envelope(objs))
    assert status == 413 and payload["http_status"] == "413"
    assert _counts() == before
    status, body, _r = call("GET", ROOT)
    assert body["max_content_length"] == 2000


def test_method_not_allowed(sharing, taxii):
    status, payload, _r = taxii(sharing.world.analyst)("POST", f"{ROOT}collections/", {})
    assert status == 405 and payload["http_status"] == "405"


# --- Filters, versions, paging --------------------------------------------------------------------------


@pytest.fixture
def versioned(world, sharing):
    """One indicator in three versions, plus one malware, in the collection."""
    first = indicator("203.0.113.60", modified="2026-01-01T00:00:00.000Z")
    second = {**first, "modified": "2026-02-01T00:00:00.000Z"}
    third = {**first, "modified": "2026-03-01T00:00:00.000Z"}
    malware = {"type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}",
               "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
               "name": "Demo loader", "description": "Synthetic", "is_family": False, "malware_types": ["trojan"]}
    assert_valid_stix([first, second, third, malware])
    for obj in (first, third, second, malware):
        services.do_add_objects(sharing.collection, [obj], acting_user=world.analyst)
    return {"id": first["id"], "malware": malware["id"]}


def test_match_version_and_type(sharing, taxii, versioned):
    call = taxii(sharing.world.analyst)
    url = _objects_url(sharing.collection)

    def modified_of(query):
        status, body, _r = call("GET", url + query)
        assert status == 200, body
        return sorted(o["modified"] for o in body.get("objects", []) if o["id"] == versioned["id"])

    assert modified_of("") == ["2026-03-01T00:00:00.000Z"]
    assert modified_of("?match[version]=first") == ["2026-01-01T00:00:00.000Z"]
    assert modified_of("?match[version]=all") == ["2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z",
                                                  "2026-03-01T00:00:00.000Z"]
    assert modified_of("?match[version]=first,last") == ["2026-01-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z"]
    assert modified_of("?match[version]=2026-02-01T00:00:00.000Z") == ["2026-02-01T00:00:00.000Z"]
    status, body, _r = call("GET", url + "?match[type]=malware")
    assert [o["id"] for o in body["objects"]] == [versioned["malware"]]
    status, body, _r = call("GET", url + f"?match[id]={versioned['malware']},{versioned['id']}&match[version]=all")
    assert len(body["objects"]) == 4
    status, body, _r = call("GET", url + "?match[spec_version]=2.0")
    assert body == {"more": False}
    status, body, _r = call("GET", f"{url}{versioned['id']}/versions/")
    assert body["versions"] == ["2026-01-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"]
    status, body, _r = call("GET", f"{url}{versioned['id']}/?match[version]=all")
    assert len(body["objects"]) == 3


def test_last_version_is_the_last_one_the_caller_may_see(world, sharing, taxii):
    """A newer RED version is not shown to a member; it still gets the previous version."""
    first = indicator("203.0.113.70", tlp=Tlp.GREEN)
    newer_red = {**first, "modified": "2026-05-01T00:00:00.000Z", "object_marking_refs": [
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]}
    services.do_add_objects(sharing.collection, [first, newer_red], acting_user=world.analyst)
    status, body, _r = taxii(world.other_admin)("GET", f"{_objects_url(sharing.collection)}{first['id']}/")
    assert [o["modified"] for o in body["objects"]] == [first["modified"]]
    status, body, _r = taxii(world.analyst)("GET", f"{_objects_url(sharing.collection)}{first['id']}/")
    assert [o["modified"] for o in body["objects"]] == [newer_red["modified"]]


@pytest.mark.parametrize("query", ["?limit=0", "?limit=-3", "?limit=x", "?added_after=yesterday",
                                   "?match[version]=soon", "?next=forged"])
def test_bad_filters_are_400(sharing, taxii, query):
    status, payload, _r = taxii(sharing.world.analyst)("GET", _objects_url(sharing.collection) + query)
    assert status == 400 and payload["http_status"] == "400"


@pytest.mark.parametrize("endpoint", ["objects", "manifest"])
@pytest.mark.parametrize("query", ["added_after=9999-12-31T23:59:59-12:00", "added_after=0001-01-01T00:00:00%2B14:00",
                                   "added_after=9999-12-31T00:00:00Z", "added_after=0001-01-01T00:00:00Z",
                                   "match[version]=9999-12-31T23:59:59-12:00"])
def test_timestamps_outside_the_storable_years_are_400(sharing, taxii, endpoint, query):
    url = f"{ROOT}collections/{sharing.collection.pk}/{endpoint}/?{query}"
    status, payload, response = taxii(sharing.world.analyst)("GET", url)
    assert status == 400, payload
    assert response["Content-Type"] == TAXII and payload["http_status"] == "400"
    description = payload["description"]
    assert description.startswith(query.split("=")[0] + ": ") and f"{MIN_YEAR}" in description \
        and f"{MAX_YEAR}" in description


def test_added_objects_dated_outside_the_storable_years_are_422(sharing, taxii):
    far = "9999-12-31T23:59:59.999Z"
    bad = indicator(created=far, modified=far, valid_from=far)
    call = taxii(sharing.world.analyst)
    before = _counts()
    status, payload, _r = call("POST", _objects_url(sharing.collection), envelope([indicator(), bad]))
    assert status == 422 and list(payload["details"]["errors"]) == [bad["id"]]
    assert any(e.startswith("modified: ") and f"{MAX_YEAR}" in e for e in payload["details"]["errors"][bad["id"]])
    assert _counts() == before


def test_paging_headers_cursor_and_added_after(world, sharing, taxii):
    objs = [indicator(f"192.0.2.{n}") for n in range(1, 26)]
    services.do_add_objects(sharing.collection, objs, acting_user=world.analyst)
    call = taxii(world.analyst)
    url = _objects_url(sharing.collection) + "?match[type]=indicator&limit=7"
    seen, pages, next_token = [], 0, None
    while True:
        status, body, response = call("GET", url + (f"&next={next_token}" if next_token else ""))
        assert status == 200
        pages += 1
        seen += [o["id"] for o in body.get("objects", [])]
        assert response["X-TAXII-Date-Added-First"] <= response["X-TAXII-Date-Added-Last"]
        if not body["more"]:
            break
        next_token = body["next"]
    assert pages == 5 and len(seen) == len(set(seen)) == 30  # 25 + the 5 of the fixture
    # The cursor carries its filters and is bound to its collection and endpoint.
    status, body, _r = call("GET", _objects_url(sharing.collection) + "?limit=2")
    token = body["next"]
    assert signing.loads(token, salt="khien.intel.taxii.next")["f"] == {}
    assert call("GET", f"{ROOT}collections/{sharing.collection.pk}/manifest/?next={token}")[0] == 400
    # added_after: strictly after the given date added.
    status, body, response = call("GET", _objects_url(sharing.collection) + "?limit=1000")
    last_fixture_date = CollectionObject.objects.filter(object__stix_id=sharing.ids[Tlp.RED]).get().date_added
    after = services.format_timestamp(last_fixture_date)
    status, body, response = call("GET", _objects_url(sharing.collection) + f"?added_after={after}")
    assert {o["id"] for o in body["objects"]} == {o["id"] for o in objs}
    assert response["X-TAXII-Date-Added-First"] > after


ODD_OBJECTS = [
    None, [], 5, "text", {}, {"type": 5, "id": 5}, {"type": "indicator"}, {"id": "indicator--x"},
    {**indicator(), "created": "yesterday"}, {**indicator(), "modified": "2025-01-01T00:00:00Z"},  # before created
    {**indicator(), "object_marking_refs": "not a list"}, {**indicator(), "confidence": 900},
    {**indicator(), "labels": "x"}, {**indicator(), "type": "x" * 300},
    {**indicator(), "pattern_type": "stix", "pattern": 42}, {"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                                              "objects": []},
    {**indicator(), "extensions": "x"}, {"type": "x-" + "a" * 10, "id": f"x-aaaaaaaaaa--{uuid.uuid4()}",
                                         "spec_version": "2.1", "extensions": {"extension-definition--x": 5}},
]


@pytest.mark.parametrize("odd", ODD_OBJECTS, ids=[str(n) for n in range(len(ODD_OBJECTS))])
def test_odd_objects_are_422_never_500(sharing, taxii, odd):
    call = taxii(sharing.world.analyst)
    before = _counts()
    status, payload, _r = call("POST", _objects_url(sharing.collection), envelope([indicator(), odd]))
    assert status == 422, payload
    assert payload["details"]["errors"]
    assert _counts() == before


def test_deeply_nested_json_is_400(sharing, taxii):
    call = taxii(sharing.world.analyst)
    body = b'{"objects": [' + b"[" * 5000 + b"]" * 5000 + b"]}"
    status, payload, _r = call("POST", _objects_url(sharing.collection), body)
    assert status in (400, 422) and payload["http_status"] == str(status)


def _interrupted_submission(sharing, objs, minutes_ago=5, attempts=1):
    """A large submission accepted, then its web process died before storing anything: a pending status
    with its objects kept, no progress for `minutes_ago` minutes."""
    import datetime as dt

    from django.utils import timezone

    long_ago = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return TaxiiStatus.objects.create(
        collection=sharing.collection, submitted_by=sharing.world.analyst, request_timestamp=long_ago,
        status="pending", total_count=len(objs), pending_count=len(objs), pendings=[{"id": o["id"]} for o in objs],
        updated_at=long_ago, payload=orjson.dumps(objs).decode(), attempts=attempts)


def test_an_interrupted_background_submission_is_resumed_by_the_worker(sharing, taxii, settings):
    """Nothing accepted is lost: a large submission whose web process died is still pending for its client,
    and the worker's job runs it again from the objects kept with the status, all-or-nothing as before."""
    from django.utils import timezone

    from khien.core.jobs import discover, run_job

    settings.KHIEN_TAXII_ASYNC_STALE_SECONDS = 60
    objs = [indicator("192.0.2.150"), indicator("192.0.2.151")]
    status = _interrupted_submission(sharing, objs)
    fresh = _interrupted_submission(sharing, [indicator("192.0.2.152")], minutes_ago=0)  # still being processed
    call = taxii(sharing.world.analyst)
    code, body, _r = call("GET", f"{ROOT}status/{status.pk}/")
    assert (code, body["status"], body["pending_count"]) == (200, "pending", 2)
    run_job(discover()["intel.taxii_resume"], timezone.now())
    code, body, _r = call("GET", f"{ROOT}status/{status.pk}/")
    assert (body["status"], body["success_count"], body["failure_count"]) == ("complete", 2, 0)
    assert StixObject.objects.filter(stix_id__in=[o["id"] for o in objs]).count() == 2
    status.refresh_from_db()
    assert (status.payload, status.attempts) == ("", 2)  # the kept objects go once stored
    fresh.refresh_from_db()
    assert (fresh.status, fresh.attempts) == ("pending", 1)  # a live run is left alone
    assert not StixObject.objects.filter(stix_id=[o["id"] for o in orjson.loads(fresh.payload)][0]).exists()
    # Another user's status does not exist for them.
    assert taxii(sharing.world.coordinator)("GET", f"{ROOT}status/{status.pk}/")[0] == 404


def test_a_submission_interrupted_again_and_again_is_failed_not_retried_forever(sharing, taxii, settings):
    from django.utils import timezone
    from django.utils.translation import gettext

    settings.KHIEN_TAXII_ASYNC_STALE_SECONDS = 60
    objs = [indicator("192.0.2.160")]
    status = _interrupted_submission(sharing, objs, attempts=resumable.MAX_RUNS)
    assert services.resume_stale_submissions(timezone.now()) == [f"{status.pk}: given up"]
    code, body, _r = taxii(sharing.world.analyst)("GET", f"{ROOT}status/{status.pk}/")
    assert (body["status"], body["failure_count"], body["pending_count"]) == ("complete", 1, 0)
    assert body["failures"][0]["message"] == gettext(
        "Interrupted %(n)d times before anything was stored; send the objects again.") % {"n": 3}
    assert not StixObject.objects.filter(stix_id=objs[0]["id"]).exists()
    assert TaxiiStatus.objects.get(pk=status.pk).payload == ""
    # A resumed run that finds an invalid object stores nothing, as the first run would have.
    bad = _interrupted_submission(sharing, [indicator("192.0.2.161"), {**indicator(), "confidence": 900}])
    services.resume_stale_submissions(timezone.now())
    bad.refresh_from_db()
    assert (bad.status, bad.success_count, bad.failure_count, bad.payload) == ("complete", 0, 2, "")
    assert not StixObject.objects.filter(stix_id__in=[f["id"] for f in bad.failures]).exists()


def test_sparse_visibility_pages_across_chunks(world, sharing, taxii):
    """A reader who may see few of the collection's entries still gets them, in order, with a right `more`."""
    services.do_add_objects(sharing.collection, [indicator(f"10.90.{n // 256}.{n % 256}") for n in range(450)],
                            acting_user=world.analyst)
    own = [indicator("192.0.2.201", tlp=Tlp.AMBER), indicator("192.0.2.202", tlp=Tlp.AMBER)]
    services.do_add_objects(sharing.collection, own[:1], acting_user=sharing.resp_writer)
    services.do_add_objects(sharing.collection, [indicator(f"10.91.0.{n}") for n in range(250)],
                            acting_user=world.analyst)
    services.do_add_objects(sharing.collection, own[1:], acting_user=sharing.resp_writer)
    call = taxii(world.responder)  # a write-only member: only what its organization pushed
    seen, url = [], f"{_objects_url(sharing.collection)}?limit=2"
    while True:
        code, body, _r = call("GET", url)
        assert code == 200
        seen += [o["id"] for o in body.get("objects", [])]
        if not body["more"]:
            break
        url = f"{_objects_url(sharing.collection)}?limit=2&next={body['next']}"
    assert seen == [identity_id_for(world.responder_org.pk), own[0]["id"], own[1]["id"]]
