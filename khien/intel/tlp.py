"""TLP 2.0: the one module that decides who may see a stored STIX object version.

REST API, TAXII, exports, blocklists and search all ask here; nothing else
filters intelligence by TLP or by collection rights.

Who sees an object version (the "organizations of a user" are the
organizations the user is a member of, see below):

=================  ==============================================================
TLP                visible to
=================  ==============================================================
CLEAR              anyone signed in; anonymous callers too, but only when
                   ``KHIEN_PUBLIC_CLEAR_FEED`` is true (through TAXII: from
                   the collections marked public)
GREEN              every organization on the platform (any signed-in user with at
                   least one membership)
AMBER              the producer, and the organizations that may read (owner, or
                   member with ``can_read``) a collection holding the version
AMBER+STRICT       the producer, and the owner of a collection holding the version
RED                the producer, and the organizations named as recipients
=================  ==============================================================

- The producer is the organization whose user submitted the version. Only the producer links an AMBER,
  AMBER+STRICT or RED version into further collections or names its recipients (`services._reshared_versions`):
  a reader cannot widen who sees it.
- A relationship is visible only when each of its ends is stored nowhere on the platform or visible by this
  table (`_relationship_ends_q`): it would otherwise name an object the reader may not see.
- The national coordinator has no special right here: it is an organization
  like the others. It sees GREEN, and AMBER content of the collections it owns
  or reads, but AMBER+STRICT and RED only as producer, collection owner
  (AMBER+STRICT) or named recipient (RED).
- TLP is about *organizations*, not organization trees: a user's
  organizations are exactly the organizations of their memberships, NOT their
  descendants. A ministry analyst does not see the RED objects addressed to
  one of the ministry's departments (decision 0006).
- An unmarked object takes its producer's default TLP (AMBER unless the
  producer set another), decided when it is stored (`object_tlp`).
- Markings are read from ``object_marking_refs`` AND ``granular_markings``
  with the official TLP 2.0 marking-definition ids (and the TLP 1.0 ids of
  the STIX 2.1 spec, WHITE read as CLEAR). A version is stored whole, so it
  takes the most restrictive of them all: TLP:CLEAR on the object with
  TLP:RED on its ``description`` is a RED object. Without a TLP object
  marking, the default TLP counts as the object marking (the unmarked
  properties): a granular TLP:CLEAR never lowers it.

Collection rights (who may list a collection, read from it, push into it):
the owner organization may read and write; a member organization as its row
says. A member with write right only may read back what its own
organizations produced (the ISAC "inbox"). A USER adds objects only through
an organization that may write AND in which their role gives the right to add
(`Action.ADD`, `khien.core.roles`): auditors, trainees and responders read,
they never write (`can_write_collection`, the one rule of every write path).
"""
from __future__ import annotations

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.db.models.fields.json import KeyTextTransform

from khien.core.roles import Action
from khien.core.scoping import is_national_coordinator, memberships_of, scope_for

from .models import Collection, CollectionMember, CollectionObject, StixObject, StixRecipient, Tlp

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

# Official marking-definition ids: TLP 2.0 (OASIS extension) and TLP 1.0 (STIX 2.1 §7.2.1.4).
MARKING_TLP: dict[str, str] = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": Tlp.CLEAR,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": Tlp.GREEN,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": Tlp.AMBER,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": Tlp.AMBER_STRICT,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": Tlp.RED,
    # TLP 1.0
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
}
# The TLP 2.0 marking id for each level (what Khiên writes).
TLP_MARKING: dict[str, str] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
RESTRICTIVENESS = [Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED]


def tlp_of(marking_refs, default: str = Tlp.AMBER) -> str:
    """The TLP of an object from its ``object_marking_refs``; `default` when no TLP marking is present."""
    levels = [MARKING_TLP[ref] for ref in (marking_refs or ()) if ref in MARKING_TLP]
    if not levels:
        return default
    return max(levels, key=RESTRICTIVENESS.index)


def object_tlp(obj: dict, default: str = Tlp.AMBER) -> str:
    """The TLP a STIX object is stored under: the most restrictive of its TLP object markings (`default` when
    it has none) and of the TLP markings of its granular markings, whatever they select."""
    refs = obj.get("object_marking_refs")
    level = tlp_of([r for r in refs if isinstance(r, str)] if isinstance(refs, list) else [], default)
    granular = obj.get("granular_markings")
    granular = granular if isinstance(granular, list) else []
    levels = [MARKING_TLP.get(g.get("marking_ref")) for g in granular
              if isinstance(g, dict) and isinstance(g.get("marking_ref"), str)]
    return max([level, *filter(None, levels)], key=RESTRICTIVENESS.index)


def organization_ids(user) -> list:
    """The organizations a user acts for in TLP decisions: their memberships, not descendants."""
    return sorted({org_id for _role, _path, org_id in memberships_of(user)}, key=str)


def _anonymous_q(prefix: str = "") -> Q | None:
    if getattr(settings, "KHIEN_PUBLIC_CLEAR_FEED", False):
        return Q(**{f"{prefix}tlp": Tlp.CLEAR})
    return None


def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def visibility_q(user, prefix: str = "") -> Q | None:
    """The condition on `StixObject` rows the user may see; None when nothing at all.

    `prefix` is "object__" to filter a queryset of `CollectionObject` (or any model with an
    `object` foreign key to StixObject) instead of StixObject itself.
    """
    if not _signed_in(user):
        anonymous = _anonymous_q(prefix)
        return anonymous & _relationship_ends_q(_anonymous_q(""), prefix) if anonymous is not None else None
    return organizations_visibility_q(organization_ids(user), prefix)


# A relationship names two objects by id: served to a reader who may not see one of them (a TLP:GREEN
# relationship to another organization's TLP:RED indicator) it would tell that the hidden object exists and
# what it is linked to. As in OpenCTI, a relationship is visible only when each of its ends is: either no version
# of that id is stored here (an object kept elsewhere, e.g. a public ATT&CK technique), or the reader sees one.
RELATIONSHIP_ENDS = ("source_ref", "target_ref")


def _relationship_ends_q(end_visible: Q | None, prefix: str = "") -> Q:
    """The condition that a StixObject row is not a relationship, or that each of its ends is stored nowhere or
    satisfies `end_visible` (the table alone, on StixObject: an end that is itself a relationship is not
    followed further); `end_visible` None: nothing is visible."""
    ends = Q()
    for name in RELATIONSHIP_ENDS:
        ref = KeyTextTransform(name, OuterRef(f"{prefix}data"))
        stored = StixObject.objects.filter(stix_id=ref)
        condition = Q(~Exists(stored))
        if end_visible is not None:
            condition |= Exists(stored.filter(end_visible))
        ends &= condition
    return ~Q(**{f"{prefix}stix_type": "relationship"}) | ends


# --- The table, once -------------------------------------------------------------------------------
# Who sees a version of each TLP level, as the relations of an organization to the version. Both
# directions are derived from this one table: `organizations_visibility_q` (the versions some
# organizations see: every read path) and `audience_q` (the organizations that will see a version:
# what the create forms announce before anything is stored).
EVERYONE = "everyone"                      # anyone signed in (anonymous callers: see _anonymous_q)
PLATFORM = "platform"                      # every organization on the platform
PRODUCER = "producer"                      # the organization whose user submitted the version
COLLECTION_READERS = "collection_readers"  # owner or `can_read` member of a collection holding the version
COLLECTION_OWNERS = "collection_owners"    # owner of a collection holding the version
RECIPIENTS = "recipients"                  # organizations named as recipients of the version

GRANTS: dict[str, tuple[str, ...]] = {
    Tlp.CLEAR: (EVERYONE,),
    Tlp.GREEN: (PLATFORM,),
    Tlp.AMBER: (PRODUCER, COLLECTION_READERS),
    Tlp.AMBER_STRICT: (PRODUCER, COLLECTION_OWNERS),
    Tlp.RED: (PRODUCER, RECIPIENTS),
}


def _version_condition(grant: str, orgs: list, prefix: str) -> Q | None:
    """The condition on StixObject rows under which `grant` lets the organizations `orgs` see a version;
    None when it never does, an empty Q when it always does."""
    pk = "object_id" if prefix else "pk"
    if grant == EVERYONE:
        return Q()
    if not orgs:
        return None
    if grant == PLATFORM:
        return Q()
    if grant == PRODUCER:
        return Q(**{f"{prefix}producer_id__in": orgs})
    if grant == COLLECTION_READERS:
        readable = Collection.objects.filter(
            Q(owner_id__in=orgs) | Q(pk__in=CollectionMember.objects.filter(organization_id__in=orgs, can_read=True)
                                     .values("collection_id")))
        return Q(Exists(CollectionObject.objects.filter(object_id=OuterRef(pk), collection__in=readable)))
    if grant == COLLECTION_OWNERS:
        return Q(Exists(CollectionObject.objects.filter(object_id=OuterRef(pk), collection__owner_id__in=orgs)))
    if grant == RECIPIENTS:
        return Q(Exists(StixRecipient.objects.filter(object_id=OuterRef(pk), organization_id__in=orgs)))
    raise ValueError(grant)


def organizations_visibility_q(orgs, prefix: str = "") -> Q:
    """The condition on `StixObject` rows visible to someone acting for the organizations `orgs`.

    The TLP table (`GRANTS`) in one place: `visibility_q` (a signed-in user: their
    memberships' organizations) and `visible_object_pks_for_organization` (an
    organization itself, e.g. the organization whose SOC sent a telemetry event)
    both use it. A relationship also needs both ends visible (`_relationship_ends_q`).
    """
    orgs = list(orgs)
    return _table_q(orgs, prefix) & _relationship_ends_q(_table_q(orgs), prefix)


def _table_q(orgs: list, prefix: str = "") -> Q:
    """The TLP table alone (`GRANTS`): the StixObject rows the organizations `orgs` see by their level."""
    q = None
    for level, grants in GRANTS.items():
        conditions = [c for c in (_version_condition(g, orgs, prefix) for g in grants) if c is not None]
        if not conditions:
            continue
        condition = Q()
        for c in conditions:
            if not c:  # always: the level alone decides
                condition = Q()
                break
            condition = c if not condition else condition | c
        part = Q(**{f"{prefix}tlp": level}) & condition if condition else Q(**{f"{prefix}tlp": level})
        q = part if q is None else q | part
    return q


def audience_q(level: str, *, producer_ids=(), collections=(), recipient_ids=()) -> Q:
    """The condition on `Organization` rows that will see a version of TLP `level` produced by
    `producer_ids`, held by `collections` and naming `recipient_ids` — the same table as
    `organizations_visibility_q`, read the other way. An empty Q: every organization."""
    condition = None
    collections = list(collections)
    for grant in GRANTS[level]:
        if grant in (EVERYONE, PLATFORM):
            return Q()
        if grant == PRODUCER:
            part = Q(pk__in=list(producer_ids))
        elif grant == COLLECTION_READERS:
            part = Q(pk__in=[c.owner_id for c in collections]) | Q(pk__in=CollectionMember.objects.filter(
                collection__in=[c.pk for c in collections], can_read=True).values("organization_id"))
        elif grant == COLLECTION_OWNERS:
            part = Q(pk__in=[c.owner_id for c in collections])
        elif grant == RECIPIENTS:
            part = Q(pk__in=list(recipient_ids))
        else:
            raise ValueError(grant)
        condition = part if condition is None else condition | part
    return condition if condition is not None else Q(pk__in=[])


def organizations_seeing(version: StixObject, organization_ids) -> set:
    """Which of `organization_ids` may see the version `version` (not a relationship): the TLP table read the other
    way (`audience_q`, with the version's producer, collections and TLP:RED recipients) — one query for any number
    of organizations, where asking `visible_object_pks_for_organization` once per organization built the table's
    condition for each (a campaign's warning form, a hundred recipients)."""
    from khien.registry.models import Organization

    organization_ids = list(organization_ids)
    if not organization_ids or version.tlp not in GRANTS:
        return set()
    collections = [link.collection for link in CollectionObject.objects.filter(object_id=version.pk)
                   .select_related("collection")]
    recipient_ids = (StixRecipient.objects.filter(object_id=version.pk).values_list("organization_id", flat=True)
                     if version.tlp == Tlp.RED else [])
    q = audience_q(version.tlp, producer_ids=[version.producer_id] if version.producer_id else [],
                   collections=collections, recipient_ids=recipient_ids)
    return set(Organization.objects.filter(q, pk__in=organization_ids).values_list("pk", flat=True))


def anonymous_audience(level: str, collections=()) -> bool:
    """Will anonymous callers see a version of TLP `level` held by `collections` (the public CLEAR feed)?"""
    return bool(EVERYONE in GRANTS[level] and _anonymous_q() is not None and any(c.is_public for c in collections))


def visible_object_pks_for_organization(organization_id, object_pks) -> set[int]:
    """Which of the StixObject primary keys `object_pks` the organization `organization_id` may see.

    Same rules as for a user who is a member of that organization only
    (used by telemetry matching: an indicator hit is kept only when the
    organization whose event matched may see the indicator).
    """
    pks = set(object_pks)
    if not pks:
        return set()
    q = organizations_visibility_q([organization_id])
    return set(StixObject.objects.filter(pk__in=pks).filter(q).values_list("pk", flat=True))


def visible_versions(user_or_none):
    """Every stored object version the user (or an anonymous caller, None) may see."""
    q = visibility_q(user_or_none)
    if q is None:
        return StixObject.objects.none()
    return StixObject.objects.filter(q)


def can_see(user_or_none, obj: StixObject) -> bool:
    return visible_versions(user_or_none).filter(pk=obj.pk).exists()


def shown_recipients(user, obj: StixObject) -> tuple[list, bool]:
    """(the named recipients of the version `obj` shown to `user`, whether that is the whole list).

    The recipient list of a TLP:RED version is the producer's: the users of the producer organization
    and the national coordinator (when it sees the version at all: as producer or recipient, the table
    above) get every recipient; any other reader (a recipient) only its own organizations among them,
    never who else was named. Nothing for a version the user may not see.
    """
    if not can_see(user, obj):
        return [], False
    from khien.registry.models import Organization

    recipients = Organization.objects.filter(received_stix_objects__object=obj).order_by("code")
    orgs = organization_ids(user)
    if (obj.producer_id is not None and obj.producer_id in orgs) or is_national_coordinator(user):
        return list(recipients), True
    return list(recipients.filter(pk__in=orgs)), False


# --- Collections -------------------------------------------------------------------------------


def _member_rows(user, collection):
    orgs = organization_ids(user)
    return orgs, CollectionMember.objects.filter(collection=collection, organization_id__in=orgs)


def can_read_collection(user, collection: Collection) -> bool:
    """May the caller read the collection's content (owner, or member with `can_read`)?

    Anonymous callers read public collections (their CLEAR content only) when
    ``KHIEN_PUBLIC_CLEAR_FEED`` is on.
    """
    if not _signed_in(user):
        return bool(getattr(settings, "KHIEN_PUBLIC_CLEAR_FEED", False) and collection.is_public)
    orgs, rows = _member_rows(user, collection)
    return collection.owner_id in orgs or rows.filter(can_read=True).exists()


def organization_writes(user, collection: Collection) -> bool:
    """Does one of the user's organizations own the collection or write into it (whatever the user's role)?

    Decides what a write-only member's users read back (the inbox), not who may write: `can_write_collection`.
    """
    if not _signed_in(user):
        return False
    orgs, rows = _member_rows(user, collection)
    return collection.owner_id in orgs or rows.filter(can_write=True).exists()


def adding_organization_ids(user) -> set:
    """The organizations of the user's memberships in which their role gives `Action.ADD` (as
    `khien.core.scoping.user_can` decides): those they may publish for, whatever the collection."""
    if not _signed_in(user):
        return set()
    scope = scope_for(user, Action.ADD)
    return {org_id for _role, path, org_id in memberships_of(user) if scope.covers_path(path)}


def writer_organization_ids(user, collection: Collection) -> list:
    """The user's organizations through which they may add objects to the collection: the owner or a member
    with `can_write`, among `adding_organization_ids`."""
    adding = adding_organization_ids(user)
    if not adding:
        return []
    writers = set(CollectionMember.objects.filter(collection=collection, organization_id__in=adding, can_write=True)
                  .values_list("organization_id", flat=True))
    return sorted(adding & (writers | {collection.owner_id}), key=str)


def can_write_collection(user, collection: Collection) -> bool:
    """May the user add objects to the collection? See `writer_organization_ids`: every write path asks here."""
    return bool(writer_organization_ids(user, collection))


def collections_for(user):
    """The collections the caller may read or write (listed to them; all others do not exist for them)."""
    if not _signed_in(user):
        if getattr(settings, "KHIEN_PUBLIC_CLEAR_FEED", False):
            return Collection.objects.filter(is_public=True)
        return Collection.objects.none()
    orgs = organization_ids(user)
    if not orgs:
        return Collection.objects.none()
    member_of = CollectionMember.objects.filter(organization_id__in=orgs).filter(Q(can_read=True) | Q(can_write=True))
    return Collection.objects.filter(Q(owner_id__in=orgs) | Q(pk__in=member_of.values("collection_id")))


def collection_content_q(user, collection: Collection, prefix: str = "") -> Q | None:
    """The condition on the versions of `collection` that the caller may get from it.

    For a reader it equals ``visible_versions(user)`` restricted to the
    collection's versions (a test checks this), computed without the
    cross-collection subqueries where the collection itself already grants: a
    reader sees its CLEAR, GREEN and AMBER versions, its owner also the
    AMBER+STRICT ones. A write-only member gets only the visible versions its
    own organizations produced. None: nothing (not a reader nor a writer).
    """
    if not _signed_in(user):
        return visibility_q(user, prefix) if can_read_collection(user, collection) else None
    orgs = organization_ids(user)
    pk = "object_id" if prefix else "pk"
    tlp_field = f"{prefix}tlp"
    produced = Q(**{f"{prefix}producer_id__in": orgs})
    if can_read_collection(user, collection):
        if collection.owner_id in orgs:
            q = Q(**{f"{tlp_field}__in": [Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT]})
        else:
            q = Q(**{f"{tlp_field}__in": [Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER]})
            q |= Q(**{tlp_field: Tlp.AMBER_STRICT}) & (
                produced
                | Exists(CollectionObject.objects.filter(object_id=OuterRef(pk), collection__owner_id__in=orgs))
            )
        q |= Q(**{tlp_field: Tlp.RED}) & (
            produced | Exists(StixRecipient.objects.filter(object_id=OuterRef(pk), organization_id__in=orgs))
        )
        return q & _relationship_ends_q(_table_q(orgs), prefix)
    if organization_writes(user, collection):
        return produced & visibility_q(user, prefix)
    return None
