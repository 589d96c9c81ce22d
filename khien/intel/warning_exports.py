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
import io

from django.utils import timezone

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
    return [f"# Khiên early warning: {_one_line(warning.title)}", f"# id: {warning.pk}", f"# {TLP_NAMES[level]}",
            f"# generated: {blocklists._stamp(generated)}"]


def text_file(warning: EarlyWarning, values, generated) -> tuple[str, int]:
    kept = [v for v in values if not v.lists]
    lines = _head(warning, _file_tlp(warning, [v.tlp for v in values]), generated)
    lines.append(f"# entries: {len(kept)}")
    if len(kept) < len(values):
        lines.append(f"# left out (on a warning list): {len(values) - len(kept)}")
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


def export(user, warning: EarlyWarning, fmt: str):
    """(content type, file name, body: text or an iterator of bytes) of the warning's `fmt` file for `user`, who
    may see the warning (the caller checks); audited here."""
    generated = timezone.now()
    if fmt == "stix":
        sel = stix_selection(user, warning)
        count = stix_export.count(user, sel) if sel else 0
        body = stix_export.stream_bundle(user, sel) if sel else iter(
            [b'{"type":"bundle","id":"' + stix_export.bundle_id().encode() + b'","objects":[]}'])
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
