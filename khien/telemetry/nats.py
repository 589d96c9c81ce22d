"""NATS JetStream transport: publish alerts to `khien.alerts.<source name>`, and the ingestion worker.

One message is one record (the same bytes the HTTP intake takes per line).
Its `Nats-Msg-Id` header is the record's event id (source + canonical
content), so the broker drops a record published twice within the stream's
duplicate window, and the database drops it after that (the event id is the
primary key). Its `Khien-Source-Key` header is the source's own key, as the
HTTP intake's bearer token: whoever may publish on the bus cannot send records
in another source's name (another organization's), because the worker stores
only messages that carry the key of the source their subject names; the others
are terminated, counted as `unauthorized` and logged without the key.

The worker is a pull consumer with a durable name: it fetches a batch, calls
`services.ingest_batch` (one transaction per source per batch) and acknowledges
the messages only after that transaction has committed. A worker killed between
the commit and the acks gets the batch again from JetStream after `ack_wait`,
and ingestion, being idempotent, stores nothing twice. Flow control is the pull
itself: a worker asks for the next batch only when the database has taken the
previous one, and `max_ack_pending` bounds what is in flight. Add workers (same
durable name) to add throughput.

The NATS client is asyncio; Django's ORM is synchronous. `JetStreamLink` runs
the client's event loop in a background thread and the caller stays synchronous,
so every database call happens on the caller's thread.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import nats
import orjson
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from nats.js.errors import NotFoundError

from khien.core.errors import Refused

from . import conf, services
from .batches import Messages
from .models import AlertSource

log = logging.getLogger(__name__)


async def _all(*coroutines):
    return await asyncio.gather(*coroutines)


def _stored_at(message):
    """When the stream stored the message (its JetStream metadata), or None if unknown."""
    try:
        return message.metadata.timestamp
    except Exception:
        return None


def _backoff(message) -> float:
    try:
        attempts = message.metadata.num_delivered
    except Exception:
        attempts = 1
    return float(min(300, 2 ** min(attempts, 9)))


def without_credentials(url: str) -> str:
    """The NATS URL without the user and password it may carry (to connect as someone else)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class JetStreamLink:
    """A NATS connection whose event loop runs in a daemon thread; `call()` runs a coroutine and waits."""

    def __init__(self, url: str | None = None, connect_timeout: float = 3.0, *, user: str | None = None,
                 password: str | None = None):
        """`user` and `password` (a source's name and key, nats_auth.py) replace those the URL may carry."""
        url = url or conf.get("KHIEN_NATS_URL")
        credentials = {}
        if user is not None:
            url, credentials = without_credentials(url), {"user": user, "password": password}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="khien-nats", daemon=True)
        self.thread.start()
        try:
            self.nc = self.call(nats.connect(url, connect_timeout=connect_timeout, max_reconnect_attempts=3,
                                             allow_reconnect=False, **credentials), timeout=connect_timeout + 2)
        except BaseException:
            self._stop_loop()
            raise
        self.js = self.nc.jetstream()

    def call(self, coro, timeout: float | None = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        try:
            if not self.nc.is_closed:
                self.call(self.nc.close(), timeout=10)
        finally:
            self._stop_loop()

    def _stop_loop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def ensure_stream(link: JetStreamLink, stream: str | None = None, prefix: str | None = None,
                  duplicate_window: float = 120.0):
    """Create the stream for `<prefix>.>` if it does not exist (file storage, limits retention)."""
    stream = stream or conf.get("KHIEN_NATS_STREAM")
    prefix = prefix or conf.get("KHIEN_NATS_SUBJECT_PREFIX")
    try:
        return link.call(link.js.stream_info(stream))
    except NotFoundError:
        return link.call(link.js.add_stream(StreamConfig(name=stream, subjects=[f"{prefix}.>"],
                                                         duplicate_window=duplicate_window)))


def _message_bytes(record) -> bytes:
    if isinstance(record, (bytes, bytearray, memoryview)):
        return bytes(record)
    if isinstance(record, str):
        return record.encode("utf-8", "surrogatepass")
    return orjson.dumps(record)


@dataclass
class PublishResult:
    stored: int = 0
    duplicates: int = 0  # dropped by the broker's de-duplication window


SOURCE_KEY_HEADER = "Khien-Source-Key"


def publish(source: AlertSource, records: list, *, key: str, link: JetStreamLink, prefix: str | None = None,
            chunk: int = 1000) -> PublishResult:
    """Publish records of `source` to `<prefix>.<source name>`, each with its event id as Nats-Msg-Id and the
    source's key as Khien-Source-Key (the worker stores nothing without it)."""
    subject = f"{prefix or conf.get('KHIEN_NATS_SUBJECT_PREFIX')}.{source.name}"
    result = PublishResult()

    async def send(part):
        acks = await asyncio.gather(*(
            link.js.publish(subject, _message_bytes(record),
                            headers={"Nats-Msg-Id": services.record_id(source, record), SOURCE_KEY_HEADER: key})
            for record in part
        ))
        return acks

    for start in range(0, len(records), chunk):
        for ack in link.call(send(records[start:start + chunk])):
            if ack.duplicate:
                result.duplicates += 1
            else:
                result.stored += 1
    return result


@dataclass
class WorkerStats:
    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    unknown_source: int = 0  # or refused: terminated, never redelivered
    unauthorized: int = 0  # without the key of the source their subject names: terminated, never stored
    failed: int = 0  # not committed: redelivered later

    def add(self, result: services.IngestResult):
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self.rejected += result.rejected


class Worker:
    """A pull consumer of the alert stream that ingests what it fetches and acks after commit."""

    def __init__(self, link: JetStreamLink, *, stream: str | None = None, prefix: str | None = None,
                 durable: str | None = None, batch: int | None = None, ack_wait: float = 30.0,
                 max_ack_pending: int = 20000):
        self.link = link
        self.stream = stream or conf.get("KHIEN_NATS_STREAM")
        self.prefix = prefix or conf.get("KHIEN_NATS_SUBJECT_PREFIX")
        self.durable = durable or conf.get("KHIEN_NATS_DURABLE")
        self.batch = min(batch or conf.get("KHIEN_INGEST_MAX_BATCH"), conf.get("KHIEN_INGEST_MAX_BATCH"))
        ensure_stream(link, self.stream, self.prefix)
        config = ConsumerConfig(durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait,
                                max_ack_pending=max_ack_pending, filter_subject=f"{self.prefix}.>")
        self.subscription = link.call(link.js.pull_subscribe(f"{self.prefix}.>", durable=self.durable,
                                                             stream=self.stream, config=config))

    def fetch(self, timeout: float = 1.0) -> list:
        try:
            return self.link.call(self.subscription.fetch(self.batch, timeout=timeout), timeout=timeout + 30)
        except (NatsTimeout, TimeoutError):  # nothing arrived in time (raised as either, depending on where it waited)
            return []

    def process(self, messages: list, *, ack: bool = True) -> WorkerStats:
        """Ingest fetched messages, one batch per source, then acknowledge them (after each commit)."""
        stats = WorkerStats(messages=len(messages))
        by_source: dict[str, list] = defaultdict(list)
        for message in messages:
            by_source[message.subject[len(self.prefix) + 1:]].append(message)
        sources = {s.name: s for s in AlertSource.objects.filter(name__in=list(by_source))}
        for name, group in by_source.items():
            source = sources.get(name)
            if source is None or not source.enabled:
                # No source to charge them to: dropped for good (not redelivered), and logged.
                log.warning("telemetry worker: %d message(s) for unknown or disabled source %r terminated", len(group), name)
                stats.unknown_source += len(group)
                if ack:
                    self.link.call(_all(*(m.term() for m in group)))
                continue
            group = self._authenticated(source, group, stats, ack=ack)
            if not group:
                continue
            try:
                result = services.ingest_batch(source, Messages(m.data for m in group))
            except Refused as exc:  # the batch can never be taken (e.g. the source was disabled meanwhile)
                log.warning("telemetry worker: batch of %d for %s refused (%s); terminated", len(group), name, exc.message)
                stats.unknown_source += len(group)
                if ack:
                    self.link.call(_all(*(m.term() for m in group)))
                continue
            except Exception:
                # The database is down or the batch hit an unexpected error: nothing was committed. Ask for
                # redelivery later, backing off with each attempt (up to 5 minutes), and keep serving others.
                log.exception("telemetry worker: batch of %d for %s failed; asking for redelivery", len(group), name)
                stats.failed += len(group)
                self.link.call(_all(*(m.nak(delay=_backoff(m)) for m in group)))
                continue
            stats.add(result)
            if ack:  # the batch's transaction has committed
                try:
                    self.link.call(_all(*(m.ack_sync(timeout=10) for m in group)))
                except Exception:
                    # Unacknowledged messages come back after ack_wait and are found already stored.
                    log.warning("telemetry worker: acknowledging %d message(s) for %s failed; they will be "
                                "redelivered and skipped as duplicates", len(group), name, exc_info=True)
        return stats

    def _authenticated(self, source: AlertSource, group: list, stats: WorkerStats, *, ack: bool) -> list:
        """The messages of `group` that carry `source`'s key; the others are terminated and counted."""
        kept, refused = [], []
        for message in group:
            key = (message.headers or {}).get(SOURCE_KEY_HEADER)
            # When the stream stored it: a message sent before the last key rotation may carry the old key.
            ok = services.is_source_key(source, key, sent_at=_stored_at(message))
            (kept if ok else refused).append(message)
        if refused:
            # Logged without the header's value: a wrong key may be another source's real one.
            log.warning("telemetry worker: %d message(s) for %s without the source's key terminated", len(refused),
                        source.name)
            stats.unauthorized += len(refused)
            if ack:
                self.link.call(_all(*(m.term() for m in refused)))
        return kept

    def run(self, *, stop: threading.Event | None = None, idle_exit: bool = False, on_batch=None) -> WorkerStats:
        total = WorkerStats()
        stop = stop or threading.Event()
        while not stop.is_set():
            messages = self.fetch()
            if not messages:
                if idle_exit:
                    break
                continue
            stats = self.process(messages)
            if stats.failed:
                stop.wait(1.0)  # the database is probably unavailable: do not spin
            for name in ("messages", "accepted", "duplicates", "rejected", "unknown_source", "unauthorized", "failed"):
                setattr(total, name, getattr(total, name) + getattr(stats, name))
            if on_batch:
                on_batch(stats, total)
        return total
