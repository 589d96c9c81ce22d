"""The TLP table of `khien.intel.tlp`, checked relation by relation against the real database."""
import pytest

from khien.intel import tlp
from khien.intel.models import CollectionObject, StixObject, Tlp, identity_id_for

from .conftest import assert_valid_stix

C, G, A, AS, R = Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED

# The table of the tlp module's docstring, for the `sharing` fixture.
EXPECTED = {
    "producer": {C, G, A, AS, R},
    "collection owner": {C, G, A, AS},
    "collection member": {C, G, A},
    "write-only member": {C, G},
    "named recipient": {C, G, R},
    "other organization (a unit of the producer)": {C, G},
    "signed in, no organization": {C},
    "anonymous": set(),
}


def _levels(sharing, queryset):
    by_id = {v: k for k, v in sharing.ids.items()}
    return {by_id[i] for i in queryset.values_list("stix_id", flat=True) if i in by_id}


def test_fixture_objects_are_valid_stix(sharing):
    assert_valid_stix(sharing.objects.values())


@pytest.mark.parametrize("relation", list(EXPECTED))
def test_visible_versions_follow_the_table(sharing, relation):
    user = sharing.users[relation]
    assert _levels(sharing, tlp.visible_versions(user)) == EXPECTED[relation]


@pytest.mark.parametrize("relation", list(EXPECTED))
def test_can_see_agrees(sharing, relation):
    user = sharing.users[relation]
    for level, stix_id in sharing.ids.items():
        obj = StixObject.objects.get(stix_id=stix_id)
        assert tlp.can_see(user, obj) == (level in EXPECTED[relation]), (relation, level)


def test_anonymous_sees_clear_only_with_the_public_feed(sharing, settings):
    settings.KHIEN_PUBLIC_CLEAR_FEED = True
    assert _levels(sharing, tlp.visible_versions(None)) == {C}
    settings.KHIEN_PUBLIC_CLEAR_FEED = False
    assert _levels(sharing, tlp.visible_versions(None)) == set()


def test_inactive_user_sees_nothing(sharing):
    user = sharing.world.analyst
    user.is_active = False
    assert _levels(sharing, tlp.visible_versions(user)) == set()


@pytest.mark.parametrize("relation", list(EXPECTED))
def test_collection_fast_path_equals_the_general_rule(sharing, relation):
    """What a reader gets from a collection = visible_versions ∩ the collection's versions."""
    user = sharing.users[relation]
    collection = sharing.collection
    q = tlp.collection_content_q(user, collection)
    if not tlp.can_read_collection(user, collection):
        return
    in_collection = StixObject.objects.filter(collection_entries__collection=collection)
    fast = set(in_collection.filter(q).values_list("pk", flat=True))
    general = set(tlp.visible_versions(user).filter(collection_entries__collection=collection).values_list("pk", flat=True))
    assert fast == general


def test_write_only_member_reads_back_only_what_it_produced(sharing):
    from khien.intel import services

    from .conftest import indicator

    responder = sharing.world.responder
    pushed = indicator("192.0.2.77", tlp=Tlp.AMBER)
    services.do_add_objects(sharing.collection, [pushed], acting_user=sharing.resp_writer)
    q = tlp.collection_content_q(responder, sharing.collection, prefix="object__")
    got = set(CollectionObject.objects.filter(collection=sharing.collection).filter(q)
              .values_list("object__stix_id", flat=True))
    assert got == {pushed["id"], identity_id_for(sharing.world.responder_org.pk)}


def test_collection_rights(sharing):
    w, c = sharing.world, sharing.collection
    assert tlp.can_read_collection(w.coordinator, c) and tlp.can_write_collection(w.coordinator, c)
    assert tlp.can_read_collection(w.analyst, c) and tlp.can_write_collection(w.analyst, c)
    assert tlp.can_read_collection(w.other_admin, c) and not tlp.can_write_collection(w.other_admin, c)
    assert not tlp.can_read_collection(sharing.resp_writer, c) and tlp.can_write_collection(sharing.resp_writer, c)
    # Roles that only view never write, even through an organization that owns or writes the collection.
    assert not tlp.can_read_collection(w.responder, c) and not tlp.can_write_collection(w.responder, c)
    assert tlp.organization_writes(w.responder, c)  # ...yet its organization's inbox is read back
    for user in (w.auditor, w.trainee):
        assert tlp.can_read_collection(user, c) and not tlp.can_write_collection(user, c)
    for user in (sharing.recipient, w.dept_analyst, w.nobody, None):
        assert not tlp.can_read_collection(user, c) and not tlp.can_write_collection(user, c)
    assert set(tlp.collections_for(w.responder)) == {c}
    assert set(tlp.collections_for(w.dept_analyst)) == set()  # a unit does not inherit its parent's membership


@pytest.mark.parametrize("refs,default,expected", [
    ([], Tlp.AMBER, Tlp.AMBER),
    ([], Tlp.GREEN, Tlp.GREEN),
    (["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"], Tlp.AMBER, Tlp.CLEAR),
    (["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"], Tlp.AMBER, Tlp.CLEAR),  # TLP 1.0 WHITE
    (["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"], Tlp.AMBER, Tlp.GREEN),  # TLP 1.0 GREEN
    (["marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"], Tlp.AMBER, Tlp.AMBER_STRICT),
    (["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
      "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"], Tlp.AMBER, Tlp.RED),  # most restrictive wins
    (["marking-definition--00000000-0000-4000-8000-000000000000"], Tlp.AMBER, Tlp.AMBER),  # not a TLP marking
])
def test_tlp_of_markings(refs, default, expected):
    assert tlp.tlp_of(refs, default) == expected
