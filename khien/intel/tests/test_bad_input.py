"""Bad input to the STIX store: refused per object with a clear message naming it, nothing stored, never a 500
(unstorable characters, deep nesting, huge objects, properties of the wrong type); granular TLP markings;
versions a submitter may not see are neither linked nor confirmed; exports survive what JSON cannot write."""
import io
import json
import zipfile

import orjson
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from khien.intel import services, tlp
from khien.intel.models import Collection, CollectionObject, StixObject, TaxiiStatus, Tlp

from .conftest import TAXII, envelope, indicator
from .test_exchange_formats import misp_event

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
_zipped = io.BytesIO()
with zipfile.ZipFile(_zipped, "w", zipfile.ZIP_DEFLATED) as _zip:
    _zip.writestr("bundle.json", orjson.dumps({"objects": [indicator() for _n in range(20)]}))
ZIP = _zipped.getvalue()


def _state():
    return StixObject.objects.count(), CollectionObject.objects.count(), TaxiiStatus.objects.count()


def _nested(levels: int) -> dict:
    value: dict = {}
    for _n in range(levels):
        value = {"a": value}
    return value


def _post_objects(api, user, collection, objects, **extra):
    body = json.dumps({"bundle": envelope(objects)})  # ASCII: a lone surrogate travels as \ud800, as clients send it
    return api(user).post(f"/api/intel/collections/{collection.pk}/objects/", body,
                          content_type="application/json", **extra)


def _import(api, user, collection, data: bytes, fmt="stix"):
    return api(user).post("/api/intel/exchange/import/", {"file": SimpleUploadedFile("f.json", data), "format": fmt,
                                                          "collection": str(collection.pk)}, format="multipart", **EN)


BAD_OBJECTS = {
    "NUL in a string": (lambda o: {**o, "name": "evil\u0000name"}, "name"),
    "lone surrogate in a string": (lambda o: {**o, "description": "x\ud800y"}, "description"),
    "NUL in a key": (lambda o: {**o, "x_bad\u0000key": "v"}, "x_bad\\u0000key"),
    "lone surrogate in a key": (lambda o: {**o, "x_bad\udfffkey": "v"}, "x_bad\\udfffkey"),
    "NUL deep in a custom property": (lambda o: {**o, "x_list": [{"k": ["ok", "a\u0000"]}]}, "x_list[0].k[1]"),
    "nested 200 levels": (lambda o: {**o, "x_deep": _nested(200)}, "x_deep.a.a"),
    "nested 40 levels": (lambda o: {**o, "x_deep": _nested(40)}, "x_deep.a.a"),
    "a name of 1.1 MB": (lambda o: {**o, "name": "A" * 1_100_000}, "1048576"),
}


@pytest.mark.parametrize("case", list(BAD_OBJECTS))
def test_bad_objects_are_refused_through_the_api(api, sharing, case):
    make, named = BAD_OBJECTS[case]
    good, bad = indicator("192.0.2.71"), make(indicator("192.0.2.72"))
    before = _state()
    response = _post_objects(api, sharing.world.analyst, sharing.collection, [good, bad], **EN)
    assert response.status_code == 422, response.content
    body = response.json()
    assert list(body["errors"]) == [bad["id"]] and named in " ".join(body["errors"][bad["id"]])
    assert _state() == before


def test_shallow_custom_nesting_is_accepted(api, sharing):
    obj = {**indicator("192.0.2.73"), "x_tree": _nested(20)}
    assert _post_objects(api, sharing.world.analyst, sharing.collection, [obj]).status_code == 201


@pytest.mark.parametrize("case", ["NUL in a string", "NUL in a key", "nested 200 levels"])
def test_bad_objects_are_refused_through_taxii_and_imports(api, sharing, settings, case):
    make, named = BAD_OBJECTS[case]
    bad = make(indicator("192.0.2.74"))
    client, url = api(sharing.world.analyst), f"/taxii2/api/collections/{sharing.collection.pk}/objects/"
    before = _state()
    response = client.post(url, orjson.dumps(envelope([indicator(), bad])), content_type=TAXII, HTTP_ACCEPT=TAXII)
    assert response.status_code == 422 and bad["id"] in response.json()["details"]["errors"]
    settings.KHIEN_TAXII_ASYNC_THRESHOLD = 1  # a large submission: refused before a pending status is kept
    response = client.post(url, orjson.dumps(envelope([indicator(), bad])), content_type=TAXII, HTTP_ACCEPT=TAXII)
    assert response.status_code == 422 and bad["id"] in response.json()["details"]["errors"]
    response = _import(api, sharing.world.analyst, sharing.collection, orjson.dumps([bad]))
    assert response.status_code == 422
    assert [(r["ref"], named in r["message"]) for r in response.json()["rejected"]] == [(bad["id"], True)]
    assert _state() == before


@pytest.mark.parametrize("change, field", [
    ({"info": "Phishing\u0000"}, "info"),
    ({"x_deep": _nested(200)}, "x_deep"),
    ({"info": "I" * 3_000_000}, "1048576"),  # the report it becomes is over the object limit
    ({"distribution": {"x": 1}}, "distribution"),
    ({"threat_level_id": [1]}, "threat_level_id"),
    ({"Attribute": 5}, "Attribute"),
])
def test_bad_misp_events_are_refused_naming_the_field(api, sharing, settings, change, field):
    settings.KHIEN_INTEL_IMPORT_MAX_BYTES = 8 * 2**20
    event = {**orjson.loads(misp_event("tlp:green").to_json()), **change}
    before = _state()
    response = _import(api, sharing.world.analyst, sharing.collection, orjson.dumps({"Event": event}), fmt="misp")
    assert response.status_code == 422, response.content
    messages = " ".join(r["message"] for r in response.json()["rejected"])
    assert field in messages and "Recursion" not in messages and "int()" not in messages
    assert _state() == before


def test_an_empty_misp_file_is_not_one_of_zero(api, sharing):
    response = _import(api, sharing.world.analyst, sharing.collection, b"[]", fmt="misp")
    assert response.status_code == 422
    assert response.json()["detail"] == "The MISP file holds no attribute or object."


@pytest.mark.parametrize("data, detail", [
    ('{"objects": ["é"]}'.encode("latin-1"), "The file is not JSON encoded in UTF-8."),
    ('{"objects": []}'.encode("utf-16"), "The file is not JSON encoded in UTF-8."),
    (ZIP, "The file is not JSON encoded in UTF-8."),
    (b'{"objects": ["\\ud800"]}', "The file holds an invalid Unicode character (a lone surrogate)."),
    (b'{"objects" []}', "The file is not valid JSON (line 1, column 12)."),
], ids=["latin-1", "utf-16", "zip", "lone surrogate", "malformed"])
def test_unreadable_files_say_why_in_the_users_words(api, sharing, data, detail):
    for fmt in ("stix", "misp"):
        response = _import(api, sharing.world.analyst, sharing.collection, data, fmt=fmt)
        assert response.status_code == 400 and response.json()["detail"] == detail


@pytest.mark.parametrize("change, field", [
    ({"id": 5}, "id"), ({"type": 5}, "type"), ({"spec_version": 2.1}, "spec_version"), ({"created": 5}, "created"),
    ({"valid_from": 5}, "valid_from"), ({"granular_markings": 5}, "granular_markings"),
    ({"granular_markings": [5]}, "granular_markings[0]"), ({"external_references": [5]}, "external_references[0]"),
    ({"kill_chain_phases": [5]}, "kill_chain_phases[0]"),
])
def test_properties_of_the_wrong_type_are_named_without_library_internals(api, sharing, change, field):
    response = _post_objects(api, sharing.world.analyst, sharing.collection, [{**indicator(), **change}], **EN)
    assert response.status_code == 422, response.content
    text = " ".join(m for messages in response.json()["errors"].values() for m in messages)
    assert field in text
    for internal in ("has no attribute", "bytes-like", "not iterable", "not supported between", "positional"):
        assert internal not in text


def test_malformed_json_body_is_answered_in_the_users_words(api, sharing):
    response = api(sharing.world.analyst).post(f"/api/intel/collections/{sharing.collection.pk}/objects/",
                                               b'{"bundle" 1}', content_type="application/json", **EN)
    assert response.status_code == 400 and "JSON parse error" not in response.json()["detail"]


# --- What was stored before the intake refused it: the export and the pages still work ---------------------


def test_export_and_pages_of_an_object_deeper_than_the_encoder_goes(api, as_user, sharing):
    """Stored before the intake refused it (300 levels, orjson writes 255): the bundle is whole, pages work."""
    deep = {**indicator("192.0.2.75", tlp=Tlp.GREEN), "x_deep": _nested(300)}
    services.do_store_generated(sharing.collection, [deep], acting_user=sharing.world.analyst)
    response = api(sharing.world.analyst).get("/api/intel/exchange/export/",
                                              {"file_format": "stix", "collection": str(sharing.collection.pk)})
    assert response.status_code == 200
    bundle = orjson.loads(b"".join(response.streaming_content))  # a whole bundle, not cut short
    ids = {o["id"] for o in bundle["objects"]}
    assert {deep["id"], *sharing.ids.values()} - {sharing.ids[Tlp.RED]} <= ids
    client = as_user(sharing.world.analyst)
    assert client.get(reverse("intel:object", args=[deep["id"]])).status_code == 200
    response = client.get(reverse("intel:object_download", args=[deep["id"]]))
    assert response.status_code == 200 and deep["id"] in response.content.decode()


# --- Granular TLP markings --------------------------------------------------------------------------------


def test_a_granular_red_marking_makes_the_object_red(api, sharing):
    obj = indicator("192.0.2.76", tlp=Tlp.CLEAR, granular_markings=[
        {"marking_ref": tlp.TLP_MARKING[Tlp.RED], "selectors": ["description"]}])
    assert _post_objects(api, sharing.world.analyst, sharing.collection, [obj]).status_code == 201
    assert StixObject.objects.get(stix_id=obj["id"]).tlp == Tlp.RED
    assert api(sharing.world.other_admin).get(f"/api/intel/objects/{obj['id']}/").status_code == 404
    assert api(sharing.world.analyst).get(f"/api/intel/objects/{obj['id']}/").status_code == 200


@pytest.mark.parametrize("obj, default, expected", [
    ({"object_marking_refs": [tlp.TLP_MARKING[Tlp.CLEAR]],
      "granular_markings": [{"marking_ref": tlp.TLP_MARKING[Tlp.AMBER_STRICT], "selectors": ["name"]}]},
     Tlp.AMBER, Tlp.AMBER_STRICT),
    ({"granular_markings": [{"marking_ref": tlp.TLP_MARKING[Tlp.CLEAR], "selectors": ["name"]}]},
     Tlp.AMBER, Tlp.AMBER),  # a granular CLEAR never lowers the unmarked rest
    ({"granular_markings": [{"marking_ref": tlp.TLP_MARKING[Tlp.RED], "selectors": ["name"]}]}, Tlp.GREEN, Tlp.RED),
    ({"object_marking_refs": [tlp.TLP_MARKING[Tlp.GREEN]],
      "granular_markings": [{"marking_ref": "marking-definition--00000000-0000-4000-8000-000000000000",
                             "selectors": ["name"]}]}, Tlp.AMBER, Tlp.GREEN),  # not a TLP marking
])
def test_object_tlp(obj, default, expected):
    assert tlp.object_tlp(obj, default) == expected


# --- Resubmitting a version: never linked nor confirmed when the submitter may not see it -------------------


def test_a_hidden_version_is_refused_without_saying_why(api, sharing):
    w = sharing.world
    own = services.do_create_collection({"title": "PROV feed", "owner": w.province, "kind": "group"},
                                        acting_user=w.other_admin)
    red = sharing.objects[Tlp.RED]  # MIN's RED indicator, addressed to REC only
    before = _state()
    response = _post_objects(api, w.other_admin, own, [indicator("192.0.2.77"), red], **EN)
    assert response.status_code == 422, response.content
    [message] = response.json()["errors"][red["id"]]
    assert "RED" not in message and "see" not in message and "exist" not in message
    assert _state() == before and not CollectionObject.objects.filter(collection=own).exists()
    # A version the submitter sees is linked as before.
    response = _post_objects(api, w.other_admin, own, [sharing.objects[Tlp.GREEN]])
    assert response.status_code == 201
    answer = response.json()
    assert [w["value"] for w in answer.pop("warnings")] == ["198.51.100.2"]  # TEST-NET-2: on a warning list
    assert answer == {"total": 1, "created": 0, "existing": 1, "added_to_collection": 1, "already_in_collection": 0,
                      "already_shared": [], "already_shared_count": 0}


def test_two_different_objects_with_one_id_and_version_are_refused(api, sharing):
    first = indicator("192.0.2.78")
    same = dict(first)
    other = {**first, "name": "Another content"}
    before = _state()
    response = _post_objects(api, sharing.world.analyst, sharing.collection, [first, other], **EN)
    assert response.status_code == 422
    assert [m for m in response.json()["errors"][first["id"]] if "#1" in m and "#0" in m]
    assert _state() == before
    response = _post_objects(api, sharing.world.analyst, sharing.collection, [first, same])
    assert response.status_code == 201 and response.json()["created"] == 1  # the same version twice: kept once
    assert Collection.objects.count() == 1


def test_a_federation_pull_leaves_a_hidden_version_out_instead_of_stalling(sharing):
    """A peer's page is not the puller's choice: refusing it would refuse the same page at every pull."""
    w = sharing.world
    own = services.do_create_collection({"title": "PROV feed", "owner": w.province, "kind": "group"},
                                        acting_user=w.other_admin)
    red = sharing.objects[Tlp.RED]
    fresh = indicator("192.0.2.79")
    result = services.do_add_objects(own, [fresh, red], acting_user=w.other_admin, skip_hidden=True)
    assert (result.created, result.hidden) == (1, 1)
    linked = set(CollectionObject.objects.filter(collection=own).values_list("object__stix_id", flat=True))
    assert fresh["id"] in linked and red["id"] not in linked


def _store_directly(collection, obj: dict, text: str) -> StixObject:
    """A version written as the intake stored it before it refused deep nesting: straight into the table."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO intel_stixobject (stix_id, stix_type, spec_version, modified, created_by_ref, tlp, "
            "marking_refs, revoked, labels, data, data_text, date_added) "
            "VALUES (%s, %s, '2.1', %s, '', %s, '[]', %s, '[]', %s, %s, %s)",
            [obj["id"], obj["type"], now, Tlp.GREEN, False, text, text, now])
    row = StixObject.objects.only("pk").get(stix_id=obj["id"])
    CollectionObject.objects.create(collection=collection, object=row, date_added=now)
    return row


def test_an_object_stored_900_levels_deep_is_shown_summarized_never_a_5xx(api, as_user, sharing):
    """~900 levels (stored before the intake refused nesting deeper than MAX_DEPTH): reading it back used to fail
    every page and API answer that held it (RecursionError). It is read with its deep part summarized, the STIX
    download and the exports give it whole."""
    obj = indicator("192.0.2.78", tlp=Tlp.GREEN, name="Deep one")
    text = orjson.dumps(obj).decode()[:-1] + ',"x_deep":' + "[" * 900 + '"bottom"' + "]" * 900 + "}"
    _store_directly(sharing.collection, obj, text)
    note = "nested deeper than 32 levels"
    client = as_user(sharing.world.analyst)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # pages follow the language switch, not Accept-Language
    page = client.get(reverse("intel:object", args=[obj["id"]]), **EN)
    assert page.status_code == 200
    assert "Deep one" in page.content.decode() and page.context["summarized"]
    assert note in page.context["raw"] and 'id="summarized"' in page.content.decode()
    download = client.get(reverse("intel:object_download", args=[obj["id"]]))
    assert download.status_code == 200 and '"bottom"' in download.content.decode() and note not in \
        download.content.decode()
    assert orjson.loads(download.content)["objects"][0]["id"] == obj["id"]  # whole, as stored (orjson reads 1024)
    for url in (reverse("intel:search"), reverse("intel:search") + "?q=Deep",
                reverse("intel:collection_detail", args=[sharing.collection.pk])):
        assert client.get(url).status_code == 200, url

    reader = api(sharing.world.analyst)
    detail = reader.get(f"/api/intel/objects/{obj['id']}/", **EN)
    assert detail.status_code == 200 and detail.json()["data"]["name"] == "Deep one"
    deep = detail.json()["data"]["x_deep"]
    for _level in range(services.MAX_DEPTH - 1):  # the object is level 1: 31 levels of the list are kept
        deep = deep[0]
    assert isinstance(deep, str) and note in deep
    for url in ("/api/intel/objects/", f"/api/intel/objects/{obj['id']}/versions/"):
        assert reader.get(url).status_code == 200, url
    for fmt in ("stix", "misp", "csv"):
        response = reader.get("/api/intel/exchange/export/", {"file_format": fmt,
                                                               "collection": str(sharing.collection.pk)})
        assert response.status_code == 200, fmt
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert note.encode() not in body  # a summary is never exported as the object
        if fmt == "stix":
            bundle = orjson.loads(body)  # whole, not cut short
            assert sharing.ids[Tlp.GREEN] in {o["id"] for o in bundle["objects"]}
    taxii = reader.get(f"/taxii2/api/collections/{sharing.collection.pk}/objects/", HTTP_ACCEPT=TAXII)
    assert taxii.status_code == 200 and obj["id"] in taxii.content.decode()


def test_summarized_json_cuts_only_what_is_deeper_than_the_limit():
    shallow = orjson.dumps({"a": [[{"b": "[{" * 40}]], "c": "\\\"]"}).decode()  # brackets in strings do not count
    assert services.summarized_json(shallow) is None
    limit = services.MAX_DEPTH
    text = '{"keep":' + "[" * (limit - 1) + "1" + "]" * (limit - 1) + ',"cut":' + "[" * limit + '"x"' + \
           "]" * limit + ',"s":"]]}}"}'
    data = json.loads(services.summarized_json(text))
    kept, cut = data["keep"], data["cut"]
    for _level in range(limit - 1):
        kept, cut = kept[0], cut[0]
    assert kept == 1 and isinstance(cut, str) and str(limit) in cut and data["s"] == "]]}}"
