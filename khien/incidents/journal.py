"""How a journal line reads: the one wording shared by the incident's page and its PDF report.

The journal (`IncidentEvent`) stores codes (kinds, statuses, stage codes,
responder codes, custody actions); this module turns one line into its
headline in the active language. The page and the PDF used to word the lines
each their own way, and the PDF lost which report stage was given and which
responder was assigned.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid

from django.utils.text import capfirst
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from khien.core.texts import render_data, shown_time
from khien.intel.models import Tlp

from .models import CustodyAction, EventKind, Status, TaskStatus


def _english() -> bool:
    return (get_language() or "vi").startswith("en")


def stage_names(policy) -> dict[str, str]:
    """Stage code -> its name in the active language, from the incident's reporting policy."""
    field = "name_en" if _english() else "name_vi"
    return {st["code"]: st.get(field) or st.get("name_vi") or st["code"] for st in policy.data.get("stages", [])}


def _field_label(name: str) -> str:
    from .models import Incident

    return str(capfirst(Incident._meta.get_field(name).verbose_name))


def _value_label(incident, name: str, value: str) -> str:
    if name == "category":
        return incident.taxonomy.label(value)
    if name == "severity":
        return str(dict(incident.policy.severity_choices()).get(value, value))
    if name == "tlp":
        return str(dict(Tlp.choices).get(value, value))
    return value


def detail(event, names: dict[str, str] | None = None) -> str:
    """What the line's kind alone does not say: the stage given, the task's change, the evidence action, …"""
    data = event.data or {}
    if event.kind == EventKind.STAGE:
        code = data.get("stage", "")
        name = (names or {}).get(code, code)
        if data.get("version"):  # given again after a reopen; the earlier versions are the earlier lines
            return _("%(stage)s (version %(n)s)") % {"stage": name, "n": data["version"]}
        return name
    if event.kind == EventKind.REOPENED and data.get("reports_asked_again"):
        return _("to be given again: %(stages)s") % {
            "stages": ", ".join((names or {}).get(code, code) for code in data["reports_asked_again"])}
    if event.kind == EventKind.EVIDENCE:
        action = data.get("action", "")
        if action == "added":
            return _("added")
        return str(dict(CustodyAction.choices).get(action, action))
    if event.kind == EventKind.OBSERVABLE:
        action = data.get("action", "")
        if action == "shared":
            return _("shared as STIX in %(collection)s (%(tlp)s)") % {
                "collection": data.get("collection", ""), "tlp": dict(Tlp.choices).get(data.get("tlp"), "")}
        return _("removed") if action == "removed" else _("added")
    if event.kind == EventKind.ESCALATION:
        return ", ".join(data.get("labels", []))
    if event.kind == EventKind.CORRECTED:
        return ", ".join(_("Affected systems") if name == "systems" else _field_label(name)
                         for name in data.get("fields", []))
    if event.kind == EventKind.RECLASSIFIED:
        return "; ".join(f"{_field_label(name)}: {_value_label(event.incident, name, old)} → "
                         f"{_value_label(event.incident, name, new)}"
                         for name, (old, new) in (data.get("changes") or {}).items())
    if event.kind == EventKind.TASK:
        labels = dict(TaskStatus.choices)
        if data.get("action") == "standard":
            n = len(data.get("tasks", []))
            return ngettext("%(n)s standard task added", "%(n)s standard tasks added", n) % {"n": n}
        if data.get("action") == "changed":
            return _task_changes(data)
        if data.get("from"):
            change = f"{labels.get(data['from'], data['from'])} → {labels.get(data.get('status'), data.get('status'))}"
            because = _done_because(data.get("because"), names)
            return f"{change} ({because})" if because else change
        return _("added")
    return ""


def _done_because(action, names: dict[str, str] | None) -> str:
    """Why the platform marked a standard task done (`done_when` in tasks.yaml), or ""."""
    if not action:
        return ""
    kind, _sep, code = str(action).partition(":")
    if kind == "stage" and code:
        return _("done on the platform: “%(stage)s” was given") % {"stage": (names or {}).get(code, code)}
    if action == "responder_assigned":
        return _("done on the platform: a responder organization was assigned")
    if action == "observables_shared":
        return _("done on the platform: observables were shared as STIX indicators")
    return str(action)


def _when(iso) -> str:
    if not iso:
        return "—"
    try:
        return shown_time(dt.datetime.fromisoformat(iso))
    except (TypeError, ValueError):
        return str(iso)


def _task_changes(data: dict) -> str:
    """"Person in charge: a → b; Due: … → …; Description" for a task's change (the audit log has every value)."""
    from .models import Task

    parts = []
    for name in data.get("fields", []):
        label = str(capfirst(Task._meta.get_field(name).verbose_name)) if name != "owner" else _("Person in charge")
        if name == "owner":
            old, new = data.get("owner") or [None, None]
            parts.append(f"{label}: {_person(old)} → {_person(new)}")
        elif name == "due_at":
            old, new = data.get("due_at") or [None, None]
            parts.append(f"{label}: {_when(old)} → {_when(new)}")
        else:
            parts.append(_("%(field)s changed") % {"field": label})
    return "; ".join(parts)


# --- SOC alerts named by the journal: each reader reads only those they may see --------------------------------
# A line "N SOC alerts added" (`services.do_journal_alerts`) stores one line per alert — its rule, organization code,
# count and first sighting — and the alerts' ids. The incident is read by people who may not see every alert in it
# (a responder organization, the people above the coordinator's organization reading a national campaign's
# incident): the stored line stays as written (the journal is append-only), and each reader is shown the alerts
# they may see (`Alert.objects.visible_to`, as the SOC alerts section) and only the number of the others.

_ALERT_ORG = re.compile(r" — (\S+), ×\d+, [^,]*$")  # "<rule> — <organization code>, ×<count>, <first seen>"


def _alert_ids(event) -> list[str]:
    return [str(value) for value in (event.data or {}).get("alerts", []) if value]


def _alert_lines(event) -> list[str] | None:
    """The stored line of each alert of an alerts line, in the order of its ids; None when they cannot be told
    apart (a rule name written on several lines)."""
    lines = (event.text or "").split("\n")
    return lines if len(lines) == len(_alert_ids(event)) else None


def alerts_seen(events, user) -> set[str]:
    """The ids of the SOC alerts named by the journal lines `events` that `user` may see: those of the alerts
    `Alert.objects.visible_to(user)` gives; for an alert deleted since (telemetry retention), by the same scope, the
    organization its stored line names — or, for a line that names none Khiên knows, the incident's organization
    (the alerts of a person's report or addition are its organization's or a unit's)."""
    from khien.core.roles import Action
    from khien.core.scoping import scope_for
    from khien.registry.models import Organization
    from khien.telemetry.models import Alert

    from .models import Incident

    lines = [event for event in events if event.kind == EventKind.ALERTS]
    named = {value for event in lines for value in _alert_ids(event)}
    if not named:
        return set()
    ids = set()
    for value in named:
        try:
            ids.add(str(uuid.UUID(value)))
        except (TypeError, ValueError, AttributeError):
            continue
    seen = {str(pk) for pk in Alert.objects.visible_to(user).filter(pk__in=ids).values_list("pk", flat=True)}
    kept = {str(pk) for pk in Alert.objects.filter(pk__in=ids).values_list("pk", flat=True)}
    gone: dict[str, tuple] = {}  # id -> (the organization code its line names, or None; the incident)
    for event in lines:
        stored = _alert_lines(event) or [""] * len(_alert_ids(event))
        for value, line in zip(_alert_ids(event), stored):
            if value not in kept:
                match = _ALERT_ORG.search(line)
                gone[value] = (match.group(1) if match else None, event.incident_id)
    if gone:
        scope = scope_for(user, Action.VIEW)
        paths = dict(Organization.objects.filter(code__in={code for code, _i in gone.values() if code})
                     .values_list("code", "path"))
        incidents = dict(Incident.objects.filter(pk__in={i for _c, i in gone.values()})
                         .values_list("pk", "organization__path"))
        for value, (code, incident_id) in gone.items():
            path = paths.get(code) or incidents.get(incident_id)
            if path and scope.covers_path(path):
                seen.add(value)
    return seen


def alert_counts(event, seen: set[str]) -> tuple[list[str], int]:
    """(the ids of an alerts line the reader may see, how many they may not)."""
    ids = _alert_ids(event)
    shown = [value for value in ids if value in seen]
    return shown, len(ids) - len(shown)


def _alerts_note(event, seen: set[str], document: bool = False) -> str:
    """An alerts line's text for a reader who sees the alerts `seen`: the stored line of each of those, then how
    many others the line names ("2 alerts of organizations you may not see"; in a `document`, of organizations the
    reading organization may not see)."""
    shown, hidden = alert_counts(event, seen)
    lines = _alert_lines(event)
    if lines is None and not hidden:  # the alerts cannot be told apart in the stored text: whole to whoever
        kept = [event.text or ""]     # sees them all, else those they see as they are now (as the line is written)
    elif lines is None:
        from khien.telemetry.models import Alert
        from khien.telemetry.triage import _alert_line

        found = Alert.objects.filter(pk__in=shown).select_related("organization").order_by("first_seen", "pk")
        kept = [_alert_line(alert).replace("\n", " ") for alert in found]
        hidden += len(shown) - len(kept)
    else:
        kept = [line for value, line in zip(_alert_ids(event), lines) if value in seen]
    if hidden and document:
        kept.append(ngettext("%(n)s alert of organizations the reading organization may not see",
                             "%(n)s alerts of organizations the reading organization may not see", hidden)
                    % {"n": hidden})
    elif hidden:
        kept.append(ngettext("%(n)s alert of organizations you may not see",
                             "%(n)s alerts of organizations you may not see", hidden) % {"n": hidden})
    return "\n".join(kept)


def note_text(event, tasks: dict[str, object], templates, alerts: set[str] | None = None, whole: bool = True,
              document: bool = False) -> str:
    """The line's text below its headline. A task line names its tasks as the task table does — a standard task
    in the reader's language while unedited (`TaskTemplates.shown`) — not in the words stored when it was written
    (the platform's language). `tasks`: the incident's tasks by id. An alerts line names only the alerts of
    `alerts` (`alerts_seen`: those the reader may see; none when not given) and counts the others.

    `whole`: the reader reads the whole incident (`services.reads_whole`). An affected organization is shown its
    own systems only: a correction of the affected systems (the platform's line when a campaign's organizations
    join names their systems and organizations; a reason may too) is told without its text.

    `document`: for the printed report, an official document read by others than who printed it: what the reader
    may not see is said of the reading organization, not of "you" ("bạn")."""
    data = event.data or {}
    if event.kind == EventKind.ALERTS:
        return _alerts_note(event, alerts or set(), document)
    if not whole and event.kind == EventKind.CORRECTED and "systems" in data.get("fields", []):
        if document:
            return _("The affected systems changed; those of other organizations are not named to the reading "
                     "organization.")
        return _("The affected systems changed; those of other organizations are not named to you.")
    if event.kind == EventKind.ESCALATION and data.get("texts"):
        # Written by the deadline check as texts (`notices.check_deadlines`): in the reader's language.
        try:
            return "\n".join(render_data(text) for text in data["texts"])
        except (KeyError, ValueError, TypeError):
            return event.text or ""
    if event.kind == EventKind.TASK and templates is not None:
        ids = data.get("tasks") or ([data["task_id"]] if data.get("task_id") else [])
        found = [tasks[i] for i in ids if i in tasks]
        if found and len(found) == len(ids):
            return "\n".join(templates.shown(task)[0] for task in found)
    return event.text or ""


def _organization(code: str) -> str:
    """"Name (CODE)" in the reader's language for a journal line that stored a code (a responder organization is
    public in the registry), the code alone when it no longer exists."""
    from khien.registry.models import Organization

    found = Organization.objects.filter(code=code).values_list("name_vi", "name_en").first() if code else None
    if not found:
        return code
    name = (found[1] if _english() and found[1] else found[0]) or code
    return f"{name} ({code})"


def _person(email: str | None) -> str:
    """A person named in a task's change (stored as their e-mail): their name when they have one."""
    if not email:
        return "—"
    return people_named([email]).get(email, email)


def people_named(values) -> dict[str, str]:
    """{e-mail: name} for the values that are the e-mail of an account with a name (one query): the journal, the
    chain of custody and the PDF name people as the page does, not by their address. Other values (an
    organization written by hand as a custody party) are not in it."""
    from khien.core.models import User

    emails = {value for value in values if value and "@" in value}
    if not emails:
        return {}
    return {email: name for email, name in User.objects.filter(email__in=emails).exclude(full_name="")
            .values_list("email", "full_name")}


def headline(event, names: dict[str, str] | None = None) -> str:
    """The line's headline: "New → Triaged", "Responder assigned: IR-X", "Report stage given: Final report", …"""
    statuses = dict(Status.choices)
    data = event.data or {}
    kind = event.kind
    extra = detail(event, names)
    if kind == EventKind.REPORTED:
        return _("Reported")
    if kind == EventKind.STATUS:
        return _("%(a)s → %(b)s") % {"a": statuses.get(event.from_status, event.from_status),
                                     "b": statuses.get(event.to_status, event.to_status)}
    if kind == EventKind.REOPENED:
        reopened = _("Reopened → %(b)s") % {"b": statuses.get(event.to_status, event.to_status)}
        return f"{reopened} · {extra}" if extra else reopened
    if kind == EventKind.ASSIGNMENT:
        return _("Responder assigned: %(code)s") % {"code": _organization(data.get("responder_code", ""))}
    if kind == EventKind.UNASSIGNMENT:
        return _("Responder removed: %(code)s") % {"code": _organization(data.get("responder_code", ""))}
    if kind == EventKind.COMMENT:
        return _("Comment")
    if kind == EventKind.STAGE:
        return f"{_('Report stage given')}: {extra}"
    if kind == EventKind.ALERTS:
        n = len(data.get("alerts", []))
        return ngettext("%(n)s SOC alert added", "%(n)s SOC alerts added", n) % {"n": n}
    base = {
        EventKind.TASK: _("Task"),
        EventKind.EVIDENCE: _("Digital evidence"),
        EventKind.OBSERVABLE: _("Observables"),
        EventKind.ESCALATION: _("Escalated to the coordinator"),
        EventKind.RECLASSIFIED: _("Classification changed"),
        EventKind.CORRECTED: _("Report corrected"),
    }.get(kind)
    if base is None:
        return event.get_kind_display()
    return f"{base} · {extra}" if extra else base


# The incident's own times that belong on its timeline, in the order they happen.
MILESTONES = (
    ("detected_at", _l("Detected")),
    ("reported_at", _l("Reported")),
    ("triaged_at", _l("Triaged")),
    ("in_response_at", _l("Response started")),
    ("contained_at", _l("Contained")),
    ("resolved_at", _l("Resolved")),
    ("closed_at", _l("Closed")),
)


# The journal line of each milestone's step: the report, and the status change to (or the reopening back to) it.
MILESTONE_STEPS = {"reported_at": (EventKind.REPORTED, None), "triaged_at": (EventKind.STATUS, "triaged"),
                   "in_response_at": ((EventKind.STATUS, EventKind.REOPENED), "in_response"),
                   "contained_at": (EventKind.STATUS, "contained"), "resolved_at": (EventKind.STATUS, "resolved"),
                   "closed_at": (EventKind.STATUS, "closed")}


def _step_taker(field: str, when, events):
    """Who took the step of the milestone `field` (its time `when`): the person of its journal line — the last one
    at or before that time (a step taken again after a reopening is the later one) — else None."""
    if field not in MILESTONE_STEPS:
        return None
    kinds, status = MILESTONE_STEPS[field]
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    taker = None
    for event in events:
        if event.kind in kinds and (status is None or event.to_status == status) and event.at <= when:
            taker = event
    return _who(taker) if taker is not None else None


def _who(event) -> str | None:
    """A journal line's person as the page names them: their name, else their e-mail (also when the account is
    gone); None for a line no person wrote (the deadline check)."""
    actor = event.actor
    return (getattr(actor, "full_name", "") or getattr(actor, "email", "") or event.actor_email) or None


def timeline(incident, events) -> list[dict]:
    """What happened when, as responders reconstruct it (DFIR-IRIS's and TheHive's timelines): the incident's own
    milestones (detected, reported, triaged, contained…) and the journal's comments that say when what they tell
    happened (`happened_at`), ordered by that time — not by when they were written. Each entry: when, what
    (a milestone's name, or the comment), the comment's journal line (`event`, None for a milestone), and who
    did it (`by`, named as the page names people: who wrote the comment, who took the milestone's step as the journal records it; None for the
    detection, or a step the journal has no line for)."""
    events = list(events)
    entries = [{"when": getattr(incident, field), "what": str(label), "milestone": True, "event": None,
                "by": _step_taker(field, getattr(incident, field), events)}
               for field, label in MILESTONES if getattr(incident, field, None)]
    for event in events:
        raw = (event.data or {}).get("happened_at") if event.kind == EventKind.COMMENT else None
        if not raw:
            continue
        try:
            when = dt.datetime.fromisoformat(raw)
        except (TypeError, ValueError):
            continue
        entries.append({"when": when, "what": event.text, "milestone": False, "event": event, "by": _who(event)})
    return sorted(entries, key=lambda e: (e["when"], not e["milestone"]))
