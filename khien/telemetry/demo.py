"""Demo telemetry: alert sources of every format for ~40 demo organizations and 48 hours of events.

Called by `khien demo` after the country and the intelligence demo
(LATER_DEMO_MODULES). Sources are registered through the service (as the
national coordinator), linked to their organization's level-3+ systems, and
the last 48 hours are backfilled through the real ingestion path
(`services.ingest_batch`) so the live dashboard, alerts, hits and campaigns
are populated at first start. About one source in eight never sends
(`simulate.is_disconnected`); a few others stopped sending hours ago
(`simulate.stopped_hours_ago`, which `khien simulate` also reads, so they stay
silent) — the only raw write here (their `last_event_at`, decision 0005: demo
builder).
"""
from __future__ import annotations

import datetime as dt
import random

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from khien.core.roles import Role
from khien.registry.models import InformationSystem, Membership, Organization, OrgType

from . import correlation, services, simulate, triage
from .models import (HIGH_SEVERITY, OPEN_ALERT_STATUSES, Alert, AlertSource, AlertStatus, AlertSuppression, Event,
                     SourceFormat, SourceHourlyCount)

FORMATS = [SourceFormat.WAZUH, SourceFormat.SURICATA, SourceFormat.ECS, SourceFormat.CEF]
PER_HOUR = (4, 14)  # events per source and hour in the backfill
HOURS = 48
TRIAGED = 80  # older alerts already handled by their organization's analysts


def _organizations(rng: random.Random) -> list[Organization]:
    active = Organization.objects.filter(is_active=True).order_by("code")
    ministries = list(active.filter(org_type=OrgType.MINISTRY)[:12])
    provinces = list(active.filter(org_type=OrgType.PROVINCE))
    operators = list(active.filter(org_type__in=[OrgType.SOE, OrgType.ENTERPRISE]).filter(code__contains="DEMO"))
    chosen = ministries + rng.sample(provinces, min(len(provinces), 14)) + rng.sample(operators, min(len(operators), 14))
    # The national coordinator, and the organizations whose demo accounts the guides sign in with (the analyst's
    # province, the administrator's ministry), so that the guides' examples name sources that exist.
    from khien.registry.demo import ACCOUNTS

    signed_in = {a.org_code for a in ACCOUNTS if a.role in (Role.ORG_ADMIN, Role.ORG_ANALYST)} | {"NCSC"}
    chosen += [org for org in active.filter(code__in=signed_in).order_by("code") if org not in chosen]
    return chosen


def _rates_as_if_sent_over_time(sources) -> None:
    """The backfill arrives in one go; the sources' rates (health.py) are shown as if each event had arrived
    at its own time, as they would have on a platform in use (a raw write: decision 0005)."""
    SourceHourlyCount.objects.filter(source__in=sources).delete()
    per_hour = (Event.objects.filter(source__in=sources).annotate(hour=TruncHour("time", tzinfo=dt.timezone.utc))
                .values("source_id", "hour").annotate(n=Count("id")).values_list("source_id", "hour", "n"))
    SourceHourlyCount.objects.bulk_create([SourceHourlyCount(source_id=source_id, hour=hour, accepted=n)
                                           for source_id, hour, n in per_hour], batch_size=1000)


def build(seed: int = 2026) -> dict:
    membership = (Membership.objects.filter(role=Role.NATIONAL_COORDINATOR, user__is_active=True)
                  .select_related("user").order_by("user__email").first())
    if membership is None:
        return {"alert sources": 0}
    coordinator = membership.user
    rng = random.Random(seed)
    created = []
    for i, org in enumerate(_organizations(rng)):
        formats = [FORMATS[i % 4]] + ([FORMATS[(i + 1) % 4]] if i % 3 == 0 else [])
        systems = list(InformationSystem.objects.filter(owner=org, approved_level__gte=3).order_by("code")[:5])
        for fmt in formats:
            name = f"{simulate.DEMO_PREFIX}{org.code.lower()}-{fmt}"[:80]
            if AlertSource.objects.filter(name=name).exists():
                continue
            source, _key = services.do_create_source(org, name, fmt, acting_user=coordinator)
            if systems:
                services.do_set_source_systems(source, systems, acting_user=coordinator)
            created.append(source)

    now = timezone.now()
    start = now - dt.timedelta(hours=HOURS)
    sending = simulate.demo_sources(with_stopped=True)
    sim = simulate.Simulator(sending, seed=seed)
    stopped = {s.pk: now - dt.timedelta(hours=simulate.stopped_hours_ago(s.name)) for s in sending
               if simulate.stopped_hours_ago(s.name) is not None}
    events = 0
    for source in sending:
        end = stopped.get(source.pk, now)
        records = []
        hour = start
        while hour < end:
            upper = min(hour + dt.timedelta(hours=1), end)
            # Busier in office hours (Vietnam time).
            local_hour = (hour + dt.timedelta(hours=7)).hour
            n = rng.randint(*PER_HOUR) * (2 if 8 <= local_hour <= 18 else 1)
            records.extend(sim.batch(source, n, hour, upper))
            hour = upper
        for chunk in range(0, len(records), 2000):
            events += services.ingest_batch(source, records[chunk:chunk + 2000]).accepted
    for pk, when in stopped.items():
        AlertSource.objects.filter(pk=pk).update(last_event_at=when)
    _rates_as_if_sent_over_time(sending)
    campaigns = correlation.correlate(now)
    triaged = _triage_older_alerts(rng, now, coordinator)
    reported = _report_severe_alerts()
    return {"alert sources": len(created), "events": events, "alerts triaged": triaged, "silent sources": len(created) - len(sending) + len(stopped),
            "campaigns": campaigns["created"], "incidents from alerts": reported}


def _analysts() -> dict:
    """The first active analyst of each organization that has one."""
    return {m.organization_id: m.user for m in Membership.objects.filter(role=Role.ORG_ANALYST, user__is_active=True)
            .select_related("user").order_by("-user__email")}


def _report_severe_alerts() -> int:
    """For each organization with an analyst: its most severe open alert reported as an incident by that analyst,
    and up to three more of its severe alerts (of the same rule first) added to it, so that the incident's page
    lists the alerts behind it. Once: the demo may be built again."""
    from khien.incidents.services import content_loaded

    if not content_loaded() or Alert.objects.filter(incident__isnull=False).exists():
        return 0
    reported = 0
    for organization_id, analyst in _analysts().items():
        severe = list(Alert.objects.filter(organization_id=organization_id, status__in=OPEN_ALERT_STATUSES,
                                           severity__gte=HIGH_SEVERITY).order_by("-severity", "-last_seen", "pk")[:20])
        if not severe:
            continue
        first, others = severe[0], severe[1:]
        incident = triage.do_alert_to_incident(first, acting_user=analyst)
        same_rule = [a for a in others if a.rule_id == first.rule_id]
        more = (same_rule + [a for a in others if a.rule_id != first.rule_id])[:3]
        if more:
            triage.do_add_alerts_to_incident([a.pk for a in more], incident, acting_user=analyst)
        reported += 1
    return reported


def _triage_older_alerts(rng: random.Random, now: dt.datetime, coordinator) -> int:
    """Handle some of the alerts older than a day, as the organizations' analysts would have (through the
    service, so each change is audited): most resolved, some false positives, a few still in progress.
    An organization without an analyst of its own has its alerts handled by the coordinator."""
    older = list(Alert.objects.filter(last_seen__lt=now - dt.timedelta(hours=24), status=AlertStatus.NEW)
                 .order_by("last_seen").values_list("pk", "organization_id"))
    analysts = _analysts()
    groups: dict[tuple, list] = {}
    for pk, organization_id in rng.sample(older, min(TRIAGED, len(older))):
        status = rng.choices([AlertStatus.RESOLVED, AlertStatus.FALSE_POSITIVE, AlertStatus.ACKNOWLEDGED],
                             weights=[6, 3, 1])[0]
        groups.setdefault((organization_id, status), []).append(pk)
    notes = {AlertStatus.RESOLVED: "Đã chặn địa chỉ nguồn trên tường lửa.",
             AlertStatus.FALSE_POSITIVE: "Máy quét lỗ hổng nội bộ, đã đưa vào danh sách loại trừ.",
             AlertStatus.ACKNOWLEDGED: "Đang kiểm tra máy chủ bị ảnh hưởng."}
    for (organization_id, status), pks in groups.items():
        triage.do_triage_alerts(pks, status, acting_user=analysts.get(organization_id, coordinator), note=notes[status])
    # One known harmless cause whose repeats are suppressed for a month (shown on its source's page).
    harmless = (Alert.objects.filter(status=AlertStatus.FALSE_POSITIVE).select_related("organization")
                .order_by("last_seen").first())
    if harmless is not None and not AlertSuppression.objects.exists():  # once: the demo may be built again
        triage.do_suppress_alert(harmless, acting_user=analysts.get(harmless.organization_id, coordinator),
                                 reason=notes[AlertStatus.FALSE_POSITIVE], days=30)
    return Alert.objects.exclude(status=AlertStatus.NEW).count()
