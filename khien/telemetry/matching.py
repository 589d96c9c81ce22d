"""Recording indicator hits during ingestion (the fast part of matching).

`matcher.IndicatorMatcher` (teleperf) finds, for each stored event, the active
indicators its observables match — all of them, whatever their TLP.
`record_hits` keeps only the indicators the event's organization may see
(`khien.intel.tlp.visible_object_pks_for_organization`: the one place that
decides visibility; one query per organization of the batch) and inserts the
`IndicatorHit` rows as plain rows in one `executemany`. It runs inside the
ingestion transaction, so it does nothing slow: STIX sightings,
notifications and campaigns are periodic jobs over IndicatorHit (jobs.py).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from khien.intel.tlp import visible_object_pks_for_organization

from . import store
from .models import IndicatorHit

HIT_COLUMNS = ("event_id", "alert_id", "organization_id", "source_id", "indicator_pk", "indicator_id", "kind", "value",
               "field", "time", "created_at", "sighted", "notified")

if TYPE_CHECKING:  # pragma: no cover
    from .matcher import Hit


def _as_datetime(value, fallback):
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, dt.timezone.utc)
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is not None:
            return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, dt.timezone.utc)
    return fallback


def record_hits(source, hits: list[tuple[dict, list["Hit"]]], *, now) -> int:
    """Store the hits of events of `source` on indicators their organization may see; return how many.

    `hits`: (event dict, matcher hits) for the events that matched; each event dict has
    `id`, `organization_id`, `source_id`, `alert_id`, `time`. Re-recording the same
    event is harmless (one row per event, indicator version and field).
    """
    if not hits:
        return 0
    # One visibility query per organization (a batch comes from one source: usually one).
    wanted: dict = defaultdict(set)
    for event, event_hits in hits:
        org_id = event.get("organization_id") or source.organization_id
        for hit in event_hits:
            wanted[org_id].add(hit.indicator_pk)
    visible = {org_id: visible_object_pks_for_organization(org_id, pks) for org_id, pks in wanted.items()}
    rows = []
    seen = set()
    for event, event_hits in hits:
        org_id = event.get("organization_id") or source.organization_id
        allowed = visible[org_id]
        when = _as_datetime(event.get("time"), now)
        for hit in event_hits:
            if hit.indicator_pk not in allowed:
                continue
            key = (event["id"], hit.indicator_pk, hit.field)
            if key in seen:
                continue
            seen.add(key)
            rows.append((event["id"], event.get("alert_id"), org_id, event.get("source_id") or source.pk,
                         hit.indicator_pk, hit.indicator_id, hit.kind, hit.value[:2048], hit.field, when, now,
                         False, False))
    if rows:
        # Plain rows, one executemany, ON CONFLICT DO NOTHING (the unique event × indicator × field): no model
        # instance per hit (store.py).
        store.insert_rows(IndicatorHit, HIT_COLUMNS, rows)
    return len(rows)
