"""Source health: is each source still sending, and is each level-3+ system still watched?

A source is `live` when its last event arrived within KHIEN_SOURCE_SILENT_SECONDS,
`silent` when it did not, `never` when it has sent nothing, `disabled` when
switched off. A system of approved level 3 or above (the level from which the
4-layer model asks for a connection to national monitoring) is `connected` when
at least one enabled source watching it is live, `disconnected` when it has
enabled sources but all are silent, and `no_source` when no enabled source
watches it.
"""
from __future__ import annotations

import datetime as dt

from django.db.models import Case, CharField, Count, Max, Q, Value, When
from django.utils import timezone

from khien.registry.models import InformationSystem

from . import conf


class Monitoring:
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    NO_SOURCE = "no_source"


def silent_before(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(seconds=conf.get("KHIEN_SOURCE_SILENT_SECONDS"))


def source_status(source, now: dt.datetime | None = None) -> str:
    if not source.enabled:
        return "disabled"
    if source.last_event_at is None:
        return "never"
    return "live" if source.last_event_at >= silent_before(now) else "silent"


def monitored_systems(user, *, now: dt.datetime | None = None, min_level: int = 3):
    """The level-`min_level`+ systems `user` can see, annotated with `monitoring`, `monitor_sources`
    (enabled sources watching it) and `monitor_last_event` (the latest event time among them)."""
    enabled = Q(alert_sources__enabled=True)
    return (
        InformationSystem.objects.visible_to(user)
        .filter(approved_level__gte=min_level)
        .annotate(monitor_sources=Count("alert_sources", filter=enabled, distinct=True),
                  monitor_last_event=Max("alert_sources__last_event_at", filter=enabled))
        .annotate(monitoring=Case(
            When(monitor_sources=0, then=Value(Monitoring.NO_SOURCE)),
            When(monitor_last_event__gte=silent_before(now), then=Value(Monitoring.CONNECTED)),
            default=Value(Monitoring.DISCONNECTED),
            output_field=CharField(),
        ))
        .select_related("owner")
    )
