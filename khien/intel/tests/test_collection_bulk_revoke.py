"""Revoking from a collection's page: its "Recently added" list is the objects table of the search page (the same
include, the same "Revoke selected" confirmation page and rule: `services_versions.do_revoke_objects`). Only the
objects the user's organization created are tickable; the confirmation leads back to the collection; a refusal
(another organization's object, one TLP hides) revokes nothing."""
import pytest
from django.urls import reverse

from khien.intel import search, services_versions
from khien.intel.models import Tlp

from .test_bulk_revoke import _revoked, _state, bad_import, html  # noqa: F401 (bad_import: a fixture)
from .test_views import signed_in

pytestmark = pytest.mark.django_db


def _page(client, user, collection):
    signed_in(client, user).cookies["khien_language"] = "en"  # (signing in afresh forgets the cookies)
    response = client.get(reverse("intel:collection_detail", args=[collection.pk]))
    assert response.status_code == 200
    return html(response)


def _recent(page: str) -> str:
    return page.split('id="recent"')[1].split("</section>")[0]


def _tickable(page: str, stix_id: str) -> bool:
    return f'name="ids" value="{stix_id}"' in page


def test_the_producer_ticks_its_own_objects_in_the_recent_list(client, bad_import):
    s = bad_import
    recent = _recent(_page(client, s.world.analyst, s.collection))
    assert 'id="bulk-revoke"' in recent and 'id="revoke-selected"' in recent
    assert f'action="{reverse("intel:objects_revoke")}"' in recent
    for stix_id in s.ours + list(s.ids.values()):  # the bad import and MIN's five TLP levels
        assert _tickable(recent, stix_id), stix_id
    assert s.theirs in recent and not _tickable(recent, s.theirs)  # RESP's: listed, not tickable
    # the confirmation leads back to this collection's list
    assert f'name="next" value="{reverse("intel:collection_detail", args=[s.collection.pk])}#recent"' in recent


@pytest.mark.parametrize("who", ["auditor", "trainee", "coordinator", "other_admin"])
def test_who_may_revoke_nothing_here_sees_the_list_without_checkboxes(client, bad_import, who):
    """MIN's auditor and trainee (no write role), NCSC that owns the collection and PROV that reads it: none
    created these objects."""
    s = bad_import
    recent = _recent(_page(client, getattr(s.world, who), s.collection))
    assert s.ours[0] in recent  # listed
    assert 'name="ids"' not in recent and 'id="bulk-revoke"' not in recent and 'id="revoke-selected"' not in recent


def test_tlp_hides_what_a_reader_may_not_see_and_its_ids_revoke_nothing(client, bad_import):
    s = bad_import
    recent = _recent(_page(client, s.world.other_admin, s.collection))  # PROV reads C
    assert s.ids[Tlp.GREEN] in recent
    assert s.ids[Tlp.AMBER_STRICT] not in recent and s.ids[Tlp.RED] not in recent
    before = _state()
    answer = client.post(reverse("intel:objects_revoke"), {"ids": [s.ids[Tlp.RED]], "reason": "x"})
    assert answer.status_code == 404 and "Nothing was revoked" in html(answer)
    assert _state() == before


def test_revoking_the_ticked_objects_confirms_first_then_returns_to_the_collection(client, bad_import):
    s = bad_import
    page = _recent(_page(client, s.world.analyst, s.collection))
    back = f'{reverse("intel:collection_detail", args=[s.collection.pk])}#recent'
    assert f'value="{back}"' in page
    url = reverse("intel:objects_revoke")
    before = _state()
    confirm = client.get(url, {"ids": s.ours[:2], "next": back})  # the table's form: a GET, nothing changes
    assert confirm.status_code == 200 and _state() == before
    text = html(confirm)
    assert 'id="bulk-revoke-form"' in text and "Revoke 2 objects" in text and f'href="{back}"' in text

    done = client.post(url, {"ids": s.ours[:2], "reason": "Bad import into the national feed", "next": back})
    assert done.status_code == 200 and "2 objects revoked" in html(done) and f'href="{back}"' in html(done)
    assert _revoked(s.ours[0]) and _revoked(s.ours[1]) and not _revoked(s.ours[2])
    # back on the collection: the two are revoked and no longer tickable; the third still is
    recent = _recent(_page(client, s.world.analyst, s.collection))
    assert not _tickable(recent, s.ours[0]) and not _tickable(recent, s.ours[1]) and _tickable(recent, s.ours[2])
    assert recent.count(">revoked<") >= 2
    entry = services_versions.revocation(s.world.analyst, search.latest_visible(s.world.analyst, s.ours[0]))
    assert entry["reason"] == "Bad import into the national feed"


def test_another_organizations_object_among_the_ticked_ones_revokes_none(client, bad_import):
    s = bad_import
    _page(client, s.world.analyst, s.collection)
    before = _state()
    refused = client.post(reverse("intel:objects_revoke"), {"ids": s.ours + [s.theirs], "reason": "x"})
    assert refused.status_code == 403
    assert s.theirs in html(refused) and "Nothing was revoked" in html(refused)
    assert _state() == before
