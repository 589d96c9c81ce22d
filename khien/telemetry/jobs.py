"""Periodic jobs of telemetry matching (run by `khien worker`).

- telemetry.sightings: new IndicatorHit rows → STIX sightings in the national collection.
- telemetry.notify_hits: ONE notification per organization listing its new hits (e-mail digest).
- telemetry.correlate: national campaigns (correlation.py).
- telemetry.source_health: sources fallen silent or sending again (health.py).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy as _l, ngettext_lazy

from khien.core import notifications
from khien.core.jobs import periodic
from khien.core.texts import Text
from khien.core.roles import Role
from khien.registry.models import Organization

from . import conf, conf_matching, correlation, health
from .models import AlertSource, IndicatorHit

BATCH = 10_000  # rows per chunk (also the size of the IN lists that mark them done)
MAX_NOTIFY_ROWS = 500_000  # per run; the rest waits for the next interval
LISTED = 15


def _every(name):
    return dt.timedelta(seconds=int(conf_matching.get(name)))


def record_sightings(now) -> str:
    """Turn the hits not yet sighted into (new versions of) daily STIX sightings."""
    from khien.intel import sightings

    if sightings.national_collection() is None:
        return "no national collection"
    total = 0
    while True:
        with transaction.atomic():
            rows = list(IndicatorHit.objects.select_for_update(skip_locked=True).filter(sighted=False)
                        .order_by("pk").values_list("pk", "indicator_id", "organization_id", "time")[:BATCH])
            if not rows:
                break
            keys = {(ind, org, t.astimezone(dt.timezone.utc).date()) for _pk, ind, org, t in rows}
            # Hits whose day has no total (deleted meanwhile by retention) are marked too: left unmarked, they
            # would be read again by every run.
            written = sightings.do_record_sightings(sightings.daily_totals(IndicatorHit, keys), now=now)
            IndicatorHit.objects.filter(pk__in=[r[0] for r in rows]).update(sighted=True)
            total += written
        if len(rows) < BATCH:
            break
    return f"{total} sightings"


def notify_hits(now) -> str:
    """One notification per organization for all its hits not yet notified."""
    with transaction.atomic():
        per_org = defaultdict(lambda: defaultdict(set))  # organization → (kind, value) → events that matched
        org_sources = defaultdict(set)
        done = []
        last = 0
        while len(done) < MAX_NOTIFY_ROWS:
            rows = list(IndicatorHit.objects.select_for_update(skip_locked=True).filter(notified=False, pk__gt=last)
                        .order_by("pk").values_list("pk", "organization_id", "kind", "value", "source_id",
                                                    "event_id")[:BATCH])
            if not rows:
                break
            for pk, org, kind, value, source, event in rows:
                per_org[org][(kind, value)].add(event)
                org_sources[org].add(source)
            done.append([r[0] for r in rows])
            last = rows[-1][0]
            if len(rows) < BATCH:
                break
        if not per_org:
            return "0 notifications"
        sources = dict(AlertSource.objects.filter(pk__in=set().union(*org_sources.values())).values_list("pk", "name"))
        organizations = Organization.objects.in_bulk(list(per_org))
        url = reverse("telemetry:alerts") + "?hits=1"
        sent = 0
        for org_id, counts in per_org.items():
            names = sorted(sources.get(s, "?") for s in org_sources[org_id])
            title, body = _hits_notice(counts, names)
            sent += notifications.notify([organizations[org_id]], kind="telemetry.hits", url=url,
                                         roles=[Role.ORG_ADMIN, Role.ORG_ANALYST], title=title, body=body)
        for pks in done:
            IndicatorHit.objects.filter(pk__in=pks).update(notified=True)
    return f"{len(per_org)} organizations, {sent} notifications"


def _kind_label(kind: str):
    """A value's kind in words (sha256 → SHA-256, domain → Domain name), kept lazy: each reader reads it in their
    own language; a kind the store does not know, as it is."""
    from khien.intel.models import IndicatorKind

    return IndicatorKind(kind).label if kind in IndicatorKind.values else kind


def _hits_notice(events: dict, names: list[str]) -> tuple[Text, Text]:
    """The title and text of an organization's new hits, read in each reader's language: the events that matched
    (`events`: (kind, value) → event ids), in all and per indicator value — an event matching several indicators
    (several producers naming one value) counts once, as on the alert list, the alert's page and the dashboard."""
    total = len(set().union(*events.values()))
    counts = Counter({key: len(ids) for key, ids in events.items()})
    lines = [Text(_l("%(value)s (%(kind)s): %(count)d"), {"value": v, "kind": _kind_label(k), "count": n})
             for (k, v), n in counts.most_common(LISTED)]
    if len(counts) > LISTED:
        lines.append(Text(_l("… and %(n)d more indicators"), {"n": len(counts) - LISTED}))
    lines.append(Text(_l("Sources: %(names)s"), {"names": ", ".join(names)}))
    title = Text(ngettext_lazy("%(n)d event matching indicators in your organization's telemetry",
                               "%(n)d events matching indicators in your organization's telemetry", total),
                 {"n": total})
    return title, notifications.lines(*lines)


def correlate(now) -> str:
    result = correlation.correlate(now)
    return (f"{result['created']} campaigns raised, {result['updated']} updated, "
            f"{result['joined_incidents']} alerts added to their incidents")


periodic("telemetry.sightings", every=_every("KHIEN_SIGHTINGS_SECONDS"))(record_sightings)
periodic("telemetry.notify_hits", every=_every("KHIEN_HIT_NOTIFY_SECONDS"))(notify_hits)
periodic("telemetry.correlate", every=_every("KHIEN_CORRELATE_SECONDS"))(correlate)
periodic("telemetry.source_health", every=dt.timedelta(seconds=int(conf.get("KHIEN_SOURCE_HEALTH_SECONDS"))))(
    health.notify_source_health)
