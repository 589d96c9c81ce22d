"""Indicator hits during ingestion (TLP per organization), sightings and hit notifications."""
import datetime as dt
import json
from types import SimpleNamespace

import pytest
from django.utils import timezone, translation
from django.utils.translation import ngettext

from khien.core.models import Notification
from khien.intel import services as intel_services
from khien.intel import tlp
from khien.intel.models import StixObject, Tlp
from khien.intel.sightings import sighting_id
from khien.intel.tests.conftest import assert_valid_stix, indicator
from khien.telemetry import jobs, services
from khien.telemetry.models import IndicatorHit
from .conftest import as_read, kept_untranslated


def ecs(ip=None, *, domain=None, url=None, sha256=None, when=None, rule="siem-test", severity=5, n=0,
        category="intrusion_detection"):
    when = when or timezone.now() - dt.timedelta(minutes=5)
    record = {"@timestamp": when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
              "event": {"kind": "alert", "category": [category], "severity": severity},
              "destination": {"ip": "10.0.0.1", "port": 443 + n},
              "rule": {"id": rule, "name": f"Rule {rule}"}, "message": f"test {n}"}
    if ip:
        record["source"] = {"ip": ip, "port": 50000 + n}
    if domain:
        record["url"] = {"domain": domain}
    if url:
        record.setdefault("url", {})["full"] = url
    if sha256:
        record["file"] = {"hash": {"sha256": sha256}}
    return json.dumps(record).encode()


@pytest.fixture
def intel(world, settings):
    """National collection of NCSC: MIN reads it, PROV does not. One indicator per TLP level."""
    settings.KHIEN_MATCHER_RECHECK_SECONDS = 0
    s = SimpleNamespace()
    s.collection = intel_services.do_create_collection(
        {"title": "National feed", "owner": world.ncsc, "kind": "national"}, acting_user=world.coordinator)
    intel_services.do_set_collection_member(s.collection, world.ministry, can_read=True, can_write=False,
                                            acting_user=world.coordinator)
    s.values = {Tlp.GREEN: "45.77.10.1", Tlp.AMBER: "45.77.10.2", Tlp.AMBER_STRICT: "45.77.10.3"}
    s.objects = {level: indicator(value, tlp=level) for level, value in s.values.items()}
    s.objects["domain"] = indicator("evil-update.top", kind="domain-name", tlp=Tlp.GREEN)
    intel_services.do_add_objects(s.collection, list(s.objects.values()), acting_user=world.coordinator)
    s.ids = {k: o["id"] for k, o in s.objects.items()}
    return s


def test_visible_object_pks_for_organization_agrees_with_users(world, intel):
    pks = set(StixObject.objects.filter(stix_type="indicator").values_list("pk", flat=True))
    for org, user in ((world.ministry, world.analyst), (world.province, world.other_admin),
                      (world.ncsc, world.coordinator)):
        mine = tlp.visible_object_pks_for_organization(org.pk, pks)
        assert mine == set(tlp.visible_versions(user).filter(pk__in=pks).values_list("pk", flat=True))
    by_id = dict(StixObject.objects.filter(pk__in=pks).values_list("pk", "stix_id"))
    ministry = {by_id[pk] for pk in tlp.visible_object_pks_for_organization(world.ministry.pk, pks)}
    assert ministry == {intel.ids[Tlp.GREEN], intel.ids[Tlp.AMBER], intel.ids["domain"]}
    assert tlp.visible_object_pks_for_organization(world.ministry.pk, []) == set()


def test_the_organizations_seeing_a_version_agree_with_each_organizations_view(world, intel):
    """`tlp.organizations_seeing` (the TLP table read per version, for a campaign warning's many recipients) gives
    what asking each organization gives, at every level — a TLP:RED version naming a recipient included."""
    red = indicator("45.77.10.9", tlp=Tlp.RED)
    intel_services.do_add_objects(intel.collection, [red], acting_user=world.coordinator,
                                  recipients=[world.province])
    orgs = [world.ministry.pk, world.department.pk, world.province.pk, world.ncsc.pk, world.commune.pk,
            world.responder_org.pk]
    versions = list(StixObject.objects.filter(stix_type="indicator"))
    assert {v.tlp for v in versions} >= {Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED}
    for version in versions:
        each = {org for org in orgs if version.pk in tlp.visible_object_pks_for_organization(org, [version.pk])}
        assert tlp.organizations_seeing(version, orgs) == each, version.tlp


def test_hits_are_kept_only_for_indicators_the_organization_may_see(world, intel, make_source):
    min_source, _k = make_source(world.ministry, "ecs")
    prov_source, _k = make_source(world.province, "ecs")
    records = [ecs(v, n=i) for i, v in enumerate(intel.values.values())] + [ecs("192.0.2.99", n=9)]
    services.ingest_batch(min_source, records)
    services.ingest_batch(prov_source, records)
    got = {(h.organization_id, h.indicator_id) for h in IndicatorHit.objects.all()}
    assert got == {
        (world.ministry.pk, intel.ids[Tlp.GREEN]), (world.ministry.pk, intel.ids[Tlp.AMBER]),
        (world.province.pk, intel.ids[Tlp.GREEN]),
    }
    hit = IndicatorHit.objects.get(organization=world.ministry, indicator_id=intel.ids[Tlp.AMBER])
    assert hit.field == "src_ip" and hit.value == "45.77.10.2" and hit.kind == "ipv4"
    assert hit.alert is not None and hit.alert.organization_id == world.ministry.pk
    assert hit.source_id == min_source.pk and not hit.sighted and not hit.notified
    # Sending the same batch again records nothing new (idempotent ingestion).
    services.ingest_batch(min_source, records)
    assert IndicatorHit.objects.filter(organization=world.ministry).count() == 2


def test_subdomain_hits_the_domain_indicator(world, intel, make_source):
    source, _k = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [ecs(domain="cdn.evil-update.top"), ecs(domain="notevil-update.top", n=1)])
    hits = list(IndicatorHit.objects.values_list("indicator_id", "value", "field"))
    assert hits == [(intel.ids["domain"], "evil-update.top", "domain")]


def test_record_hits_is_a_no_op_without_hits(world, make_source):
    from khien.telemetry.matching import record_hits

    source, _k = make_source(world.ministry, "ecs")
    assert record_hits(source, [], now=timezone.now()) == 0
    assert not IndicatorHit.objects.exists()


def test_sightings_job_writes_one_daily_sighting_per_indicator_and_organization(world, intel, make_source):
    source, _k = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [ecs(intel.values[Tlp.GREEN], n=i) for i in range(3)])
    assert jobs.record_sightings(timezone.now()) == "1 sightings"
    assert not IndicatorHit.objects.filter(sighted=False).exists()
    day = IndicatorHit.objects.first().time.astimezone(dt.timezone.utc).date()
    sid = sighting_id(intel.ids[Tlp.GREEN], world.ministry.pk, day)
    first = StixObject.objects.get(stix_id=sid)
    assert first.tlp == Tlp.AMBER_STRICT and first.producer_id == world.ministry.pk
    assert first.data["count"] == 3 and first.data["sighting_of_ref"] == intel.ids[Tlp.GREEN]
    identity = f"identity--{intel_services.identity_id_for(world.ministry.pk).split('--')[1]}"
    assert first.data["where_sighted_refs"] == [identity] and first.data["created_by_ref"] == identity
    assert_valid_stix([first.data])
    assert first.collection_entries.filter(collection=intel.collection).exists()
    # The hit organization and the national collection's owner see it; another organization does not.
    assert tlp.can_see(world.analyst, first) and tlp.can_see(world.coordinator, first)
    assert not tlp.can_see(world.other_admin, first) and not tlp.can_see(world.dept_analyst, first)

    # More hits the same day: a new version of the SAME sighting with a larger count.
    services.ingest_batch(source, [ecs(intel.values[Tlp.GREEN], n=i) for i in range(3, 5)])
    jobs.record_sightings(timezone.now() + dt.timedelta(seconds=1))
    versions = StixObject.objects.filter(stix_id=sid).order_by("modified")
    assert [v.data["count"] for v in versions] == [3, 5]
    assert StixObject.objects.filter(stix_type="sighting").values("stix_id").distinct().count() == 1
    # Nothing new: nothing written.
    assert jobs.record_sightings(timezone.now() + dt.timedelta(seconds=2)) == "0 sightings"


def test_sightings_wait_for_a_national_collection(world, make_source, settings):
    settings.KHIEN_MATCHER_RECHECK_SECONDS = 0
    group = intel_services.do_create_collection({"title": "Group", "owner": world.ncsc, "kind": "group"},
                                                acting_user=world.coordinator)
    intel_services.do_add_objects(group, [indicator("45.77.10.7", tlp=Tlp.GREEN)], acting_user=world.coordinator)
    source, _k = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [ecs("45.77.10.7")])
    assert jobs.record_sightings(timezone.now()) == "no national collection"
    assert IndicatorHit.objects.filter(sighted=False).count() == 1
    assert not StixObject.objects.filter(stix_type="sighting").exists()


def test_hits_are_told_to_each_member_in_their_language(world, intel, make_source, reads_in):
    source, _k = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [ecs(intel.values[Tlp.GREEN], n=i) for i in range(3)])
    reads_in(world.admin, "en")
    Notification.objects.all().delete()
    jobs.notify_hits(timezone.now())
    english = Notification.objects.get(kind="telemetry.hits", recipient=world.admin)
    vietnamese = Notification.objects.get(kind="telemetry.hits", recipient=world.analyst)  # the platform's
    en_title, en_body = as_read(english)
    assert en_title == "3 events matching indicators in your organization's telemetry"
    assert en_body.endswith(f"Sources: {source.name}")
    with translation.override("vi"):
        in_vietnamese = ngettext("%(n)d event matching indicators in your organization's telemetry",
                                 "%(n)d events matching indicators in your organization's telemetry", 3) % {"n": 3}
        assert as_read(vietnamese)[0] == in_vietnamese
    assert vietnamese.url == english.url
    assert english.texts["title"]["msgid"].startswith("%(n)d event")  # kept as words, read in each language
    assert kept_untranslated(english) and english.texts["body"]["params"]["line0"]["msgid"] == "%(value)s (%(kind)s): %(count)d"


def test_the_hits_notice_counts_events_as_the_pages_do(world, intel, make_source):
    """One event whose value two producers' indicators name is two hit rows but one event matching indicators:
    the notice counts it once, as the alert list, the alert's page and the dashboard do."""
    intel_services.do_add_objects(intel.collection, [indicator(intel.values[Tlp.GREEN], tlp=Tlp.GREEN)],
                                  acting_user=world.coordinator)
    source, _k = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [ecs(intel.values[Tlp.GREEN])])
    assert IndicatorHit.objects.count() == 2
    Notification.objects.all().delete()
    jobs.notify_hits(timezone.now())
    note = Notification.objects.get(kind="telemetry.hits", recipient=world.analyst)
    with translation.override("en"):  # as an English reader sees it
        assert note.shown_title == "1 event matching indicators in your organization's telemetry"
        assert f"{intel.values[Tlp.GREEN]} (IPv4 address): 1" in note.shown_body  # the kind in words
    title, _body = as_read(note)  # the analyst reads the platform's language
    assert title == "1 sự kiện khớp chỉ báo trong dữ liệu giám sát của tổ chức bạn"


def test_500_hits_of_one_organization_make_one_notification_per_member(world, intel, make_source):
    source, _k = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [ecs(intel.values[Tlp.GREEN], n=i) for i in range(300)]
                          + [ecs(intel.values[Tlp.AMBER], n=i) for i in range(200)])
    prov_source, _k = make_source(world.province, "ecs")
    services.ingest_batch(prov_source, [ecs(intel.values[Tlp.GREEN], n=1)])
    assert IndicatorHit.objects.filter(organization=world.ministry).count() == 500
    Notification.objects.all().delete()
    jobs.notify_hits(timezone.now())
    ministry = Notification.objects.filter(kind="telemetry.hits", recipient__memberships__organization=world.ministry)
    # Administrator and analyst of MIN: one notification each (not the auditor nor the trainee).
    assert sorted(ministry.values_list("recipient__email", flat=True)) == [world.admin.email, world.analyst.email]
    note = ministry.get(recipient=world.analyst)
    assert "500" in note.title and "45.77.10.1" in note.body and "45.77.10.2" in note.body
    assert source.name in note.body and not note.urgent
    assert Notification.objects.filter(kind="telemetry.hits", recipient=world.other_admin).count() == 1
    assert not IndicatorHit.objects.filter(notified=False).exists()
    # Next interval without new hits: nothing more.
    jobs.notify_hits(timezone.now())
    assert Notification.objects.filter(kind="telemetry.hits").count() == 3
