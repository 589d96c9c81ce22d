"""Imports that real files need: MISP attributes misp-stix cannot map, re-imports, warning-listed values."""
import uuid

import orjson
import pytest
from django.urls import reverse
from django.utils import translation

from khien.intel.exchange import csv_io, misp
from khien.intel.exchange.common import ImportRejected
from khien.intel.models import IndicatorValue, StixObject

from .test_exchange_formats import counts, upload

pytestmark = pytest.mark.django_db




def event_with(*attributes, info="Synthetic phishing wave", **extra):
    return {"Event": {"info": info, "uuid": str(uuid.uuid4()), "date": "2026-12-01", "distribution": 1,
                      "Attribute": [{"category": "Network activity", "uuid": str(uuid.uuid4()), **a}
                                    for a in attributes], **extra}}


def test_misp_comment_attribute_is_kept_as_a_note_not_refused(world, sharing):
    event = event_with({"type": "comment", "category": "Other", "value": "Seen in the wave of 1 December"},
                       {"type": "ip-dst", "value": "203.0.113.70", "to_ids": True, "comment": "C2 server"},
                       {"type": "domain", "value": "wave.demo.khien.vn", "to_ids": True})
    comment_uuid = event["Event"]["Attribute"][0]["uuid"]
    report = misp.import_misp(sharing.collection, upload(event), acting_user=world.analyst)
    assert report.created > 0 and not report.skipped
    assert [(n["ref"], n["type"]) for n in report.notes] == [(comment_uuid, "comment")]
    note = StixObject.objects.get(stix_id=f"note--{comment_uuid}")
    assert "Seen in the wave of 1 December" in note.data["content"]
    assert not StixObject.objects.filter(stix_type__startswith="x-misp").exists()
    # indicators are named from their attribute's comment, else the event's info, with their value
    names = set(StixObject.objects.filter(stix_type="indicator", indicator_values__value__in=[
        "203.0.113.70", "wave.demo.khien.vn"]).values_list("data__name", flat=True))
    assert names == {"C2 server — 203.0.113.70", "Synthetic phishing wave — wave.demo.khien.vn"}


def test_misp_invalid_attribute_is_listed_and_the_rest_imported(world, sharing):
    event = event_with({"type": "ip-dst", "value": "not-an-ip", "to_ids": True},
                       {"type": "ip-dst", "value": "203.0.113.71", "to_ids": True})
    bad = event["Event"]["Attribute"][0]["uuid"]
    report = misp.import_misp(sharing.collection, upload(event), acting_user=world.analyst)
    assert [(s["ref"], s["type"], s["value"]) for s in report.skipped] == [(bad, "ip-dst", "not-an-ip")]
    assert IndicatorValue.objects.filter(value="203.0.113.71").exists()


def test_misp_event_of_only_invalid_attributes_is_refused_naming_them(world, sharing):
    event = event_with({"type": "ip-dst", "value": "not-an-ip", "to_ids": True})
    bad = event["Event"]["Attribute"][0]["uuid"]
    before = counts()
    with translation.override("en"), pytest.raises(ImportRejected) as exc:
        misp.import_misp(sharing.collection, upload(event), acting_user=world.analyst)
    rejected = exc.value.report.rejected
    assert any(r["ref"] == bad and r["column"] == "ip-dst" and "not-an-ip" in r["message"] for r in rejected)
    assert counts() == before


def test_misp_event_without_uuid_imported_twice_is_stored_once(world, sharing):
    event = event_with({"type": "ip-dst", "value": "203.0.113.72", "to_ids": True},
                       {"type": "comment", "category": "Other", "value": "no uuids here"})
    del event["Event"]["uuid"]
    for attribute in event["Event"]["Attribute"]:
        del attribute["uuid"]
    first = misp.import_misp(sharing.collection, upload(event), acting_user=world.analyst)
    before = counts()
    second = misp.import_misp(sharing.collection, upload(event), acting_user=world.analyst)
    assert first.created > 0
    assert second.created == 0 and second.existing == first.total
    assert counts() == before
    assert IndicatorValue.objects.filter(value="203.0.113.72").count() == 1


CSV = "type,value,name\nipv4,192.0.2.80,Scanner\ndomain,twice.demo.khien.vn,\nsha256," + "b" * 64 + ",\n"


def test_csv_imported_twice_is_recognized(world, sharing):
    first = csv_io.import_csv(sharing.collection, upload(CSV.encode(), "a.csv"), acting_user=world.analyst)
    before = counts()
    second = csv_io.import_csv(sharing.collection, upload(CSV.encode(), "a.csv"), acting_user=world.analyst)
    assert (first.created, second.created, second.existing) == (3, 0, 3)
    assert counts() == before
    # a changed row is a new version of the same indicator, not a second indicator
    changed = CSV.replace("Scanner", "Scanner of the wave")
    third = csv_io.import_csv(sharing.collection, upload(changed.encode(), "a.csv"), acting_user=world.analyst)
    assert (third.created, third.existing) == (1, 2)
    rows = StixObject.objects.filter(indicator_values__value="192.0.2.80")
    assert rows.values("stix_id").distinct().count() == 1 and rows.count() == 2
    latest = rows.order_by("-modified").first()
    assert latest.data["name"] == "Scanner of the wave"
    assert latest.data["created"] == rows.order_by("modified").first().data["created"]


def test_csv_same_value_twice_in_one_file_is_refused(world, sharing):
    data = "type,value\nipv4,192.0.2.81\nipv4,192.0.2.81\n"
    with translation.override("en"), pytest.raises(ImportRejected) as exc:
        csv_io.import_csv(sharing.collection, upload(data.encode(), "d.csv"), acting_user=world.analyst)
    assert [(r["ref"], r["column"]) for r in exc.value.report.rejected] == [("3", "value")]
    assert "row 2" in exc.value.report.rejected[0]["message"]


def test_csv_rows_of_another_producer_are_not_taken_as_stored(world, sharing):
    from .conftest import resp_writer
    csv_io.import_csv(sharing.collection, upload(CSV.encode(), "a.csv"), acting_user=world.analyst)
    other = csv_io.import_csv(sharing.collection, upload(CSV.encode(), "a.csv"), acting_user=resp_writer(world))
    assert other.created == 3  # the same values from another organization are its own indicators


def test_import_lists_warning_listed_values(world, sharing):
    data = "type,value\nipv4,8.8.8.8\nipv4,185.220.101.82\n"
    report = csv_io.import_csv(sharing.collection, upload(data.encode(), "w.csv"), acting_user=world.analyst)
    assert [w["value"] for w in report.warnings] == ["8.8.8.8"]
    assert report.as_dict()["warnings"][0]["warninglists"]
    event = event_with({"type": "ip-dst", "value": "8.8.4.4", "to_ids": True})
    report = misp.import_misp(sharing.collection, upload(event), acting_user=world.analyst)
    assert [w["value"] for w in report.warnings] == ["8.8.4.4"]


def test_import_page_lists_notes_skipped_and_warning_listed(world, sharing, client):
    client.force_login(world.analyst)
    event = event_with({"type": "comment", "category": "Other", "value": "a comment"},
                       {"type": "ip-dst", "value": "not-an-ip", "to_ids": True},
                       {"type": "ip-dst", "value": "8.8.8.8", "to_ids": True})
    bad = event["Event"]["Attribute"][1]["uuid"]
    with translation.override("en"):
        response = client.post(reverse("intel:exchange"), {
            "format": "misp", "collection": sharing.collection.pk, "file": upload(event)},
            HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="import-skipped"' in page and bad in page and "not-an-ip" in page
    assert 'id="import-notes"' in page and "a comment" in page
    assert 'id="import-warninglisted"' in page and "8.8.8.8" in page


def test_a_misp_comment_kept_as_a_note_exports_back_to_misp(world, sharing):
    from khien.intel.exchange import stix_export

    event = event_with({"type": "comment", "category": "Other", "value": "Seen on 1 December"},
                       {"type": "domain", "value": "back.demo.khien.vn", "to_ids": True})
    misp.import_misp(sharing.collection, upload(event), acting_user=world.analyst)
    sel = stix_export.parse_selection(world.analyst, collection=sharing.collection)
    exported = orjson.loads(misp.export_event(world.analyst, sel))
    text = orjson.dumps(exported).decode()
    assert "back.demo.khien.vn" in text and "Seen on 1 December" in text
