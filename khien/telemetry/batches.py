"""Turning a request body or a file into lists of records (no parsing of the records themselves)."""
from __future__ import annotations

from typing import BinaryIO, Iterator

import orjson
from django.utils.translation import gettext as _

from khien.core.errors import Refused

LINE_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "text/plain"}
JSON_TYPES = {"application/json", ""}


def split_lines(body: bytes) -> list[bytes]:
    return [line for line in (raw.strip() for raw in body.split(b"\n")) if line]


def split_body(body: bytes, media_type: str) -> list:
    """Records of an HTTP batch: a JSON array (application/json), or one record a line
    (application/x-ndjson; text/plain for CEF). A body that is not one of these is refused whole (400/415)."""
    media_type = (media_type or "").split(";")[0].strip().lower()
    if media_type in LINE_TYPES:
        return split_lines(body)
    if media_type not in JSON_TYPES:
        raise Refused(_("Send a JSON array (application/json) or one record a line (application/x-ndjson)."),
                      code="unsupported_media_type", status=415)
    if not body.strip():
        raise Refused(_("The body is empty."), code="empty")
    try:
        records = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Refused(_("The body is not valid JSON."), code="bad_json") from None
    if not isinstance(records, list):
        raise Refused(_("The body must be a JSON array of records."), code="not_array")
    return records


def file_batches(stream: BinaryIO, size: int) -> Iterator[list[bytes]]:
    """Lines of an NDJSON or CEF file in batches of `size` (blank lines skipped); a file that is one
    JSON array is read whole and cut into batches."""
    head = stream.read(1)
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
