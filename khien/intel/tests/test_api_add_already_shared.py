"""`POST /api/intel/collections/{id}/objects/` says, as the indicator form and the import page do, which values of
the new indicators the caller's organization already shares in the collection (`already_shared`, the first 10, and
`already_shared_count`): stored all the same, the client knows it sent a value again. Through the real API, with a
token."""
import uuid

import pytest

from khien.core.models import AuditEntry
from khien.intel import services
from khien.intel.models import StixObject, Tlp

from .conftest import indicator

pytestmark = pytest.mark.django_db

API = "/api/intel/"


def _bundle(*objects):
    return {"bundle": {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}}


def test_the_answer_names_the_values_already_shared_and_counts_them(sharing, api):
    url = f"{API}collections/{sharing.collection.pk}/objects/"
    client = api(sharing.world.analyst)
    # 198.51.100.3: MIN's AMBER indicator in C already holds it; 203.0.113.77 is new
    again, fresh = indicator("198.51.100.3", name="Same address, new id"), indicator("203.0.113.77")
    answer = client.post(url, _bundle(again, fresh), format="json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["created"] == 2  # said, not refused: a second indicator may be meant
    assert body["already_shared_count"] == 1
    assert body["already_shared"] == [{"kind": "ipv4", "value": "198.51.100.3", "id": sharing.ids[Tlp.AMBER]}]

    # The same bundle again: nothing stored twice (already_in_collection); its own indicators are no repetition
    # of their values (203.0.113.77 is not said), the AMBER indicator still holds 198.51.100.3.
    repeat = client.post(url, _bundle(again, fresh), format="json")
    assert repeat.status_code == 201
    body = repeat.json()
    assert (body["created"], body["existing"], body["already_in_collection"]) == (0, 2, 2)
    assert [d["id"] for d in body["already_shared"]] == [sharing.ids[Tlp.AMBER]] and body["already_shared_count"] == 1
    assert client.post(url, _bundle(fresh), format="json").json()["already_shared"] == []
    assert StixObject.objects.filter(stix_id=again["id"]).count() == 1

    # A bundle without indicators answers the same keys, empty.
    identity = {"type": "identity", "spec_version": "2.1", "id": f"identity--{uuid.uuid4()}",
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "Someone"}
    body = client.post(url, _bundle(identity), format="json").json()
    assert body["already_shared"] == [] and body["already_shared_count"] == 0


def test_many_values_list_the_first_ten_and_count_all(sharing, api):
    url = f"{API}collections/{sharing.collection.pk}/objects/"
    client = api(sharing.world.analyst)
    values = [f"203.0.113.{n}" for n in range(100, 112)]
    assert client.post(url, _bundle(*[indicator(v) for v in values]), format="json").status_code == 201
    body = client.post(url, _bundle(*[indicator(v, name=f"Again {v}") for v in values]), format="json").json()
    assert body["already_shared_count"] == 12
    assert [d["value"] for d in body["already_shared"]] == values[:services.ALREADY_SHARED_LISTED]


def test_another_organizations_values_are_not_told(sharing, api):
    """RESP writes into C without reading it: MIN's indicator holding the same value is not its business."""
    url = f"{API}collections/{sharing.collection.pk}/objects/"
    answer = api(sharing.resp_writer).post(url, _bundle(indicator("198.51.100.3", name="RESP's")), format="json")
    assert answer.status_code == 201
    assert answer.json()["already_shared"] == [] and answer.json()["already_shared_count"] == 0
    assert sharing.ids[Tlp.AMBER] not in answer.content.decode()


def test_a_reader_may_not_add_and_learns_nothing(sharing, api):
    url = f"{API}collections/{sharing.collection.pk}/objects/"
    reader = api(sharing.world.other_admin)  # (its token is made, and audited, first)
    before = (StixObject.objects.count(), AuditEntry.objects.count())
    answer = reader.post(url, _bundle(indicator("198.51.100.3")), format="json")
    assert answer.status_code == 403 and "already_shared" not in answer.json()
    assert (StixObject.objects.count(), AuditEntry.objects.count()) == before


def test_the_schema_documents_the_new_keys():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    properties = schema["components"]["schemas"]["AddResult"]["properties"]
    assert {"already_shared", "already_shared_count", "already_in_collection"} <= set(properties)
