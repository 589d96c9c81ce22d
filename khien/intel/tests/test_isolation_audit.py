"""Cross-organization isolation of the intelligence store: another organization's object cannot be re-versioned.

A STIX object is versioned by its creator only (STIX 2.1 §3.6). The blocklists and the telemetry matcher take
the newest stored version of an id, whoever stored it: without this rule an analyst of any organization who can
see another organization's indicator could submit a later version of it (revoked, or expired) and take it out of
every consumer's blocklist and out of the national matching.
"""
import pytest

from khien.intel import blocklists, services
from khien.intel.models import StixObject, Tlp

from .conftest import indicator

pytestmark = pytest.mark.django_db

VALUE = "45.33.20.77"


@pytest.fixture
def two_feeds(world):
    prov = services.do_create_collection({"title": "PROV feed", "owner": world.province}, acting_user=world.other_admin)
    mine = services.do_create_collection({"title": "MIN feed", "owner": world.ministry}, acting_user=world.analyst)
    original = indicator(VALUE, tlp=Tlp.GREEN)
    services.do_add_objects(prov, [original], acting_user=world.other_admin)
    return prov, mine, original


@pytest.mark.parametrize("change", [{"revoked": True}, {"valid_until": "2026-01-02T00:00:00Z"}, {"confidence": 1}])
def test_another_organization_cannot_add_a_version_of_an_object(world, two_feeds, change):
    prov, mine, original = two_feeds
    hijack = {**original, "modified": "2026-06-01T00:00:00.000Z", **change}
    before = StixObject.objects.count()
    with pytest.raises(services.InvalidStix) as refused:
        services.do_add_objects(mine, [hijack], acting_user=world.analyst)
    assert original["id"] in refused.value.errors
    assert StixObject.objects.count() == before
    # PROV's indicator is still blocked, for PROV and for everyone who sees it.
    assert VALUE in {v for _k, v in blocklists.values_for(world.other_admin, blocklists.IP_KINDS)}
    assert VALUE in {v for _k, v in blocklists.values_for(world.analyst, blocklists.IP_KINDS)}


def test_the_refusal_does_not_tell_whose_object_it_is(world, two_feeds, api):
    _prov, mine, original = two_feeds
    hijack = {**original, "modified": "2026-06-01T00:00:00.000Z", "revoked": True}
    response = api(world.analyst).post(f"/api/intel/collections/{mine.pk}/objects/",
                                       {"bundle": {"type": "bundle", "id": "bundle--0b6f4b3e-7f57-4a46-9c7c-2f0f1a7b3c11",
                                                   "objects": [hijack]}}, format="json")
    assert response.status_code == 422, response.content
    assert world.province.code not in response.content.decode()


def test_the_producer_still_adds_versions(world, two_feeds):
    prov, _mine, original = two_feeds
    newer = {**original, "modified": "2026-06-01T00:00:00.000Z", "revoked": True}
    result = services.do_add_objects(prov, [newer], acting_user=world.other_admin)
    assert result.created == 1
    assert VALUE not in {v for _k, v in blocklists.values_for(world.other_admin, blocklists.IP_KINDS)}


def test_a_version_already_stored_may_still_be_reshared(world, two_feeds):
    """Re-sharing the very version one sees (same id and modified) into one's own collection is not a new version."""
    _prov, mine, original = two_feeds
    result = services.do_add_objects(mine, [original], acting_user=world.analyst)
    assert (result.created, result.added_to_collection) == (0, 1)


def test_a_new_version_of_an_object_one_sees_is_refused_saying_why(world, two_feeds):
    """To whom the object is visible, the refusal says it plainly (only its creator versions it: give a new id);
    to whom it is hidden, it stays the generic words that do not tell whether the id exists."""
    prov, mine, original = two_feeds
    secret = indicator("45.33.20.78", tlp=Tlp.AMBER_STRICT)  # PROV's own: MIN does not see it
    services.do_add_objects(prov, [secret], acting_user=world.other_admin)
    from django.utils import translation

    refusals = {}
    for obj in (original, secret):
        with translation.override("en"), pytest.raises(services.InvalidStix) as refused:
            services.do_add_objects(mine, [{**obj, "modified": "2026-06-01T00:00:00.000Z", "confidence": 1}],
                                    acting_user=world.analyst)
        refusals[obj["id"]] = refused.value.errors[obj["id"]][0]
    assert "created this object" in refusals[original["id"]] and "a later modified" not in refusals[original["id"]]
    assert "created this object" not in refusals[secret["id"]]


def test_a_plain_stix_bundle_is_taken_as_the_bundle(world, two_feeds, api):
    """MISP, OpenCTI and the STIX tools post the bundle itself, not wrapped in {"bundle": …}."""
    _prov, mine, _original = two_feeds
    bundle = {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
              "objects": [indicator("45.33.20.79", tlp=Tlp.GREEN)]}
    response = api(world.analyst).post(f"/api/intel/collections/{mine.pk}/objects/", bundle, format="json")
    assert response.status_code == 201, response.content
    assert StixObject.objects.filter(stix_id=bundle["objects"][0]["id"]).exists()
    # Anything else still names what is missing (and stores nothing).
    refused = api(world.analyst).post(f"/api/intel/collections/{mine.pk}/objects/", {"objects": "x"}, format="json",
                                      HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and "bundle" in refused.json()
