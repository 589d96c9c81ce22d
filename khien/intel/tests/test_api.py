"""The intel REST API: the same TLP table and rights as TAXII, through DRF."""
import uuid

import pytest

from khien.core.models import AuditEntry
from khien.intel.models import Collection, CollectionMember, StixObject, StixRecipient, Tlp

from .conftest import indicator
from .test_tlp import EXPECTED

API = "/api/intel/"


@pytest.mark.parametrize("relation", [r for r in EXPECTED if r != "anonymous"])
def test_objects_follow_the_tlp_table(sharing, api, relation):
    client = api(sharing.users[relation])
    by_id = {v: k for k, v in sharing.ids.items()}
    response = client.get(f"{API}objects/?limit=1000")
    assert response.status_code == 200
    got = {by_id[o["stix_id"]] for o in response.json()["results"] if o["stix_id"] in by_id}
    assert got == EXPECTED[relation]
    for level, stix_id in sharing.ids.items():
        assert client.get(f"{API}objects/{stix_id}/").status_code == (200 if level in got else 404), level
        assert client.get(f"{API}objects/{stix_id}/versions/").status_code == (200 if level in got else 404)


def test_anonymous_is_401(sharing, api):
    assert api().get(f"{API}objects/").status_code == 401
    assert api().get(f"{API}collections/").status_code == 401


def test_lookup_by_value(sharing, api):
    client = api(sharing.world.other_admin)
    # 198.51.100.3 is the AMBER indicator, visible to the member; .5 is the RED one, not visible.
    found = client.get(f"{API}objects/?value=198.51.100.3").json()["results"]
    assert [o["stix_id"] for o in found] == [sharing.ids[Tlp.AMBER]]
    assert client.get(f"{API}objects/?value=198.51.100.5").json()["results"] == []
    assert [o["stix_id"] for o in api(sharing.world.analyst).get(f"{API}objects/?value=198.51.100.5")
            .json()["results"]] == [sharing.ids[Tlp.RED]]


def test_collections_listed_per_rights(sharing, api):
    listed = api(sharing.world.other_admin).get(f"{API}collections/").json()["results"]
    assert [(c["alias"], c["can_read"], c["can_write"]) for c in listed] == [(sharing.collection.alias, True, False)]
    assert api(sharing.recipient).get(f"{API}collections/").json()["results"] == []
    assert api(sharing.recipient).get(f"{API}collections/{sharing.collection.pk}/").status_code == 404


def test_create_collection_and_members(world, api):
    client = api(world.admin)
    response = client.post(f"{API}collections/", {"title": "MIN partners", "owner": "MIN"}, format="json")
    assert response.status_code == 201, response.json()
    cid = response.json()["id"]
    response = client.post(f"{API}collections/{cid}/members/",
                           {"organization": "PROV", "can_read": True, "can_write": False}, format="json")
    assert response.status_code == 200
    assert CollectionMember.objects.filter(collection_id=cid, organization__code="PROV", can_read=True).exists()
    # Another tree's administrator may not create for MIN, nor manage MIN's collection.
    other = api(world.other_admin)
    assert other.post(f"{API}collections/", {"title": "X", "owner": "MIN"}, format="json").status_code == 403
    assert other.post(f"{API}collections/{cid}/members/", {"organization": "RESP", "can_read": True,
                                                           "can_write": True}, format="json").status_code == 403
    assert Collection.objects.count() == 1 and CollectionMember.objects.count() == 1


def test_add_objects_with_recipients(sharing, api):
    client = api(sharing.world.analyst)
    red = indicator("203.0.113.240", tlp=Tlp.RED)
    response = client.post(f"{API}collections/{sharing.collection.pk}/objects/",
                           {"bundle": {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [red]},
                            "recipients": ["PROV"]}, format="json")
    assert response.status_code == 201 and response.json()["created"] == 1
    assert list(StixRecipient.objects.filter(object__stix_id=red["id"]).values_list("organization__code", flat=True)) \
        == ["PROV"]
    assert api(sharing.world.other_admin).get(f"{API}objects/{red['id']}/").status_code == 200


def test_add_objects_refusals_write_nothing(sharing, api):
    url = f"{API}collections/{sharing.collection.pk}/objects/"
    member, analyst = api(sharing.world.other_admin), api(sharing.world.analyst)
    before = (StixObject.objects.count(), AuditEntry.objects.count())
    assert member.post(url, {"bundle": [indicator()]}, format="json").status_code == 403
    bad = {**indicator(), "pattern": "[oops"}
    response = analyst.post(url, {"bundle": [indicator(), bad]}, format="json")
    assert response.status_code == 422 and list(response.json()["errors"]) == [bad["id"]]
    assert analyst.post(url, {"recipients": ["NOPE"]}, format="json").status_code == 400
    assert analyst.post(url, "{not json", content_type="application/json").status_code == 400
    assert (StixObject.objects.count(), AuditEntry.objects.count()) == before
