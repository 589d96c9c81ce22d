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
accepted (new event), rejected (new dead letter) or duplicate (already stored).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import secrets
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from khien.core import audit
from khien.core.audit import Act
from khien.core.errors import Forbidden, Refused
from khien.core.models import hash_token
from khien.core.roles import Action
from khien.core.scoping import is_national_coordinator, user_can

from . import conf, store
from .matcher import current_matcher
from .matching import record_hits
from .models import Alert, AlertSource, DeadLetter, Event, HourlyCount, SourceFormat
from .parsers import PARSERS, ParseError

SOURCE_KEY_PREFIX = "khs_"
RAW_DEAD_LETTER_LIMIT = 64 * 1024
EVENT_COLUMNS = (
    "id", "source_id", "organization_id", "alert_id", "time", "ingested_at", "kind", "category", "severity", "observer",
    "src_ip", "src_port", "dst_ip", "dst_port", "domain", "url", "file_md5", "file_sha1", "file_sha256", "rule_id",
    "rule_name", "raw",
)
ALERT_COLUMNS = (
    "id", "source_id", "organization_id", "key", "rule_id", "rule_name", "severity", "observables", "first_seen",
    "last_seen", "count",
)
OBSERVABLE_FIELDS = ("src_ip", "dst_ip", "domain", "url", "file_md5", "file_sha1", "file_sha256")


# --- Sources -------------------------------------------------------------------------------


def _require(user, action, organization):
    """`user=None` is the platform itself (a command run by the operator at the console), as in `khien token`."""
    if user is None:
        return
    if organization is None or not user_can(user, action, organization):
        raise Forbidden(_("You do not have the right to do this for that organization."))


def _new_key() -> str:
    return SOURCE_KEY_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def do_create_source(organization, name: str, format: str, *, acting_user) -> tuple[AlertSource, str]:
    """Register a SOC tool of `organization`; return it with its key, shown once and never stored."""
    _require(acting_user, Action.ADD, organization)
    if format not in SourceFormat.values:
        raise Refused(_("Unknown source format."), code="bad_format")
    if AlertSource.objects.filter(name=name).exists():
        raise Refused(_("A source with this name already exists."), code="duplicate", status=409)
    key = _new_key()
    source = AlertSource(organization=organization, name=name, format=format, key_hash=hash_token(key), prefix=key[:12])
    source.full_clean()
    source.save()
    audit.record(Act.CREATE, source, actor=acting_user)
    return source, key


@transaction.atomic
def do_rotate_source_key(source: AlertSource, *, acting_user) -> str:
    _require(acting_user, Action.CHANGE, source.organization)
    before = audit.snapshot(source)
    key = _new_key()
    source.key_hash, source.prefix = hash_token(key), key[:12]
    source.save(update_fields=["key_hash", "prefix"])
    audit.record(Act.UPDATE, source, actor=acting_user, before=before)
    return key


@transaction.atomic
def do_set_source_enabled(source: AlertSource, enabled: bool, *, acting_user) -> AlertSource:
    _require(acting_user, Action.CHANGE, source.organization)
    before = audit.snapshot(source)
    source.enabled = enabled
    source.save(update_fields=["enabled"])
    audit.record(Act.UPDATE, source, actor=acting_user, before=before)
    return source


def source_for_key(key: str) -> AlertSource | None:
    """The enabled source owning this key, or None."""
    source = AlertSource.objects.select_related("organization").filter(key_hash=hash_token(key)).first()
    if source is None or not source.enabled:
        return None
    return source


# --- Identity ------------------------------------------------------------------------------


def canonical(source_format: str, record) -> tuple[object, bytes, str | None]:
    """(decoded record or None, canonical bytes, reason if it cannot be decoded).

    JSON records are canonicalized as sorted-key compact JSON, so the same alert
    re-serialized by a forwarder keeps its identity; CEF lines are stripped text.
    """
    if isinstance(record, dict):
        try:
            return _checked(record)
        except TypeError:
            return None, repr(record).encode(), "record cannot be serialized as JSON"
    if isinstance(record, str):
        data = record.encode("utf-8", "surrogatepass")
    elif isinstance(record, (bytes, bytearray, memoryview)):
        data = bytes(record)
    else:
        try:
            data = orjson.dumps(record)
        except TypeError:
            data = repr(record).encode()
        return None, data, "record is not a JSON object"
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
        return None, data, f"not valid JSON: {str(exc)[:120]}"
    if not isinstance(decoded, dict):
        return None, data, "record is not a JSON object"
    return _checked(decoded)


def _checked(decoded: dict) -> tuple[object, bytes, str | None]:
    data = orjson.dumps(decoded, option=orjson.OPT_SORT_KEYS)
    if b"\\u0000" in data:  # PostgreSQL's jsonb and text cannot hold NUL
        return None, data, "record contains a NUL character"
    return decoded, data, None


def event_id(source_id: uuid.UUID, canonical_bytes: bytes) -> str:
    """The record's content digest: SHA-256 of the source id and the canonical bytes (64 hex digits).
    A dead letter's id; an event's id is this digest behind its time (`stored_event_id`)."""
    return hashlib.sha256(source_id.bytes + b"\n" + canonical_bytes).hexdigest()


def stored_event_id(time: dt.datetime, digest: str) -> str:
    """An event's id: its time (milliseconds since 1970, UTC, 12 hex digits) then the first 52 hex digits
    (208 bits) of its content digest. Still derived from the content alone (the time is parsed from it),
    so a record sent twice has the same id; but ids now grow with time, so the primary-key index takes
    a batch's rows at its right edge instead of at thousands of random places (decision 0009)."""
    millis = max(0, int(time.timestamp() * 1000))
    return f"{millis:012x}{digest[:52]}"


def record_id(source: AlertSource, record) -> str:
    """The record's content digest (`event_id`): the JetStream message id used for broker de-duplication,
    the dead-letter id, and the last 52 hex digits of the event id."""
    _decoded, data, _reason = canonical(source.format, record)
    return event_id(source.id, data)


def observables_key(rule_id: str, fields: dict) -> str:
    parts = [rule_id] + [str(fields.get(name) or "") for name in OBSERVABLE_FIELDS]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


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
    reasons: list[str] = field(default_factory=list)  # of this batch's rejected records, in order

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def check_batch_size(count: int, limit: int | None = None) -> None:
    limit = limit or conf.get("KHIEN_INGEST_MAX_BATCH")
    if count > limit:
        raise Refused(_("Too many records in one batch (at most %(limit)d).") % {"limit": limit},
                      code="batch_too_large", status=413)


def _dead_letter_text(record) -> str:
    if isinstance(record, (bytes, bytearray, memoryview)):
        text = bytes(record).decode("utf-8", "replace")
    elif isinstance(record, str):
        text = record
    else:
        try:
            text = orjson.dumps(record).decode()
        except TypeError:
            text = repr(record)
    # Kept as readable text whatever came in: no lone surrogates, no NUL (PostgreSQL text refuses both).
    return text[:RAW_DEAD_LETTER_LIMIT].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def ingest_batch(source: AlertSource, records: list, *, max_batch: int | None = None) -> IngestResult:
    """Parse, normalize and store one batch from `source`, idempotently, in one transaction.

    At most `max_batch` records (default KHIEN_INGEST_MAX_BATCH, the HTTP limit); a file replay
    (`khien ingest`) passes KHIEN_INGEST_FILE_MAX_BATCH: larger transactions, fewer commits."""
    check_batch_size(len(records), max_batch)
    if not source.enabled:
        raise Forbidden(_("This source is disabled."))
    parser = PARSERS[source.format]
    now = timezone.now()
    result = IngestResult()
    parsed: dict[str, tuple[dict, object]] = {}
    dead: dict[str, DeadLetter] = {}
    for record in records:
        decoded, data, reason = canonical(source.format, record)
        eid = event_id(source.id, data)
        if reason is None:
            try:
                fields = parser(decoded)
            except ParseError as exc:
                reason = exc.reason
        if reason is not None:
            result.reasons.append(reason)
            if eid not in dead:
                dead[eid] = DeadLetter(source_id=source.id, organization_id=source.organization_id, digest=eid,
                                       received_at=now, reason=reason[:300], raw=_dead_letter_text(record))
            continue
        eid = stored_event_id(fields["time"], eid)
        if eid not in parsed:
            # The canonical bytes are the record as JSON already: stored as they are (no second dumps).
            parsed[eid] = (fields, store.JsonText(data.decode()) if type(decoded) is dict else decoded)
    matcher = current_matcher()
    matched = {}
    for eid, (fields, _decoded) in parsed.items():
        hits = matcher.match_event(fields)
        if hits:
            matched[eid] = hits

    postgres = connection.vendor == "postgresql"
    if postgres and parsed:  # day partitions for the batch's days, each created in its own short transaction
        store.ensure_event_partitions({fields["time"].astimezone(dt.timezone.utc).date() for fields, _r in parsed.values()})
    _tune_connection()
    with transaction.atomic():
        _lock_source(source)
        if parsed:
            stored = _stored_event_ids(parsed, postgres)
            new = {eid: value for eid, value in parsed.items() if eid not in stored} if stored else parsed
        else:
            new = {}
        if dead:
            known = set(DeadLetter.objects.filter(digest__in=list(dead)).values_list("digest", flat=True))
            new_dead = [letter for digest, letter in dead.items() if digest not in known]
        else:
            new_dead = []
        events = [
            dict(fields, id=eid, source_id=source.id, organization_id=source.organization_id, ingested_at=now, raw=decoded)
            for eid, (fields, decoded) in new.items()
        ]
        _fold_into_alerts(source, events)
        rows = ([event[name] for name in EVENT_COLUMNS] for event in events)
        if postgres:
            store.copy_rows(Event, EVENT_COLUMNS, rows)  # COPY to a staging table, INSERT … ON CONFLICT DO NOTHING
        else:
            store.insert_rows(Event, EVENT_COLUMNS, rows)
        if matched:
            found = [(event, matched[event["id"]]) for event in events if event["id"] in matched]
            if found:
                record_hits(source, found, now=now)
        DeadLetter.objects.bulk_create(new_dead, batch_size=1000, ignore_conflicts=True)
        _count_hourly(source, events)
        result.accepted = len(events)
        result.rejected = len(new_dead)
        # Every record is counted once: new event, new dead letter, or already stored (as either).
        result.duplicates = len(records) - len(events) - len(new_dead)
        AlertSource.objects.filter(pk=source.pk).update(
            accepted=F("accepted") + result.accepted, rejected=F("rejected") + result.rejected,
            **({"last_event_at": now} if events else {}),
        )
    return result


_ID_CHUNK = 10000  # ids per SELECT (below SQLite's 32,766 bound parameters)


def _stored_event_ids(parsed: dict, postgres: bool) -> set[str]:
    """The batch's event ids already stored: plain `SELECT id … WHERE id IN (…)` statements (the ORM's
    per-value preparation of thousands of ids cost more than the query). On PostgreSQL restricted to
    the batch's time range: the id includes the time, so only the partitions of the batch's days are
    searched."""
    table = connection.ops.quote_name(Event._meta.db_table)
    ids = list(parsed)
    extra, extra_params = "", []
    if postgres:
        times = [fields["time"] for fields, _r in parsed.values()]
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


def _alert_uuid(when: dt.datetime) -> uuid.UUID:
    """A version-7 style UUID (milliseconds of `when`, then random bits): alerts of the same period sit
    together in the primary-key and `alert_id` indexes, so a batch touches few index pages."""
    millis = int(when.timestamp() * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | _alert_random.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)          # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)          # RFC 4122 variant
    return uuid.UUID(int=value)


def _fold_into_alerts(source: AlertSource, events: list[dict]) -> None:
    """Give each new event an alert: the latest one of the same key within the window, or a new one.

    Set-based: one SELECT of the candidate alerts of the batch's keys, the folding in Python, then one
    executemany INSERT of the new alerts and one executemany UPDATE of the changed ones."""
    if not events:
        return
    window = dt.timedelta(seconds=conf.get("KHIEN_ALERT_WINDOW_SECONDS"))
    keyed = [(observables_key(e["rule_id"], e), e) for e in events]
    keyed.sort(key=lambda pair: pair[1]["time"])
    earliest = keyed[0][1]["time"] - window
    # alert state: [id, first_seen, last_seen, count, severity, stored?]
    current: dict[str, list] = {}
    keys = list({k for k, _e in keyed})
    if connection.vendor == "postgresql":
        key_filter = ("key = ANY(%s)", [keys])
    elif connection.vendor == "sqlite":
        key_filter = ("key IN (SELECT value FROM json_each(%s))", [orjson.dumps(keys).decode()])
    else:  # pragma: no cover - the two supported databases are above
        key_filter = None
    candidates = Alert.objects.select_for_update().filter(source_id=source.id, last_seen__gte=earliest)
    # The batch's keys as one parameter (a JSON array / an array): the ORM's `key__in` prepared each of
    # thousands of keys one by one, which cost more than the query.
    candidates = (candidates.extra(where=[key_filter[0]], params=key_filter[1]) if key_filter
                  else candidates.filter(key__in=keys))
    candidates = (
        candidates
        .order_by("last_seen")
        .values_list("key", "id", "first_seen", "last_seen", "count", "severity")
    )
    for key, pk, first_seen, last_seen, count, severity in candidates:
        current[key] = [pk, first_seen, last_seen, count, severity, True]  # ascending: the latest wins
    changed: dict[uuid.UUID, list] = {}
    created: list[tuple] = []
    new_state: dict[uuid.UUID, list] = {}
    for key, event in keyed:
        alert = current.get(key)
        when = event["time"]
        if alert is not None and alert[1] - window <= when <= alert[2] + window:
            if when < alert[1]:
                alert[1] = when
            if when > alert[2]:
                alert[2] = when
            alert[3] += 1
            if event["severity"] > alert[4]:
                alert[4] = event["severity"]
            if alert[5]:
                changed[alert[0]] = alert
        else:
            pk = _alert_uuid(when)
            alert = current[key] = new_state[pk] = [pk, when, when, 1, event["severity"], False]
            created.append((key, event))
        event["alert_id"] = alert[0]
    rows = []
    for key, event in created:
        state = new_state[event["alert_id"]]
        rows.append((state[0], source.id, source.organization_id, key, event["rule_id"], event["rule_name"], state[4],
                     {name: event[name] for name in OBSERVABLE_FIELDS if event[name]}, state[1], state[2], state[3]))
    store.insert_rows(Alert, ALERT_COLUMNS, rows)
    if changed:
        table = connection.ops.quote_name(Alert._meta.db_table)
        updates = store.adapt_rows(Alert, ("first_seen", "last_seen", "count", "severity", "id"),
                                   ((a[1], a[2], a[3], a[4], a[0]) for a in changed.values()))
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET first_seen = %s, last_seen = %s, count = %s, severity = %s "
                               f"WHERE id = %s", list(updates))


def _count_hourly(source: AlertSource, events: list[dict]) -> None:
    """Add the batch's events to the hourly counts (one upsert per hour × category × severity)."""
    if not events:
        return
    counts: dict[tuple, int] = {}
    for event in events:
        hour = event["time"].astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
        key = (hour, event["category"], event["severity"])
        counts[key] = counts.get(key, 0) + 1
    table = connection.ops.quote_name(HourlyCount._meta.db_table)
    org = HourlyCount._meta.get_field("organization").get_db_prep_value(source.organization_id, connection)
    rows = [
        (org, HourlyCount._meta.get_field("hour").get_db_prep_value(hour, connection), category, severity, n)
        for (hour, category, severity), n in counts.items()
    ]
    # The same statement on SQLite (3.24+) and PostgreSQL; concurrent workers add up instead of colliding.
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (organization_id, hour, category, severity, count) VALUES (%s, %s, %s, %s, %s) "
            f"ON CONFLICT (organization_id, hour, category, severity) DO UPDATE SET count = {table}.count + excluded.count",
            rows,
        )


# --- Retention -------------------------------------------------------------------------------


@dataclass
class PruneResult:
    events: int = 0
    alerts: int = 0
    dead_letters: int = 0
    hourly: int = 0
    partitions: list = field(default_factory=list)  # day partitions dropped (PostgreSQL)


@transaction.atomic
def do_prune(older_than: dt.datetime, *, acting_user, keep_hourly: bool = True) -> PruneResult:
    """Delete events (by event time), alerts (by last sighting) and dead letters (by arrival) older than
    `older_than`; hourly counts are kept unless `keep_hourly=False`. Only the national coordinator, or the
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


@transaction.atomic
def do_set_source_systems(source: AlertSource, systems, *, acting_user) -> AlertSource:
    """Say which information systems `source` watches. The user must be able to change the source's
    organization and to see every system (a SOC may watch its units' systems, or a client's it operates)."""
    from khien.registry.models import InformationSystem

    _require(acting_user, Action.CHANGE, source.organization)
    systems = list(systems)
    if acting_user is not None:
        visible = set(InformationSystem.objects.visible_to(acting_user).filter(pk__in=[s.pk for s in systems])
                      .values_list("pk", flat=True))
        if any(s.pk not in visible for s in systems):
            raise Forbidden(_("You cannot attach a system you cannot see."))
    before = audit.snapshot(source)
    source.systems.set(systems)
    audit.record(Act.UPDATE, source, actor=acting_user, before=before)
    return source
