"""Turning a request body or a file into lists of records (no parsing of the records themselves)."""
from __future__ import annotations

import zlib
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

import orjson
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from khien.core.errors import Refused

LINE_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "text/plain"}
JSON_TYPES = {"application/json", ""}  # a body without a Content-Type is read as a JSON array
# Types whose body is read as a JSON array when it is one (its first byte after blanks is "["): text/plain is what
# a body sent without a Content-Type becomes behind some servers (Python's wsgiref, Django's runserver), and it is
# also CEF's type. A CEF body is never a JSON array, so one that parses as an array is one; otherwise its lines.
SNIFFED_TYPES = {"text/plain"}
BOM = b"\xef\xbb\xbf"  # UTF-8 byte order mark, written first by some Windows tools: not part of the first record
# Content-Encoding of a posted body (Logstash's and Fluent Bit's Elasticsearch outputs compress with gzip) → the
# zlib window that reads it; "deflate" is zlib's format (RFC 9110), raw deflate is tried when its header is not there.
GZIP_WBITS = 16 + zlib.MAX_WBITS
ENCODINGS = {"": None, "identity": None, "gzip": GZIP_WBITS, "x-gzip": GZIP_WBITS, "deflate": zlib.MAX_WBITS}


def byte_size(n: int) -> str:
    """A size for people: "20 MiB", "1,5 MiB" in Vietnamese ("1.5 MiB" in English), "512 KiB", "900 bytes"."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            whole = value == int(value)
            return f"{number_format(int(value) if whole else value, 0 if whole else 1, force_grouping=True)} {unit}"
    return _("%(n)s bytes") % {"n": number_format(n, force_grouping=True)}


def too_big(max_bytes: int, *, decompressed: bool = False) -> Refused:
    """The 413 of a body beyond KHIEN_INGEST_MAX_BYTES, as sent or once decompressed (nothing stored)."""
    if decompressed:
        message = _("The batch is too large once decompressed (at most %(limit)s); nothing was stored.")
    else:
        message = _("The batch is too large (at most %(limit)s); nothing was stored.")
    return Refused(message % {"limit": byte_size(max_bytes)}, code="batch_too_large", status=413)


def decode_body(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body as sent before its Content-Encoding (gzip or deflate; none or identity: as it is), at most
    `max_bytes` once decompressed — a larger one (a "zip bomb") is refused with 413 without being decompressed
    further. Another encoding: 415; a compressed body that cannot be read: 400."""
    encoding = (content_encoding or "").strip().lower()
    if encoding not in ENCODINGS:
        raise Refused(_("The Content-Encoding “%(encoding)s” is not supported: send the body uncompressed, or "
                        "compressed with gzip or deflate.") % {"encoding": encoding[:40]},
                      code="unsupported_encoding", status=415)
    wbits = ENCODINGS[encoding]
    if wbits is None or not body:
        return body
    try:
        return _inflate(body, wbits, max_bytes)
    except zlib.error:
        if wbits != zlib.MAX_WBITS:
            raise _bad_compression(encoding) from None
    try:  # "deflate" sent without zlib's header (raw deflate), as some clients do
        return _inflate(body, -zlib.MAX_WBITS, max_bytes)
    except zlib.error:
        raise _bad_compression(encoding) from None


def _bad_compression(encoding: str) -> Refused:
    return Refused(_("The body is not valid %(encoding)s data; nothing was stored.") % {"encoding": encoding},
                   code="bad_encoding")


def _inflate(body: bytes, wbits: int, max_bytes: int) -> bytes:
    """Every member of the compressed body (gzip allows several, one after the other), never more than
    `max_bytes` + 1 bytes out."""
    parts: list[bytes] = []
    size = 0
    rest = body
    while rest:
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(rest, max_bytes - size + 1)
        size += len(out)
        if size > max_bytes or inflater.unconsumed_tail:
            raise too_big(max_bytes, decompressed=True)
        parts.append(out)
        if not inflater.eof:
            raise zlib.error("truncated")
        rest = inflater.unused_data
        if wbits != GZIP_WBITS:
            if rest.strip(b"\0"):
                raise zlib.error("data after the end")
            break
        rest = rest.lstrip(b"\0")  # padding some writers leave after the last member
    return b"".join(parts)


def split_lines(body: bytes) -> list[bytes]:
    return [line for line in (raw.strip() for raw in body.removeprefix(BOM).split(b"\n")) if line]


def split_body(body: bytes, media_type: str) -> list:
    """Records of an HTTP batch: a JSON array (application/json, or no Content-Type), or one record a line
    (application/x-ndjson; text/plain for CEF — a text/plain body that is a JSON array is read as one: SNIFFED_TYPES).
    A body that is not one of these is refused whole (400/415)."""
    media_type = (media_type or "").split(";")[0].strip().lower()
    if media_type not in LINE_TYPES | JSON_TYPES:
        raise Refused(_("Send a JSON array (application/json), one record a line (application/x-ndjson), or CEF "
                        "lines (text/plain)."), code="unsupported_media_type", status=415)
    body = body.removeprefix(BOM)
    if not body.strip():
        raise Refused(_("The body is empty."), code="empty")
    if media_type in SNIFFED_TYPES and body.lstrip()[:1] == b"[":
        try:
            records = orjson.loads(body)
        except orjson.JSONDecodeError:
            records = None
        if isinstance(records, list):
            if not records:
                raise Refused(_("The batch is an empty array: there is no record to store."), code="empty")
            return records
    if media_type in LINE_TYPES:
        return split_lines(body)
    try:
        records = orjson.loads(body)
    except orjson.JSONDecodeError:
        if _one_record_a_line(body):  # Wazuh's alerts.json, Suricata's eve.json sent as application/json
            raise Refused(_("The body is one JSON record a line, not a JSON array: send it with Content-Type: "
                            "application/x-ndjson."), code="bad_json") from None
        raise Refused(_("The body is not valid JSON."), code="bad_json") from None
    if not isinstance(records, list):
        raise Refused(_("The body must be a JSON array of records."), code="not_array")
    if not records:  # as an empty body: a forwarder sending nothing is misconfigured, not "0 accepted"
        raise Refused(_("The batch is an empty array: there is no record to store."), code="empty")
    return records


def _one_record_a_line(body: bytes) -> bool:
    """Whether a body that is not JSON reads as NDJSON: its first two lines are each a JSON object (read on the
    refusal only, never on an accepted batch)."""
    lines = split_lines(body[:1_000_000])[:2]
    if len(lines) < 2:
        return False
    try:
        return all(isinstance(orjson.loads(line), dict) for line in lines)
    except orjson.JSONDecodeError:
        return False


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


class FileBatch(list):
    """A batch of a file's records (`file_batches`) that knows where each one was in the file, for its dead
    letter (`services.prepare_batch`): `position(index)` is the record's line number (blank lines counted), or
    its place in the file's JSON array. Kept apart from the records: reading the file costs nothing more."""

    __slots__ = ("start", "blanks")

    def __init__(self, records, start: int = 0, blanks: list[int] | None = None):
        super().__init__(records)
        self.start = start  # lines (or array items) of the file before the batch's
        self.blanks = blanks or []  # for each blank line skipped within the batch: the index of the record after it

    def position(self, index: int) -> int:
        return self.start + index + 1 + bisect_right(self.blanks, index)


class Messages(list):
    """Records that are each a message of their own (JetStream): no batch their sender made, so their dead
    letters name no position."""

    __slots__ = ()

    @staticmethod
    def position(index: int) -> None:
        return None


def file_batches(stream: BinaryIO, size: int) -> Iterator[FileBatch]:
    """Lines of an NDJSON or CEF file in batches of `size` (blank lines skipped); a file that is one
    JSON array is read whole and cut into batches. Each batch knows its records' line numbers (`FileBatch`)."""
    head = stream.read(1)
    if head == BOM[:1]:
        rest = stream.read(2)
        head = stream.read(1) if rest == BOM[1:] else head + rest
    leading = 0  # blank lines before the first record
    while head in (b" ", b"\n", b"\r", b"\t"):
        leading += head == b"\n"
        head = stream.read(1)
    if head == b"[":
        try:
            records = orjson.loads(head + stream.read())
        except orjson.JSONDecodeError:
            raise Refused(_("The file is not valid JSON."), code="bad_json") from None
        if not isinstance(records, list):
            raise Refused(_("The body must be a JSON array of records."), code="not_array")
        for start in range(0, len(records), size):
            yield FileBatch(records[start:start + size], start)
        return
    batch: list[bytes] = []
    blanks: list[int] = []
    start = leading
    first = True
    for line in stream:
        if first:
            line, first = head + line, False
        line = line.strip()
        if not line:
            blanks.append(len(batch))
            continue
        batch.append(line)
        if len(batch) >= size:
            yield FileBatch(batch, start, blanks)
            start += len(batch) + len(blanks)
            batch, blanks = [], []
    if first and head.strip():
        batch.append(head)
    if batch:
        yield FileBatch(batch, start, blanks)
