"""The indicator matcher: what matches, what must not, and that it follows the intelligence store."""
import datetime as dt
import uuid

import pytest

from khien.intel import services as intel
from khien.intel.models import IndicatorKind, StixObject
from khien.intel.tests.conftest import indicator
from khien.intel.warninglists import do_add_allow_entry
from khien.telemetry.matcher import Hit, IndicatorMatcher, current_matcher

pytestmark = pytest.mark.django_db


@pytest.fixture
def feed(world):
    collection = intel.do_create_collection({"title": "Matcher feed", "owner": world.ncsc, "kind": "national"},
                                            acting_user=world.coordinator)

    def add(*objects):
        intel.do_add_objects(collection, list(objects), acting_user=world.coordinator)
        return objects

    return add


def event(**fields):
    base = {"src_ip": None, "dst_ip": None, "domain": "", "url": "", "file_md5": "", "file_sha1": "", "file_sha256": ""}
    base.update(fields)
    return base


def pairs(hits):
    return sorted((h.kind, h.value, h.field) for h in hits)


def test_ipv4_exact_on_both_address_fields(feed):
    (ind,) = feed(indicator("45.77.10.20"))
    m = IndicatorMatcher.load()
    hits = m.match_event(event(src_ip="45.77.10.20", dst_ip="45.77.10.21"))
    assert hits == [Hit(StixObject.objects.get(stix_id=ind["id"]).pk, ind["id"], "ipv4", "45.77.10.20", "src_ip")]
    assert pairs(m.match_event(event(dst_ip="45.77.10.20"))) == [("ipv4", "45.77.10.20", "dst_ip")]
    assert m.match_event(event(src_ip="45.77.10.2")) == []


def test_ipv6_exact_whatever_the_spelling(feed):
    feed(indicator("2a01:4f8:0:0::beef", kind="ipv6-addr"))
    m = IndicatorMatcher.load()
    assert pairs(m.match_event(event(src_ip="2a01:4f8::beef"))) == [("ipv6", "2a01:4f8::beef", "src_ip")]
    assert m.match_event(event(src_ip="2a01:4f8::bee")) == []


def test_cidr_containment_ipv4_and_ipv6(feed):
    feed(indicator("91.200.12.0/22"), indicator("2a02:6b8::/32", kind="ipv6-addr"))
    m = IndicatorMatcher.load()
    assert pairs(m.match_event(event(dst_ip="91.200.15.255"))) == [("cidr", "91.200.12.0/22", "dst_ip")]
    assert pairs(m.match_event(event(src_ip="91.200.12.0"))) == [("cidr", "91.200.12.0/22", "src_ip")]
    assert m.match_event(event(dst_ip="91.200.16.0")) == []
    assert m.match_event(event(dst_ip="91.200.11.255")) == []
    assert pairs(m.match_event(event(src_ip="2a02:6b8:ffff::1"))) == [("cidr", "2a02:6b8::/32", "src_ip")]
    assert m.match_event(event(src_ip="2a02:6b9::1")) == []


def test_address_inside_two_ranges_and_listed_exactly_hits_all(feed):
    feed(indicator("91.200.12.0/22"), indicator("91.200.0.0/16"), indicator("91.200.13.7"))
    m = IndicatorMatcher.load()
    assert pairs(m.match_event(event(src_ip="91.200.13.7"))) == [
        ("cidr", "91.200.0.0/16", "src_ip"), ("cidr", "91.200.12.0/22", "src_ip"), ("ipv4", "91.200.13.7", "src_ip")]


def test_domain_and_subdomains_but_not_a_look_alike_suffix(feed):
    feed(indicator("evil.com", kind="domain-name"))
    m = IndicatorMatcher.load()
    assert pairs(m.match_event(event(domain="evil.com"))) == [("domain", "evil.com", "domain")]
    assert pairs(m.match_event(event(domain="cdn.a.evil.com"))) == [("domain", "evil.com", "domain")]
    assert pairs(m.match_event(event(domain="EVIL.com."))) == [("domain", "evil.com", "domain")]
    assert m.match_event(event(domain="notevil.com")) == []
    assert m.match_event(event(domain="evil.com.vn")) == []
    assert m.match_event(event(domain="com")) == []


def test_url_normalized_like_the_intel_store(feed):
    url = "http://bad.example-cdn.vn/payload.exe?id=1"
    feed(indicator(url, kind="url"))
    assert intel.normalize_value(IndicatorKind.URL, f"  {url} ") == (IndicatorKind.URL, url)
    m = IndicatorMatcher.load()
    assert pairs(m.match_event(event(url=url))) == [("url", url, "url")]
    assert pairs(m.match_event(event(url=f" {url}\n"))) == [("url", url, "url")]
    assert m.match_event(event(url=url + "&x=2")) == []


def test_hashes_case_insensitive(world, feed):
    md5, sha1, sha256 = "D41D8CD98F00B204E9800998ECF8427E", "a" * 40, "B" * 64
    feed(indicator(md5, kind="file", **{"pattern": f"[file:hashes.MD5 = '{md5}']"}),
         indicator(sha1, kind="file", **{"pattern": f"[file:hashes.'SHA-1' = '{sha1}']"}),
         indicator(sha256, kind="file", **{"pattern": f"[file:hashes.'SHA-256' = '{sha256}']"}))
    m = IndicatorMatcher.load()
    hits = m.match_event(event(file_md5=md5.lower(), file_sha1=sha1.upper(), file_sha256=sha256.lower()))
    assert pairs(hits) == [("md5", md5.lower(), "file_md5"), ("sha1", sha1, "file_sha1"),
                           ("sha256", sha256.lower(), "file_sha256")]


def test_revoked_latest_version_is_not_matched(feed):
    stix_id = f"indicator--{uuid.uuid4()}"
    feed(indicator("45.77.1.1", stix_id=stix_id))
    assert IndicatorMatcher.load().match_event(event(src_ip="45.77.1.1"))
    feed(indicator("45.77.1.1", stix_id=stix_id, modified="2026-02-01T00:00:00.000Z", revoked=True))
    assert IndicatorMatcher.load().match_event(event(src_ip="45.77.1.1")) == []


def test_only_the_latest_version_counts(feed):
    stix_id = f"indicator--{uuid.uuid4()}"
    feed(indicator("45.77.2.1", stix_id=stix_id),
         indicator("45.77.2.2", stix_id=stix_id, modified="2026-02-01T00:00:00.000Z"))
    m = IndicatorMatcher.load()
    assert m.match_event(event(src_ip="45.77.2.1")) == []
    newest = StixObject.objects.get(stix_id=stix_id, modified__month=2)
    assert m.match_event(event(src_ip="45.77.2.2"))[0].indicator_pk == newest.pk


def test_expired_indicators_are_not_matched(feed):
    feed(indicator("45.77.3.1", valid_until="2026-01-02T00:00:00Z"))
    assert IndicatorMatcher.load().match_event(event(src_ip="45.77.3.1")) == []


def test_indicator_expiring_after_the_matcher_was_built_stops_matching(feed):
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    feed(indicator("45.77.3.2", valid_until=soon.strftime("%Y-%m-%dT%H:%M:%S.000Z")))
    m = IndicatorMatcher.load()
    assert m.match_event(event(src_ip="45.77.3.2"))
    pk = next(iter(m.valid_until))
    m.valid_until[pk] = dt.datetime.now(dt.timezone.utc).timestamp() - 1  # as if an hour had passed
    assert m.match_event(event(src_ip="45.77.3.2")) == []


def test_indicator_valid_from_a_future_time_matches_only_from_then(feed):
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    feed(indicator("45.77.3.3", valid_from=later.strftime("%Y-%m-%dT%H:%M:%S.000Z")), indicator("45.77.3.4"))
    m = IndicatorMatcher.load()
    assert m.match_event(event(src_ip="45.77.3.3")) == []  # published ahead of its start
    assert m.match_event(event(src_ip="45.77.3.4"))
    pk = next(iter(m.valid_from))
    m.valid_from[pk] = dt.datetime.now(dt.timezone.utc).timestamp() - 1  # as if two days had passed
    assert [hit.value for hit in m.match_event(event(src_ip="45.77.3.3"))] == ["45.77.3.3"]


def test_warning_listed_values_are_not_matched(world, feed):
    feed(indicator("8.8.8.8"), indicator("10.1.2.0/24"), indicator("google.com", kind="domain-name"),
         indicator("45.77.4.4"))
    m = IndicatorMatcher.load()
    assert m.match_event(event(src_ip="8.8.8.8", dst_ip="10.1.2.3", domain="mail.google.com")) == []
    assert m.match_event(event(src_ip="45.77.4.4"))
    do_add_allow_entry("ipv4", "45.77.4.4", acting_user=world.coordinator)
    assert m.match_event(event(src_ip="45.77.4.4")) == []  # the allow-list applies without a rebuild


def test_a_new_indicator_is_picked_up_after_the_intelligence_changes(feed, settings):
    settings.KHIEN_MATCHER_RECHECK_SECONDS = 0
    feed(indicator("45.77.5.5"))
    first = current_matcher()
    assert current_matcher() is first  # nothing changed: the same compiled tables
    assert first.match_event(event(dst_ip="45.77.5.6", domain="cdn.late-listed-c2.xyz")) == []  # misses remembered
    feed(indicator("45.77.5.6"), indicator("late-listed-c2.xyz", kind="domain-name"))
    second = current_matcher()
    assert pairs(second.match_event(event(dst_ip="45.77.5.6", domain="cdn.late-listed-c2.xyz"))) == [
        ("domain", "late-listed-c2.xyz", "domain"), ("ipv4", "45.77.5.6", "dst_ip")]
    # Past KHIEN_MATCHER_REBUILD_SECONDS a change rebuilds the whole matcher instead.
    settings.KHIEN_MATCHER_REBUILD_SECONDS = 0
    feed(indicator("45.77.5.7"))
    third = current_matcher()
    assert third is not second
    assert pairs(third.match_event(event(dst_ip="45.77.5.7"))) == [("ipv4", "45.77.5.7", "dst_ip")]


def test_no_indicators_no_hits(db):
    m = IndicatorMatcher.load()
    assert m.size == 0
    assert m.match_event(event(src_ip="45.77.10.20", domain="a.b.c", url="http://x/", file_md5="a" * 32)) == []


def test_ingest_records_hits_of_new_events_once(world, feed, make_source, settings):
    from khien.telemetry import services
    from khien.telemetry.models import Event, IndicatorHit

    settings.KHIEN_MATCHER_RECHECK_SECONDS = 0
    (ind,) = feed(indicator("45.77.6.6", tlp="clear"))
    source, _key = make_source(format="wazuh")
    record = {"timestamp": "2026-11-24T14:00:00Z", "rule": {"id": "5712", "level": 10, "description": "ssh"},
              "agent": {"name": "web-01"}, "data": {"srcip": "45.77.6.6"}}
    other = dict(record, data={"srcip": "45.77.6.7"})
    services.ingest_batch(source, [record, other])
    hit = IndicatorHit.objects.get()
    assert hit.event_id == Event.objects.get(src_ip="45.77.6.6").id
    assert hit.organization_id == world.ministry.pk
    services.ingest_batch(source, [record, other])  # a redelivery: no new event, no new hit
    assert IndicatorHit.objects.count() == 1


def test_changes_are_applied_in_place_without_a_rebuild(feed, settings):
    settings.KHIEN_MATCHER_RECHECK_SECONDS = 0
    stix_id = f"indicator--{uuid.uuid4()}"
    feed(indicator("45.77.7.1", stix_id=stix_id), indicator("45.77.7.9"))
    first = current_matcher()
    # A new version with another value supersedes the old one; a new indicator appears; one is revoked.
    feed(indicator("45.77.7.2", stix_id=stix_id, modified="2026-03-01T00:00:00.000Z"), indicator("evil-new.vn", kind="domain-name"))
    revoked = StixObject.objects.get(data__pattern="[ipv4-addr:value = '45.77.7.9']")
    feed(indicator("45.77.7.9", stix_id=revoked.stix_id, modified="2026-03-01T00:00:00.000Z", revoked=True))
    same = current_matcher()
    assert same is first  # refreshed in place, not rebuilt
    assert same.match_event(event(src_ip="45.77.7.1")) == []
    assert pairs(same.match_event(event(src_ip="45.77.7.2"))) == [("ipv4", "45.77.7.2", "src_ip")]
    assert pairs(same.match_event(event(domain="a.evil-new.vn"))) == [("domain", "evil-new.vn", "domain")]
    assert same.match_event(event(src_ip="45.77.7.9")) == []
    # Same answers as a matcher built from scratch.
    fresh = IndicatorMatcher.load()
    for probe in ("45.77.7.1", "45.77.7.2", "45.77.7.9"):
        assert pairs(fresh.match_event(event(src_ip=probe))) == pairs(same.match_event(event(src_ip=probe)))
