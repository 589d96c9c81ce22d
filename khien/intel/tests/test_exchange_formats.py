"""Import and export: STIX bundles, MISP events (pymisp), CSV of indicators; bad input writes nothing."""
import csv
import io

import orjson
import pytest
import stix2
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import translation
from pymisp import MISPEvent, MISPObject
from stix2validator import ValidationOptions, validate_instance

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry
from khien.intel import tlp
from khien.intel.exchange import csv_io, misp, stix_export, stix_import
from khien.intel.exchange.common import ImportRejected
from khien.intel.models import CollectionObject, IndicatorValue, StixObject, Tlp

from .conftest import indicator

pytestmark = pytest.mark.django_db


def counts():
    return StixObject.objects.count(), CollectionObject.objects.count(), IndicatorValue.objects.count()


def upload(data, name="file.json"):
    if isinstance(data, (dict, list)):
        data = orjson.dumps(data)
    return SimpleUploadedFile(name, data)


def assert_all_valid(objects):
    options = ValidationOptions()
    for obj in objects:
        result = validate_instance(obj, options)
        assert not result.errors, (obj["id"], [str(e) for e in result.errors])


def misp_event(tag="tlp:amber", distribution=1):
    event = MISPEvent()
    event.info = "Synthetic phishing campaign"
    event.distribution = distribution
    event.threat_level_id = 2
    event.analysis = 1
    if tag:
        event.add_tag(tag)
    event.add_attribute("ip-dst", "203.0.113.7", to_ids=True)
    event.add_attribute("domain", "evil.demo.khien.vn", to_ids=True)
    event.add_attribute("url", "http://evil.demo.khien.vn/login", to_ids=True)
    event.add_attribute("md5", "d41d8cd98f00b204e9800998ecf8427e", to_ids=True)
    event.add_attribute("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", to_ids=True)
    event.add_attribute("email-src", "phisher@evil.demo.khien.vn", to_ids=True)
    obj = MISPObject("domain-ip")
    obj.add_attribute("domain", "c2.demo.khien.vn", to_ids=True)
    obj.add_attribute("ip", "198.51.100.99", to_ids=True)
    event.add_object(obj)
    return event


MISP_VALUES = {("ipv4", "203.0.113.7"), ("domain", "evil.demo.khien.vn"), ("url", "http://evil.demo.khien.vn/login"),
               ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
               ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
               ("email", "phisher@evil.demo.khien.vn"), ("domain", "c2.demo.khien.vn")}


# --- STIX export ------------------------------------------------------------------------------------


def test_stix_export_is_valid_self_contained_and_latest(world, sharing):
    from khien.intel import services

    newer = {**sharing.objects[Tlp.GREEN], "modified": "2026-02-01T00:00:00.000Z", "name": "Renamed"}
    services.do_add_objects(sharing.collection, [newer], acting_user=world.analyst)
    unmarked = indicator("192.0.2.77")  # takes the producer's default TLP (AMBER)
    services.do_add_objects(sharing.collection, [unmarked], acting_user=world.analyst)
    sel = stix_export.parse_selection(world.other_admin, collection=sharing.collection.alias)
    bundle = stix_export.build_bundle(world.other_admin, sel)
    objects = bundle["objects"]
    assert_all_valid(objects)
    parsed = stix2.parse(bundle, allow_custom=True)
    assert len(parsed.objects) == len(objects)
    ids = [o["id"] for o in objects]
    assert len(ids) == len(set(ids))
    by_id = {o["id"]: o for o in objects}
    # latest version only
    assert by_id[newer["id"]]["modified"] == "2026-02-01T00:00:00.000Z"
    # the unmarked object carries its stored TLP
    assert by_id[unmarked["id"]]["object_marking_refs"] == [tlp.TLP_MARKING[Tlp.AMBER]]
    # self-contained: every marking and creator referenced is in the bundle
    for obj in objects:
        for ref in obj.get("object_marking_refs", []) + [obj.get("created_by_ref")] * bool(obj.get("created_by_ref")):
            assert ref in by_id, ref
    assert by_id[tlp.TLP_MARKING[Tlp.AMBER]]["type"] == "marking-definition"
    # the streamed form has the same objects
    streamed = orjson.loads(b"".join(stix_export.stream_bundle(world.other_admin, sel)))
    assert sorted(o["id"] for o in streamed["objects"]) == sorted(ids)
    assert_all_valid(streamed["objects"])


def test_stix_export_filters_and_audit(world, sharing):
    before = AuditEntry.objects.filter(action="export").count()
    sel = stix_export.parse_selection(world.analyst, tlp_levels="green,red", types="indicator")
    n = stix_export.export(world.analyst, sel, fmt="stix")
    ids = {o["id"] for o in stix_export.build_bundle(world.analyst, sel)["objects"] if o["type"] == "indicator"}
    assert ids == {sharing.ids[Tlp.GREEN], sharing.ids[Tlp.RED]} and n == 2
    entry = AuditEntry.objects.filter(action="export").order_by("-seq").first()
    assert AuditEntry.objects.filter(action="export").count() == before + 1
    assert entry.actor_id == str(world.analyst.pk) and entry.after["count"] == 2
    only = stix_export.parse_selection(world.analyst, ids=[sharing.ids[Tlp.AMBER]])
    assert [o["id"] for o in stix_export.build_bundle(world.analyst, only)["objects"]
            if o["type"] == "indicator"] == [sharing.ids[Tlp.AMBER]]
    with pytest.raises(Refused) as exc:
        stix_export.parse_selection(world.analyst, tlp_levels="purple")
    assert exc.value.status == 400
    with pytest.raises(Refused) as exc:
        stix_export.parse_selection(world.analyst, added_since="yesterday")
    assert exc.value.status == 400
    # a collection the user cannot read is not found
    with pytest.raises(Refused) as exc:
        stix_export.parse_selection(sharing.recipient, collection=sharing.collection.alias)
    assert exc.value.status == 404


# --- STIX import ------------------------------------------------------------------------------------


def test_stix_import_stores_and_audits(world, sharing):
    objs = [indicator("192.0.2.10", tlp=Tlp.GREEN), indicator("192.0.2.11")]
    report = stix_import.import_stix(sharing.collection, upload({"type": "bundle", "id":
                                     "bundle--6a8e1c0e-5b64-4d60-9a0a-4c1f6f2e8e10", "objects": objs}),
                                     acting_user=world.analyst, file_name="b.json")
    assert (report.total, report.created, report.added_to_collection) == (2, 2, 2)
    entry = AuditEntry.objects.filter(object_type="intel.exchange_import").order_by("-seq").first()
    assert entry.after["file_name"] == "b.json" and entry.after["created"] == 2 and entry.after["format"] == "stix"


@pytest.mark.parametrize("payload, status", [
    (b"{not json", 400),
    (orjson.dumps({"type": "bundle", "id": "bundle--6a8e1c0e-5b64-4d60-9a0a-4c1f6f2e8e10",
                   "objects": [indicator("192.0.2.12"), {**indicator(), "pattern": "[broken"}]}), 422),
    (orjson.dumps({"objects": [{"type": "x-unknown-thing", "spec_version": "2.1",
                                "id": "x-unknown-thing--6a8e1c0e-5b64-4d60-9a0a-4c1f6f2e8e11",
                                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"}]}),
     422),
    (orjson.dumps({"hello": "world"}), 422),
    (orjson.dumps({"objects": []}), 422),
    (b"", 400),
])
def test_stix_import_bad_input_writes_nothing(world, sharing, payload, status):
    before = counts()
    with pytest.raises(Refused) as exc:
        stix_import.import_stix(sharing.collection, upload(payload), acting_user=world.analyst)
    assert exc.value.status == status and str(exc.value.message)
    if isinstance(exc.value, ImportRejected):
        assert exc.value.report.rejected
    assert counts() == before


def test_invalid_stix_reports_every_rejected_object(world, sharing):
    bad1 = {**indicator(), "pattern": "[broken"}
    bad2 = {**indicator(), "created": "not a date"}
    with pytest.raises(ImportRejected) as exc:
        stix_import.import_stix(sharing.collection, upload([indicator("192.0.2.13"), bad1, bad2]),
                                acting_user=world.analyst)
    assert {r["ref"] for r in exc.value.report.rejected} == {bad1["id"], bad2["id"]}


@override_settings(KHIEN_INTEL_IMPORT_MAX_BYTES=200)
def test_oversized_import_is_refused(world, sharing):
    before = counts()
    for importer in (stix_import.import_stix, misp.import_misp, csv_io.import_csv):
        with pytest.raises(Refused) as exc:
            importer(sharing.collection, upload(b" " * 150 + orjson.dumps([indicator()])), acting_user=world.analyst)
        assert exc.value.status == 413
    assert counts() == before


def test_import_without_write_right_is_refused(world, sharing):
    before = counts()
    for importer, data in ((stix_import.import_stix, orjson.dumps([indicator()])),
                           (misp.import_misp, misp_event().to_json().encode()),
                           (csv_io.import_csv, b"type,value\nipv4,192.0.2.1\n")):
        with pytest.raises(Forbidden):  # PROV reads but does not write
            importer(sharing.collection, upload(data), acting_user=world.other_admin)
    assert counts() == before


# --- MISP -------------------------------------------------------------------------------------------


def test_misp_event_imports_with_tlp_and_exports_back(world, sharing):
    event = misp_event("tlp:amber")
    report = misp.import_misp(sharing.collection, upload(event.to_json().encode(), "event.json"),
                              acting_user=world.analyst, file_name="event.json")
    assert report.created > 0 and report.format == "misp"
    rows = StixObject.objects.filter(collection_entries__collection=sharing.collection).exclude(
        stix_id__in=sharing.ids.values())
    found = set(IndicatorValue.objects.filter(object__in=rows).values_list("kind", "value"))
    assert MISP_VALUES <= found
    tlps = set(StixObject.objects.filter(pk__in=IndicatorValue.objects.filter(object__in=rows)
                                         .values("object_id")).values_list("tlp", flat=True))
    assert tlps == {Tlp.AMBER}
    assert not StixObject.objects.filter(stix_type="marking-definition").exists()

    # every object of the converted event exports as valid STIX 2.1 (groupings, observed-data, SCOs, relationships)
    everything = stix_export.build_bundle(world.analyst, stix_export.parse_selection(world.analyst))
    assert {"grouping", "observed-data", "relationship", "indicator"} <= {o["type"] for o in everything["objects"]}
    assert_all_valid(everything["objects"])
    stix2.parse(everything, allow_custom=True)

    sel = stix_export.parse_selection(world.analyst, collection=sharing.collection, types="indicator")
    exported = misp.export_event(world.analyst, sel)
    back = MISPEvent()
    back.load(exported)
    values = {a.value for a in back.attributes} | {a.value for o in back.objects for a in o.attributes}
    assert {v for _k, v in MISP_VALUES} <= values
    # the export holds the RED indicator the analyst produced: the event is tagged with the strictest TLP
    assert [t.name for t in back.tags if t.name.startswith("tlp:")] == ["tlp:red"]
    assert int(back.distribution) == 0


@pytest.mark.parametrize("tag, distribution, expected", [
    ("tlp:white", 1, Tlp.CLEAR), ("tlp:green", 0, Tlp.GREEN), ("tlp:amber+strict", 3, Tlp.AMBER_STRICT),
    ("tlp:red", 3, Tlp.RED), (None, 0, Tlp.AMBER_STRICT), (None, 1, Tlp.AMBER), (None, 3, Tlp.GREEN),
    (None, 4, Tlp.AMBER_STRICT),
])
def test_misp_tlp_mapping(world, sharing, tag, distribution, expected):
    event = misp_event(tag, distribution)
    misp.import_misp(sharing.collection, upload({"Event": orjson.loads(event.to_json())}), acting_user=world.analyst)
    stored = StixObject.objects.get(indicator_values__value="203.0.113.7")
    assert stored.tlp == expected
    assert stored.data["object_marking_refs"] == [tlp.TLP_MARKING[expected]]


def test_misp_list_of_events_and_bad_events(world, sharing):
    one, two = misp_event("tlp:green"), misp_event("tlp:green")
    two.attributes[0].value = "203.0.113.8"
    report = misp.import_misp(sharing.collection, upload([orjson.loads(one.to_json()),
                                                          {"Event": orjson.loads(two.to_json())}]),
                              acting_user=world.analyst)
    assert report.created > 0
    assert IndicatorValue.objects.filter(value="203.0.113.8").exists()
    before = counts()
    with pytest.raises(ImportRejected) as exc:
        misp.import_misp(sharing.collection, upload([orjson.loads(one.to_json()), {"foo": "bar"}, 42]),
                         acting_user=world.analyst)
    assert [r["ref"] for r in exc.value.report.rejected] == ["event #2", "event #3"]
    assert counts() == before


# --- CSV --------------------------------------------------------------------------------------------


CSV_GOOD = ("\ufefftype;value;name;description;valid_until;confidence;labels;tlp\n"
            "ipv4;192.0.2.50;Scanner;Seen scanning;2030-01-01;80;scanner|botnet;green\n"
            "domain;Bad.Demo.Khien.VN.;;;;;;amber+strict\n"
            "sha256;" + "A" * 64 + ";;;;;;\n"
            "url;http://bad.demo.khien.vn/x;;;;;;red\n"
            "cidr;198.51.100.0/24;;;;;;clear\n")


def test_csv_import_all_types(world, sharing):
    report = csv_io.import_csv(sharing.collection, upload(CSV_GOOD.encode(), "iocs.csv"), acting_user=world.analyst)
    assert report.created == 5
    got = {(v.kind, v.value): v.object for v in IndicatorValue.objects.select_related("object")
           .filter(value__in=["192.0.2.50", "bad.demo.khien.vn", "a" * 64, "http://bad.demo.khien.vn/x",
                              "198.51.100.0/24"])}
    assert got[("ipv4", "192.0.2.50")].tlp == Tlp.GREEN
    assert got[("ipv4", "192.0.2.50")].confidence == 80
    assert got[("ipv4", "192.0.2.50")].labels == ["scanner", "botnet"]
    assert got[("ipv4", "192.0.2.50")].valid_until.year == 2030
    assert got[("domain", "bad.demo.khien.vn")].tlp == Tlp.AMBER_STRICT
    assert got[("sha256", "a" * 64)].tlp == Tlp.AMBER  # producer's default
    assert got[("url", "http://bad.demo.khien.vn/x")].tlp == Tlp.RED
    assert got[("cidr", "198.51.100.0/24")].tlp == Tlp.CLEAR


def test_csv_import_reports_every_bad_row_and_writes_nothing(world, sharing):
    data = ("type,value,confidence,valid_until,tlp\n"
            "ipv4,192.0.2.60,,,\n"
            "ipv4,not-an-ip,,,\n"
            "md5,abc,101,,\n"
            "bogus,x,,2001-01-01,purple\n"
            ",,,,\n"
            "domain,ok.demo.khien.vn,,,\n"
            "ipv4,192.0.2.61,,9999-12-31,\n"
            "ipv4,192.0.2.62,,9999-12-31T23:59:59-12:00,\n")
    before = counts()
    with translation.override("en"), pytest.raises(ImportRejected) as exc:
        csv_io.import_csv(sharing.collection, upload(data.encode(), "x.csv"), acting_user=world.analyst)
    rejected = {(r["ref"], r["column"]) for r in exc.value.report.rejected}
    assert rejected == {("3", "value"), ("4", "value"), ("4", "confidence"), ("5", "type"), ("5", "valid_until"),
                        ("5", "tlp"), ("8", "valid_until"), ("9", "valid_until")}
    assert "5 of 7 rows" in str(exc.value.message)
    assert counts() == before
    with pytest.raises(ImportRejected) as exc:
        csv_io.import_csv(sharing.collection, upload(b"kind,value\nipv4,192.0.2.1\n"), acting_user=world.analyst)
    assert counts() == before


def test_csv_export(world, sharing):
    csv_io.import_csv(sharing.collection, upload(CSV_GOOD.encode()), acting_user=world.analyst)
    sel = stix_export.parse_selection(world.analyst)
    text = "".join(csv_io.iter_csv(world.analyst, sel))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == csv_io.EXPORT_COLUMNS
    by_value = {r["value"]: r for r in rows}
    assert by_value["192.0.2.50"]["tlp"] == "green" and by_value["192.0.2.50"]["confidence"] == "80"
    assert by_value["192.0.2.50"]["producer"] == world.ministry.code
    assert by_value["192.0.2.50"]["revoked"] == "0"
    assert set(by_value) >= {"198.51.100.1", "198.51.100.5"}  # the sharing fixture's (RED one: producer)
    # and a round trip: the exported values import back
    back = "type,value,tlp\n" + "".join(f"{r['type']},{r['value']},{r['tlp'].replace('_', '+')}\n" for r in rows)
    report = csv_io.import_csv(sharing.collection, upload(back.encode()), acting_user=world.analyst)
    # a value this producer imported before with the same content is recognized as already stored
    assert report.created + report.existing == len(rows) and report.existing


def test_misp_attribute_tag_stricter_than_the_event_wins(world, sharing):
    event = misp_event("tlp:green")
    event.attributes[1].add_tag("tlp:red")  # the domain
    misp.import_misp(sharing.collection, upload(event.to_json().encode()), acting_user=world.analyst)
    assert StixObject.objects.get(indicator_values__value="evil.demo.khien.vn").tlp == Tlp.RED
    assert StixObject.objects.get(indicator_values__value="203.0.113.7").tlp == Tlp.GREEN


def test_large_exports_stream_every_object_once(world, sharing, settings):
    from khien.intel import services

    objs = [indicator(f"10.9.{n // 256}.{n % 256}", tlp=Tlp.GREEN) for n in range(2300)]
    services.do_add_objects(sharing.collection, objs, acting_user=world.analyst)
    sel = stix_export.parse_selection(world.other_admin, collection=sharing.collection, types="indicator")
    streamed = orjson.loads(b"".join(stix_export.stream_bundle(world.other_admin, sel)))
    ids = [o["id"] for o in streamed["objects"] if o["type"] == "indicator"]
    assert len(ids) == len(set(ids)) == 2303  # + the fixture's CLEAR, GREEN, AMBER
    rows = list(csv.DictReader(io.StringIO("".join(csv_io.iter_csv(world.other_admin, sel)))))
    assert len(rows) == 2303 and len({r["indicator_id"] for r in rows}) == 2303
    settings.KHIEN_INTEL_MISP_EXPORT_MAX_OBJECTS = 1000
    with pytest.raises(Refused) as exc:
        misp.export_event(world.other_admin, sel)
    assert exc.value.status == 413
