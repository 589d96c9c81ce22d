"""New versions of a stored object from the pages: revoke it, correct an indicator.

Stored versions are never changed: a correction or a withdrawal is a NEW
version (same id, later `modified`) stored through `services.do_add_objects`
— the path of the REST API, TAXII and imports, with its validation, its
authorship rule (only the organization that produced the object versions it,
`services._foreign_new_versions`) and its audit entry. The search, the
blocklists and the telemetry matcher follow the newest version, so a revoked
indicator stops matching and leaves the blocklists.
"""
from __future__ import annotations

import datetime as dt
import re

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from khien.core import audit
from khien.core.audit import Act, Change
from khien.core.errors import Forbidden, Refused

from . import search, services, tlp
from .models import Collection, CollectionObject, StixObject, StixRecipient

MAX_REASON = 2000

# The audit texts of a new version, stored in English (the log is hashed: kept as written) and read in the reader's
# language through `khien.core.audit.STORED_TEXTS` (registered by `IntelConfig.ready`).
REVOKED_TEXT, CORRECTED_TEXT = "STIX revoked", "STIX corrected"
STORED_TEXTS = [
    ("intel.stixobject", re.compile(rf"^{REVOKED_TEXT}: (?P<name>.*)$", re.S),
     lambda m: _("STIX object revoked: %(name)s") % {"name": m["name"]}),
    ("intel.stixobject", re.compile(rf"^{CORRECTED_TEXT}: (?P<name>.*)$", re.S),
     lambda m: _("Indicator corrected: %(name)s") % {"name": m["name"]}),
]


def versioning_collection(user, stix_id: str) -> Collection | None:
    """The collection through which `user` may publish a new version of the object, or None.

    One that holds a version of it and that the user may write (`tlp.can_write_collection`), through an
    organization that produced a stored version of it (`services.producer_for`, the organization a submission
    is stored for): the same right `do_add_objects` asks of every new version. The collection holding the
    newest version comes first.
    """
    return versioning_collections(user, [stix_id]).get(stix_id)


def versioning_collections(user, stix_ids) -> dict[str, Collection]:
    """`versioning_collection` of many objects at once (the objects table, a bulk revocation): {stix_id:
    collection}, without the ids the user may not version."""
    stix_ids = [i for i in dict.fromkeys(stix_ids) if isinstance(i, str)]
    if not stix_ids or not tlp.organization_ids(user):
        return {}
    producers: dict[str, set] = {}
    holding: list[tuple] = []  # (stix_id, modified, collection pk) of every version held by a listed collection
    listed = tlp.collections_for(user)
    for start in range(0, len(stix_ids), 500):
        chunk = stix_ids[start:start + 500]
        for stix_id, producer_id in (StixObject.objects.filter(stix_id__in=chunk, producer__isnull=False)
                                     .values_list("stix_id", "producer_id")):
            producers.setdefault(stix_id, set()).add(producer_id)
        holding += CollectionObject.objects.filter(collection__in=listed, object__stix_id__in=chunk).values_list(
            "object__stix_id", "object__modified", "collection_id")
    collections = {c.pk: c for c in Collection.objects.filter(pk__in={h[2] for h in holding}).select_related("owner")}
    holding.sort(key=lambda h: collections[h[2]].title)
    holding.sort(key=lambda h: h[1], reverse=True)  # stable: the newest version first, then by title
    writes_for: dict = {}  # collection pk → the organization the user writes it for, None when they may not

    def writer(pk):
        if pk not in writes_for:
            collection = collections[pk]
            writes_for[pk] = (services.producer_for(user, collection)
                              if tlp.can_write_collection(user, collection) else None)
        return writes_for[pk]

    found: dict[str, Collection] = {}
    for stix_id, _modified, pk in holding:
        if stix_id not in found and stix_id in producers and writer(pk) in producers[stix_id]:
            found[stix_id] = collections[pk]
    return found


def _blocker(obj: StixObject | None, collection: Collection | None) -> str:
    """Why no new version of the object can be published ("" when one can), for one object as for many:
    not_found (none the user sees), forbidden (not their organization's), revoked, summarized."""
    if obj is None:
        return "not_found"
    if collection is None:
        return "forbidden"
    if obj.revoked:
        return "revoked"
    if services.is_summarized(obj.data):
        return "summarized"
    return ""


def _current(user, stix_id: str) -> tuple[StixObject, Collection]:
    """The newest version the user sees and the collection to version it in; refusals for everything else."""
    obj = search.latest_visible(user, stix_id)
    collection = versioning_collection(user, stix_id) if obj is not None else None
    blocker = _blocker(obj, collection)
    if blocker == "not_found":
        raise Refused(_("No such object."), code="not_found", status=404)
    if blocker == "forbidden":
        raise Forbidden(_("Only the organization that created this object can publish a new version of it."))
    if blocker == "revoked":
        raise Refused(_("This object is revoked: a revoked object cannot be changed any more (STIX 2.1)."),
                      code="revoked", status=409)
    if blocker == "summarized":
        raise Refused(_("This object was stored with parts nested too deep to be edited here: publish its new "
                        "version through the REST API, TAXII or a STIX file."), code="summarized", status=409)
    return obj, collection


def _next_modified(stix_id: str) -> str:
    """A `modified` later than every stored version of the object (now, to the millisecond, when it is)."""
    return _next_modified_many([stix_id])[stix_id]


def _next_modified_many(stix_ids) -> dict[str, str]:
    """`_next_modified` of each id, in one query per 500 ids."""
    now = timezone.now()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    stix_ids = list(dict.fromkeys(stix_ids))
    newest: dict = {}
    for start in range(0, len(stix_ids), 500):
        newest.update(StixObject.objects.filter(stix_id__in=stix_ids[start:start + 500]).values("stix_id")
                      .annotate(newest=Max("modified")).values_list("stix_id", "newest"))
    found = {}
    for stix_id in stix_ids:
        at, last = now, newest.get(stix_id)
        if last is not None and last >= now:
            at = last.replace(microsecond=last.microsecond // 1000 * 1000) + dt.timedelta(milliseconds=1)
        found[stix_id] = services.format_timestamp(at)
    return found


def _publish(obj: StixObject, collection: Collection, data: dict, *, acting_user, what: str, note: dict) -> StixObject:
    """Store `data` as the next version (TLP:RED: naming the current version's recipients again) and audit why."""
    return _publish_many([(obj, collection, data)], acting_user=acting_user, what=what, note=note)[0]


def _publish_many(items, *, acting_user, what: str, note: dict) -> list[StixObject]:
    """`_publish` of many (current version, collection, next version's data): one `do_add_objects` per collection
    and set of recipients, one audit entry per object, all in one transaction (all or nothing)."""
    recipients: dict[int, list] = {}
    for row in StixRecipient.objects.filter(object__in=[obj for obj, _c, _d in items]).select_related("organization"):
        recipients.setdefault(row.object_id, []).append(row.organization)
    groups: dict[tuple, list] = {}
    for obj, collection, data in items:
        named = sorted(recipients.get(obj.pk, []), key=lambda o: str(o.pk))
        groups.setdefault((collection.pk, tuple(o.pk for o in named)), [collection, named, []])[2].append(data)
    with transaction.atomic():
        for collection, named, datas in groups.values():
            services.do_add_objects(collection, datas, acting_user=acting_user, recipients=named or None)
        stored = {}
        ids = [obj.stix_id for obj, _c, _d in items]
        modifieds = {services.parse_timestamp(data["modified"]) for _o, _c, data in items}
        for start in range(0, len(ids), 500):
            stored.update(((o.stix_id, o.modified), o) for o in StixObject.objects.filter(
                stix_id__in=ids[start:start + 500], modified__in=modifieds).select_related("producer"))
        news = [stored[(obj.stix_id, services.parse_timestamp(data["modified"]))] for obj, _c, data in items]
        audit.record_many([Change(
            action=Act.UPDATE, obj=new, object_repr=f"{what}: {search.display_name(new)}"[:300],
            organization_id=str(new.producer_id or ""),
            before={"stix_id": obj.stix_id, "modified": services.format_timestamp(obj.modified), "revoked": obj.revoked},
            after={"stix_id": new.stix_id, "modified": data["modified"], **note},
        ) for (obj, _c, data), new in zip(items, news)], actor=acting_user)
    return news


def _reason(reason) -> str:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise Refused(_("The reason is at most %(n)d characters.") % {"n": MAX_REASON}, code="too_long")
    return reason


def do_revoke_object(stix_id: str, *, acting_user, reason: str = "") -> StixObject:
    """Withdraw an object: a new version with `revoked: true`; the reason (optional) goes into the audit log."""
    reason = _reason(reason)
    obj, collection = _current(acting_user, stix_id)
    data = {**obj.data, "modified": _next_modified(stix_id), "revoked": True}
    return _publish(obj, collection, data, acting_user=acting_user, what=REVOKED_TEXT,
                    note={"revoked": True, "reason": reason})


MAX_BULK = 500  # ids per bulk revocation (the API's and the pages')


class IdsRefused(Refused):
    """A bulk operation refused because of some of its ids (`ids`: those, as sent); nothing was changed."""

    def __init__(self, message, ids: list[str], code: str, status: int):
        super().__init__(message, code=code, status=status)
        self.ids = ids


def _listed_ids(ids: list[str]) -> str:
    return ", ".join(ids[:20]) + (" …" if len(ids) > 20 else "")


def revocable_ids(user, stix_ids) -> set[str]:
    """The ids of `stix_ids` the user may revoke now (the checkboxes of the objects table): visible, theirs to
    version (`versioning_collections`), not revoked and editable (`_blocker`)."""
    if not tlp.adding_organization_ids(user):
        return set()
    latest = search.latest_versions(user, stix_ids)
    collections = versioning_collections(user, list(latest))
    return {i for i, obj in latest.items() if not _blocker(obj, collections.get(i))}


def check_revoke_objects(stix_ids, *, acting_user) -> tuple[list[StixObject], list[StixObject]]:
    """What `do_revoke_objects` would do, without doing it (its confirmation page): (newest versions to revoke,
    those already revoked), in the order given; `IdsRefused` naming the ids otherwise."""
    to_revoke, revoked = _revoke_plan(stix_ids, acting_user)
    return [obj for obj, _collection in to_revoke], revoked


def _revoke_plan(stix_ids, acting_user) -> tuple[list[tuple[StixObject, Collection]], list[StixObject]]:
    """([(newest version, collection to version it in)] to revoke, [already revoked]), or `IdsRefused`. An id
    the user may not see is answered exactly like one that does not exist (404)."""
    stix_ids = None if isinstance(stix_ids, (str, dict)) or stix_ids is None else list(stix_ids)
    if stix_ids is None or not all(isinstance(i, str) for i in stix_ids):
        raise Refused(_("Give the ids of the objects as a list of STIX ids."), code="invalid")
    if not stix_ids:
        raise Refused(_("Choose at least one object to revoke."), code="required")
    if len(stix_ids) > MAX_BULK:
        raise Refused(_("At most %(n)d objects can be revoked at once.") % {"n": MAX_BULK}, code="too_many")
    ids = list(dict.fromkeys(i.strip() for i in stix_ids))
    latest = search.latest_versions(acting_user, ids)
    collections = versioning_collections(acting_user, list(latest))
    by_blocker: dict[str, list[str]] = {}
    for stix_id in ids:
        by_blocker.setdefault(_blocker(latest.get(stix_id), collections.get(stix_id)), []).append(stix_id)
    if by_blocker.get("not_found"):
        found = by_blocker["not_found"]
        raise IdsRefused(_("No such object: %(ids)s. Nothing was revoked.") % {"ids": _listed_ids(found)},
                         found, code="not_found", status=404)
    if by_blocker.get("forbidden"):
        found = by_blocker["forbidden"]
        raise IdsRefused(_("Only the organization that created an object can revoke it; these are not your "
                           "organization’s: %(ids)s. Nothing was revoked.") % {"ids": _listed_ids(found)},
                         found, code="forbidden", status=403)
    if by_blocker.get("summarized"):
        found = by_blocker["summarized"]
        raise IdsRefused(_("These objects were stored with parts nested too deep to be changed here: %(ids)s. "
                           "Publish their new versions through the REST API, TAXII or a STIX file; nothing was "
                           "revoked.") % {"ids": _listed_ids(found)}, found, code="summarized", status=409)
    return ([(latest[i], collections[i]) for i in by_blocker.get("", [])],
            [latest[i] for i in by_blocker.get("revoked", [])])


def do_revoke_objects(stix_ids, *, acting_user, reason: str = "") -> dict:
    """Withdraw many objects at once (a bad import): all or nothing. Each is revoked as by `do_revoke_object`
    (a new version, one audit entry each with the reason); those already revoked are skipped and said.
    Refused, naming the ids and revoking none, when one is unknown or unseen (404), not the user's organization's
    to revoke (403), or not editable here (409); at most `MAX_BULK` ids (400).

    Returns {"revoked": [ids], "skipped": [{"id", "reason": "already_revoked"}]}."""
    reason = _reason(reason)
    with transaction.atomic():
        to_revoke, revoked = _revoke_plan(stix_ids, acting_user)
        if to_revoke:
            modified = _next_modified_many([o.stix_id for o, _c in to_revoke])
            _publish_many([(o, c, {**o.data, "modified": modified[o.stix_id], "revoked": True}) for o, c in to_revoke],
                          acting_user=acting_user, what=REVOKED_TEXT, note={"revoked": True, "reason": reason})
    return {"revoked": [o.stix_id for o, _c in to_revoke],
            "skipped": [{"id": o.stix_id, "reason": "already_revoked"} for o in revoked]}


CORRECTABLE = ("name", "description", "pattern", "valid_until", "confidence", "labels")


def do_correct_indicator(stix_id: str, changes: dict, *, acting_user) -> StixObject:
    """Correct an indicator: a new version with the given `changes` (keys of `CORRECTABLE`; an empty value
    removes the property, `name` and `pattern` excepted), everything else as in the current version."""
    obj, collection = _current(acting_user, stix_id)
    if obj.stix_type != "indicator":
        raise Refused(_("Only an indicator can be corrected here."), code="not_indicator")
    unknown = set(changes) - set(CORRECTABLE)
    if unknown:
        raise Refused(_("These properties cannot be corrected here: %(names)s.") % {"names": ", ".join(sorted(unknown))})
    data = dict(obj.data)
    if services.parse_timestamp(changes.get("valid_until")) == obj.valid_until:
        changes = {**changes, "valid_until": obj.data.get("valid_until")}  # the same time, as it was written
    for key, value in changes.items():
        if value in (None, "", []):
            if key in ("name", "pattern"):
                raise Refused(_("An indicator needs a name and a pattern."), code="required")
            data.pop(key, None)
        else:
            data[key] = value
    if data.get("pattern") != obj.data.get("pattern"):
        data.update({"pattern_type": "stix", "pattern_version": "2.1"})
    if data == obj.data:
        raise Refused(_("Nothing was changed: the indicator is as it was."), code="unchanged")
    data["modified"] = _next_modified(stix_id)
    changed = sorted(k for k in CORRECTABLE if data.get(k) != obj.data.get(k))
    return _publish(obj, collection, data, acting_user=acting_user, what=CORRECTED_TEXT,
                    note={"corrected": changed})


def revocation(user, obj: StixObject) -> dict | None:
    """What the page of a revoked version says about its withdrawal: when, by which organization, why, and by whom
    when `user` may read that audit entry (`AuditEntry.objects.visible_to`: a person's name is for the log's
    readers). From the audit entry `do_revoke_object` wrote; a version received revoked (import, TAXII) has none:
    its own `modified` and producer then, with no reason."""
    if not obj.revoked:
        return None
    from khien.core.models import AuditEntry

    entries = AuditEntry.objects.filter(object_type="intel.stixobject", object_id=str(obj.pk)).order_by("-seq")
    entry = next((e for e in entries if isinstance(e.after, dict) and e.after.get("revoked") is True), None)
    shown = {"at": obj.modified, "organization": obj.producer, "reason": "", "by": ""}
    if entry is not None:
        shown.update(at=entry.at, reason=str(entry.after.get("reason") or ""))
        if AuditEntry.objects.visible_to(user).filter(seq=entry.seq).exists():
            shown["by"] = entry.actor_email
    return shown
