"""Telemetry pages: the live national dashboard, alerts with their indicator hits, sources, campaigns.

Everything is scoped with the querysets' `visible_to(user)`: the national
coordinator sees the nation, an organization its own subtree. Campaigns are
the coordinator's only (others get 403 on the list, 404 on a campaign).
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlencode
from pathlib import Path

import orjson
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, IntegerField, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404, JsonResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext as _, gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from khien.core import shown_once
from khien.core.confirmation import ask_first, confirmed
from khien.core.errors import Refused, status_of
from khien.core.forms import add_service_error
from khien.core.roles import Action
from khien.core.paging import CappedPaginator, capped_count, count_text, is_capped, page_rows
from khien.core.scoping import is_national_coordinator, memberships_of, scope_for, user_can
from khien.core.texts import shown_time
from khien.incidents.services import content_loaded as incident_content_loaded
from khien.intel.models import indicator_kind_label
from khien.intel.services_warnings import warnings_covering_alert
from khien.registry import places
from khien.registry.models import Organization, Sector

from . import conf, conf_matching, correlation, exports, health, services, triage
from .batches import split_body
from .filters import SEVERITY_SCALE_HELP, AlertFilter, EventFilter, clean_severity_min
from .forms import (TryRecordsForm, AlertIncidentForm, CampaignIncidentForm, CampaignWarningForm, AlertJoinIncidentForm, AlertSuppressForm, AlertTriageForm, SourceCreateForm,
                    SourceSettingsForm, SourceSystemsForm, source_organizations)
from .models import (EVENT_CATEGORY_LABELS, HIGH_SEVERITY, OPEN_ALERT_STATUSES, SEVERITY_BANDS, Alert, AlertSource, AlertStatus, AlertSuppression, Campaign,
                     CampaignStatus, DeadLetter, Event, HourlyCount, IndicatorHit, SourceFormat)
from .parsers import reason_text
from .severity import BAND_NAMES, severity_label

HOURS = 48
TOP = 10
REFRESH_SECONDS = 30  # the live dashboard's refresh (telemetry.js)


def _english() -> bool:
    return (get_language() or "vi").startswith("en")


def _name(vi, en):
    return (en or vi) if _english() else (vi or en)


def indicator_url(stix_id: str) -> str:
    try:
        return reverse("intel:object", args=[stix_id])
    except NoReverseMatch:
        return f"/intel/objects/{stix_id}/"


def _band_labels():
    return [str(BAND_NAMES[label]) for _upper, label in SEVERITY_BANDS]


def _events_link(*, since, until=None, **filters) -> str:
    """The events search for a time range (local times, as the search form gives them) and filters."""
    query = {"since": timezone.localtime(since).strftime("%Y-%m-%dT%H:%M"), **filters}
    if until is not None:
        query["until"] = timezone.localtime(until).strftime("%Y-%m-%dT%H:%M")
    return reverse("telemetry:events") + "?" + urlencode(query)


@dataclass(frozen=True)
class Place:
    """A choice of the events page's province list (the template reads `code` and `name`)."""

    code: str
    name: str


def _iso(when: dt.datetime) -> str:
    """A time for the JSON: ISO 8601 in the platform's time zone, with its offset (2026-12-06T18:08:56+07:00)."""
    return timezone.localtime(when).isoformat(timespec="seconds")


def kpi_links(*, day_hour: dt.datetime, day: dt.datetime, coordinator: bool) -> dict:
    """The list behind each key figure of the dashboard, by the figure's key in `kpis`: the page's tiles and the
    API's `kpi_links` are this one mapping."""
    sources = reverse("telemetry:sources")
    links = {
        "events_24h": _events_link(since=day_hour),  # counted by whole hours, from the hour 24 hours ago
        "hits_24h": _events_link(since=day, hit="true"),
        "alerts_open_high": reverse("telemetry:alerts") + "?" + urlencode({"status": "open",
                                                                            "severity_min": HIGH_SEVERITY}),
        "sources_live": sources + "?status=live#source-table",
        "sources_silent": sources + "?status=not_sending#source-table",
        # The registry's system list filters by the declared layer 4, not by what the sources send: the sources
        # page lists these very systems (the live monitoring states).
        "systems_disconnected": sources + "?monitoring=not_connected#monitoring",
    }
    if coordinator:
        links["campaigns"] = reverse("telemetry:campaigns") + "?status=open"
    return links


# --- The dashboard's period --------------------------------------------------------------------------

# The periods the dashboard offers (its selector, the API's `period`): the live default, the last 24 hours, whole
# days back from today, or a calendar month (the monthly report). Any other range is given by `since`/`until`.
DEFAULT_PERIOD = "48h"
PERIOD_LABELS = {"24h": gettext_lazy("Last 24 hours"), "48h": gettext_lazy("Last 48 hours (live)"),
                 "7d": gettext_lazy("Last 7 days"), "30d": gettext_lazy("Last 30 days"),
                 "month": gettext_lazy("A calendar month"), "custom": gettext_lazy("From … to …")}
PERIOD_MAX_DAYS = 366  # a year read from the hourly counts: still one query of a few thousand rows per chart
BY_DAY_FROM_HOURS = 72  # longer than three days, one bar per day: 720 hourly bars would not read


class PeriodError(ValueError):
    """A period the dashboard cannot show, with the message the reader is given (a 400)."""


@dataclass
class Period:
    key: str
    since: dt.datetime  # aware, on a whole hour
    until: dt.datetime  # aware, the end (exclusive); `now` for a period that runs up to now
    live: bool  # runs up to now: its last bar is still counting
    by_day: bool

    def label(self) -> str:
        if self.key in ("24h", "48h", "7d", "30d"):
            return str(PERIOD_LABELS[self.key])
        start, end = timezone.localtime(self.since), timezone.localtime(self.until - dt.timedelta(seconds=1))
        if self.key == "month":
            return _("Month %(month)s") % {"month": start.strftime("%m/%Y")}
        return _("%(since)s to %(until)s") % {"since": start.strftime("%d/%m/%Y"), "until": end.strftime("%d/%m/%Y")}

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label(), "since": _iso(self.since), "until": _iso(self.until),
                "live": self.live, "bucket": "day" if self.by_day else "hour"}


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()), timezone.get_current_timezone())


def _parse_day(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise PeriodError(_("%(name)s: give a date as YYYY-MM-DD.") % {"name": name}) from None


def dashboard_period(params, now: dt.datetime | None = None) -> Period:
    """The period asked by `params` (`period`, `month` = YYYY-MM, `since`/`until` = YYYY-MM-DD, whole days in
    Vietnam time, `until` included): what the page's selector, its JSON and the API read alike. Raises
    PeriodError with a message to show."""
    now = now or timezone.now()
    key = (params.get("period") or "").strip()
    since_raw, until_raw = (params.get("since") or "").strip(), (params.get("until") or "").strip()
    if not key:
        key = "custom" if since_raw or until_raw else DEFAULT_PERIOD
    if key not in PERIOD_LABELS:
        raise PeriodError(_("Unknown period “%(period)s”: choose one of %(choices)s.")
                          % {"period": key[:20], "choices": ", ".join(PERIOD_LABELS)})
    current = now.replace(minute=0, second=0, microsecond=0)
    today = timezone.localdate(now)
    if key in ("24h", "48h"):
        hours = int(key[:-1])
        return Period(key, current - dt.timedelta(hours=hours - 1), now, True, False)
    if key in ("7d", "30d"):
        days = int(key[:-1])
        return Period(key, _local_midnight(today - dt.timedelta(days=days - 1)), now, True, True)
    if key == "month":
        raw = (params.get("month") or "").strip()
        if raw:
            try:
                first = dt.date.fromisoformat(raw[:7] + "-01")
            except ValueError:
                raise PeriodError(_("Month: give it as YYYY-MM.")) from None
        else:  # the last whole month: the one the monthly report is about
            first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        if first > today:
            raise PeriodError(_("This month has not begun yet."))
        following = (first + dt.timedelta(days=32)).replace(day=1)
        until = min(_local_midnight(following), now)
        return Period(key, _local_midnight(first), until, until == now, True)
    # custom
    if not since_raw:
        raise PeriodError(_("From: give the first day of the period."))
    first = _parse_day(since_raw, _("From"))
    last = _parse_day(until_raw, _("To")) if until_raw else today
    if last < first:
        raise PeriodError(_("The period ends before it begins."))
    if (last - first).days + 1 > PERIOD_MAX_DAYS:
        raise PeriodError(_("A period of at most %(n)d days.") % {"n": PERIOD_MAX_DAYS})
    if first > today:
        raise PeriodError(_("This period has not begun yet."))
    until = min(_local_midnight(last + dt.timedelta(days=1)), now)
    by_day = (until - _local_midnight(first)) > dt.timedelta(hours=BY_DAY_FROM_HOURS)
    return Period(key, _local_midnight(first), until, until == now, by_day)


def _buckets(period: Period) -> list[dt.datetime]:
    """The starts of the period's bars: its hours, or its days (local midnights)."""
    step = dt.timedelta(days=1) if period.by_day else dt.timedelta(hours=1)
    starts, at = [], period.since
    while at < period.until:
        starts.append(at)
        at = _local_midnight(timezone.localdate(at) + dt.timedelta(days=1)) if period.by_day else at + step
    return starts


# Up to this many organizations seen, the dashboard is an organization's own: by sector, by province would draw one
# bar or two (its own), so it shows its events by category instead.
FEW_ORGANIZATIONS = 5


def dashboard_scale(user, coordinator: bool | None = None) -> dict:
    """Which charts the reader's dashboard shows: `national` (sectors, provinces) for the coordinator and for a
    reader who sees more than FEW_ORGANIZATIONS organizations (a ministry and its units); else the reader's own
    (by category). The most targeted organizations are ranked for whoever sees more than one."""
    coordinator = is_national_coordinator(user) if coordinator is None else coordinator
    seen = 0 if coordinator else Organization.objects.visible_to(user)[:FEW_ORGANIZATIONS + 1].count()
    national = coordinator or seen > FEW_ORGANIZATIONS
    return {"national": national, "targeted": national or seen > 1}


def dashboard_data(user, now: dt.datetime | None = None, period: Period | None = None) -> dict:
    """The numbers of the dashboard for what `user` may see (JSON-ready), over `period` (`dashboard_period`; the
    live 48 hours by default). Every chart reads the hourly counts, never the events: a month is a few thousand
    rows, not millions of events."""
    now = now or timezone.now()
    period = period or dashboard_period({}, now)
    since = period.since
    until = None if period.live else period.until  # a closed period's links end with it
    counts = HourlyCount.objects.visible_to(user).filter(hour__gte=since, hour__lt=period.until)

    per_hour = dict(counts.values_list("hour").annotate(n=Sum("count")).values_list("hour", "n"))
    starts = _buckets(period)
    ends = starts[1:] + [period.until]
    per_bucket = Counter()
    for hour, n in per_hour.items():
        hour = hour.astimezone(dt.timezone.utc)
        if period.by_day:
            per_bucket[timezone.localdate(hour)] += int(n)
        else:
            per_bucket[hour] += int(n)
    keys = [timezone.localdate(h) if period.by_day else h.astimezone(dt.timezone.utc) for h in starts]
    hourly = {"labels": [timezone.localtime(h).strftime("%d/%m" if period.by_day else "%d/%m %H:00") for h in starts],
              "values": [per_bucket.get(k, 0) for k in keys],
              # A click on a bar opens its events (the events search).
              "links": [_events_link(since=h, until=end) for h, end in zip(starts, ends)],
              "bucket": "day" if period.by_day else "hour",
              # The last bar of a period running up to now is still counting: drawn apart, not read as a drop.
              "in_progress": len(starts) - 1 if period.live else None}

    # One pass over the period's hourly counts, grouped by organization and severity (a few hundred rows however
    # long the period): the severity bands, sectors, places and most targeted organizations are added up from it.
    # Grouping by each chart in the database read the counts once per chart, the sectors through a subquery per
    # row (a month of a national store: 4 s, most of the dashboard's reload).
    bands, per_org, high_per_org, per_category = Counter(), Counter(), Counter(), Counter()
    for org_id, category, severity, n in (counts.values_list("organization_id", "category", "severity")
                                          .annotate(n=Sum("count")).order_by()):
        n = int(n)
        per_org[org_id] += n
        per_category[category] += n
        if severity >= HIGH_SEVERITY:
            high_per_org[org_id] += n
        for upper, label in SEVERITY_BANDS:
            if severity <= upper:
                bands[label] += n
                break
    severity = {"labels": _band_labels(), "keys": [label for _u, label in SEVERITY_BANDS],
                "values": [int(bands[label]) for _u, label in SEVERITY_BANDS]}
    organizations = {o.pk: o for o in Organization.objects.filter(pk__in=list(per_org))
                     .annotate(place=places.place_of()).prefetch_related("sectors")}

    def top(totals: Counter, name) -> list:
        """The TOP keys of `totals` with the most events (ties by name), each with its name and count."""
        ranked = sorted(((n, name(key), key) for key, n in totals.items() if n), key=lambda r: (-r[0], r[1]))
        return ranked[:TOP]

    per_sector, sector_names = Counter(), {}
    per_place = Counter()
    for org_id, n in per_org.items():
        org = organizations[org_id]
        for sector in org.sectors.all():
            per_sector[sector.code] += n
            sector_names[sector.code] = _name(sector.name_vi, sector.name_en)
        if org.place:
            per_place[org.place] += n
    place_names = dict(places.choices())
    sector_rows = top(per_sector, sector_names.get)
    # By place (`registry.places`): the central agencies — a ministry's line, wherever its seat — apart from the
    # provinces, else every ministry would count as Hà Nội.
    place_rows = top(per_place, lambda code: place_names.get(code, code))
    target_rows = top(high_per_org, lambda pk: organizations[pk].code)
    sectors = {"labels": [r[1] for r in sector_rows], "values": [r[0] for r in sector_rows],
               # A click on a sector or a place opens its events of the period (the events' `province` filter
               # takes both).
               "links": [_events_link(since=since, until=until, sector=r[2]) for r in sector_rows]}
    provinces = {"labels": [r[1] for r in place_rows], "values": [r[0] for r in place_rows],
                 "links": [_events_link(since=since, until=until, province=r[2]) for r in place_rows]}
    # A click on an organization opens its high and critical events of the period.
    targeted = {"labels": [r[1] for r in target_rows], "values": [r[0] for r in target_rows],
                "names": [_name(organizations[r[2]].name_vi, organizations[r[2]].name_en) for r in target_rows],
                "links": [_events_link(since=since, until=until, organization=r[1], severity_min=HIGH_SEVERITY)
                          for r in target_rows]}
    # By category (what the reader's own monitoring sees): the chart of an organization's dashboard in the place of
    # the national ones. A click opens the category's events of the period.
    category_rows = top(per_category, lambda code: str(EVENT_CATEGORY_LABELS.get(code, code)) if code
                        else _("(no category)"))
    categories = {"labels": [r[1] for r in category_rows], "values": [r[0] for r in category_rows],
                  # Events without a category cannot be searched for as such: that bar opens nothing.
                  "links": [_events_link(since=since, until=until, category=r[2]) if r[2] else None
                            for r in category_rows]}
    # Each bar names its organization by its code, which fits on a phone; the full name is in the tooltip and in
    # the figures under the chart (`names`). A sector or a province keeps its name there too.
    for chart in (sectors, provinces, categories):
        chart["names"] = chart["labels"]

    hits = IndicatorHit.objects.visible_to(user).filter(time__gte=since, time__lt=period.until)
    top_ind = list(hits.values("kind", "value").annotate(n=Count("event_id", distinct=True),
                                                          orgs=Count("organization", distinct=True),
                                                          indicator_id=Max("indicator_id"))
                   .order_by("-n", "value")[:TOP])
    indicators = {"labels": [r["value"] for r in top_ind], "values": [r["n"] for r in top_ind],
                  "rows": [{"value": r["value"], "kind": indicator_kind_label(r["kind"]), "hits": r["n"],
                            "organizations": r["orgs"],
                            "url": indicator_url(r["indicator_id"])} for r in top_ind]}

    sources = list(health.with_refusing(AlertSource.objects.visible_to(user)).only("enabled", "last_event_at"))
    status = Counter(health.source_status(s, now) for s in sources)
    systems = Counter(health.monitored_systems(user, now=now).values_list("monitoring", flat=True))
    # "X / Y connected (Z %)" of the level-3+ systems in operation: the home page's figure has the same shape.
    connection = health.live_connection(user, now)

    campaigns, open_campaigns = [], 0
    coordinator = is_national_coordinator(user)
    if coordinator:
        visible = Campaign.objects.visible_to(user)
        open_campaigns = visible.filter(status=CampaignStatus.OPEN).count()  # all of them; the table shows TOP
        # The most serious first; those warned or turned into an incident stay while still active, marked so.
        for c in correlation.shown_campaigns(visible, now)[:TOP]:
            campaigns.append({"title": c.display_title, "organizations": c.organization_count, "count": c.count,
                              "severity": c.severity, "severity_text": str(correlation.severity_text(c.severity)),
                              "severity_band": severity_label(c.severity),
                              "status": c.status, "status_label": str(c.get_status_display()),
                              "last_seen": _iso(c.last_seen), "url": reverse("telemetry:campaign", args=[c.pk])})
    day = now - dt.timedelta(hours=24)
    day_hour = day.replace(minute=0, second=0, microsecond=0)
    # The alert backlog, counted up to a cap (`core.paging.capped_count`): counting every open high alert of a
    # national store took half a second per figure, and an index to speed it up would cost every alert write
    # (decision 0009). Above the cap the figure reads "more than 10,000" (`kpi_texts`).
    severe = Alert.objects.visible_to(user).filter(severity__gte=HIGH_SEVERITY)
    open_high = capped_count(severe.filter(status__in=OPEN_ALERT_STATUSES))
    new_high = capped_count(triage.untaken_severe_alerts(user))  # the home page's To-do figure
    scale = dashboard_scale(user, coordinator)
    kpis_extra, links_extra = {}, {}
    if not coordinator:
        # An organization's early warnings nobody of it has answered yet: its warning inbox, those pending.
        from khien.intel.services_warnings import inbox_for

        kpis_extra["warnings_awaiting"] = inbox_for(user).filter(state__isnull=True).order_by().count()
        links_extra["warnings_awaiting"] = reverse("intel:warning_inbox") + "?pending=1"
    return {
        # ISO 8601 in Vietnam time with its offset, as every other API gives times; the page writes it dd/mm/yyyy.
        "generated": _iso(now),
        "kpis": {
            # The key figures stay live whatever the period the charts show.
            "events_24h": int(HourlyCount.objects.visible_to(user).filter(hour__gte=day_hour)
                              .aggregate(n=Coalesce(Sum("count"), 0))["n"]),
            # Events that hit, as the indicator table counts them: a value named by three producers' indicators
            # is three hit rows for one event.
            "hits_24h": IndicatorHit.objects.visible_to(user).filter(time__gte=day).values("event_id").distinct()
            .count(),
            # The backlog: high and critical alerts nobody has closed (whatever their age).
            "alerts_open_high": open_high,
            "campaigns": open_campaigns,
            "sources_live": status["live"],
            "sources_silent": sum(status[key] for key in health.NOT_SENDING),
            "systems_disconnected": sum(systems[key] for key in health.Monitoring.NOT_CONNECTED_STATES),
            **kpis_extra,
        },
        # A figure counted up to its cap, as the page writes it ("more than 10,000"): only those that reached it.
        "kpi_texts": {key: count_text(n) for key, n in (("alerts_open_high", open_high),) if is_capped(n)},
        # Beside the tiles (each tile one key of `kpis`, one list in `kpi_links`): "X / Y connected (Z %)" of the
        # level-3+ systems in operation, and, of the high and critical alerts not closed, those nobody has taken
        # yet (the home page's "to do"), with its list.
        "connection": connection,
        "alerts_new_high": {"count": new_high, "text": count_text(new_high),
                            "url": reverse("telemetry:alerts") + "?" + urlencode(
                                {"status": AlertStatus.NEW, "severity_min": HIGH_SEVERITY})},
        "period": period.as_dict(),
        # The events of the period, from the hourly counts (the monthly report's total).
        "events_period": sum(hourly["values"]),
        # What each key figure counts, as a list to open (the same rule, the same time range): the page's tiles
        # link to these, the JSON gives them.
        "kpi_links": {**kpi_links(day_hour=day_hour, day=day, coordinator=coordinator), **links_extra},
        # Which charts mean something for the reader (`dashboard_scale`): "national" (by sector, by province, most
        # targeted organizations) or "own" (by category, and the most targeted of its organizations if several).
        "scale": scale,
        "hourly": hourly, "severity": severity, "sectors": sectors, "provinces": provinces,
        "targeted": targeted, "categories": categories, "indicators": indicators, "campaigns": campaigns,
        "sources": {"labels": [str(label) for label in health.SOURCE_STATUS_LABELS.values()],
                    "keys": list(health.SOURCE_STATUS_LABELS),
                    "values": [status[key] for key in health.SOURCE_STATUS_LABELS]},
    }


@login_required
def dashboard(request):
    now = timezone.now()
    # The period the charts show (the selector): a period that cannot be read is said so, with a 400, and the
    # live default shown beneath the message.
    period_error, status = None, 200
    try:
        period = dashboard_period(request.GET, now)
    except PeriodError as error:
        period_error, status, period = str(error), 400, dashboard_period({}, now)
    data = dashboard_data(request.user, now, period)
    # The JSON gives ISO times; the page shows them as people read them (telemetry.js does the same on refresh).
    campaigns = [{**c, "last_seen_at": dt.datetime.fromisoformat(c["last_seen"])} for c in data["campaigns"]]
    query = {key: request.GET[key] for key in ("period", "month", "since", "until") if request.GET.get(key)}
    # The figures under each bar chart: the whole name, which a bar's label (a code, a cut name) may not show.
    numbers = {key: [{"name": name, "label": label, "value": value, "url": url} for name, label, value, url
                     in zip(data[key]["names"], data[key]["labels"], data[key]["values"], data[key]["links"])]
               for key in ("sectors", "provinces", "targeted", "categories")}
    return render(request, "telemetry/dashboard.html", {
        "data": data, "generated_at": now, "campaign_rows": campaigns,
        "numbers": numbers, "period": period, "period_error": period_error, "period_choices": list(PERIOD_LABELS.items()),
        "period_query": urlencode(query) if not period_error else "",
        "asked": {key: (request.GET.get(key) or "")[:20] for key in ("month", "since", "until")},
        "this_month": timezone.localdate(now).strftime("%Y-%m"), "today": timezone.localdate(now).isoformat(),
        "is_coordinator": is_national_coordinator(request.user),
        "has_echarts": bool(finders.find("vendor/echarts/echarts.min.js")),
        "campaign_window_hours": conf_matching.get("KHIEN_CAMPAIGN_WINDOW_SECONDS") / 3600,
        "refresh_seconds": REFRESH_SECONDS,
        # What "no live monitoring source" means: silent longer than this (health.silent_before).
        "silent_minutes": max(1, int(conf.get("KHIEN_SOURCE_SILENT_SECONDS")) // 60),
    }, status=status)


def dashboard_json(request):
    """The dashboard's figures for its refresh. Signed out (the session ended), a 401 rather than the sign-in page:
    the page then says so, with a link to sign in again, instead of keeping its last figures silently."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": _("Your session has ended: sign in again."),
                             "login_url": reverse("core:login") + "?" + urlencode({"next": reverse("telemetry:dashboard")})},
                            status=401)
    now = timezone.now()
    try:
        period = dashboard_period(request.GET, now)
    except PeriodError as error:
        return JsonResponse({"detail": str(error)}, status=400)
    return JsonResponse(dashboard_data(request.user, now, period))


def _render(request, template, context, status=200):
    context.setdefault("is_coordinator", is_national_coordinator(request.user))
    return render(request, template, context, status=status)


# --- Alerts ----------------------------------------------------------------------------------------


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


ALERT_STATUS_FILTERS = {"open": OPEN_ALERT_STATUSES, "all": None,
                        **{status: (status,) for status in AlertStatus.values}}


def _may_change_some_alerts(user) -> bool:
    scope = scope_for(user, Action.CHANGE)
    return scope.everything or bool(scope.paths)


# The alert list's filters read by `AlertFilter` (the API's): the others are the page's own.
ALERT_LIST_FILTERS = ("observable", "observer", "organization", "source", "since", "until")


def datetime_local_values(form, names) -> dict:
    """What the page's date and time fields (`<input type="datetime-local">`, which shows nothing but
    yyyy-mm-ddThh:mm) show of the asked values: each read by its filter (a date alone as 00:00, or, for an end,
    the next midnight: the whole day), in Vietnam time; a value that cannot be read, as it was typed."""
    values = {}
    for name in names:
        raw = (form.data.get(name) or "").strip()
        try:
            value = form.fields[name].clean(raw) if raw else None
        except ValidationError:
            value = None
        if value is None:
            values[name] = raw[:40]
            continue
        value = timezone.localtime(value)
        values[name] = value.strftime("%Y-%m-%dT%H:%M:%S" if value.second else "%Y-%m-%dT%H:%M")
    return values


# The observer of an alert's latest event that names one (the alert does not keep its own).
_latest_observer = (Event.objects.filter(alert_id=OuterRef("pk")).exclude(observer="").order_by("-time")
                    .values("observer")[:1])


def main_address(alert: Alert) -> str:
    """What the list shows of an alert's observables: its source address, else its destination, else its
    domain ("" when it has none of them)."""
    seen = alert.observables if isinstance(alert.observables, dict) else {}
    return next((str(seen[name]) for name in ("src_ip", "dst_ip", "domain") if seen.get(name)), "")


def _alert_list_context(request) -> dict:
    alerts = Alert.objects.visible_to(request.user)
    status = request.GET.get("status") or "open"
    severity_min, severity_errors = clean_severity_min((request.GET.get("severity_min") or "").strip())
    filters = {"hits": request.GET.get("hits") == "1", "severity_min": severity_min,
               "severity_min_text": (request.GET.get("severity_min") or "").strip()[:20],
               "q": (request.GET.get("q") or "").strip()[:200],
               "status": status if status in ALERT_STATUS_FILTERS else "open"}
    if ALERT_STATUS_FILTERS[filters["status"]]:
        alerts = alerts.filter(status__in=ALERT_STATUS_FILTERS[filters["status"]])
    if filters["hits"]:
        alerts = alerts.filter(Exists(IndicatorHit.objects.filter(alert=OuterRef("pk"))))
    if severity_errors:  # a bad filter value lists nothing (400) and says why, as the other list pages do
        alerts = alerts.none()
    elif filters["severity_min"] is not None:
        alerts = alerts.filter(severity__gte=filters["severity_min"])
    if filters["q"]:
        alerts = alerts.filter(Q(rule_name__icontains=filters["q"]) | Q(rule_id=filters["q"]))
    # The filters an analyst triages by, read by the API's FilterSet (`AlertFilter`): an observable, the observer,
    # an organization of the user's scope (the queryset is already theirs), and a range of the last sighting.
    asked = {name: request.GET[name] for name in ALERT_LIST_FILTERS if request.GET.get(name, "").strip()}
    filters.update({name: request.GET.get(name, "").strip()[:2048] for name in ALERT_LIST_FILTERS})
    triage_filters = AlertFilter(asked, queryset=alerts, request=request)
    filters.update(datetime_local_values(triage_filters.form, ("since", "until")))
    filter_errors = [(_("Severity at least"), e) for e in severity_errors]
    if asked and triage_filters.is_valid():
        alerts = triage_filters.qs
    elif asked:
        filter_errors += [(triage_filters.form.fields[name].label, e) for name, errors in triage_filters.form.errors.items()
                          for e in errors]
        alerts = alerts.none()
    if request.GET.get("incident"):
        # The alerts reported as, or added to, an incident (its reference or id).
        filters["incident"] = request.GET["incident"].strip()[:100]
        alerts = triage.in_incident(alerts, filters["incident"])
    if request.GET.get("campaign"):
        # The alerts behind a national campaign (the coordinator's, who alone sees campaigns).
        filters["campaign"] = _visible_campaign(request, request.GET["campaign"])
        alerts = correlation.campaign_alerts(filters["campaign"], alerts)
    # The page's ids first (a narrow sort), then the rows the page shows with what it shows of them: sorting the
    # whole joined rows of a national list of a million alerts took three times as long. Counted up to a cap
    # (`core.paging.CappedPaginator`): counting every open alert of a national store took 0.9 s; beyond the cap the
    # page says "more than 10,000" and offers the next and previous pages.
    page = CappedPaginator(services.newest_alerts_first(alerts, request.user).values_list("pk", flat=True), 50).get_page(
        request.GET.get("page"))
    # The events of the alert that matched an indicator (an event matching three indicators counts once), as the
    # alert's page and the dashboard count them.
    hit_count = (IndicatorHit.objects.filter(alert=OuterRef("pk")).values("alert")
                 .annotate(n=Count("event_id", distinct=True)).values("n"))
    rows = {alert.pk: alert for alert in Alert.objects.filter(pk__in=list(page.object_list))
            .select_related("source", "organization", "assignee")
            .annotate(hit_count=Coalesce(Subquery(hit_count, output_field=IntegerField()), 0),
                      seen_by=Subquery(_latest_observer))}
    page.object_list = [rows[pk] for pk in page.object_list if pk in rows]
    for alert in page.object_list:
        alert.main_address = main_address(alert)
    query = request.GET.copy()
    query.pop("page", None)
    tabs = request.GET.copy()  # the status tabs keep the other filters
    for name in ("page", "status"):
        tabs.pop(name, None)
    return {"page": page, "filters": filters, "query": query.urlencode(), "tab_query": tabs.urlencode(),
            "filter_errors": filter_errors,
            "severity_scale_help": SEVERITY_SCALE_HELP,
            "status_tabs": [("open", _("Open")), *AlertStatus.choices, ("all", _("All"))],
            # The tick boxes and the action bar only for users who may change some organization's alerts.
            "can_triage": _may_change_some_alerts(request.user),
            "triage_form": AlertTriageForm(initial={"status": AlertStatus.ACKNOWLEDGED}),
            "join_form": AlertJoinIncidentForm(use_required_attribute=False)}


def _render_alert_list(request, context: dict, status=200):
    context["bulk_forms"] = [context["triage_form"], context["join_form"]]
    # A refused action shows the list again with the same alerts ticked.
    context["ticked"] = set(request.POST.getlist("alerts"))
    return _render(request, "telemetry/alert_list.html", context, status=status)


@login_required
def alert_list(request):
    context = _alert_list_context(request)
    return _render_alert_list(request, context, status=400 if context["filter_errors"] else 200)


def _back_after_list_action(request) -> str:
    """Where a ticked-alerts action returns: the alert page it was posted from (`from_alert`, its related alerts),
    else the list with its filters (`next_query`, parsed and encoded again: only our own pages go into the
    redirect)."""
    try:
        return reverse("telemetry:alert", args=[uuid.UUID(request.POST.get("from_alert", ""))])
    except ValueError:
        return (reverse("telemetry:alerts") + "?"
                + QueryDict((request.POST.get("next_query") or "")[:2000]).urlencode())


def _list_action(request, form, form_name: str, act):
    """An action on ticked alerts (on the list, or among an alert's related alerts): valid, `act(ids, data)` calls
    the service and returns the message to show, then back where it came from; a bad form or a refusal shows the
    list with the form, its errors and the same alerts ticked."""
    status = 400
    if form.is_valid():
        try:
            message = act(request.POST.getlist("alerts"), form.cleaned_data)
        except (Refused, ValidationError) as exc:
            add_service_error(form, exc)
            status = status_of(exc)
        else:
            messages.success(request, message)
            return redirect(_back_after_list_action(request))
    context = _alert_list_context(request)
    context[form_name] = form
    return _render_alert_list(request, context, status)


@login_required
@require_POST
def alert_list_triage(request):
    """The status of the alerts ticked on the list."""
    def act(ids, data):
        done = triage.do_triage_alerts(ids, data["status"], acting_user=request.user, note=data["note"] or None)
        return ngettext("%(n)d alert set to “%(status)s”.", "%(n)d alerts set to “%(status)s”.", len(done)) % {
            "n": len(done), "status": AlertStatus(data["status"]).label}

    return _list_action(request, AlertTriageForm(request.POST), "triage_form", act)


@login_required
@require_POST
def alert_list_join_incident(request):
    """The alerts ticked on the list added to an incident given by its reference."""
    def act(ids, data):
        incident = triage.find_incident(request.user, data["incident"])
        return _joined_message(len(triage.do_add_alerts_to_incident(ids, incident, acting_user=request.user)),
                               incident)

    return _list_action(request, AlertJoinIncidentForm(request.POST, use_required_attribute=False), "join_form", act)


def _joined_message(count: int, incident) -> str:
    return ngettext("%(n)d alert added to incident %(reference)s.", "%(n)d alerts added to incident %(reference)s.",
                    count) % {"n": count, "reference": incident.reference}


def _alert_page(request, alert, *, status=200, triage_form=None, incident_form=None, suppress_form=None,
                join_form=None):
    events = Event.objects.filter(alert=alert).order_by("-time")[:100]
    alert_hits = IndicatorHit.objects.filter(alert=alert)
    hits = list(alert_hits.order_by("-time", "event_id", "indicator_id")[:200])
    # Counted as events that matched (per indicator, and in all): the measure of the alert list and the dashboard.
    rows = list(alert_hits.order_by().values("indicator_id", "kind", "value")
                .annotate(n=Count("event_id", distinct=True)).order_by("-n", "value")[:200])
    shown = _hit_indicators(request.user, {row["indicator_id"] for row in rows} | {h.indicator_id for h in hits})
    indicators, hidden_rows = [], set()
    for row in rows:
        if shown[row["indicator_id"]]["hidden"]:
            # Indicators the reader may not see are one row per value: how many there are is not theirs to know.
            if (row["kind"], row["value"]) in hidden_rows:
                continue
            hidden_rows.add((row["kind"], row["value"]))
        indicators.append({**shown[row["indicator_id"]], "kind": indicator_kind_label(row["kind"]),
                           "value": row["value"], "count": row["n"]})
    shown_hits, hidden_hits = [], set()
    for hit in hits:
        hit.indicator, hit.field_label = shown[hit.indicator_id], event_field_label(hit.field)
        if hit.indicator["hidden"]:
            if (hit.event_id, hit.field) in hidden_hits:
                continue
            hidden_hits.add((hit.event_id, hit.field))
        shown_hits.append(hit)
    hits = shown_hits
    may_triage = triage.may_triage(request.user, alert)
    context = {"alert": alert, "events": events, "hits": hits, "indicators": indicators,
               # The agents or sensors that saw its events (at most 10).
               "observers": list(Event.objects.filter(alert=alert).exclude(observer="").order_by("observer")
                                 .values_list("observer", flat=True).distinct()[:10]),
               "hit_events": alert_hits.values("event_id").distinct().count() if hits else 0,
               "history": triage.triage_history(alert),
               "incident_seen": triage.incident_seen(request.user, alert),
               # An address of the alert's events links to the events search, from RELATED_DAYS before the alert.
               "pivot_since": timezone.localtime(alert.first_seen - dt.timedelta(days=triage.RELATED_DAYS))
               .strftime("%Y-%m-%dT%H:%M"),
               "related": triage.related_alerts(request.user, alert), "related_days": triage.RELATED_DAYS,
               # An alert reported as an incident: its related alerts can be added to that incident from here.
               "related_join": may_triage and triage.may_add_to_incident_of(request.user, alert),
               "can_triage": may_triage and not triage.is_reported(alert),
               # Reporting needs the incident taxonomy and policy loaded (`khien load_content`), else no form.
               "can_report": triage.may_report(request.user, alert) and not alert.incident_id
               and incident_content_loaded(),
               # The early warnings about its values the reader may see (the warning page links back to its alerts).
               "covering_warnings": warnings_covering_alert(alert, request.user)}
    if context["can_triage"]:
        # The note box starts empty: the note stays unless a new one is written, and earlier ones are in the history.
        context["triage_form"] = triage_form or AlertTriageForm(alert=alert, user=request.user, initial={
            "status": alert.status,
            "assignee": alert.assignee if alert.assignee_id and alert.assignee_id != request.user.pk else None})
        # Joining an incident already reported: only when there is one the user may add it to.
        join_form = join_form or AlertJoinIncidentForm(alert=alert, user=request.user)
        context["join_form"] = join_form if join_form.offers_incidents else None
    if context["can_report"]:
        context["incident_form"] = incident_form or AlertIncidentForm(initial=triage.incident_defaults(alert),
                                                                      detected_at=alert.first_seen)
    # Suppressing repeats: for those who may triage, unless the key is suppressed already.
    context["active_suppression"] = (AlertSuppression.objects.active().filter(source=alert.source, key=alert.key)
                                     .select_related("created_by").first())
    if context["can_triage"] and context["active_suppression"] is None:
        context["suppress_form"] = suppress_form or AlertSuppressForm()
    return _render(request, "telemetry/alert_detail.html", context, status=status)


def event_field_label(field: str) -> str:
    """An event field that matched an indicator, as people read it in their language (src_ip → Source address)."""
    labels = {"src_ip": _("Source address"), "dst_ip": _("Destination address"), "domain": _("Domain"),
              "url": _("URL"), "file_md5": "MD5", "file_sha1": "SHA-1", "file_sha256": "SHA-256"}
    return str(labels.get(field) or indicator_kind_label(field))


def _hit_indicators(user, stix_ids) -> dict[str, dict]:
    """What the alert's page shows of each indicator its events matched, by STIX id: for an indicator the reader
    may see (the intel rules, `search.latest_versions`), its latest version's name, producer, TLP and confidence,
    as a sighting shows them; for one they may not see (a TLP:RED indicator shared with the alert's organization,
    read by its parent), nothing of it, not even its id: only that an indicator they do not see matched."""
    from khien.intel import search

    seen = search.latest_versions(user, stix_ids)
    shown = {}
    for stix_id in stix_ids:
        obj = seen.get(stix_id)
        shown[stix_id] = ({"hidden": True} if obj is None else
                          {"hidden": False, "id": stix_id, "url": indicator_url(stix_id), "tlp": obj.tlp,
                           "name": search.display_name(obj), "confidence": obj.confidence,
                           "producer": obj.producer})
    return shown


def _visible_alert(request, pk) -> Alert:
    return get_object_or_404(Alert.objects.visible_to(request.user)
                             .select_related("source", "organization", "assignee", "triaged_by", "incident__organization",
                                             "suppression"), pk=pk)


@login_required
def alert_detail(request, pk):
    return _alert_page(request, _visible_alert(request, pk))


def _alert_action(request, pk, make_form, form_name: str, act):
    """A form posted on an alert's page (`make_form(alert)`): valid, it goes to the service (`act(alert, data)`
    returns the answer); a bad form or a refusal shows the page again with the form and its errors."""
    alert = _visible_alert(request, pk)
    form = make_form(alert)
    if not form.is_valid():
        return _alert_page(request, alert, status=400, **{form_name: form})
    try:
        return act(alert, form.cleaned_data)
    except (Refused, ValidationError) as exc:
        add_service_error(form, exc)
        return _alert_page(request, _visible_alert(request, pk), status=status_of(exc), **{form_name: form})


@login_required
@require_POST
def alert_triage(request, pk):
    def act(alert, data):
        triage.do_triage_alerts([alert.pk], data["status"], acting_user=request.user, note=data["note"],
                                assignee=data.get("assignee"))
        messages.success(request, _("Alert set to “%(status)s”.") % {"status": AlertStatus(data["status"]).label})
        return redirect("telemetry:alert", pk=alert.pk)

    return _alert_action(request, pk, lambda alert: AlertTriageForm(request.POST, alert=alert, user=request.user),
                         "triage_form", act)


@login_required
@require_POST
def alert_incident(request, pk):
    def act(alert, data):
        incident = triage.do_alert_to_incident(alert, acting_user=request.user, data=data)
        if incident.late_reason:
            messages.success(request, _("Incident %(reference)s reported from the alert, after the 24-hour deadline: "
                                        "the reason you gave is kept with it.") % {"reference": incident.reference})
        else:
            messages.success(request, _("Incident %(reference)s reported from the alert; its initial report is due "
                                        "24 hours after detection.") % {"reference": incident.reference})
        return redirect("incidents:incident_detail", pk=incident.pk)

    return _alert_action(request, pk, lambda alert: AlertIncidentForm(request.POST, detected_at=alert.first_seen),
                         "incident_form", act)


@login_required
@require_POST
def alert_join_incident(request, pk):
    def act(alert, data):
        incident = triage.find_incident(request.user, data["incident"])
        triage.do_add_alerts_to_incident([alert.pk], incident, acting_user=request.user)
        messages.success(request, _joined_message(1, incident))
        return redirect("incidents:incident_detail", pk=incident.pk)

    return _alert_action(request, pk, lambda alert: AlertJoinIncidentForm(request.POST, alert=alert,
                                                                          user=request.user), "join_form", act)


@login_required
@require_POST
def alert_suppress(request, pk):
    def act(alert, data):
        suppression = triage.do_suppress_alert(alert, acting_user=request.user, reason=data["reason"],
                                               days=data["days"])
        messages.success(request, _("Repeats of this alert start as false positives until %(until)s.")
                         % {"until": shown_time(suppression.expires_at)})
        return redirect("telemetry:alert", pk=alert.pk)

    return _alert_action(request, pk, lambda alert: AlertSuppressForm(request.POST), "suppress_form", act)


# --- Sources ---------------------------------------------------------------------------------------


def sparkline(values: list[int], width: int = 96, height: int = 20) -> str:
    """SVG polyline points for a small chart of `values` (drawn on the page itself: no script, no network)."""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 1 - (v / top) * (height - 2):.1f}" for i, v in enumerate(values))


@login_required
def source_list(request):
    now = timezone.now()
    sources = list(AlertSource.objects.visible_to(request.user).select_related("organization")
                   .annotate(dead=Count("dead_letters", distinct=True)).order_by("organization__code", "name"))
    for s in health.with_health(sources, now):
        s.sparkline = sparkline(s.activity.hourly)
    # The sources by state: one tab per state, and "not sending" (what the dashboard's figure counts).
    per_status = Counter(s.status for s in sources)
    per_status["not_sending"] = sum(per_status[key] for key in health.NOT_SENDING)
    status = request.GET.get("status") or ""
    wanted = health.NOT_SENDING if status == "not_sending" else (status,) if status in health.SOURCE_STATUS_LABELS \
        else None
    status_tabs = [("", _("All"), len(sources)), ("not_sending", _("Not sending"), per_status["not_sending"])] + [
        (key, label, per_status[key]) for key, label in health.SOURCE_STATUS_LABELS.items()]
    if wanted:
        sources = [s for s in sources if s.status in wanted]
    dead = DeadLetter.objects.visible_to(request.user).select_related("source")[:20]

    # Level-3+ systems and their connection to national monitoring: counts per state, then one state's list.
    systems = health.monitored_systems(request.user, now=now)
    per_state = Counter(systems.values_list("monitoring", flat=True))
    per_state[health.Monitoring.NOT_CONNECTED] = sum(per_state[s] for s in health.Monitoring.NOT_CONNECTED_STATES)
    state = request.GET.get("monitoring")
    if state not in health.Monitoring.STATES:
        state = health.Monitoring.NOT_CONNECTED
    # Who to call: lost systems, those whose sources send only refused records and never-connected ones grouped by
    # the source watching them (one call per source, its organization's contacts beside it); the systems with no
    # source at all, or connected, as a list.
    grouped = {health.Monitoring.DISCONNECTED: "lost_calls", health.Monitoring.REJECTING: "rejecting_calls",
               health.Monitoring.NEVER_SENT: "never_calls"}
    calls = {name: health.calls_by_source(request.user, key, now) for key, name in grouped.items()
             if state in (key, health.Monitoring.NOT_CONNECTED)}
    listed = (health.Monitoring.NO_SOURCE,) if state == health.Monitoring.NOT_CONNECTED else \
        () if state in grouped else (state,)
    monitoring = Paginator(systems.filter(monitoring__in=listed).order_by("-monitored_level", "code"), 50) \
        .get_page(request.GET.get("page")) if listed else None
    return _render(request, "telemetry/source_list.html", {
        "sources": sources, "dead_letters": dead, "monitoring": monitoring, "monitoring_state": state, **calls,
        # A source or system of the reader's own organization is theirs to mend, not someone to call.
        "own_organization_ids": {org_id for _role, _path, org_id in memberships_of(request.user)},
        "silent_minutes": max(1, int(conf.get("KHIEN_SOURCE_SILENT_SECONDS")) // 60),
        "status_tabs": status_tabs, "status": status if wanted else "",
        "can_register": source_organizations(request.user).exists(),
        "monitoring_states": [(health.Monitoring.NOT_CONNECTED, _("Not connected"),
                               per_state[health.Monitoring.NOT_CONNECTED])]
                             + [(key, health.Monitoring.LABELS[key], per_state[key]) for key in health.Monitoring.STATES],
    })


# --- One source: registering it, its settings, its key, the systems it watches ------------------------


# How each format is posted to the HTTP intake: one record a line, or CEF lines as text.
INTAKE_CONTENT_TYPES = {SourceFormat.CEF: "text/plain"}


def sending_instructions(request, source) -> dict:
    """What the source's tool needs to send its alerts: the addresses on this platform, as the browser reached
    it, and the headers for the source's format (the soc-connect guide tells the same at length)."""
    return {
        "intake_url": request.build_absolute_uri(reverse("telemetry-api:intake")),
        "elastic_url": request.build_absolute_uri(reverse("telemetry-api:elastic")),
        "content_type": INTAKE_CONTENT_TYPES.get(source.format, "application/x-ndjson"),
        "sample_file": "alerts.log" if source.format == SourceFormat.CEF else "alerts.ndjson",
        "nats_subject": f"khien.alerts.{source.name}",
    }


def _source_page(request, source, *, status=200, new_key=None, settings_form=None, systems_form=None, error=None):
    """The source's page. `new_key` is shown once (just registered, or rotated): the answer is then not stored
    by the browser or a proxy (no-store)."""
    health.with_health([source])
    source.sparkline = sparkline(source.activity.hourly)
    context = {
        "source": source, "new_key": new_key, "error": error, "sending": sending_instructions(request, source),
        "dead_letters": DeadLetter.objects.filter(source=source).order_by("-received_at")[:20],
        "dead_letter_count": DeadLetter.objects.filter(source=source).count(),
        "suppressions": AlertSuppression.objects.active().filter(source=source).select_related("created_by")
                        .order_by("expires_at"),
        "can_change": user_can(request.user, Action.CHANGE, source.organization),
    }
    if context["can_change"]:  # the forms; a read-only page lists the systems instead
        context["settings_form"] = settings_form or SourceSettingsForm(
            initial={"enabled": source.enabled, "format": source.format, "time_zone": source.time_zone})
        context["systems_form"] = systems_form or SourceSystemsForm(
            source=source, user=request.user, initial={"systems": list(source.systems.all())})
    else:
        context["systems"] = source.systems.visible_to(request.user).order_by("code")
    response = _render(request, "telemetry/source_detail.html", context, status=status)
    return shown_once.no_store(response) if new_key else response


@login_required
def source_create(request):
    if not source_organizations(request.user).exists():
        raise PermissionDenied(_("You may not register alert sources."))
    form = SourceCreateForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                source, key = services.do_create_source(data["organization"], data["name"], data["format"],
                                                        time_zone=data["time_zone"], acting_user=request.user)
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, _("Source “%(name)s” registered.") % {"name": source.name})
                return _show_key_once(request, source, key)
        else:
            status = 400
    return _render(request, "telemetry/source_form.html", {"form": form}, status=status)


# A source's new key (just registered, or rotated), kept in the session for the one page that shows it.
NEW_SOURCE_KEY_SESSION_KEY = "telemetry.new_source_key"


def _show_key_once(request, source, key: str):
    """Post/redirect/get for a new key: the key waits in the session (never in a URL or a log) for the source's
    page, which shows it once and drops it; reloading that page neither posts again nor shows the key again."""
    shown_once.keep(request, NEW_SOURCE_KEY_SESSION_KEY, key, belongs_to=source.pk)
    return redirect(reverse("telemetry:source", args=[source.name]) + "#new-key")


@login_required
def source_detail(request, name):
    source = services.visible_source(request.user, name)
    return _source_page(request, source,
                        new_key=shown_once.take(request, NEW_SOURCE_KEY_SESSION_KEY, belongs_to=source.pk))


# What a trial shows of each event it would store, in this order (services.try_records).
TRIED_FIELDS = ("time", "kind", "category", "severity", "observer", "src_ip", "src_port", "dst_ip", "dst_port",
                "domain", "url", "file_md5", "file_sha1", "file_sha256", "rule_id", "rule_name")


def trial_rows(user, tried: list) -> list[dict]:
    """A trial's records as the page and the API answer them: the outcome (accepted, duplicate — stored before —,
    repeated — an earlier record of the trial —, or refused with the reason in the reader's language), the event it
    would be, and the indicators it would match as the alert page shows them (one the reader may not see: only
    that it exists)."""
    shown = {stix_id: _as_data(indicator)
             for stix_id, indicator in _hit_indicators(user, {hit.indicator_id for t in tried for hit in t.hits}).items()}
    rows = []
    for t in tried:
        if t.fields is None:
            rows.append({"position": t.place, "outcome": "refused", "reason": t.reason,
                         "reason_text": reason_text(t.reason), "event": None, "hits": []})
            continue
        event = {name: t.fields.get(name) for name in TRIED_FIELDS}
        event["category_label"] = str(EVENT_CATEGORY_LABELS.get(event["category"], event["category"] or ""))
        event["severity_label"] = str(severity_label(event["severity"]))
        hits = [{"field": hit.field, "field_label": event_field_label(hit.field), "value": hit.value,
                 "indicator": shown[hit.indicator_id]} for hit in t.hits]
        rows.append({"position": t.place, "outcome": "repeated" if t.repeated else "duplicate" if t.stored else "accepted",
                     "reason": None, "reason_text": None, "event": event, "hits": hits})
    return rows


TRIAL_OUTCOMES = ("accepted", "duplicate", "repeated", "refused")


def trial_counts(rows: list[dict]) -> dict[str, int]:
    """How many of a trial's records (`trial_rows`) have each outcome, every outcome named (0 when none)."""
    return {outcome: sum(row["outcome"] == outcome for row in rows) for outcome in TRIAL_OUTCOMES}


def _as_data(indicator: dict) -> dict:
    """An indicator as `_hit_indicators` shows it, with its producer as plain data (the API answers it as JSON)."""
    producer = indicator.get("producer")
    return {**indicator, "producer": {"code": producer.code, "name": producer.name} if producer else None}


def records_of_text(text: str, source_format: str) -> list:
    """The records of a trial's pasted text, read as the intake reads a posted body of the source's format."""
    body = text.encode()
    media_type = "application/json" if text.lstrip()[:1] == "[" else INTAKE_CONTENT_TYPES.get(
        source_format, "application/x-ndjson")
    return split_body(body, media_type)


@login_required
def source_try(request, name):
    """Try sample records against a source (its format, time zone, the indicators its organization may see):
    what would be stored, refused (and why), matched — nothing stored or counted. For whoever sees the source."""
    source = services.visible_source(request.user, name)
    form = TryRecordsForm(request.POST or None)
    context, status = {"source": source, "form": form, "limit": services.TRY_RECORDS_LIMIT}, 200
    if request.method == "POST":
        if form.is_valid():
            try:
                tried = services.try_records(source, records_of_text(form.cleaned_data["records"], source.format))
            except Refused as exc:
                form.add_error("records", exc.message)
                status = exc.status
            else:
                context["rows"] = trial_rows(request.user, tried)
                context["counts"] = trial_counts(context["rows"])
        else:
            status = 400
    return _render(request, "telemetry/source_try.html", context, status=status)


def _source_settings_url(source) -> str:
    return reverse("telemetry:source", args=[source.name]) + "#source-settings"


@login_required
@require_POST
def source_settings(request, name):
    source = services.visible_source(request.user, name)
    form = SourceSettingsForm(request.POST)
    if not form.is_valid():
        return _source_page(request, source, status=400, settings_form=form)
    if form.disables(source) and not confirmed(request) and user_can(request.user, Action.CHANGE, source.organization):
        # Disabling refuses the tool at once, as a new key does: asked first, on a page of its own (no JavaScript
        # needed), which sends the same settings again with the consent. Nothing is changed meanwhile. Whoever
        # may not change the source is refused by the service, as before.
        return ask_first(
            request, title=_("Disable %(name)s?") % {"name": source.name},
            question=_("Its key is refused at once: the SOC connector that sends with it (its forwarder, NATS user or "
                       "Logstash output) is refused and its alerts are lost until the source is enabled again. What it "
                       "sent before stays stored."),
            note=_("To turn it back on later: tick “Enabled” in the source's settings and save. Its key does not change."),
            button=_("Disable the source"), cancel_url=_source_settings_url(source))
    was_enabled = source.enabled
    try:
        services.do_update_source(source, form.settings(), acting_user=request.user)
    except (Refused, ValidationError) as exc:
        add_service_error(form, exc)
        source.refresh_from_db()
        return _source_page(request, source, status=status_of(exc), settings_form=form)
    # Turning the source off or on is what the user did: say what it means for the tool that sends with its key.
    source.refresh_from_db()
    if was_enabled and not source.enabled:
        messages.success(request, _("“%(name)s” is disabled: its key is refused from now on.") % {"name": source.name})
    elif source.enabled and not was_enabled:
        messages.success(request, _("“%(name)s” is enabled again: its key is accepted.") % {"name": source.name})
    else:
        messages.success(request, _("Settings of “%(name)s” saved.") % {"name": source.name})
    return redirect("telemetry:source", name=source.name)


@login_required
@require_POST
def source_rotate_key(request, name):
    source = services.visible_source(request.user, name)
    if not confirmed(request) and user_can(request.user, Action.CHANGE, source.organization):
        # A new key breaks the live connector: asked first — by the button's dialog, or without JavaScript on a
        # page of its own that posts again with the consent. Nothing changes meanwhile.
        return ask_first(
            request, button=_("Give the source a new key"), cancel_url=_source_settings_url(source),
            question=_("Give %(name)s a new key now? Its current key stops working at once: the SOC connector that "
                       "sends with it (its forwarder, NATS user or Logstash output) is refused and its alerts are lost "
                       "until the new key is pasted into it.") % {"name": source.name})
    try:
        key = services.do_rotate_source_key(source, acting_user=request.user)
    except Refused as exc:
        return _source_page(request, source, status=status_of(exc), error=exc.message)
    messages.success(request, _("“%(name)s” has a new key: the old one is refused from now on.") % {"name": source.name})
    return _show_key_once(request, source, key)


@login_required
@require_POST
def source_systems(request, name):
    source = services.visible_source(request.user, name)
    form = SourceSystemsForm(request.POST, source=source, user=request.user)
    if not form.is_valid():
        return _source_page(request, source, status=400, systems_form=form)
    try:
        services.do_set_source_systems(source, form.cleaned_data["systems"], acting_user=request.user)
    except Refused as exc:
        return _source_page(request, source, status=status_of(exc), error=exc.message)
    messages.success(request, _("Systems watched by “%(name)s” saved.") % {"name": source.name})
    return redirect("telemetry:source", name=source.name)


@login_required
@require_POST
def source_lift_suppression(request, name, pk):
    source = services.visible_source(request.user, name)
    suppression = get_object_or_404(AlertSuppression.objects.filter(source=source), pk=pk)
    try:
        triage.do_lift_suppression(suppression, acting_user=request.user)
    except Refused as exc:
        return _source_page(request, source, status=status_of(exc), error=exc.message)
    messages.success(request, _("Suppression lifted: new alerts of “%(rule)s” are shown again.")
                     % {"rule": suppression.rule_name or suppression.rule_id})
    return redirect(reverse("telemetry:source", args=[source.name]) + "#source-suppressions")


def reprocess_message(result: services.ReprocessResult) -> str:
    """What reading dead letters again did, in a sentence (the source's page)."""
    text = _("Read again: %(stored)d stored as new events, %(duplicates)d already stored, "
             "%(failing)d still unreadable (kept).") % result.as_dict()
    if result.cut:
        text += " " + _("%(cut)d kept shortened when they came cannot be read again.") % result.as_dict()
    if result.remaining:
        text += " " + _("%(remaining)d left: run it again.") % result.as_dict()
    return text


DEAD_LETTERS_PER_PAGE = 50


def _dead_letter_page(request, source, *, status=200, error=None):
    """A source's dead letters, newest first, DEAD_LETTERS_PER_PAGE a page, searched by reason (as stored, or as
    the reader reads it); each raw record whole, folded."""
    reason = (request.GET.get("reason") or "").strip()[:200]
    letters = services.dead_letters_with_reason(DeadLetter.objects.filter(source=source), reason)
    page = Paginator(letters.order_by("-received_at", "-id"), DEAD_LETTERS_PER_PAGE).get_page(request.GET.get("page"))
    return _render(request, "telemetry/dead_letter_list.html", {
        "source": source, "page": page, "reason": reason, "error": error,
        "dead_letter_count": DeadLetter.objects.filter(source=source).count(),
        "can_change": user_can(request.user, Action.CHANGE, source.organization),
    }, status=status)


def _ask_before_discarding(request, source, count: int, *, every: bool, from_list: bool):
    if every:
        question = ngettext("Delete all %(n)s dead letter of this source? It cannot be read again afterwards.",
                            "Delete all %(n)s dead letters of this source? They cannot be read again afterwards.",
                            count) % {"n": count}
        button = ngettext("Delete all %(n)s", "Delete all %(n)s", count) % {"n": count}
    else:
        question = ngettext("Delete the chosen dead letter? It cannot be read again afterwards.",
                            "Delete the %(n)s chosen dead letters? They cannot be read again afterwards.",
                            count) % {"n": count}
        button = _("Delete the chosen ones")
    if from_list:  # back to the list as it was (its search and page)
        cancel = reverse("telemetry:source_dead_letters", args=[source.name]) + (
            "?" + request.GET.urlencode() if request.GET else "")
    else:
        cancel = reverse("telemetry:source", args=[source.name]) + "#source-dead-letters"
    return ask_first(request, question=question, button=button, cancel_url=cancel)


@login_required
def source_dead_letters(request, name):
    """GET: the source's dead letters, paged (`_dead_letter_page`). POST, the buttons of that page and of the
    source's page: read the chosen ones, or all, again with the source's current settings; or delete the chosen
    ones, or all. Back to the page it was posted from."""
    source = services.visible_source(request.user, name)
    from_list = request.POST.get("back") == "list"
    if request.method != "POST":
        return _dead_letter_page(request, source)
    action = request.POST.get("action")
    ids = None if action in ("reprocess_all", "discard_all") else request.POST.getlist("ids")
    try:
        if action in ("discard", "discard_all") and not confirmed(request):
            # Deleted for good: asked first (also without JavaScript) — only whoever may, about a choice that can
            # be done (the service's refusals come before the question).
            count = services.dead_letters_to_discard(source, acting_user=request.user, ids=ids)
            if count:
                return _ask_before_discarding(request, source, count, every=ids is None, from_list=from_list)
        if action in ("discard", "discard_all"):
            deleted = services.do_discard_dead_letters(source, acting_user=request.user, ids=ids)
            messages.success(request, ngettext("%(n)d dead letter deleted.", "%(n)d dead letters deleted.",
                                               deleted) % {"n": deleted})
        elif action in ("reprocess", "reprocess_all"):
            result = services.do_reprocess_dead_letters(source, acting_user=request.user, ids=ids,
                                                        limit=conf.get("KHIEN_INGEST_FILE_MAX_BATCH"))
            messages.success(request, reprocess_message(result))
        else:
            raise Refused(_("Unknown action."), code="invalid")
    except Refused as exc:
        if from_list:
            return _dead_letter_page(request, source, status=status_of(exc), error=exc.message)
        return _source_page(request, source, status=status_of(exc), error=exc.message)
    if from_list:  # the list as it was (its search and page: the form posts to the page's own address)
        return redirect(reverse("telemetry:source_dead_letters", args=[source.name]) + "?" + request.GET.urlencode())
    return redirect(reverse("telemetry:source", args=[source.name]) + "#source-dead-letters")


INTEGRATIONS_DIR = Path(__file__).resolve().parent / "integrations"
# The connectors shipped with the platform (integrations/), downloadable by signed-in users: {path: content type}.
INTEGRATION_FILES = {
    "wazuh/custom-khien": "text/x-python; charset=utf-8",
    "syslog-ng/suricata-eve.conf": "text/plain; charset=utf-8",
    "syslog-ng/wazuh-alerts.conf": "text/plain; charset=utf-8",
    "syslog-ng/cef-relay.conf": "text/plain; charset=utf-8",
    "rsyslog/khien-elastic.conf": "text/plain; charset=utf-8",
    "rsyslog/khien-elastic-wazuh.conf": "text/plain; charset=utf-8",
    "rsyslog/khien-replay-errors.sh": "text/x-shellscript; charset=utf-8",
}


@login_required
def integration_file(request, name):
    """A connector (Wazuh integration script, syslog-ng configuration), downloaded from the platform itself
    (networks without Internet). Only the files listed in INTEGRATION_FILES are served."""
    if name not in INTEGRATION_FILES:
        raise Http404
    response = FileResponse((INTEGRATIONS_DIR / name).open("rb"), as_attachment=True, filename=Path(name).name,
                            content_type=INTEGRATION_FILES[name])
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Events (hunting) ------------------------------------------------------------------------------

EVENTS_PER_PAGE = 50
MAX_EVENT_PAGES = 2000
EVENT_SEARCH_DEFAULT_HOURS = 24


@login_required
def event_list(request):
    """The stored events the user may see, newest first, searched with the filters of `GET /api/telemetry/events/`
    (one FilterSet, `EventFilter`): address, domain, file hash, rule, category, severity, source, organization and
    time. Without a start, the last 24 hours: a search always reads a bounded part of the events. No total count
    (counting a day of national events costs more than the page): newer and older pages instead."""
    search = _event_search(request)
    # Deeper than MAX_EVENT_PAGES pages, a narrower time range is the way (and an offset stays a number the
    # database takes).
    number = min(max(1, _int(request.GET.get("page"), 1) or 1), MAX_EVENT_PAGES)
    start = (number - 1) * EVENTS_PER_PAGE
    events = page_rows(search.qs, start, EVENTS_PER_PAGE + 1) if search.is_valid() else []
    for event in events:
        event.raw_text = event.raw if isinstance(event.raw, str) else orjson.dumps(
            event.raw, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    pages = request.GET.copy()
    pages.pop("page", None)
    export = search.data.copy()  # with the start the page applied: the file holds what the page shows
    export.pop("page", None)
    shown = events[:EVENTS_PER_PAGE]
    return _render(request, "telemetry/event_list.html", {
        "form": search.form, "events": shown, "number": number, "first": start + 1, "last": start + len(shown),
        "has_next": len(events) > EVENTS_PER_PAGE, "query": pages.urlencode(), "export_query": export.urlencode(),
        "export_max": exports.MAX_EVENTS, "categories": event_category_choices(search.data.get("category")),
        "period": datetime_local_values(search.form, ("since", "until")),
        # The central agencies, then the provinces (`registry.places`): what the dashboard's place bars open.
        "provinces": [Place(code, name) for code, name in places.choices()],
        "sectors": Sector.objects.order_by("sort_order", "code"),
    }, status=400 if search.form.errors else 200)


def event_category_choices(current: str | None = None) -> list[tuple[str, str]]:
    """The events search's categories: those the normalizer writes (ECS), in words, by label; a value asked in
    the address that is not one of them (another tool's own category, as the API takes it) is kept, as it is."""
    choices = sorted(((value, str(label)) for value, label in EVENT_CATEGORY_LABELS.items()),
                     key=lambda choice: choice[1])
    current = (current or "").strip()
    if current and current not in EVENT_CATEGORY_LABELS:
        choices.append((current[:40], current[:40]))
    return choices


def _event_search(request) -> EventFilter:
    """The events search of the page and its export: the query's filters, the last 24 hours without a start."""
    query = request.GET.copy()
    query.pop("format", None)
    if not query.get("since"):
        query["since"] = (timezone.localtime() - dt.timedelta(hours=EVENT_SEARCH_DEFAULT_HOURS)).strftime(
            "%Y-%m-%dT%H:%M")
    search = EventFilter(query, request=request,
                         queryset=Event.objects.visible_to(request.user).select_related("source", "organization"))
    # A parameter the search does not take (`?q=brute`, a misspelt filter) is not read as no filter: the page
    # answers 400 naming it and the filters it takes, as the API does (core.api.strict).
    accepted = [*EventFilter.base_filters, *EVENT_PAGE_PARAMETERS]
    unknown = [name for name in request.GET if name not in accepted]
    if unknown:
        search.form.add_error(None, _("Unknown query parameter: %(names)s. Accepted: %(accepted)s.")
                              % {"names": ", ".join(unknown), "accepted": ", ".join(accepted)})
    return search


# What the events page and its export take besides the filters: the page number, and the file's format.
EVENT_PAGE_PARAMETERS = ("page", "format")


@login_required
def event_export(request):
    """The events of a search (the same filters as the page) as NDJSON or CSV, at most exports.MAX_EVENTS,
    newest first; streamed, and recorded in the audit log before it is sent."""
    fmt = request.GET.get("format", "ndjson")
    if fmt not in exports.FORMATS:
        raise Http404
    search = _event_search(request)
    if not search.is_valid():  # the page, with a 400, says what is wrong with the search
        return event_list(request)
    events = search.qs
    count = exports.count_for_export(events)
    exports.record_export(request.user, fmt, count, {key: search.data.getlist(key) for key in search.data})
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    lines = exports.ndjson_lines(events) if fmt == "ndjson" else exports.csv_lines(events)
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson" if fmt == "ndjson"
                                     else "text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="khien-events-{stamp}.{fmt}"'
    return response


# --- Campaigns -------------------------------------------------------------------------------------


@login_required
def campaign_list(request):
    if not is_national_coordinator(request.user):
        raise PermissionDenied(_("Only the national coordinator sees campaigns."))
    status = request.GET.get("status") or ""
    campaigns = Campaign.objects.visible_to(request.user)
    if status in CampaignStatus.values:
        campaigns = campaigns.filter(status=status)
    page = Paginator(campaigns.order_by(*correlation.RANKING), 50).get_page(request.GET.get("page"))
    for campaign in page:  # its severity in words with its number, "Critical (9)"
        campaign.severity_text, campaign.severity_band = (str(correlation.severity_text(campaign.severity)),
                                                          severity_label(campaign.severity))
    return render(request, "telemetry/campaign_list.html", {
        "page": page, "status": status, "statuses": CampaignStatus.choices})


CAMPAIGN_ALERTS_SHOWN = 20  # on the campaign's page; all of them in the alert list filtered by the campaign


# The decisions a coordinator reviews in a form first: the form, and what it starts from.
DECISION_FORMS = {"warn": ("warning", CampaignWarningForm, correlation.warning_form_initial),
                  "incident": ("incident", CampaignIncidentForm, correlation.incident_defaults)}


def _decision_forms(request, campaign, bound: dict | None = None) -> dict:
    """The forms of the decisions still open to the coordinator: a warning and an incident, each at most once."""
    if not is_national_coordinator(request.user) or campaign.status == CampaignStatus.DISMISSED:
        return {}
    bound = bound or {}
    return {f"{link}_form": bound.get(action) or form_class(initial=defaults(campaign, request.user))
            for action, (link, form_class, defaults) in DECISION_FORMS.items()
            if getattr(campaign, f"{link}_id") is None}


def _warning_indicators(user, campaign) -> list:
    """The latest versions of the indicators an early warning made from the campaign would name, in its order."""
    from khien.intel.search import latest_versions

    ids = correlation.warning_indicators(campaign, user)
    latest = latest_versions(user, ids)
    return [latest[i] for i in ids if i in latest]


def _campaign_context(request, campaign, bound_forms: dict | None = None):
    orgs = correlation.involved_organizations(campaign)  # their events (what the total adds up) and place
    alerts = correlation.campaign_alerts(campaign)
    forms = _decision_forms(request, campaign, bound_forms)
    # The same wave seen otherwise (an address and the rule that caught it): decided together, not twice.
    related = correlation.related_campaigns(campaign)
    offers = correlation.take_over_offers(campaign, related) if is_national_coordinator(request.user) else {}
    for other in related:
        other.take_over = offers.get(other.pk, [])
    return {"campaign": campaign, "organizations": orgs, "alert_count": alerts.count(), **forms, "related": related,
            "severity_text": str(correlation.severity_text(campaign.severity)),
            "severity_band": severity_label(campaign.severity),
            # What the warning will name, shown before it is sent (the coordinator sees what the recipients get).
            "warning_indicators": _warning_indicators(request.user, campaign) if "warning_form" in forms else [],
            "may_reopen": campaign.status == CampaignStatus.DISMISSED and is_national_coordinator(request.user),
            # Organizations the campaign reached after its warning was sent: the coordinator may send it to them too.
            "unwarned": correlation.unwarned_organizations(campaign)
            if is_national_coordinator(request.user) else [],
            # The organizations' own incidents about its alerts: here, not in the national incident's text, which
            # every organization it names reads.
            "related_incidents": correlation.related_incidents(campaign, request.user),
            "alerts": (alerts.select_related("source", "organization", "incident")
                       .order_by("-last_seen", "pk")[:CAMPAIGN_ALERTS_SHOWN]),
            "indicator_url": indicator_url(correlation.representative_indicator(campaign))
            if campaign.kind == "indicator" else "",
            "indicator_kind": indicator_kind_label(campaign.indicator_kind) if campaign.kind == "indicator" else ""}


def _visible_campaign(request, pk) -> Campaign:
    try:
        return get_object_or_404(Campaign.objects.visible_to(request.user), pk=uuid.UUID(str(pk)))
    except ValueError:
        raise Http404


@login_required
def campaign_detail(request, pk):
    campaign = _visible_campaign(request, pk)
    return render(request, "telemetry/campaign_detail.html", _campaign_context(request, campaign))


def _incident_opened(campaign) -> str:
    joined = Alert.objects.filter(incident=campaign.incident_id).count()
    return ngettext("Incident %(reference)s opened; %(n)d alert of the campaign joined it.",
                    "Incident %(reference)s opened; %(n)d alerts of the campaign joined it.", joined) % {
        "reference": campaign.incident.reference, "n": joined}


# Each decision: its service, and the message it leaves (from the campaign as the service returns it).
ACTIONS = {
    "warn": (correlation.do_campaign_to_warning, lambda campaign: ngettext(
        "Early warning issued to %(n)d organization.", "Early warning issued to %(n)d organizations.",
        campaign.warning.targets.count()) % {"n": campaign.warning.targets.count()}),
    "incident": (correlation.do_campaign_to_incident, _incident_opened),
    "dismiss": (correlation.do_dismiss_campaign, lambda campaign: _("Campaign dismissed.")),
    "reopen": (correlation.do_reopen_campaign, lambda campaign: _("Campaign reopened.")),
    "take_over": (correlation.do_take_over_related,
                  lambda campaign: _("The campaign now shares the related campaign's decision.")),
}


@login_required
@require_POST
def campaign_action(request, pk, action):
    campaign = _visible_campaign(request, pk)
    if action not in ACTIONS:
        raise Http404
    service, message = ACTIONS[action]
    kwargs = ({"reason": request.POST.get("reason", "")} if action == "dismiss"
              else {"related": request.POST.get("related", "")} if action == "take_over" else {})
    form = None
    if action in DECISION_FORMS and any(name in request.POST for name in DECISION_FORMS[action][1].base_fields):
        form = DECISION_FORMS[action][1](request.POST)
        if not form.is_valid():
            return render(request, "telemetry/campaign_detail.html",
                          _campaign_context(request, campaign, {action: form}), status=400)
        kwargs["data"] = form.cleaned_data
    if (action == "dismiss" and not confirmed(request) and is_national_coordinator(request.user)
            and campaign.status == CampaignStatus.OPEN):
        # It leaves the campaigns to decide: asked first, also without JavaScript. Whoever may not decide, or a
        # campaign already decided, gets the service's refusal instead of the question.
        return ask_first(request, button=_("Dismiss the campaign"),
                         question=_("Dismiss this campaign? It leaves the list of campaigns to decide; it can be "
                                    "reopened."), cancel_url=reverse("telemetry:campaign", args=[campaign.pk]))
    # A campaign already warned: "warn" sends that warning to the organizations it has not reached yet.
    reached_before = campaign.warning.targets.count() if action == "warn" and campaign.warning_id else None
    try:
        decided = service(campaign, acting_user=request.user, **kwargs)
    except (Refused, ValidationError) as exc:
        if form is not None:  # the form again, as filled in, with what the service refused (a past deadline)
            add_service_error(form, exc)
            return render(request, "telemetry/campaign_detail.html",
                          _campaign_context(request, _visible_campaign(request, pk), {action: form}),
                          status=status_of(exc))
        context = _campaign_context(request, campaign)
        context["error"] = exc.message if isinstance(exc, Refused) else " ".join(exc.messages)
        return render(request, "telemetry/campaign_detail.html", context, status=status_of(exc))
    if reached_before is not None:
        added = decided.warning.targets.count() - reached_before
        messages.success(request, ngettext("The early warning was also sent to %(n)d organization.",
                                           "The early warning was also sent to %(n)d organizations.", added) % {"n": added})
    else:
        messages.success(request, message(decided))
    return redirect("telemetry:campaign", pk=campaign.pk)
