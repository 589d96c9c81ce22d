"""Exports of searched events: NDJSON (each event as the API gives it, its raw record included) or CSV (the
normalized fields, for a spreadsheet). What to hand to an investigator, or attach to an incident as evidence.

The caller passes the events the user may see, filtered (`EventFilter`); nothing here widens them. An export
is a disclosure: `record_export` writes who exported what (filters and number of events) to the audit log
before the file is sent."""
from __future__ import annotations


import orjson
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from khien.core import audit
from khien.core.audit import Act, Change
from khien.core.spreadsheet import csv_stream

# A larger export is a narrower search (time range, organization) done several times.
MAX_EVENTS = 100_000
CHUNK = 2000
FORMATS = ("ndjson", "csv")

COLUMNS = ("time", "organization", "source", "category", "severity", "rule_id", "rule_name", "src_ip", "src_port",
           "dst_ip", "dst_port", "domain", "url", "file_md5", "file_sha1", "file_sha256", "observer", "alert", "id")


def count_for_export(events) -> int:
    """How many events the export will hold (at most MAX_EVENTS; a bounded count, never the whole store)."""
    return events[:MAX_EVENTS].count()


def record_export(user, fmt: str, count: int, filters: dict) -> None:
    audit.record_many([Change(action=Act.EXPORT, object_type="telemetry.event", object_id="search",
                              object_repr=f"{fmt.upper()} export: {count} events",
                              after={"format": fmt, "count": count, "filters": filters})], actor=user)


def _events(events):
    return events.select_related("source", "organization")[:MAX_EVENTS].iterator(chunk_size=CHUNK)


def ndjson_lines(events):
    """One JSON object a line: the event's fields as the API gives them, then its raw record as received."""
    from .api.serializers import EventSerializer

    for event in _events(events):
        yield orjson.dumps(EventSerializer(event).data) + b"\n"


def csv_lines(events):
    """A header of translated column names, then one line per event (times in the platform's zone, ISO 8601 with the offset); a UTF-8
    byte order mark first so that Excel reads Vietnamese text right. The file is for people, as the page: the
    category in words in the reader's language (another tool's own category as it came); NDJSON keeps the codes.
    The language is the one of the request, taken now: the lines are written while the response streams."""
    return _csv_lines(events, translation.get_language() or settings.LANGUAGE_CODE)


def _csv_lines(events, language: str):
    with translation.override(language):
        yield from _csv_rows(events)


def _csv_rows(events):
    labels = {"time": _("Time"), "organization": _("Organization"), "source": _("Source"), "category": _("Category"),
              "severity": _("Severity"), "rule_id": _("Rule id"), "rule_name": _("Rule name"),
              "src_ip": _("Source address"), "src_port": _("Source port"), "dst_ip": _("Destination address"),
              "dst_port": _("Destination port"), "domain": _("Domain"), "url": _("URL"), "file_md5": "MD5",
              "file_sha1": "SHA-1", "file_sha256": "SHA-256", "observer": _("Observer"), "alert": _("Alert"),
              "id": _("Event id")}
    yield from csv_stream([labels[name] for name in COLUMNS], ([_row(event)] for event in _events(events)))


def _row(event) -> list:
    cells = {name: getattr(event, name) for name in COLUMNS}
    # ISO 8601 with its offset (+07:00): a spreadsheet or a script elsewhere reads the same instant.
    cells.update(time=timezone.localtime(event.time).isoformat(timespec="seconds"),
                 organization=event.organization.code, source=event.source.name,
                 category=event.category_label,
                 alert=event.alert_id or "")
    return ["" if cells[name] is None else cells[name] for name in COLUMNS]
