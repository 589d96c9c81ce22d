"""Federation against a real TAXII 2.1 server: Khiên's own /taxii2/ served by pytest-django's live_server."""
import threading
import time

import pytest
from django.core.management import call_command

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry
from khien.intel import federation, services
from khien.intel.jobs import pull_subscriptions
from khien.intel.models import CollectionObject, StixObject, Tlp, identity_id_for
from khien.intel.models_federation import FeedStatus, FeedSubscription

from .conftest import indicator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _request_scoped_db_connections():
    """Live-server threads close their database connection after each request (see test_taxii_client)."""
    from django.db import connection

    old = connection.settings_dict.get("CONN_MAX_AGE", 0)
    connection.settings_dict["CONN_MAX_AGE"] = 0
    yield
    connection.settings_dict["CONN_MAX_AGE"] = old
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
            "process_request_thread" in thread.name for thread in threading.enumerate()):
        time.sleep(0.01)


@pytest.fixture
def local(sharing):
    """Collection X (owned by NCSC), to be fed from collection C through TAXII."""
    return services.do_create_collection({"title": "Partner feed", "owner": sharing.world.ncsc},
                                         acting_user=sharing.world.coordinator)


def in_local(local):
    return set(CollectionObject.objects.filter(collection=local, object__stix_type="indicator")
               .values_list("object__stix_id", flat=True))


def subscribe(live_server, sharing, local, make_token, **extra):
    data = {"name": "partner", "collection": local, "api_root_url": f"{live_server.url}/taxii2/api/",
            "remote_collection_id": str(sharing.collection.pk), "auth_kind": "basic",
            "username": sharing.world.other_admin.email, "password": make_token(sharing.world.other_admin),
            "interval_minutes": 30, **extra}
    return federation.do_create_subscription(data, acting_user=sharing.world.coordinator)


def test_pull_then_pull_only_newer(live_server, sharing, local, make_token):
    sub = subscribe(live_server, sharing, local, make_token)
    sub = federation.do_pull(sub)
    assert sub.last_status == FeedStatus.OK, sub.last_error
    # PROV (the remote account) reads C's CLEAR, GREEN and AMBER objects: the CLEAR and GREEN ones are linked;
    # MIN's AMBER version is left out (counted hidden): only its producer shares it on (decision 0006).
    expected = {sharing.ids[level] for level in (Tlp.CLEAR, Tlp.GREEN)}
    assert in_local(local) == expected
    first = sub.last_count
    assert first >= 3 and sub.total_count == first and sub.added_after is not None
    mark = sub.added_after

    later = [indicator("203.0.113.150", tlp=Tlp.GREEN), indicator("203.0.113.151", tlp=Tlp.GREEN)]
    services.do_add_objects(sharing.collection, later, acting_user=sharing.world.analyst)
    sub = federation.do_pull(sub)
    assert sub.last_status == FeedStatus.OK
    assert sub.last_count == 2  # only what was added after the mark was asked for and received
    assert sub.added_after > mark and sub.total_count == first + 2
    assert in_local(local) == expected | {o["id"] for o in later}
    # Nothing new: nothing received.
    sub = federation.do_pull(sub)
    assert (sub.last_status, sub.last_count) == (FeedStatus.OK, 0)


def test_pull_pages_through_the_remote(live_server, sharing, local, make_token, settings):
    settings.KHIEN_FEDERATION_PAGE_SIZE = 2
    objs = [indicator(f"192.0.2.{n}", tlp=Tlp.GREEN) for n in range(1, 8)]
    services.do_add_objects(sharing.collection, objs, acting_user=sharing.world.analyst)
    sub = federation.do_pull(subscribe(live_server, sharing, local, make_token, auth_kind="token", username=""))
    assert sub.last_status == FeedStatus.OK, sub.last_error
    assert sub.last_count >= 10
    assert {o["id"] for o in objs} <= in_local(local)


def test_unreachable_remote_records_an_error_and_writes_nothing(live_server, sharing, local, make_token):
    sub = subscribe(live_server, sharing, local, make_token, api_root_url="http://127.0.0.1:9/taxii2/api/")
    before = (StixObject.objects.count(), CollectionObject.objects.count())
    sub = federation.do_pull(sub)
    assert sub.last_status == FeedStatus.ERROR and sub.last_error
    assert sub.last_count == 0 and sub.added_after is None and sub.last_run_at is not None
    assert (StixObject.objects.count(), CollectionObject.objects.count()) == before
    # the creator is told once, when the subscription starts failing (not at every failed run)
    from khien.core.models import Notification

    assert Notification.objects.filter(recipient=sharing.world.coordinator, kind="intel.federation_failed").count() == 1
    federation.do_pull(sub)
    assert Notification.objects.filter(kind="intel.federation_failed").count() == 1


def test_wrong_credentials_and_unknown_collection(live_server, sharing, local, make_token):
    sub = subscribe(live_server, sharing, local, make_token, password="wrong-token")
    sub = federation.do_pull(sub)
    assert sub.last_status == FeedStatus.ERROR and "401" in sub.last_error
    assert "wrong-token" not in sub.last_error
    other = subscribe(live_server, sharing, local, make_token, name="nowhere",
                      remote_collection_id="4c1f6f2e-0000-4000-8000-000000000000")
    other = federation.do_pull(other)
    assert other.last_status == FeedStatus.ERROR and "404" in other.last_error
    assert in_local(local) == set()


def test_rights_secret_and_audit(live_server, sharing, local, make_token, api):
    world = sharing.world
    with pytest.raises(Forbidden):  # MIN's analyst does not manage NCSC's collection
        federation.do_create_subscription(
            {"name": "x", "collection": local, "api_root_url": f"{live_server.url}/taxii2/api/",
             "remote_collection_id": "c"}, acting_user=world.analyst)
    with pytest.raises(Refused):
        federation.do_create_subscription(
            {"name": "Bad Name!", "collection": local, "api_root_url": "ftp://x/", "remote_collection_id": "c"},
            acting_user=world.coordinator)
    assert not FeedSubscription.objects.exists()
    secret = make_token(world.other_admin)
    sub = subscribe(live_server, sharing, local, make_token, password=secret)
    entry = AuditEntry.objects.filter(object_type="intel.feedsubscription").get()
    assert "password" not in entry.after and secret not in str(entry.after)
    # the API never shows it back; an empty password on update keeps it
    response = api(world.coordinator).get(f"/api/intel/subscriptions/{sub.pk}/")
    assert response.status_code == 200 and "password" not in response.json() and response.json()["has_secret"]
    assert secret not in response.content.decode()
    response = api(world.coordinator).patch(f"/api/intel/subscriptions/{sub.pk}/",
                                            {"password": "", "interval_minutes": 5}, format="json")
    assert response.status_code == 200, response.content
    sub.refresh_from_db()
    assert sub.password == secret and sub.interval_minutes == 5
    # others do not see it at all
    assert api(world.analyst).get(f"/api/intel/subscriptions/{sub.pk}/").status_code == 404
    assert api(world.analyst).post(f"/api/intel/subscriptions/{sub.pk}/pull/").status_code == 404
    # pull now through the API
    response = api(world.coordinator).post(f"/api/intel/subscriptions/{sub.pk}/pull/")
    assert response.status_code == 200 and response.json()["last_status"] == "ok"
    assert response.json()["last_count"] >= 3 and len(in_local(local)) == 2  # CLEAR, GREEN (not MIN's AMBER)


def test_job_and_command_pull_due_subscriptions(live_server, sharing, local, make_token, capsys):
    sub = subscribe(live_server, sharing, local, make_token)
    disabled = subscribe(live_server, sharing, local, make_token, name="off", enabled=False)
    summary = pull_subscriptions(None)
    assert "partner: ok (" in summary and len(in_local(local)) == 2  # CLEAR, GREEN (not MIN's AMBER)
    assert FeedSubscription.objects.get(pk=disabled.pk).last_status == FeedStatus.NEVER
    # not due again before its interval
    assert pull_subscriptions(None) is None
    call_command("federation", "pull", "partner")
    assert "partner: ok" in capsys.readouterr().out
    call_command("federation", "list")
    out = capsys.readouterr().out
    assert "partner" in out and "off" in out and sub.password not in out


class _PartnerServer:
    """A minimal TAXII 2.1 partner (a real HTTP server in a thread) whose second page holds an invalid object."""

    def __init__(self, pages):
        import http.server
        import json as _json

        self.pages = pages  # list of (objects, date_added_last)
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                from urllib.parse import parse_qs, urlparse

                url = urlparse(self.path)
                outer.requests.append(url)
                headers = {"Content-Type": "application/taxii+json;version=2.1"}
                if url.path.endswith("/objects/"):
                    query = parse_qs(url.query)
                    n = int(query.get("next", ["0"])[0])
                    objects, last = outer.pages[n]
                    body = {"objects": objects, "more": n + 1 < len(outer.pages)}
                    if body["more"]:
                        body["next"] = str(n + 1)
                    headers["X-TAXII-Date-Added-First"] = last
                    headers["X-TAXII-Date-Added-Last"] = last
                else:
                    body = {"id": "partner", "title": "Partner", "can_read": True, "can_write": False,
                            "media_types": ["application/stix+json;version=2.1"]}
                data = _json.dumps(body).encode()
                self.send_response(200)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_bad_remote_page_is_refused_whole_and_recorded(sharing, local):
    good = [indicator("192.0.2.201"), indicator("192.0.2.202")]
    bad = [indicator("192.0.2.203"), {**indicator("192.0.2.204"), "pattern": "[broken"}]
    partner = _PartnerServer([(good, "2026-03-01T00:00:00.000Z"), (bad, "2026-03-02T00:00:00.000Z")])
    try:
        sub = federation.do_create_subscription(
            {"name": "partner", "collection": local, "api_root_url": partner.url, "remote_collection_id": "partner"},
            acting_user=sharing.world.coordinator)
        sub = federation.do_pull(sub)
        first_run = list(partner.requests)
        stored_after_first = in_local(local)
        bad_valid_stored = StixObject.objects.filter(stix_id=bad[0]["id"]).exists()
        # The partner corrects its data; the next pull asks only for what was added after the mark.
        fixed = [bad[0], indicator("192.0.2.205")]
        partner.pages = [(fixed, "2026-03-02T00:00:00.000Z")]
        partner.requests.clear()
        again = federation.do_pull(FeedSubscription.objects.get(pk=sub.pk))
        second_run = list(partner.requests)
    finally:
        partner.close()
    assert not any("added_after" in r.query for r in first_run)
    assert sub.last_status == FeedStatus.PARTIAL
    assert bad[1]["id"] in sub.last_error  # the rejected object is named
    # the first page is stored, nothing of the second (not even its valid object)
    assert stored_after_first == {o["id"] for o in good}
    assert not bad_valid_stored
    # the mark stays at the last stored page: the next pull starts again at the refused page
    assert services.format_timestamp(sub.added_after) == "2026-03-01T00:00:00.000Z"
    assert sub.last_count == 2

    object_requests = [r for r in second_run if r.path.endswith("/objects/")]
    assert object_requests and all("added_after=2026-03-01T00%3A00%3A00.000Z" in r.query for r in object_requests)
    assert again.last_status == FeedStatus.OK and again.last_error == ""
    assert in_local(local) == {o["id"] for o in good + fixed}
    assert services.format_timestamp(again.added_after) == "2026-03-02T00:00:00.000Z"


def test_remote_dates_outside_the_storable_years_are_refused_not_stored(sharing, local):
    """A pull shares the validation of every way in: an object dated year 9999 is refused with its page; a
    `X-TAXII-Date-Added-Last` of year 9999 is not kept as the mark."""
    far = "9999-12-31T23:59:59.999Z"
    good = [indicator("192.0.2.211")]
    bad = [indicator("192.0.2.212"), indicator("192.0.2.213", created=far, modified=far, valid_from=far)]
    partner = _PartnerServer([(good, far), (bad, "2026-03-02T00:00:00.000Z")])
    try:
        sub = federation.do_create_subscription(
            {"name": "partner", "collection": local, "api_root_url": partner.url, "remote_collection_id": "partner"},
            acting_user=sharing.world.coordinator)
        sub = federation.do_pull(sub)
    finally:
        partner.close()
    assert sub.last_status == FeedStatus.PARTIAL and bad[1]["id"] in sub.last_error
    assert in_local(local) == {good[0]["id"]}
    assert sub.added_after is None


# --- Who an object pulled from a partner is attributed to --------------------------------------------------------


def _subscribe_partner(partner, collection, user, name):
    return federation.do_create_subscription(
        {"name": name, "collection": collection, "api_root_url": partner.url, "remote_collection_id": "partner"},
        acting_user=user)


def _holds(collection, stix_id):
    return set(services.format_timestamp(m) for m in CollectionObject.objects.filter(
        collection=collection, object__stix_id=stix_id).values_list("object__modified", flat=True))


def test_two_subscribers_of_one_feed_both_receive_its_objects_and_their_new_versions(sharing, local):
    """An object pulled without created_by_ref is the remote source's, not the first puller's: a second
    subscriber receives it (unmarked: AMBER, which it could not see as another organization's version) and
    the new versions it pulls first, and the first subscriber then receives those too."""
    world = sharing.world
    theirs = services.do_create_collection({"title": "MIN partner feed", "owner": world.ministry},
                                           acting_user=world.admin)
    unmarked = indicator("192.0.2.221")
    green = indicator("192.0.2.222", tlp=Tlp.GREEN)
    partner = _PartnerServer([([unmarked, green], "2026-03-01T00:00:00.000Z")])
    try:
        first = _subscribe_partner(partner, local, world.coordinator, "ncsc-partner")
        second = _subscribe_partner(partner, theirs, world.admin, "min-partner")
        assert federation.do_pull(first).last_status == FeedStatus.OK
        assert federation.do_pull(second).last_status == FeedStatus.OK
        v1 = "2026-01-01T00:00:00.000Z"
        for collection in (local, theirs):
            assert _holds(collection, unmarked["id"]) == {v1} and _holds(collection, green["id"]) == {v1}
        source = federation.source_identity_id(first)
        assert source == federation.source_identity_id(second)
        assert set(StixObject.objects.filter(stix_id__in=[unmarked["id"], green["id"]])
                   .values_list("created_by_ref", flat=True)) == {source}
        assert not services.organization_identities([source])  # no platform organization is the source

        # The partner publishes new versions: the second subscriber pulls them first, then the first one.
        v2 = "2026-02-01T00:00:00.000Z"
        partner.pages = [([{**unmarked, "modified": v2, "name": "Renamed"},
                           {**green, "modified": v2, "revoked": True}], "2026-03-02T00:00:00.000Z")]
        assert federation.do_pull(FeedSubscription.objects.get(pk=second.pk)).last_status == FeedStatus.OK
        assert federation.do_pull(FeedSubscription.objects.get(pk=first.pk)).last_status == FeedStatus.OK
    finally:
        partner.close()
    for collection in (local, theirs):
        assert _holds(collection, unmarked["id"]) == {v1, v2}, collection.title
        assert _holds(collection, green["id"]) == {v1, v2}, collection.title
    assert StixObject.objects.filter(stix_id=unmarked["id"]).count() == 2  # one row per version, shared


def test_a_pulled_object_naming_another_platform_organization_is_left_out(sharing, local):
    world = sharing.world
    good = indicator("192.0.2.231")
    forged = indicator("192.0.2.232", created_by_ref=identity_id_for(world.ministry.pk))
    vendor = indicator("192.0.2.233", created_by_ref="identity--0c1a1f9e-0000-4000-8000-00000000a001")
    partner = _PartnerServer([([good, forged, vendor], "2026-03-01T00:00:00.000Z")])
    try:
        sub = federation.do_pull(_subscribe_partner(partner, local, world.coordinator, "partner"))
    finally:
        partner.close()
    assert sub.last_status == FeedStatus.OK and sub.last_error == ""
    assert in_local(local) == {good["id"], vendor["id"]}
    assert not StixObject.objects.filter(stix_id=forged["id"]).exists()
    # nor is the identity of the organization only the refused object named linked into the collection
    assert not CollectionObject.objects.filter(collection=local,
                                               object__stix_id=identity_id_for(world.ministry.pk)).exists()


def test_source_identity_depends_on_the_remote_collection_only(sharing, local):
    def sub(url, remote="c1"):
        return FeedSubscription(api_root_url=url, remote_collection_id=remote)

    base = federation.source_identity_id(sub("https://CTI.Partner.example/api1/"))
    assert base == federation.source_identity_id(sub("https://user:secret@cti.partner.example/api1"))
    assert base != federation.source_identity_id(sub("https://cti.partner.example/api2/"))
    assert base != federation.source_identity_id(sub("https://cti.partner.example/api1/", "c2"))
    assert base.startswith("identity--") and uuid_version(base) == 4


def uuid_version(stix_id):
    import uuid

    return uuid.UUID(stix_id.split("--")[1]).version


def test_a_pulled_sighting_said_to_be_seen_at_another_platform_organization_is_left_out(sharing, local):
    """The rule of `where_sighted_refs` on a pull: left out (counted hidden) as a forged author is; a sighting seen
    outside the platform, or at the pulling subscription's own organization, is stored."""
    from .test_authorship import sighting

    world = sharing.world
    forged = sighting(identity_id_for(world.ministry.pk))
    outside = sighting("identity--0c1a1f9e-0000-4000-8000-00000000a002")
    at_home = sighting(identity_id_for(world.ncsc.pk))  # the coordinator's own organization
    partner = _PartnerServer([([forged, outside, at_home], "2026-03-01T00:00:00.000Z")])
    try:
        sub = federation.do_pull(_subscribe_partner(partner, local, world.coordinator, "partner"))
    finally:
        partner.close()
    assert sub.last_status == FeedStatus.OK and sub.last_error == ""
    assert set(CollectionObject.objects.filter(collection=local, object__stix_type="sighting")
               .values_list("object__stix_id", flat=True)) == {outside["id"], at_home["id"]}
    assert not StixObject.objects.filter(stix_id=forged["id"]).exists()
    assert not CollectionObject.objects.filter(collection=local,
                                               object__stix_id=identity_id_for(world.ministry.pk)).exists()
