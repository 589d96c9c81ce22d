"""Fixes from a banking-ISAC analyst's walk through the exchange pages.

CSV row ids cannot be computed by others (a keyed hash) yet a re-import stays idempotent across an upgrade and a
key rotation; a refusal from the store names CSV rows; the size limit is said as the page says it; a file sent
with the wrong format says which format it looks like, once; the report links to what was imported; the format
choice is kept after an error.
"""
import re
import uuid

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from khien.intel import services
from khien.intel.exchange import csv_io
from khien.intel.exchange.common import ImportRejected
from khien.intel.models import StixObject

from .conftest import resp_writer
from .test_exchange_formats import counts, upload
from .test_exchange_import_fixes import event_with

pytestmark = pytest.mark.django_db

CSV = "type,value,name\nipv4,192.0.2.180,Scanner\ndomain,keyed.demo.khien.vn,\n"
PATTERN = "[ipv4-addr:value = '192.0.2.180']"
UUID4_ID = re.compile(r"^indicator--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def old_row_id(producer_id, pattern):
    """How a CSV row's id was computed before: uuid5 of a namespace in the public source, the organization's
    uuid (shown to every user) and the pattern."""
    return "indicator--{}".format(uuid.uuid5(uuid.UUID("6f0c3c1e-4c8e-5b8a-9a43-1f6e6b0c4d21"),
                                             f"{producer_id}|{pattern}"))


def ids_of(value):
    return set(StixObject.objects.filter(indicator_values__value=value).values_list("stix_id", flat=True))


def import_as(user, collection, text, name="iocs.csv"):
    return csv_io.import_csv(collection, upload(text.encode(), name), acting_user=user, file_name=name)


def squat(world, collection, stix_id, value="192.0.2.180"):
    """An outsider (another organization writing to the collection) stores an object under `stix_id` first."""
    obj = {"type": "indicator", "spec_version": "2.1", "id": stix_id, "created": "2026-01-01T00:00:00.000Z",
           "modified": "2026-01-01T00:00:00.000Z", "name": "squatted", "indicator_types": ["malicious-activity"],
           "pattern": f"[ipv4-addr:value = '{value}']", "pattern_type": "stix",
           "valid_from": "2026-01-01T00:00:00.000Z"}
    services.do_add_objects(collection, [obj], acting_user=resp_writer(world))


# --- 1. Unguessable, yet idempotent, CSV ids -----------------------------------------------------------------


def test_csv_ids_are_keyed_uuid4_and_not_the_public_uuid5(world, sharing):
    producer = services.producer_for(world.analyst, sharing.collection)
    report = import_as(world.analyst, sharing.collection, CSV)
    assert report.created == 2
    (stored,) = ids_of("192.0.2.180")
    assert UUID4_ID.match(stored)
    assert stored != old_row_id(producer, PATTERN)  # what anyone could compute from the source and the org's uuid
    assert stored == csv_io.row_id(producer, PATTERN)
    with override_settings(SECRET_KEY="another platform's key " + "x" * 40):
        assert csv_io.row_id(producer, PATTERN) != stored  # depends on the platform's secret key


def test_same_csv_twice_gives_the_same_ids_and_nothing_new(world, sharing):
    import_as(world.analyst, sharing.collection, CSV)
    first = ids_of("192.0.2.180") | ids_of("keyed.demo.khien.vn")
    before = counts()
    second = import_as(world.analyst, sharing.collection, CSV)
    assert (second.created, second.existing) == (0, 2)
    assert counts() == before
    assert ids_of("192.0.2.180") | ids_of("keyed.demo.khien.vn") == first
    assert all(UUID4_ID.match(i) for i in first)


def test_id_made_the_old_way_before_the_upgrade_is_reused(world, sharing, monkeypatch):
    producer = services.producer_for(world.analyst, sharing.collection)
    legacy = old_row_id(producer, PATTERN)
    # what the organization's import stored before this change
    with monkeypatch.context() as before_the_change:
        before_the_change.setattr(csv_io, "assign_row_ids", lambda objects, producer_id: [
            {**o, "id": old_row_id(producer_id, o["pattern"])} for o in objects])
        import_as(world.analyst, sharing.collection, CSV)
    assert ids_of("192.0.2.180") == {legacy}
    again = import_as(world.analyst, sharing.collection, CSV)
    assert again.created == 0 and again.existing == 2
    assert ids_of("192.0.2.180") == {legacy}
    changed = import_as(world.analyst, sharing.collection, CSV.replace("Scanner", "Scanner of the second wave"))
    assert changed.created == 1
    assert ids_of("192.0.2.180") == {legacy}  # a new version of the same indicator


def test_id_made_with_a_rotated_key_is_reused(world, sharing, settings):
    old_key = settings.SECRET_KEY
    import_as(world.analyst, sharing.collection, CSV)
    first = ids_of("192.0.2.180")
    settings.SECRET_KEY = "a rotated secret key " + "y" * 40
    settings.SECRET_KEY_FALLBACKS = [old_key]
    again = import_as(world.analyst, sharing.collection, CSV)
    assert (again.created, again.existing) == (0, 2)
    assert ids_of("192.0.2.180") == first
    new = import_as(world.analyst, sharing.collection, "type,value\nipv4,192.0.2.181\n")
    producer = services.producer_for(world.analyst, sharing.collection)
    assert new.created == 1
    assert ids_of("192.0.2.181") == {csv_io.row_id(producer, "[ipv4-addr:value = '192.0.2.181']")}


def test_a_squatted_old_style_id_does_not_block_the_import(world, sharing):
    producer = services.producer_for(world.analyst, sharing.collection)
    legacy = old_row_id(producer, PATTERN)
    squat(world, sharing.collection, legacy)
    report = import_as(world.analyst, sharing.collection, CSV)
    assert report.created == 2
    own = set(StixObject.objects.filter(indicator_values__value="192.0.2.180", producer_id=producer)
              .values_list("stix_id", flat=True))
    assert own == {csv_io.row_id(producer, PATTERN)}


# --- 2. A refusal of the store names CSV rows ---------------------------------------------------------------


def test_a_refusal_from_the_store_names_the_csv_row(world, sharing, client):
    producer = services.producer_for(world.analyst, sharing.collection)
    squat(world, sharing.collection, csv_io.row_id(producer, PATTERN))  # only someone holding the key could do this
    with translation.override("en"), pytest.raises(ImportRejected) as exc:
        import_as(world.analyst, sharing.collection, CSV)
    rejected = exc.value.report.rejected
    assert [r["ref"] for r in rejected] == ["2"]
    assert "row" in exc.value.message and "object" not in exc.value.message
    client.force_login(world.analyst)
    response = client.post(reverse("intel:exchange"), {
        "format": "csv", "collection": sharing.collection.pk,
        "file": SimpleUploadedFile("iocs.csv", CSV.encode())})
    page = response.content.decode()
    assert response.status_code == 422
    table = page.split('id="import-rejected"')[1].split("</table>")[0]
    assert "indicator--" not in table and '<code class="small">2</code>' in table
    assert "1 trên 2 dòng bị từ chối" in page


# --- 3. The size limit as the page says it ------------------------------------------------------------------


@override_settings(KHIEN_INTEL_IMPORT_MAX_BYTES=3 * 2**19)
def test_too_large_file_names_the_limit_as_the_page_does(world, sharing, client):
    client.force_login(world.analyst)
    page = client.get(reverse("intel:exchange")).content.decode()
    assert "1,5 MB" in page
    response = client.post(reverse("intel:exchange"), {
        "format": "csv", "collection": sharing.collection.pk,
        "file": SimpleUploadedFile("big.csv", b"type,value\n" + b"ipv4,192.0.2.1\n" * 120000)})
    assert response.status_code == 413
    text = response.content.decode()
    assert "Tệp vượt quá dung lượng tối đa 1,5 MB." in text  # the words of every other upload's refusal
    assert "1572864" not in text and "1.5 MB" not in text


# --- 4. A file of another format says so, once -------------------------------------------------------------


def in_english(client):
    from django.conf import settings
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def post_import(client, sharing, fmt, data, name="file.json"):
    return client.post(reverse("intel:exchange"), {
        "format": fmt, "collection": sharing.collection.pk, "file": SimpleUploadedFile(name, data)})


def test_misp_event_sent_as_stix_says_it_looks_like_a_misp_event_once(world, sharing, client):
    client.force_login(world.analyst)
    in_english(client)
    event = event_with({"type": "ip-dst", "value": "203.0.113.90", "to_ids": True})
    response = post_import(client, sharing, "stix", orjson.dumps(event))
    page = response.content.decode()
    assert response.status_code == 422
    assert "This file looks like a MISP event: choose the format “MISP event (JSON)”." in page
    assert page.count("TAXII envelope") == 1  # not as a bullet and again as a row with empty cells
    assert 'id="import-rejected"' not in page


def test_other_wrong_formats_say_what_the_file_looks_like(world, sharing, client):
    client.force_login(world.analyst)
    in_english(client)
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '203.0.113.91']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z"}]}
    page = post_import(client, sharing, "misp", orjson.dumps(bundle)).content.decode()
    assert "This file looks like a STIX bundle" in page
    page = post_import(client, sharing, "csv", orjson.dumps(bundle), "b.json").content.decode()
    assert "This file looks like a STIX bundle" in page
    page = post_import(client, sharing, "stix", CSV.encode(), "iocs.csv").content.decode()
    assert "This file looks like a CSV file" in page
    event = event_with({"type": "ip-dst", "value": "203.0.113.92", "to_ids": True})
    page = post_import(client, sharing, "csv", orjson.dumps(event), "e.json").content.decode()
    assert "This file looks like a MISP event" in page
    assert StixObject.objects.filter(indicator_values__value__in=["203.0.113.91", "203.0.113.92"]).count() == 0


# --- 5. The report links to what was imported ----------------------------------------------------------------


def test_report_links_to_the_imported_objects(world, sharing, client):
    client.force_login(world.analyst)
    response = post_import(client, sharing, "csv", CSV.encode(), "iocs.csv")
    page = response.content.decode()
    assert response.status_code == 200 and 'id="import-report"' in page
    links = re.findall(r'href="([^"]+)"', page.split('id="import-report"')[1].split("</div>")[0])
    found = [link for link in links if link.startswith(reverse("intel:search"))
             and f"collection={sharing.collection.pk}" in link]
    assert found, links
    listing = client.get(found[0].replace("&amp;", "&")).content.decode()
    assert "keyed.demo.khien.vn" in listing or "192.0.2.180" in listing
    assert reverse("intel:collection_detail", args=[sharing.collection.pk]) in page


# --- 6. The format is kept after an error ----------------------------------------------------------------------


def test_format_is_kept_after_an_error_and_the_file_must_be_chosen_again(world, sharing, client):
    client.force_login(world.analyst)
    response = post_import(client, sharing, "csv", b"type,value\nipv4,not-an-ip\n", "bad.csv")
    page = response.content.decode()
    assert response.status_code == 422
    assert re.search(r'<option value="csv"[^>]*selected', page)
    in_english(client)
    for data in ({"format": "misp", "collection": sharing.collection.pk},  # no file chosen
                 {"format": "misp", "collection": sharing.collection.pk,
                  "file": SimpleUploadedFile("bad.json", b"{not json")}):
        page = client.post(reverse("intel:exchange"), data).content.decode()
        assert re.search(r'<option value="misp"[^>]*selected', page)
        assert re.search(rf'<option value="{sharing.collection.pk}"[^>]*selected', page)
        assert "Choose the file again" in page


def test_the_exchange_page_keeps_the_registry_import_link_as_the_rights_say(world, sharing, client):
    """The exchange page's own "may import into a collection" replaced the menu's "may import registry data": an
    analyst who may not import registry data was shown "Import" in the menu (then 403), and an administrator who
    may was not."""
    registry_import = f'href="{reverse("registry:import")}"'
    client.force_login(world.analyst)
    page = client.get(reverse("intel:exchange")).content.decode()
    assert client.get(reverse("registry:import")).status_code == 403
    assert registry_import not in page
    assert 'name="collection"' in page  # the analyst still imports intelligence here
    client.force_login(world.admin)
    assert client.get(reverse("registry:import")).status_code == 200
    assert registry_import in client.get(reverse("intel:exchange")).content.decode()


def test_a_file_larger_than_one_lookup_is_asked_in_pieces_and_stays_idempotent(world, sharing, monkeypatch):
    """The ids of a large file (three candidates a row) are looked up in bounded IN lists; a file imported
    before the ids were keyed keeps its indicators, whichever piece holds them."""
    from khien.intel.exchange import common

    monkeypatch.setattr(common, "ID_CHUNK", 2)
    text = "type,value\n" + "".join(f"ipv4,192.0.2.{n}\n" for n in range(10, 17))
    first = import_as(world.analyst, sharing.collection, text)
    assert first.created == 7
    again = import_as(world.analyst, sharing.collection, text)
    assert (again.created, again.existing) == (0, 7)
    assert all(len(ids_of(f"192.0.2.{n}")) == 1 for n in range(10, 17))
