"""Triage of alerts by the organization's analysts, and an alert reported as an incident in one action.

Same rules as `services.py`: every `do_*` function takes `acting_user`, checks the
right, validates everything before writing, writes in one transaction and audits.

- Who: whoever may change the alert's organization's objects (its administrators
  and analysts, the coordinator over its subtree). Responders, auditors and
  trainees read alerts only. An alert the user cannot see does not exist for them.
- Status: new → in progress (the user takes it: they become its handler) →
  resolved or false positive; any of them back to new. An alert reported as an
  incident keeps that status: its handling goes on in the incident.
- Repeats: ingestion sets a resolved alert back to new when a repeat arrives
  (`services._fold_into_alerts`); a false positive stays one.
- Suppression: an analyst who marks an alert as a false positive may also say that
  the same rule on the same observables from that source is not a threat for a
  number of days; new alerts with that key then start as false positives
  (`mark_suppressed`, called by ingestion) until it expires or is lifted.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _, ngettext, ngettext_lazy

from khien.core import audit, notifications
from khien.core.audit import Act, Change
from khien.core.errors import Forbidden, Refused
from khien.core.roles import Action
from khien.core.scoping import reaching_line, user_can
from khien.core.texts import shown_time

from .models import (HIGH_SEVERITY, OPEN_ALERT_STATUSES, Alert, AlertSource, AlertStatus, AlertSuppression, Event,
                     IndicatorHit, severity_label, utc_day)
from .services import OBSERVABLE_FIELDS

if TYPE_CHECKING:
    from khien.incidents.models import Incident

MAX_ALERTS_PER_CALL = 500
MAX_NOTE = 2000
MAX_SUPPRESSION_DAYS = 365
MAX_REASON = AlertSuppression._meta.get_field("reason").max_length
# Open alerts of the same key that a new suppression also closes: those seen in this many days (the lookup walks
# the source's recent alerts through its (source, last_seen) index).
SUPPRESSION_LOOKBACK_DAYS = 7
# Statuses a user sets directly; "reported as an incident" comes only with the incident.
SETTABLE_STATUSES = (AlertStatus.NEW, AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED, AlertStatus.FALSE_POSITIVE)

# The incident taxonomy type (RSIT) for an alert, from its events' category (the parsers' ECS-style names).
INCIDENT_CATEGORY_OF_EVENT = {
    "malware": "infected-system",
    "authentication": "brute-force",
    "intrusion_detection": "ids-alert",
    "web": "ids-alert",
    "network": "ids-alert",
}
# The RSIT type a rule's name says, before the events' category (a Suricata sensor files every alert under
# "intrusion_detection", so "ET MALWARE Cobalt Strike Beacon Observed" would read as an exploitation attempt).
# Only names that say it plainly: the Emerging Threats families (ET MALWARE, ET TROJAN, ET CNC → an infected
# system: a host of the organization talks to its controller; ET EXPLOIT, ET WEB_* → exploitation of a known
# vulnerability; ET SCAN → scanning; ET DOS; ET PHISHING), and words the tools write for the same (Cobalt Strike,
# command and control, ransomware, rootkit, Wazuh's rootcheck and VirusTotal alerts, brute force, logon failures).
# First match wins; a name none matches is read by its events' category (INCIDENT_CATEGORY_OF_EVENT).
INCIDENT_CATEGORY_OF_RULE = [(re.compile(pattern, re.IGNORECASE), category) for pattern, category in (
    (r"^ET (?:MALWARE|TROJAN|CNC|MOBILE_MALWARE|WORM)\b|cobalt.?strike|command.and.control|\bransomware\b|"
     r"\brootkit|\btrojaned\b|\(rootcheck\)|^rootcheck\b|^virustotal: alert\b|\bmalware (?:detected|detection)\b|"
     r"\bbotnet\b", "infected-system"),
    (r"^ET (?:EXPLOIT|WEB_SERVER|WEB_SPECIFIC_APPS|WEB_CLIENT|SHELLCODE|ACTIVEX)\b|remote.code.execution|"
     r"\bsql.injection\b", "ids-alert"),
    (r"brute.?force|\bmultiple (?:windows )?logon failures?\b|\bpassword spray", "brute-force"),
    (r"^ET SCAN\b|\bport scan|\bnetwork (?:scan|sweep)\b|\bnmap\b", "scanner"),
    (r"^ET DOS\b", "dos"),
    (r"^ET PHISHING\b|\bphishing\b", "phishing"),
)]


def incident_category(rule_name: str, event_category: str = "", hit: bool = False) -> str:
    """The RSIT type an incident reported from alerts of `rule_name` starts with: what the rule's name says
    (INCIDENT_CATEGORY_OF_RULE), else what its events are (INCIDENT_CATEGORY_OF_EVENT), else an infected system
    when an indicator of the national feed was seen, an IDS alert otherwise."""
    for pattern, category in INCIDENT_CATEGORY_OF_RULE:
        if pattern.search(rule_name or ""):
            return category
    return INCIDENT_CATEGORY_OF_EVENT.get((event_category or "").lower(), "infected-system" if hit else "ids-alert")


# Severity bands (models.severity_label) → severity codes of the reporting policy.
INCIDENT_SEVERITY_OF_BAND = {"low": "low", "medium": "medium", "high": "high", "critical": "critical"}


def may_triage(user, alert: Alert) -> bool:
    return user_can(user, Action.CHANGE, alert.organization)


def may_report(user, alert: Alert) -> bool:
    return user_can(user, Action.ADD, alert.organization)


def is_reported(alert: Alert) -> bool:
    """Reported as an incident: its handling goes on there, its status no longer changes."""
    return alert.status == AlertStatus.ESCALATED or alert.incident_id is not None


def note_taken_into_national_incidents(alerts) -> list:
    """Mark each alert (`Alert.taken_into_national_incident`, one query for them all — a list page) whether it was
    taken into the national incident the coordinator made from a campaign (`correlation.do_campaign_to_incident`,
    its follow-ups, a related campaign taking it over): the incident of a campaign, reported by another organization
    than the alert's. Its organization did not report it; "Incident reported" would say it did. An alert its
    organization reported, or added to its own (or a parent's) incident, is not. Returns the alerts."""
    from .models import Campaign

    alerts = list(alerts)
    linked = [a for a in alerts if a.incident_id is not None]
    taken = set()
    if linked:
        taken = set(Campaign.objects.filter(incident_id__in={a.incident_id for a in linked})
                    .values_list("incident_id", "incident__organization_id"))
    for alert in alerts:
        alert.__dict__["_taken_into_national"] = any(
            incident == alert.incident_id and owner != alert.organization_id for incident, owner in taken)
    return alerts


def _change_alerts(alerts: list[Alert], fields: list[str], change, *, acting_user) -> None:
    """Apply `change(alert)` to each alert, save `fields` in one statement, one audit entry per alert."""
    befores = [audit.snapshot(alert) for alert in alerts]
    for alert in alerts:
        change(alert)
    Alert.objects.bulk_update(alerts, fields)
    audit.record_many([Change(action=Act.UPDATE, obj=alert, before=before, after=audit.snapshot(alert))
                       for alert, before in zip(alerts, befores)], actor=acting_user)


HISTORY_SHOWN = 50  # triage changes listed on an alert's page, latest first
_TRIAGE_FIELDS = ("status", "assignee_id", "triage_note")


def triage_history(alert: Alert) -> list[dict]:
    """Who set the alert's status, handler and note, and when, latest first — read from the audit log, where
    every triage change is written (the alert itself keeps only the latest)."""
    from khien.core.models import AuditEntry, User

    entries = list(AuditEntry.objects.filter(object_type=Alert._meta.label_lower, object_id=str(alert.pk),
                                             action=Act.UPDATE).order_by("-seq")[:HISTORY_SHOWN])
    changes = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        if all(before.get(f) == after.get(f) for f in _TRIAGE_FIELDS):
            continue  # not a triage change (an incident link, say)
        changes.append({"at": entry.at, "actor_id": entry.actor_id, "actor_email": entry.actor_email,
                        "status": after.get("status"), "assignee_id": after.get("assignee_id"),
                        "note": after.get("triage_note") if after.get("triage_note") != before.get("triage_note")
                        else ""})
    ids = {c["actor_id"] for c in changes} | {c["assignee_id"] for c in changes}
    people = {str(u.pk): u for u in User.objects.filter(pk__in=[i for i in ids if i])}
    for change in changes:
        change["actor"] = people.get(change["actor_id"]) or change["actor_email"] or _("Khiên (automatic)")
        change["assignee"] = people.get(change["assignee_id"] or "")
        change["status_label"] = AlertStatus(change["status"]).label if change["status"] in AlertStatus.values \
            else change["status"]
    return changes


def _refuse_if_reported(alerts) -> None:
    if any(is_reported(alert) for alert in alerts):
        raise Refused(_("An alert reported as an incident is handled in the incident; nothing was changed."),
                      code="conflict", status=409)


def _locked_alerts(ids: list[uuid.UUID], acting_user) -> list[Alert]:
    """The alerts, locked, if the user may change every one of them (404 if one is not visible, 403 if one may
    only be read)."""
    alerts = list(Alert.objects.visible_to(acting_user).select_for_update(of=("self",))
                  .select_related("organization").filter(pk__in=ids))
    if len(alerts) != len(ids):
        raise Refused(_("Some of these alerts do not exist or are not visible to you; nothing was changed."),
                      code="not_found", status=404)
    if not all(may_triage(acting_user, alert) for alert in alerts):
        raise Forbidden(_("You may read these alerts but not change them; nothing was changed."))
    return alerts


def _alert_ids(values) -> list[uuid.UUID]:
    if not isinstance(values, (list, tuple)) or not values:
        raise ValidationError({"alerts": [_("Choose at least one alert.")]})
    if len(values) > MAX_ALERTS_PER_CALL:
        raise ValidationError({"alerts": [_("At most %(n)d alerts at a time.") % {"n": MAX_ALERTS_PER_CALL}]})
    ids = []
    for value in values:
        try:
            ids.append(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
        except (ValueError, AttributeError):
            raise ValidationError({"alerts": [_("“%(value)s” is not an alert id.") % {"value": str(value)[:60]}]})
    return list(dict.fromkeys(ids))


def possible_handlers(alert: Alert):
    """Who may be given the alert to handle: the active members of its organization, or of an organization
    above it, whose role lets them change its alerts (administrators and analysts)."""
    from khien.core.models import User
    from khien.core.roles import ROLE_ACTIONS, Role

    paths = reaching_line(alert.organization)  # not above a coordination boundary (decision 0001)
    roles = [role for role, actions in ROLE_ACTIONS.items() if Action.CHANGE in actions
             and role != Role.NATIONAL_COORDINATOR]
    return (User.objects.filter(is_active=True, memberships__organization__path__in=paths,
                                memberships__role__in=roles).distinct().order_by("email"))


def do_triage_alerts(alert_ids, status: str, *, acting_user, note: str | None = None, assignee=None) -> list[Alert]:
    """Set the status of the given alerts (all or none): the user must be able to change every one of them.

    "In progress" gives the alerts a handler: `assignee` if given (who must be able to change every one of
    them; they are notified), else the acting user; setting an alert back to new clears the handler.
    `note`, when given, replaces the alert's triage note; a false positive needs one (its reason). One audit entry
    per alert."""
    if assignee is not None and status != AlertStatus.ACKNOWLEDGED:
        raise ValidationError({"assignee": [_("A handler is given only with the status “%(status)s”.")
                                            % {"status": AlertStatus.ACKNOWLEDGED.label}]})
    if status not in SETTABLE_STATUSES:
        raise ValidationError({"status": [_("Choose a status among: %(names)s.") % {
            "names": ", ".join(str(AlertStatus(s).label) for s in SETTABLE_STATUSES)}]})
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise ValidationError({"note": [_("Write a note of at most %(n)d characters.") % {"n": MAX_NOTE}]})
    if status == AlertStatus.FALSE_POSITIVE and not (note or "").strip():
        # A false positive is closed for good (its repeats stay closed): whoever reads it later needs to know why,
        # as a suppression needs its reason. Checked here so that the pages and the API obey the same rule.
        raise ValidationError({"note": [_("Give the reason why the alert is a false positive (for example: an "
                                          "internal scanner).")]})
    ids = _alert_ids(alert_ids)
    now = timezone.now()
    with transaction.atomic():
        alerts = _locked_alerts(ids, acting_user)
        if assignee is not None and not (getattr(assignee, "is_active", False)
                                         and all(may_triage(assignee, alert) for alert in alerts)):
            raise ValidationError({"assignee": [_("%(user)s cannot handle these alerts.")
                                                % {"user": getattr(assignee, "email", assignee)}]})
        _refuse_if_reported(alerts)
        def change(alert):
            alert.status, alert.triaged_by, alert.triaged_at = status, acting_user, now
            if status == AlertStatus.ACKNOWLEDGED:
                alert.assignee = assignee or acting_user
            elif status == AlertStatus.NEW:
                alert.assignee = None
            if note is not None:
                alert.triage_note = note.strip()

        _change_alerts(alerts, ["status", "triaged_by", "triaged_at", "assignee", "triage_note"], change,
                       acting_user=acting_user)
        if assignee is not None and assignee.pk != getattr(acting_user, "pk", None):
            _tell_handler(assignee, alerts, acting_user)
    return alerts


def _tell_handler(assignee, alerts: list[Alert], acting_user) -> None:
    """One notification to the person given the alerts, read in their language (the rules' names as written)."""
    title = notifications.Text(ngettext_lazy("%(who)s gave you an alert to handle",
                                             "%(who)s gave you %(n)d alerts to handle", len(alerts)),
                               {"who": notifications.person_name(acting_user), "n": len(alerts)})
    body = "\n".join(f"{alert.rule_name or alert.rule_id} ({alert.organization.code}, ×{alert.count})"
                      for alert in alerts[:50])
    url = (reverse("telemetry:alert", args=[alerts[0].pk]) if len(alerts) == 1
           else reverse("telemetry:alerts") + "?status=acknowledged")
    notifications.notify([assignee], kind="telemetry.alert_assigned", title=title, body=body, url=url)


def incident_title(alert: Alert) -> str:
    """The title an incident reported from `alert` is proposed: in the platform's language, as the incident is
    everyone's record (not the reporter's), with the SOC tool's rule name (its own words, often English) quoted."""
    rule = (alert.rule_name or alert.rule_id)[:200]
    with notifications.platform_language():
        values = {"rule": rule, "organization": alert.organization.name}
        title = (_("Alert “%(rule)s” at %(organization)s") % values if rule
                 else _("Alert at %(organization)s") % values)
    return title[:300]


def incident_defaults(alert: Alert) -> dict:
    """What an incident reported from `alert` says unless the user changes it (also the form's initial values)."""
    category = (Event.objects.filter(alert=alert).exclude(category="").order_by("-time")
                .values_list("category", flat=True).first() or "")
    hit = IndicatorHit.objects.filter(alert=alert).exists()
    return {
        "title": incident_title(alert),
        "category": incident_category(alert.rule_name, category, hit),
        "severity": INCIDENT_SEVERITY_OF_BAND[severity_label(alert.severity)],
        "tlp": "amber",
    }


def _observables(alert: Alert) -> list[tuple[str, str]]:
    """The alert's observables and the values of the indicators it hit, as incident observables (kind, value);
    values the incident would refuse (a port in a URL field, …) are left out rather than refusing the report."""
    values = [alert.observables.get(name) for name in OBSERVABLE_FIELDS]
    values += IndicatorHit.objects.filter(alert=alert).values_list("value", flat=True).distinct()[:50]
    return observable_items(values)


def observable_items(values) -> list[tuple[str, str]]:
    """Values seen in telemetry as incident observables (kind, value), once each; a value whose kind is not
    recognised, or that the incident would refuse, is left out."""
    from khien.incidents.observables import guess_kind, normalize

    items = []
    for value in values:
        kind = guess_kind(str(value)) if value else None
        if kind:
            try:
                items.append((kind, normalize(kind, str(value))))
            except ValueError:
                continue
    return list(dict.fromkeys(items))


def do_alert_to_incident(alert: Alert, *, acting_user, data: dict | None = None):
    """Report an incident for the alert's organization from the alert: detected when the alert was first seen,
    its observables and the source's information systems attached; the alert is then "reported as an incident".

    `data` may override title, category, severity, tlp and description (validated by the incident service); a
    report made after the initial-report deadline (counted from the alert's first sighting) needs `late_reason`,
    as any report a person makes."""
    from khien.incidents.services import do_report_incident

    data = dict(data or {})
    with transaction.atomic():
        alert = (Alert.objects.select_for_update(of=("self",)).select_related("organization", "source")
                 .get(pk=alert.pk))
        if not may_report(acting_user, alert):
            raise Forbidden(_("You cannot report incidents for this alert's organization."))
        if is_reported(alert):
            raise Refused(_("This alert has already been reported as an incident."), code="conflict", status=409)
        defaults = incident_defaults(alert)
        now = timezone.now()
        organization = alert.organization
        with notifications.platform_language():  # as the title: the incident's record, not the reporter's
            description = data.get("description") or _(
                "Reported from a SOC alert of source %(source)s: %(rule)s (rule %(rule_id)s), seen %(count)d times "
                "between %(first)s and %(last)s. Observables: %(observables)s. Alert: %(url)s") % {
                "url": reverse("telemetry:alert", args=[alert.pk]),
                "source": alert.source.name, "rule": alert.rule_name or "—", "rule_id": alert.rule_id or "—",
                "count": alert.count,
                "first": shown_time(alert.first_seen),
                "last": shown_time(alert.last_seen),
                "observables": ", ".join(f"{k}={v}" for k, v in alert.observables.items()) or "—"}
        payload = {
            "organization": organization,
            "title": data.get("title") or defaults["title"],
            # A device clock ahead of the platform's must not make the report refuse a detection "in the future".
            "detected_at": min(alert.first_seen, now),
            "category": data.get("category") or defaults["category"],
            "severity": data.get("severity") or defaults["severity"],
            "suspected_malicious": True,
            "impact_beyond_organization": False,
            "description": description,
            "tlp": data.get("tlp") or defaults["tlp"],
            "late_reason": data.get("late_reason") or "",
        }
        systems = alert.source.systems.filter(Q(owner=organization) | Q(operator=organization))
        incident = do_report_incident(payload, acting_user=acting_user, systems=list(systems),
                                      observables=_observables(alert), now=now, late_reason_required=True)
        _mark_reported([alert], incident, acting_user=acting_user, now=now)
    return incident


def _mark_reported(alerts: list[Alert], incident, *, acting_user, now) -> None:
    """The alerts are now handled in the incident ("reported as an incident", linked to it)."""
    def change(alert):
        alert.status, alert.incident, alert.triaged_by, alert.triaged_at = (AlertStatus.ESCALATED, incident,
                                                                            acting_user, now)

    _change_alerts(alerts, ["status", "incident", "triaged_by", "triaged_at"], change, acting_user=acting_user)


def incidents_to_join(user, alert: Alert, limit: int = 50) -> list:
    """The open incidents the alert may be added to: of its organization or one above it, visible to the user,
    who is on their reporting side; the latest reported first."""
    from khien.incidents.models import Incident, Status
    from khien.incidents.services import is_reporting_side

    line = alert.organization.ancestor_paths()
    candidates = (Incident.objects.visible_to(user).filter(organization__path__in=line)
                  .exclude(status=Status.CLOSED).select_related("organization").order_by("-reported_at")[:limit])
    return [incident for incident in candidates if is_reporting_side(user, incident)]


def incident_seen(user, alert: Alert) -> bool:
    """Whether the user sees the incident the alert was reported as, or added to. A unit's alert added to an
    incident of an organization above it links to an incident the unit does not see: its pages then show the
    reference and that organization, never the title (the incident's own confidentiality)."""
    from khien.incidents.models import Incident

    return bool(alert.incident_id) and Incident.objects.visible_to(user).filter(pk=alert.incident_id).exists()


def may_add_to_incident_of(user, alert: Alert) -> bool:
    """Whether the user may add other alerts to the incident this alert is in (from the alert's page): sees it,
    is on its reporting side, and it is still open."""
    from khien.incidents.models import Status
    from khien.incidents.services import is_reporting_side

    return (incident_seen(user, alert) and alert.incident.status != Status.CLOSED
            and is_reporting_side(user, alert.incident))


def incident_match(reference_or_id: str) -> Q:
    """The incident named by its id or its reference (SC-2026-000123, in any case)."""
    try:
        return Q(pk=uuid.UUID(reference_or_id))
    except ValueError:
        return Q(reference__iexact=reference_or_id)


def in_incident(alerts, reference_or_id: str):
    """The alerts (a queryset) reported as, or added to, the incident named by its reference or id. The incident's
    id first (its reference is unique), then the alerts through their partial incident index."""
    from khien.incidents.models import Incident

    incident_id = (Incident.objects.filter(incident_match(reference_or_id.strip()[:100]))
                   .values_list("pk", flat=True).first())
    return alerts.filter(incident_id=incident_id) if incident_id else alerts.none()


def find_incident(user, reference_or_id) -> "Incident":
    """The incident the user sees with this reference (SC-2026-000123) or id; 404 otherwise, the same answer for
    one that exists elsewhere (no probing of other organizations' references)."""
    from khien.incidents.models import Incident

    value = str(reference_or_id or "").strip()[:100]
    found = Incident.objects.visible_to(user).filter(incident_match(value)).first() if value else None
    if found is None:
        raise Refused(_("No incident “%(value)s” is visible to you.") % {"value": value}, code="not_found", status=404)
    return found


def do_add_alerts_to_incident(alert_ids, incident, *, acting_user) -> list[Alert]:
    """Add alerts to an incident already reported (all or none): they become "reported as an incident" and link
    to it; their observables and the indicator values they hit join the incident's observables (values already
    there are skipped); the incident's journal says which alerts came in.

    The user must be able to change every alert and be on the incident's reporting side; the incident must be
    open and belong to each alert's organization or an organization above it. 404 if an alert or the incident
    is not visible, 403 without the right, 409 if an alert was reported already or the incident is closed."""
    from khien.incidents.models import Incident, Status
    from khien.incidents.observables import do_add_observables
    from khien.incidents.services import is_reporting_side

    ids = _alert_ids(alert_ids)
    now = timezone.now()
    with transaction.atomic():
        # Visibility first, then the lock: the incidents' scope is DISTINCT, which cannot be locked.
        if not Incident.objects.visible_to(acting_user).filter(pk=incident.pk).exists():
            raise Refused(_("This incident does not exist or is not visible to you."), code="not_found", status=404)
        incident = (Incident.objects.select_for_update(of=("self",)).select_related("organization")
                    .get(pk=incident.pk))
        if not is_reporting_side(acting_user, incident):
            raise Forbidden(_("Only the reporting side of incident %(reference)s can add alerts to it.")
                            % {"reference": incident.reference})
        if incident.status == Status.CLOSED:
            raise Refused(_("Incident %(reference)s is closed; reopen it before adding alerts.")
                          % {"reference": incident.reference}, code="closed", status=409)
        alerts = _locked_alerts(ids, acting_user)
        _refuse_if_reported(alerts)
        foreign = sorted({alert.organization.code for alert in alerts
                          if not alert.organization.path.startswith(incident.organization.path)})
        if foreign:
            raise ValidationError({"incident": [_(
                "Incident %(reference)s belongs to %(org)s: alerts of %(others)s cannot be added to it.") % {
                "reference": incident.reference, "org": incident.organization.code, "others": ", ".join(foreign)}]})
        items = list(dict.fromkeys(item for alert in alerts for item in _observables(alert)))
        if items:
            do_add_observables(incident, items, acting_user=acting_user)
        join_incident(alerts, incident, acting_user=acting_user, now=now)
    return alerts


def join_incident(alerts: list[Alert], incident, *, acting_user, now) -> None:
    """The alerts (locked, checked by the caller) are now handled in the incident, whose journal names them."""
    from khien.incidents.services import do_journal_alerts

    _mark_reported(alerts, incident, acting_user=acting_user, now=now)
    do_journal_alerts(incident, [(str(alert.pk), _alert_line(alert)) for alert in alerts], acting_user=acting_user)


def _alert_line(alert: Alert) -> str:
    """An alert in one line of an incident's journal."""
    return (f"{alert.rule_name or alert.rule_id or _('Alert')} — {alert.organization.code}, "
            f"×{alert.count}, {shown_time(alert.first_seen)}")


def alerts_behind(user, incident):
    """The alerts reported as (or added to) the incident that the user may see, oldest first (a queryset)."""
    return (Alert.objects.visible_to(user).filter(incident=incident)
            .select_related("source", "organization").order_by("first_seen", "pk"))


RELATED_DAYS = 7
RELATED_LIMIT = 20
# Events read per address when looking for related alerts: a busy address (a shared server, a gateway) stops there.
RELATED_EVENTS_PER_ADDRESS = 2000


def related_alerts(user, alert: Alert) -> list[tuple[Alert, list[str]]]:
    """Other alerts the user may see whose events, in the RELATED_DAYS before the alert was last seen, share one
    of its addresses (as source or destination): "is this address in other alerts too?" — the question before
    adding them to the same incident. Each with the addresses in common; the latest first, at most RELATED_LIMIT.

    Read through the events' address indexes, which are led by the day (decision 0009)."""
    addresses = list(dict.fromkeys(value for name in ("src_ip", "dst_ip")
                                   if (value := alert.observables.get(name))))
    if not addresses:
        return []
    last_day = utc_day(alert.last_seen)
    days = list(range(last_day - RELATED_DAYS + 1, last_day + 1))
    events = Event.objects.visible_to(user).exclude(alert_id=alert.pk)
    shared: dict = {}
    for address in addresses:
        for field in ("src_ip", "dst_ip"):
            for alert_id in (events.filter(day__in=days, **{field: address}).values_list("alert_id", flat=True)
                             [:RELATED_EVENTS_PER_ADDRESS]):
                if alert_id is not None:
                    shared.setdefault(alert_id, set()).add(address)
    found = (Alert.objects.visible_to(user).filter(pk__in=list(shared))
             .select_related("source", "organization", "assignee").order_by("-last_seen", "pk")[:RELATED_LIMIT])
    return [(other, sorted(shared[other.pk])) for other in found]


# --- Suppression ----------------------------------------------------------------------------------------


def do_suppress_alert(alert: Alert, *, acting_user, reason: str, days: int) -> AlertSuppression:
    """Mark the alert, and the source's other open alerts of the same key seen in the last
    SUPPRESSION_LOOKBACK_DAYS, as false positives, and start new alerts of that key as false positives for
    `days` days. Refused if the alert was reported as an incident (409) or a suppression of its key is active
    (409: lift it first, or let it expire)."""
    errors = {}
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > MAX_REASON:
        errors["reason"] = [_("Say why these alerts are not a threat (at most %(n)d characters).") % {"n": MAX_REASON}]
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_SUPPRESSION_DAYS:
        errors["days"] = [_("Give a number of days from 1 to %(n)d.") % {"n": MAX_SUPPRESSION_DAYS}]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with transaction.atomic():
        alert = (Alert.objects.select_for_update(of=("self",)).select_related("organization", "source")
                 .get(pk=alert.pk))
        if not may_triage(acting_user, alert):
            raise Forbidden(_("You may read this alert but not change it."))
        _refuse_if_reported([alert])
        if AlertSuppression.objects.active(now).filter(source=alert.source, key=alert.key).exists():
            raise Refused(_("Repeats of this alert are already suppressed."), code="conflict", status=409)
        suppression = AlertSuppression.objects.create(
            source=alert.source, organization=alert.organization, key=alert.key, rule_id=alert.rule_id,
            rule_name=alert.rule_name, observables=alert.observables, reason=reason, created_by=acting_user,
            created_at=now, expires_at=now + dt.timedelta(days=days))
        audit.record(Act.CREATE, suppression, actor=acting_user)
        same = list(Alert.objects.select_for_update(of=("self",))
                    .filter(source=alert.source, last_seen__gte=now - dt.timedelta(days=SUPPRESSION_LOOKBACK_DAYS),
                            key=alert.key, status__in=OPEN_ALERT_STATUSES).exclude(pk=alert.pk))
        def change(each):
            each.status, each.suppression = AlertStatus.FALSE_POSITIVE, suppression
            # The earlier note stays (it was only in the audit log once replaced): the reason follows it.
            each.triaged_by, each.triaged_at = acting_user, now
            each.triage_note = f"{each.triage_note.rstrip()}\n{reason}" if each.triage_note.strip() else reason

        _change_alerts([alert, *same], ["status", "suppression", "triaged_by", "triaged_at", "triage_note"], change,
                       acting_user=acting_user)
    return suppression


def do_lift_suppression(suppression: AlertSuppression, *, acting_user) -> AlertSuppression:
    """End a suppression now: later alerts of its key are new again (alerts already marked stay as they are)."""
    with transaction.atomic():
        suppression = (AlertSuppression.objects.select_for_update(of=("self",)).select_related("organization")
                       .get(pk=suppression.pk))
        if not user_can(acting_user, Action.CHANGE, suppression.organization):
            raise Forbidden(_("You may read this suppression but not lift it."))
        if suppression.lifted_at is not None:
            raise Refused(_("This suppression was already lifted."), code="conflict", status=409)
        before = audit.snapshot(suppression)
        suppression.lifted_by, suppression.lifted_at = acting_user, timezone.now()
        suppression.save(update_fields=["lifted_by", "lifted_at"])
        audit.record(Act.UPDATE, suppression, actor=acting_user, before=before)
    return suppression


def mark_suppressed(source: AlertSource, created: list[tuple[str, str]]) -> int:
    """Ingestion, inside its transaction: the new alerts (id in the database's form, key) whose key is
    suppressed for this source start as false positives. One small query per batch; an UPDATE only when a
    suppressed key came in."""
    keys = dict(AlertSuppression.objects.active().filter(source=source).values_list("key", "id"))
    if not keys:
        return 0
    by_suppression: dict = {}
    for pk, key in created:
        if key in keys:
            by_suppression.setdefault(keys[key], []).append(pk)
    for suppression_id, pks in by_suppression.items():
        Alert.objects.filter(pk__in=pks).update(status=AlertStatus.FALSE_POSITIVE, suppression_id=suppression_id)
    return sum(len(pks) for pks in by_suppression.values())


def untaken_severe_alerts(user):
    """The high or critical alerts nobody has taken yet (status new) that `user` sees: the home page's To-do line
    and the dashboard's figure under its tiles count the same alerts."""
    return Alert.objects.visible_to(user).filter(status=AlertStatus.NEW, severity__gte=HIGH_SEVERITY)


def waiting_work(user) -> list:
    """The home page's "To do" items of alert triage (`core.worklist`): severe alerts nobody has taken yet."""
    from khien.core.paging import capped_count, count_text
    from khien.core.worklist import Item

    # Counted up to the cap ("more than 10,000"): the home page must not scan a national alert store to say so.
    n = capped_count(untaken_severe_alerts(user))
    label = ngettext("%(n)s high or critical alert nobody has taken yet",
                     "%(n)s high or critical alerts nobody has taken yet", n)
    return [Item(label % {"n": count_text(n)}, n, f"{reverse('telemetry:alerts')}?status=new&severity_min={HIGH_SEVERITY}",
                 urgent=True)]
