"""Joining an ISAC gives its sharing channel: a member added to the ISAC reads and writes the ISAC's collection, as
the members had when the channel was created; a member who leaves loses it. A walkthrough found a new member of a
sector ISAC unable to share anything with it until someone added it to the channel by hand."""
import pytest
from django.urls import reverse

from khien.core.models import AuditEntry
from khien.intel import services as intel
from khien.intel.forms import writable_collections
from khien.intel.models import CollectionKind, CollectionMember
from khien.registry import services as registry

pytestmark = pytest.mark.django_db


@pytest.fixture
def isac(world):
    return registry.do_save_isac(None, {"code": "ISAC-FIN", "name_vi": "ISAC Tài chính", "name_en": "Finance ISAC",
                                        "operator": world.ministry}, acting_user=world.admin,
                                 members=[world.ministry, world.department])


@pytest.fixture
def channel(world, isac):
    return intel.do_create_collection({"title": "Kênh ISAC Tài chính", "kind": CollectionKind.ISAC,
                                       "owner": world.ministry, "isac": isac}, acting_user=world.admin)


def rights(channel, org):
    row = CollectionMember.objects.filter(collection=channel, organization=org).first()
    return (row.can_read, row.can_write) if row else None


def test_a_member_who_joins_reads_and_writes_the_channel_and_one_who_leaves_loses_it(world, isac, channel):
    assert rights(channel, world.department) == (True, True)  # a member when the channel was made
    assert channel not in writable_collections(world.other_admin)
    registry.do_save_isac(isac, {}, acting_user=world.admin, members=[world.ministry, world.department, world.province])
    assert rights(channel, world.province) == (True, True)
    assert channel in writable_collections(world.other_admin)  # the new member can share with the ISAC at once
    entry = AuditEntry.objects.filter(object_type="intel.collectionmember", action="create").last()
    assert entry.actor_email == world.admin.email and entry.organization_id == str(world.ministry.pk)

    registry.do_save_isac(isac, {}, acting_user=world.admin, members=[world.ministry, world.province])
    assert rights(channel, world.department) is None  # left the ISAC: no longer in its channel
    deleted = AuditEntry.objects.filter(object_type="intel.collectionmember", action="delete").last()
    assert deleted.object_id not in ("", "None") and deleted.before["can_write"] is True


def test_a_saved_isac_whose_members_did_not_change_leaves_the_owners_choices_alone(world, isac, channel):
    # The owner made a member read-only, and let an outsider (the responder company) read the channel.
    intel.do_set_collection_member(channel, world.department, can_read=True, can_write=False, acting_user=world.admin)
    intel.do_set_collection_member(channel, world.responder_org, can_read=True, can_write=False, acting_user=world.admin)
    registry.do_save_isac(isac, {"description": "Cập nhật mô tả"}, acting_user=world.admin,
                          members=[world.ministry, world.department])
    assert rights(channel, world.department) == (True, False)
    assert rights(channel, world.responder_org) == (True, False)
    # An outsider who then joins the ISAC is raised to a member's rights.
    registry.do_save_isac(isac, {}, acting_user=world.admin,
                          members=[world.ministry, world.department, world.responder_org])
    assert rights(channel, world.responder_org) == (True, True)


def test_the_isac_page_adds_the_member_to_the_channel(world, isac, channel, as_user):
    client = as_user(world.admin)
    response = client.post(reverse("registry:isac_edit", args=[isac.pk]), {
        "code": isac.code, "name_vi": isac.name_vi, "name_en": isac.name_en, "operator": str(world.ministry.pk),
        "members": [str(world.ministry.pk), str(world.department.pk), str(world.province.pk)]})
    assert response.status_code == 302, response.content.decode()[:1500]
    assert rights(channel, world.province) == (True, True)


def test_someone_who_may_not_manage_the_isac_changes_no_channel(world, isac, channel):
    from khien.core.errors import Forbidden

    before = CollectionMember.objects.count()
    with pytest.raises(Forbidden):
        registry.do_save_isac(isac, {}, acting_user=world.other_admin, members=[world.ministry, world.province])
    assert CollectionMember.objects.count() == before and rights(channel, world.province) is None


def test_the_isac_page_links_its_channels_to_those_who_see_them(world, isac, channel, as_user):
    page = as_user(world.dept_analyst).get(reverse("registry:isac_detail", args=[isac.pk])).content.decode()
    assert reverse("intel:collection_detail", args=[channel.pk]) in page and "Kênh ISAC Tài chính" in page
    # A member's page shows the channel; someone who does not see the channel is not given its address.
    registry.do_save_isac(isac, {}, acting_user=world.admin, members=[world.ministry])
    page = as_user(world.dept_analyst).get(reverse("registry:isac_detail", args=[isac.pk]))
    assert page.status_code == 404 or reverse("intel:collection_detail", args=[channel.pk]) not in page.content.decode()
