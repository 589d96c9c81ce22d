"""MISP event JSON in and out, through misp-stix (MISP ↔ STIX 2.1) and pymisp.

Import: a MISP event as `MISPEvent.to_json()` writes it, the same inside `{"Event": {...}}`, a
list of either, or MISP's REST search answer `{"response": [...]}`. Each event is converted with
`MISPtoSTIX21Parser`; every object then gets ONE TLP 2.0 marking (decision 0008):

- the most restrictive of the event's `tlp:*` tags and the TLP markings misp-stix gave the object
  (from attribute tags); `tlp:white` reads as CLEAR, `tlp:amber+strict` as AMBER+STRICT;
- without any TLP tag, from the event's distribution: 0 (your organisation only) → AMBER+STRICT,
  1 (this community) → AMBER, 2 (connected communities) → AMBER, 3 (all communities) → GREEN,
  4 (sharing group: its members are not known here) → AMBER+STRICT; no distribution → AMBER.

The official TLP marking-definitions of the converted bundle are not stored (Khiên knows them).
All the events of a file go into the collection in ONE `do_add_objects` call: all or nothing.

Export: the selection (see `stix_export`) as a STIX bundle, converted with
`ExternalSTIX2toMISPParser` into one MISP event; the event is tagged with the most restrictive TLP
of what it holds and gets the matching distribution (CLEAR/GREEN → 3, AMBER → 1, AMBER+STRICT and
RED → 0). `pymisp.MISPEvent().load()` reads the result.
"""
from __future__ import annotations

import ipaddress
import logging
import re

import orjson
import stix2
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from misp_stix_converter import ExternalSTIX2toMISPParser, MISPtoSTIX21Parser
from pymisp import MISPEvent

from khien.core.errors import Refused

from .. import services, tlp
from ..models import Tlp
from . import stix_export
from .common import ImportRejected, ImportReport, add_objects, check_write, load_json, read_limited

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
    out = []
    for obj in objects:
        if obj.get("type") == "marking-definition" and obj.get("id") in tlp.MARKING_TLP:
            continue
        refs = [r for r in obj.get("object_marking_refs") or () if isinstance(r, str)]
        if obj.get("type") != "marking-definition":
            own = _most_restrictive(tlp.MARKING_TLP.get(r) for r in refs)
            obj_level = _most_restrictive([level, own])
            obj["object_marking_refs"] = [r for r in refs if r not in tlp.MARKING_TLP] + [tlp.TLP_MARKING[obj_level]]
        out.append(obj)
    return out


def import_misp(collection, source, *, acting_user, file_name: str = "", recipients=None) -> ImportReport:
    """Import the MISP events of a file into `collection`: all of them, or nothing."""
    check_write(collection, acting_user)
    report = ImportReport(format="misp", file_name=file_name)
    payload = load_json(read_limited(source))
    events = events_of(payload)
    objects = []
    for n, event in enumerate(events, start=1):
        ref = f"event #{n}"
        if isinstance(event, dict) and event.get("uuid"):
            ref += f" ({event['uuid']})"
        try:
            objects.extend(convert_event(event))
        except ValueError as exc:
            report.rejected.append({"ref": ref, "column": "", "message": str(exc)})
    if not report.rejected and not objects:
        message = _("The MISP file holds no attribute or object.")
        report.rejected.append({"ref": "", "column": "", "message": message})
        raise ImportRejected(message, report)
    if report.rejected:
        raise ImportRejected(_("%(count)d of %(total)d MISP events cannot be imported; nothing was stored.")
                             % {"count": len(report.rejected), "total": len(events)}, report)
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
    else:
        event = MISPEvent()
    now = timezone.now()
    event.info = info or "Khiên export {}".format(local_label(now))
    event.date = timezone.localdate(now)  # MISP requires it: the export's day, in the platform's local time
    event.distribution = TLP_DISTRIBUTION[level]
    event.tags = [t for t in event.tags if str(t.name).lower() not in TAG_TLP]
    event.add_tag(TLP_TAG[level])
    return event.to_json()
