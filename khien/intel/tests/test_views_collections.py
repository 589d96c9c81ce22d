"""Collection pages: list with counts, detail, create, member rights; refusals change nothing."""
import pytest
from django.urls import reverse

from khien.core.models import AuditEntry
from khien.intel import tlp
from khien.intel.models import Collection, CollectionMember, Tlp

from .test_views import html, signed_in

pytestmark = pytest.mark.django_db


def test_list_shows_only_the_collections_of_the_users_organizations(client, sharing):
    w = sharing.world
    c = sharing.collection

    def general_rule(user):
        return tlp.visible_versions(user).filter(collection_entries__collection=c,
                                                 collection_entries__superseded=False).count()

    rows = signed_in(client, w.other_admin).get(reverse("intel:collection_list")).context["rows"]
    assert [(r["c"].title, r["read"], r["write"]) for r in rows] == [("National feed", True, False)]
    reader_count = rows[0]["count"]
    assert reader_count == general_rule(w.other_admin)
    rows = signed_in(client, w.analyst).get(reverse("intel:collection_list")).context["rows"]
    assert [(r["read"], r["write"]) for r in rows] == [(True, True)]
    assert rows[0]["count"] == reader_count + 2  # the producer also sees its AMBER+STRICT and RED ones
    rows = signed_in(client, sharing.resp_writer).get(reverse("intel:collection_list")).context["rows"]
    assert [(r["count"], r["read"], r["write"]) for r in rows] == [(0, False, True)]  # write-only: nothing it produced
    rows = signed_in(client, w.responder).get(reverse("intel:collection_list")).context["rows"]
    assert [(r["read"], r["write"]) for r in rows] == [(False, False)]  # a responder's role does not add
    assert signed_in(client, w.dept_analyst).get(reverse("intel:collection_list")).context["rows"] == []
    assert signed_in(client, sharing.recipient).get(reverse("intel:collection_list")).context["rows"] == []


def test_detail_is_404_for_non_members(client, sharing):
    url = reverse("intel:collection_detail", args=[sharing.collection.pk])
    assert signed_in(client, sharing.world.dept_analyst).get(url).status_code == 404
    response = signed_in(client, sharing.world.other_admin).get(url)
    assert response.status_code == 200
    recent = {r["obj"].stix_id for r in response.context["recent"] if r["obj"].stix_type == "indicator"}
    assert recent == {sharing.ids[Tlp.CLEAR], sharing.ids[Tlp.GREEN], sharing.ids[Tlp.AMBER]}
    assert response.context["can_manage"] is False and 'id="member-form"' not in html(response)
    assert 'data-member="MIN"' in html(response)


def test_owner_manages_members(client, sharing):
    w = sharing.world
    c = signed_in(client, w.coordinator)
    url = reverse("intel:collection_member", args=[sharing.collection.pk])
    assert 'id="member-form"' in html(c.get(reverse("intel:collection_detail", args=[sharing.collection.pk])))
    response = c.post(url, {"organization": str(w.department.pk), "can_read": "on"})
    assert response.status_code == 302
    row = CollectionMember.objects.get(collection=sharing.collection, organization=w.department)
    assert (row.can_read, row.can_write) == (True, False)
    # now the department reads AMBER content of the collection
    page = signed_in(client, w.dept_analyst).get(reverse("intel:object", args=[sharing.ids[Tlp.AMBER]]))
    assert page.status_code == 200
    c = signed_in(client, w.coordinator)
    assert c.post(url, {"organization": str(w.department.pk)}).status_code == 302  # both unticked: removed
    assert not CollectionMember.objects.filter(organization=w.department).exists()
    assert c.post(url, {"organization": str(w.ncsc.pk), "can_read": "on"}).status_code == 400  # the owner itself


def test_member_cannot_manage_and_nothing_changes(client, sharing):
    w = sharing.world
    count = AuditEntry.objects.filter(object_type__startswith="intel.").count()
    url = reverse("intel:collection_member", args=[sharing.collection.pk])
    c = signed_in(client, w.other_admin)  # a reader, administrator of PROV, not of the owner
    assert c.post(url, {"organization": str(w.province.pk), "can_read": "on", "can_write": "on"}).status_code == 403
    assert not CollectionMember.objects.get(organization=w.province).can_write
    c = signed_in(client, w.dept_analyst)  # not even a member: the collection does not exist for it
    assert c.post(url, {"organization": str(w.department.pk), "can_read": "on"}).status_code == 404
    assert AuditEntry.objects.filter(object_type__startswith="intel.").count() == count


def test_create_collection(client, world):
    c = signed_in(client, world.admin)
    form = c.get(reverse("intel:collection_create")).context["form"]
    assert set(form.fields["owner"].queryset.values_list("code", flat=True)) == {"MIN", "MIN-D1"}
    response = c.post(reverse("intel:collection_create"),
                      {"title": "Ministry partners", "kind": "group", "owner": str(world.ministry.pk)})
    assert response.status_code == 302
    created = Collection.objects.get()
    assert created.owner == world.ministry and created.alias == "ministry-partners"
    # a national collection is for the coordinator only
    response = c.post(reverse("intel:collection_create"),
                      {"title": "Fake national", "kind": "national", "owner": str(world.ministry.pk)})
    assert response.status_code == 403 and Collection.objects.count() == 1
    # another organization as owner is not a choice
    response = c.post(reverse("intel:collection_create"),
                      {"title": "Not mine", "kind": "group", "owner": str(world.province.pk)})
    assert response.status_code == 400 and Collection.objects.count() == 1
    # auditors do not manage collections
    assert signed_in(client, world.auditor).get(reverse("intel:collection_create")).status_code == 403
    assert signed_in(client, world.auditor).post(
        reverse("intel:collection_create"), {"title": "X", "kind": "group", "owner": str(world.ministry.pk)}
    ).status_code == 403
    assert Collection.objects.count() == 1


def test_the_create_page_offers_and_takes_only_the_isacs_the_user_may_see(client, world):
    from khien.registry.models import Isac

    foreign = Isac.objects.create(code="PROV-ISAC", name_vi="ISAC tỉnh", operator=world.province)
    own = Isac.objects.create(code="MIN-ISAC", name_vi="ISAC bộ", operator=world.ministry)
    page = signed_in(client, world.admin)
    url = reverse("intel:collection_create")
    offered = list(page.get(url).context["form"].fields["isac"].queryset)
    assert offered == [own]
    data = {"title": "ISAC feed", "kind": "isac", "owner": str(world.ministry.pk)}
    refused = page.post(url, {**data, "isac": str(foreign.pk)}, HTTP_ACCEPT_LANGUAGE="en")
    missing = page.post(url, {**data, "isac": "4c1f6f2e-0000-4000-8000-000000000000"}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == missing.status_code == 400
    assert refused.context["form"].errors == missing.context["form"].errors
    assert not Collection.objects.exists()
    assert page.post(url, {**data, "isac": str(own.pk)}).status_code == 302
