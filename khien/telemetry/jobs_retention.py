"""Periodic job `telemetry.retention`: day partitions ahead, and events older than the retention deleted.

Every hour (idempotent): on PostgreSQL, creates the events table's partitions for today and the next
two days (UTC) so the intake rarely has to; then applies KHIEN_EVENT_RETENTION_DAYS (default 180;
0 keeps everything) through `services.do_prune` — whole day partitions dropped on PostgreSQL, rows
deleted on SQLite; hourly counts are kept; one audit entry per run that deleted something.
"""
from __future__ import annotations

import datetime as dt

from khien.core.jobs import periodic

from . import services, store
from .models import Alert, DeadLetter, Event, IndicatorHit


@periodic("telemetry.retention", every=dt.timedelta(hours=1))
def retention(now) -> str | None:
    today = now.astimezone(dt.timezone.utc).date()
    created = store.ensure_event_partitions({today + dt.timedelta(days=i) for i in range(3)})
    cutoff = services.retention_cutoff(now)
    summary = f"partitions created {len(created)}" if created else ""
    if cutoff is None:
        return summary or None
    # Nothing older than the cut-off: no audit entry for an empty run.
    if not (Event.objects.filter(time__lt=cutoff).exists() or store.event_partitions_before(cutoff.date())
            or Alert.objects.filter(last_seen__lt=cutoff).exists()
            or DeadLetter.objects.filter(received_at__lt=cutoff).exists()
            or IndicatorHit.objects.filter(time__lt=cutoff).exists()):
        return summary or None
    result = services.do_prune(cutoff, acting_user=None)
    parts = [f"deleted events {result.events} alerts {result.alerts} hits {result.hits} "
             f"dead letters {result.dead_letters}"]
    if result.partitions:
        parts.append(f"dropped partitions {len(result.partitions)}")
    if summary:
        parts.append(summary)
    return "; ".join(parts)
