"""What a warning's page tells its reader beyond the warning itself (read-only queries).

- `indicator_groups`: the indicators a warning names, one line per value (several indicators often carry the
  same file hash: it is shown once, with their names together).
- `seen_by_my_organizations`: for each of the reader's organizations the warning was sent to, how often that
  organization's own monitoring (khien.telemetry's `IndicatorHit`) already saw the warning's values, and when
  last. Only the reader's organizations, only telemetry the reader may see (`visible_to`): another
  organization's events are never counted, nor shown. With them, the way to report the incident: the alerts of
  those events not yet reported (`report_alert`, the latest, when the reader may report for the organization —
  `telemetry.triage.may_report`; the alert page's "Report as an incident" takes one alert at a time); the
  organization's incidents already holding those alerts (`incidents`, and `reported_in`: every incident holding
  them the reader may open), so that the page does not invite a second report of alerts already reported; and the
  national incident naming the organization's systems that the warning's campaign became (`national`). The
  linking rules are `khien.incidents.links`'.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Max, Q

from . import warninglists
from .models import EarlyWarning, IndicatorValue, StixObject


@dataclass
class IndicatorGroup:
    value: str = ""
    kind: str = ""
    lists: list[str] = field(default_factory=list)
    indicators: list[StixObject] = field(default_factory=list)


def indicator_groups(indicators: list[StixObject]) -> list[IndicatorGroup]:
    """The indicators (visible versions) grouped by the values they carry, in the order of the values; an
    indicator without an indexed value (a pattern this platform cannot read) is a group of its own, without value."""
    values: dict[int, list[tuple[str, str]]] = {}
    for row in IndicatorValue.objects.filter(object_id__in=[i.pk for i in indicators]).order_by("kind", "value"):
        values.setdefault(row.object_id, []).append((row.kind, row.value))
    lists = warninglists.compiled()
    groups: dict[tuple[str, str], IndicatorGroup] = {}
    alone: list[IndicatorGroup] = []
    for indicator in indicators:
        pairs = values.get(indicator.pk)
        if not pairs:
            alone.append(IndicatorGroup(indicators=[indicator]))
            continue
        for kind, value in pairs:
            group = groups.get((kind, value))
            if group is None:
                group = groups[(kind, value)] = IndicatorGroup(value=value, kind=kind,
                                                               lists=warninglists.hits(kind, value, lists))
            if indicator not in group.indicators:
                group.indicators.append(indicator)
    return [*groups.values(), *alone]


@dataclass
class Seen:
    organization: object
    count: int
    last: object
    values: list[dict]  # {"value", "count", "last"}
    report_alert: object = None  # the latest alert of these events not reported yet, when the reader may report
    report_alerts: int = 0  # how many such alerts
    unreported: int = 0  # how many of these alerts are in no incident yet (whoever reads)
    incidents: list = field(default_factory=list)  # the organization's own incidents holding these alerts
    reported_in: list = field(default_factory=list)  # every incident holding these alerts the reader may open
    national: list = field(default_factory=list)  # the incident the warning's campaign became, naming its systems

    @property
    def reported_refs(self) -> str:
        return ", ".join(i.reference for i in self.reported_in)


def warning_values(warning: EarlyWarning, indicator_values=()) -> list[str]:
    """The values a warning names: its own and those of the indicators it names (as the reader may see them)."""
    own = [str(v.get("value")) for v in warning.values or [] if isinstance(v, dict) and v.get("value")]
    return list(dict.fromkeys([*own, *indicator_values]))


def seen_by_my_organizations(user, warning: EarlyWarning, values: list[str]) -> list[Seen]:
    """For each organization of `user` that the warning targets, the events of its own monitoring that matched
    one of `values` or one of the warning's indicators (distinct events), the last time, and per value.

    Telemetry is read through `IndicatorHit.objects.visible_to(user)` and for the target organizations of the
    user only: a warning sent to several organizations never shows one the others' hits."""
    from khien.incidents import links
    from khien.telemetry.models import Alert, AlertStatus, Campaign, IndicatorHit
    from khien.telemetry.triage import may_report

    from .services_warnings import inbox_for

    orgs = [t.organization for t in inbox_for(user).filter(warning=warning).select_related("organization")]
    if not orgs:
        return []
    refs = [r for r in warning.indicator_refs or [] if isinstance(r, str)]
    matched = Q(value__in=values[:2000]) if values else Q(pk__in=[])
    if refs:
        matched |= Q(indicator_id__in=refs)
    campaigns = Campaign.objects.filter(warning=warning)
    seen = []
    for org in orgs:
        national = links.national_incidents(user, org, campaigns)
        hits = (IndicatorHit.objects.visible_to(user).filter(organization_id=org.pk).filter(matched)
                if values or refs else IndicatorHit.objects.none())
        total = hits.aggregate(n=Count("event_id", distinct=True), last=Max("time"))
        if not total["n"]:
            if national:  # its systems are named in the national incident, though its monitoring saw nothing here
                seen.append(Seen(organization=org, count=0, last=None, values=[], national=national))
            continue
        per_value = [{"value": row["value"], "count": row["n"], "last": row["last"]} for row in
                     hits.values("value").annotate(n=Count("event_id", distinct=True), last=Max("time"))
                     .order_by("-n", "value")[:20]]
        alerts = Alert.objects.filter(pk__in=hits.filter(alert__isnull=False).values("alert_id"))
        reported_in = links.incidents_holding(user, alerts)
        unreported = alerts.filter(incident__isnull=True).exclude(status=AlertStatus.ESCALATED).order_by("-last_seen")
        unreported_count = unreported.count()
        latest = unreported.first() if unreported_count else None
        if latest is not None and not may_report(user, latest):
            latest = None
        seen.append(Seen(organization=org, count=total["n"], last=total["last"], values=per_value,
                         report_alert=latest, report_alerts=unreported_count if latest else 0,
                         unreported=unreported_count,
                         incidents=[i for i in reported_in if i.organization_id == org.pk and not i.affected_only],
                         reported_in=reported_in, national=national))
    return seen
