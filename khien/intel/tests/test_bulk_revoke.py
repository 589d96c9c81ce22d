"""Bulk revocation (an analyst after a bad import): `services_versions.do_revoke_objects`, the REST API's
`POST /api/intel/objects/revoke/` and the "Revoke selected" flow of the objects table. All or nothing; only the
organization that created an object revokes it (the rule of `do_revoke_object`); an id the caller may not see is
answered exactly like an unknown one; revoked objects leave the blocklists and stop matching."""
import uuid

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from khien.core import audit
from khien.core.models import AuditEntry
from khien.intel import blocklists, services, services_versions
from khien.intel.models import StixObject, Tlp
from khien.telemetry.matcher import IndicatorMatcher

from .conftest import indicator
from .test_views import signed_in

pytestmark = pytest.mark.django_db

URL = "/api/intel/objects/revoke/"
VALUES = ["45.77.10.21", "45.77.10.22", "45.77.10.23"]  # public: not warning-listed, so blocklisted and matched


@pytest.fixture
def bad_import(sharing):
    """Three TLP:GREEN indicators MIN's analyst imported into C by mistake, one of RESP's in C (MIN sees it, did
    not create it) and one of PROV's in PROV's own collection (MIN does not see it)."""
    world = sharing.world
    ours = [indicator(v, tlp=Tlp.GREEN, name=f"Bad import {v}") for v in VALUES]
    services.do_add_objects(sharing.collection, ours, acting_user=world.analyst)
    theirs = indicator("45.77.10.30", tlp=Tlp.GREEN, name="RESP indicator")
    services.do_add_objects(sharing.collection, [theirs], acting_user=sharing.resp_writer)
    prov = services.do_create_collection({"title": "PROV feed", "owner": world.province}, acting_user=world.other_admin)
    hidden = indicator("45.77.10.31", tlp=Tlp.AMBER, name="PROV private")
    services.do_add_objects(prov, [hidden], acting_user=world.other_admin)
    sharing.ours = [o["id"] for o in ours]
    sharing.theirs, sharing.hidden = theirs["id"], hidden["id"]
    return sharing


def api(user, language="en"):
    client = APIClient()
    client.force_authenticate(user)
    client.cookies["khien_language"] = language
    return client


def _state():
    """Every stored version and every audit entry: what an all-or-nothing refusal leaves untouched."""
    return (list(StixObject.objects.order_by("pk").values_list("pk", "stix_id", "modified", "revoked")),
            AuditEntry.objects.filter(object_type__startswith="intel.").count())


def _revoked(stix_id) -> bool:
    return StixObject.objects.filter(stix_id=stix_id).order_by("-modified").first().revoked


def _blocklisted(user):
    return {v for _k, v in blocklists.values_for(user, blocklists.IP_KINDS)}


def test_the_producer_revokes_many_at_once_with_one_audit_entry_each(bad_import):
    s = bad_import
    reader = s.world.other_admin  # PROV reads C: its blocklists list MIN's values
    assert set(VALUES) <= _blocklisted(reader)
    assert IndicatorMatcher.load().match_event({"src_ip": VALUES[0]})
    entries_before = AuditEntry.objects.count()

    answer = api(s.world.analyst).post(URL, {"ids": s.ours, "reason": "Bad MISP import"}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"revoked": s.ours, "skipped": []}
    for stix_id in s.ours:
        new = StixObject.objects.filter(stix_id=stix_id).order_by("-modified").first()
        assert new.revoked and new.data["revoked"] is True and new.producer == s.world.ministry
        assert new.collection_entries.filter(collection=s.collection).exists()
        entry = AuditEntry.objects.get(object_type="intel.stixobject", object_id=str(new.pk))
        assert entry.after["revoked"] is True and entry.after["reason"] == "Bad MISP import"
        assert entry.actor_email == s.world.analyst.email and entry.before["revoked"] is False
        # the object's page says why, as for one revoked from its page
        assert services_versions.revocation(s.world.analyst, new)["reason"] == "Bad MISP import"
    revocations = AuditEntry.objects.filter(seq__gt=entries_before, object_type="intel.stixobject")
    assert revocations.count() == len(s.ours)  # one per object revoked
    assert audit.verify().ok  # the hash chain is whole
    # the newest versions are revoked: the values leave the blocklists and stop matching
    assert not set(VALUES) & _blocklisted(reader)
    assert IndicatorMatcher.load().match_event({"src_ip": VALUES[0]}) == []
    assert not _revoked(s.theirs)


def test_already_revoked_objects_are_skipped_and_said(bad_import):
    s = bad_import
    services_versions.do_revoke_object(s.ours[0], acting_user=s.world.analyst, reason="first")
    versions = StixObject.objects.filter(stix_id=s.ours[0]).count()
    answer = api(s.world.analyst).post(URL, {"ids": s.ours + [s.ours[1]]}, format="json")  # a repeat counts once
    assert answer.status_code == 200
    assert answer.json() == {"revoked": s.ours[1:], "skipped": [{"id": s.ours[0], "reason": "already_revoked"}]}
    assert StixObject.objects.filter(stix_id=s.ours[0]).count() == versions  # not revoked again
    again = api(s.world.analyst).post(URL, {"ids": s.ours}, format="json")
    assert again.json() == {"revoked": [], "skipped": [{"id": i, "reason": "already_revoked"} for i in s.ours]}


def test_another_organizations_object_refuses_the_whole_call(bad_import):
    s = bad_import
    before = _state()
    answer = api(s.world.analyst).post(URL, {"ids": s.ours + [s.theirs]}, format="json")
    assert answer.status_code == 403
    body = answer.json()
    assert body["code"] == "forbidden" and body["ids"] == [s.theirs] and s.theirs in body["detail"]
    assert "Nothing was revoked" in body["detail"]
    assert _state() == before  # nothing revoked, nothing audited
    # and RESP, which created it, may revoke it (and not MIN's)
    assert api(s.resp_writer).post(URL, {"ids": s.ours[:1]}, format="json").status_code == 403
    assert api(s.resp_writer).post(URL, {"ids": [s.theirs]}, format="json").json()["revoked"] == [s.theirs]


def test_an_invisible_id_is_answered_like_an_unknown_one_and_nothing_is_revoked(bad_import):
    s = bad_import
    unknown = f"indicator--{uuid.uuid4()}"
    before = _state()
    answers = {}
    for stix_id in (s.hidden, unknown):
        answer = api(s.world.analyst).post(URL, {"ids": s.ours + [stix_id]}, format="json")
        assert answer.status_code == 404
        body = answer.json()
        assert body["ids"] == [stix_id] and body["code"] == "not_found"
        answers[stix_id] = body["detail"].replace(stix_id, "ID")
    assert answers[s.hidden] == answers[unknown]  # the same words: nothing says the hidden one exists
    assert _state() == before
    # unknown ids are named before forbidden ones: which ids exist is not told by a 403
    answer = api(s.world.analyst).post(URL, {"ids": [s.theirs, unknown]}, format="json")
    assert answer.status_code == 404 and answer.json()["ids"] == [unknown]


@pytest.mark.parametrize("who", ["auditor", "trainee", "other_admin", "nobody", "responder"])
def test_who_did_not_create_the_objects_revokes_none(bad_import, who):
    """MIN's auditor and trainee see MIN's objects but may not write; PROV reads C; a person without an
    organization and RESP's responder see nothing of it (404, as for unknown ids)."""
    s = bad_import
    before = _state()
    answer = api(getattr(s.world, who)).post(URL, {"ids": s.ours}, format="json")
    assert answer.status_code in (403, 404)
    if answer.status_code == 404:
        assert answer.json()["ids"] == s.ours
    else:
        assert answer.json()["code"] in ("forbidden", "permission_denied") or "detail" in answer.json()
    assert _state() == before


def test_an_anonymous_caller_is_refused(bad_import):
    before = _state()
    assert APIClient().post(URL, {"ids": bad_import.ours}, format="json").status_code in (401, 403)
    assert _state() == before


def test_at_most_500_ids_and_bad_bodies_are_400(bad_import):
    s = bad_import
    client = api(s.world.analyst)
    before = _state()
    too_many = client.post(URL, {"ids": s.ours + [f"indicator--{uuid.uuid4()}" for _ in range(498)]}, format="json")
    assert too_many.status_code == 400 and too_many.json()["code"] == "too_many" and "500" in too_many.json()["detail"]
    # 500 is allowed (answered on the ids themselves: unknown ones here)
    assert client.post(URL, {"ids": s.ours + [f"indicator--{uuid.uuid4()}" for _ in range(497)]},
                       format="json").status_code == 404
    for body in ({}, {"ids": []}, {"ids": "indicator--x"}, {"ids": s.ours, "reason": "x" * 2001},
                 {"ids": s.ours, "revoked": True}):
        assert client.post(URL, body, format="json").status_code == 400, body
    assert _state() == before
    with pytest.raises(services_versions.Refused) as refused:
        services_versions.do_revoke_objects(s.ours * 200, acting_user=s.world.analyst)
    assert refused.value.code == "too_many"


def test_errors_are_in_the_language_of_the_request(bad_import):
    s = bad_import
    english = api(s.world.analyst, "en").post(URL, {}, format="json")
    vietnamese = api(s.world.analyst, "vi").post(URL, {}, format="json")
    assert english.status_code == vietnamese.status_code == 400
    assert english.json()["ids"] != vietnamese.json()["ids"]  # "This field is required." / its translation


def test_the_schema_documents_the_endpoint():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"][URL]["post"]
    assert {"200", "400", "403", "404"} <= set(operation["responses"])
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][request]["properties"]) == {"ids", "reason"}


# --- The pages ----------------------------------------------------------------------------------------------

def html(response):
    return response.content.decode()


def _search_page(client):
    return html(client.get(reverse("intel:search"), {"q": "Bad import"}))


def test_the_table_ticks_only_what_the_user_may_revoke(client, bad_import):
    s = bad_import
    client.cookies["khien_language"] = "en"
    page = html(signed_in(client, s.world.analyst).get(reverse("intel:search")))
    assert 'id="revoke-selected"' in page
    for stix_id in s.ours:
        assert f'name="ids" value="{stix_id}"' in page
    assert f'name="ids" value="{s.theirs}"' not in page  # RESP's: listed, not tickable
    assert s.theirs in page
    for user in (s.world.auditor, s.world.trainee):  # they may revoke none: the table as it was
        page = html(signed_in(client, user).get(reverse("intel:search")))
        assert s.ours[0] in page
        assert 'name="ids"' not in page and 'id="revoke-selected"' not in page and 'id="bulk-revoke"' not in page
    page = html(signed_in(client, s.world.other_admin).get(reverse("intel:search")))  # PROV: its own only
    assert f'name="ids" value="{s.hidden}"' in page and s.ours[0] in page
    assert not any(f'name="ids" value="{i}"' in page for i in s.ours + [s.theirs])


def test_the_page_flow_confirms_then_revokes_and_says_what_was_skipped(client, bad_import):
    s = bad_import
    services_versions.do_revoke_object(s.ours[2], acting_user=s.world.analyst)
    c = signed_in(client, s.world.analyst)
    c.cookies["khien_language"] = "en"
    url = reverse("intel:objects_revoke")
    back = reverse("intel:search") + "?q=Bad+import"
    before = _state()
    confirm = c.get(url, {"ids": s.ours, "next": back})  # the table's form: a GET, nothing changes
    assert confirm.status_code == 200 and _state() == before
    text = html(confirm)
    assert 'id="bulk-revoke-form"' in text and 'name="reason"' in text
    for value in VALUES[:2]:
        assert f"Bad import {value}" in text.split('id="to-revoke-list"')[1].split("</ul>")[0]
    assert f"Bad import {VALUES[2]}" in text.split('id="skipped-list"')[1]
    assert "Revoke 2 objects" in text and f'href="{back}"'.replace("&", "&amp;") in text

    done = c.post(url, {"ids": s.ours, "reason": "Bad MISP import", "next": back})
    assert done.status_code == 200
    text = html(done)
    assert 'id="bulk-revoke-result"' in text and "2 objects revoked" in text
    assert 'id="skipped-list"' in text
    assert all(_revoked(i) for i in s.ours)
    assert AuditEntry.objects.filter(object_type="intel.stixobject", after__reason="Bad MISP import").count() == 2
    # the search page: they are revoked, and no longer tickable
    assert 'name="ids"' not in _search_page(c)


def test_the_page_refuses_all_when_one_is_not_theirs_and_names_it(client, bad_import):
    s = bad_import
    c = signed_in(client, s.world.analyst)
    c.cookies["khien_language"] = "en"
    url = reverse("intel:objects_revoke")
    before = _state()
    refused = c.post(url, {"ids": s.ours + [s.theirs], "reason": "x"})
    assert refused.status_code == 403 and s.theirs in html(refused) and "Nothing was revoked" in html(refused)
    hidden = c.post(url, {"ids": s.ours + [s.hidden]})
    assert hidden.status_code == 404
    assert c.get(url).status_code == 400  # nothing ticked
    assert "Choose at least one object to revoke." in html(c.get(url))
    text = html(c.get(url, {"ids": s.ours, "next": "https://evil.example/"}))
    assert 'href="https://evil.example' not in text and 'value="https://evil.example' not in text
    assert f'href="{reverse("intel:search")}"' in text  # back to the search instead
    for user in (s.world.auditor, s.world.nobody):
        assert signed_in(client, user).post(url, {"ids": s.ours}).status_code in (403, 404)
    assert _state() == before
    client.logout()
    assert client.post(url, {"ids": s.ours}).status_code == 302  # to the sign-in page
    assert _state() == before
