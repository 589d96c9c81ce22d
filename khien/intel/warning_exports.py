"""An early warning's values as files for a firewall, a DNS server or another platform (the warning page's
"Download"): plain text (one value a line, grouped by type), CSV, a STIX 2.1 bundle and a DNS RPZ zone.

What goes in is what the reader may see: `services_warnings.export_values` (the warning's own values and those of
the acting indicators it names the reader may see) and, for STIX, the stored indicators and report the reader may
see (`exchange.stix_export`, the platform's STIX export). The text file and the zone leave out warning-listed
values (blocking 8.8.8.8 cuts a service; they are counted in a comment); the CSV keeps and marks them. Each file
says its TLP: the most restrictive of the warning's and of what it holds. A download is a disclosure: one audit
entry each (`audit.record_export`), with the warning's id.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from khien.core import audit
from khien.core.spreadsheet import safe_cell

from . import blocklists, services_warnings as sw, tlp
from .exchange import stix_export
from .models import EarlyWarning, IndicatorKind, Tlp

FORMATS = ("txt", "csv", "stix", "rpz")
CONTENT_TYPES = {"txt": "text/plain; charset=utf-8", "csv": "text/csv; charset=utf-8",
                 "stix": "application/json", "rpz": "text/dns; charset=utf-8"}
EXTENSIONS = {"txt": "txt", "csv": "csv", "stix": "json", "rpz": "zone"}
CSV_COLUMNS = ["type", "value", "tlp", "indicators", "names", "warning_lists"]
TLP_NAMES = {Tlp.CLEAR: "TLP:CLEAR", Tlp.GREEN: "TLP:GREEN", Tlp.AMBER: "TLP:AMBER",
             Tlp.AMBER_STRICT: "TLP:AMBER+STRICT", Tlp.RED: "TLP:RED"}


def _file_tlp(warning: EarlyWarning, levels) -> str:
    order = tlp.RESTRICTIVENESS
    return max([warning.tlp, *levels], key=lambda level: order.index(level) if level in order else 0)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:200]


def _head(warning: EarlyWarning, level: str, generated) -> list[str]:
    # In the reader's language (the request's: Vietnamese unless they chose English), each a comment line ("# …")
    # that firewalls and DNS tools skip; the TLP marking and the time (UTC, ISO 8601) are written as machines read them.
    return ["# " + _("Khiên early warning: %(title)s") % {"title": _one_line(warning.title)},
            "# " + _("Identifier: %(id)s") % {"id": warning.pk}, f"# {TLP_NAMES[level]}",
            "# " + _("Generated (UTC): %(at)s") % {"at": blocklists._stamp(generated)}]


def text_file(warning: EarlyWarning, values, generated) -> tuple[str, int]:
    kept = [v for v in values if not v.lists]
    lines = _head(warning, _file_tlp(warning, [v.tlp for v in values]), generated)
    lines.append("# " + _("Entries: %(n)s") % {"n": len(kept)})
    if len(kept) < len(values):
        lines.append("# " + _("Left out (on a warning list): %(n)s") % {"n": len(values) - len(kept)})
    kind = None
    for item in kept:  # sorted by kind: a comment line names each kind
        if item.kind != kind:
            kind = item.kind
            lines += ["", f"# {kind}"]
        lines.append(item.value)
    return "\n".join(lines) + "\n", len(kept)


def csv_file(warning: EarlyWarning, values) -> tuple[str, int]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in values:
        writer.writerow([safe_cell(cell) for cell in (
            item.kind, item.value, item.tlp, " ".join(item.indicators), "; ".join(item.names),
            "; ".join(str(name) for name in item.lists))])
    return out.getvalue(), len(values)


def rpz_file(values, generated) -> tuple[str, int]:
    domains = sorted({v.value for v in values if v.kind == IndicatorKind.DOMAIN and not v.lists})
    return blocklists.rpz_zone(domains, generated=generated), len(domains)


def stix_selection(user, warning: EarlyWarning) -> stix_export.Selection | None:
    """The stored objects of the warning the user may see: the indicators it names and its report. None when it
    names none (an empty `ids` would select everything)."""
    ids = [r for r in [*(warning.indicator_refs or []), warning.report_id] if isinstance(r, str) and r]
    if not ids:
        return None
    return stix_export.Selection(ids=ids)


# The namespace of the indicators a STIX download writes for a warning's own values: the same value of the same
# warning gets the same id in every download (a platform importing it twice updates, not duplicates).
VALUE_INDICATOR_NAMESPACE = uuid.UUID("6f3b1c2e-7a51-4d0e-9a7e-0c1f4b6d8e21")


def _stix_time(moment) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def value_indicators(warning: EarlyWarning, values) -> list[dict]:
    """STIX 2.1 indicators for the warning's own values that no indicator the reader may see carries (a value the
    sender typed, not a stored indicator): without them a warning of values alone downloaded as a bundle of its
    report and markings, nothing to block. Marked with the warning's TLP; a value no pattern can say, or one on a
    warning list (as the text file and the zone leave them out), is left out."""
    from .forms import pattern_for

    out = []
    created = _stix_time(warning.created_at)
    for item in values:
        if item.indicators or item.lists:  # carried by an indicator already; on a warning list (8.8.8.8): not to block
            continue
        try:
            pattern, value = pattern_for(item.kind, item.value)
        except ValidationError:
            continue
        out.append({
            "type": "indicator", "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(VALUE_INDICATOR_NAMESPACE, f'{warning.pk}:{item.kind}:{value}')}",
            "created": created, "modified": created, "valid_from": created,
            "name": f"{_one_line(warning.title)[:200]}: {value}", "indicator_types": ["malicious-activity"],
            "pattern": pattern, "pattern_type": "stix",
            "object_marking_refs": [tlp.TLP_MARKING.get(warning.tlp, tlp.TLP_MARKING[Tlp.AMBER])]})
    return out


def stix_bundle(user, warning: EarlyWarning) -> tuple[object, int]:
    """(the bundle's bytes, streamed; how many objects): the stored indicators and report the user may see, then
    indicators for the warning's own values (`value_indicators`) and the TLP definitions they refer to."""
    sel = stix_selection(user, warning)
    extra = value_indicators(warning, sw.export_values(user, warning))
    count = (stix_export.count(user, sel) if sel else 0) + len(extra)

    def stream():
        yield b'{"type":"bundle","id":"' + stix_export.bundle_id().encode() + b'","objects":['
        sent: set[str] = set()
        stored = stix_export.iter_objects(user, sel) if sel else iter(())
        markings = [stix_export.KNOWN_MARKINGS[ref] for ref in sorted({m for o in extra
                                                                        for m in o["object_marking_refs"]})
                    if ref in stix_export.KNOWN_MARKINGS]
        for obj in (*stored, *extra, *markings):
            if obj["id"] in sent:
                continue
            text = stix_export.object_json(obj)
            if text is None:
                continue
            yield (b"," if sent else b"") + text
            sent.add(obj["id"])
        yield b"]}"

    return stream(), count


def export(user, warning: EarlyWarning, fmt: str):
    """(content type, file name, body: text or an iterator of bytes) of the warning's `fmt` file for `user`, who
    may see the warning (the caller checks); audited here."""
    generated = timezone.now()
    if fmt == "stix":
        body, count = stix_bundle(user, warning)
    else:
        values = sw.export_values(user, warning)
        if fmt == "txt":
            body, count = text_file(warning, values, generated)
        elif fmt == "csv":
            body, count = csv_file(warning, values)
        else:
            body, count = rpz_file(values, generated)
    audit.record_export(user, object_type="intel.earlywarning", noun="values" if fmt != "stix" else "objects",
                        fmt=fmt, count=count, filters={"warning": str(warning.pk)})
    stamp = timezone.localtime(generated).strftime("%Y%m%d-%H%M%S")
    name = f"khien-warning-{str(warning.pk)[:8]}-{stamp}.{EXTENSIONS[fmt]}"
    return CONTENT_TYPES[fmt], name, body
