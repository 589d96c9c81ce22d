"""The TLP matrix through the web pages: each level × each relation, granted exactly where `tlp.py` says.

For every (relation, level): the object page and its STIX download answer 200
where the table grants and 404 elsewhere; a value search shows the indicator
only where granted; the recent-objects list and the collection page agree.
Anonymous callers are sent to the sign-in page and get nothing.
"""
import pytest
from django.urls import reverse

from khien.intel import tlp
from khien.intel.models import StixObject, Tlp

from .test_tlp import EXPECTED
from .test_views import signed_in

pytestmark = pytest.mark.django_db

VALUES = {level: f"198.51.100.{n}" for n, level in enumerate(Tlp.values, start=1)}  # as in the `sharing` fixture
CASES = [(relation, level) for relation in EXPECTED for level in Tlp.values]


@pytest.mark.parametrize("relation,level", CASES)
def test_object_page_and_download(client, sharing, relation, level):
    user = sharing.users[relation]
    granted = level in EXPECTED[relation]
    assert tlp.can_see(user, StixObject.objects.get(stix_id=sharing.ids[level])) == granted  # the module agrees
    c = signed_in(client, user)
    page = c.get(reverse("intel:object", args=[sharing.ids[level]]))
    download = c.get(reverse("intel:object_download", args=[sharing.ids[level]]))
    if user is None:
        assert page.status_code == 302 and "/accounts/login/" in page["Location"]
        assert download.status_code == 302
        return
    assert page.status_code == (200 if granted else 404)
    assert download.status_code == (200 if granted else 404)
    if granted:
        assert sharing.ids[level] in download.content.decode()
    else:
        assert VALUES[level] not in page.content.decode()


@pytest.mark.parametrize("relation,level", CASES)
def test_value_search(client, sharing, relation, level):
    user = sharing.users[relation]
    c = signed_in(client, user)
    response = c.get(reverse("intel:search"), {"q": VALUES[level]})
    if user is None:
        assert response.status_code == 302
        return
    assert response.status_code == 200
    found = [r.obj.stix_id for g in response.context["groups"] for r in g.rows]
    granted = level in EXPECTED[relation]
    assert found == ([sharing.ids[level]] if granted else [])
    assert (sharing.ids[level] in response.content.decode()) == granted


@pytest.mark.parametrize("relation", list(EXPECTED))
def test_recent_list_and_text_search_follow_the_table(client, sharing, relation):
    user = sharing.users[relation]
    c = signed_in(client, user)
    by_id = {v: k for k, v in sharing.ids.items()}
    for params in ({}, {"q": "Test indicator"}, {"type": "indicator"}):
        response = c.get(reverse("intel:search"), params)
        if user is None:
            assert response.status_code == 302
            continue
        listed = {by_id[r["obj"].stix_id] for r in response.context["rows"] if r["obj"].stix_id in by_id}
        assert listed == EXPECTED[relation], params


C, G, A, AS, R = Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED
# What the collection page lists of the fixture's collection (None: the collection is a 404 for them).
IN_COLLECTION = {
    "producer": {C, G, A, AS, R},
    "collection owner": {C, G, A, AS},
    "collection member": {C, G, A},
    "write-only member": set(),          # it only gets back what its own organizations produced
    "named recipient": None,             # not a member: sees the RED object elsewhere, not the collection
    "other organization (a unit of the producer)": None,
    "signed in, no organization": None,
}


@pytest.mark.parametrize("relation", [r for r in EXPECTED if r != "anonymous"])
def test_collection_page_follows_the_table(client, sharing, relation):
    user = sharing.users[relation]
    response = signed_in(client, user).get(reverse("intel:collection_detail", args=[sharing.collection.pk]))
    if IN_COLLECTION[relation] is None:
        assert response.status_code == 404
        return
    assert response.status_code == 200
    by_id = {v: k for k, v in sharing.ids.items()}
    listed = {by_id[r["obj"].stix_id] for r in response.context["recent"] if r["obj"].stix_id in by_id}
    assert listed == IN_COLLECTION[relation]


def test_anonymous_gets_no_page(client, sharing, settings):
    settings.KHIEN_PUBLIC_CLEAR_FEED = True  # even with the public CLEAR feed on: the pages are for signed-in users
    for url in (reverse("intel:search"), reverse("intel:object", args=[sharing.ids[Tlp.CLEAR]]),
                reverse("intel:collection_list"), reverse("intel:collection_detail", args=[sharing.collection.pk]),
                reverse("intel:warning_inbox"), reverse("intel:allowlist")):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
