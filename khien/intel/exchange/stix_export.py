"""Export what a user may see as a STIX 2.1 bundle.

Which versions: only `tlp.visible_versions` (no collection) or `tlp.collection_content_q` (a
collection the user reads or writes), narrowed by a `Selection` (types, added since, TLP levels,
ids); the latest visible version of each object unless `all_versions`. `active_only` (on unless the
caller turns it off: exports feed firewalls, IDS and SIEMs) keeps only the objects whose latest selected
version is active (`indicator_status`): not revoked, not expired, not ahead of its `valid_from`. Off, the
inactive ones come as stored — STIX says what they are with `revoked` and `valid_until`.

What each object carries: its stored JSON, plus the TLP 2.0 marking of its stored TLP when it has
no TLP marking of its own (an unmarked object took its producer's default TLP when stored; the
recipient of an export must know it). The bundle is self-contained: the marking-definitions and
identities the objects refer to are appended (TLP markings from their official definitions,
organizations' identities from the registry, other ones only when the user may see them).

Large exports are streamed (`stream_bundle`), rows read in chunks. An object stored before the intake
refused deep nesting is exported whole from its stored text (its `data` is read summarized,
`services.summarized_json`: a summary is never exported as the object); one that JSON cannot write or read
back (nested deeper than the encoder goes) is left out with a log line, never cutting the bundle short.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from dataclasses import dataclass, field

import orjson
import stix2
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from khien.core.errors import Refused
from khien.registry.models import Organization

from .. import indicator_status, services, tlp
from ..models import Collection, CollectionObject, OrganizationIdentity, StixObject, Tlp
from . import common

CHUNK = 2000
log = logging.getLogger(__name__)

TLP2_DEFINITIONS = {
    level: {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": "2022-10-01T00:00:00.000Z",
        "name": {Tlp.CLEAR: "TLP:CLEAR", Tlp.GREEN: "TLP:GREEN", Tlp.AMBER: "TLP:AMBER",
                 Tlp.AMBER_STRICT: "TLP:AMBER+STRICT", Tlp.RED: "TLP:RED"}[level],
        "extensions": {tlp.TLP2_EXTENSION_ID: {
            "extension_type": "property-extension",
            "tlp_2_0": {Tlp.CLEAR: "clear", Tlp.GREEN: "green", Tlp.AMBER: "amber",
                        Tlp.AMBER_STRICT: "amber+strict", Tlp.RED: "red"}[level]}},
    }
    for level, marking_id in tlp.TLP_MARKING.items()
}
KNOWN_MARKINGS: dict[str, dict] = {d["id"]: d for d in TLP2_DEFINITIONS.values()}
for _tlp1 in (stix2.v21.TLP_WHITE, stix2.v21.TLP_GREEN, stix2.v21.TLP_AMBER, stix2.v21.TLP_RED):
    KNOWN_MARKINGS[_tlp1.id] = orjson.loads(_tlp1.serialize())


@dataclass
class Selection:
    collection: Collection | None = None
    types: list[str] = field(default_factory=list)
    added_since: dt.datetime | None = None
    tlp_levels: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    all_versions: bool = False
    active_only: bool = True

    def describe(self) -> dict:
        return {"collection": str(self.collection.pk) if self.collection else "", "types": self.types,
                "added_since": self.added_since.isoformat() if self.added_since else "",
                "tlp": self.tlp_levels, "ids": self.ids[:100], "all_versions": self.all_versions,
                "active_only": self.active_only}


STIX_ID = re.compile(r"^[a-z][a-z0-9-]*--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def parse_selection(user, *, collection=None, types="", added_since="", tlp_levels="", ids="",
                    all_versions=False, active_only=True) -> Selection:
    """A Selection from user input (comma-separated text or lists); Refused on a bad value. A date alone for
    `added_since` is the start of that day in the platform's time zone (as the export page reads it)."""
    def listed(value):
        if isinstance(value, (list, tuple)):
            items = [str(v) for v in value]
        else:
            items = str(value or "").split(",")
        return [v.strip() for v in items if v and v.strip()]

    sel = Selection(all_versions=bool(all_versions), active_only=bool(active_only))
    if collection not in (None, ""):
        if not isinstance(collection, Collection):
            found = tlp.collections_for(user).filter(alias=str(collection)).first()
            if found is None:
                try:
                    found = tlp.collections_for(user).filter(pk=uuid.UUID(str(collection))).first()
                except ValueError:
                    found = None
            collection = found
        if collection is None or tlp.collection_content_q(user, collection) is None:
            raise Refused(_("No such collection."), code="not_found", status=404)
        sel.collection = collection
    sel.types = listed(types)
    for level in listed(tlp_levels):
        level = level.lower().replace("+", "_").replace("tlp:", "")
        if level == "white":
            level = Tlp.CLEAR
        if level not in Tlp.values:
            raise Refused(_("Unknown TLP level “%(level)s”.") % {"level": level}, code="invalid")
        sel.tlp_levels.append(level)
    if added_since:
        if isinstance(added_since, dt.datetime):  # without a zone: UTC, as in the text form
            parsed = added_since if added_since.tzinfo else added_since.replace(tzinfo=dt.timezone.utc)
        else:
            text = str(added_since).strip()
            try:  # a date alone: the start of that day where the platform is, as on the export page
                parsed = timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(text), dt.time())) \
                    if len(text) == 10 else services.read_timestamp(text)
            except ValueError:
                parsed = None
            if parsed is None:
                raise Refused(_("“Added since” must be a date or a date and time (ISO 8601)."), code="invalid")
        if not services.in_range(parsed):
            raise Refused(services.out_of_range_error("added_since"), code="out_of_range")
        sel.added_since = parsed.astimezone(dt.timezone.utc)
    sel.ids = listed(ids)
    not_ids = [i for i in sel.ids if not STIX_ID.match(i)]
    if not_ids:  # a typo would otherwise export an empty file, as if nothing matched
        raise Refused(_("Not STIX ids (type--uuid, e.g. indicator--…): %(ids)s") % {
            "ids": ", ".join(f"“{i[:80]}”" for i in not_ids[:5])}, code="invalid")
    return sel


def selected_versions(user, sel: Selection):
    """The StixObject rows of the selection the user may see, ordered by id then newest version first."""
    if sel.collection is not None:
        q = tlp.collection_content_q(user, sel.collection, prefix="object__")
        if q is None:
            raise Refused(_("No such collection."), code="not_found", status=404)
        entries = CollectionObject.objects.filter(collection=sel.collection).filter(q)
        if sel.added_since:
            entries = entries.filter(date_added__gte=sel.added_since)
        qs = StixObject.objects.filter(pk__in=entries.values("object_id"))
    else:
        qs = tlp.visible_versions(user)
        if sel.added_since:
            qs = qs.filter(date_added__gte=sel.added_since)
    if sel.types:
        qs = qs.filter(stix_type__in=sel.types)
    if sel.tlp_levels:
        qs = qs.filter(tlp__in=sel.tlp_levels)
    if sel.ids:
        qs = qs.filter(stix_id__in=sel.ids)
    if sel.active_only:
        qs = _active_only(qs, all_versions=sel.all_versions)
    return qs.order_by("stix_id", "-modified", "pk")


def _active_only(qs, *, all_versions: bool):
    """The versions of `qs` whose object's latest version in `qs` is active now: a revoked or expired latest
    version takes its object out (never an older, still active version in its place)."""
    newer = qs.order_by().filter(stix_id=OuterRef("stix_id"), modified__gt=OuterRef("modified"))
    latest_active = qs.filter(indicator_status.active_q(timezone.now())).filter(~Exists(newer))
    if not all_versions:
        return latest_active
    return qs.filter(stix_id__in=latest_active.order_by().values("stix_id"))


def count(user, sel: Selection) -> int:
    qs = selected_versions(user, sel)
    return qs.count() if sel.all_versions else qs.order_by().values("stix_id").distinct().count()


def iter_rows(user, sel: Selection):
    """The selected rows, newest visible version of each object only (unless `all_versions`)."""
    previous = None
    for row in selected_versions(user, sel).iterator(chunk_size=CHUNK):
        if not sel.all_versions and row.stix_id == previous:
            continue
        previous = row.stix_id
        yield row


def exported_object(row: StixObject) -> dict | None:
    """The object as exported: its stored JSON, with its TLP marking when it carries none. A version read
    summarized (nested deeper than the intake accepts) is read again whole from its stored text (orjson: no
    Python recursion); None (logged) when even that cannot read it."""
    data = row.data
    if services.is_summarized(data):
        try:
            data = orjson.loads(row.data_text or "")
        except orjson.JSONDecodeError as exc:
            log.warning("STIX export: %s left out, it cannot be read back whole (%s)", row.stix_id, exc)
            return None
    obj = dict(data)
    refs = obj.get("object_marking_refs") if isinstance(obj.get("object_marking_refs"), list) else []
    if not any(ref in tlp.MARKING_TLP for ref in refs) and obj.get("type") != "marking-definition":
        obj["object_marking_refs"] = [*refs, tlp.TLP_MARKING[row.tlp]]
    return obj


def _references(obj: dict) -> set[str]:
    refs = set()
    for ref in obj.get("object_marking_refs") or ():
        if isinstance(ref, str):
            refs.add(ref)
    for granular in obj.get("granular_markings") or ():
        if isinstance(granular, dict) and isinstance(granular.get("marking_ref"), str):
            refs.add(granular["marking_ref"])
    if isinstance(obj.get("created_by_ref"), str):
        refs.add(obj["created_by_ref"])
    return refs


def _resolve(user, wanted: set[str]) -> list[dict]:
    """The definitions of referenced markings and identities that the user may receive."""
    out = [KNOWN_MARKINGS[ref] for ref in sorted(wanted) if ref in KNOWN_MARKINGS]
    rest = sorted(ref for ref in wanted if ref not in KNOWN_MARKINGS)
    if not rest:
        return out
    org_ids = dict(OrganizationIdentity.objects.filter(stix_id__in=rest).values_list("stix_id", "organization_id"))
    found = set()
    for org in Organization.objects.filter(pk__in=org_ids.values()).order_by("code"):
        obj = services.identity_object(org)
        out.append(obj)
        found.add(obj["id"])
    previous = None
    for start in range(0, len(rest), 500):
        chunk = [ref for ref in rest[start:start + 500] if ref not in found]
        for row in tlp.visible_versions(user).filter(stix_id__in=chunk).order_by("stix_id", "-modified"):
            if row.stix_id != previous:
                obj = exported_object(row)
                if obj is not None:
                    out.append(obj)
                previous = row.stix_id
    return out


def iter_objects(user, sel: Selection):
    """Every object of the export: the selected ones, then the markings and identities they refer to."""
    exported: set[str] = set()
    wanted: set[str] = set()
    for row in iter_rows(user, sel):
        obj = exported_object(row)
        if obj is None:
            continue
        exported.add(obj["id"])
        wanted |= _references(obj)
        yield obj
    extra = _resolve(user, wanted - exported)
    second = set()
    for obj in extra:
        exported.add(obj["id"])
        second |= _references(obj)
        yield obj
    # The markings of the identities and markings just added (one level is enough: TLP definitions
    # refer to nothing).
    for obj in _resolve(user, second - exported):
        yield obj


def bundle_id() -> str:
    return f"bundle--{uuid.uuid4()}"


def build_bundle(user, sel: Selection) -> dict:
    """The export as one bundle dict (small exports, MISP conversion, tests)."""
    return {"type": "bundle", "id": bundle_id(),
            "objects": [obj for obj in iter_objects(user, sel) if object_json(obj) is not None]}


def object_json(obj: dict) -> bytes | None:
    """The object's JSON text (`services.stix_text`), None (logged) when JSON cannot write it."""
    try:
        return services.stix_text(obj).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        log.warning("STIX export: %s left out, it cannot be written as JSON (%s)", obj.get("id"), exc)
        return None


def stream_bundle(user, sel: Selection):
    """The export as bundle JSON bytes, streamed object by object."""
    yield b'{"type":"bundle","id":"' + bundle_id().encode() + b'","objects":['
    first = True
    for obj in iter_objects(user, sel):
        text = object_json(obj)
        if text is None:
            continue
        yield (b"" if first else b",") + text
        first = False
    yield b"]}"


def export(user, sel: Selection, *, fmt: str = "stix") -> int:
    """Audit an export about to be sent (exports are disclosures); the number of objects selected."""
    n = count(user, sel)
    common.audit_export(user, fmt=fmt, selection=sel.describe(), count=n)
    return n
