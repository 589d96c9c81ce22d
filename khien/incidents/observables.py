"""Observables of an incident: record them, look them up in the intelligence store, share them as STIX.

Same rules as `services.py`: every `do_*` function takes `acting_user`, checks
the right, validates everything before writing, writes in one transaction,
audits and adds a journal line. Visibility of intelligence is decided by
`khien.intel.tlp` only; values are normalized by `khien.intel.services`.

- add / remove: the participants of the incident (reporting side, coordinator,
  assigned responders), while the incident is not closed;
- lookup: what the *viewer* may see of the intelligence store, nothing more;
- share as STIX: a participant who may write the target collection, while the incident is not closed (sharing
  marks the observables shared and may complete a standard task: a closed incident's work no longer changes).
"""
from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from khien.core import audit, shapes
from khien.core.audit import Act, Change
from khien.core import shapes
from khien.core.errors import Forbidden, Refused
from khien.intel import services as intel_services
from khien.intel import tlp as intel_tlp
from khien.intel import warninglists
from khien.intel.models import Collection, IndicatorValue, StixObject, Tlp

from .models import EventKind, Incident, Observable, ObservableKind, Status

MAX_PER_CALL = 500
MAX_VALUE = 2048


# --- Parsing and normalizing ---------------------------------------------------------------------

# Defanged values (hxxp://, [.]) are read back by the one rule every app shares.
refang = shapes.refang


def guess_kind(value: str) -> str | None:
    """The kind of a bare value (IP, hash by length, e-mail, URL, domain); None when it is none of them."""
    value = refang(value)
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value)
        return ObservableKind.IPV4 if address.version == 4 else ObservableKind.IPV6
    except ValueError:
        pass
    low = value.lower()
    if kind := shapes.hash_kind(low):
        return ObservableKind(kind)
    if "://" in value:
        return ObservableKind.URL
    if "@" in value:
        return ObservableKind.EMAIL
    if shapes.is_domain_name(low.rstrip(".")):
        return ObservableKind.DOMAIN
    return None


def normalize(kind: str, raw: str) -> str:
    """The stored form of a value of `kind` (as the intelligence store normalizes it, defanged values read back
    first: `refang`); ValueError with a message naming the value as given."""
    raw = (raw or "").strip()
    if kind not in ObservableKind.values:
        raise ValueError(_("Unknown observable kind “%(kind)s”.") % {"kind": kind})
    if not raw or len(raw) > MAX_VALUE:
        raise ValueError(_("Give a value of at most 2048 characters."))
    normalized = intel_services.normalize_value(kind, refang(raw))
    if normalized is None or normalized[0] != kind:
        raise ValueError(_("“%(value)s” is not a single %(kind)s.") % {"value": raw, "kind": ObservableKind(kind).label})
    value = normalized[1]
    if kind in shapes.HASH_LENGTHS and not shapes.is_hash(kind, value):
        raise ValueError(_("“%(value)s” is not a %(kind)s hash.") % {"value": raw, "kind": ObservableKind(kind).label})
    if kind == ObservableKind.DOMAIN and not shapes.is_domain_name(value):
        raise ValueError(_("“%(value)s” is not a domain name.") % {"value": raw})
    if kind == ObservableKind.EMAIL and not shapes.is_email_address(value):
        raise ValueError(_("“%(value)s” is not an e-mail address.") % {"value": raw})
    if kind == ObservableKind.URL:
        try:
            parts = urlsplit(value)
        except ValueError:
            parts = None
        if parts is None or parts.scheme.lower() not in ("http", "https", "ftp") or not parts.hostname:
            raise ValueError(_("“%(value)s” is not a URL (http, https or ftp).") % {"value": raw})
    return value


def parse_lines(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Observables written one per line, as `value` or `kind:value` (kind among ipv4, domain, sha256…).

    Returns ((kind, normalized value) pairs, error messages); blank lines and
    lines starting with # are skipped.
    """
    items, errors = [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kind, _sep, rest = line.partition(":")
        if kind.strip().lower() in ObservableKind.values and rest.strip() and not rest.startswith("//"):
            kind, value = kind.strip().lower(), rest.strip()
        else:
            kind, value = guess_kind(line), line
        if kind is None:
            errors.append(_("Line %(n)d: “%(value)s” is not an IP address, domain, URL, e-mail or hash.")
                          % {"n": number, "value": line[:200]})
            continue
        try:
            items.append((kind, normalize(kind, value)))
        except ValueError as exc:
            errors.append(_("Line %(n)d: %(error)s") % {"n": number, "error": exc})
    return items, errors


def clean_items(items) -> list[tuple[str, str]]:
    """Validate (kind, value) pairs; ValidationError on the `observables` field listing every bad one."""
    cleaned, errors = [], []
    for kind, value in items:
        try:
            cleaned.append((kind, normalize(kind, value)))
        except ValueError as exc:
            errors.append(str(exc))
    if len(cleaned) > MAX_PER_CALL:
        errors.append(_("At most %(n)d observables at a time.") % {"n": MAX_PER_CALL})
    if errors:
        raise ValidationError({"observables": errors})
    return list(dict.fromkeys(cleaned))  # in order, without repeats


# --- Writing -----------------------------------------------------------------------------------


def _require_participant(user, incident: Incident) -> None:
    from .services import _require_participant as require

    require(user, incident)


def _create(incident: Incident, items: list[tuple[str, str]], acting_user, now) -> list[Observable]:
    """Insert the items the incident does not have yet (inside the caller's transaction); journal + audit."""
    from .services import _event

    existing = set(Observable.objects.filter(incident=incident).values_list("kind", "value"))
    rows = [Observable(incident=incident, kind=k, value=v, added_by=acting_user if getattr(acting_user, "pk", None)
                       else None, added_at=now)
            for k, v in items if (k, v) not in existing]
    if not rows:
        return []
    Observable.objects.bulk_create(rows)
    _event(incident, EventKind.OBSERVABLE, acting_user, at=now, text=", ".join(r.value for r in rows)[:300],
           data={"action": "added", "observables": [[r.kind, r.value] for r in rows][:100]})
    audit.record_many([Change(action=Act.CREATE, obj=r, after=audit.snapshot(r),
                              organization_id=str(incident.organization_id)) for r in rows], actor=acting_user)
    return rows


@transaction.atomic
def do_add_observables(incident: Incident, items, *, acting_user) -> list[Observable]:
    """Add (kind, value) pairs to the incident; values already recorded are skipped. Returns the new rows."""
    _require_participant(acting_user, incident)
    if incident.status == Status.CLOSED:
        raise Refused(_("The incident is closed; reopen it before adding observables."), code="closed", status=409)
    cleaned = clean_items(items)
    if not cleaned:
        raise ValidationError({"observables": [_("Give at least one observable.")]})
    return _create(incident, cleaned, acting_user, timezone.now())


@transaction.atomic
def do_remove_observable(observable: Observable, *, acting_user) -> None:
    from .services import _event

    incident = observable.incident
    _require_participant(acting_user, incident)
    if incident.status == Status.CLOSED:
        raise Refused(_("The incident is closed; reopen it before removing observables."), code="closed", status=409)
    observable = Observable.objects.select_for_update().get(pk=observable.pk)
    before = audit.snapshot(observable)
    audit.record(Act.DELETE, observable, actor=acting_user, before=before,
                 organization_id=str(incident.organization_id))
    observable.delete()
    _event(incident, EventKind.OBSERVABLE, acting_user, text=before["value"][:300],
           data={"action": "removed", "observables": [[before["kind"], before["value"]]]})


# --- Lookup in the intelligence store ---------------------------------------------------------------


@dataclass
class Lookup:
    observable: Observable
    indicators: list = field(default_factory=list)  # StixObject versions the viewer may see
    warning_listed: bool = False
    warninglists: list[str] = field(default_factory=list)

    @property
    def warninglist_labels(self) -> list[str]:
        """The lists by their names in the reader's language (their codes are for machines: the API, the tooltip)."""
        return [warninglists.list_label(code) for code in self.warninglists]


MAX_MATCHES = 20


def lookup(user, observables) -> list[Lookup]:
    """For each observable: the intelligence indicators carrying its value that `user` may see, and its warning lists.

    An indicator counts as the intelligence pages count it (`khien.intel.search.latest_versions`): its latest version
    the viewer may see, and only when that version still names the value. A revoked latest version is kept, with
    `revoked` set, so the page marks it (an earlier, active version is never shown in its place); a version the
    viewer may not see is never read.
    """
    from khien.intel.search import latest_versions

    observables = list(observables)
    results = [Lookup(observable=o) for o in observables]
    if not observables:
        return results
    lists = warninglists.compiled()
    for result in results:
        flagged = warninglists.flag(result.observable.kind, result.observable.value, lists)
        result.warning_listed, result.warninglists = flagged["warning_listed"], flagged["warninglists"]
    visible = intel_tlp.visibility_q(user, "object__")
    if visible is None:
        return results
    wanted = Q()
    for o in observables:
        wanted |= Q(kind=o.kind, value=o.value)
    # Every indicator (by STIX id) one of whose visible versions names a value…
    named = set(IndicatorValue.objects.filter(wanted).filter(visible)
                .values_list("object__stix_id", "kind", "value").distinct())
    latest = latest_versions(user, {stix_id for stix_id, _k, _v in named})
    # …counts when its latest visible version still names it.
    pks = [o.pk for o in latest.values()]
    current = set()
    for start in range(0, len(pks), 500):
        current.update(IndicatorValue.objects.filter(object_id__in=pks[start:start + 500]).filter(wanted)
                       .values_list("object__stix_id", "kind", "value"))
    by_value: dict[tuple[str, str], list] = {}
    for stix_id, kind, value in current:
        by_value.setdefault((kind, value), []).append(latest[stix_id])
    for result in results:
        found = by_value.get((result.observable.kind, result.observable.value), [])
        found.sort(key=lambda obj: (obj.revoked, -obj.modified.timestamp()))  # current ones first, newest first
        result.indicators = found[:MAX_MATCHES]
    return results


# --- Sharing as STIX ------------------------------------------------------------------------------

_PATTERN_PATHS = {
    ObservableKind.IPV4: "ipv4-addr:value",
    ObservableKind.IPV6: "ipv6-addr:value",
    ObservableKind.DOMAIN: "domain-name:value",
    ObservableKind.URL: "url:value",
    ObservableKind.EMAIL: "email-addr:value",
    ObservableKind.MD5: "file:hashes.MD5",
    ObservableKind.SHA1: "file:hashes.'SHA-1'",
    ObservableKind.SHA256: "file:hashes.'SHA-256'",
}


def pattern_for(kind: str, value: str) -> str:
    """The STIX 2.1 pattern matching one value, e.g. `[ipv4-addr:value = '198.51.100.7']`."""
    literal = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"[{_PATTERN_PATHS[kind]} = '{literal}']"


def writable_collections(user):
    """The collections the user may add objects to (through `khien.intel.tlp` only)."""
    return [c for c in intel_tlp.collections_for(user).order_by("title") if intel_tlp.can_write_collection(user, c)]


def without_collection(user) -> dict:
    """What the incident page tells a participant who has no collection to write to, in place of the share form.

    `may_share`: their role lets them publish intelligence for one of their organizations (`intel.tlp`'s
    `adding_organization_ids`: administrators, analysts, the coordinator — not response staff, auditors, trainees),
    so a collection is all they lack. Then `organizations` (those they publish for), `may_create` (they may create
    a collection owned by one of them, as the intelligence pages allow: `intel.forms.manageable_organizations`) and
    `isacs`: the ISACs those organizations belong to, whose operator may let them write to the ISAC's collection
    (`intel.services.do_set_collection_member`)."""
    from khien.intel.forms import manageable_organizations
    from khien.registry.models import Isac, Organization

    adding = intel_tlp.adding_organization_ids(user)
    if not adding:
        return {"may_share": False}
    organizations = list(Organization.objects.filter(pk__in=adding).order_by("code"))
    return {
        "may_share": True,
        "organizations": organizations,
        "names": ", ".join(str(o.name) for o in organizations),
        "may_create": manageable_organizations(user).filter(pk__in=adding).exists(),
        "isacs": list(Isac.objects.filter(members__in=adding).exclude(operator_id__in=adding)
                      .select_related("operator").distinct().order_by("code")),
    }


def indicator_description(incident: Incident) -> str:
    """The indicator's description: STIX text is read by every organization that receives it, in whatever language
    it reads Khiên, so it is written once in Vietnamese (the platform's language) with the English after it."""
    return (f"Ghi nhận trong sự cố {incident.reference} trên nền tảng Khiên. "
            f"— Observed in incident {incident.reference} on the Khiên platform.")


def indicator_for(observable: Observable, *, tlp: str, created_by_ref: str | None, now) -> dict:
    stamp = intel_services.format_timestamp(now)
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "name": f"{observable.get_kind_display()}: {observable.value}"[:250],
        "description": indicator_description(observable.incident),
        "indicator_types": ["malicious-activity"],
        "pattern": pattern_for(observable.kind, observable.value),
        "pattern_type": "stix",
        "valid_from": stamp,
        "object_marking_refs": [intel_tlp.TLP_MARKING[tlp]],
    }
    if created_by_ref:
        obj["created_by_ref"] = created_by_ref
    return obj


@dataclass
class ShareResult:
    """What a share did: the intel store's result for the new indicators (None when every value was skipped), and
    the observables left out because the organization already shares them from this incident as an active
    indicator."""

    added: intel_services.AddResult | None = None
    shared: list[Observable] = field(default_factory=list)
    already_shared: list[Observable] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.shared)

    def skipped(self) -> list[tuple[Observable, str, str]]:
        """(observable, reason code, why in the active language) for each value not shared."""
        why = _("Already shared from this incident as an active indicator of your organization.")
        return [(o, "already_shared", why) for o in self.already_shared]


def tlp_downgrade(incident: Incident, tlp: str) -> bool:
    """Is `tlp` less strict than the incident's own marking (its observables would reach more readers)?"""
    order = intel_tlp.RESTRICTIVENESS
    return tlp in order and incident.tlp in order and order.index(tlp) < order.index(incident.tlp)


def tlp_downgrade_message(incident: Incident, tlp: str) -> str:
    return _("The incident is marked %(incident_tlp)s: its observables shared as %(tlp)s would reach more readers "
             "than the incident does. Choose %(incident_tlp)s or a stricter level, or confirm that they may be "
             "shared more widely.") % {"incident_tlp": Tlp(incident.tlp).label, "tlp": Tlp(tlp).label}


def warning_listed(observables) -> dict[Observable, list[str]]:
    """The observables on a warning list (`khien.intel.warninglists`), each with the names of its lists."""
    lists = warninglists.compiled()
    found = {}
    for o in observables:
        names = warninglists.hits(o.kind, o.value, lists)
        if names:
            found[o] = names
    return found


def warning_listed_message(found: dict[Observable, list[str]]) -> str:
    """“10.3.19.97 (Private addresses (RFC 1918))…”: which values are on which list, in the reader's language."""
    values = warninglists.values_and_lists((o.value, names) for o, names in found.items())
    return _("Values on a warning list are normally not malicious (private or reserved addresses, well-known "
             "services…): %(values)s. Remove them from the selection, or confirm that they are to be shared as "
             "malicious indicators anyway.") % {"values": values}


def active_shares(observables, producer_id) -> set:
    """The pks of the observables whose last share (`shared_stix_id`) is an indicator `producer_id` made that is
    still active: its latest version neither revoked nor expired."""
    ids = {o.shared_stix_id for o in observables if o.shared_stix_id}
    if not ids or producer_id is None:
        return set()
    latest: dict[str, StixObject] = {}
    for row in StixObject.objects.filter(stix_id__in=ids).order_by("stix_id", "modified"):
        latest[row.stix_id] = row
    now = timezone.now()
    active = {stix_id for stix_id, row in latest.items()
              if row.producer_id == producer_id and not row.revoked and (row.valid_until is None or row.valid_until > now)}
    return {o.pk for o in observables if o.shared_stix_id in active}


@transaction.atomic
def do_share_observables(incident: Incident, observables, *, tlp: str, collection: Collection, acting_user,
                         confirm_warninglisted: bool = False, confirm_downgrade: bool = False) -> ShareResult:
    """Share the chosen observables as STIX indicators (one per value) in `collection`, marked `tlp`.

    Refused (403) unless the user takes part in the incident and may write the collection; nothing is written
    then. A value on a warning list (`khien.intel.warninglists`: a private address, a well-known resolver…) is
    refused (409, `warning_listed`, naming the lists) unless `confirm_warninglisted`. A value the same
    organization already shares from this incident as an active indicator is not shared again (`already_shared`).
    A closed incident is refused (409, `closed`), as for adding or removing its observables. A TLP less strict
    than the incident's (TLP:CLEAR for a TLP:AMBER incident) is refused (ValidationError on `tlp`) unless
    `confirm_downgrade`: the incident's marking is what its reporter allowed, and a shared indicator outlives it.
    """
    from .services import _complete_standard_tasks, _event

    _require_participant(acting_user, incident)
    if incident.status == Status.CLOSED:
        raise Refused(_("The incident is closed; reopen it before sharing its observables."), code="closed",
                      status=409)
    if not isinstance(collection, Collection) or not intel_tlp.collections_for(acting_user).filter(
            pk=collection.pk).exists() or not intel_tlp.can_write_collection(acting_user, collection):
        raise Forbidden(_("You may not add objects to this collection."))
    if tlp not in Tlp.values:
        raise ValidationError({"tlp": [_("Choose a TLP level.")]})
    if not confirm_downgrade and tlp_downgrade(incident, tlp):
        raise ValidationError({"tlp": [tlp_downgrade_message(incident, tlp)]})
    ids = [o.pk for o in observables]
    chosen = list(Observable.objects.filter(incident=incident, pk__in=ids).select_related("incident"))
    if not ids or len(chosen) != len(set(ids)):
        raise ValidationError({"observables": [_("Choose observables of this incident.")]})
    producer_id = intel_services.producer_for(acting_user, collection)
    done = active_shares(chosen, producer_id)
    result = ShareResult(already_shared=[o for o in chosen if o.pk in done])
    chosen = [o for o in chosen if o.pk not in done]
    if not chosen:
        return result
    if not confirm_warninglisted and (found := warning_listed(chosen)):
        raise Refused(warning_listed_message(found), code="warning_listed", status=409)
    now = timezone.now()
    identity = intel_services.ensure_identities([producer_id]).get(producer_id) if producer_id else None
    objects = [indicator_for(o, tlp=tlp, created_by_ref=identity.stix_id if identity else None, now=now)
               for o in chosen]
    result.added = intel_services.do_add_objects(collection, objects, acting_user=acting_user)
    result.shared = chosen
    changes = []
    for observable, obj in zip(chosen, objects):
        before = audit.snapshot(observable)
        observable.shared_at, observable.shared_stix_id, observable.shared_tlp = now, obj["id"], tlp
        changes.append((observable, before))
    Observable.objects.bulk_update([o for o, _b in changes], ["shared_at", "shared_stix_id", "shared_tlp"])
    audit.record_many([Change(action=Act.UPDATE, obj=o, before=b, after=audit.snapshot(o),
                              organization_id=str(incident.organization_id)) for o, b in changes], actor=acting_user)
    _event(incident, EventKind.OBSERVABLE, acting_user, at=now,
           text=", ".join(o.value for o in chosen)[:300],
           data={"action": "shared", "collection_id": str(collection.pk), "collection": collection.title,
                 "tlp": tlp, "indicators": [obj["id"] for obj in objects],
                 "observables": [[o.kind, o.value] for o in chosen][:100],
                 **({"warning_listed_confirmed": True} if confirm_warninglisted else {}),
                 **({"tlp_downgrade_confirmed": True} if confirm_downgrade and tlp_downgrade(incident, tlp) else {})})
    _complete_standard_tasks(incident, "observables_shared", acting_user, at=now)
    return result
