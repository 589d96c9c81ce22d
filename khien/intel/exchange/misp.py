"""MISP event JSON in and out, through misp-stix (MISP ↔ STIX 2.1) and pymisp.

Import: a MISP event as `MISPEvent.to_json()` writes it, the same inside `{"Event": {...}}`, a
list of either, or MISP's REST search answer `{"response": [...]}`. Each event is converted with
`MISPtoSTIX21Parser`; every object then gets ONE TLP 2.0 marking (decision 0008):

- the most restrictive of the event's `tlp:*` tags and the TLP markings misp-stix gave the object
  (from attribute tags); `tlp:white` reads as CLEAR, `tlp:amber+strict` as AMBER+STRICT;
- without any TLP tag, from the event's distribution: 0 (your organisation only) → AMBER+STRICT,
  1 (this community) → AMBER, 2 (connected communities) → AMBER, 3 (all communities) → GREEN,
  4 (sharing group: its members are not known here) → AMBER+STRICT; no distribution → AMBER;
- then what an object holds (an observed-data's `object_refs`, a network-traffic's `dst_ref`…) takes at least
  the level of the object holding it (`_carry_to_contents`): the address of a `tlp:red` attribute is RED.

The official TLP marking-definitions of the converted bundle are not stored (Khiên knows them).
All the events of a file go into the collection in ONE `do_add_objects` call: all or nothing.

Export: the selection (see `stix_export`) as a STIX bundle, converted with
`ExternalSTIX2toMISPParser` into one MISP event; the event is tagged with the most restrictive TLP
of what it holds and gets the matching distribution (CLEAR/GREEN → 3, AMBER → 1, AMBER+STRICT and
RED → 0). `pymisp.MISPEvent().load()` reads the result. The selection holds active objects only unless
it asks for inactive ones too; then, and for benign (known-good) indicators always, the attributes get
`to_ids: false` (`_not_for_ids`): an IDS fed from the event never alerts on them.
"""
from __future__ import annotations

import ipaddress
import logging
import re
import uuid
from types import SimpleNamespace

import orjson
import stix2
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from misp_stix_converter import ExternalSTIX2toMISPParser, MISPtoSTIX21Parser
from pymisp import MISPEvent

from khien.core.errors import Refused

from .. import indicator_status, services, tlp
from ..models import Tlp
from . import stix_export
from .common import (
    ImportRejected,
    ImportReport,
    add_objects,
    check_write,
    load_json,
    read_limited,
    reuse_stored_versions,
)

TAG_TLP = {
    "tlp:clear": Tlp.CLEAR, "tlp:white": Tlp.CLEAR, "tlp:green": Tlp.GREEN, "tlp:amber": Tlp.AMBER,
    "tlp:amber+strict": Tlp.AMBER_STRICT, "tlp:red": Tlp.RED,
}
log = logging.getLogger(__name__)
DISTRIBUTION_TLP = {0: Tlp.AMBER_STRICT, 1: Tlp.AMBER, 2: Tlp.AMBER, 3: Tlp.GREEN, 4: Tlp.AMBER_STRICT}
TLP_DISTRIBUTION = {Tlp.CLEAR: 3, Tlp.GREEN: 3, Tlp.AMBER: 1, Tlp.AMBER_STRICT: 0, Tlp.RED: 0}
TLP_TAG = {Tlp.CLEAR: "tlp:clear", Tlp.GREEN: "tlp:green", Tlp.AMBER: "tlp:amber",
           Tlp.AMBER_STRICT: "tlp:amber+strict", Tlp.RED: "tlp:red"}


def _most_restrictive(levels) -> str | None:
    levels = [lv for lv in levels if lv]
    return max(levels, key=tlp.RESTRICTIVENESS.index) if levels else None


def events_of(payload) -> list:
    """The event dicts of a MISP JSON document; ValueError when it holds none."""
    if isinstance(payload, dict) and isinstance(payload.get("response"), list):
        payload = payload["response"]
    items = payload if isinstance(payload, list) else [payload]
    events = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("Event"), dict):
            item = item["Event"]
        events.append(item)
    return events


def _tag_names(container: dict) -> list[str]:
    tags = container.get("Tag") or []
    if isinstance(container.get("EventTag"), list):
        tags = [*tags, *[t.get("Tag", {}) for t in container["EventTag"] if isinstance(t, dict)]]
    return [str(t.get("name", "")).strip().lower() for t in tags if isinstance(t, dict)]


def event_tlp(event: dict) -> str:
    """The TLP of a MISP event: its tlp:* tags win; else its distribution (decision 0008)."""
    tagged = _most_restrictive(TAG_TLP.get(name) for name in _tag_names(event))
    if tagged:
        return tagged
    try:
        distribution = int(event.get("distribution"))
    except (TypeError, ValueError):
        return Tlp.AMBER
    return DISTRIBUTION_TLP.get(distribution, Tlp.AMBER)


def _shape_problems(event: dict) -> list[str]:
    """What pymisp would stumble on, named by field: unstorable characters, deep nesting, numbers and lists."""
    problems = services.shape_errors(event)
    for name in ("threat_level_id", "analysis", "distribution"):
        value = event.get(name)
        if value is not None and not (type(value) is int or isinstance(value, str) and value.strip().isdigit()):
            problems.append(_("%(field)s: must be a whole number.") % {"field": name})
    for name in ("Attribute", "Object", "Tag", "EventTag"):
        value = event.get(name)
        if value is not None and not (isinstance(value, list) and all(
                isinstance(item, dict) or name == "Tag" and isinstance(item, str) for item in value)):
            problems.append(_("%(field)s: must be a list of objects.") % {"field": name})
    if not problems:
        problems += _attribute_problems(event)
    return problems


def _attribute_problems(event: dict) -> list[str]:
    """The attributes pymisp cannot read because a required field (type, value) is missing or empty, each named
    by its place in the event, its type and its uuid (pymisp's own error names none of them)."""
    places = [(_("MISP attribute %(n)d") % {"n": n}, a)
              for n, a in enumerate(event.get("Attribute") or (), start=1)]
    for m, misp_object in enumerate(event.get("Object") or (), start=1):
        attributes = misp_object.get("Attribute") if isinstance(misp_object, dict) else None
        for n, a in enumerate(attributes if isinstance(attributes, list) else (), start=1):
            places.append((_("MISP attribute %(n)d of object %(m)d") % {"n": n, "m": m}, a))
    problems = []
    for place, attribute in places:
        if not isinstance(attribute, dict):
            continue
        for name in ("type", "value"):
            if attribute.get(name) is None or isinstance(attribute.get(name), str) and not attribute[name].strip():
                problems.append(_("%(place)s (type %(type)s, uuid %(uuid)s): the required field “%(field)s” "
                                  "is missing or empty.") % {
                    "place": place, "type": attribute.get("type") or "—", "uuid": attribute.get("uuid") or "—",
                    "field": name})
    return problems


def convert_event(event: dict) -> list[dict]:
    """The STIX 2.1 objects of one MISP event, each with one TLP 2.0 marking; ValueError when unreadable."""
    if not isinstance(event, dict) or not any(k in event for k in ("info", "Attribute", "Object", "uuid")):
        raise ValueError(_("This is not a MISP event (no info, uuid, Attribute or Object)."))
    problems = _shape_problems(event)
    if problems:
        raise ValueError(" ".join(problems))
    level = event_tlp(event)
    checked = MISPEvent()
    try:
        checked.from_dict(**event)  # pymisp's own reading of the event: refuses broken shapes
        parser = MISPtoSTIX21Parser()
        parser.parse_misp_event(orjson.loads(checked.to_json()))
        objects = orjson.loads(parser.bundle.serialize())["objects"]
    except Exception as exc:  # pymisp and misp-stix raise many kinds of errors on bad input
        log.info("MISP event not converted: %r", exc)
        raise ValueError(_("The MISP event cannot be converted: a field has a value of the wrong type or "
                           "format (a date, a number, an attribute)."))
    out, levels = [], {}
    for obj in objects:
        if obj.get("type") == "marking-definition" and obj.get("id") in tlp.MARKING_TLP:
            continue
        if obj.get("type") != "marking-definition":
            refs = [r for r in obj.get("object_marking_refs") or () if isinstance(r, str)]
            levels[obj.get("id")] = _most_restrictive([level, _most_restrictive(tlp.MARKING_TLP.get(r) for r in refs)])
        out.append(obj)
    _carry_to_contents(out, levels)
    for obj in out:
        if obj.get("id") in levels:
            refs = [r for r in obj.get("object_marking_refs") or () if isinstance(r, str)]
            obj["object_marking_refs"] = [r for r in refs if r not in tlp.MARKING_TLP] + [
                tlp.TLP_MARKING[levels[obj["id"]]]]
    return out


# Objects whose references point at other objects without holding their data: their level is not carried.
_POINTERS = frozenset({"grouping", "report", "note", "opinion", "relationship", "sighting"})
_NOT_CONTENT = frozenset({"created_by_ref", "object_marking_refs"})


def _content_refs(obj: dict) -> list[str]:
    """The ids an object holds as its content: an observed-data's `object_refs`, a network-traffic's `dst_ref`…"""
    if obj.get("type") in _POINTERS:
        return []
    found = []
    for name, value in obj.items():
        if name in _NOT_CONTENT or not (name.endswith("_ref") or name.endswith("_refs")):
            continue
        found += [r for r in (value if isinstance(value, list) else [value]) if isinstance(r, str)]
    return found


def _carry_to_contents(objects: list, levels: dict) -> None:
    """Raise each object referenced as content to the strictest level of the objects that hold it (in place).

    misp-stix marks the observed-data of a `tlp:red` attribute RED but leaves the network-traffic and ipv4-addr
    it is made of at the event's level: stored so, the RED value would be readable by everyone the event's TLP
    allows. Repeated until nothing changes (observed-data → network-traffic → ipv4-addr).
    """
    holds = [(o["id"], _content_refs(o)) for o in objects if o.get("id") in levels]
    changed = True
    while changed:
        changed = False
        for holder, refs in holds:
            for ref in refs:
                if ref in levels and ref != holder:
                    raised = _most_restrictive([levels[ref], levels[holder]])
                    if raised != levels[ref]:
                        levels[ref], changed = raised, True


# The namespace of the uuids given to a MISP event, attribute or object that has none (uuid5): the same
# file imported again by the same producer gives the same STIX ids.
MISP_NAMESPACE = uuid.UUID("2b1f0d8e-93a4-5c1b-8e7e-5d0c7a1f9b34")


def with_stable_uuids(event, producer_id):
    """`event` with a uuid for itself and for each attribute and object that has none, derived from the producer
    and the event's content (pymisp would draw random ones: a second import would duplicate everything)."""
    if not isinstance(event, dict):
        return event
    event = dict(event)
    if not event.get("uuid"):
        digest = orjson.dumps(event, option=orjson.OPT_SORT_KEYS, default=str).decode()
        event["uuid"] = str(uuid.uuid5(MISP_NAMESPACE, f"{producer_id or ''}|{digest}"))
    base = uuid.UUID(str(event["uuid"])) if _is_uuid(event["uuid"]) else MISP_NAMESPACE

    def fill(items, prefix):
        if not isinstance(items, list):
            return items
        seen: dict[str, int] = {}
        out = []
        for item in items:
            if isinstance(item, dict) and not item.get("uuid"):
                key = "{}|{}|{}|{}".format(prefix, item.get("type") or item.get("name") or "",
                                           item.get("object_relation") or "", item.get("value") or "")
                seen[key] = seen.get(key, 0) + 1
                item = {**item, "uuid": str(uuid.uuid5(base, f"{key}|{seen[key]}"))}
            if isinstance(item, dict) and isinstance(item.get("Attribute"), list):
                item = {**item, "Attribute": fill(item["Attribute"], f"{prefix}/{item.get('uuid')}")}
            out.append(item)
        return out

    event["Attribute"] = fill(event.get("Attribute"), "attribute") if "Attribute" in event else None
    event["Object"] = fill(event.get("Object"), "object") if "Object" in event else None
    return {k: v for k, v in event.items() if v is not None or k not in ("Attribute", "Object")}


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _note_text(obj: dict) -> tuple[str, str, str, str]:
    """(MISP type, value, abstract, content) of a custom object misp-stix made of what it cannot map."""
    if obj.get("type") == "x-misp-attribute":
        kind, value = str(obj.get("x_misp_type") or ""), str(obj.get("x_misp_value") or "")
        content = value + (f"\n\n{obj['x_misp_comment']}" if obj.get("x_misp_comment") else "")
        return kind, value, f"MISP {kind} ({obj.get('x_misp_category') or ''})".replace(" ()", ""), content
    if obj.get("type") == "x-misp-object":
        kind = f"object {obj.get('x_misp_name') or ''}".strip()
        lines = [f"{a.get('object_relation') or a.get('type')}: {a.get('value')}"
                 for a in obj.get("x_misp_attributes") or () if isinstance(a, dict)]
        content = "\n".join(lines) + (f"\n\n{obj['x_misp_comment']}" if obj.get("x_misp_comment") else "")
        return kind, "; ".join(lines)[:300], f"MISP {kind}", content or kind
    fields = {k: v for k, v in obj.items() if k.startswith("x_")}
    text = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()
    return obj.get("type", ""), text[:300], str(obj.get("type")), text


def _replace_refs(value, renamed: dict):
    if isinstance(value, list):
        return [_replace_refs(v, renamed) for v in value]
    return renamed.get(value, value) if isinstance(value, str) else value


def _readable(event: dict, objects: list[dict], report: ImportReport) -> list[dict]:
    """What a reader of Khiên can use of one converted event:

    - what misp-stix could not map (a comment, a text, an "other" attribute, an unknown MISP object…) comes as a
      custom `x-misp-*` object no STIX reader knows: kept as a STIX note on the event (its text), listed in
      `report.notes`;
    - an attribute misp-stix dropped (a value not valid for its type, e.g. an ip-dst "not-an-ip") is listed in
      `report.skipped` with its type, value and uuid;
    - an indicator without a name is named from its attribute's comment, else the event's info, and its value.
    """
    info = str(event.get("info") or "").strip()
    container = next((o["id"] for o in objects if o.get("type") in ("grouping", "report")), None)
    attributes = {str(a.get("uuid")): a for a in event.get("Attribute") or () if isinstance(a, dict)}
    misp_objects = {str(o.get("uuid")): o for o in event.get("Object") or () if isinstance(o, dict)}
    renamed: dict[str, str] = {}
    out = []
    for obj in objects:
        if str(obj.get("type", "")).startswith("x-misp-") and container:
            kind, value, abstract, content = _note_text(obj)
            ref = obj["id"].split("--", 1)[-1]
            note = {"type": "note", "spec_version": "2.1", "id": f"note--{ref}", "abstract": abstract[:250],
                    "content": content, "object_refs": [container]}
            for key in ("created", "modified", "created_by_ref", "labels", "object_marking_refs"):
                if obj.get(key):
                    note[key] = obj[key]
            renamed[obj["id"]] = note["id"]
            report.notes.append({"ref": ref, "type": kind, "value": value, "message": _(
                "Not a STIX indicator or observable: kept as a note on the event.")})
            out.append(note)
            continue
        if obj.get("type") == "indicator" and not obj.get("name"):
            ref = obj["id"].split("--", 1)[-1]
            source = attributes.get(ref) or misp_objects.get(ref) or {}
            label = str(source.get("comment") or "").strip() or info
            if ref in attributes:
                what = str(source.get("value") or "")
            else:
                what = str(source.get("name") or "") + ": " + ", ".join(
                    str(a.get("value")) for a in source.get("Attribute") or () if isinstance(a, dict))
            name = f"{label} — {what}" if label and what else (label or what)
            if name:
                obj = {**obj, "name": name[:250]}
        out.append(obj)
    if renamed:
        out = [{k: (_replace_refs(v, renamed) if k.endswith(("_ref", "_refs")) else v) for k, v in o.items()}
               for o in out]
    text = orjson.dumps(out).decode().lower()
    kept = 0
    for ref, attribute in [*attributes.items(), *misp_objects.items()]:
        if ref.lower() in text:
            kept += 1
            continue
        kind = str(attribute.get("type") or f"object {attribute.get('name') or ''}".strip())
        report.skipped.append({"ref": ref, "type": kind, "value": str(attribute.get("value") or ""),
                               "message": _("Not a valid value for its MISP type: left out.")})
    if (attributes or misp_objects) and not kept:
        raise ValueError(_("Nothing in this event can be imported: every attribute is invalid (listed below)."))
    return out


def import_misp(collection, source, *, acting_user, file_name: str = "", recipients=None) -> ImportReport:
    """Import the MISP events of a file into `collection`: all of them, or nothing.

    What misp-stix cannot map is kept as a note or left out, and listed in the report (`_readable`); an event
    every attribute of which is invalid is refused."""
    check_write(collection, acting_user)
    report = ImportReport(format="misp", file_name=file_name)
    producer_id = services.producer_for(acting_user, collection)
    payload = load_json(read_limited(source))
    events = events_of(payload)
    objects = []
    for n, event in enumerate(events, start=1):
        ref = f"event #{n}"
        if isinstance(event, dict) and event.get("uuid"):
            ref += f" ({event['uuid']})"
        skipped_before = len(report.skipped)
        try:
            event = with_stable_uuids(event, producer_id)
            objects.extend(_readable(event, convert_event(event), report))
        except ValueError as exc:
            report.rejected.append({"ref": ref, "column": "", "message": str(exc)})
            # an event refused for its invalid attributes names them
            report.rejected.extend({"ref": s["ref"], "column": s["type"], "message": f"{s['value']}: {s['message']}"}
                                   for s in report.skipped[skipped_before:])
            del report.skipped[skipped_before:]
    if not report.rejected and not objects:
        message = _("The MISP file holds no attribute or object.")
        report.rejected.append({"ref": "", "column": "", "message": message})
        raise ImportRejected(message, report)
    if report.rejected:
        refused = len([r for r in report.rejected if r["ref"].startswith("event #")])
        raise ImportRejected(_("%(count)d of %(total)d MISP events cannot be imported; nothing was stored.")
                             % {"count": refused, "total": len(events)}, report)
    objects = reuse_stored_versions(objects, producer_id)
    return add_objects(collection, objects, report, acting_user=acting_user, recipients=recipients)


_NETWORK_REF = re.compile(
    r"^\[(?:network-traffic:(src|dst)_ref\.type = '(ipv4-addr|ipv6-addr)' AND )?"
    r"network-traffic:(src|dst)_ref\.value = '([0-9A-Fa-f:./]+)'\]$")


def _for_misp_converter(obj: dict) -> dict:
    """The object as given to misp-stix's STIX→MISP parser, which reads no network-traffic reference
    pattern (what MISP's own ip-src/ip-dst become): such a one-address pattern is given to it as
    `[ipv4-addr:value = '…']` (or ipv6-addr). Only this conversion sees the rewritten pattern."""
    if obj.get("type") != "indicator" or obj.get("pattern_type") != "stix":
        return obj
    match = _NETWORK_REF.match(str(obj.get("pattern", "")).strip())
    if not match or (match.group(1) and match.group(1) != match.group(3)):
        return obj
    try:
        address = ipaddress.ip_network(match.group(4), strict=False)
    except ValueError:
        return obj
    kind = "ipv4-addr" if address.version == 4 else "ipv6-addr"
    return {**obj, "pattern": f"[{kind}:value = '{match.group(4)}']"}


def local_label(when) -> str:
    """A moment for people: the platform's local time (Asia/Ho_Chi_Minh) with its offset, e.g.
    "2026-12-05 21:46 (UTC+07:00)". Timestamps inside the data stay ISO 8601 in UTC."""
    local = timezone.localtime(when)
    offset = local.strftime("%z")
    return "{} (UTC{}:{})".format(local.strftime("%Y-%m-%d %H:%M"), offset[:3], offset[3:])


def _not_for_ids(event, objects: list[dict]) -> None:
    """`to_ids: false` on the attributes of the indicators an IDS must not act on: revoked, expired, not yet
    valid (exported only when the selection asks for inactive ones too) or benign (known-good). misp-stix gives
    an indicator's attribute, or its MISP object, the indicator's uuid."""
    now = timezone.now()
    quiet = set()
    for obj in objects:
        if obj.get("type") != "indicator":
            continue
        window = SimpleNamespace(revoked=bool(obj.get("revoked")), valid_from=services.parse_timestamp(
            obj.get("valid_from")), valid_until=services.parse_timestamp(obj.get("valid_until")))
        if indicator_status.is_benign(obj) or indicator_status.status_of(window, now) != indicator_status.ACTIVE:
            quiet.add(str(obj["id"]).split("--", 1)[-1])
    if not quiet:
        return
    for attribute in event.attributes:
        if str(attribute.uuid) in quiet:
            attribute.to_ids = False
    for misp_object in event.objects:
        if str(misp_object.uuid) in quiet:
            for attribute in misp_object.attributes:
                attribute.to_ids = False


def export_event(user, sel: stix_export.Selection, *, info: str = "") -> str:
    """The selection as one MISP event JSON (what `MISPEvent.to_json()` writes).

    A MISP event is one document built in memory: above KHIEN_INTEL_MISP_EXPORT_MAX_OBJECTS
    (default 20000) objects the export is refused (413); STIX and CSV exports are streamed.
    """
    limit = int(getattr(settings, "KHIEN_INTEL_MISP_EXPORT_MAX_OBJECTS", 20000))
    if stix_export.count(user, sel) > limit:
        raise Refused(_("A MISP export holds at most %(limit)d objects; narrow the selection or export STIX or "
                        "CSV.") % {"limit": limit}, code="too_large", status=413)
    bundle = stix_export.build_bundle(user, sel)
    bundle["objects"] = [_for_misp_converter(o) for o in bundle["objects"]]
    objects = [o for o in bundle["objects"] if o.get("type") != "marking-definition"]
    levels = [tlp.object_tlp(o) for o in objects]
    level = _most_restrictive(levels) or Tlp.CLEAR
    if objects:
        parser = ExternalSTIX2toMISPParser()
        parser.load_stix_bundle(stix2.parse(bundle, allow_custom=True))
        parser.parse_stix_bundle(single_event=True)
        event = parser.misp_event
        _not_for_ids(event, objects)
    else:
        event = MISPEvent()
    now = timezone.now()
    event.info = info or "Khiên export {}".format(local_label(now))
    event.date = timezone.localdate(now)  # MISP requires it: the export's day, in the platform's local time
    event.distribution = TLP_DISTRIBUTION[level]
    event.tags = [t for t in event.tags if str(t.name).lower() not in TAG_TLP]
    event.add_tag(TLP_TAG[level])
    return event.to_json()
