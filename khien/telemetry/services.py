"""Telemetry operations: alert sources (audited `do_*`) and batch ingestion (the hot path).

Ingestion is not a user's write: a source (authenticated by its own key) sends
records; what changed is visible in the source's counters, its dead letters and
the events themselves, so ingestion does not append one audit entry per event.
Registering, re-keying and disabling a source are user writes and are audited.

`ingest_batch` does: identity (event id from source and canonical content) →
parse → normalize, then in one transaction per batch: skip ids already stored →
fold into alerts → insert events as plain rows (store.py; ON CONFLICT DO
NOTHING on the id, so a concurrent duplicate is dropped by the database) →
insert dead letters (also identified by content) → add to the hourly counts →
update the source's counters. The answer counts every record exactly once:
accepted (new event), rejected (unreadable: counted at every sending, kept once
as a dead letter) or duplicate (an event already stored).
"""
from __future__ import annotations

import datetime as dt
import gc
import hashlib
import hmac
import os
import queue
import random
import reprlib
import secrets
import sys
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable

import bcrypt
import orjson
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from khien.core import audit
from khien.core.audit import Act
from khien.core.errors import Forbidden, Refused
from khien.core.models import hash_token
from khien.core.roles import Action
from khien.core.scoping import is_national_coordinator, scope_for, scope_within, user_can
from khien.intel.tlp import visible_object_pks_for_organization

from . import conf, store
from .matcher import current_matcher
from .matching import record_hits
from .models import (DEFAULT_SOURCE_TIME_ZONE, Alert, AlertSource, AlertStatus, DeadLetter, Event, HourlyCount, IndicatorHit, SourceFormat,
                     SOURCE_NAME_TAKEN, SourceHourlyCount, epoch_day, epoch_hour, hour_start, utc_day)
from .parsers import PARSERS, ParseError, reason_text, with_format_hint

SOURCE_KEY_PREFIX = "khs_"
RAW_DEAD_LETTER_LIMIT = 64 * 1024
EVENT_COLUMNS = (  # alert_id last: the writer appends it to a row prepared without it (_fold_into_alerts)
    "id", "source_id", "organization_id", "time", "ingested_at", "kind", "category", "severity", "observer",
    "src_ip", "src_port", "dst_ip", "dst_port", "domain", "url", "file_md5", "file_sha1", "file_sha256", "rule_id",
    "rule_name", "raw", "day", "alert_id",
)
ALERT_COLUMNS = (
    "id", "source_id", "organization_id", "key", "rule_id", "rule_name", "severity", "observables", "first_seen",
    "last_seen", "seen_hour", "count",
)
MAX_PROBED_HOURS = 24  # alert hours looked up one by one in the key index; a longer span reads the source's alerts
OBSERVABLE_FIELDS = ("src_ip", "dst_ip", "domain", "url", "file_md5", "file_sha1", "file_sha256")


# --- Sources -------------------------------------------------------------------------------


def _require(user, action, organization):
    """`user=None` is the platform itself (a command run by the operator at the console), as in `khien token`."""
    if user is None:
        return
    if organization is None or not user_can(user, action, organization):
        raise Forbidden(_("You do not have the right to do this for that organization."))


def nats_password_hash(secret: str, cost: int | None = None) -> str:
    """The bcrypt hash nats-server checks a password against (prefix $2a$, the one it recognises). A source's key
    is 256 random bits: no cost makes guessing it any harder, so the default is low (the server pays it at
    every connection); a password a person chose (the workers') gets a higher one."""
    rounds = int(cost or conf.get("KHIEN_NATS_BCRYPT_COST"))
    return bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds, prefix=b"2a")).decode()


def _new_key() -> str:
    return SOURCE_KEY_PREFIX + secrets.token_urlsafe(32)


def _key_fields(key: str) -> dict:
    """What a source keeps of its key: its digest (the HTTP check), its prefix (to recognise it) and the bcrypt
    hash of the NATS server's user — never the key."""
    return {"key_hash": hash_token(key), "prefix": key[:12], "nats_password_hash": nats_password_hash(key)}


@transaction.atomic
def do_create_source(organization, name: str, format: str, *, time_zone: str = DEFAULT_SOURCE_TIME_ZONE,
                     acting_user) -> tuple[AlertSource, str]:
    """Register a SOC tool of `organization`; return it with its key, shown once and never stored."""
    _require(acting_user, Action.ADD, organization)
    if format not in SourceFormat.values:
        raise Refused(_("Unknown source format."), code="bad_format")
    taken = AlertSource.objects.filter(name__iexact=name).values_list("name", flat=True).first()
    if taken is not None:  # one name ignoring case (AlertSource.Meta)
        raise Refused(_("A source with this name already exists.") if taken == name else str(SOURCE_NAME_TAKEN),
                      code="duplicate", status=409)
    key = _new_key()
    source = AlertSource(organization=organization, name=name, format=format, time_zone=time_zone,
                         **_key_fields(key))
    source.full_clean()
    source.save()
    audit.record(Act.CREATE, source, actor=acting_user)
    return source, key


@transaction.atomic
def do_rotate_source_key(source: AlertSource, *, acting_user) -> str:
    """A new key for the source, returned once; the old one stops working for records sent from now on
    (records a sender had already queued on NATS with it still pass: `is_source_key`)."""
    _require(acting_user, Action.CHANGE, source.organization)
    before = audit.snapshot(source)
    key = _new_key()
    source.previous_key_hash, source.key_rotated_at = source.key_hash, timezone.now()
    fields = _key_fields(key)
    for name, value in fields.items():
        setattr(source, name, value)
    source.save(update_fields=[*fields, "previous_key_hash", "key_rotated_at"])
    audit.record(Act.UPDATE, source, actor=acting_user, before=before)
    return key


def visible_source(user, name: str) -> AlertSource:
    """The source named `name` if `user` may see it; another organization's is unknown to them (404)."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(AlertSource.objects.visible_to(user).select_related("organization"), name=name)


# What can be changed on a source after its creation (and its systems). The format too: a source registered with
# the wrong one sends only dead letters, which can be read again once it is corrected (do_reprocess_dead_letters).
SOURCE_SETTINGS = ("enabled", "format", "time_zone")


@transaction.atomic
def do_update_source(source: AlertSource, changes: dict, *, acting_user) -> AlertSource:
    """Change the source's settings (SOURCE_SETTINGS): turn it off or on (a disabled source's key is refused),
    its format, or the zone its records' zone-less times are read in (both for records ingested from now on)."""
    _require(acting_user, Action.CHANGE, source.organization)
    unknown = set(changes) - set(SOURCE_SETTINGS)
    if unknown:
        raise Refused(_("These settings cannot be changed: %(names)s.") % {"names": ", ".join(sorted(unknown))},
                      code="bad_field")
    if "format" in changes and changes["format"] not in SourceFormat.values:
        raise Refused(_("Unknown source format."), code="bad_format")
    if "time_zone" in changes and not changes["time_zone"]:  # "" or None: a zone cannot be unset
        raise ValidationError({"time_zone": [_("A time zone is required.")]})
    changes = {name: value for name, value in changes.items() if getattr(source, name) != value}
    if not changes:
        return source
    before = audit.snapshot(source)
    if changes.get("enabled") is False:  # refused requests are counted anew from now (note_refused_while_disabled)
        changes = {**changes, "refused_while_disabled": 0, "last_refused_while_disabled_at": None}
    for name, value in changes.items():
        setattr(source, name, value)
    source.full_clean(exclude=["organization"])
    source.save(update_fields=list(changes))
    audit.record(Act.UPDATE, source, actor=acting_user, before=before)
    return source


def is_source_key(source: AlertSource, key: str | None, *, sent_at: dt.datetime | None = None) -> bool:
    """True when `key` is `source`'s key (compared as digests: the key itself is never stored), or, for a
    record known to have been sent at `sent_at` (the time the NATS stream stored it), the key it had then:
    rotating a key does not lose what a sender had already queued with the old one."""
    if not key:
        return False
    digest = hash_token(key)
    if hmac.compare_digest(digest, source.key_hash):
        return True
    return bool(sent_at is not None and source.previous_key_hash and source.key_rotated_at is not None
                and sent_at < source.key_rotated_at and hmac.compare_digest(digest, source.previous_key_hash))


def source_for_key(key: str) -> AlertSource | None:
    """The enabled source owning this key, or None."""
    source = source_of_key(key)
    if source is None or not source.enabled:
        return None
    return source


def source_of_key(key: str) -> AlertSource | None:
    """The source owning this key, enabled or not (the intake tells the sender of a disabled source's key so)."""
    return AlertSource.objects.select_related("organization").filter(key_hash=hash_token(key)).first()


def note_refused_while_disabled(source: AlertSource) -> None:
    """Count a request with `source`'s key refused because the source is disabled: its page shows that a tool is
    still sending to it (counted from when it was last disabled: do_update_source). A counter, not audited."""
    AlertSource.objects.filter(pk=source.pk).update(refused_while_disabled=F("refused_while_disabled") + 1,
                                                    last_refused_while_disabled_at=timezone.now())


# --- Identity ------------------------------------------------------------------------------


def canonical(source_format: str, record) -> tuple[object, bytes, str | None]:
    """(decoded record or None, canonical bytes, reason if it cannot be decoded).

    JSON records are canonicalized as sorted-key compact JSON, so the same alert
    re-serialized by a forwarder keeps its identity; CEF lines are stripped text.
    """
    if isinstance(record, dict):
        try:
            return _checked(record)
        except TypeError as exc:
            return None, bounded_text(record).encode(), _unwritable_reason(exc)
    if isinstance(record, str):
        data = record.encode("utf-8", "surrogatepass")
    elif isinstance(record, (bytes, bytearray, memoryview)):
        data = bytes(record)
    else:
        return None, _json_or_bounded_text(record).encode(), "record is not a JSON object"
    data = data.strip()
    if b"\x00" in data:
        return None, data, "record contains a NUL byte"
    if source_format == SourceFormat.CEF:
        try:
            return data.decode("utf-8"), data, None
        except UnicodeDecodeError:
            return None, data, "CEF line is not UTF-8"
    try:
        decoded = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("unexpected content after document") and data[exc.pos:].lstrip()[:1] == b"{":
            # Lines joined into one (curl -d drops the newlines of an NDJSON file): say so, not just "invalid".
            return None, data, f"several records on one line (char {exc.pos})"
        return None, data, f"not valid JSON: {str(exc)[:120]}"
    if not isinstance(decoded, dict):
        return None, data, "record is not a JSON object"
    try:
        return _checked(decoded)
    except TypeError as exc:  # read, but not writable again: kept (and identified) as it came
        return None, data, _unwritable_reason(exc)


def _checked(decoded: dict) -> tuple[object, bytes, str | None]:
    data = orjson.dumps(decoded, option=orjson.OPT_SORT_KEYS)
    if b"\\u0000" in data:  # PostgreSQL's jsonb and text cannot hold NUL
        return None, data, "record contains a NUL character"
    return decoded, data, None


def _unwritable_reason(exc: TypeError) -> str:
    # orjson writes at most 255 levels of nesting; reading takes up to 1,024.
    return "record is nested too deeply" if "ecursion" in str(exc) else "record cannot be serialized as JSON"


# A record JSON cannot write (nested deeper than the encoder goes, a lone surrogate, a set) is kept and identified
# by this text instead: the same for the same record (keys sorted), and no deeper than 100 levels (Python's own
# repr() of such a record would exhaust the interpreter's recursion limit).
_BOUNDED = reprlib.Repr()
_BOUNDED.maxlevel = 100
_BOUNDED.maxdict = _BOUNDED.maxlist = _BOUNDED.maxtuple = _BOUNDED.maxset = 100_000
_BOUNDED.maxstring = _BOUNDED.maxother = _BOUNDED.maxlong = 1_000_000


def bounded_text(value) -> str:
    return _BOUNDED.repr(value).encode("utf-8", "replace").decode("utf-8")


def _json_or_bounded_text(value) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return bounded_text(value)


def event_id(source_id: uuid.UUID, canonical_bytes: bytes) -> str:
    """The record's content digest: SHA-256 of the source id and the canonical bytes (64 hex digits).
    A dead letter's id; an event's id is this digest behind its time (`stored_event_id`)."""
    return hashlib.sha256(source_id.bytes + b"\n" + canonical_bytes).hexdigest()


def stored_event_id(time: dt.datetime, digest: str) -> tuple[str, int]:
    """An event's id and its UTC day (`models.utc_day`). The id is its time (milliseconds since 1970, UTC,
    12 hex digits) then the first 52 hex digits (208 bits) of its content digest. Still derived from the
    content alone (the time is parsed from it), so a record sent twice has the same id; but ids grow with
    time, so the primary-key index takes a batch's rows at its right edge instead of at thousands of random
    places (decision 0009)."""
    seconds = time.timestamp()
    return f"{max(0, int(seconds * 1000)):012x}{digest[:52]}", epoch_day(seconds)


def newest_events_first(events, user, since=None, until=None, narrowed: bool = False):
    """Events (a queryset the user may see, filtered) newest first, between `since` and `until` when given.

    For someone who sees every organization (the national coordinator), by id, which starts with the event's
    time (`stored_event_id`): the primary key gives the order and, bounded by the times' id prefixes, reads only
    that range (a page of 900,000 events: 0.002 s instead of 0.56 s on SQLite, which has no index on time alone).
    A scoped list keeps ordering by time, which its (organization, time) index gives — by id it would walk the
    whole key. Events stored before telemetry migration 0006 have ids without the time in front; while any is
    kept (`_ids_lead_with_time`), the coordinator's order is by time too, and so is a search `narrowed` to one
    source or organization: its (source, time) or (organization, time) index gives that order, while by id the
    database would sort every event of that source (0.65 s → 0.0003 s for a source of 35,000 events)."""
    if narrowed or not (scope_for(user, Action.VIEW).everything and _ids_lead_with_time()):
        return events.order_by("-time", "-id")
    # The bounds only narrow what is read; the time filters stay. An event in the millisecond of `until` has that
    # millisecond's prefix followed by its digest, so the upper bound is the next millisecond's prefix.
    if since is not None:
        events = events.filter(id__gte=_id_prefix(since))
    if until is not None:
        events = events.filter(id__lt=_id_prefix(until, plus_ms=1))
    return events.order_by("-id")


def newest_alerts_first(alerts, user):
    """Alerts (a queryset the user may see, filtered) by last sighting, newest first.

    For someone who sees every organization, led by the hour of the last sighting, which is the same order: the
    (seen_hour, key) index then gives it, and a page of a national queue of a million alerts reads that page
    instead of sorting every alert (page 1: 0.5 s → 0.003 s on SQLite). A scoped list keeps the plain order, which
    its (organization, last_seen) index serves — led by the hour, the database would walk every organization's
    alerts to find one organization's."""
    if scope_for(user, Action.VIEW).everything:
        return alerts.order_by("-seen_hour", "-last_seen", "pk")
    return alerts.order_by("-last_seen", "pk")


def _id_prefix(time: dt.datetime, plus_ms: int = 0) -> str:
    return f"{max(0, int(time.timestamp() * 1000) + plus_ms):012x}"


def _ids_lead_with_time() -> bool:
    """No stored event id lies beyond ten years from now: ids from before migration 0006 are random digests, and
    nearly all of them would (the time prefix of today is 0x19…, about a tenth of the 12-digit range)."""
    return not Event.objects.filter(id__gt=_id_prefix(timezone.now() + dt.timedelta(days=3650))).exists()


def record_id(source: AlertSource, record) -> str:
    """The record's content digest (`event_id`): the JetStream message id used for broker de-duplication,
    the dead-letter id, and the last 52 hex digits of the event id."""
    _decoded, data, _reason = canonical(source.format, record)
    return event_id(source.id, data)


def observables_key(source_hex: str, f: dict) -> str:
    """What repeats of one alert share: the source (its id's 32 hex digits), the rule and the observables of
    a parsed event (every field present, text or None), as 16 hex digits (64 bits of SHA-256). Short on
    purpose: the alerts' key index is written at a random place for every new alert, and a smaller index
    keeps more of it in memory and dirties fewer pages per commit (decision 0009). Spelled out field by
    field: it runs for every event. Migration 0008 recomputed stored keys with the same rule."""
    return hashlib.sha256("\x1f".join((
        source_hex, f["rule_id"], f["src_ip"] or "", f["dst_ip"] or "", f["domain"] or "", f["url"] or "",
        f["file_md5"] or "", f["file_sha1"] or "", f["file_sha256"] or "")).encode()).hexdigest()[:16]


# --- Flow control --------------------------------------------------------------------------


class Busy(Refused):
    """Too many batches in flight in this process: the sender should retry later (429)."""

    status = 429

    def __init__(self, message, retry_after: int):
        super().__init__(message, code="busy")
        self.retry_after = retry_after


class IntakeGate:
    """At most KHIEN_INGEST_MAX_INFLIGHT batches ingested at once per process; one more is refused."""

    def __init__(self):
        self._lock = threading.Lock()
        self._inflight = 0

    @property
    def inflight(self) -> int:
        return self._inflight

    def try_enter(self) -> bool:
        with self._lock:
            if self._inflight >= conf.get("KHIEN_INGEST_MAX_INFLIGHT"):
                return False
            self._inflight += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._inflight = max(0, self._inflight - 1)

    @contextmanager
    def slot(self):
        if not self.try_enter():
            raise Busy(_("Ingestion is busy; retry later."), retry_after=conf.get("KHIEN_INGEST_RETRY_AFTER"))
        try:
            yield
        finally:
            self.leave()


intake_gate = IntakeGate()


# --- Ingestion -----------------------------------------------------------------------------


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    # Each rejected record of the batch, in order: (its place, `_Positions`; its dead-letter reason). A record
    # sent twice in a batch is rejected twice, at both places, and kept once as a dead letter.
    rejections: list[tuple[int | None, str]] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [reason for _place, reason in self.rejections]

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def check_batch_size(count: int, limit: int | None = None) -> None:
    limit = limit or conf.get("KHIEN_INGEST_MAX_BATCH")
    if count > limit:
        raise Refused(_("Too many records in one batch (at most %(limit)s); nothing was stored.")
                      % {"limit": number_format(limit, force_grouping=True)},
                      code="batch_too_large", status=413)


def _dead_letter_text(record) -> str:
    if isinstance(record, (bytes, bytearray, memoryview)):
        text = bytes(record).decode("utf-8", "replace")
    elif isinstance(record, str):
        text = record
    else:
        text = _json_or_bounded_text(record)
    # Kept as readable text whatever came in: no lone surrogates, no NUL (PostgreSQL text refuses both).
    return text[:RAW_DEAD_LETTER_LIMIT].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


# The times an event may carry. Earlier: a clock never set (epoch 0, 1970) or a replay older than any SOC tool
# here; later than a day after arrival: a device's clock far ahead. Neither is an event to file (on PostgreSQL
# each day is a partition, and the retention job makes them only up to two days ahead); both go to the dead
# letters, and a record refused for a clock a little ahead is stored when read again later
# (do_reprocess_dead_letters). One rule for every format and entry point: `prepare_batch` applies it.
EARLIEST_EVENT_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
EVENT_TIME_LEAD = dt.timedelta(days=1)


def event_time_refusal(time: dt.datetime, now: dt.datetime) -> str | None:
    """Why an event's time is not accepted (a dead-letter reason), or None (EARLIEST_EVENT_TIME, EVENT_TIME_LEAD)."""
    if time < EARLIEST_EVENT_TIME:
        return f"time before {EARLIEST_EVENT_TIME:%Y-%m-%d}: {time.isoformat()}"
    if time > now + EVENT_TIME_LEAD:
        return f"time more than {EVENT_TIME_LEAD // dt.timedelta(hours=1)} hours ahead of arrival: {time.isoformat()}"
    return None


@dataclass
class PreparedBatch:
    """A batch parsed, normalized and matched, not yet written (`prepare_batch`: no database write).

    `events`: event id → (normalized fields, plus `id` and the alert `key`; the event's row in EVENT_COLUMNS
    order without the last column, alert_id, not yet known; values adapted for the database); `dead`: digest → dead letter;
    `matched`: event id → indicator hits."""

    source: AlertSource
    now: dt.datetime
    size: int
    events: dict[str, tuple[dict, tuple]]
    dead: dict[str, DeadLetter]
    matched: dict[str, list]
    rejections: list[tuple[int | None, str]]  # IngestResult.rejections


class _Positions:
    """Where a batch's unreadable records were (DeadLetter.position), found only once one fails: the loop over
    the records keeps no counter, so good records pay nothing. Each failing record is looked up by identity
    (an equal record elsewhere in the batch is not this one), onwards from the previous one's place: the
    lookups of a batch are one pass over it at most. The number is what the records say of themselves
    (`records.position(index)`: a file's line numbers, `batches.FileBatch`; none for JetStream messages),
    else the record's place in the batch, 1-based."""

    def __init__(self, records):
        self.ids = list(map(id, records))
        self.after = 0
        self.number = getattr(records, "position", None)

    def of(self, record) -> int | None:
        index = self.ids.index(id(record), self.after)
        self.after = index + 1
        return self.number(index) if self.number is not None else index + 1


def prepare_batch(source: AlertSource, records: list, *, max_batch: int | None = None,
                  check_enabled: bool = True) -> PreparedBatch:
    """The CPU part of ingesting a batch: identity, parse, normalize, match, and the rows to write.

    At most `max_batch` records (default KHIEN_INGEST_MAX_BATCH, the HTTP limit); a file replay
    (`khien ingest`) passes KHIEN_INGEST_FILE_MAX_BATCH: larger transactions, fewer commits. A dead letter
    says where its record was in the batch (`_Positions`)."""
    check_batch_size(len(records), max_batch)
    if not source.enabled and check_enabled:
        raise Forbidden(_("This source is disabled."))
    parser, source_format, source_id, zone = PARSERS[source.format], source.format, source.id, source.zone
    match = current_matcher().match_event
    now = timezone.now()
    rejections: list[tuple[int | None, str]] = []
    events: dict[str, tuple[dict, tuple]] = {}
    dead: dict[str, DeadLetter] = {}
    matched: dict[str, list] = {}
    positions = None  # made at the batch's first dead letter
    # Values that are the same for every row, adapted once; per row only the time needs adapting.
    source_value, organization_value, now_value = next(store.adapt_rows(
        Event, ("source_id", "organization_id", "ingested_at"), [(source_id, source.organization_id, now)]))
    adapt_time = store.adapter(Event, "time")
    source_hex = source_id.hex
    earliest, latest = EARLIEST_EVENT_TIME, now + EVENT_TIME_LEAD  # event_time_refusal's window, per batch
    for record in records:
        decoded, data, reason = canonical(source_format, record)
        digest = event_id(source_id, data)
        if reason is None:
            try:
                f = parser(decoded, zone)
            except ParseError as exc:
                reason = with_format_hint(exc.reason, source_format, decoded)
            else:
                if not earliest <= f["time"] <= latest:  # one comparison per record; the reason only when refused
                    reason = event_time_refusal(f["time"], now)
        else:  # unreadable as the source's format: perhaps another's (a CEF line sent to a JSON source)
            reason = with_format_hint(reason, source_format, data)
        if reason is not None:
            if positions is None:
                positions = _Positions(records)
            place = positions.of(record)
            rejections.append((place, reason))
            if digest not in dead:
                dead[digest] = DeadLetter(source_id=source_id, organization_id=source.organization_id, digest=digest,
                                          received_at=now, reason=reason[:300], raw=_dead_letter_text(record),
                                          position=place)
            continue
        eid, day = stored_event_id(f["time"], digest)
        if eid in events:
            continue
        f["id"] = eid
        f["key"] = observables_key(source_hex, f)
        # The canonical bytes are the record as JSON already: stored as they are (no second dumps).
        raw = store.JsonText(data.decode() if type(decoded) is dict else orjson.dumps(decoded).decode())
        events[eid] = (f, (eid, source_value, organization_value, adapt_time(f["time"]), now_value, f["kind"],
                           f["category"], f["severity"], f["observer"], f["src_ip"], f["src_port"], f["dst_ip"],
                           f["dst_port"], f["domain"], f["url"], f["file_md5"], f["file_sha1"], f["file_sha256"],
                           f["rule_id"], f["rule_name"], raw, day))
        hits = match(f)
        if hits:
            matched[eid] = hits
    return PreparedBatch(source, now, len(records), events, dead, matched, rejections)


def write_batch(batch: PreparedBatch) -> IngestResult:
    """The database part: store a prepared batch idempotently, in one transaction."""
    source, now = batch.source, batch.now
    result = IngestResult(rejections=batch.rejections)
    postgres = connection.vendor == "postgresql"
    if postgres and batch.events:  # day partitions for the batch's days, each created in its own short transaction
        store.ensure_event_partitions({f["time"].astimezone(dt.timezone.utc).date() for f, _r in batch.events.values()})
    _tune_connection()
    with transaction.atomic():
        _lock_source(source)
        stored = _stored_event_ids(batch.events, postgres) if batch.events else ()
        new = [value for eid, value in batch.events.items() if eid not in stored] if stored else list(batch.events.values())
        if batch.dead:
            known = set(DeadLetter.objects.filter(digest__in=list(batch.dead)).values_list("digest", flat=True))
            new_dead = [letter for digest, letter in batch.dead.items() if digest not in known]
        else:
            new_dead = []
        events = [fields for fields, _row in new]
        rows = _fold_into_alerts(source, new)
        if postgres:
            store.copy_rows(Event, EVENT_COLUMNS, rows)  # COPY to a staging table, INSERT … ON CONFLICT DO NOTHING
        else:
            store.insert_rows(Event, EVENT_COLUMNS, rows, adapted=True)
        if batch.matched:
            found = [(fields, batch.matched[fields["id"]]) for fields in events if fields["id"] in batch.matched]
            if found:
                record_hits(source, found, now=now)
        DeadLetter.objects.bulk_create(new_dead, batch_size=1000, ignore_conflicts=True)
        _count_hourly(source, events)
        result.accepted = len(events)
        # A broken record is rejected each time it is sent (a forwarder's retry log must show it), though kept
        # once as a dead letter; duplicates are only events already stored (or repeated in the batch).
        result.rejected = len(batch.rejections)
        result.duplicates = batch.size - len(events) - result.rejected
        AlertSource.objects.filter(pk=source.pk).update(
            accepted=F("accepted") + result.accepted, rejected=F("rejected") + result.rejected,
            # A record sent again that is stored already is a working connection too (health.py: not "rejecting").
            **({"last_event_at": now} if events or result.duplicates else {}),
        )
        _count_source_hour(source, now, result.accepted, result.rejected)
    return result


TRY_RECORDS_LIMIT = 100  # records read by one trial (`try_records`): what a person pastes to check a connection


@dataclass
class TriedRecord:
    """One record of a trial (`try_records`): its place (1-based), the event it would be (the normalized fields,
    Event's names) or why it would be refused (a dead-letter reason), whether that event is stored already (sent
    before: it would be counted a duplicate) or repeats an earlier record of the trial, and the indicators it would
    match that the source's organization may see (`matcher.Hit`)."""

    place: int
    fields: dict | None = None
    reason: str | None = None
    stored: bool = False
    repeated: bool = False
    hits: list = field(default_factory=list)


def try_records(source: AlertSource, records: list) -> list[TriedRecord]:
    """What ingesting `records` into `source` would do, record by record, storing and counting nothing: the
    same reading as every entry point (`prepare_batch`, one record at a time so that each result keeps its
    place), for an operator checking a tool's output before connecting it, or a disabled source's format.
    At most TRY_RECORDS_LIMIT records (413 beyond)."""
    check_batch_size(len(records), TRY_RECORDS_LIMIT)
    tried: list[TriedRecord] = []
    seen: set[str] = set()
    for place, record in enumerate(records, 1):
        batch = prepare_batch(source, [record], max_batch=1, check_enabled=False)
        if batch.rejections:
            tried.append(TriedRecord(place, reason=batch.rejections[0][1]))
            continue
        [(fields, _row)] = batch.events.values()
        result = TriedRecord(place, fields=fields, hits=batch.matched.get(fields["id"], []), repeated=fields["id"] in seen)
        seen.add(fields["id"])
        tried.append(result)
    events = {t.fields["id"]: (t.fields, None) for t in tried if t.fields}
    stored = _stored_event_ids(events, connection.vendor == "postgresql") if events else set()
    visible = visible_object_pks_for_organization(
        source.organization_id, {hit.indicator_pk for t in tried for hit in t.hits})
    for t in tried:
        if t.fields:
            t.stored = t.fields["id"] in stored
            # As record_hits keeps them: only indicators the source's organization may see.
            t.hits = [hit for hit in t.hits if hit.indicator_pk in visible]
    return tried


def ingest_batch(source: AlertSource, records: list, *, max_batch: int | None = None) -> IngestResult:
    """Parse, normalize, match and store one batch from `source`, idempotently, in one transaction
    (the HTTP intake, the JetStream worker, the simulator)."""
    return write_batch(prepare_batch(source, records, max_batch=max_batch))


STREAM_SWITCH_INTERVAL = 0.001  # seconds: Python's thread switch interval while ingest_stream runs


def ingest_stream(batches: Iterable[tuple[AlertSource, list]], *, max_batch: int | None = None,
                  progress: Callable[[IngestResult], None] | None = None) -> IngestResult:
    """Ingest many batches (file replay: `khien ingest`): batch n+1 is parsed and matched in this thread
    while batch n is written by a writer thread on its own database connection, so that the database's
    own work (SQLite inside its library, PostgreSQL in its server) overlaps the parsing on a second core.
    At most two prepared batches wait for the writer (bounded memory: a slow store slows the reading).
    Each batch is one transaction, as with ingest_batch. Returns the totals; `progress(totals)` is called
    in the writer thread after each commit. The first failure stops the stream and is raised here; the
    batches committed before it stay."""
    pending: queue.Queue = queue.Queue(maxsize=2)
    totals = IngestResult()
    failures: list[BaseException] = []

    def write_all():
        try:
            if connection.vendor == "sqlite":
                # This thread's connection only writes: mapping the file costs its commits about 4 % (decision
                # 0009, eighteenth run's A/B) and helps no read of its own.
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA mmap_size=0")
            while (batch := pending.get()) is not None:
                if failures:
                    continue  # drain without writing: the reader stops at its next batch
                try:
                    result = write_batch(batch)
                except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, raised there
                    failures.append(exc)
                    continue
                totals.accepted += result.accepted
                totals.duplicates += result.duplicates
                totals.rejected += result.rejected
                if progress is not None:
                    progress(totals)
        finally:
            connection.close()  # this thread's own connection

    # The writer gives up Python's lock for each long database call and needs it back when the call
    # returns; with the default 5 ms switch interval it would wait that long behind the parsing thread.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, STREAM_SWITCH_INTERVAL))
    # A prepared batch is hundreds of thousands of young objects that all survive until written: Python's
    # automatic collections would walk them again and again (about a tenth of the CPU time, decision 0009).
    # They hold no reference cycles (reference counting frees them), so the collector runs once per
    # batch instead, which also bounds what any cycle could hold.
    collecting = gc.isenabled()
    gc.disable()
    writer = threading.Thread(target=write_all, name="khien-ingest-writer", daemon=True)
    writer.start()
    try:
        for source, records in batches:
            if failures:
                break
            pending.put(prepare_batch(source, records, max_batch=max_batch))
            if collecting:
                gc.collect(1)
    finally:
        pending.put(None)
        writer.join()
        sys.setswitchinterval(interval)
        if collecting:
            gc.enable()
    if failures:
        raise failures[0]
    return totals


_ID_CHUNK = 10000  # ids per SELECT on PostgreSQL


def _stored_event_ids(parsed: dict, postgres: bool) -> set[str]:
    """The batch's event ids already stored: plain `SELECT id … WHERE id IN (…)` statements (the ORM's
    per-value preparation of thousands of ids cost more than the query). On PostgreSQL restricted to
    the batch's time range: the id includes the time, so only the partitions of the batch's days are
    searched."""
    table = connection.ops.quote_name(Event._meta.db_table)
    ids = list(parsed)
    if not postgres:  # SQLite: the ids as one JSON parameter, the answer as one JSON row (store.sqlite_rows)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT json_group_array(id) FROM {table} WHERE id IN (SELECT value FROM json_each(%s))",
                           [orjson.dumps(ids).decode()])
            return set(orjson.loads(cursor.fetchone()[0]))
    times = [fields["time"] for fields, _row in parsed.values()]
    extra, extra_params = " AND time >= %s AND time <= %s", [min(times), max(times)]
    stored: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start:start + _ID_CHUNK]
            cursor.execute(f"SELECT id FROM {table} WHERE id IN ({', '.join(['%s'] * len(chunk))}){extra}",
                           chunk + extra_params)
            stored.update(row[0] for row in cursor.fetchall())
    return stored


def _tune_connection() -> None:
    """Embedded (SQLite) bulk settings for the connection that ingests, once per connection: a page cache
    of KHIEN_SQLITE_CACHE_MB (the events' indexes stay in memory instead of being re-read for each batch)
    and a WAL checkpoint every KHIEN_SQLITE_WAL_CHECKPOINT pages instead of 1000 (fewer, larger checkpoints).
    WAL and synchronous=NORMAL come from the settings' init_command."""
    if connection.vendor != "sqlite":
        return
    connection.ensure_connection()
    raw = connection.connection
    if getattr(_tuned, "connection", None) is raw:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA cache_size = -{int(conf.get('KHIEN_SQLITE_CACHE_MB')) * 1024}")
        cursor.execute(f"PRAGMA wal_autocheckpoint = {int(conf.get('KHIEN_SQLITE_WAL_CHECKPOINT'))}")
    _tuned.connection = raw


_tuned = threading.local()
_LOCK_NAMESPACE = 0x4B54  # "KT": telemetry ingestion (two-key advisory locks do not meet the audit log's one-key lock)


def _lock_source(source: AlertSource) -> None:
    """Serialize the write phase of batches of one source, so that the check for stored ids, the alert
    counts and the counters stay exact when several workers get the same records (a redelivery racing
    the first delivery). Parsing stays parallel. SQLite serializes writers already (BEGIN IMMEDIATE)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                           [_LOCK_NAMESPACE, int.from_bytes(source.id.bytes[:4], "big", signed=True)])


# Alert ids need to be unique, not secret: a per-process generator seeded from the OS (one system call
# per process instead of one per alert).
# Reseeded in a forked child (web server workers), which would otherwise repeat its parent's sequence.
_alert_random = random.Random(secrets.randbits(128))
os.register_at_fork(after_in_child=lambda: _alert_random.seed(secrets.randbits(128)))


_RANDOM_B = (1 << 62) - 1


def _alert_id_hex(millis_hex: str) -> str:
    """A version-7 style UUID as 32 hex digits: the 12 hex digits of an event's milliseconds (the start of its
    id), the version, 74 random bits with the RFC 4122 variant. Alerts of the same period sit together in
    the primary-key and `alert_id` indexes, so a batch touches few index pages."""
    bits = _alert_random.getrandbits(74)
    return f"{millis_hex}7{bits >> 62:03x}{(bits & _RANDOM_B) | (0x2 << 62):016x}"


def _alert_uuid(when: dt.datetime) -> uuid.UUID:
    return uuid.UUID(_alert_id_hex(f"{int(when.timestamp() * 1000) & ((1 << 48) - 1):012x}"))


def _fold_into_alerts(source: AlertSource, new: list[tuple[dict, tuple]]) -> list[tuple]:
    """Give each new event (normalized fields, adapted row) an alert: the latest one of the same key within
    the window, or a new one; the event's `alert_id` is set. Returns the events' rows with their alert id.

    Set-based: one SELECT of the candidate alerts of the batch's keys, the folding in Python, then one
    INSERT of the new alerts (rows built already adapted: this runs for every event) and one UPDATE of the
    changed ones (executemany on PostgreSQL)."""
    if not new:
        return []
    window = dt.timedelta(seconds=conf.get("KHIEN_ALERT_WINDOW_SECONDS"))
    keyed = sorted(new, key=lambda pair: pair[0]["time"])
    earliest = keyed[0][0]["time"] - window
    # alert state: [id, first_seen, last_seen, count, severity, stored?]
    current: dict[str, list] = {}
    keys = list({fields["key"] for fields, _row in keyed})
    hours = _candidate_hours(source, earliest, keyed[-1][0]["time"])
    sqlite = connection.vendor == "sqlite"
    # The batch's keys and hours as one parameter each (an array / a JSON array): the ORM's `key__in` prepared
    # each of thousands of keys one by one, which cost more than the query.
    if sqlite:  # the key index named: without statistics the planner could walk the source's recent alerts
        with connection.cursor() as cursor:
            # A long span (a replay of old records while newer ones exist) reads the source's alerts seen
            # since, in time order, instead: one source's, not every source's of those hours.
            if len(hours) <= MAX_PROBED_HOURS:
                index, params = "telemetry_alert_hour_key", [orjson.dumps(hours).decode()]
                by_hour = "seen_hour IN (SELECT value FROM json_each(%s)) AND "
            else:
                index, by_hour, params = "telemetry_alert_source_seen", "", []
            cursor.execute(
                "SELECT json_group_array(json_array(key, id, first_seen, last_seen, count, severity)) FROM "
                f"(SELECT * FROM {connection.ops.quote_name(Alert._meta.db_table)} INDEXED BY {index} "
                f"WHERE {by_hour}key IN (SELECT value FROM json_each(%s)) "
                "AND source_id = %s AND last_seen >= %s ORDER BY last_seen)",
                params + [orjson.dumps(keys).decode(), store.adapter(Alert, "source_id")(source.id),
                          store.adapter(Alert, "last_seen")(earliest)])
            found = orjson.loads(cursor.fetchone()[0])
        candidates = ((key, pk, store.sqlite_datetime_value(first_seen), store.sqlite_datetime_value(last_seen),
                       count, severity) for key, pk, first_seen, last_seen, count, severity in found)
    else:
        # PostgreSQL's planner has statistics: the hours are a condition for it to use, not an index to force.
        by_hour = ("seen_hour = ANY(%s)", hours) if len(hours) <= MAX_PROBED_HOURS else ("seen_hour >= %s", hours[0])
        candidates = (Alert.objects.select_for_update().filter(source_id=source.id, last_seen__gte=earliest)
                      .extra(where=[by_hour[0], "key = ANY(%s)"], params=[by_hour[1], keys])
                      .order_by("last_seen").values_list("key", "id", "first_seen", "last_seen", "count", "severity"))
    for key, pk, first_seen, last_seen, count, severity in candidates:
        current[key] = [pk, first_seen, last_seen, count, severity, True]  # ascending: the latest wins
    # New ids in the form the database takes (32 hex digits on SQLite), so that neither the alert rows nor
    # the event rows convert them again.
    # The new alert's time is its first event's: the start of that event's id.
    new_id = (lambda fields: _alert_id_hex(fields["id"][:12])) if sqlite else \
        (lambda fields: uuid.UUID(_alert_id_hex(fields["id"][:12])))
    changed: dict = {}
    created: list[tuple] = []
    for fields, row in keyed:
        key = fields["key"]
        alert = current.get(key)
        when = fields["time"]
        if alert is not None and alert[1] - window <= when <= alert[2] + window:
            if when < alert[1]:
                alert[1] = when
            if when > alert[2]:
                alert[2] = when
            alert[3] += 1
            if fields["severity"] > alert[4]:
                alert[4] = fields["severity"]
            if alert[5]:
                changed[alert[0]] = alert
        else:
            alert = current[key] = [new_id(fields), when, when, 1, fields["severity"], False]
            created.append((alert, fields, row))
        fields["alert_id"] = alert[0]
    adapt = store.adapt_rows
    source_id, organization_id = next(adapt(Alert, ("source_id", "organization_id"),
                                            [(source.id, source.organization_id)]))
    adapt_time = store.adapter(Alert, "first_seen")
    time_column = EVENT_COLUMNS.index("time")
    rows = []
    for (pk, first_seen, last_seen, count, severity, _stored), fields, row in created:
        event_time = row[time_column]  # adapted already: the event's time is the alert's unless it grew
        rows.append((pk, source_id, organization_id, fields["key"], fields["rule_id"], fields["rule_name"], severity,
                     orjson.dumps({name: fields[name] for name in OBSERVABLE_FIELDS if fields[name]}).decode(),
                     event_time if first_seen is fields["time"] else adapt_time(first_seen),
                     event_time if last_seen is fields["time"] else adapt_time(last_seen),
                     epoch_hour(last_seen.timestamp()), count))
    store.insert_rows(Alert, ALERT_COLUMNS, rows, adapted=True)
    if created:
        from .triage import mark_suppressed  # triage builds on this module

        mark_suppressed(source, [(alert[0], fields["key"]) for alert, fields, _row in created])
    if changed:
        # A resolved alert that gets a later repeat is new again (the activity came back); other statuses stay.
        table = connection.ops.quote_name(Alert._meta.db_table)
        updates = list(adapt(Alert, ("first_seen", "last_seen", "seen_hour", "count", "severity", "id"),
                             ((a[1], a[2], epoch_hour(a[2].timestamp()), a[3], a[4], a[0]) for a in changed.values())))
        with connection.cursor() as cursor:
            if sqlite:  # one statement for all (store.sqlite_rows)
                cursor.execute(
                    f"UPDATE {table} SET first_seen = json_extract(u.value, '$[0]'), "
                    "last_seen = json_extract(u.value, '$[1]'), seen_hour = json_extract(u.value, '$[2]'), "
                    "count = json_extract(u.value, '$[3]'), severity = json_extract(u.value, '$[4]'), "
                    f"status = CASE WHEN status = '{AlertStatus.RESOLVED}' AND json_extract(u.value, '$[1]') > last_seen "
                    f"THEN '{AlertStatus.NEW}' ELSE status END "
                    f"FROM json_each(%s) AS u WHERE {table}.id = json_extract(u.value, '$[5]')",
                    [orjson.dumps(updates).decode()])
            else:
                cursor.executemany(f"UPDATE {table} SET first_seen = %s, last_seen = %s, seen_hour = %s, count = %s, "
                                   f"severity = %s, status = CASE WHEN status = '{AlertStatus.RESOLVED}' "
                                   f"AND last_seen < %s THEN '{AlertStatus.NEW}' ELSE status END WHERE id = %s",
                                   [(*row[:5], row[1], row[5]) for row in updates])
    # Alert ids are in the database's form already (32 hex digits on SQLite, UUIDs on PostgreSQL).
    return [row + (fields["alert_id"],) for fields, row in new]


def _candidate_hours(source: AlertSource, earliest: dt.datetime, latest: dt.datetime) -> list[int]:
    """The hours (`epoch_hour`) in which the alerts a batch may fold into were last seen: from the window before
    its first event to its last event — or later, up to the source's latest sighting when a replay of older
    records arrives after newer ones. Usually two or three hours: the alert key index is searched hour by hour."""
    first = epoch_hour(earliest.timestamp())
    last = epoch_hour(latest.timestamp())
    newest = Alert.objects.filter(source_id=source.id).order_by("-last_seen").values_list("last_seen", flat=True)[:1]
    for seen in newest:
        last = max(last, epoch_hour(seen.timestamp()))
    return list(range(first, last + 1))


def _count_hourly(source: AlertSource, events: list[dict]) -> None:
    """Add the batch's events to the hourly counts (one upsert per hour × category × severity)."""
    if not events:
        return
    counts: dict[tuple, int] = {}
    for event in events:  # hours as integers (epoch_hour): cheaper than truncating datetimes
        key = (epoch_hour(event["time"].timestamp()), event["category"], event["severity"])
        counts[key] = counts.get(key, 0) + 1
    table = connection.ops.quote_name(HourlyCount._meta.db_table)
    org = HourlyCount._meta.get_field("organization").get_db_prep_value(source.organization_id, connection)
    hour_field = HourlyCount._meta.get_field("hour")
    rows = [
        (org, hour_field.get_db_prep_value(dt.datetime.fromtimestamp(hours * 3600, dt.timezone.utc), connection),
         category, severity, n)
        for (hours, category, severity), n in counts.items()
    ]
    # Concurrent workers add up instead of colliding (upsert: SQLite 3.24+ and PostgreSQL).
    upsert = (f"ON CONFLICT (organization_id, hour, category, severity) "
              f"DO UPDATE SET count = {table}.count + excluded.count")
    if connection.vendor == "sqlite":  # one statement for all rows (store.sqlite_rows)
        connection.ensure_connection()
        connection.connection.execute(
            store.sqlite_json_insert(HourlyCount._meta.db_table,
                                     ("organization_id", "hour", "category", "severity", "count"), upsert),
            (orjson.dumps(rows).decode(),))
        return
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} (organization_id, hour, category, severity, count) "
                           f"VALUES (%s, %s, %s, %s, %s) {upsert}", rows)


def _count_source_hour(source: AlertSource, now: dt.datetime, accepted: int, rejected: int) -> None:
    """Add a batch to its source's count for the hour it arrived in (the source's rate, health.py): one upsert."""
    if not (accepted or rejected):
        return
    table = connection.ops.quote_name(SourceHourlyCount._meta.db_table)
    hour = hour_start(now)
    params = (SourceHourlyCount._meta.get_field("source").get_db_prep_value(source.pk, connection),
              SourceHourlyCount._meta.get_field("hour").get_db_prep_value(hour, connection), accepted, rejected)
    with connection.cursor() as cursor:  # concurrent workers of one source add up (SQLite 3.24+, PostgreSQL)
        cursor.execute(f"INSERT INTO {table} (source_id, hour, accepted, rejected) VALUES (%s, %s, %s, %s) "
                       f"ON CONFLICT (source_id, hour) DO UPDATE SET accepted = {table}.accepted + excluded.accepted, "
                       f"rejected = {table}.rejected + excluded.rejected", params)


# --- Searching events --------------------------------------------------------------------------


def address_search_days(since: dt.datetime | None, until: dt.datetime | None) -> list[int]:
    """The UTC days an address search looks in: those from `since` to `until` (either open: up to the first
    or the last day stored), within the days stored — at most the retention period's days."""
    # Two queries, not one aggregate of both: SQLite reads a lone MIN() or MAX() off the index's end, but walks the
    # whole index for the pair (0.3 s on a million events, most of an address search).
    first_stored = Event.objects.aggregate(first=Min("day"))["first"]
    if first_stored is None:
        return []
    last_stored = Event.objects.aggregate(last=Max("day"))["last"]
    first = first_stored if since is None else max(first_stored, utc_day(since))
    last = last_stored if until is None else min(last_stored, utc_day(until))
    return list(range(first, last + 1))


# --- Retention -------------------------------------------------------------------------------


@dataclass
class PruneResult:
    events: int = 0
    alerts: int = 0
    hits: int = 0
    dead_letters: int = 0
    hourly: int = 0
    partitions: list = field(default_factory=list)  # day partitions dropped (PostgreSQL)


@transaction.atomic
def do_prune(older_than: dt.datetime, *, acting_user, keep_hourly: bool = True) -> PruneResult:
    """Delete events and their indicator hits (by event time), alerts (by last sighting) and dead letters
    (by arrival) older than `older_than`; hourly counts are kept unless `keep_hourly=False`. Only the national coordinator, or the
    platform itself (`acting_user=None`: the `telemetry.retention` job, `khien telemetry prune`), may prune.

    On PostgreSQL the day partitions of the events table wholly older than `older_than` are dropped
    (no row-by-row delete, no table bloat); the remaining older rows (the cut-off day, the default
    partition) are deleted. On SQLite the rows are deleted. One audit entry records the counts."""
    if acting_user is not None and not is_national_coordinator(acting_user):
        raise Forbidden(_("Only the national coordinator can delete telemetry."))
    result = PruneResult()
    if connection.vendor == "postgresql" and store.is_partitioned():
        rows, result.partitions = store.drop_event_partitions_before(older_than.astimezone(dt.timezone.utc).date())
        result.events = rows
    deleted, _detail = Event.objects.filter(time__lt=older_than).delete()  # nothing points at events: one DELETE
    result.events += deleted
    result.alerts, _detail = Alert.objects.filter(last_seen__lt=older_than).delete()
    # Indicator hits go with their events (by the event's time); their sightings stay in the intel store.
    result.hits, _detail = IndicatorHit.objects.filter(time__lt=older_than).delete()
    result.dead_letters, _detail = DeadLetter.objects.filter(received_at__lt=older_than).delete()
    if not keep_hourly:
        result.hourly, _detail = HourlyCount.objects.filter(hour__lt=older_than).delete()
    audit.record(Act.DELETE, None, actor=acting_user, object_type="telemetry.retention", object_id=older_than.isoformat(),
                 object_repr=f"telemetry older than {older_than.isoformat()}", after=result.__dict__)
    return result


def retention_cutoff(now: dt.datetime) -> dt.datetime | None:
    """The time before which events are deleted under KHIEN_EVENT_RETENTION_DAYS (None: 0 keeps everything)."""
    days = int(conf.get("KHIEN_EVENT_RETENTION_DAYS"))
    return now - dt.timedelta(days=days) if days > 0 else None


# --- Monitored systems -----------------------------------------------------------------------


def watchable_systems(source: AlertSource):
    """The information systems `source` may watch: those its organization, or a unit below it, owns or operates
    (the ways a system belongs to an organization: `InformationSystemQuerySet.org_path_lookups`). Never another
    organization's, even for a user who sees both (a member of two organizations): a source counts as the national
    monitoring of what it watches (health.monitored_systems), which only its own organization may vouch for."""
    from khien.registry.models import InformationSystem, InformationSystemQuerySet

    # Not across a coordination boundary (decision 0001): a ministry's source does not watch the coordinator's systems.
    reach = scope_within(None, (source.organization.path,))
    belongs = Q()
    for lookup in InformationSystemQuerySet.org_path_lookups:
        belongs |= reach.q(lookup)
    return InformationSystem.objects.filter(belongs)


@transaction.atomic
def do_set_source_systems(source: AlertSource, systems, *, acting_user) -> AlertSource:
    """Say which information systems `source` watches. The user must be able to change the source's
    organization and to see every system, and each must be one the source may watch (`watchable_systems`: its
    organization's or its units', owned or operated — a SOC may watch a client's system it operates)."""
    from khien.registry.models import InformationSystem

    _require(acting_user, Action.CHANGE, source.organization)
    systems = list(systems)
    pks = [s.pk for s in systems]
    if acting_user is not None:
        visible = set(InformationSystem.objects.visible_to(acting_user).filter(pk__in=pks)
                      .values_list("pk", flat=True))
        if any(s.pk not in visible for s in systems):
            raise Forbidden(_("You cannot attach a system you cannot see."))
    allowed = set(watchable_systems(source).filter(pk__in=pks).values_list("pk", flat=True))
    foreign = sorted({s.code for s in systems if s.pk not in allowed})
    if foreign:
        raise Refused(_("Source “%(source)s” may watch only information systems owned or operated by %(organization)s "
                        "or a unit below it; these belong to another organization: %(codes)s.")
                      % {"source": source.name, "organization": source.organization.name,
                         "codes": ", ".join(foreign[:20])}, code="foreign_system")
    before = audit.snapshot(source)
    source.systems.set(systems)
    audit.record(Act.UPDATE, source, actor=acting_user, before=before)
    return source


# --- Dead letters: read again after a correction, or discarded ------------------------------------


@dataclass
class ReprocessResult:
    """What reading a source's dead letters again did: `stored` became new events, `duplicates` were read but
    already stored as events (both leave the dead letters), `failing` still cannot be read (kept, with the
    reason of this reading), `cut` were kept shortened (RAW_DEAD_LETTER_LIMIT) and cannot be read again,
    `remaining` are left for another request (at most `limit` are read per call)."""

    stored: int = 0
    duplicates: int = 0
    failing: int = 0
    cut: int = 0
    remaining: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


MAX_ROW_ID = 2**63 - 1  # the largest id a database row can have (SQLite INTEGER, PostgreSQL bigint)


def _chosen_dead_letters(source: AlertSource, ids):
    """The source's dead letters, or those of `ids` (ids of dead letters); Refused (400) when an id is not one
    of the source's, so that a mistaken selection changes nothing."""
    letters = DeadLetter.objects.filter(source=source)
    if ids is None:
        return letters
    try:
        ids = sorted({int(i) for i in ids})
    except (TypeError, ValueError):
        raise Refused(_("Dead letters are chosen by their numbers."), code="invalid") from None
    if not ids:
        raise Refused(_("Choose at least one dead letter."), code="empty")
    known = set(letters.filter(pk__in=[i for i in ids if 0 < i <= MAX_ROW_ID]).values_list("pk", flat=True))
    unknown = [str(i) for i in ids if i not in known]
    if unknown:
        raise Refused(_("These are not dead letters of this source: %(ids)s.") % {"ids": ", ".join(unknown[:10])},
                      code="unknown_ids")
    return letters.filter(pk__in=ids)


def _audit_dead_letters(source: AlertSource, action: str, acting_user, after: dict) -> None:
    audit.record(action, None, actor=acting_user, object_type="telemetry.deadletter", object_id=source.name,
                 object_repr=f"dead letters of {source.name}", organization_id=str(source.organization_id),
                 after=after)


def do_reprocess_dead_letters(source: AlertSource, *, acting_user, ids=None, limit: int | None = None,
                              progress: Callable[[int, int], None] | None = None) -> ReprocessResult:
    """Read the source's dead letters (all, or those of `ids`) again with the source's current settings — after
    its format or time zone was corrected, or a parser was fixed. A record now read is ingested as if it had
    just arrived (matched, folded into an alert, counted as accepted) and leaves the dead letters; one still
    unreadable stays, with the reason of this reading. Oldest first, one transaction and one audit entry per
    batch of KHIEN_INGEST_MAX_BATCH; at most `limit` letters per call (None: all). `progress(done, total)`
    after each batch. The source's `rejected` counter is history (what was refused when it came) and stays."""
    _require(acting_user, Action.CHANGE, source.organization)
    if not source.enabled:
        raise Forbidden(_("This source is disabled."))
    letters = _chosen_dead_letters(source, ids).order_by("id")
    total = letters.count()
    todo = total if limit is None else min(total, limit)
    result = ReprocessResult(remaining=total - todo)
    batch_size, last_id, done = conf.get("KHIEN_INGEST_MAX_BATCH"), 0, 0
    while done < todo:
        chunk = list(letters.filter(pk__gt=last_id)[:min(batch_size, todo - done)])
        if not chunk:
            break
        last_id, done = chunk[-1].pk, done + len(chunk)
        with transaction.atomic():
            part = _reprocess_chunk(source, chunk)
            _audit_dead_letters(source, Act.UPDATE, acting_user, {"reprocessed": part.as_dict()})
        for name in ("stored", "duplicates", "failing", "cut"):
            setattr(result, name, getattr(result, name) + getattr(part, name))
        if progress is not None:
            progress(done, todo)
    return result


def _reprocess_chunk(source: AlertSource, chunk: list[DeadLetter]) -> ReprocessResult:
    part = ReprocessResult()
    readable = [letter for letter in chunk if len(letter.raw) < RAW_DEAD_LETTER_LIMIT]
    part.cut = len(chunk) - len(readable)
    batch = prepare_batch(source, [letter.raw for letter in readable])
    read_again, still_failing = [], []
    for letter in readable:
        # The digest this reading gave the record (the letter keeps its own: a record that came as bytes not
        # in UTF-8 was kept with replacement characters, so its digest may differ).
        _decoded, data, _reason = canonical(source.format, letter.raw)
        failure = batch.dead.get(event_id(source.id, data))
        if failure is None:
            read_again.append(letter.pk)
        else:
            still_failing.append(letter)
            letter.reason = failure.reason
    # Written as a batch of events only: the records still unreadable keep their dead letters.
    written = write_batch(PreparedBatch(source, batch.now, len(batch.events), batch.events, {}, batch.matched, []))
    part.stored, part.duplicates, part.failing = written.accepted, len(read_again) - written.accepted, len(still_failing)
    DeadLetter.objects.filter(pk__in=read_again).delete()
    DeadLetter.objects.bulk_update(still_failing, ["reason"], batch_size=1000)
    return part


DISCARD_AUDIT_LISTED = 100  # dead letters named (digest, reason) in the audit entry of one discard


def dead_letters_to_discard(source: AlertSource, *, acting_user, ids=None) -> int:
    """How many dead letters `do_discard_dead_letters` would delete, with its refusals (who may not, a wrong
    choice): the page asks before deleting only someone who may, about a choice that can be done."""
    _require(acting_user, Action.CHANGE, source.organization)
    return _chosen_dead_letters(source, ids).count()


@transaction.atomic
def do_discard_dead_letters(source: AlertSource, *, acting_user, ids=None) -> int:
    """Delete the source's dead letters (all, or those of `ids`) once its operators have read them; audited with
    the digest and reason of the first DISCARD_AUDIT_LISTED (newest first), so the log says what was removed.
    Returns how many were deleted."""
    _require(acting_user, Action.CHANGE, source.organization)
    letters = _chosen_dead_letters(source, ids)
    listed = [{"digest": digest, "reason": reason} for digest, reason in
              letters.order_by("-received_at", "-id").values_list("digest", "reason")[:DISCARD_AUDIT_LISTED]]
    deleted, _detail = letters.delete()
    if deleted:
        _audit_dead_letters(source, Act.DELETE, acting_user, {"discarded": deleted, "letters": listed})
    return deleted


DEAD_LETTER_REASONS_READ = 2000  # distinct reasons of a source read to match a search in the reader's language


def dead_letters_with_reason(letters, text: str):
    """The dead letters whose reason contains `text` (case-insensitive), as stored (English, the API's) or as the
    reader reads it (`reason_text`, their language): the page searches what it shows."""
    text = (text or "").strip()
    if not text:
        return letters
    wanted = text.casefold()
    reasons = (letters.order_by().values_list("reason", flat=True).distinct()[:DEAD_LETTER_REASONS_READ])
    shown = [r for r in reasons if wanted in reason_text(r).casefold()]
    return letters.filter(Q(reason__icontains=text) | Q(reason__in=shown))
