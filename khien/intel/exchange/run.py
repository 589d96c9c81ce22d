"""One entry point per direction for the API, the pages and the commands: import a file, export a selection."""
from __future__ import annotations

import uuid

from django.utils import timezone
from django.utils.translation import gettext as _

from khien.core.errors import Forbidden, Refused

from .. import tlp
from . import csv_io, misp, stix_export, stix_import
from .common import FORMATS, HEAD_BYTES, ImportReport, format_hint

IMPORTERS = {"stix": stix_import.import_stix, "misp": misp.import_misp, "csv": csv_io.import_csv}
CONTENT_TYPES = {"stix": "application/stix+json;version=2.1", "misp": "application/json",
                 "csv": "text/csv; charset=utf-8"}
EXTENSIONS = {"stix": "stix.json", "misp": "misp.json", "csv": "csv"}


def check_format(fmt: str) -> str:
    fmt = (fmt or "").strip().lower()
    if fmt not in FORMATS:
        raise Refused(_("Unknown format “%(format)s”: use stix, misp or csv.") % {"format": fmt}, code="invalid")
    return fmt


def collection_for_import(user, ref):
    """A collection the user may see, by id or alias; Refused (404) otherwise. The write right is checked later."""
    qs = tlp.collections_for(user)
    found = None
    if ref:
        try:
            found = qs.filter(pk=uuid.UUID(str(ref))).first()
        except ValueError:
            found = qs.filter(alias=str(ref)).first()
    if found is None:
        raise Refused(_("No such collection."), code="not_found", status=404)
    return found


def import_file(fmt: str, collection, source, *, acting_user, file_name: str = "") -> ImportReport:
    """Import a file; a refusal of a file that looks like another format (a MISP event sent as a STIX bundle…)
    says which format to choose (`format_hint`)."""
    fmt = check_format(fmt)
    try:
        return IMPORTERS[fmt](collection, source, acting_user=acting_user, file_name=file_name)
    except Refused as exc:
        if exc.status in (400, 422) and not isinstance(exc, Forbidden):
            hint = format_hint(fmt, _head(source))
            if hint:
                exc.message = f"{exc.message} {hint}"
                exc.args = (exc.message,)
        raise


def _head(source) -> bytes:
    """The first bytes of an uploaded file, a file object or bytes (what `format_hint` looks at)."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source[:HEAD_BYTES])
    try:
        source.seek(0)
        head = source.read(HEAD_BYTES)
    except (AttributeError, OSError, ValueError):
        return b""
    return head.encode("utf-8") if isinstance(head, str) else bytes(head or b"")


def export(fmt: str, user, sel: stix_export.Selection):
    """(content type, file name, iterator of bytes or text) of an export; audited here (a disclosure)."""
    fmt = check_format(fmt)
    # the platform's local time (Asia/Ho_Chi_Minh), as every other export's file name
    name = "khien-{}.{}".format(timezone.localtime().strftime("%Y%m%d-%H%M%S"), EXTENSIONS[fmt])
    if fmt == "misp":  # built whole (and possibly refused) before the export is recorded
        event = misp.export_event(user, sel).encode("utf-8")
        stix_export.export(user, sel, fmt=fmt)
        return CONTENT_TYPES[fmt], name, iter([event])
    stix_export.export(user, sel, fmt=fmt)
    if fmt == "stix":
        body = stix_export.stream_bundle(user, sel)
    else:
        body = (line.encode("utf-8") for line in csv_io.iter_csv(user, sel))
    return CONTENT_TYPES[fmt], name, body
