"""The canonical JSON text stored beside each object version (`StixObject.data_text`, services.stix_text):
every writer stores it equal to `data`, TAXII serves exactly the stored objects from it, and a row
without it (written around the services) is still served from `data`."""
import base64
import importlib

import orjson
import pytest
from django.db import connection
from django.urls import reverse

from khien.intel import services, tlp
from khien.intel.exchange import stix_import
from khien.intel.models import CollectionObject, StixObject, Tlp

from .conftest import TAXII, indicator
from .test_exchange_formats import upload
from .test_views import _indicator_post, signed_in

pytestmark = pytest.mark.django_db


def rich_indicator(value, **extra):
    """An indicator with what a text form must keep: non-ASCII text, nested lists and objects, numbers."""
    return indicator(value, tlp=Tlp.GREEN, description="Máy chủ điều khiển — chiến dịch “Mùa thu” ✓",
                     labels=["c2", "apt"], confidence=73,
                     external_references=[{"source_name": "khien", "description": "Báo cáo số 7",
                                           "external_id": "KH-2026-007"}], **extra)


def assert_text_is_data(rows):
    rows = list(rows)
    assert rows
    for row in rows:
        # The same JSON value (PostgreSQL's jsonb gives `data` back with its keys reordered).
        assert orjson.loads(row.data_text) == row.data, row.stix_id


def test_stix_text_is_compact_utf8_in_received_order():
    obj = {"type": "indicator", "name": "Mã độc", "n": [1, 2.5, None, True], "a": {"z": 1, "b": 2}}
    assert services.stix_text(obj) == '{"type":"indicator","name":"Mã độc","n":[1,2.5,null,true],"a":{"z":1,"b":2}}'
    big = {"type": "x", "n": 2 ** 70}  # beyond orjson's integers: the standard encoder, same form
    assert services.stix_text(big) == '{"type":"x","n":1180591620717411303424}'


def test_taxii_post_stores_the_text_of_each_version(world, sharing, client, make_token):
    objs = [rich_indicator("192.0.2.61"), rich_indicator("192.0.2.62")]
    key = make_token(world.analyst)
    auth = "Basic " + base64.b64encode(f"{world.analyst.email}:{key}".encode()).decode()
    response = client.post(f"/taxii2/api/collections/{sharing.collection.pk}/objects/",
                           data=orjson.dumps({"objects": objs}), content_type=TAXII, HTTP_ACCEPT=TAXII,
                           HTTP_AUTHORIZATION=auth)
    assert response.status_code == 202, response.content
    stored = StixObject.objects.filter(stix_id__in=[o["id"] for o in objs])
    sent = {o["id"]: o for o in objs}
    assert {row.stix_id: row.data for row in stored} == {  # as sent, stamped with the producer's identity
        row.stix_id: {**sent[row.stix_id], "created_by_ref": row.created_by_ref} for row in stored}
    for row in stored:  # the text itself: services.stix_text of the object as received (keys in its order)
        assert row.data_text == services.stix_text({**sent[row.stix_id], "created_by_ref": row.created_by_ref})
    assert_text_is_data(stored)
    assert_text_is_data(StixObject.objects.all())  # the fixture's objects and the producers' identities too


def test_stix_import_stores_the_text(world, sharing):
    objs = [rich_indicator("192.0.2.71"), rich_indicator("192.0.2.72")]
    stix_import.import_stix(sharing.collection, upload({"type": "bundle", "id":
                            "bundle--6a8e1c0e-5b64-4d60-9a0a-4c1f6f2e8e12", "objects": objs}),
                            acting_user=world.analyst, file_name="b.json")
    assert_text_is_data(StixObject.objects.filter(stix_id__in=[o["id"] for o in objs]))


def test_form_created_indicator_stores_the_text(client, sharing):
    c = signed_in(client, sharing.world.analyst)
    response = c.post(reverse("intel:indicator_create"), _indicator_post(sharing.collection, name="Máy chủ C2"))
    assert response.status_code == 302
    assert_text_is_data(StixObject.objects.filter(data__name="Máy chủ C2"))


def _walk(call, url, limit):
    objects, raw, next_token = [], b"", None
    while True:
        response = call(f"{url}?limit={limit}" + (f"&next={next_token}" if next_token else ""))
        assert response.status_code == 200, response.content
        body = orjson.loads(response.content)
        objects += body.get("objects", [])
        raw += response.content
        if not body["more"]:
            return objects, raw
        next_token = body["next"]


@pytest.mark.parametrize("limit", [1, 3, 1000])
def test_taxii_serves_exactly_the_stored_objects(world, sharing, client, make_token, limit):
    services.do_add_objects(sharing.collection, [rich_indicator(f"192.0.2.{n}") for n in range(80, 90)],
                            acting_user=world.analyst)
    reader = world.other_admin  # a member of the collection: not every version is for it
    key = make_token(reader)
    auth = "Basic " + base64.b64encode(f"{reader.email}:{key}".encode()).decode()

    def call(url):
        return client.get(url, HTTP_ACCEPT=TAXII, HTTP_AUTHORIZATION=auth)

    objects, raw = _walk(call, f"/taxii2/api/collections/{sharing.collection.pk}/objects/", limit)
    visible = set(tlp.visible_versions(reader).values_list("pk", flat=True))
    expected = [entry.object for entry in CollectionObject.objects.filter(collection=sharing.collection)
                .select_related("object").order_by("date_added", "pk") if entry.object_id in visible]
    assert len(expected) < CollectionObject.objects.filter(collection=sharing.collection).count()
    assert objects == [row.data for row in expected]
    for row in expected:
        assert row.data_text.encode() in raw  # the stored text itself, not a re-encoding


def test_row_without_text_is_served_from_data(world, sharing, client, make_token):
    """A version written around the services (a bench loader) has no stored text: TAXII casts `data`."""
    StixObject.objects.filter(stix_id=sharing.ids[Tlp.GREEN]).update(data_text=None)
    stored = StixObject.objects.get(stix_id=sharing.ids[Tlp.GREEN]).data
    key = make_token(world.analyst)
    auth = "Basic " + base64.b64encode(f"{world.analyst.email}:{key}".encode()).decode()

    def call(url):
        return client.get(url, HTTP_ACCEPT=TAXII, HTTP_AUTHORIZATION=auth)

    url = f"/taxii2/api/collections/{sharing.collection.pk}/objects/"
    response = call(f"{url}?match[id]={sharing.ids[Tlp.GREEN]}")  # the single query (id filter)
    assert response.status_code == 200
    assert orjson.loads(response.content)["objects"] == [stored]
    objects, _raw = _walk(call, url, 2)  # the chunked steps
    assert stored in objects


def test_migration_fills_the_missing_texts(world, sharing):
    from django.apps import apps

    migration = importlib.import_module("khien.intel.migrations.0006_stixobject_data_text")
    StixObject.objects.update(data_text=None)
    migration.BATCH = 2  # several batches
    try:
        migration.fill_data_text(apps, type("SchemaEditor", (), {"connection": connection})())
    finally:
        migration.BATCH = 2000
    assert_text_is_data(StixObject.objects.all())
