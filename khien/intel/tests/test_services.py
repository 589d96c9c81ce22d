"""The intel services: adding objects all-or-nothing, versions, identities, collections and their audit."""
import uuid

import orjson
import pytest
from django.utils import translation

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry
from khien.intel import services
from khien.intel.models import (
    Collection,
    CollectionMember,
    CollectionObject,
    IndicatorValue,
    OrganizationIdentity,
    StixObject,
    StixRecipient,
    Tlp,
    identity_id_for,
)

from .conftest import assert_valid_stix, indicator


@pytest.fixture
def coll(world):
    c = services.do_create_collection({"title": "Ministry group", "owner": world.ministry}, acting_user=world.admin)
    services.do_set_collection_member(c, world.province, can_read=True, can_write=False, acting_user=world.admin)
    return c


def _counts():
    return (StixObject.objects.count(), CollectionObject.objects.count(), IndicatorValue.objects.count(),
            AuditEntry.objects.count())


def test_add_bundle_stores_versions_indexes_values_and_audits_once(world, coll):
    objs = [
        indicator("203.0.113.5", tlp=Tlp.GREEN),
        indicator("Evil.Example.COM", kind="domain-name"),
        indicator("2001:DB8::1", kind="ipv6-addr"),
        indicator("198.51.100.0/24"),
        indicator("http://bad.example/x", kind="url"),
        indicator("Bad@Example.com", kind="email-addr"),
        {**indicator("x"), "pattern": "[file:hashes.'SHA-256' = 'AABBCCDDEEFF00112233445566778899AABBCCDDEEFF00112233445566778899']"
                                      " OR [file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']"},
        {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
         "value": "198.51.100.3"},
    ]
    assert_valid_stix(objs)
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objs}
    audit_before = AuditEntry.objects.count()
    result = services.do_add_objects(coll, bundle, acting_user=world.analyst)
    assert (result.total, result.created, result.existing, result.added_to_collection) == (8, 8, 0, 8)
    assert AuditEntry.objects.count() == audit_before + 1
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry.object_id == str(coll.pk) and entry.after["created"] == 8
    # The producer's identity was stored with them (its own row is audited in the same entry).
    ministry_identity = identity_id_for(world.ministry.pk)
    assert sorted(entry.after["created_ids"]) == sorted([o["id"] for o in objs] + [ministry_identity])
    values = set(IndicatorValue.objects.values_list("kind", "value"))
    assert {("ipv4", "203.0.113.5"), ("domain", "evil.example.com"), ("ipv6", "2001:db8::1"),
            ("cidr", "198.51.100.0/24"), ("url", "http://bad.example/x"), ("email", "bad@example.com"),
            ("sha256", "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899"),
            ("md5", "d41d8cd98f00b204e9800998ecf8427e")} <= values
    green = StixObject.objects.get(stix_id=objs[0]["id"])
    assert green.tlp == Tlp.GREEN and green.producer == world.ministry
    unmarked = StixObject.objects.get(stix_id=objs[1]["id"])
    assert unmarked.tlp == Tlp.AMBER  # the producer's default
    # What the organization's users create carries its identity.
    assert unmarked.created_by_ref == identity_id_for(world.ministry.pk) == unmarked.data["created_by_ref"]
    assert OrganizationIdentity.objects.get(organization=world.ministry).stix_id == identity_id_for(world.ministry.pk)
    sco = StixObject.objects.get(stix_id=objs[-1]["id"])
    assert "created_by_ref" not in sco.data  # cyber-observables have no creator property
    assert_valid_stix(StixObject.objects.values_list("data", flat=True))
    # The collection serves the identity that created_by_ref names, as TLP:CLEAR, produced by the ministry.
    held = StixObject.objects.get(stix_id=ministry_identity, collection_entries__collection=coll)
    assert (held.tlp, held.producer, held.data) == (Tlp.CLEAR, world.ministry, services.identity_object(world.ministry))


def test_identity_is_deterministic():
    org_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert identity_id_for(org_id) == identity_id_for(str(org_id))
    assert identity_id_for(org_id).startswith("identity--")


def test_repost_does_not_duplicate_and_versions_coexist(world, coll, sharing):
    obj = indicator("203.0.113.9")
    services.do_add_objects(coll, [obj], acting_user=world.analyst)
    again = services.do_add_objects(coll, [obj, obj], acting_user=world.analyst)
    assert (again.created, again.existing, again.added_to_collection, again.already_in_collection) == (0, 1, 0, 1)
    assert StixObject.objects.filter(stix_id=obj["id"]).count() == 1
    # The same version sent to another collection is linked there, not stored twice.
    other = services.do_add_objects(sharing.collection, [obj], acting_user=world.analyst)
    assert (other.created, other.existing, other.added_to_collection) == (0, 1, 1)
    newer = {**obj, "modified": "2026-02-01T00:00:00.000Z", "confidence": 80}
    services.do_add_objects(coll, [newer], acting_user=world.analyst)
    versions = StixObject.objects.filter(stix_id=obj["id"]).order_by("modified")
    assert [v.confidence for v in versions] == [None, 80]


def test_default_tlp_of_the_producer(world, coll):
    services.do_set_default_tlp(world.ministry, Tlp.GREEN, acting_user=world.admin)
    obj = indicator("203.0.113.10")
    services.do_add_objects(coll, [obj], acting_user=world.analyst)
    assert StixObject.objects.get(stix_id=obj["id"]).tlp == Tlp.GREEN
    with pytest.raises(Forbidden):
        services.do_set_default_tlp(world.ministry, Tlp.CLEAR, acting_user=world.other_admin)


def test_red_recipients(world, coll):
    red, amber = indicator("203.0.113.11", tlp=Tlp.RED), indicator("203.0.113.12", tlp=Tlp.AMBER)
    services.do_add_objects(coll, [red, amber], acting_user=world.analyst, recipients=[world.province])
    assert list(StixRecipient.objects.values_list("object__stix_id", "organization")) == [(red["id"], world.province.pk)]


def test_write_without_right_is_refused_and_writes_nothing(world, coll):
    before = _counts()
    for user in (world.other_admin, world.responder, world.nobody, world.dept_analyst):
        with pytest.raises(Forbidden):
            services.do_add_objects(coll, [indicator()], acting_user=user)
    assert _counts() == before


@pytest.mark.parametrize("bad,fragment", [
    ({**indicator(), "pattern": "[ipv4-addr:value = "}, "attern"),
    ({"type": "x-unknown-thing", "spec_version": "2.1", "id": f"x-unknown-thing--{uuid.uuid4()}",
      "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"}, "extension"),
    ({**indicator(), "spec_version": "2.0"}, ""),
    ({**indicator(), "id": "not-an-id"}, ""),
    ({"type": "indicator", "id": f"indicator--{uuid.uuid4()}"}, ""),
    ("just a string", "JSON object"),
])
def test_invalid_objects_refuse_the_whole_submission(world, coll, bad, fragment):
    good = indicator("203.0.113.20")
    before = _counts()
    with pytest.raises(services.InvalidStix) as info, translation.override("en"):  # fragments are English
        services.do_add_objects(coll, [good, bad], acting_user=world.analyst)
    assert info.value.status == 422
    assert len(info.value.errors) == 1
    (key, messages), = info.value.errors.items()
    assert key == (bad["id"] if isinstance(bad, dict) and bad.get("id") else "#1")
    assert messages and fragment in " ".join(messages)
    assert _counts() == before


def test_every_error_is_reported(world, coll):
    bads = [{**indicator(), "pattern": "[broken"}, {**indicator(), "pattern": "[also broken"}]
    with pytest.raises(services.InvalidStix) as info:
        services.do_add_objects(coll, [indicator()] + bads, acting_user=world.analyst)
    assert set(info.value.errors) == {b["id"] for b in bads}


def test_custom_type_with_extension_definition_is_accepted(world, coll):
    ext = f"extension-definition--{uuid.uuid4()}"
    obj = {"type": "x-khien-note", "spec_version": "2.1", "id": f"x-khien-note--{uuid.uuid4()}",
           "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
           "extensions": {ext: {"extension_type": "new-sdo"}}}
    assert services.do_add_objects(coll, [obj], acting_user=world.analyst).created == 1


@pytest.mark.parametrize("payload", [{}, {"objects": []}, [], "text", 5, {"objects": "no"}])
def test_empty_or_shapeless_submissions_are_refused(world, coll, payload):
    with pytest.raises(services.InvalidStix):
        services.do_add_objects(coll, payload, acting_user=world.analyst)
    assert StixObject.objects.count() == 0


def test_create_collection_rights_and_audit(world):
    with pytest.raises(Forbidden):
        services.do_create_collection({"title": "X", "owner": world.ministry}, acting_user=world.other_admin)
    with pytest.raises(Forbidden):
        services.do_create_collection({"title": "X", "owner": world.ministry, "kind": "national"},
                                      acting_user=world.admin)
    with pytest.raises(Forbidden):
        services.do_create_collection({"title": "X", "owner": world.ministry}, acting_user=world.auditor)
    with pytest.raises(Refused):
        services.do_create_collection({"title": "", "owner": world.ministry}, acting_user=world.admin)
    assert Collection.objects.count() == 0
    a = services.do_create_collection({"title": "Shared feed", "owner": world.ministry}, acting_user=world.admin)
    b = services.do_create_collection({"title": "Shared feed", "owner": world.ministry}, acting_user=world.admin)
    assert (a.alias, b.alias) == ("shared-feed", "shared-feed-2")
    assert AuditEntry.objects.filter(object_type="intel.collection", object_id=str(a.pk), action="create").exists()


def test_isac_collection_takes_the_isac_members(world):
    from khien.registry.models import Isac

    isac = Isac.objects.create(code="FIN-ISAC", name_vi="ISAC tài chính", operator=world.ncsc)
    isac.members.set([world.ministry, world.province])
    with pytest.raises(Refused):
        services.do_create_collection({"title": "Fin", "owner": world.ministry, "kind": "isac", "isac": isac},
                                      acting_user=world.coordinator)
    c = services.do_create_collection({"title": "Fin", "owner": world.ncsc, "kind": "isac", "isac": isac},
                                      acting_user=world.coordinator)
    assert set(c.members.values_list("organization", "can_read", "can_write")) == {
        (world.ministry.pk, True, True), (world.province.pk, True, True)}


def test_set_collection_member(world, coll):
    with pytest.raises(Forbidden):
        services.do_set_collection_member(coll, world.responder_org, can_read=True, can_write=True,
                                          acting_user=world.other_admin)
    with pytest.raises(Refused):
        services.do_set_collection_member(coll, world.ministry, can_read=False, can_write=False,
                                          acting_user=world.admin)
    row = services.do_set_collection_member(coll, world.province, can_read=True, can_write=True, acting_user=world.admin)
    assert (row.can_read, row.can_write) == (True, True)
    assert services.do_set_collection_member(coll, world.province, can_read=False, can_write=False,
                                             acting_user=world.admin) is None
    assert not CollectionMember.objects.filter(collection=coll).exists()
    actions = list(AuditEntry.objects.filter(object_type="intel.collectionmember").order_by("seq")
                   .values_list("action", flat=True))
    assert actions == ["create", "update", "delete"]


def test_import_stix_command(world, coll, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    good = tmp_path / "good.json"
    good.write_bytes(orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                   "objects": [indicator("203.0.113.77", tlp=Tlp.RED)]}))
    call_command("import_stix", str(good), collection=coll.alias, user=world.analyst.email, recipient=["PROV"])
    obj = StixObject.objects.get(stix_type="indicator")
    assert obj.tlp == Tlp.RED and list(obj.recipients.values_list("organization__code", flat=True)) == ["PROV"]
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps([{**indicator(), "pattern": "[nope"}]))
    with pytest.raises(CommandError):
        call_command("import_stix", str(bad), collection=coll.alias, user=world.analyst.email)
    with pytest.raises(CommandError):  # no write right
        call_command("import_stix", str(good), collection=coll.alias, user=world.other_admin.email)
    with pytest.raises(CommandError):
        call_command("import_stix", str(tmp_path / "missing.json"), collection=coll.alias, user=world.analyst.email)
    assert StixObject.objects.count() == 2  # the indicator and the ministry's identity


def test_superseded_flags_follow_the_newest_version_per_collection(world, coll, sharing):
    first = indicator("203.0.113.88", modified="2026-01-01T00:00:00.000Z")
    third = {**first, "modified": "2026-03-01T00:00:00.000Z"}
    second = {**first, "modified": "2026-02-01T00:00:00.000Z"}

    def flags(collection):
        return dict(CollectionObject.objects.filter(collection=collection, object__stix_id=first["id"])
                    .values_list("object__data__modified", "superseded"))

    services.do_add_objects(coll, [first], acting_user=world.analyst)
    assert flags(coll) == {first["modified"]: False}
    services.do_add_objects(coll, [third], acting_user=world.analyst)
    services.do_add_objects(coll, [second], acting_user=world.analyst)
    assert flags(coll) == {first["modified"]: True, second["modified"]: True, third["modified"]: False}
    # Per collection: another collection holding only the oldest version has it as its newest.
    services.do_add_objects(sharing.collection, [first], acting_user=world.analyst)
    assert flags(sharing.collection) == {first["modified"]: False}


def test_identity_object_of_an_organization(world):
    obj = services.identity_object(world.ministry)
    assert_valid_stix([obj])
    assert obj["id"] == identity_id_for(world.ministry.pk) and obj["identity_class"] == "organization"
    assert services.identity_object(world.ministry) == obj  # stable: the same version every time
