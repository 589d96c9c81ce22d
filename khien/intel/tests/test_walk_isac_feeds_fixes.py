"""A banking-ISAC analyst's walk through what feeds member banks' firewalls, IDS and SIEMs.

- exports hold active objects only unless asked (MISP: inactive and benign indicators are not for IDS);
- a benign (known-good) indicator is never blocked nor matched; blocklists narrow by confidence and collection;
- a CSV export imports again; one TLP spelling; the objects API refuses unknown filter words;
- expired indicators are marked, and a status filter finds them;
- a CSV date alone for valid_until is the end of that day in Asia/Ho_Chi_Minh.
"""
import csv
import datetime as dt
import io

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from pymisp import MISPEvent

from khien.intel import services
from khien.intel.exchange import csv_io
from khien.intel.models import StixObject, Tlp
from khien.intel.services import format_timestamp
from khien.telemetry.matcher import IndicatorMatcher

from .conftest import indicator

pytestmark = pytest.mark.django_db

EXPORT = "/api/intel/exchange/export/"
IMPORT = "/api/intel/exchange/import/"
OBJECTS = "/api/intel/objects/"
IP_URL = "/api/intel/blocklists/ip.txt"


def _ts(value):
    return format_timestamp(value)


@pytest.fixture
def isac(world):
    """A collection of NCSC that MIN writes and PROV reads: an active, a revoked, an expired, a not-yet-valid
    and a benign indicator; one revoked by a newer version."""
    s = type("Isac", (), {})()
    s.world = world
    s.collection = services.do_create_collection({"title": "Bank ISAC feed", "owner": world.ncsc,
                                                  "kind": "national"}, acting_user=world.coordinator)
    services.do_set_collection_member(s.collection, world.ministry, can_read=True, can_write=True,
                                      acting_user=world.coordinator)
    services.do_set_collection_member(s.collection, world.province, can_read=True, can_write=False,
                                      acting_user=world.coordinator)
    now = timezone.now()
    s.active = indicator("45.61.0.1", tlp=Tlp.GREEN, confidence=90)
    s.low = indicator("45.61.0.9", tlp=Tlp.GREEN, confidence=20)
    s.revoked = indicator("45.61.0.0/24", tlp=Tlp.GREEN, revoked=True)
    s.expired = indicator("expired-walk.vn", kind="domain-name", tlp=Tlp.GREEN,
                          valid_until=_ts(now - dt.timedelta(hours=1)))
    s.future = indicator("45.61.0.3", tlp=Tlp.GREEN, valid_from=_ts(now + dt.timedelta(days=3)))
    s.benign = indicator("45.61.0.4", tlp=Tlp.GREEN, indicator_types=["benign"], confidence=0)
    s.later = indicator("45.61.0.5", tlp=Tlp.GREEN)
    objects = [s.active, s.low, s.revoked, s.expired, s.future, s.benign, s.later,
               {**s.later, "modified": "2026-02-01T00:00:00.000Z", "revoked": True}]
    services.do_add_objects(s.collection, objects, acting_user=world.analyst)
    s.other = services.do_create_collection({"title": "Other feed", "owner": world.ministry, "kind": "group"},
                                            acting_user=world.admin)
    s.other_value = indicator("45.61.1.1", tlp=Tlp.GREEN, confidence=95)
    services.do_add_objects(s.other, [s.other_value], acting_user=world.analyst)
    return s


def _misp(response) -> MISPEvent:
    event = MISPEvent()
    event.load(b"".join(response.streaming_content).decode())
    return event


def _ids_by_value(event: MISPEvent) -> dict:
    found = {a.value: a.to_ids for a in event.attributes}
    for obj in event.objects:
        found.update({a.value: a.to_ids for a in obj.attributes})
    return found


def _stix(response) -> dict:
    return {o["id"]: o for o in orjson.loads(b"".join(response.streaming_content))["objects"]}


# --- 1. exports: active only by default ---------------------------------------------------------


def test_misp_export_holds_active_indicators_only_by_default(api, isac):
    response = api(isac.world.analyst).get(EXPORT, {"file_format": "misp", "type": "indicator"})
    assert response.status_code == 200
    values = _ids_by_value(_misp(response))
    assert values.get("45.61.0.1") is True
    for gone in ("45.61.0.0/24", "expired-walk.vn", "45.61.0.3", "45.61.0.5"):
        assert gone not in values, gone
    assert values.get("45.61.0.4") is False  # benign: shared, never for an IDS


def test_misp_export_with_inactive_ones_marks_them_not_for_ids(api, isac):
    response = api(isac.world.analyst).get(EXPORT, {"file_format": "misp", "type": "indicator",
                                                     "active_only": "false"})
    values = _ids_by_value(_misp(response))
    assert values["45.61.0.1"] is True
    for inactive in ("45.61.0.0/24", "expired-walk.vn", "45.61.0.3", "45.61.0.5", "45.61.0.4"):
        assert values[inactive] is False, inactive


def test_stix_export_default_and_with_inactive_ones(api, isac):
    client = api(isac.world.analyst)
    got = _stix(client.get(EXPORT, {"type": "indicator"}))
    assert isac.active["id"] in got and isac.benign["id"] in got
    for gone in (isac.revoked, isac.expired, isac.future, isac.later):
        assert gone["id"] not in got
    got = _stix(client.get(EXPORT, {"type": "indicator", "active_only": "0"}))
    assert got[isac.revoked["id"]]["revoked"] is True
    assert got[isac.expired["id"]]["valid_until"] == isac.expired["valid_until"]
    assert got[isac.later["id"]]["revoked"] is True  # its latest version, never the older active one


def test_all_versions_of_a_revoked_indicator_stay_out_of_an_active_export(api, isac):
    got = orjson.loads(b"".join(api(isac.world.analyst).get(
        EXPORT, {"type": "indicator", "all_versions": "true"}).streaming_content))["objects"]
    assert isac.later["id"] not in {o["id"] for o in got}


def test_csv_export_active_only_by_default(api, isac):
    body = b"".join(api(isac.world.analyst).get(EXPORT, {"file_format": "csv"}).streaming_content).decode()
    values = {row["value"] for row in csv.DictReader(io.StringIO(body))}
    assert "45.61.0.1" in values
    assert not values & {"45.61.0.0/24", "expired-walk.vn", "45.61.0.3", "45.61.0.5"}
    body = b"".join(api(isac.world.analyst).get(EXPORT, {"file_format": "csv", "active_only": "false"})
                    .streaming_content).decode()
    rows = {row["value"]: row for row in csv.DictReader(io.StringIO(body))}
    assert rows["45.61.0.0/24"]["revoked"] == "1"


def test_a_bad_active_only_value_is_400(api, isac):
    response = api(isac.world.analyst).get(EXPORT, {"active_only": "maybe"})
    assert response.status_code == 400


def test_export_page_offers_the_choice_active_by_default(as_user, isac):
    client = as_user(isac.world.analyst)
    client.cookies["khien_language"] = "en"
    page = client.get("/intel/exchange/export/").content.decode()
    assert 'name="active_only"' in page and "Active only" in page
    body = b"".join(client.get("/intel/exchange/export/", {"download": "1", "format": "csv"})
                    .streaming_content).decode()
    assert "45.61.0.1" in body and "45.61.0.0/24" not in body
    body = b"".join(client.get("/intel/exchange/export/", {"download": "1", "format": "csv", "active_only": "0"})
                    .streaming_content).decode()
    assert "45.61.0.0/24" in body


# --- 2. benign never blocks nor matches; narrowing the blocklist -------------------------------


def test_a_benign_indicator_is_flagged_and_never_blocked_nor_matched(api, isac):
    row = StixObject.objects.get(stix_id=isac.benign["id"])
    assert row.benign is True
    assert StixObject.objects.get(stix_id=isac.active["id"]).benign is False
    lines = api(isac.world.analyst).get(IP_URL).content.decode().splitlines()
    assert "45.61.0.1" in lines and "45.61.0.4" not in lines
    matcher = IndicatorMatcher.load()
    event = {"src_ip": "45.61.0.4", "dst_ip": "45.61.0.1", "domain": "", "url": "", "file_md5": "",
             "file_sha1": "", "file_sha256": ""}
    assert [(h.value, h.field) for h in matcher.match_event(event)] == [("45.61.0.1", "dst_ip")]


def test_a_new_benign_version_stops_matching_after_a_refresh(isac):
    matcher = IndicatorMatcher.load()
    assert matcher.match_event({"src_ip": "45.61.0.1", "dst_ip": None, "domain": "", "url": "",
                                "file_md5": "", "file_sha1": "", "file_sha256": ""})
    services.do_add_objects(isac.collection, [{**isac.active, "modified": "2026-03-01T00:00:00.000Z",
                                               "indicator_types": ["benign"]}], acting_user=isac.world.analyst)
    from khien.telemetry.matcher import store_fingerprint
    assert matcher.refresh(store_fingerprint())
    assert matcher.match_event({"src_ip": "45.61.0.1", "dst_ip": None, "domain": "", "url": "",
                                "file_md5": "", "file_sha1": "", "file_sha256": ""}) == []


def test_blocklist_narrowed_by_confidence_and_collection(api, isac):
    client = api(isac.world.analyst)

    def lines(params):
        response = client.get(IP_URL, params)
        assert response.status_code == 200, response.content
        return {line for line in response.content.decode().splitlines() if not line.startswith("#")}

    every = lines({})
    assert {"45.61.0.1", "45.61.0.9", "45.61.1.1"} <= every
    assert lines({"min_confidence": "50"}) == {"45.61.0.1", "45.61.1.1"}
    assert lines({"collection": str(isac.collection.pk)}) == {"45.61.0.1", "45.61.0.9"}
    assert lines({"collection": isac.other.alias, "min_confidence": "90"}) == {"45.61.1.1"}


@pytest.mark.parametrize("params, named", [({"min_confidence": "high"}, "min_confidence"),
                                           ({"min_confidence": "101"}, "min_confidence"),
                                           ({"collection": "no-such-feed"}, "collection")])
def test_bad_narrowing_is_400_naming_the_parameter(api, isac, params, named):
    response = api(isac.world.analyst).get(IP_URL, params)
    assert response.status_code == 400
    assert named in response.content.decode()


def test_a_collection_the_consumer_cannot_read_is_400_not_its_values(api, isac):
    # PROV reads the ISAC feed but not MIN's other feed
    response = api(isac.world.other_admin).get(IP_URL, {"collection": str(isac.other.pk)})
    assert response.status_code == 400 and "45.61.1.1" not in response.content.decode()


# --- 3. CSV round trip, TLP spelling, objects API filters ---------------------------------------


def test_a_csv_export_imports_again(api, isac):
    services.do_add_objects(isac.collection, [indicator("45.61.0.7", tlp=Tlp.AMBER_STRICT)],
                            acting_user=isac.world.analyst)
    client = api(isac.world.analyst)
    body = b"".join(client.get(EXPORT, {"file_format": "csv"}).streaming_content)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert {r["tlp"] for r in rows if r["value"] == "45.61.0.7"} == {"amber+strict"}
    response = client.post(IMPORT, {"file": SimpleUploadedFile("again.csv", body), "format": "csv",
                                    "collection": str(isac.collection.pk)}, format="multipart")
    assert response.status_code == 201, response.content


def test_a_csv_row_marked_revoked_is_refused(api, isac):
    body = b"type,value,revoked\nipv4,45.61.9.9,1\n"
    response = api(isac.world.analyst).post(IMPORT, {"file": SimpleUploadedFile("r.csv", body), "format": "csv",
                                                     "collection": str(isac.collection.pk)}, format="multipart")
    assert response.status_code == 422
    assert response.json()["rejected"][0]["column"] == "revoked"


def test_csv_import_reads_both_tlp_spellings(isac):
    for spelling in ("amber+strict", "amber_strict"):
        obj = csv_io.parse_row({"type": "ipv4", "value": "45.61.2.2", "tlp": spelling, "_row": 2}, timezone.now())
        assert obj["object_marking_refs"] == [services.tlp.TLP_MARKING[Tlp.AMBER_STRICT]]


@pytest.mark.parametrize("raw", ["amber+strict", "amber_strict", "amber strict", "TLP:AMBER+STRICT"])
def test_objects_api_reads_every_amber_strict_spelling(api, isac, raw):
    services.do_add_objects(isac.collection, [indicator("45.61.0.8", tlp=Tlp.AMBER_STRICT)],
                            acting_user=isac.world.analyst)
    response = api(isac.world.analyst).get(OBJECTS, {"tlp": raw})
    assert response.status_code == 200
    assert {o["tlp"] for o in response.json()["results"]} == {Tlp.AMBER_STRICT}


def test_objects_api_unencoded_plus_arrives_as_a_space(api, isac):
    services.do_add_objects(isac.collection, [indicator("45.61.0.8", tlp=Tlp.AMBER_STRICT)],
                            acting_user=isac.world.analyst)
    response = api(isac.world.analyst).get(OBJECTS + "?tlp=amber+strict")
    assert response.status_code == 200 and response.json()["count"] == 1


@pytest.mark.parametrize("params, named", [({"tlp": "bogus"}, "tlp"), ({"type": "bogus"}, "type"),
                                           ({"status": "dead"}, "status")])
def test_objects_api_unknown_filter_words_are_400_naming_accepted_ones(api, isac, params, named):
    api_client = api(isac.world.analyst)
    api_client.cookies["khien_language"] = "en"
    response = api_client.get(OBJECTS, params)
    assert response.status_code == 400
    text = response.content.decode()
    assert named in text and "accepted" in text


def test_objects_api_known_and_custom_types_are_accepted(api, isac):
    client = api(isac.world.analyst)
    assert client.get(OBJECTS, {"type": "indicator,network-traffic"}).status_code == 200
    assert client.get(OBJECTS, {"type": "x-misp-attribute"}).status_code == 200


# --- 4. expired marked; status filter ------------------------------------------------------------


def test_objects_api_status_filter(api, isac):
    client = api(isac.world.analyst)

    def ids(status):
        response = client.get(OBJECTS, {"status": status, "type": "indicator", "page_size": 100})
        assert response.status_code == 200, response.content
        return {o["stix_id"] for o in response.json()["results"]}

    assert ids("expired") == {isac.expired["id"]}
    assert ids("revoked") == {isac.revoked["id"], isac.later["id"]}
    assert ids("not_yet_valid") == {isac.future["id"]}
    active = ids("active")
    assert isac.active["id"] in active and isac.later["id"] not in active and isac.expired["id"] not in active


def test_search_page_marks_expired_and_filters_by_status(as_user, isac):
    client = as_user(isac.world.analyst)
    client.cookies["khien_language"] = "en"
    page = client.get("/intel/", {"type": "indicator"}).content.decode()
    assert "expired</span>" in page and "revoked</span>" in page
    page = client.get("/intel/", {"type": "indicator", "status": "expired"}).content.decode()
    assert "expired-walk.vn" in page and "45.61.0.1" not in page
    page = client.get("/intel/", {"type": "indicator", "status": "revoked"}).content.decode()
    assert "45.61.0.0/24" in page and "45.61.0.5" in page and "expired-walk.vn" not in page
    assert client.get("/intel/", {"status": "dead"}).status_code == 400


# --- 5. a CSV date alone ---------------------------------------------------------------------


def test_csv_valid_until_date_is_the_end_of_that_day_in_vietnam(isac):
    obj = csv_io.parse_row({"type": "ipv4", "value": "45.61.3.3", "valid_until": "2027-01-31", "_row": 2},
                           timezone.now())
    assert obj["valid_until"] == "2027-01-31T16:59:59.999Z"
    local = timezone.localtime(services.parse_timestamp(obj["valid_until"]))
    assert (local.date(), local.hour, local.minute) == (dt.date(2027, 1, 31), 23, 59)
    obj = csv_io.parse_row({"type": "ipv4", "value": "45.61.3.3", "valid_until": "2027-01-31T08:00:00Z",
                            "_row": 2}, timezone.now())
    assert obj["valid_until"] == "2027-01-31T08:00:00.000Z"


def test_api_added_since_date_is_the_start_of_that_day_in_vietnam(api, isac):
    from khien.intel.exchange import stix_export

    sel = stix_export.parse_selection(isac.world.analyst, added_since="2026-12-06")
    assert sel.added_since == dt.datetime(2026, 12, 5, 17, 0, tzinfo=dt.UTC)


def test_the_migration_marks_benign_indicators_already_stored(isac):
    import importlib

    from django.apps import apps

    StixObject.objects.update(benign=False)
    migration = importlib.import_module("khien.intel.migrations.0015_stixobject_benign")
    migration.mark_benign(apps, None)
    assert set(StixObject.objects.filter(benign=True).values_list("stix_id", flat=True)) == {isac.benign["id"]}


def test_objects_api_says_each_versions_status_and_whether_it_is_benign(api, isac):
    """A SIEM reading the objects API tells at a glance what it may block: each version's status and the benign
    flag (never blocked nor matched), by the rule the filters and blocklists follow."""
    client = api(isac.world.analyst)
    rows = client.get(OBJECTS, {"type": "indicator", "page_size": 100}).json()["results"]
    by_id = {}
    for row in rows:
        by_id.setdefault(row["stix_id"], []).append(row)
    assert {r["status"] for r in by_id[isac.expired["id"]]} == {"expired"}
    assert {r["status"] for r in by_id[isac.future["id"]]} == {"not_yet_valid"}
    assert {r["status"] for r in by_id[isac.revoked["id"]]} == {"revoked"}
    assert {r["status"] for r in by_id[isac.active["id"]]} == {"active"}
    assert {r["benign"] for r in by_id[isac.benign["id"]]} == {True}
    assert {r["benign"] for r in by_id[isac.active["id"]]} == {False}
