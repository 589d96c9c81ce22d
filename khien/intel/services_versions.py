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

from django.utils import timezone
from django.utils.translation import gettext as _

from khien.core import audit
from khien.core.audit import Act, Change
from khien.core.errors import Forbidden, Refused

from . import search, services, tlp
from .models import Collection, StixObject, StixRecipient

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
    producers = set(StixObject.objects.filter(stix_id=stix_id).values_list("producer_id", flat=True)) - {None}
    if not producers or not tlp.organization_ids(user):
        return None
    holding = (tlp.collections_for(user).filter(entries__object__stix_id=stix_id).select_related("owner")
               .order_by("-entries__object__modified", "title"))
    seen = set()
    for collection in holding:
        if collection.pk in seen:
            continue
        seen.add(collection.pk)
        if tlp.can_write_collection(user, collection) and services.producer_for(user, collection) in producers:
            return collection
    return None


def _current(user, stix_id: str) -> tuple[StixObject, Collection]:
    """The newest version the user sees and the collection to version it in; refusals for everything else."""
    obj = search.latest_visible(user, stix_id)
    if obj is None:
        raise Refused(_("No such object."), code="not_found", status=404)
    collection = versioning_collection(user, stix_id)
    if collection is None:
        raise Forbidden(_("Only the organization that created this object can publish a new version of it."))
    if obj.revoked:
        raise Refused(_("This object is revoked: a revoked object cannot be changed any more (STIX 2.1)."),
                      code="revoked", status=409)
    if services.is_summarized(obj.data):
        raise Refused(_("This object was stored with parts nested too deep to be edited here: publish its new "
                        "version through the REST API, TAXII or a STIX file."), code="summarized", status=409)
    return obj, collection


def _next_modified(stix_id: str) -> str:
    """A `modified` later than every stored version of the object (now, to the millisecond, when it is)."""
    now = timezone.now()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    newest = StixObject.objects.filter(stix_id=stix_id).order_by("-modified").values_list("modified", flat=True).first()
    if newest is not None and newest >= now:
        now = newest.replace(microsecond=newest.microsecond // 1000 * 1000) + dt.timedelta(milliseconds=1)
    return services.format_timestamp(now)


def _publish(obj: StixObject, collection: Collection, data: dict, *, acting_user, what: str, note: dict) -> StixObject:
    """Store `data` as the next version (TLP:RED: naming the current version's recipients again) and audit why."""
    recipients = [r.organization for r in StixRecipient.objects.filter(object=obj).select_related("organization")]
    services.do_add_objects(collection, [data], acting_user=acting_user, recipients=recipients or None)
    new = StixObject.objects.get(stix_id=obj.stix_id, modified=services.parse_timestamp(data["modified"]))
    audit.record_many([Change(
        action=Act.UPDATE, obj=new, object_repr=f"{what}: {search.display_name(new)}"[:300],
        organization_id=str(new.producer_id or ""),
        before={"stix_id": obj.stix_id, "modified": services.format_timestamp(obj.modified), "revoked": obj.revoked},
        after={"stix_id": new.stix_id, "modified": data["modified"], **note},
    )], actor=acting_user)
    return new


def do_revoke_object(stix_id: str, *, acting_user, reason: str = "") -> StixObject:
    """Withdraw an object: a new version with `revoked: true`; the reason (optional) goes into the audit log."""
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise Refused(_("The reason is at most %(n)d characters.") % {"n": MAX_REASON}, code="too_long")
    obj, collection = _current(acting_user, stix_id)
    data = {**obj.data, "modified": _next_modified(stix_id), "revoked": True}
    return _publish(obj, collection, data, acting_user=acting_user, what=REVOKED_TEXT,
                    note={"revoked": True, "reason": reason})


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
