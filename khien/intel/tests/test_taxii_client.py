"""Interoperability: the real taxii2-client (v21) against Khiên served by pytest-django's live_server."""
import threading
import time
import uuid

import orjson
import pytest
import requests
from taxii2client.exceptions import AccessError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from khien.intel import services
from khien.intel.models import CollectionObject, StixObject, TaxiiStatus, Tlp, identity_id_for

from .conftest import assert_valid_stix, envelope, indicator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _request_scoped_db_connections():
    """Live-server threads close their database connection after each request (CONN_MAX_AGE 0),
    so that a thread kept alive by an idle HTTP connection holds no PostgreSQL session when the
    test database is dropped."""
    from django.db import connection

    old = connection.settings_dict.get("CONN_MAX_AGE", 0)
    connection.settings_dict["CONN_MAX_AGE"] = 0
    yield
    connection.settings_dict["CONN_MAX_AGE"] = old


def _http_error(call, *args):
    """(HTTP status, TAXII error http_status) of a client call expected to fail."""
    try:
        call(*args)
    except requests.HTTPError as exc:
        response = exc.response
        result = (response.status_code, response.json().get("http_status"))
        response.close()
        return result
    raise AssertionError("the call did not fail")


@pytest.fixture
def opened():
    """Endpoints whose HTTP connections are closed after the test."""
    endpoints = []
    yield endpoints
    for endpoint in endpoints:
        endpoint.close()
    # Let the live server's request threads see the closed sockets and finish (they close their
    # database connection on the way out) before the next test changes the database.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
            "process_request_thread" in thread.name for thread in threading.enumerate()):
        time.sleep(0.01)


@pytest.fixture
def client_for(live_server, make_token):
    def make(user):
        return {"user": user.email, "password": make_token(user)}

    return make


@pytest.fixture
def collection_for(live_server, sharing, client_for, opened):
    def make(user) -> Collection:
        collection = Collection(f"{live_server.url}/taxii2/api/collections/{sharing.collection.pk}/",
                                **client_for(user))
        opened.append(collection)
        return collection

    return make


def test_discovery_api_root_and_collections(live_server, sharing, client_for, opened):
    server = Server(f"{live_server.url}/taxii2/", **client_for(sharing.world.other_admin))
    opened.append(server)
    opened.extend(server.api_roots)
    assert server.title and server.default.url == f"{live_server.url}/taxii2/api/"
    root = server.api_roots[0]
    assert root.versions == ["application/taxii+json;version=2.1"] and root.max_content_length == 10 * 1024 * 1024
    [collection] = root.collections
    assert collection.id == str(sharing.collection.pk)
    assert collection.can_read and not collection.can_write
    # A non-member sees no collection at all.
    outsider = ApiRoot(f"{live_server.url}/taxii2/api/", **client_for(sharing.recipient))
    opened.append(outsider)
    assert outsider.collections == []


def test_get_objects_and_manifest(sharing, collection_for):
    collection = collection_for(sharing.world.other_admin)
    body = collection.get_objects()
    identity = identity_id_for(sharing.world.ministry.pk)
    assert {o["id"] for o in body["objects"]} == {sharing.ids[level] for level in (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER)} | {identity}
    # The consumer resolves created_by_ref from the collection itself.
    assert {o["created_by_ref"] for o in body["objects"] if o["type"] == "indicator"} == {identity}
    assert_valid_stix(body["objects"])
    manifest = collection.get_manifest()
    assert {m["id"] for m in manifest["objects"]} == {o["id"] for o in body["objects"]}
    one = collection.get_object(sharing.ids[Tlp.GREEN])
    assert [o["id"] for o in one["objects"]] == [sharing.ids[Tlp.GREEN]]
    versions = collection.object_versions(sharing.ids[Tlp.GREEN])
    assert versions["versions"] == ["2026-01-01T00:00:00.000Z"]
    assert _http_error(collection.get_object, sharing.ids[Tlp.RED]) == (404, "404")


def test_paging_through_3000_objects(world, sharing, collection_for):
    objs = [indicator(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}") for n in range(3000)]
    services.do_add_objects(sharing.collection, objs, acting_user=world.analyst)
    collection = collection_for(world.other_admin)
    seen, pages = [], 0
    for page in as_pages(collection.get_objects, per_request=250, type="indicator"):
        pages += 1
        seen += [o["id"] for o in page.get("objects", [])]
    assert len(seen) == len(set(seen))
    expected = {o["id"] for o in objs} | {sharing.ids[level] for level in (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER)}
    assert set(seen) == expected
    assert pages == 13  # 3003 objects by 250
    # The manifest pages the same way.
    manifest_ids = [m["id"] for page in as_pages(collection.get_manifest, per_request=1000) for m in page["objects"]
                    if not m["id"].startswith("identity--")]
    assert sorted(manifest_ids) == sorted(seen)


def test_added_after(world, sharing, collection_for):
    collection = collection_for(world.analyst)
    first = collection.get_objects()
    response = collection._conn.session.get(collection.objects_url,
                                            headers={"Accept": "application/taxii+json;version=2.1"})
    last_added = response.headers["X-TAXII-Date-Added-Last"]
    assert len(first["objects"]) == 6  # five indicators and the ministry's identity
    later = [indicator("203.0.113.200"), indicator("203.0.113.201")]
    services.do_add_objects(sharing.collection, later, acting_user=world.analyst)
    body = collection.get_objects(added_after=last_added)
    assert {o["id"] for o in body["objects"]} == {o["id"] for o in later}


def test_add_objects_and_read_status(world, sharing, collection_for):
    collection = collection_for(world.analyst)
    objs = [indicator("203.0.113.210", tlp=Tlp.GREEN),
            {"type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}",
             "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
             "name": "Demo dropper", "description": "Synthetic", "is_family": True}]
    objs.append({"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
                 "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                 "relationship_type": "indicates", "source_ref": objs[0]["id"], "target_ref": objs[1]["id"]})
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objs}
    assert_valid_stix(objs)
    status = collection.add_objects(bundle)
    assert status.status == "complete"
    assert (status.total_count, status.success_count, status.failure_count) == (3, 3, 0)
    # Read the status back from its own endpoint.
    status.refresh()
    assert status.success_count == 3 and {s["id"] for s in status.successes} == {o["id"] for o in objs}
    assert TaxiiStatus.objects.get(pk=status.id).submitted_by == world.analyst
    stored = collection.get_objects(type="relationship")
    assert [o["id"] for o in stored["objects"]] == [objs[2]["id"]]


def test_write_without_right_is_refused(world, sharing, collection_for):
    before = (StixObject.objects.count(), CollectionObject.objects.count())
    collection = collection_for(world.other_admin)
    with pytest.raises(AccessError):  # the client reads can_write=false from the collection resource
        collection.add_objects(envelope([indicator("203.0.113.220")]))
    # And the server refuses even a client that does not check.
    response = collection._conn.session.post(
        collection.objects_url, data=b'{"objects": []}',
        headers={"Accept": "application/taxii+json;version=2.1", "Content-Type": "application/taxii+json;version=2.1"})
    assert response.status_code == 403 and response.json()["http_status"] == "403"
    assert (StixObject.objects.count(), CollectionObject.objects.count()) == before


def test_read_only_roles_cannot_write(world, sharing, collection_for):
    """An auditor or trainee of MIN (which writes C) reads C but may not add to it: the role does not add."""
    before = (StixObject.objects.count(), CollectionObject.objects.count(), TaxiiStatus.objects.count())
    for user in (world.auditor, world.trainee):
        collection = collection_for(user)
        assert collection.can_read and not collection.can_write
        with pytest.raises(AccessError):
            collection.add_objects(envelope([indicator("203.0.113.221")]))
        response = collection._conn.session.post(
            collection.objects_url, data=orjson.dumps(envelope([indicator("203.0.113.222")])),
            headers={"Accept": "application/taxii+json;version=2.1",
                     "Content-Type": "application/taxii+json;version=2.1"})
        assert response.status_code == 403 and response.json()["http_status"] == "403"
    assert (StixObject.objects.count(), CollectionObject.objects.count(), TaxiiStatus.objects.count()) == before


def test_invalid_bundle_through_the_client(world, sharing, collection_for):
    collection = collection_for(world.analyst)
    before = StixObject.objects.count()
    assert _http_error(collection.add_objects,
                       envelope([indicator("203.0.113.230"), {**indicator(), "pattern": "[broken"}])) == (422, "422")
    assert StixObject.objects.count() == before


# --- Large submissions: a pending status, processed in the background -----------------------------


def test_large_bundle_is_pending_then_complete(world, sharing, collection_for, settings):
    settings.KHIEN_TAXII_ASYNC_THRESHOLD = 20
    collection = collection_for(world.analyst)
    objs = [indicator(f"10.77.{n // 256}.{n % 256}", tlp=Tlp.GREEN) for n in range(450)]
    status = collection.add_objects(envelope(objs), wait_for_completion=False)
    # Answered at once: nothing validated nor stored yet when the answer was built.
    assert (status.status, status.total_count, status.pending_count, status.success_count) == ("pending", 450, 450, 0)
    assert {p["id"] for p in status.pendings} == {o["id"] for o in objs}
    status.wait_until_final(poll_interval=0.2, timeout=120)
    assert (status.status, status.success_count, status.failure_count, status.pending_count) == ("complete", 450, 0, 0)
    assert {s["id"] for s in status.successes} == {o["id"] for o in objs}
    row = TaxiiStatus.objects.get(pk=status.id)
    assert row.validated_count == 450 and row.submitted_by == world.analyst
    # The objects are readable through TAXII.
    stored = [o["id"] for page in as_pages(collection.get_objects, per_request=200, type="indicator")
              for o in page.get("objects", [])]
    assert {o["id"] for o in objs} <= set(stored)


def test_large_invalid_bundle_stores_nothing(world, sharing, collection_for, settings):
    settings.KHIEN_TAXII_ASYNC_THRESHOLD = 20
    collection = collection_for(world.analyst)
    objs = [indicator(f"10.78.0.{n}") for n in range(40)]
    bad = {**indicator("10.78.1.1"), "pattern": "[nope"}
    before = StixObject.objects.count()
    status = collection.add_objects(envelope(objs + [bad]), wait_for_completion=False)
    assert status.status == "pending"
    status.wait_until_final(poll_interval=0.2, timeout=120)
    assert (status.status, status.success_count, status.failure_count) == ("complete", 0, 41)
    messages = {f["id"]: f["message"] for f in status.failures}
    assert "pattern" in messages[bad["id"]].lower()
    assert messages[objs[0]["id"]] != messages[bad["id"]]  # the valid ones: "not stored because of the others"
    assert StixObject.objects.count() == before
