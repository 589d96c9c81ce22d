"""The audit log page's entries as a CSV file: what the page's filters select, as the reader may see it (the caller
passes `AuditEntry.objects.visible_to(user)` filtered by `AuditEntryFilterSet`; nothing here widens it), newest
first, at most MAX_ENTRIES. Each entry reads as on the page (`audit.describe`): the action, the kind of object and
its text in the reader's language, the organization's name; then the entry's prev_hash and hash, so that whoever
holds the file can check the links between consecutive entries (and, with the API's raw fields, each hash).

Taking the log out of the platform is a disclosure like any export: `record_export` writes who took which entries
(the filters, the number) into the log before the file is sent."""
from __future__ import annotations

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import audit
from .spreadsheet import csv_stream

MAX_ENTRIES = 100_000  # more: a shorter period, several times
CHUNK = 1000  # entries described (names looked up) at a time


def bounded(entries):
    """The entries the export holds: those that exist now (not the record of this export, written next), newest
    first, at most MAX_ENTRIES."""
    head = audit.AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    return entries.filter(seq__lte=head).order_by("-seq")[:MAX_ENTRIES]


def verify(user, entries) -> audit.VerifyResult:
    """The log page's "Verify these entries": the national coordinator's checks the whole chain (`audit.verify`);
    anyone else's checks the entries the page's filters select among those they may see, as many as the export
    holds (`audit.verify_entries`: each entry's hash, and the links between entries consecutive in seq)."""
    from .scoping import is_national_coordinator

    if is_national_coordinator(user):
        return audit.verify()
    return audit.verify_entries(entries, MAX_ENTRIES)


def record_export(user, count: int, filters: dict) -> None:
    audit.record_export(user, object_type="core.auditentry", noun="entries", fmt="csv", count=count, filters=filters)


def csv_lines(entries, user):
    """A header of column names, then one line per entry; a UTF-8 byte order mark first so that Excel reads
    Vietnamese text right. The language is the request's, taken now: the lines are written while the response
    streams."""
    return _csv_lines(entries, user, translation.get_language() or settings.LANGUAGE_CODE)


def _csv_lines(entries, user, language: str):
    with translation.override(language):
        # `#` is the entry's seq; prev_hash and hash as the API and the hash recipe name them (operator guide)
        header = ["#", _("When"), _("Who"), _("Action"), _("Kind"), _("Object"), _("Organization"), "prev_hash", "hash"]
        yield from csv_stream(header, _row_chunks(entries, user))


def _row_chunks(entries, user):
    chunk = []
    for entry in entries.iterator(chunk_size=CHUNK):
        chunk.append(entry)
        if len(chunk) == CHUNK:
            yield _rows(chunk, user)
            chunk = []
    if chunk:
        yield _rows(chunk, user)


def _rows(chunk, user) -> list[list]:
    """The entries as the page shows them (`audit.describe`, `audit.organization_names`), one line each."""
    audit.describe(chunk, user)
    names = audit.organization_names(chunk)
    return [[entry.seq, timezone.localtime(entry.at).strftime("%Y-%m-%d %H:%M:%S"), entry.actor_email,
             entry.action_label, entry.type_label, entry.text, names.get(entry.organization_id, ""),
             entry.prev_hash, entry.hash]
            for entry in chunk]
