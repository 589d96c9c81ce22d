"""The one place that computes incident deadlines: reporting stages and response SLAs.

Everything here is a pure function of times and of the reporting policy's data
(the `data` of a `ReportingPolicy`, i.e. `data/reporting.yaml`), so that the
boundaries are easy to test: a stage given exactly at its due time is on
time; one second later is late. Times are timezone-aware; calendar months are
counted in the platform's time zone (Vietnam has no daylight saving time, so a
local month is well defined), everything else is plain elapsed time.

UI, API, statistics and notifications ask here; nothing else adds 24 hours.
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from django.utils import timezone


def _aware(value: dt.datetime) -> dt.datetime:
    if value is None or timezone.is_naive(value):
        raise ValueError("deadlines need timezone-aware datetimes")
    return value


def add_delay(start: dt.datetime, *, hours: float = 0, days: float = 0, months: int = 0) -> dt.datetime:
    """`start` plus a delay; months are calendar months in the platform time zone (31 Jan + 1 = end of Feb)."""
    _aware(start)
    result = start
    if months:
        local = timezone.localtime(start)
        month_index = local.month - 1 + int(months)
        year, month = local.year + month_index // 12, month_index % 12 + 1
        day = min(local.day, calendar.monthrange(year, month)[1])
        result = local.replace(year=year, month=month, day=day).astimezone(dt.timezone.utc)
    return result + dt.timedelta(hours=hours, days=days)


def is_late(done_at: dt.datetime | None, due_at: dt.datetime | None) -> bool | None:
    """True when something was done after its due time; None while it is not done (or has no due time)."""
    if done_at is None or due_at is None:
        return None
    return _aware(done_at) > _aware(due_at)


def is_overdue(due_at: dt.datetime | None, done_at: dt.datetime | None = None, now: dt.datetime | None = None) -> bool:
    """Was (or is) the deadline missed? Done: done after due. Not done: `now` is past due."""
    if due_at is None:
        return False
    if done_at is not None:
        return _aware(done_at) > _aware(due_at)
    return _aware(now or timezone.now()) > _aware(due_at)


# --- Reporting stages ----------------------------------------------------------------


@dataclass(frozen=True)
class StageDeadline:
    code: str
    name_vi: str
    name_en: str
    due_at: dt.datetime | None  # None while the time it counts from is not known yet
    given_at: dt.datetime | None
    required_fields: tuple[str, ...]

    @property
    def late(self) -> bool | None:
        return is_late(self.given_at, self.due_at)

    def overdue(self, now: dt.datetime | None = None) -> bool:
        return is_overdue(self.due_at, self.given_at, now)


def _initial_stage(policy_data: dict) -> dict:
    return policy_data["stages"][0]


def stage_due_at(stage: dict, times: dict[str, dt.datetime | None]) -> dt.datetime | None:
    """Due time of one stage from the incident's times (detected_at, reported_at, notified_at, …)."""
    due = stage["due"]
    start = times.get(due["from"])
    if start is None:
        return None
    return add_delay(start, hours=due.get("hours", 0), days=due.get("days", 0), months=due.get("months", 0))


def initial_report_hours(policy_data: dict) -> float | None:
    """How many hours after detection the initial report is due (24 under the 2026 policy), for the texts that
    say it (the report form, its help); None when the policy does not count it in hours from detection."""
    due = _initial_stage(policy_data)["due"]
    if due.get("from") != "detected_at" or due.get("months"):
        return None
    hours = due.get("hours", 0) + 24 * due.get("days", 0)
    return int(hours) if float(hours).is_integer() else hours


def report_due_at(detected_at: dt.datetime, policy_data: dict) -> dt.datetime:
    """When the initial report is due (24 hours after detection under the 2026 policy)."""
    return stage_due_at(_initial_stage(policy_data), {"detected_at": _aware(detected_at)})


def incident_times(incident) -> dict[str, dt.datetime | None]:
    return {
        "detected_at": incident.detected_at,
        "reported_at": incident.reported_at,
        "notified_at": incident.notified_at,
        "final_report_at": incident.final_report_at,
    }


def schedule(times: dict[str, dt.datetime | None], policy_data: dict) -> list[StageDeadline]:
    """Every reporting stage with its due time and when it was given."""
    return [
        StageDeadline(
            code=stage["code"],
            name_vi=stage.get("name_vi", ""),
            name_en=stage.get("name_en", ""),
            due_at=stage_due_at(stage, times),
            given_at=times.get(stage["given_field"]),
            required_fields=tuple(stage.get("required_fields", ())),
        )
        for stage in policy_data["stages"]
    ]


def next_stage(times: dict[str, dt.datetime | None], policy_data: dict) -> StageDeadline | None:
    """The first stage not given yet (None once every stage is given)."""
    return next((s for s in schedule(times, policy_data) if s.given_at is None), None)


# Incident-level shortcuts: the incident keeps the policy version it was reported under.

def incident_report_due_at(incident) -> dt.datetime:
    return report_due_at(incident.detected_at, incident.policy.data)


def reported_late(incident) -> bool:
    """True when the initial report reached the platform after its due time."""
    return bool(is_late(incident.reported_at, incident_report_due_at(incident)))


def incident_schedule(incident) -> list[StageDeadline]:
    return schedule(incident_times(incident), incident.policy.data)


def incident_next_stage(incident) -> StageDeadline | None:
    return next_stage(incident_times(incident), incident.policy.data)


# --- The next deadline of an incident (the list's column) -----------------------------


@dataclass(frozen=True)
class PendingDeadline:
    kind: str  # "stage" (a report stage) or "sla" (a response SLA)
    code: str  # the stage code, or the SLA measure ("triage", "contain")
    due_at: dt.datetime


def incident_pending(incident) -> list[PendingDeadline]:
    """The deadlines an incident still has to meet, soonest first: its next report stage (once its due time is
    known), triage while not triaged, containment while not contained nor resolved. A closed incident has none."""
    if incident.status == "closed":
        return []
    pending = []
    stage = incident_next_stage(incident)
    if stage is not None and stage.due_at is not None:
        pending.append(PendingDeadline("stage", stage.code, stage.due_at))
    if incident.triaged_at is None:
        pending.append(PendingDeadline("sla", "triage", incident_sla_due_at(incident, "triage")))
    if incident.contained_at is None and incident.resolved_at is None:
        pending.append(PendingDeadline("sla", "contain", incident_sla_due_at(incident, "contain")))
    return sorted(pending, key=lambda d: d.due_at)


def incident_next_deadline(incident) -> PendingDeadline | None:
    pending = incident_pending(incident)
    return pending[0] if pending else None


def past_a_deadline(incident, now: dt.datetime) -> bool:
    """Is a deadline the incident still has to meet already past at `now` (a report stage overdue, triage or
    containment not done past its SLA)? One met late is no longer pending: this is the work still waiting."""
    nxt = incident_next_deadline(incident)
    return nxt is not None and _aware(now) > nxt.due_at


def past_a_deadline_ids(queryset, now: dt.datetime) -> list:
    """The ids of the incidents of `queryset` that are `past_a_deadline` at `now` (the list's `overdue` filter and
    the home page's "To do" count). The stages' calendar months are not SQL: the open incidents are read with
    only the fields the deadlines need, their policy versions once."""
    from .models import ReportingPolicy, Status

    policies = ReportingPolicy.objects.in_bulk()
    found = []
    fields = ("pk", "policy_id", "status", "severity", "detected_at", "reported_at", "notified_at", "final_report_at",
              "triaged_at", "contained_at", "resolved_at")
    for incident in (queryset.exclude(status=Status.CLOSED).select_related(None).prefetch_related(None).only(*fields)
                     .order_by().iterator(chunk_size=2000)):
        incident.policy = policies[incident.policy_id]
        if past_a_deadline(incident, now):
            found.append(incident.pk)
    return found


# --- Task due times -------------------------------------------------------------------

# A task is work of the incident's response, so its due time lies inside that response: never before the incident
# reached the platform, and never further ahead than any response runs. The policy's own deadlines end within about
# a month (the final report, one calendar month after the detailed notification; the longest standard task and the
# longest containment SLA, 720 hours); a year leaves room for remediation work (replacing a system) and still
# catches a mistyped year (2076 for 2026).
TASK_DUE_MAX_AHEAD = dt.timedelta(days=365)
# A new task is planned work: due some hours ago is a task recorded after the fact, due days ago is a typing error.
TASK_DUE_PAST_GRACE = dt.timedelta(hours=24)


@dataclass(frozen=True)
class TaskDueBounds:
    earliest: dt.datetime  # never before the incident's report
    latest: dt.datetime


def task_due_bounds(incident, now: dt.datetime, *, new: bool) -> TaskDueBounds:
    """The range a task's due time may take when it is set at `now` (`new`: the task is being created)."""
    earliest = _aware(incident.reported_at)
    if new:
        earliest = max(earliest, _aware(now) - TASK_DUE_PAST_GRACE)
    return TaskDueBounds(earliest=earliest, latest=_aware(now) + TASK_DUE_MAX_AHEAD)


# --- Response SLAs per severity -------------------------------------------------------

SLA_MEASURES = ("triage", "contain")


def severity_sla(severity: str, policy_data: dict) -> dict:
    for sev in policy_data["severities"]:
        if sev["code"] == severity:
            return sev["sla"]
    raise KeyError(f"unknown severity {severity!r}")


def sla_due_at(severity: str, measure: str, reported_at: dt.datetime, policy_data: dict) -> dt.datetime:
    """When the incident must be triaged / contained, counted from the report (`measure` in SLA_MEASURES)."""
    if measure not in SLA_MEASURES:
        raise ValueError(f"unknown SLA measure {measure!r}")
    return add_delay(_aware(reported_at), hours=severity_sla(severity, policy_data)[f"{measure}_hours"])


def incident_sla_due_at(incident, measure: str) -> dt.datetime:
    return sla_due_at(incident.severity, measure, incident.reported_at, incident.policy.data)


def sla_overdue(incident, measure: str, now: dt.datetime | None = None) -> bool:
    """Triage / containment SLA missed (done late, or not done and past due at `now`)."""
    done_at = incident.triaged_at if measure == "triage" else incident.contained_at
    return is_overdue(incident_sla_due_at(incident, measure), done_at, now)


# --- The same SLA due times in SQL (lists, escalation, statistics) ----------------------


def annotate_sla_due(queryset):
    """Add `triage_due_at` and `contain_due_at` to an Incident queryset, computed in the database.

    Mirror of `incident_sla_due_at` for every (policy version, severity) pair;
    a test checks the two agree on SQLite and PostgreSQL.
    """
    from django.db.models import Case, DateTimeField, ExpressionWrapper, F, Value, When

    from .models import ReportingPolicy

    whens: dict[str, list] = {measure: [] for measure in SLA_MEASURES}
    for policy_id, data in ReportingPolicy.objects.values_list("pk", "data"):
        for sev in data.get("severities", []):
            for measure in SLA_MEASURES:
                delay = dt.timedelta(hours=sev["sla"][f"{measure}_hours"])
                whens[measure].append(When(
                    policy_id=policy_id, severity=sev["code"],
                    then=ExpressionWrapper(F("reported_at") + Value(delay), output_field=DateTimeField()),
                ))
    return queryset.annotate(**{
        f"{measure}_due_at": Case(*whens[measure], default=None, output_field=DateTimeField())
        for measure in SLA_MEASURES
    })


def sla_missed(queryset, measure: str, now: dt.datetime | None = None):
    """Incidents whose triage / containment SLA is missed at `now` (done late, or not done and past due)."""
    from django.db.models import F, Q

    if measure not in SLA_MEASURES:
        raise ValueError(f"unknown SLA measure {measure!r}")
    done = "triaged_at" if measure == "triage" else "contained_at"
    due = f"{measure}_due_at"
    now = _aware(now or timezone.now())
    return annotate_sla_due(queryset).filter(
        Q(**{f"{done}__isnull": True, f"{due}__lt": now}) | Q(**{f"{done}__gt": F(due)})
    )
