"""Incident statistics: the one module behind the statistics page and /api/incidents/stats/.

Everything is computed over `Incident.objects.visible_to(user)` (a user counts
only the incidents they may see), with optional filters: the reporting period
(on `reported_at`, in Vietnam time), the reporting organization's sector and
place — the central agencies or a province (`registry.places`: a ministry's line is
central, not Hà Nội's where its seat is) — and the severity.

Durations come from the timestamped journal (`IncidentEvent`): the time to
triage / contain / resolve is from the report (`reported_at`, where the SLAs
start) to the *first* journal entry that moved the incident into that status;
the time to report is from detection to the report. Means are in hours.
Whether the initial report was on time is decided by `deadlines` (the one
place for deadlines), as are the SLA misses.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from django import forms
from django.db.models import Count, Min, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from khien.core.forms import DateField
from khien.registry import places
from khien.registry.models import Sector

from . import deadlines
from .models import EventKind, Incident, ReportingPolicy, Status, Taxonomy, _localized

DURATIONS = (
    ("report", "detected_at", None),
    ("triage", "reported_at", Status.TRIAGED),
    ("contain", "reported_at", Status.CONTAINED),
    ("resolve", "reported_at", Status.RESOLVED),
)


class StatsFilterForm(forms.Form):
    """The filters of the statistics page and API (all optional; the period defaults to the last 12 months)."""

    since = DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sector = forms.ChoiceField(label=gettext_lazy("Sector"), required=False)
    province = forms.ChoiceField(label=gettext_lazy("Province"), required=False)
    severity = forms.ChoiceField(label=gettext_lazy("Severity"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        all_ = [("", _("All"))]
        self.fields["sector"].choices = all_ + [(s.code, s.name) for s in Sector.objects.order_by("sort_order", "code")]
        # The central agencies, then the provinces (`registry.places`): the chart's bars, each one a choice.
        self.fields["province"].choices = all_ + places.choices()
        policy = ReportingPolicy.current()
        self.fields["severity"].choices = all_ + (policy.severity_choices() if policy else [])

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        period = period_of(data)  # with the defaults: `since` alone may lie after today
        if period.since > period.until:
            raise forms.ValidationError(_("The start of the period is after its end."))
        if (period.until - period.since).days > 3660:
            raise forms.ValidationError(_("Choose a period of at most ten years."))
        return data


@dataclass
class Period:
    since: dt.date
    until: dt.date

    @property
    def start(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.since, dt.time.min))

    @property
    def end(self) -> dt.datetime:  # exclusive
        return timezone.make_aware(dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time.min))

    def months(self) -> list[tuple[int, int]]:
        out, year, month = [], self.since.year, self.since.month
        while (year, month) <= (self.until.year, self.until.month):
            out.append((year, month))
            month += 1
            if month == 13:
                year, month = year + 1, 1
        return out


def default_period(now: dt.datetime | None = None) -> Period:
    """The 12 calendar months ending with the current one (Vietnam time)."""
    today = timezone.localtime(now or timezone.now()).date()
    year, month = today.year, today.month - 11
    if month <= 0:
        year, month = year - 1, month + 12
    return Period(dt.date(year, month, 1), today)


def period_of(data: dict, now: dt.datetime | None = None) -> Period:
    default = default_period(now)
    until = data.get("until") or default.until
    since = data.get("since") or (default.since if not data.get("until") else
                                  dt.date(until.year - 1 + (until.month == 12), until.month % 12 + 1, 1))
    return Period(since, until)


def list_filters(data: dict, figures: dict) -> dict:
    """The incident list's filters (`filters.IncidentFilter`) for the incidents these figures count: the report
    period as dates (a date alone ends with that whole day there, as here) and the other filters set."""
    out = {"reported_after": figures["period"]["since"], "reported_before": figures["period"]["until"]}
    out.update({name: data[name] for name in ("province", "sector", "severity") if data.get(name)})
    return out


def month_bounds(period: Period) -> list[tuple[dt.date, dt.date]]:
    """The first and last day of each month of the period, cut to the period (the first and last may be part)."""
    bounds = []
    for year, month in period.months():
        first = dt.date(year, month, 1)
        last = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
        bounds.append((max(first, period.since), min(last, period.until)))
    return bounds


def scoped(user, data: dict, period: Period):
    """The visible incidents matching the filters, one row each (joins for filters do not repeat rows)."""
    visible = Incident.objects.visible_to(user).filter(reported_at__gte=period.start, reported_at__lt=period.end)
    if data.get("sector"):
        visible = visible.filter(organization__sectors__code=data["sector"])
    if data.get("province"):  # the central agencies or a province, as the chart counts them
        visible = visible.filter(organization__in=places.organizations_in(data["province"]))
    if data.get("severity"):
        visible = visible.filter(severity=data["severity"])
    return Incident.objects.filter(pk__in=visible.values("pk"))


def _mean_hours(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def compute(user, data: dict | None = None, now: dt.datetime | None = None) -> dict:
    """Every figure of the statistics page, as plain JSON-ready values."""
    data = data or {}
    now = now or timezone.now()
    period = period_of(data, now)
    qs = scoped(user, data, period)
    total = qs.count()

    # By month (Vietnam time), every month of the period present.
    per_month = Counter()
    for row in qs.annotate(month=TruncMonth("reported_at")).values("month").annotate(n=Count("pk")):
        month = timezone.localtime(row["month"]) if timezone.is_aware(row["month"]) else row["month"]
        per_month[(month.year, month.month)] += row["n"]
    months = period.months()
    by_month = {"labels": [f"{m:02d}/{y}" for y, m in months], "values": [per_month[(y, m)] for y, m in months]}

    # By RSIT class: each incident's category read in its own taxonomy version.
    taxonomies = {t.pk: t for t in Taxonomy.objects.all()}
    classes: Counter = Counter()
    class_labels: dict[str, str] = {}
    for row in qs.values("taxonomy_id", "category").annotate(n=Count("pk")):
        typ = taxonomies[row["taxonomy_id"]].types().get(row["category"]) if row["taxonomy_id"] in taxonomies else None
        key = typ["class"]["value"] if typ and "value" in typ["class"] else (typ["class"].get("name_en") if typ else "?")
        class_labels[key] = _localized(typ["class"]) if typ else row["category"]
        classes[key] += row["n"]
    by_class = _chart([(class_labels[k], n, k) for k, n in classes.most_common()])

    # By sector and place (the central agencies or a province, `registry.places`) of the reporting organization.
    sectors = Counter()
    sector_names = {s.code: s.name for s in Sector.objects.all()}
    for row in qs.values("organization__sectors__code").annotate(n=Count("pk", distinct=True)):
        sectors[row["organization__sectors__code"]] += row["n"]
    by_sector = _chart([(sector_names.get(code, _("No sector")) if code else _("No sector"), n, code or "")
                        for code, n in sectors.most_common()])
    provinces = Counter()
    for row in qs.annotate(place=places.place_of("organization__")).values("place").annotate(n=Count("pk")):
        provinces[row["place"]] += row["n"]
    names = dict(places.choices())
    by_province = _chart([(names.get(code, _("No province")) if code else _("No province"), n, code or "")
                          for code, n in provinces.most_common()])

    policies = {p.pk: p for p in ReportingPolicy.objects.all()}
    current = ReportingPolicy.current()
    severity_order = current.severity_codes() if current else []
    severity_labels = dict(current.severity_choices()) if current else {}
    severities = Counter(dict(qs.values_list("severity").annotate(n=Count("pk"))))
    ordered = [c for c in severity_order if c in severities] + sorted(c for c in severities if c not in severity_order)
    by_severity = _chart([(severity_labels.get(c, c), severities[c], c) for c in ordered])

    # On-time reporting and durations, from the incident times and the journal.
    firsts = {
        name: Min("events__at", filter=Q(events__kind__in=[EventKind.STATUS, EventKind.REOPENED],
                                         events__to_status=status))
        for name, _start, status in DURATIONS if status
    }
    on_time = late = 0
    durations: dict[str, list[float]] = defaultdict(list)
    rows = qs.annotate(**{f"first_{k}": v for k, v in firsts.items()}).values_list(
        "detected_at", "reported_at", "policy_id", *[f"first_{k}" for k in firsts])
    for detected_at, reported_at, policy_id, *first in rows:
        due = deadlines.report_due_at(detected_at, policies[policy_id].data)
        if deadlines.is_late(reported_at, due):
            late += 1
        else:
            on_time += 1
        durations["report"].append((reported_at - detected_at).total_seconds() / 3600)
        for (name, _start, _status), at in zip([d for d in DURATIONS if d[2]], first):
            if at is not None:
                durations[name].append((at - reported_at).total_seconds() / 3600)
    means = {name: {"hours": _mean_hours(durations[name]), "count": len(durations[name])} for name, *_r in DURATIONS}

    return {
        "period": {"since": period.since.isoformat(), "until": period.until.isoformat()},
        "total": total,
        "reported_on_time": on_time,
        "reported_late": late,
        "on_time_share": round(100 * on_time / total, 1) if total else None,
        "sla_missed": {measure: deadlines.sla_missed(qs, measure, now).count() for measure in deadlines.SLA_MEASURES},
        "escalated": qs.filter(escalated_at__isnull=False).count(),
        "open": qs.exclude(status__in=[Status.RESOLVED, Status.CLOSED]).count(),
        "mean_hours": means,
        "charts": {
            "by_month": by_month, "by_class": by_class, "by_sector": by_sector, "by_province": by_province,
            "by_severity": by_severity,
        },
    }


def _chart(items: list[tuple[str, int, str]]) -> dict:
    return {"labels": [str(label) for label, _n, _k in items], "values": [n for _l, n, _k in items],
            "keys": [k for _l, _n, k in items]}
