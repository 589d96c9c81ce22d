"""Correct and revoke an indicator from its page (walkthrough 2026-12-05): each is a NEW version stored
through `services.do_add_objects` (the REST API's path), only for the organization that created the object;
a revoked indicator stops matching and leaves the blocklists."""
import pytest
from django.urls import reverse
from django.utils import translation

from khien.core.models import AuditEntry
from khien.intel import blocklists, services, services_versions
from khien.intel.models import IndicatorValue, StixObject, Tlp
from khien.telemetry.matcher import IndicatorMatcher

from .conftest import indicator
from .test_views import signed_in

pytestmark = pytest.mark.django_db


def html(response):
    return response.content.decode()


VALUE = "45.77.10.20"  # public: not on a warning list, so blocklisted and matched


@pytest.fixture
def listed(sharing):
    """A TLP:GREEN indicator of MIN in C whose value is on the blocklists and matched by the SOC matcher."""
    obj = indicator(VALUE, tlp=Tlp.GREEN, name="C2 at a VPS")
    services.do_add_objects(sharing.collection, [obj], acting_user=sharing.world.analyst)
    return obj["id"]


def _versions(stix_id):
    return list(StixObject.objects.filter(stix_id=stix_id).order_by("modified")
                .values_list("pk", "modified", "revoked", "data_text"))


def test_the_producer_sees_revoke_and_correct_others_do_not(client, sharing):
    world = sharing.world
    url = reverse("intel:object", args=[sharing.ids[Tlp.GREEN]])
    producer = html(signed_in(client, world.analyst).get(url))
    assert 'id="revoke-link"' in producer and 'id="correct-link"' in producer
    assert "only through the REST API" not in producer and "REST API, TAXII or a STIX import" not in producer
    for user in (world.other_admin, sharing.resp_writer, world.coordinator):  # reader, write-only member, owner
        page = html(signed_in(client, user).get(url))
        assert 'id="revoke-link"' not in page and 'id="correct-link"' not in page


def test_revoke_stores_a_new_version_with_the_reason_in_the_audit(client, sharing, listed):
    world = sharing.world
    stix_id, value = listed, VALUE
    before = _versions(stix_id)
    assert value in {v for _k, v in blocklists.values_for(world.other_admin, blocklists.IP_KINDS)}
    assert IndicatorMatcher.load().match_event({"src_ip": value})

    c = signed_in(client, world.analyst)
    url = reverse("intel:object_revoke", args=[stix_id])
    assert 'data-confirm=' in html(c.get(url))  # a confirmation first
    response = c.post(url, {"reason": "False positive: a CDN address"})
    assert response.status_code == 302
    after = _versions(stix_id)
    assert after[:len(before)] == before  # the stored version is untouched
    assert len(after) == len(before) + 1 and after[-1][2] is True and after[-1][1] > before[-1][1]
    new = StixObject.objects.get(pk=after[-1][0])
    assert new.data["revoked"] is True and new.data["id"] == stix_id and new.producer == world.ministry
    assert new.collection_entries.filter(collection=sharing.collection).exists()
    entry = AuditEntry.objects.filter(object_type="intel.stixobject", object_id=str(new.pk)).get()
    assert entry.after["reason"] == "False positive: a CDN address" and entry.actor_email == world.analyst.email
    # the newest version is revoked: it leaves the blocklists and stops matching
    assert value not in {v for _k, v in blocklists.values_for(world.other_admin, blocklists.IP_KINDS)}
    assert IndicatorMatcher.load().match_event({"src_ip": value}) == []
    page = html(c.get(reverse("intel:object", args=[stix_id])))
    assert 'id="revoke-link"' not in page and 'id="correct-link"' not in page
    # a revoked object is not revoked again, nor corrected (409, nothing stored)
    assert c.post(url, {"reason": "again"}).status_code == 409
    assert c.post(reverse("intel:indicator_correct", args=[stix_id]),
                  {"name": "x", "value_kind": "ipv4", "value": "192.0.2.1"}).status_code == 409
    assert _versions(stix_id) == after


@pytest.mark.parametrize("who", ["reader", "write-only member", "collection owner"])
def test_other_organizations_may_neither_revoke_nor_correct(client, sharing, who):
    world = sharing.world
    user = {"reader": world.other_admin, "write-only member": sharing.resp_writer,
            "collection owner": world.coordinator}[who]
    stix_id = sharing.ids[Tlp.AMBER]
    before = _versions(stix_id)
    c = signed_in(client, user)
    revoke, correct = (reverse("intel:object_revoke", args=[stix_id]),
                       reverse("intel:indicator_correct", args=[stix_id]))
    expected = 404 if who == "write-only member" else 403  # RESP cannot even read C
    assert c.get(revoke).status_code == expected and c.get(correct).status_code == expected
    assert c.post(revoke, {"reason": "mine now"}).status_code == expected
    assert c.post(correct, {"name": "Hijacked", "value_kind": "ipv4", "value": "192.0.2.9"}).status_code == expected
    assert _versions(stix_id) == before
    assert not AuditEntry.objects.filter(object_type="intel.stixobject", actor_email=user.email).exists()


def test_the_service_refuses_another_organization(sharing):
    world = sharing.world
    stix_id = sharing.ids[Tlp.GREEN]
    before = _versions(stix_id)
    from khien.core.errors import Forbidden

    with pytest.raises(Forbidden):
        services_versions.do_revoke_object(stix_id, acting_user=world.other_admin)
    with pytest.raises(Forbidden):
        services_versions.do_correct_indicator(stix_id, {"name": "x"}, acting_user=world.coordinator)
    assert _versions(stix_id) == before


def test_correct_is_prefilled_and_stores_a_new_version(client, sharing, listed):
    world = sharing.world
    stix_id, old_value = listed, VALUE
    before = _versions(stix_id)
    c = signed_in(client, world.analyst)
    url = reverse("intel:indicator_correct", args=[stix_id])
    form = c.get(url).context["form"]
    assert form.initial["name"] == "C2 at a VPS"
    assert (form.initial["value_kind"], form.initial["value"]) == ("ipv4", old_value)
    with translation.override("en"):
        bad = c.post(url, {"name": "", "value_kind": "ipv4", "value": "not an ip"})
    assert bad.status_code == 400 and _versions(stix_id) == before
    response = c.post(url, {"name": "Corrected C2", "description": "Moved", "value_kind": "ipv4",
                            "value": "45.77.10.44", "confidence": "40", "labels": "C2, apt",
                            "valid_until": "2099-01-01T00:00"})
    assert response.status_code == 302
    after = _versions(stix_id)
    assert after[:len(before)] == before and len(after) == len(before) + 1
    new = StixObject.objects.get(pk=after[-1][0])
    assert new.data["name"] == "Corrected C2" and new.data["pattern"] == "[ipv4-addr:value = '45.77.10.44']"
    assert new.confidence == 40 and new.labels == ["c2", "apt"] and new.valid_until.year == 2098  # 2099-01-01 00:00 in Vietnam
    assert new.tlp == Tlp.GREEN and not new.revoked
    assert new.data["created"] == "2026-01-01T00:00:00.000Z"
    assert set(IndicatorValue.objects.filter(object=new).values_list("value", flat=True)) == {"45.77.10.44"}
    # the blocklists follow the newest version: the old value leaves, the new one enters
    listed = {v for _k, v in blocklists.values_for(world.analyst, blocklists.IP_KINDS)}
    assert "45.77.10.44" in listed and old_value not in listed
    assert AuditEntry.objects.filter(object_type="intel.stixobject", object_id=str(new.pk)).get() \
        .after["corrected"] == ["confidence", "description", "labels", "name", "pattern", "valid_until"]
    # nothing changed: refused, nothing stored
    same = c.get(url).context["form"].initial
    post = {k: v for k, v in same.items() if v is not None}
    assert c.post(url, post).status_code == 400 and len(_versions(stix_id)) == len(after)


def test_a_red_correction_names_the_recipients_again(sharing):
    world = sharing.world
    stix_id = sharing.ids[Tlp.RED]
    new = services_versions.do_correct_indicator(stix_id, {"name": "Renamed red"}, acting_user=world.analyst)
    assert list(new.recipients.values_list("organization__code", flat=True)) == ["REC"]
    assert StixObject.objects.filter(stix_id=stix_id).count() == 2
