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
"""
from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from khien.core import audit
from khien.core.audit import Act, Change
from khien.core.errors import Forbidden, Refused
from khien.core.roles import Action
from khien.core.scoping import user_can

from .models import Alert, AlertStatus, Event, IndicatorHit, severity_label
from .services import OBSERVABLE_FIELDS

MAX_ALERTS_PER_CALL = 500
MAX_NOTE = 2000
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
# Severity bands (models.severity_label) → severity codes of the reporting policy.
INCIDENT_SEVERITY_OF_BAND = {"low": "low", "medium": "medium", "high": "high", "critical": "critical"}


def may_triage(user, alert: Alert) -> bool:
    return user_can(user, Action.CHANGE, alert.organization)


def may_report(user, alert: Alert) -> bool:
    return user_can(user, Action.ADD, alert.organization)


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


def do_triage_alerts(alert_ids, status: str, *, acting_user, note: str | None = None) -> list[Alert]:
    """Set the status of the given alerts (all or none): the user must be able to change every one of them.

    Taking an alert (in progress) makes the user its handler; setting it back to new clears the handler.
    `note`, when given, replaces the alert's triage note. One audit entry per alert."""
    if status not in SETTABLE_STATUSES:
        raise ValidationError({"status": [_("Choose a status among: %(names)s.") % {
            "names": ", ".join(str(AlertStatus(s).label) for s in SETTABLE_STATUSES)}]})
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise ValidationError({"note": [_("Write a note of at most %(n)d characters.") % {"n": MAX_NOTE}]})
    ids = _alert_ids(alert_ids)
    now = timezone.now()
    with transaction.atomic():
        alerts = list(Alert.objects.visible_to(acting_user).select_for_update(of=("self",))
                      .select_related("organization").filter(pk__in=ids))
        if len(alerts) != len(ids):
            raise Refused(_("Some of these alerts do not exist or are not visible to you; nothing was changed."),
                          code="not_found", status=404)
        if not all(may_triage(acting_user, alert) for alert in alerts):
            raise Forbidden(_("You may read these alerts but not change them; nothing was changed."))
        reported = [alert for alert in alerts if alert.status == AlertStatus.ESCALATED]
        if reported:
            raise Refused(_("An alert reported as an incident is handled in the incident; nothing was changed."),
                          code="conflict", status=409)
        changes = []
        for alert in alerts:
            before = audit.snapshot(alert)
            alert.status = status
            alert.triaged_by = acting_user
            alert.triaged_at = now
            if status == AlertStatus.ACKNOWLEDGED:
                alert.assignee = acting_user
            elif status == AlertStatus.NEW:
                alert.assignee = None
            if note is not None:
                alert.triage_note = note.strip()
            changes.append((alert, before))
        Alert.objects.bulk_update(alerts, ["status", "triaged_by", "triaged_at", "assignee", "triage_note"])
        audit.record_many([Change(action=Act.UPDATE, obj=alert, before=before, after=audit.snapshot(alert))
                           for alert, before in changes], actor=acting_user)
    return alerts


def incident_defaults(alert: Alert) -> dict:
    """What an incident reported from `alert` says unless the user changes it (also the form's initial values)."""
    category = (Event.objects.filter(alert=alert).exclude(category="").order_by("-time")
                .values_list("category", flat=True).first() or "")
    hit = IndicatorHit.objects.filter(alert=alert).exists()
    return {
        "title": f"{alert.rule_name or alert.rule_id or _('Alert')} — {alert.source.name}"[:300],
        "category": INCIDENT_CATEGORY_OF_EVENT.get(category.lower(), "infected-system" if hit else "ids-alert"),
        "severity": INCIDENT_SEVERITY_OF_BAND[severity_label(alert.severity)],
        "tlp": "amber",
    }


def _observables(alert: Alert) -> list[tuple[str, str]]:
    """The alert's observables and the values of the indicators it hit, as incident observables (kind, value);
    values the incident would refuse (a port in a URL field, …) are left out rather than refusing the report."""
    from khien.incidents.observables import guess_kind, normalize

    values = [alert.observables.get(name) for name in OBSERVABLE_FIELDS]
    values += IndicatorHit.objects.filter(alert=alert).values_list("value", flat=True).distinct()[:50]
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

    `data` may override title, category, severity, tlp and description (validated by the incident service)."""
    from khien.incidents.services import do_report_incident

    data = dict(data or {})
    with transaction.atomic():
        alert = (Alert.objects.select_for_update(of=("self",)).select_related("organization", "source")
                 .get(pk=alert.pk))
        if not may_report(acting_user, alert):
            raise Forbidden(_("You cannot report incidents for this alert's organization."))
        if alert.incident_id or alert.status == AlertStatus.ESCALATED:
            raise Refused(_("This alert has already been reported as an incident."), code="conflict", status=409)
        defaults = incident_defaults(alert)
        now = timezone.now()
        organization = alert.organization
        description = data.get("description") or _(
            "Reported from a SOC alert of source %(source)s: %(rule)s (rule %(rule_id)s), seen %(count)d times "
            "between %(first)s and %(last)s. Observables: %(observables)s. Alert: %(url)s") % {
            "url": reverse("telemetry:alert", args=[alert.pk]),
            "source": alert.source.name, "rule": alert.rule_name or "—", "rule_id": alert.rule_id or "—",
            "count": alert.count,
            "first": timezone.localtime(alert.first_seen).strftime("%d/%m/%Y %H:%M"),
            "last": timezone.localtime(alert.last_seen).strftime("%d/%m/%Y %H:%M"),
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
        }
        systems = alert.source.systems.filter(Q(owner=organization) | Q(operator=organization))
        incident = do_report_incident(payload, acting_user=acting_user, systems=list(systems),
                                      observables=_observables(alert), now=now)
        before = audit.snapshot(alert)
        alert.status = AlertStatus.ESCALATED
        alert.incident = incident
        alert.triaged_by = acting_user
        alert.triaged_at = now
        alert.save(update_fields=["status", "incident", "triaged_by", "triaged_at"])
        audit.record(Act.UPDATE, alert, actor=acting_user, before=before)
    return incident
