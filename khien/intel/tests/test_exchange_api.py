"""Exchange through the REST API: import (multipart), export downloads, and the TLP × relation matrix."""
import csv
import io

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from pymisp import MISPEvent

from khien.core.timerange import MAX_YEAR, MIN_YEAR
from khien.intel.exchange import csv_io, misp, stix_export
from khien.intel.models import CollectionObject, StixObject, Tlp

from .conftest import indicator
from .test_exchange_formats import assert_all_valid, misp_event

pytestmark = pytest.mark.django_db

API = "/api/intel/exchange/"

# What each relation may get of the sharing fixture's five indicators (see tlp.py's table): the
# indicators are in collection C, produced by MIN; the RED one names REC as recipient.
MATRIX = {
    "producer": {Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED},
    "collection member": {Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER},
    "named recipient": {Tlp.CLEAR, Tlp.GREEN, Tlp.RED},
    "other organization (a unit of the producer)": {Tlp.CLEAR, Tlp.GREEN},
}


def _indicator_ids_stix(body: bytes) -> set:
    bundle = orjson.loads(body)
    assert_all_valid(bundle["objects"])
    return {o["id"] for o in bundle["objects"] if o["type"] == "indicator"}


def _indicator_ids_csv(body: bytes) -> set:
    return {row["indicator_id"] for row in csv.DictReader(io.StringIO(body.decode("utf-8")))}


def _values_misp(body: bytes) -> set:
    event = MISPEvent()
    event.load(body.decode("utf-8"))
    return {a.value for a in event.attributes} | {a.value for o in event.objects for a in o.attributes}


@pytest.mark.parametrize("relation", list(MATRIX))
@pytest.mark.parametrize("fmt", ["stix", "misp", "csv"])
def test_tlp_matrix_through_export(api, sharing, relation, fmt):
    user = sharing.users[relation]
    granted = MATRIX[relation]
    value_of = {level: obj["pattern"].split("'")[1] for level, obj in sharing.objects.items()}
    for scope in ({}, {"collection": str(sharing.collection.pk)}):
        response = api(user).get(API + "export/", {"file_format": fmt, **scope})
        if scope and relation in ("named recipient", "other organization (a unit of the producer)"):
            assert response.status_code == 404  # not a reader of C: the collection does not exist for them
            continue
        assert response.status_code == 200, response.content
        assert "attachment;" in response["Content-Disposition"]
        body = b"".join(response.streaming_content)
        if fmt == "stix":
            got = {level for level, sid in sharing.ids.items() if sid in _indicator_ids_stix(body)}
        elif fmt == "csv":
            got = {level for level, sid in sharing.ids.items() if sid in _indicator_ids_csv(body)}
        else:
            values = _values_misp(body)
            got = {level for level, value in value_of.items() if value in values}
        assert got == granted, (relation, scope)


@pytest.mark.parametrize("public_feed, expected", [(False, set()), (True, {Tlp.CLEAR})])
def test_tlp_matrix_anonymous(api, sharing, public_feed, expected):
    with override_settings(KHIEN_PUBLIC_CLEAR_FEED=public_feed):
        sel = stix_export.Selection()
        stix = {o["id"] for o in stix_export.build_bundle(None, sel)["objects"]}
        assert {lv for lv, sid in sharing.ids.items() if sid in stix} == expected
        rows = {r["indicator_id"] for r in csv.DictReader(io.StringIO("".join(csv_io.iter_csv(None, sel))))}
        assert {lv for lv, sid in sharing.ids.items() if sid in rows} == expected
        values = _values_misp(misp.export_event(None, sel).encode())
        assert {lv for lv, obj in sharing.objects.items() if obj["pattern"].split("'")[1] in values} == expected
        # The API itself answers signed-in callers only.
        response = api().get(API + "export/", {"file_format": "stix"})
        assert response.status_code in (401, 403)


def test_export_bad_parameters(api, sharing):
    client = api(sharing.world.analyst)
    assert client.get(API + "export/", {"file_format": "pdf"}).status_code == 400
    assert client.get(API + "export/", {"tlp": "purple"}).status_code == 400
    assert client.get(API + "export/", {"collection": "no-such"}).status_code == 404


@pytest.mark.parametrize("added_since", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
                                         "9999-12-31T00:00:00Z", "0001-01-01"])
def test_export_added_since_outside_the_storable_years_is_400(api, sharing, added_since):
    response = api(sharing.world.analyst).get(API + "export/", {"added_since": added_since})
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert detail.startswith("added_since: ") and f"{MIN_YEAR}" in detail and f"{MAX_YEAR}" in detail


def test_import_through_the_api(api, sharing):
    client = api(sharing.world.analyst)
    event = misp_event("tlp:green")
    response = client.post(API + "import/", {"file": SimpleUploadedFile("e.json", event.to_json().encode()),
                                             "format": "misp", "collection": sharing.collection.alias},
                           format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["created"] > 0 and response.json()["rejected"] == []
    before = (StixObject.objects.count(), CollectionObject.objects.count())
    response = client.post(API + "import/", {"file": SimpleUploadedFile("x.csv", b"type,value\nipv4,999.1.1.1\n"),
                                             "format": "csv", "collection": str(sharing.collection.pk)},
                           format="multipart")
    assert response.status_code == 422
    assert response.json()["rejected"] == [{"ref": "2", "column": "value", "message": response.json()["rejected"][0]
                                            ["message"]}]
    response = client.post(API + "import/", {"file": SimpleUploadedFile("b.json", b"{oops"), "format": "stix",
                                             "collection": str(sharing.collection.pk)}, format="multipart")
    assert response.status_code == 400 and response.json()["detail"]
    # no write right (PROV reads C): 403
    response = api(sharing.world.other_admin).post(
        API + "import/", {"file": SimpleUploadedFile("b.json", orjson.dumps([indicator()])), "format": "stix",
                          "collection": str(sharing.collection.pk)}, format="multipart")
    assert response.status_code == 403
    # a collection the user cannot see: 404
    response = api(sharing.recipient).post(
        API + "import/", {"file": SimpleUploadedFile("b.json", orjson.dumps([indicator()])), "format": "stix",
                          "collection": str(sharing.collection.pk)}, format="multipart")
    assert response.status_code == 404
    with override_settings(KHIEN_INTEL_IMPORT_MAX_BYTES=100):
        response = client.post(API + "import/", {"file": SimpleUploadedFile("b.json", orjson.dumps([indicator()])),
                                                 "format": "stix", "collection": str(sharing.collection.pk)},
                               format="multipart")
        assert response.status_code == 413
    assert (StixObject.objects.count(), CollectionObject.objects.count()) == before


def test_subscription_crud_through_the_api(api, sharing):
    from django.db.models import TextField
    from django.db.models.functions import Cast

    from khien.core.models import AuditEntry
    from khien.intel.models_federation import FeedSubscription

    world = sharing.world
    data = {"name": "partner", "collection": str(sharing.collection.pk), "api_root_url": "https://taxii.partner.example/api1",
            "remote_collection_id": "abc", "auth_kind": "bearer", "password": "tok-123", "interval_minutes": 10}
    # MIN's analyst does not manage NCSC's collection: it cannot be chosen
    response = api(world.analyst).post("/api/intel/subscriptions/", data, format="json")
    assert response.status_code == 400 and "collection" in response.json()
    assert not FeedSubscription.objects.exists()
    client = api(world.coordinator)
    response = client.post("/api/intel/subscriptions/", data, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["api_root_url"] == "https://taxii.partner.example/api1/" and body["has_secret"]
    assert "password" not in body and "tok-123" not in response.content.decode()
    assert body["last_status"] == "never"
    # bad input: a token kind without a token, a duplicate name
    bad = client.post("/api/intel/subscriptions/", {**data, "name": "other", "password": ""}, format="json")
    assert bad.status_code == 400
    dup = client.post("/api/intel/subscriptions/", data, format="json")
    assert dup.status_code == 400
    assert FeedSubscription.objects.count() == 1
    sub_id = body["id"]
    assert client.patch(f"/api/intel/subscriptions/{sub_id}/", {"enabled": False}, format="json").status_code == 200
    assert FeedSubscription.objects.get().enabled is False and FeedSubscription.objects.get().password == "tok-123"
    # The database holds the token sealed, not as text anyone with a copy of it could use.
    stored = FeedSubscription.objects.values_list(Cast("password", TextField()), flat=True).get()
    assert stored.startswith("sealed:v1:") and "tok-123" not in stored
    # A token longer than the limit is refused, with nothing changed.
    too_long = client.patch(f"/api/intel/subscriptions/{sub_id}/", {"password": "x" * 1001}, format="json")
    assert too_long.status_code == 400 and "password" in too_long.json()
    assert FeedSubscription.objects.get().password == "tok-123"
    assert api(world.analyst).delete(f"/api/intel/subscriptions/{sub_id}/").status_code == 404
    assert client.delete(f"/api/intel/subscriptions/{sub_id}/").status_code == 204
    assert not FeedSubscription.objects.exists()
    logged = AuditEntry.objects.filter(object_type="intel.feedsubscription").values_list("action", flat=True)
    assert sorted(logged) == ["create", "delete", "update"]
    assert not any("tok-123" in str(e.before) + str(e.after)
                   for e in AuditEntry.objects.filter(object_type="intel.feedsubscription"))


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/", "http://[fe80::1]/taxii2/", "http://0.0.0.0/api/",
                                 "https://224.0.0.1/api/"])
def test_a_subscription_to_a_link_local_multicast_or_unspecified_address_is_refused(sharing, api, url):
    from khien.intel.models_federation import FeedSubscription

    data = {"name": "partner", "collection": str(sharing.collection.pk), "api_root_url": url,
            "remote_collection_id": "abc", "auth_kind": "none", "interval_minutes": 10}
    client = api(sharing.world.coordinator)
    refused = client.post("/api/intel/subscriptions/", data, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and "link-local, multicast or unspecified" in refused.content.decode()
    assert not FeedSubscription.objects.exists()
    # The same partner on the government network, or on this machine, is a partner like any other.
    for n, allowed in enumerate(("http://10.20.0.5/taxii2/", "http://127.0.0.1:9/taxii2/api/",
                                 "https://taxii.partner.example/")):
        answer = client.post("/api/intel/subscriptions/", {**data, "api_root_url": allowed, "name": f"partner-{n}"},
                             format="json")
        assert answer.status_code == 201, answer.content
