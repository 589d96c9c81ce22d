"""Telemetry settings, each overridable in Django settings or by the environment of the same name.

- KHIEN_ALERT_WINDOW_SECONDS (3600): repeats of the same source, rule and observables
  fold into one alert while the gap since its last sighting is at most this long.
- KHIEN_INGEST_MAX_BATCH (5000): most records in one batch (HTTP: more → 413).
- KHIEN_INGEST_FILE_MAX_BATCH (50000): most records in one batch (one transaction) of a file replay
  (`khien ingest FILE`): fewer, larger commits than HTTP batches.
- KHIEN_INGEST_MAX_BYTES (20 MiB): largest HTTP batch body (more → 413).
- KHIEN_INGEST_MAX_INFLIGHT (4): batches one process ingests at the same time; one more → 429.
- KHIEN_INGEST_RETRY_AFTER (2): seconds announced in Retry-After with a 429.
- KHIEN_SOURCE_SILENT_SECONDS (3600): a source with no event for longer is silent; a level-3+
  system whose sources are all silent is disconnected from national monitoring.
- KHIEN_SOURCE_HEALTH_SECONDS (300): how often the `telemetry.source_health` job looks for sources
  that fell silent or send again (and tells their organization and the national coordinator).
- KHIEN_SQLITE_CACHE_MB (256): page cache of an SQLite connection that ingests (embedded mode).
- KHIEN_SQLITE_WAL_CHECKPOINT (20000): WAL pages between automatic checkpoints on that connection.
- KHIEN_EVENT_RETENTION_DAYS (180): events older than this are deleted by the `telemetry.retention`
  job (whole day partitions dropped on PostgreSQL); hourly counts are kept.
- KHIEN_MATCHER_RECHECK_SECONDS (5): how often a process checks whether the intelligence store
  changed (and rebuilds its indicator matcher).
- KHIEN_MATCHER_REBUILD_SECONDS (3600): a changed store is applied to the matcher in place;
  the whole matcher is rebuilt at most this often.
- KHIEN_NATS_URL (nats://127.0.0.1:4222), KHIEN_NATS_STREAM (KHIEN_ALERTS),
  KHIEN_NATS_SUBJECT_PREFIX (khien.alerts), KHIEN_NATS_DURABLE (khien-telemetry). With per-source
  NATS users (`khien telemetry nats-config`), the workers' URL carries the worker's user and password:
  nats://khien-worker:<password>@host:4222 (never logged).
- KHIEN_NATS_BCRYPT_COST (6): cost of the bcrypt hash of a source's key kept for the NATS server's
  per-source users (made with the key; nats-server checks it at each connection). The key is 256 random
  bits, so a higher cost protects nothing; the workers' password is hashed at cost 12.
"""
import os

from django.conf import settings

DEFAULTS = {
    "KHIEN_ALERT_WINDOW_SECONDS": 3600,
    "KHIEN_INGEST_MAX_BATCH": 5000,
    "KHIEN_INGEST_FILE_MAX_BATCH": 50000,
    "KHIEN_INGEST_MAX_BYTES": 20 * 1024 * 1024,
    "KHIEN_INGEST_MAX_INFLIGHT": 4,
    "KHIEN_INGEST_RETRY_AFTER": 2,
    "KHIEN_SOURCE_SILENT_SECONDS": 3600,
    "KHIEN_SOURCE_HEALTH_SECONDS": 300,
    "KHIEN_SQLITE_CACHE_MB": 256,
    "KHIEN_SQLITE_WAL_CHECKPOINT": 20000,
    "KHIEN_EVENT_RETENTION_DAYS": 180,
    "KHIEN_MATCHER_RECHECK_SECONDS": 5,
    "KHIEN_MATCHER_REBUILD_SECONDS": 3600,
    "KHIEN_NATS_URL": "nats://127.0.0.1:4222",
    "KHIEN_NATS_STREAM": "KHIEN_ALERTS",
    "KHIEN_NATS_SUBJECT_PREFIX": "khien.alerts",
    "KHIEN_NATS_DURABLE": "khien-telemetry",
    "KHIEN_NATS_BCRYPT_COST": 6,
}


def get(name: str, defaults: dict = DEFAULTS):
    """Django settings first, then the environment (converted to the default's type), then the default."""
    if hasattr(settings, name):
        return getattr(settings, name)
    default = defaults[name]
    raw = os.environ.get(name)
    if raw is None:
        return default
    return type(default)(raw)
