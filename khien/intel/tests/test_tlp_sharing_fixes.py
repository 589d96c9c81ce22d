"""TLP enforcement fixes: recipients only from the producer, no re-sharing of another organization's
AMBER/AMBER+STRICT/RED version, MISP per-attribute TLP carried to the observables, relationships hidden when an
end is hidden, and the "Warnings you can follow" list limited to the warnings one's organizations sent."""
import json
import uuid

import pytest
from django.urls import reverse

from khien.conftest import _org, _user
from khien.core.roles import Role
from khien.intel import search, services, tlp
from khien.intel.models import Collection, CollectionObject, StixObject, StixRecipient, Tlp
from khien.intel.tlp import TLP_MARKING

from .conftest import indicator
from .test_views import signed_in
from .test_warnings import _issue, land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


# --- 5. Warnings you can follow: only the warnings one's organizations sent --------------------------------


def test_warnings_you_can_follow_lists_only_the_warnings_sent(client, land):
    w = land.world
    received = _issue(w.coordinator, data={"tlp": "red"}, organizations=[w.ministry], auto_match=False,
                      title="Received by MIN")
    sent = _issue(w.admin, organizations=[w.province], isacs=[], auto_match=False, title="Sent by MIN")
    assert sent.organization_id == w.ministry.pk
    page = signed_in(client, w.admin).get(reverse("intel:warning_inbox"))
    assert page.status_code == 200
    followed = [x.pk for x in page.context["sent"]]
    assert followed == [sent.pk]  # not the warning MIN only received (its targets are the coordinator's)
    assert [r["target"].warning_id for r in page.context["rows"]] == [received.pk]  # still in its inbox
    # The coordinator follows every warning.
    page = signed_in(client, w.coordinator).get(reverse("intel:warning_inbox"))
    assert {x.pk for x in page.context["sent"]} == {sent.pk, received.pk}


# --- 3. MISP: what a tlp:red attribute is made of is RED too ----------------------------------------------


def test_misp_red_attribute_makes_its_observables_red(world, sharing):
    import orjson
    from django.core.files.uploadedfile import SimpleUploadedFile
    from pymisp import MISPEvent

    from khien.intel.exchange import misp

    event = MISPEvent()
    event.info, event.distribution = "Synthetic event", 1
    event.add_tag("tlp:green")
    event.add_attribute("ip-dst", "203.0.113.9", to_ids=False).add_tag("tlp:red")
    event.add_attribute("ip-dst", "203.0.113.10", to_ids=True).add_tag("tlp:red")
    event.add_attribute("domain", "green.demo.khien.vn", to_ids=False)
    misp.import_misp(sharing.collection, SimpleUploadedFile("e.json", event.to_json().encode()),
                     acting_user=world.analyst, recipients=[sharing.rec_org])
    levels = {}
    for row in StixObject.objects.filter(producer=world.ministry).exclude(stix_type="identity"):
        levels.setdefault(row.stix_type, set()).add((row.tlp, orjson.dumps(row.data).decode()))
    red_addresses = [t for t, text in levels["ipv4-addr"] if "203.0.113.9" in text or "203.0.113.10" in text]
    assert red_addresses and set(red_addresses) == {Tlp.RED}
    assert {t for t, text in levels["network-traffic"]} == {Tlp.RED}
    assert {t for t, text in levels["observed-data"] if "domain-name" not in text} == {Tlp.RED}
    assert {t for t, _ in levels["domain-name"]} == {Tlp.GREEN}  # the GREEN attribute stays GREEN
    assert {t for t, _ in levels["grouping"]} == {Tlp.GREEN}  # pointing at RED objects does not raise it
    # Another organization (a GREEN reader) does not get the RED address.
    visible = tlp.visible_versions(world.other_admin).filter(stix_type="ipv4-addr")
    assert not [o for o in visible if o.data.get("value") in ("203.0.113.9", "203.0.113.10")]


# --- 4. A relationship is hidden from readers who cannot see one of its ends -------------------------------


def _relationship(source, target, level=Tlp.GREEN):
    return {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
            "created": "2026-01-02T00:00:00.000Z", "modified": "2026-01-02T00:00:00.000Z",
            "relationship_type": "indicates", "source_ref": source, "target_ref": target,
            "object_marking_refs": [TLP_MARKING[level]]}


MALWARE = {"type": "malware", "spec_version": "2.1", "id": "malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
           "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "Synthetic",
           "is_family": True, "object_marking_refs": [TLP_MARKING[Tlp.GREEN]]}


def test_relationship_to_a_hidden_object_is_hidden_everywhere(world, sharing, api, client, make_token):
    red_id = sharing.ids[Tlp.RED]  # MIN's RED indicator, REC its only recipient
    to_red = _relationship(red_id, MALWARE["id"])
    to_green = _relationship(sharing.ids[Tlp.GREEN], MALWARE["id"])
    to_elsewhere = _relationship(sharing.ids[Tlp.GREEN], "attack-pattern--7e33a43e-e34b-40ec-89da-36c9bb2cacd5")
    services.do_add_objects(sharing.collection, [MALWARE, to_red, to_green, to_elsewhere], acting_user=world.analyst)
    everyone = {to_green["id"], to_elsewhere["id"]}  # an end stored nowhere does not hide it

    def seen(user):
        return set(tlp.visible_versions(user).filter(stix_type="relationship").values_list("stix_id", flat=True))

    # The producer and the RED recipient see it; PROV (a reader of the collection) does not, nor its id.
    assert seen(world.analyst) == everyone | {to_red["id"]}
    assert seen(sharing.recipient) == everyone | {to_red["id"]}
    assert seen(world.other_admin) == everyone
    # In the collection (TAXII's condition) the same as everywhere.
    content = tlp.collection_content_q(world.other_admin, sharing.collection, prefix="object__")
    in_collection = set(CollectionObject.objects.filter(collection=sharing.collection, object__stix_type="relationship")
                        .filter(content).values_list("object__stix_id", flat=True))
    assert in_collection == everyone
    # REST: the list and the object itself.
    prov = api(world.other_admin)
    listed = prov.get("/api/intel/objects/?type=relationship").json()["results"]
    assert {o["stix_id"] for o in listed} == everyone
    assert prov.get(f"/api/intel/objects/{to_red['id']}/").status_code == 404
    # TAXII: the collection's objects.
    from .conftest import TAXII
    url = f"/taxii2/api/collections/{sharing.collection.pk}/objects/"
    response = client.get(url, HTTP_ACCEPT=TAXII,
                          HTTP_AUTHORIZATION=f"Token {make_token(world.other_admin)}")
    assert response.status_code == 200, response.content
    ids = {o["id"] for o in response.json().get("objects", [])}
    assert to_green["id"] in ids and to_red["id"] not in ids and red_id not in response.content.decode()
    # The malware's page: the relationship to the hidden indicator is not listed.
    page = signed_in(client, world.other_admin).get(reverse("intel:object", args=[MALWARE["id"]]))
    assert page.status_code == 200 and red_id not in page.content.decode()
    assert {r["rel"].stix_id for r in search.relationships(world.other_admin, MALWARE["id"])} == {to_green["id"]}


# --- 1. Only the producer names the recipients of a TLP:RED version ---------------------------------------


def _own_collection(api, user, owner, *members):
    """A collection of `owner` created through the API, each of `members` reading it."""
    response = api(user).post("/api/intel/collections/", {"title": f"Own {uuid.uuid4().hex[:6]}",
                                                         "kind": "group", "owner": owner.code}, format="json")
    assert response.status_code == 201, response.content
    collection = Collection.objects.get(pk=response.json()["id"])
    for org in members:
        services.do_set_collection_member(collection, org, can_read=True, can_write=False, acting_user=user)
    return collection


def _recipients(stix_id):
    return set(StixRecipient.objects.filter(object__stix_id=stix_id).values_list("organization__code", flat=True))


def test_a_recipient_cannot_add_recipients_to_another_organizations_red_version(world, sharing, api):
    third = _org("THIRD", "enterprise")
    third_user = _user("analyst@third.test.vn", third, Role.ORG_ANALYST)
    red = sharing.objects[Tlp.RED]  # MIN's, naming REC
    theirs = _own_collection(api, sharing.recipient, sharing.rec_org)
    before = (StixObject.objects.count(), CollectionObject.objects.count(), StixRecipient.objects.count())
    response = api(sharing.recipient).post(f"/api/intel/collections/{theirs.pk}/objects/",
                                           {"bundle": {"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                                       "objects": [red]}, "recipients": ["THIRD"]}, format="json")
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "not_producer" and red["id"] in body["errors"]
    assert (StixObject.objects.count(), CollectionObject.objects.count(), StixRecipient.objects.count()) == before
    assert _recipients(red["id"]) == {"REC"}
    assert api(third_user).get(f"/api/intel/objects/{red['id']}/").status_code == 404

    # Nor through a collection that already holds it: REC given the write right on C sends it with recipients.
    services.do_set_collection_member(sharing.collection, sharing.rec_org, can_read=False, can_write=True,
                                      acting_user=world.coordinator)
    with pytest.raises(services.SharingRefused):
        services.do_add_objects(sharing.collection, [red], acting_user=sharing.recipient, recipients=[third])
    assert _recipients(red["id"]) == {"REC"}
    # Without recipients it is only "already in the collection": nothing changes.
    result = services.do_add_objects(sharing.collection, [red], acting_user=sharing.recipient)
    assert (result.created, result.already_in_collection) == (0, 1) and _recipients(red["id"]) == {"REC"}

    # The producer itself still names more recipients of its version.
    services.do_add_objects(sharing.collection, [red], acting_user=world.analyst, recipients=[third])
    assert _recipients(red["id"]) == {"REC", "THIRD"}
    assert api(third_user).get(f"/api/intel/objects/{red['id']}/").status_code == 200


# --- 2. Another organization's AMBER / AMBER+STRICT / RED version is not shared on ---------------------------


@pytest.mark.parametrize("level", [Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED])
def test_a_reader_cannot_reshare_another_organizations_version(world, sharing, api, level):
    third = _org("THIRD", "enterprise")
    third_user = _user("analyst@third.test.vn", third, Role.ORG_ANALYST)
    # The coordinator (owner of C) sees all of MIN's versions but the RED one; REC sees the RED one.
    resharer = sharing.recipient if level == Tlp.RED else world.coordinator
    owner = sharing.rec_org if level == Tlp.RED else world.ncsc
    obj = sharing.objects[level]
    assert tlp.visible_versions(resharer).filter(stix_id=obj["id"]).exists()
    theirs = _own_collection(api, resharer, owner, third)
    before = (StixObject.objects.count(), CollectionObject.objects.count())
    response = api(resharer).post(f"/api/intel/collections/{theirs.pk}/objects/",
                                  {"bundle": {"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                              "objects": [obj]}}, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "not_producer" and obj["id"] in response.json()["errors"]
    assert (StixObject.objects.count(), CollectionObject.objects.count()) == before
    assert not tlp.visible_versions(third_user).filter(stix_id=obj["id"]).exists()
    assert api(third_user).get(f"/api/intel/objects/{obj['id']}/").status_code == 404


def test_green_versions_and_ones_own_versions_are_shared_on(world, sharing, api):
    third = _org("THIRD", "enterprise")
    third_user = _user("analyst@third.test.vn", third, Role.ORG_ANALYST)
    theirs = _own_collection(api, world.coordinator, world.ncsc, third)
    result = services.do_add_objects(theirs, [sharing.objects[Tlp.CLEAR], sharing.objects[Tlp.GREEN]],
                                     acting_user=world.coordinator)
    assert result.added_to_collection == 2
    # MIN shares its own AMBER version into a collection of its own with THIRD reading it.
    mine = _own_collection(api, world.admin, world.ministry, third)
    services.do_add_objects(mine, [sharing.objects[Tlp.AMBER]], acting_user=world.analyst)
    assert tlp.visible_versions(third_user).filter(stix_id=sharing.ids[Tlp.AMBER]).exists()


def test_the_refusal_reaches_taxii_and_file_imports(world, sharing, api, client, make_token):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from khien.intel.exchange import stix_import
    from khien.intel.exchange.common import ImportRejected

    from .conftest import TAXII

    third = _org("THIRD", "enterprise")
    theirs = _own_collection(api, world.coordinator, world.ncsc, third)
    amber = sharing.objects[Tlp.AMBER]
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [amber]}
    with pytest.raises(ImportRejected) as exc:
        stix_import.import_stix(theirs, SimpleUploadedFile("b.json", json.dumps(bundle).encode()),
                                acting_user=world.coordinator)
    assert exc.value.report.rejected
    response = client.post(f"/taxii2/api/collections/{theirs.pk}/objects/", json.dumps({"objects": [amber]}),
                           content_type=TAXII, HTTP_ACCEPT=TAXII,
                           HTTP_AUTHORIZATION=f"Token {make_token(world.coordinator)}")
    assert response.status_code == 202, response.content
    status = response.json()
    assert status["success_count"] == 0 and status["failures"][0]["id"] == amber["id"]
    assert not CollectionObject.objects.filter(collection=theirs, object__stix_id=amber["id"]).exists()


def test_a_federation_pull_leaves_out_a_platform_organizations_amber_version(world, sharing):
    from khien.intel import federation
    from khien.intel.models_federation import FeedStatus

    from .test_federation import _PartnerServer, _subscribe_partner

    third = _org("THIRD", "enterprise")
    theirs = services.do_create_collection({"title": "Feed", "owner": world.ncsc}, acting_user=world.coordinator)
    services.do_set_collection_member(theirs, third, can_read=True, can_write=False, acting_user=world.coordinator)
    vendor = indicator("192.0.2.240", created_by_ref="identity--0c1a1f9e-0000-4000-8000-00000000a002")
    partner = _PartnerServer([([sharing.objects[Tlp.AMBER], sharing.objects[Tlp.GREEN], vendor],
                               "2026-03-01T00:00:00.000Z")])
    try:
        sub = federation.do_pull(_subscribe_partner(partner, theirs, world.coordinator, "mirror"))
    finally:
        partner.close()
    assert sub.last_status == FeedStatus.OK, sub.last_error
    held = set(CollectionObject.objects.filter(collection=theirs).values_list("object__stix_id", flat=True))
    assert sharing.ids[Tlp.GREEN] in held and vendor["id"] in held
    assert sharing.ids[Tlp.AMBER] not in held  # MIN's AMBER version: only MIN shares it on
