"""Source health: is each source still sending, at what rate, and is each level-3+ system still watched?

A source is `live` when its last accepted record (`last_event_at`) arrived within
KHIEN_SOURCE_SILENT_SECONDS; `rejecting` when it is not live and the records it
sent since its last accepted one (all it ever sent, if none was accepted) were all
refused as dead letters (a wrong format, a device clock not set: the connection
works, what it sends does not: `refused_since_last_accepted_q`, the one rule, which
the notification reads too); `silent` when it has accepted records before, none
within that time, and had none refused since; `never` when it has sent nothing at all;
`disabled` when switched off. Its rate comes from `SourceHourlyCount` (records per
hour of arrival, one upsert per ingested batch). A system of level 3 or above (the
level from which the 4-layer model asks for a connection to national
monitoring; its approved level, else the proposed one: the registry's
`level_at_least_q`) and in operation (`registry.stats.held_to_national_monitoring_q`, the rule the home page
counts by too: planned, suspended and retired systems are left out) is `connected` when at
least one enabled source watching it is live, `rejecting` when none is live and at
least one of them is rejecting (it sends, but nothing is stored: its dead letters
say why), `disconnected` (lost) when its
sources did send but all have been silent longer than the threshold,
`never_sent` when it has enabled sources none of which ever sent anything (a
connection never made, not one lost), and `no_source` when no enabled source
watches it. The sources page, the dashboard's figures and the coordinator's
notification all count "lost" by this one rule (`_with_monitoring`).

`notify_source_health` (the `telemetry.source_health` job) tells an
organization once when one of its sources falls silent (or now sends only refused
records) — with the level-3+ systems that this disconnects — and once when it
sends again; the national coordinator gets one message per run listing the newly
disconnected systems.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import BooleanField, Case, CharField, Count, Exists, F, Max, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy, ngettext_lazy

from khien.core import notifications
from khien.core.roles import Role
from khien.core.texts import Text, shown_time
from khien.registry.models import MONITORED_LEVEL, InformationSystem, level_at_least_q
from khien.registry.services import national_coordinators
from khien.registry.stats import connection_figure, held_to_national_monitoring_q

from . import conf
from .models import AlertSource, DeadLetter, SourceHourlyCount, hour_start

ACTIVITY_HOURS = 24  # the hours of arrival shown for each source (a sparkline on the sources page)
LISTED = 20  # systems named in one notification; the rest are counted


class Monitoring:
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # lost: its sources sent, then fell silent
    REJECTING = "rejecting"  # its sources send, but only records refused as dead letters: nothing is stored
    NEVER_SENT = "never_sent"  # its sources are registered but none has sent anything yet
    NO_SOURCE = "no_source"
    STATES = (CONNECTED, DISCONNECTED, REJECTING, NEVER_SENT, NO_SOURCE)
    LABELS = {CONNECTED: gettext_lazy("Connected"), DISCONNECTED: gettext_lazy("Disconnected"),
              REJECTING: gettext_lazy("Only refused records"),
              NEVER_SENT: gettext_lazy("Never sent"), NO_SOURCE: gettext_lazy("No source")}
    # The systems a coordinator follows up: lost, sending only refused records, never connected, or with no source
    # at all (the dashboard's figure).
    NOT_CONNECTED = "not_connected"
    NOT_CONNECTED_STATES = (DISCONNECTED, REJECTING, NEVER_SENT, NO_SOURCE)
    # A level-3+ system not connected right now: a gap of the 4-layer model beside the declared layer 4.
    GAP_LABELS = {DISCONNECTED: gettext_lazy("Monitoring sources silent: disconnected from national monitoring "
                                             "(layer 4)"),
                  REJECTING: gettext_lazy("Its alert sources send only records that are refused (see their dead "
                                          "letters): not connected to national monitoring (layer 4)"),
                  NEVER_SENT: gettext_lazy("Alert sources registered, but none has sent anything yet: not connected "
                                           "to national monitoring (layer 4)"),
                  NO_SOURCE: gettext_lazy("Declared connected, but no alert source sends this system's alerts to "
                                          "national monitoring (layer 4)")}


# The dashboard's "not sending" figure: nothing stored from them lately — silent, sending only refused records, or
# never sent at all.
NOT_SENDING = ("silent", "rejecting", "never")
SOURCE_STATUS_LABELS = {"live": gettext_lazy("Live"), "silent": gettext_lazy("Silent"),
                        "rejecting": gettext_lazy("Sends only refused records"),
                        "never": gettext_lazy("Never sent"), "disabled": gettext_lazy("Disabled")}


def silent_before(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(seconds=conf.get("KHIEN_SOURCE_SILENT_SECONDS"))


def refused_since_last_accepted_q() -> Q:
    """The one rule of a source "sending only refused records" (on AlertSource; nestable in a subquery): records
    of it were refused after its last accepted one — or, if it never had one accepted, it had records refused at
    all. "After" is read from the hours of arrival (`SourceHourlyCount`: refusals counted in an hour that began after
    the last accepted record) and the dead letters (one kept after it): refusals in the same batch as the last
    accepted record, or in its hour before it, do not count — the source sent something good since. A record
    already stored, sent again (a duplicate), is no refusal: it is not counted as refused. The status
    (`source_status`: a source not live) and the organization's notification read this rule."""
    after_last = Q(Exists(SourceHourlyCount.objects.filter(source=OuterRef("pk"), rejected__gt=0,
                                                           hour__gt=OuterRef("last_event_at")))) \
        | Q(Exists(DeadLetter.objects.filter(source=OuterRef("pk"), received_at__gt=OuterRef("last_event_at"))))
    return Q(last_event_at__isnull=True, rejected__gt=0) | (Q(last_event_at__isnull=False) & after_last)


def _live_q(now) -> Q:
    return Q(last_event_at__gte=silent_before(now))


def _rejecting_q(now) -> Q:
    return Q(enabled=True) & ~_live_q(now) & refused_since_last_accepted_q()


def with_refusing(queryset):
    """Sources annotated with `refusing` (`refused_since_last_accepted_q`), which `source_status` then reads
    instead of asking the database once per source (a list, the API's, the CLI's)."""
    return queryset.annotate(refusing=Case(When(refused_since_last_accepted_q(), then=Value(True)),
                                           default=Value(False), output_field=BooleanField()))


def refusing_sources(source_ids) -> set:
    """The ids among `source_ids` of the sources whose records since their last accepted one were all refused
    (one query)."""
    return set(AlertSource.objects.filter(pk__in=list(source_ids)).filter(refused_since_last_accepted_q())
               .values_list("pk", flat=True))


def source_status(source, now: dt.datetime | None = None) -> str:
    """live, rejecting, silent, never or disabled (the module's rules). A source not annotated by `with_refusing`
    (nor given `refusing` by `with_health`) costs one query when it is neither disabled nor live."""
    if not source.enabled:
        return "disabled"
    if source.last_event_at is not None and source.last_event_at >= silent_before(now):
        return "live"
    refusing = getattr(source, "refusing", None)
    if refusing is None:
        refusing = source.pk in refusing_sources([source.pk])
    if refusing:
        return "rejecting"
    return "never" if source.last_event_at is None else "silent"


def sources_in_status(queryset, status: str, now: dt.datetime | None = None):
    """The sources of `queryset` whose `source_status` is `status` (the same rule, as a query: the API's filter)."""
    live, rejecting = _live_q(now), _rejecting_q(now)
    return queryset.filter({"disabled": Q(enabled=False),
                            "rejecting": rejecting,
                            "never": Q(enabled=True, last_event_at__isnull=True) & ~rejecting,
                            "live": Q(enabled=True) & live,
                            "silent": Q(enabled=True, last_event_at__isnull=False) & ~live & ~rejecting}[status])


# --- Rates -----------------------------------------------------------------------------------------


@dataclass
class Activity:
    """What a source sent lately: accepted records per hour of arrival (oldest first, the current hour last)."""

    hourly: list[int] = field(default_factory=lambda: [0] * ACTIVITY_HOURS)
    rejected_24h: int = 0
    per_minute: float = 0.0

    @property
    def accepted_24h(self) -> int:
        return sum(self.hourly)

    def as_dict(self) -> dict:
        return {"per_minute": self.per_minute, "accepted_24h": self.accepted_24h, "rejected_24h": self.rejected_24h,
                "hourly": self.hourly}


def source_activity(source_ids, now: dt.datetime | None = None) -> dict:
    """{source id: Activity} for the given sources (one query). The rate per minute is taken over the previous
    hour and the current one so far: a steady source shows its rate from the first minute of an hour on."""
    now = now or timezone.now()
    current = hour_start(now)
    first = current - dt.timedelta(hours=ACTIVITY_HOURS - 1)
    activity = {pk: Activity() for pk in source_ids}
    rows = (SourceHourlyCount.objects.filter(source_id__in=list(activity), hour__gte=first, hour__lte=current)
            .values_list("source_id", "hour", "accepted", "rejected"))
    window_minutes = 60 + (now - current).total_seconds() / 60
    for source_id, hour, accepted, rejected in rows:
        one = activity[source_id]
        index = ACTIVITY_HOURS - 1 - int((current - hour).total_seconds() // 3600)
        one.hourly[index] += accepted
        one.rejected_24h += rejected
    for one in activity.values():
        one.per_minute = round((one.hourly[-1] + one.hourly[-2]) / window_minutes, 2)
    return activity


def with_health(sources: list, now: dt.datetime | None = None) -> list:
    """The sources given, each with `status`, `status_label` and `activity` set, for a page (one query)."""
    now = now or timezone.now()
    activity = source_activity([source.pk for source in sources], now)
    cutoff = silent_before(now)
    maybe_refusing = [s.pk for s in sources if s.enabled and not (s.last_event_at and s.last_event_at >= cutoff)]
    refusing = refusing_sources(maybe_refusing) if maybe_refusing else set()
    for source in sources:
        source.refusing = source.pk in refusing
        source.status = source_status(source, now)
        source.status_label = SOURCE_STATUS_LABELS[source.status]
        source.activity = activity[source.pk]
    return sources


# --- Systems ---------------------------------------------------------------------------------------


def _with_monitoring(queryset, now: dt.datetime | None):
    """Systems annotated with `monitoring`, `monitor_sources` (enabled sources watching them) and
    `monitor_last_event` (the latest event time among those): the one rule for a system's monitoring state. A
    system whose sources never sent anything is `never_sent`, not lost (`disconnected`): nothing was lost; one
    with no live source but a source sending only refused records (`source_status` "rejecting") is `rejecting`:
    the connection works, what it sends is refused."""
    enabled = Q(alert_sources__enabled=True)
    rejecting = Exists(AlertSource.objects.filter(systems=OuterRef("pk")).filter(_rejecting_q(now)))
    return (
        queryset
        .annotate(monitor_sources=Count("alert_sources", filter=enabled, distinct=True),
                  monitor_last_event=Max("alert_sources__last_event_at", filter=enabled))
        .annotate(monitoring=Case(
            When(monitor_sources=0, then=Value(Monitoring.NO_SOURCE)),
            When(monitor_last_event__gte=silent_before(now), then=Value(Monitoring.CONNECTED)),
            When(rejecting, then=Value(Monitoring.REJECTING)),
            When(monitor_last_event__isnull=True, then=Value(Monitoring.NEVER_SENT)),
            default=Value(Monitoring.DISCONNECTED),
            output_field=CharField(),
        ))
    )


def monitored_systems(user, *, now: dt.datetime | None = None, min_level: int = MONITORED_LEVEL):
    """The level-`min_level`+ systems in operation `user` can see (`held_to_national_monitoring_q`, the home page's
    rule too: a system planned, suspended or retired has nothing to send), with their monitoring state
    (`_with_monitoring`) and `monitored_level`, the level they are held to (approved, else proposed)."""
    return _with_monitoring(InformationSystem.objects.visible_to(user)
                            .filter(held_to_national_monitoring_q(min_level)), now) \
        .annotate(monitored_level=Coalesce("approved_level", "proposed_level")).select_related("owner")


def live_connection(user, now: dt.datetime | None = None) -> dict:
    """The dashboard's "X / Y connected (Z %)": of the level-3+ systems in operation `user` can see, those with a
    live source (`Monitoring.CONNECTED`); in the shape of the home page's declared figure (`connection_figure`)."""
    rows = list(monitored_systems(user, now=now).values_list("monitoring", "approved_level"))
    return connection_figure(total=len(rows), connected=sum(1 for state, _l in rows if state == Monitoring.CONNECTED),
                             approved=sum(1 for _s, level in rows if (level or 0) >= MONITORED_LEVEL))


@dataclass
class SourceCall:
    """One call for the duty officer: a source (its organization carries the contacts) and the level-3+ systems it
    leaves without live monitoring. `source` is None for systems whose sources the reader may not see."""

    source: AlertSource | None
    systems: list = field(default_factory=list)

    @property
    def highest_level(self) -> int:
        return max((s.monitored_level or 0 for s in self.systems), default=0)


def calls_by_source(user, state: str, now: dt.datetime | None = None) -> list[SourceCall]:
    """The level-3+ systems `user` can see in `state` (lost, sending only refused records, or never sent), grouped
    by the enabled source watching them: one call per source — for `rejecting`, only the sources sending refused
    records (their format or clock is what to fix). The most serious call first: the highest level, then the most
    systems, then the longest silence. A system watched by two such sources is under both (either call restores
    it)."""
    systems = {s.pk: s for s in monitored_systems(user, now=now).filter(monitoring=state).order_by("code")}
    if not systems:
        return []
    watching = AlertSource.objects.visible_to(user).filter(enabled=True)
    if state == Monitoring.REJECTING:
        watching = watching.filter(_rejecting_q(now))
    sources = {src.pk: src for src in watching
               .filter(pk__in=AlertSource.systems.through.objects.filter(informationsystem_id__in=list(systems))
                       .values("alertsource_id"))
               .select_related("organization")}
    calls = {pk: SourceCall(source) for pk, source in sources.items()}
    placed = set()
    for source_id, system_id in (AlertSource.systems.through.objects
                                 .filter(alertsource_id__in=list(sources), informationsystem_id__in=list(systems))
                                 .order_by("informationsystem__code").values_list("alertsource_id",
                                                                                  "informationsystem_id")):
        calls[source_id].systems.append(systems[system_id])
        placed.add(system_id)
    found = [call for call in calls.values() if call.systems]
    found.sort(key=lambda c: (-c.highest_level, -len(c.systems),
                              c.source.last_event_at or dt.datetime.max.replace(tzinfo=dt.timezone.utc),
                              c.source.name))
    unseen = [s for pk, s in systems.items() if pk not in placed]
    if unseen:
        found.append(SourceCall(None, unseen))
    return found


def monitoring_of_systems(system_ids, now: dt.datetime | None = None) -> dict:
    """{system id: (state, last event time)} for systems that are watched or of level 3+ (one query): what the
    registry's pages show next to the declared layer 4."""
    rows = (_with_monitoring(InformationSystem.objects.filter(pk__in=list(system_ids)), now)
            .filter(level_at_least_q() | Q(monitor_sources__gt=0))
            .values_list("pk", "monitoring", "monitor_last_event"))
    return {pk: (state, last) for pk, state, last in rows}


def system_monitoring(system, user, now: dt.datetime | None = None) -> dict | None:
    """The live layer-4 state of one system for its page: state, last event, whether it is a gap (level 3+ and
    not connected), and the sources watching it that `user` may see, with their status and rate."""
    now = now or timezone.now()
    state = monitoring_of_systems([system.pk], now).get(system.pk)
    if state is None:
        return None
    sources = with_health(list(AlertSource.objects.visible_to(user).filter(systems=system)
                               .select_related("organization").order_by("name")), now)
    return {"state": state[0], "last_event_at": state[1], "sources": sources, "gap": _is_gap(system, state[0])}


def _is_gap(system, state: str) -> bool:
    """A level-3+ system whose sources are silent (or send only refused records); or one declared connected (layer
    4 in place) that no source watches. Declared missing and unwatched is already the registry's own layer-4 gap."""
    if not system.held_to_national_monitoring:
        return False
    declared_connected = system.connected_to_national_monitoring
    return state in (Monitoring.DISCONNECTED, Monitoring.REJECTING, Monitoring.NEVER_SENT) or (
        state == Monitoring.NO_SOURCE and declared_connected)


# --- Notifications ---------------------------------------------------------------------------------


def _disconnected_systems(source_ids, now) -> dict:
    """{source id: [systems]} of the level-3+ systems in operation watched by these sources that are now
    disconnected — lost, or their sources sending only refused records (the dashboard's rule:
    `held_to_national_monitoring_q`)."""
    systems = (_with_monitoring(InformationSystem.objects.filter(held_to_national_monitoring_q(),
                                                                 alert_sources__in=list(source_ids))
                                .distinct(), now)
               .filter(monitoring__in=(Monitoring.DISCONNECTED, Monitoring.REJECTING)).select_related("owner")
               .order_by("code"))
    by_id = {s.pk: s for s in systems}
    watched = defaultdict(list)
    for source_id, system_id in AlertSource.systems.through.objects.filter(
            alertsource_id__in=list(source_ids), informationsystem_id__in=list(by_id)).values_list(
            "alertsource_id", "informationsystem_id"):
        watched[source_id].append(by_id[system_id])
    return watched


def _system_lines(systems) -> list[str]:
    lines = [Text(gettext_lazy("%(owner)s: %(code)s — %(name)s (level %(level)d)"), {
        "owner": s.owner.code, "code": s.code, "name": s.name, "level": s.effective_level}) for s in systems[:LISTED]]
    if len(systems) > LISTED:
        lines.append(Text(gettext_lazy("… and %(n)d more systems"), {"n": len(systems) - LISTED}))
    return lines


def _when(value) -> str:
    return shown_time(value) if value else "—"


def _sources_notice(gone, back, systems, refusing=frozenset()) -> tuple[Text, Text]:
    """What an organization is told of its sources newly silent (`gone`, with the level-3+ `systems` this
    disconnects; those of `refusing` still send, but only records refused as dead letters) or sending again
    (`back`), read in each reader's language."""
    lines = [Text(gettext_lazy("Only refused records since %(when)s: %(name)s (see its dead letters)")
                  if s.pk in refusing else gettext_lazy("Silent since %(when)s: %(name)s"),
                  {"when": _when(s.last_event_at), "name": s.name}) for s in gone]
    if systems:
        lines.append(Text(gettext_lazy("Level 3+ systems now disconnected from national monitoring:")))
        lines += _system_lines(systems)
    lines += [Text(gettext_lazy("Sending again: %(name)s"), {"name": s.name}) for s in back]
    if gone:
        title = Text(ngettext_lazy("%(n)d alert source stopped sending", "%(n)d alert sources stopped sending",
                                   len(gone)), {"n": len(gone)})
    else:
        title = Text(ngettext_lazy("%(n)d alert source is sending again", "%(n)d alert sources are sending again",
                                   len(back)), {"n": len(back)})
    return title, notifications.lines(*lines)


def _disconnected_notice(systems) -> tuple[Text, Text]:
    """What the national coordinator is told of level-3+ systems newly disconnected, read in their language."""
    title = Text(ngettext_lazy("%(n)d level 3+ system disconnected from national monitoring",
                               "%(n)d level 3+ systems disconnected from national monitoring", len(systems)),
                 {"n": len(systems)})
    return title, notifications.lines(*_system_lines(systems))


def notify_source_health(now: dt.datetime | None = None) -> str:
    """Tell organizations about sources newly silent (once per silence) or sending again, and the national
    coordinator about level-3+ systems newly disconnected. Returns a summary for the job log."""
    now = now or timezone.now()
    cutoff = silent_before(now)
    url = reverse("telemetry:sources")
    with transaction.atomic():
        enabled = AlertSource.objects.select_for_update(skip_locked=True, of=("self",)).filter(enabled=True)
        # Silent, and not yet told for this silence (told before the last event = an earlier silence).
        silent = list(enabled.filter(last_event_at__lt=cutoff)
                      .filter(Q(silence_notified_at__isnull=True) | Q(silence_notified_at__lt=F("last_event_at")))
                      .select_related("organization").order_by("name"))
        resumed = list(enabled.filter(last_event_at__gte=cutoff, silence_notified_at__isnull=False,
                                      silence_notified_at__lt=F("last_event_at"))
                       .select_related("organization").order_by("name"))
        if not silent and not resumed:
            return "0 sources changed"
        cut = _disconnected_systems([s.pk for s in silent], now) if silent else {}
        # A source whose records since its last accepted one all became dead letters (a wrong format, a device
        # clock never set) stores nothing, but its operators need to hear that it sends, and what to look at: the
        # rule of its status "rejecting" (`refused_since_last_accepted_q`; a resent, already stored record is no
        # refusal).
        refusing = refusing_sources([s.pk for s in silent]) if silent else set()
        per_org = defaultdict(lambda: ([], []))
        for source in silent:
            per_org[source.organization][0].append(source)
        for source in resumed:
            per_org[source.organization][1].append(source)
        sent = 0
        for organization, (gone, back) in per_org.items():
            systems = sorted({sys for s in gone for sys in cut.get(s.pk, [])}, key=lambda sys: sys.code)
            title, body = _sources_notice(gone, back, systems, refusing)
            sent += notifications.notify([organization], kind="telemetry.source_health", url=url,
                                         urgent=bool(systems), roles=[Role.ORG_ADMIN, Role.ORG_ANALYST], title=title,
                                         body=body)
        national = sorted({sys for systems in cut.values() for sys in systems}, key=lambda sys: sys.code)
        if national:
            title, body = _disconnected_notice(national)
            sent += notifications.notify(national_coordinators(), kind="telemetry.source_health",
                                         url=reverse("telemetry:sources") + "#monitoring", title=title, body=body)
        AlertSource.objects.filter(pk__in=[s.pk for s in silent]).update(silence_notified_at=now)
        AlertSource.objects.filter(pk__in=[s.pk for s in resumed]).update(silence_notified_at=None)
    return f"{len(silent)} sources silent, {len(resumed)} sending again, {sent} notifications"
