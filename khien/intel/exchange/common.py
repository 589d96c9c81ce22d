"""What every import and export shares: the size limit, JSON reading, the report, the audit records."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

import orjson
from django.conf import settings
from django.db import transaction
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from khien.core import audit
from khien.core.audit import Act, Change
from khien.core.errors import Forbidden, Refused, file_too_large

from .. import services, tlp, warninglists
from ..models import Collection, IndicatorKind, IndicatorValue, StixObject

FORMATS = ("stix", "misp", "csv")
# How the pages name each format (the import and export forms' choices, the hint of `format_hint`).
FORMAT_LABELS = {"stix": gettext_lazy("STIX 2.1 bundle (JSON)"), "misp": gettext_lazy("MISP event (JSON)"),
                 "csv": gettext_lazy("CSV of indicators")}


def max_import_bytes() -> int:
    """The largest file an import accepts: KHIEN_INTEL_IMPORT_MAX_BYTES, else the TAXII content limit."""
    default = getattr(settings, "KHIEN_TAXII_MAX_CONTENT_LENGTH", 10 * 1024 * 1024)
    return int(getattr(settings, "KHIEN_INTEL_IMPORT_MAX_BYTES", default))


def max_import_mb() -> str:
    """The import limit in MB as the import page and its refusal say it, in the reader's language: "10", "1,5"."""
    mb = round(max_import_bytes() / 2**20, 1)
    return number_format(int(mb) if mb == int(mb) else mb, 0 if mb == int(mb) else 1, force_grouping=True)


def too_large() -> Refused:
    """The 413 of a file beyond the import limit, in the words of every other upload's refusal
    (`khien.core.errors.file_too_large`) and with the limit the import page shows."""
    return file_too_large(mb=max_import_mb())


def read_limited(source) -> bytes:
    """The bytes of an uploaded file, a path's file object or bytes; Refused (413) above the limit."""
    limit = max_import_bytes()
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        size = getattr(source, "size", None)
        if size is not None and size > limit:
            raise too_large()
        if hasattr(source, "seek"):
            try:
                source.seek(0)
            except (OSError, ValueError):
                pass
        data = source.read(limit + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
    if len(data) > limit:
        raise too_large()
    if not data.strip():
        raise Refused(_("The file is empty."), code="empty")
    return data


def load_json(data: bytes):
    """Parsed JSON (a UTF-8 BOM is accepted); Refused with the parser's position when malformed."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
        if "UTF-8" in reason:
            message = _("The file is not JSON encoded in UTF-8.")
        elif "surrogate" in reason:
            message = _("The file holds an invalid Unicode character (a lone surrogate).")
        elif "ecursion" in reason:
            message = _("The file is nested too deeply to be read as JSON.")
        else:
            message = _("The file is not valid JSON (line %(line)d, column %(column)d).") % {
                "line": exc.lineno, "column": exc.colno}
        raise Refused(message, code="malformed_json")


# What a file's first bytes show of its format: a MISP event's keys (a STIX object has none of them), a STIX
# bundle's or object's, a CSV header naming the type and value columns.
HEAD_BYTES = 65536
_MISP_KEYS = re.compile(rb'"(?:Event|Attribute|EventTag|threat_level_id|Orgc)"\s*:')
_STIX_KEYS = re.compile(rb'"type"\s*:\s*"bundle"|"spec_version"\s*:\s*"2\.[01]"')


def looks_like(head: bytes) -> str | None:
    """The format ("stix", "misp", "csv") the first bytes of a file look like, None when they say nothing clear.
    Cheap: a few regular expressions on the head, nothing parsed."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text[:1] in (b"{", b"["):
        if _MISP_KEYS.search(text):
            return "misp"
        return "stix" if _STIX_KEYS.search(text) else None
    header = {cell.strip().strip(b'"').strip().lower() for cell in re.split(rb"[,;\t]", text.split(b"\n", 1)[0])}
    return "csv" if {b"type", b"value"} <= header else None


def format_hint(fmt: str, head: bytes) -> str:
    """What to say when a file sent as `fmt` is refused and looks like another format; "" otherwise."""
    found = looks_like(head)
    if found is None or found == fmt:
        return ""
    label = {"format": FORMAT_LABELS[found]}
    if found == "misp":
        return _("This file looks like a MISP event: choose the format “%(format)s”.") % label
    if found == "stix":
        return _("This file looks like a STIX bundle: choose the format “%(format)s”.") % label
    return _("This file looks like a CSV file: choose the format “%(format)s”.") % label


@dataclass
class ImportReport:
    """What an import did, or (in `rejected`) why it did nothing."""

    format: str
    file_name: str = ""
    collection: str = ""
    total: int = 0
    created: int = 0
    existing: int = 0
    added_to_collection: int = 0
    rejected: list[dict] = field(default_factory=list)  # {"ref": object id / "#n" / row, "column", "message"}
    # What was stored, but not as sent: MISP attributes left out or kept as a STIX note
    # {"ref": MISP uuid, "type": MISP type, "value", "message"}; and the stored values on a warning list
    # ({"id", "kind", "value", "warninglists", "detail"}, as the API's `warnings` of an addition).
    skipped: list[dict] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    # Stored, but said: values the organization already shared in the collection (the first few: {"kind",
    # "value", "id"}, and how many), and the TLP:RED objects naming no recipient (seen by the organization only).
    already_shared: list[dict] = field(default_factory=list)
    already_shared_count: int = 0
    red_unshared: int = 0

    def as_dict(self) -> dict:
        return {"format": self.format, "file_name": self.file_name, "collection": self.collection,
                "total": self.total, "created": self.created, "existing": self.existing,
                "added_to_collection": self.added_to_collection, "rejected": self.rejected,
                "skipped": self.skipped, "notes": self.notes, "warnings": self.warnings,
                "already_shared": self.already_shared, "already_shared_count": self.already_shared_count,
                "red_unshared": self.red_unshared}


class ImportRejected(Refused):
    """Some objects or rows of a file are rejected: nothing was written. `report.rejected` lists them all."""

    def __init__(self, message, report: ImportReport):
        super().__init__(message, code="rejected", status=422)
        self.report = report

    def details(self) -> list[dict]:
        """The rejected objects and rows that say more than the refusal's message: an entry naming neither an
        object, a row nor a column and repeating that message is left out (a page shows the message once)."""
        return [r for r in self.report.rejected
                if r.get("ref") or r.get("column") or str(r.get("message")) not in str(self.message)]


def rejected_from_invalid_stix(exc: services.InvalidStix) -> list[dict]:
    return [{"ref": key, "column": "", "message": message}
            for key, messages in exc.errors.items() for message in messages]


def check_write(collection: Collection, acting_user) -> None:
    """Refuse before reading the file when the user may not add to the collection."""
    if collection is None or not tlp.can_write_collection(acting_user, collection):
        raise Forbidden(_("You may not add objects to this collection."))


# --- Observable values that `services.extract_values` does not index --------------------------------

# MISP's ip-src/ip-dst and email-src/email-dst become references of network-traffic and email-message.
_REF_PATTERN = re.compile(
    r"(network-traffic:(?:src|dst)_ref\.value|email-message:(?:from_ref|sender_ref|to_refs\[\*\]|"
    r"cc_refs\[\*\])\.value)\s*=\s*'((?:[^'\\]|\\.)*)'")


def referenced_values(pattern: str) -> list[tuple[str, str]]:
    """(kind, value) of the `=` comparisons on network-traffic / email-message references of a pattern."""
    found = set()
    for path, literal in _REF_PATTERN.findall(pattern or ""):
        literal = literal.replace("\\'", "'").replace("\\\\", "\\")
        if path.startswith("network-traffic"):
            try:
                address = ipaddress.ip_network(literal, strict=False)
            except ValueError:
                continue
            kind = IndicatorKind.IPV4 if address.version == 4 else IndicatorKind.IPV6
            normalized = services.normalize_value(kind, literal)
        else:
            normalized = services.normalize_value(IndicatorKind.EMAIL, literal)
        if normalized and normalized[1]:
            found.add(normalized)
    return sorted(found)


def index_reference_values(objects: list) -> int:
    """Index the values of MISP-style reference patterns among `objects` (stored just before).

    Derived lookup rows only (like the ones `do_add_objects` writes); never duplicates a row.
    """
    wanted: dict[tuple[str, object], list[tuple[str, str]]] = {}
    for obj in objects:
        if isinstance(obj, dict) and obj.get("type") == "indicator" and obj.get("pattern_type") == "stix":
            values = referenced_values(obj.get("pattern", ""))
            if values:
                wanted[(obj["id"], services.version_of(obj))] = values
    if not wanted:
        return 0
    rows = StixObject.objects.filter(stix_id__in=sorted({k[0] for k in wanted}))
    new = []
    for row in rows:
        values = wanted.get((row.stix_id, row.modified))
        if not values:
            continue
        have = set(IndicatorValue.objects.filter(object=row).values_list("kind", "value"))
        new.extend(IndicatorValue(object=row, kind=k, value=v) for k, v in values if (k, v) not in have)
    IndicatorValue.objects.bulk_create(new, batch_size=services.BATCH)
    return len(new)


def listed_values(objects: list) -> list[dict]:
    """The values of the indicators among `objects` that are on a warning list (`warninglists.listed_in`), with
    the MISP-style reference values (ip-src/ip-dst…) too; each once per indicator, with the `detail` the API
    gives for an addition."""
    found = warninglists.listed_in(objects)
    seen = {(f["id"], f["kind"], f["value"]) for f in found}
    lists = warninglists.compiled()
    for obj in objects:
        if isinstance(obj, dict) and obj.get("type") == "indicator" and obj.get("pattern_type") == "stix":
            for kind, value in referenced_values(obj.get("pattern", "")):
                names = warninglists.hits(kind, value, lists)
                if names and (obj.get("id"), kind, value) not in seen:
                    seen.add((obj.get("id"), kind, value))
                    found.append({"id": obj.get("id"), "kind": kind, "value": value, "warninglists": names})
    return [{**f, "detail": warninglists.listed_message([f])} for f in found]


# What a re-import changes in an object that is otherwise the same: its times (a CSV row or a MISP attribute
# without a timestamp is stamped at each import) and the author added when it was stored.
_REIMPORT_FIELDS = frozenset({"created", "modified", "valid_from", "first_observed", "last_observed",
                              "created_by_ref"})
_TIME_FIELDS = ("created", "modified", "valid_from", "first_observed", "last_observed")


def _content(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in _REIMPORT_FIELDS}


ID_CHUNK = 10_000  # ids per lookup query: a large file asks in bounded IN lists


def reuse_stored_versions(objects: list, producer_id) -> list:
    """`objects` made from a file whose rows carry no times of their own (CSV, MISP): an object whose latest
    version stored by the same producer has the same content gets that version's times, so that importing the
    same file again stores nothing new (counted as already stored); one whose content changed becomes a later
    version keeping its `created`. Objects of other producers are never looked at."""
    ids = [o["id"] for o in objects if isinstance(o, dict) and isinstance(o.get("id"), str)]
    if not ids or producer_id is None:
        return objects
    latest: dict[str, StixObject] = {}
    for start in range(0, len(ids), ID_CHUNK):  # a large file: bounded IN lists (an id's versions in one chunk)
        for row in StixObject.objects.filter(stix_id__in=ids[start:start + ID_CHUNK],
                                             producer_id=producer_id).order_by("modified"):
            latest[row.stix_id] = row  # the last one in time order
    out = []
    for obj in objects:
        row = latest.get(obj.get("id")) if isinstance(obj, dict) else None
        if row is not None and isinstance(row.data, dict):
            stored = row.data
            if _content(stored) == _content(obj):
                obj = {**obj, **{k: stored[k] for k in _TIME_FIELDS if k in stored and k in obj}}
            elif "created" in stored and "created" in obj:
                version = services.version_of(obj)
                if version is not None and version > row.modified:
                    obj = {**obj, "created": stored["created"]}
        out.append(obj)
    return out


def add_objects(collection: Collection, objects: list, report: ImportReport, *, acting_user,
                recipients=None) -> ImportReport:
    """Store `objects` in `collection` through `do_add_objects`, then audit the import itself.

    One transaction: either everything (objects, lookup rows, the import's audit record) or
    nothing; `ImportRejected` lists every invalid object.
    """
    check_write(collection, acting_user)
    report.collection = str(collection.pk)
    try:
        with transaction.atomic():
            result = services.do_add_objects(collection, objects, acting_user=acting_user, recipients=recipients)
            index_reference_values(objects)
            report.total, report.created = result.total, result.created
            report.existing, report.added_to_collection = result.existing, result.added_to_collection
            report.red_unshared = result.red_unshared
            report.already_shared, report.already_shared_count = services.already_shared_in_file(
                collection, services.producer_for(acting_user, collection),
                [o["id"] for o in objects if isinstance(o, dict) and o.get("type") == "indicator"])
            audit.record_many([Change(
                action=Act.IMPORT, object_type="intel.exchange_import", object_id=str(collection.pk),
                object_repr=f"{report.format} import {report.file_name}"[:300],
                organization_id=str(collection.owner_id),
                after={"format": report.format, "file_name": report.file_name, "collection": str(collection.pk),
                       "total": report.total, "created": report.created, "existing": report.existing,
                       "added_to_collection": report.added_to_collection},
            )], actor=acting_user)
    except services.InvalidStix as exc:
        report.rejected = rejected_from_invalid_stix(exc) or [{"ref": "", "column": "", "message": str(exc.message)}]
        raise ImportRejected(exc.message, report)
    # Stored, but said: a private address or a well-known resolver is left out of the blocklists and the matching.
    report.warnings = listed_values(objects)
    return report


def audit_export(acting_user, *, fmt: str, selection: dict, count: int) -> None:
    """An export is a disclosure: record who exported what (the selection and how many objects)."""
    with transaction.atomic():
        audit.record_many([Change(
            action=Act.EXPORT, object_type="intel.exchange_export", object_id=str(selection.get("collection") or ""),
            object_repr=f"{fmt} export of {count} objects",
            after={"format": fmt, "selection": selection, "count": count},
        )], actor=acting_user)
