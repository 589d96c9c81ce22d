"""Blocklists: exactly the visible, active, non-warning-listed values per consumer; RPZ syntax; `since`."""
import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from khien.conftest import _org, _user
from khien.core.roles import Role
from khien.core.timerange import MAX_YEAR, MIN_YEAR
from khien.intel import blocklists, services, tlp, warninglists
from khien.intel.models import IndicatorValue, StixObject, Tlp
from khien.intel.services import format_timestamp

from .conftest import assert_valid_stix, indicator, resp_writer

IP_URL = "/api/intel/blocklists/ip.txt"
DOMAIN_URL = "/api/intel/blocklists/domains.txt"
RPZ_URL = "/api/intel/blocklists/rpz.zone"


def _ts(value: dt.datetime) -> str:
    return format_timestamp(value)



@pytest.fixture
def feed(world):
    """Collection C owned by NCSC: PROV reads, RESP writes only; MIN writes indicators of every kind."""
    s = type("Feed", (), {})()
    s.world = world
    s.rec_org = _org("REC", "enterprise")
    s.recipient = _user("analyst@rec.test.vn", s.rec_org, Role.ORG_ANALYST)
    s.collection = services.do_create_collection({"title": "Perimeter", "owner": world.ncsc, "kind": "national"},
                                                 acting_user=world.coordinator)
    services.do_set_collection_member(s.collection, world.ministry, can_read=True, can_write=True,
                                      acting_user=world.coordinator)
    services.do_set_collection_member(s.collection, world.province, can_read=True, can_write=False,
                                      acting_user=world.coordinator)
    services.do_set_collection_member(s.collection, world.responder_org, can_read=False, can_write=True,
                                      acting_user=world.coordinator)
    now = timezone.now()
    s.revoked_later = indicator("45.33.10.7", tlp=Tlp.GREEN)
    objects = [
        indicator("45.33.10.1", tlp=Tlp.GREEN),
        indicator("45.33.10.2", tlp=Tlp.AMBER),
        indicator("45.34.0.0/16", tlp=Tlp.GREEN),
        indicator("2A01:4F8::1", kind="ipv6-addr", tlp=Tlp.GREEN),
        indicator("evil-clear.vn", kind="domain-name", tlp=Tlp.CLEAR),
        indicator("Evil-Amber.VN", kind="domain-name", tlp=Tlp.AMBER),
        indicator("evil-strict.vn", kind="domain-name", tlp=Tlp.AMBER_STRICT),
        # Warning-listed: never in a blocklist.
        indicator("10.9.9.9", tlp=Tlp.GREEN),
        indicator("8.8.8.8", tlp=Tlp.GREEN),
        indicator("login.google.com", kind="domain-name", tlp=Tlp.GREEN),
        # Inactive: revoked, expired, not valid yet.
        indicator("45.33.10.4", tlp=Tlp.GREEN, revoked=True),
        indicator("45.33.10.5", tlp=Tlp.GREEN, valid_until=_ts(now - dt.timedelta(hours=1))),
        indicator("45.33.10.6", tlp=Tlp.GREEN, valid_from=_ts(now + dt.timedelta(days=30))),
        # Revoked by a newer version.
        s.revoked_later,
        {**s.revoked_later, "modified": "2026-02-01T00:00:00.000Z", "revoked": True},
        # Not IPs nor domains.
        indicator("http://evil-url.vn/x", kind="url", tlp=Tlp.GREEN),
    ]
    assert_valid_stix(objects)
    services.do_add_objects(s.collection, objects, acting_user=world.analyst)
    services.do_add_objects(s.collection, [indicator("45.33.10.3", tlp=Tlp.RED),
                                           indicator("evil-red.vn", kind="domain-name", tlp=Tlp.RED)],
                            acting_user=world.analyst, recipients=[s.rec_org])
    # The same value from another producer: one line.
    services.do_add_objects(s.collection, [indicator("45.33.10.1", tlp=Tlp.GREEN, name="Again")],
                            acting_user=resp_writer(world))
    return s


PUBLIC_IPS = {"45.33.10.1", "45.34.0.0/16", "2a01:4f8::1"}
EXPECTED = {
    # relation: (ips, domains)
    "producer": (PUBLIC_IPS | {"45.33.10.2", "45.33.10.3"}, {"evil-clear.vn", "evil-amber.vn", "evil-strict.vn",
                                                              "evil-red.vn"}),
    "collection owner": (PUBLIC_IPS | {"45.33.10.2"}, {"evil-clear.vn", "evil-amber.vn", "evil-strict.vn"}),
    "collection member": (PUBLIC_IPS | {"45.33.10.2"}, {"evil-clear.vn", "evil-amber.vn"}),
    "write-only member": (PUBLIC_IPS, {"evil-clear.vn"}),
    "named recipient": (PUBLIC_IPS | {"45.33.10.3"}, {"evil-clear.vn", "evil-red.vn"}),
    "other organization": (PUBLIC_IPS, {"evil-clear.vn"}),
    "no organization": (set(), {"evil-clear.vn"}),
}


def _users(feed):
    w = feed.world
    return {"producer": w.analyst, "collection owner": w.coordinator, "collection member": w.other_admin,
            "write-only member": w.responder, "named recipient": feed.recipient,
            "other organization": w.dept_analyst, "no organization": w.nobody}


def _lines(body: bytes) -> list[str]:
    return [line for line in body.decode().splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("relation", list(EXPECTED))
def test_each_consumer_gets_exactly_what_it_may_see(feed, api, relation):
    user = _users(feed)[relation]
    ips, domains = EXPECTED[relation]
    assert set(blocklists.current(user, blocklists.IP_KINDS)) == ips
    assert set(blocklists.current(user, blocklists.DOMAIN_KINDS)) == domains
    client = api(user)
    ip_response = client.get(IP_URL)
    assert ip_response.status_code == 200 and ip_response["Content-Type"].startswith("text/plain")
    got = _lines(ip_response.content)
    assert sorted(got) == sorted(ips) and len(got) == len(set(got))  # deduplicated
    assert set(_lines(client.get(DOMAIN_URL).content)) == domains


def test_red_not_addressed_and_amber_outside_the_collection_are_absent(feed, api):
    body = api(feed.world.dept_analyst).get(IP_URL).content.decode()
    assert "45.33.10.3" not in body and "45.33.10.2" not in body
    body = api(feed.world.dept_analyst).get(DOMAIN_URL).content.decode()
    assert "evil-red.vn" not in body and "evil-amber.vn" not in body


def test_the_hot_path_is_one_query(feed):
    user = feed.world.other_admin
    warninglists.compiled()
    tlp.organization_ids(user)  # the user's memberships are read once per request (cached on the user)
    with CaptureQueriesContext(connection) as queries:
        values = blocklists.raw_values(user, blocklists.IP_KINDS)
    assert len(queries) == 1 and values


def test_no_token_is_401_and_bad_since_is_400(feed, api):
    for url in (IP_URL, DOMAIN_URL, RPZ_URL):
        response = api().get(url)
        assert response.status_code == 401
        assert api(feed.world.analyst).get(url, {"since": "yesterday"}).status_code == 400


@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "9999-12-31T00:00:00Z",
                                   "0001-01-01T00:00:00Z", "2026-13-45T00:00:00Z"])
def test_since_outside_the_storable_years_is_400(feed, api, since):
    client = api(feed.world.analyst)
    for url in (IP_URL, DOMAIN_URL, RPZ_URL):
        response = client.get(url, {"since": since})
        assert response.status_code == 400, (url, response.content)
        assert response.content.decode().startswith("since: "), response.content
        if since[:4] in ("0001", "9999"):
            assert f"{MIN_YEAR}" in response.content.decode() and f"{MAX_YEAR}" in response.content.decode()


def test_allow_listing_a_value_removes_it(feed, api):
    warninglists.do_add_allow_entry("ipv4", "45.33.10.1", acting_user=feed.world.coordinator)
    assert "45.33.10.1" not in _lines(api(feed.world.dept_analyst).get(IP_URL).content)


def test_rpz_zone_syntax(feed, api):
    response = api(feed.world.other_admin).get(RPZ_URL)
    assert response.status_code == 200
    lines = [line for line in response.content.decode().splitlines() if line and not line.startswith(";")]
    origin = blocklists.zone_name()
    assert lines[0] == f"$ORIGIN {origin}"
    assert re.fullmatch(r"\$TTL \d+", lines[1])
    soa = re.fullmatch(r"@ IN SOA (\S+\.) (\S+\.) \( (\d+) (\d+) (\d+) (\d+) (\d+) \)", lines[2])
    assert soa, lines[2]
    serial = int(soa.group(3))
    assert abs(serial - int(timezone.now().timestamp())) < 120 and serial < 2 ** 32
    assert re.fullmatch(r"@ IN NS \S+\.", lines[3])
    records = lines[4:]
    assert records == ["evil-amber.vn CNAME .", "*.evil-amber.vn CNAME .",
                       "evil-clear.vn CNAME .", "*.evil-clear.vn CNAME ."]
    for record in records:
        assert re.fullmatch(r"(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)* CNAME \.", record)


def test_rpz_skips_names_that_cannot_be_owner_names():
    zone = blocklists.rpz_zone(["good.vn", "bad name.vn", "semi;colon.vn", "bücher.vn"], generated=timezone.now())
    assert "\ngood.vn CNAME .\n" in zone and "bad name" not in zone and "semi" not in zone
    assert "\nxn--bcher-kva.vn CNAME .\n" in zone  # an IDN in its ASCII form


def test_incremental_since(feed, api):
    world = feed.world
    user = world.dept_analyst  # sees GREEN and CLEAR
    since = timezone.now()
    # After `since`: one new indicator, one revoked (newer version), one new domain.
    cidr = StixObject.objects.get(indicator_values__value="45.34.0.0/16")
    services.do_add_objects(feed.collection, [
        indicator("45.33.20.1", tlp=Tlp.GREEN),
        {**cidr.data, "modified": "2026-03-01T00:00:00.000Z", "revoked": True},
        indicator("new-evil.vn", kind="domain-name", tlp=Tlp.GREEN),
    ], acting_user=world.analyst)
    response = api(user).get(IP_URL, {"since": since.isoformat()})
    assert response.status_code == 200
    assert sorted(_lines(response.content)) == ["+45.33.20.1", "-45.34.0.0/16"]
    assert response["X-Khien-Generated-At"]
    domains = _lines(api(user).get(DOMAIN_URL, {"since": since.isoformat()}).content)
    assert domains == ["+new-evil.vn"]
    update = api(user).get(RPZ_URL, {"since": since.isoformat()}).content.decode()
    origin = blocklists.zone_name()
    assert f"update add new-evil.vn.{origin} " in update and f"update add *.new-evil.vn.{origin} " in update
    assert update.rstrip().endswith("send")
    # Nothing changed since now.
    assert _lines(api(user).get(IP_URL, {"since": timezone.now().isoformat()}).content) == []


def test_incremental_since_lists_expired_values(feed, api):
    """An indicator stored three days ago that expired yesterday is a removal since two days ago."""
    now = timezone.now()
    stored = services.do_add_objects(feed.collection, [indicator(
        "45.33.30.1", tlp=Tlp.GREEN, valid_from=_ts(now - dt.timedelta(days=4)),
        valid_until=_ts(now - dt.timedelta(days=1)))], acting_user=feed.world.analyst)
    assert stored.created == 1
    StixObject.objects.filter(indicator_values__value="45.33.30.1").update(date_added=now - dt.timedelta(days=3))
    since = (now - dt.timedelta(days=2)).isoformat()
    lines = _lines(api(feed.world.dept_analyst).get(IP_URL, {"since": since}).content)
    assert "-45.33.30.1" in lines
    assert IndicatorValue.objects.filter(value="45.33.30.1").exists()


def test_public_clear_feed_opens_the_clear_values_to_anonymous_callers(feed, api, settings):
    """KHIEN_PUBLIC_CLEAR_FEED off: 401 without a token. On: the TLP:CLEAR values only, and a bad token is still 401."""
    anonymous = api()
    settings.KHIEN_PUBLIC_CLEAR_FEED = False
    for url in (IP_URL, DOMAIN_URL, RPZ_URL):
        assert anonymous.get(url).status_code == 401
    settings.KHIEN_PUBLIC_CLEAR_FEED = True
    ips = set(_lines(anonymous.get(IP_URL).content))
    domains = set(_lines(anonymous.get(DOMAIN_URL).content))
    # Exactly what a signed-in user without any organization gets: the CLEAR indicators.
    assert ips == EXPECTED["no organization"][0] and domains == EXPECTED["no organization"][1]
    assert "evil-clear.vn" in domains and "evil-amber.vn" not in domains and "45.33.10.2" not in ips
    rpz = anonymous.get(RPZ_URL)
    assert rpz.status_code == 200 and b"evil-clear.vn" in rpz.content and b"evil-amber.vn" not in rpz.content
    bad = api()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    assert bad.get(IP_URL).status_code == 401
