"""Turning a request body or a file into lists of records (no parsing of the records themselves)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

import orjson
from django.utils.translation import gettext as _

from khien.core.errors import Refused

LINE_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "text/plain"}
JSON_TYPES = {"application/json", ""}  # a body without a Content-Type is read as a JSON array
BOM = b"\xef\xbb\xbf"  # UTF-8 byte order mark, written first by some Windows tools: not part of the first record


def split_lines(body: bytes) -> list[bytes]:
    return [line for line in (raw.strip() for raw in body.removeprefix(BOM).split(b"\n")) if line]


def split_body(body: bytes, media_type: str) -> list:
    """Records of an HTTP batch: a JSON array (application/json), or one record a line
    (application/x-ndjson; text/plain for CEF). A body that is not one of these is refused whole (400/415)."""
    media_type = (media_type or "").split(";")[0].strip().lower()
    if media_type not in LINE_TYPES | JSON_TYPES:
        raise Refused(_("Send a JSON array (application/json) or one record a line (application/x-ndjson)."),
                      code="unsupported_media_type", status=415)
    body = body.removeprefix(BOM)
    if not body.strip():
        raise Refused(_("The body is empty."), code="empty")
    if media_type in LINE_TYPES:
        return split_lines(body)
    try:
        records = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Refused(_("The body is not valid JSON."), code="bad_json") from None
    if not isinstance(records, list):
        raise Refused(_("The body must be a JSON array of records."), code="not_array")
    if not records:  # as an empty body: a forwarder sending nothing is misconfigured, not "0 accepted"
        raise Refused(_("The body is empty."), code="empty")
    return records


# Elasticsearch's bulk actions that carry a document: each document is one record. The others (update, delete)
# have no meaning for alerts: answered as failed items, nothing stored.
BULK_DOCUMENT_ACTIONS = ("index", "create")
BULK_ACTIONS = (*BULK_DOCUMENT_ACTIONS, "update", "delete")
# Where an Elasticsearch shipper puts a raw log line (a CEF record) in the document it sends; a dotted name is a
# path into nested objects (ECS's {"event": {"original": …}}), as those shippers write it.
RAW_LINE_FIELDS = ("message", "msg", "log", "event.original")


@dataclass
class BulkBody:
    """An Elasticsearch `_bulk` body: the records to ingest, and one (action, index, refusal) per action, in
    order (refusal empty for a record)."""

    records: list = field(default_factory=list)
    items: list[tuple[str, str, str]] = field(default_factory=list)


def _raw_line(document: bytes) -> bytes | str:
    """The CEF line a shipper sent inside a JSON document (or the document itself: then a dead letter)."""
    try:
        decoded = orjson.loads(document)
    except orjson.JSONDecodeError:
        return document
    for name in RAW_LINE_FIELDS:
        value = decoded
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value.strip():
            return value
    return document


def split_bulk(body: bytes, source_format: str, default_index: str) -> BulkBody:
    """Records of an Elasticsearch `_bulk` body (action lines, each index/create followed by its document).
    A document is the record itself (Wazuh, Suricata, ECS), or holds a CEF line in `message` (CEF sources).
    A body whose action lines cannot be read is refused whole (400); a document that cannot be parsed is
    ingested like any bad record (kept as a dead letter)."""
    lines = split_lines(body)
    if not lines:
        raise Refused(_("The body is empty."), code="empty")
    bulk = BulkBody()
    position = 0
    while position < len(lines):
        try:
            action = orjson.loads(lines[position])
        except orjson.JSONDecodeError:
            action = None
        if not (isinstance(action, dict) and len(action) == 1 and next(iter(action)) in BULK_ACTIONS
                and isinstance(next(iter(action.values())), dict)):
            raise Refused(_("Line %(n)d of the bulk body is not an action (index, create, update or delete); "
                            "nothing was stored.") % {"n": position + 1}, code="bad_bulk")
        name, meta = next(iter(action.items()))
        index = str(meta.get("_index") or default_index)[:200]
        has_document = name != "delete"
        if has_document and position + 1 >= len(lines):
            raise Refused(_("Line %(n)d of the bulk body has no document after it; nothing was stored.")
                          % {"n": position + 1}, code="bad_bulk")
        if name in BULK_DOCUMENT_ACTIONS:
            document = lines[position + 1]
            bulk.records.append(_raw_line(document) if source_format == "cef" else document)
            bulk.items.append((name, index, ""))
        else:
            bulk.items.append((name, index, _("Alerts are only added (index or create), never updated or deleted.")))
        position += 2 if has_document else 1
    return bulk


def file_batches(stream: BinaryIO, size: int) -> Iterator[list[bytes]]:
    """Lines of an NDJSON or CEF file in batches of `size` (blank lines skipped); a file that is one
    JSON array is read whole and cut into batches."""
    head = stream.read(1)
    if head == BOM[:1]:
        rest = stream.read(2)
        head = stream.read(1) if rest == BOM[1:] else head + rest
    while head in (b" ", b"\n", b"\r", b"\t"):
        head = stream.read(1)
    if head == b"[":
        try:
            records = orjson.loads(head + stream.read())
        except orjson.JSONDecodeError:
            raise Refused(_("The file is not valid JSON."), code="bad_json") from None
        if not isinstance(records, list):
            raise Refused(_("The body must be a JSON array of records."), code="not_array")
        for start in range(0, len(records), size):
            yield records[start:start + size]
        return
    batch: list[bytes] = []
    first = True
    for line in stream:
        if first:
            line, first = head + line, False
        line = line.strip()
        if not line:
            continue
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if first and head.strip():
        batch.append(head)
    if batch:
        yield batch
