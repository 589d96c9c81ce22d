"""Early warnings (cảnh báo sớm, C4): issue, target, notify, acknowledge.

A warning is a STIX report (stored through `services.do_add_objects` into a
collection, or only referenced) plus its target organizations: chosen by
sector, province, ISAC membership or by name, and — automatically — those
whose registered information systems match the warning's values:

- an IP address or CIDR overlapping one of the system's `ip_ranges`
  (containment either way);
- a domain equal to one of the system's `domains`, or a subdomain of it, or
  its parent (containment either way);
- an affected product (CPE 2.3) with the same vendor and product as one of the
  system's `products`.

Values that hit a warning list (private ranges, resolvers, …) are not used
for matching (every organization has 10.0.0.0/8 somewhere).

Rights: the national coordinator issues warnings to anyone; an
administrator of an ISAC's operating organization to the members of the
ISACs it operates (targets outside them are refused or left out). Their
analysts do not issue (`ISSUERS_ONLY`). A warning to an ISAC reaches its
members and its operating organization, which coordinates its sector's
response (unless it sent the warning itself).
Acknowledgements are given by the target organization's own users (a role
that may change things there: administrator or analyst). Who sees a
warning: the coordinator, the sender organization's users and the target
organizations' users (`warnings_visible_to`); the target list with its
acknowledgements is shown to the coordinator and the sender only.
Every write is audited; e-mails go out after the commit, one per target
organization with a contact e-mail.

Following up: a warning may ask for an answer by a deadline (`respond_by`,
in the future and at most `RESPOND_BY_MAX` ahead). Whoever may issue warnings
in the name of the sender organization (`can_issue_for`, the rule issuing
uses), and the national coordinator (`can_follow_up`), reminds the targets
that have not answered (`do_remind_warning`: the same in-platform
notification, urgent, and the same e-mail to the contact address; at most
once per `REMIND_INTERVAL`). When a deadline passes with
targets still silent, the job `intel.warning_deadlines` tells the sender once
(`tell_senders_of_missed_deadlines`).

Updating: an issued warning is never rewritten (its title and summary stay as
sent), but the same people who may follow it up (`can_follow_up`) add updates
(`do_update_warning`, `WarningUpdate`, numbered in order): a text saying what
changed (a new address, a patch, corrected advice) and/or a new reply deadline
(the same bounds as at issue; or none). Every target organization is told —
those that have answered too, since the update may change their answer: their
answer is kept as given, and they are asked to check it. A moved deadline may
pass again, so the sender's "told once" mark is cleared.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import ngettext, ngettext_lazy

from khien.core import audit, notifications, shapes
from khien.core.api.fields import no_control_characters
from khien.core.audit import Act, Change
from khien.core.errors import Forbidden, Refused
from khien.core.roles import ROLE_ACTIONS, Action, Role
from khien.core.scoping import is_national_coordinator, memberships_of, user_can
from khien.core.texts import shown_time
from khien.registry.models import InformationSystem, Isac, OperationalStatus, Organization
from khien.registry.validators import validate_cpes

from . import tlp, warninglists
from .models import (
    AckState,
    Collection,
    EarlyWarning,
    IndicatorKind,
    IndicatorValue,
    StixObject,
    TargetReason,
    Tlp,
    WarningSeverity,
    WarningTarget,
    WarningUpdate,
    identity_id_for,
)

log = logging.getLogger(__name__)

MATCH_KINDS = (IndicatorKind.IPV4, IndicatorKind.IPV6, IndicatorKind.CIDR, IndicatorKind.DOMAIN)
_VULN_RE = re.compile(r"^(CVE-\d{4}-\d{4,}|vulnerability--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
_REPORT_RE = re.compile(r"^report--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_VALUES = 10000
# A reply deadline is at most this far ahead: a warning is about something happening now.
RESPOND_BY_MAX = dt.timedelta(days=90)
# The reply deadline a warning proposes unless its sender changes it (a national campaign's warning: so that the
# targets that stay silent are followed up): a day for a high or critical warning, three days otherwise.
DEFAULT_RESPOND_WITHIN = {WarningSeverity.CRITICAL: dt.timedelta(hours=24), WarningSeverity.HIGH: dt.timedelta(hours=24),
                          WarningSeverity.MEDIUM: dt.timedelta(hours=72), WarningSeverity.LOW: dt.timedelta(hours=72)}
# Reminders are not repeated within this time (one follow-up, not a flood of e-mails).
REMIND_INTERVAL = dt.timedelta(hours=1)
# The longest update text (what changed since the warning was issued).
UPDATE_TEXT_MAX = 10000
# `do_update_warning(respond_by=UNCHANGED)`: the reply deadline stays as it is (None removes it).
UNCHANGED = object()
# The more specific reason wins when an organization is targeted for several.
REASON_ORDER = [TargetReason.SEEN, TargetReason.CHOSEN, TargetReason.MATCHED_IP, TargetReason.MATCHED_DOMAIN,
                TargetReason.MATCHED_PRODUCT, TargetReason.ISAC, TargetReason.SECTOR, TargetReason.PROVINCE]


# --- Values and matching --------------------------------------------------------------------------


def classify(raw) -> tuple[str, str]:
    """(kind, normalized value) of an IP address, CIDR range or domain; Refused otherwise."""
    if isinstance(raw, dict):
        raw = raw.get("value")
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 2048:
        raise Refused(_("Each value must be an IP address, a CIDR range or a domain name."), code="invalid")
    text = raw.strip()
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            if net.num_addresses > 1:
                return IndicatorKind.CIDR, str(net)
            text = str(net.network_address)
        address = ipaddress.ip_address(text)
        return (IndicatorKind.IPV4 if address.version == 4 else IndicatorKind.IPV6), str(address)
    except ValueError:
        pass
    domain = text.lower().rstrip(".")
    if shapes.is_domain_name(domain):
        return IndicatorKind.DOMAIN, domain
    raise Refused(_("“%(v)s” is not an IP address, a CIDR range or a domain name.") % {"v": raw[:200]},
                  code="invalid")


def _cpe_fields(cpe: str) -> list[str]:
    """The fields of a CPE 2.3 formatted string (escaped colons kept inside their field)."""
    return [f.replace("\\:", ":") for f in re.split(r"(?<!\\):", cpe)]


def cpe_vendor_product(cpe: str) -> tuple[str, str] | None:
    fields = _cpe_fields(cpe)
    if len(fields) < 5 or fields[0] != "cpe" or fields[1] != "2.3":
        return None
    vendor, product = fields[3].lower(), fields[4].lower()
    if vendor in ("*", "-", "") or product in ("*", "-", ""):
        return None
    return vendor, product


@dataclass(frozen=True)
class Match:
    """Why an organization's registered systems match: the main reason and value (`reason`, `value`: an address
    before a domain before a product) and every match (`all`: (reason, value, system names) per reason and value,
    in the same order), so that a reader learns which systems to check."""
    organization_id: object
    reason: str
    value: str
    all: tuple = ()


MAX_SYSTEMS_NAMED = 10  # matching systems named per reason (the rest are in the organization's register)


def _domain_related(a: str, b: str) -> bool:
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _system_matches(networks, domains, products, ip_ranges, system_domains, system_products) -> list:
    """Every (reason, value) by which one system matches: its ranges, its domains, its products."""
    found = []
    for text in ip_ranges or ():
        try:
            rng = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        found += [(TargetReason.MATCHED_IP, value) for net, value in networks
                  if net.version == rng.version and (net.subnet_of(rng) or rng.subnet_of(net))]
    if domains:
        for text in system_domains or ():
            own = str(text).lower().rstrip(".")
            found += [(TargetReason.MATCHED_DOMAIN, d) for d in domains if _domain_related(d, own)]
    if products:
        for cpe in system_products or ():
            vp = cpe_vendor_product(str(cpe))
            if vp in products:
                found.append((TargetReason.MATCHED_PRODUCT, products[vp]))
    return list(dict.fromkeys(found))


def match_organizations(values, cpes) -> dict:
    """Organizations whose registered systems match: {organization id: Match}.

    `values` are (kind, value) pairs (IPv4/IPv6/CIDR/domain; others ignored),
    `cpes` CPE 2.3 names of affected products. A system's owner and its
    operator both match. Retired systems do not. Every match is kept with the
    names of the systems that match (`Match.all`); the main one is an address
    before a domain before a product.
    """
    networks, domains = [], []
    for kind, value in values:
        if kind in (IndicatorKind.IPV4, IndicatorKind.IPV6, IndicatorKind.CIDR):
            try:
                networks.append((ipaddress.ip_network(value, strict=False), value))
            except ValueError:
                continue
        elif kind == IndicatorKind.DOMAIN:
            domains.append(value.lower().rstrip("."))
    products = {vp: cpe for cpe in cpes or () if (vp := cpe_vendor_product(cpe))}
    if not (networks or domains or products):
        return {}
    per_org: dict = {}  # {org id: {(reason, value): [system names]}}
    systems = InformationSystem.objects.exclude(operational_status=OperationalStatus.RETIRED) \
        .order_by("name").values_list("owner_id", "operator_id", "name", "ip_ranges", "domains", "products")
    for owner_id, operator_id, name, ip_ranges, system_domains, system_products in systems.iterator(chunk_size=2000):
        matches = _system_matches(networks, domains, products, ip_ranges, system_domains, system_products)
        for org_id in dict.fromkeys((owner_id, operator_id)):
            if org_id is None:
                continue
            for key in matches:
                per_org.setdefault(org_id, {}).setdefault(key, []).append(name)
    order = [TargetReason.MATCHED_IP, TargetReason.MATCHED_DOMAIN, TargetReason.MATCHED_PRODUCT]
    found = {}
    for org_id, keyed in per_org.items():
        ranked = sorted(keyed.items(), key=lambda item: order.index(item[0][0]))  # stable: values in given order
        every = tuple((reason, value, tuple(names[:MAX_SYSTEMS_NAMED])) for (reason, value), names in ranked)
        found[org_id] = Match(org_id, every[0][0], every[0][1], every)
    return found


# --- Who may do what -------------------------------------------------------------------------------


def _org_ids(user) -> list:
    return tlp.organization_ids(user)


def operated_isacs(user):
    """The ISACs whose operating organization the user administers."""
    admin_of = [org_id for role, _p, org_id in memberships_of(user) if role == Role.ORG_ADMIN]
    return Isac.objects.filter(operator_id__in=admin_of)


# Issuing speaks for the sector: the national coordinator role, or an administrator of an ISAC's operating
# organization — as the coordinator's own analysts, the operator's analysts prepare but do not issue.
ISSUERS_ONLY = _l("Only the national coordinator or an administrator of an ISAC's operating organization can issue "
                  "early warnings.")


def can_issue(user) -> bool:
    return is_national_coordinator(user) or operated_isacs(user).exists()


def can_issue_for(user, organization_id) -> bool:
    """May the user issue — and follow up — warnings in the name of this organization: an issuer (`can_issue`)
    acting for one of their own organizations (what `do_issue_warning` requires of the sender)."""
    return can_issue(user) and organization_id in _org_ids(user)


def can_follow_up(user, warning: EarlyWarning) -> bool:
    """May the user remind a warning's silent targets: whoever may issue in the sender's name, and the national
    coordinator for every warning (it oversees the country's early warnings, an ISAC's included)."""
    return can_issue_for(user, warning.organization_id) or is_national_coordinator(user)


def warnings_visible_to(user):
    """The warnings a user may see: all for the coordinator; else sent by or to one of their organizations (a
    target: an ISAC's operating organization is one of the warnings to its ISAC, `_candidate_targets`)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return EarlyWarning.objects.none()
    if is_national_coordinator(user):
        return EarlyWarning.objects.all()
    orgs = _org_ids(user)
    if not orgs:
        return EarlyWarning.objects.none()
    targeted = Exists(WarningTarget.objects.filter(warning_id=OuterRef("pk"), organization_id__in=orgs))
    return EarlyWarning.objects.filter(Q(organization_id__in=orgs) | targeted)


def can_view_targets(user, warning: EarlyWarning) -> bool:
    """The target list and its acknowledgements: the coordinator and the sender organization."""
    return is_national_coordinator(user) or warning.organization_id in _org_ids(user)


def inbox(organization):
    """The warnings sent to one organization, newest first (its WarningTarget rows)."""
    return WarningTarget.objects.filter(organization=organization).select_related("warning") \
        .order_by("-warning__created_at")


def inbox_for(user):
    """The WarningTarget rows of all the user's organizations."""
    return WarningTarget.objects.filter(organization_id__in=_org_ids(user)).select_related("warning", "organization") \
        .order_by("-warning__created_at", "organization__code")


def default_respond_by(severity: str, now=None) -> dt.datetime:
    """The reply deadline proposed for a warning of `severity` issued at `now` (`DEFAULT_RESPOND_WITHIN`)."""
    now = now or timezone.now()
    return now + DEFAULT_RESPOND_WITHIN.get(severity, DEFAULT_RESPOND_WITHIN[WarningSeverity.MEDIUM])


def reasons_of(target: WarningTarget) -> list[dict]:
    """Every reason a target has, the main one first: [{"reason", "value", "systems"}] (a target made before every
    reason was kept has its main one only)."""
    kept = [r for r in target.reasons or [] if isinstance(r, dict) and r.get("reason") in TargetReason.values]
    if kept:
        return [{"reason": r["reason"], "value": str(r.get("value") or ""),
                 "systems": [str(n) for n in r.get("systems") or []]} for r in kept]
    return [{"reason": target.reason, "value": target.matched_value, "systems": []}]


def _reason_label(reason: str, *, sender_view: bool):
    """A reason as its reader names it: "Seen by your monitoring" for the organization itself, "Seen by its
    monitoring" for the sender, who reads about another organization."""
    if reason == TargetReason.SEEN and sender_view:
        return _l("Seen by its monitoring")
    return TargetReason(reason).label


def _value_label(reason: str, value: str, names: dict):
    """What a reason's value stands for (a `Text`, or the value as stored): a number of events — those of the
    national campaign the warning was made from (`correlation.event_counts`), said so: the warning's page also
    counts every event the organization's monitoring saw, before the campaign and since —, a province's or
    a sector's name in the reader's language (79 → Thành phố Hồ Chí Minh); an address, a product, an ISAC as
    stored."""
    if reason == TargetReason.SEEN and value.isdigit():
        n = int(value)
        return notifications.Text(ngettext_lazy("%(n)s event during the campaign", "%(n)s events during the campaign",
                                                n), {"n": n})
    return names.get(reason, {}).get(value, value)


def _reason_names(entries) -> dict:
    """{reason: {code: bilingual name}} of the provinces and sectors named by some reasons."""
    from khien.registry.models import Province, Sector

    names = {}
    for reason, model in ((TargetReason.PROVINCE, Province), (TargetReason.SECTOR, Sector)):
        codes = {e["value"] for e in entries if e["reason"] == reason and e["value"]}
        if codes:
            names[reason] = {o.code: notifications.ByLanguage.name_of(o) for o in model.objects.filter(code__in=codes)}
    return names


def _shown(value) -> str:
    return value.render() if isinstance(value, notifications.ByLanguage) else str(value)


def with_matched_labels(targets, *, sender_view: bool = False, reader=None) -> list:
    """The targets, each with `matched_label` (what its main `matched_value` stands for, as a reader names it) and
    `reason_items`: every reason that applies, the main one first, as shown to the reader — {"reason" (its code),
    "label", "detail" (the value named: "29 events", a province's name, an address as stored), "raw" (the stored
    value), "systems" (the names of the registered systems that match: what to check or patch)}. `sender_view`: the sender's list
    of targets, which speaks of each organization ("Seen by its monitoring"); else the organization's own page.
    `reader` (the sender's list): a target's system names are shown only to a reader who may see that organization's
    registry (the coordinator, the organizations above it) — an ISAC sender does not learn its members' systems."""
    targets = list(targets)
    every = {id(t): reasons_of(t) for t in targets}
    names = _reason_names([e for entries in every.values() for e in entries])
    for target in targets:
        target.reason_items = [
            {"reason": e["reason"], "label": str(_reason_label(e["reason"], sender_view=sender_view)),
             "detail": _shown(_value_label(e["reason"], e["value"], names)) if e["value"] else "",
             "raw": e["value"],
             "systems": e["systems"] if reader is None or user_can(reader, Action.VIEW, target.organization) else []}
            for e in every[id(target)]]
        target.matched_label = (_shown(_value_label(target.reason, target.matched_value, names))
                                if target.matched_value else "")
    return targets


def why_text(target: WarningTarget, names: dict | None = None) -> notifications.Text:
    """Why the organization receives the warning, as a `Text` written in its reader's language — every reason,
    each with its value and the matching systems: "Chosen by the sender; Registered product matches: cpe:…
    (matching system: Cổng dịch vụ công)"."""
    entries = reasons_of(target)
    names = _reason_names(entries) if names is None else names
    parts = {}
    for n, e in enumerate(entries):
        label = _reason_label(e["reason"], sender_view=False)
        text = (notifications.Text("%(label)s: %(value)s", {"label": label,
                                                             "value": _value_label(e["reason"], e["value"], names)})
                if e["value"] else notifications.Text(label))
        if e["systems"]:
            text = notifications.Text("%(reason)s (%(systems)s)", {"reason": text, "systems": notifications.Text(
                ngettext_lazy("matching system: %(names)s", "matching systems: %(names)s", len(e["systems"])),
                {"names": ", ".join(e["systems"])})})
        parts[f"r{n}"] = text
    return notifications.Text("; ".join(f"%({key})s" for key in parts), parts)


def not_acknowledged(warning: EarlyWarning):
    """The targets that have not acknowledged the warning yet (for the coordinator and the sender)."""
    return warning.targets.filter(state__isnull=True).select_related("organization").order_by("organization__code")


def is_past_due(warning: EarlyWarning, now=None) -> bool:
    """Has the warning's reply deadline passed (False without a deadline)?"""
    return warning.respond_by is not None and warning.respond_by <= (now or timezone.now())


# Who among a target organization's members answers its warnings: a role that may change things there (its
# administrators and analysts; `can_acknowledge`). They are the ones told of a warning, its reminders and updates,
# urgently when the notice is (e-mailed at once). Those who only read it there — auditors, responders — find it in
# Khiên: told, never urgently (no e-mail at once; in their digest if they asked for every notification). Trainees,
# who are in training, are not sent live warnings (they read their organization's warnings in its inbox).
ANSWERING_ROLES = frozenset(role for role, actions in ROLE_ACTIONS.items() if Action.CHANGE in actions)
READING_ROLES = frozenset({Role.AUDITOR, Role.RESPONDER})


def can_acknowledge(user, target: WarningTarget) -> bool:
    return any(org_id == target.organization_id and role in ANSWERING_ROLES for role, _p, org_id in memberships_of(user))


def _tell_members(organization_ids, *, kind: str, title, body, url: str, urgent: bool) -> int:
    """Notify the members of the target organizations `organization_ids` of a warning's notice: those who answer
    it (`ANSWERING_ROLES`) as `urgent` says, those who only read it (`READING_ROLES`) never urgently, each person
    once (the more urgent way); nobody else. Returns the notifications written."""
    from khien.registry.models import Membership

    answering, reading = {}, {}
    for member in (Membership.objects.filter(organization_id__in=list(organization_ids), user__is_active=True)
                   .select_related("user").order_by("user__email")):
        if member.role in ANSWERING_ROLES:
            answering[member.user_id] = member.user
        elif member.role in READING_ROLES:
            reading[member.user_id] = member.user
    readers = [user for pk, user in reading.items() if pk not in answering]
    told = notifications.notify(list(answering.values()), kind=kind, title=title, body=body, url=url, urgent=urgent)
    return told + notifications.notify(readers, kind=kind, title=title, body=body, url=url, urgent=False)


def _title(warning: EarlyWarning, *, reminder: bool = False, update: WarningUpdate | None = None):
    """The title of every copy of a warning's notice, as a `Text` (each reader's language): its members'
    notifications (and so their e-mails' subjects) and the e-mail to the organization's 24/7 contact — with the
    warning's severity and TLP, the marking each copy carries."""
    about = {"severity": WarningSeverity(warning.severity).label, "tlp": Tlp(warning.tlp).label,
             "title": warning.title}
    if update is not None:
        return notifications.Text(_l("Update %(n)d — early warning (%(severity)s, %(tlp)s): %(title)s"),
                                  {**about, "n": update.number})
    if reminder:
        return notifications.Text(_l("Reminder — early warning (%(severity)s, %(tlp)s): %(title)s"), about)
    return notifications.Text(_l("Early warning (%(severity)s, %(tlp)s): %(title)s"), about)


def _sharing(warning: EarlyWarning):
    """The first line of a member's notice: the warning's TLP, as the contact's e-mail says it ("Sharing: …")."""
    return notifications.Text(_l("Sharing: %(tlp)s."), {"tlp": Tlp(warning.tlp).label})


# --- Issuing ---------------------------------------------------------------------------------------


def _report_object(warning_id, data: dict, sender: Organization, object_refs: list[str], now) -> dict:
    stamp = now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    report = {
        "type": "report",
        "spec_version": "2.1",
        "id": f"report--{uuid.uuid5(warning_id, 'report')}",
        "created": stamp,
        "modified": stamp,
        "created_by_ref": identity_id_for(sender.pk),
        "name": data["title"],
        "description": data.get("summary") or data["title"],
        "report_types": ["threat-report"],
        "published": stamp,
        "object_refs": object_refs,
        "labels": ["early-warning", f"severity-{data.get('severity', WarningSeverity.MEDIUM)}"],
        "object_marking_refs": [tlp.TLP_MARKING[data.get("tlp", Tlp.AMBER)]],
    }
    return report


def _sender_for(user, data: dict, isacs) -> Organization:
    orgs = _org_ids(user)
    wanted = data.get("organization")
    if wanted is not None:
        if not can_issue_for(user, wanted.pk):
            raise Forbidden(_("You can only send warnings in the name of your own organization."))
        return wanted
    if is_national_coordinator(user):
        coordinator_orgs = [o for role, _p, o in memberships_of(user) if role == Role.NATIONAL_COORDINATOR]
        pk = (coordinator_orgs or orgs or [None])[0]
    else:
        pk = isacs[0].operator_id if isacs else operated_isacs(user).values_list("operator_id", flat=True).first()
    if pk is None:
        raise Refused(_("You are not a member of any organization."), code="invalid")
    return Organization.objects.get(pk=pk)


def warning_problems(data: dict, acting_user) -> list[tuple[str | None, str]]:
    """Every problem of a warning's fields, as (field of `data`, message) — None for the whole — without writing:
    a form shows them all at once, beside its own (`forms.WarningForm`), instead of one per submission."""
    return _checked(data, acting_user)[1]


def _validated(data: dict, acting_user) -> dict:
    """The warning's fields, checked all at once: every problem is told in one answer (the form used to show one
    per submission), and nothing is written while any remains."""
    clean, problems = _checked(data, acting_user)
    if problems:
        raise Refused(" ".join(message for _field, message in problems), code="invalid")
    return clean


def _checked(data: dict, acting_user) -> tuple[dict, list[tuple[str | None, str]]]:
    """(the clean fields, every problem as (field, message))."""
    problems: list[tuple[str | None, str]] = []

    def checked(field, check, default=None):
        try:
            return check()
        except Refused as exc:
            problems.append((field, exc.message))
            return default

    title = str(data.get("title") or "").strip()
    if not title or len(title) > 300:
        problems.append(("title", _("Give a title (at most 300 characters).")))
    severity = data.get("severity") or WarningSeverity.MEDIUM
    if severity not in WarningSeverity.values:
        problems.append(("severity", _("Unknown severity.")))
    level = data.get("tlp") or Tlp.AMBER
    if level not in Tlp.values:
        problems.append(("tlp", _("Unknown TLP level.")))
    raw_values = data.get("values") or []
    if not isinstance(raw_values, (list, tuple)) or len(raw_values) > MAX_VALUES:
        problems.append(("values", _("Give at most %(n)d values as a list.") % {"n": MAX_VALUES}))
        raw_values = []
    values = sorted({v for v in (checked("values", lambda raw=raw: classify(raw)) for raw in raw_values)
                     if v is not None})
    cpes = list(dict.fromkeys(data.get("cpes") or []))
    try:
        validate_cpes(cpes)
    except ValidationError as exc:
        problems.extend(("cpes", m) for m in exc.messages)
    vulns = list(dict.fromkeys(data.get("vulnerability_refs") or []))
    bad = [v for v in vulns if not isinstance(v, str) or not _VULN_RE.match(v)]
    if bad:
        problems.append(("vulnerability_refs",
                         _("“%(v)s” is neither a CVE id nor a STIX vulnerability id.") % {"v": str(bad[0])[:200]}))
    refs = list(dict.fromkeys(data.get("indicator_refs") or []))
    if refs:
        # Each id that is no indicator the user may see is named, in the words of the form's picker
        # (`indicator_picker`): whether it does not exist or is not shared with them is not said.
        from .indicator_picker import not_indicator_message, unknown_message

        malformed = [str(r) for r in refs if not (isinstance(r, str) and r.startswith("indicator--"))]
        if malformed:
            problems.append(("indicator_refs", not_indicator_message(malformed)))
        else:
            visible = tlp.visible_versions(acting_user).filter(stix_id__in=refs)
            found = set(visible.values_list("stix_id", flat=True))
            missing = [r[:120] for r in refs if r not in found]
            if missing:
                problems.append(("indicator_refs", unknown_message(missing)))
            # The indicators' own observable values are matched too (only visible versions).
            extra = IndicatorValue.objects.filter(object_id__in=visible.values("pk"), kind__in=MATCH_KINDS) \
                .values_list("kind", "value").distinct()
            values = sorted(set(values) | set(extra))
    respond_by = checked("respond_by", lambda: _respond_by(data.get("respond_by")))
    report_id = str(data.get("report_id") or "")
    if report_id and not _REPORT_RE.match(report_id):
        problems.append(("report_id", _("The report reference must be a STIX report id.")))
    collection = data.get("collection")
    if collection is not None and not isinstance(collection, Collection):
        problems.append(("collection", _("Unknown collection.")))
    elif collection is not None and report_id:
        problems.append((None, _("Give either a report reference or a collection to store a new report in, "
                                 "not both.")))
    return {"title": title, "summary": str(data.get("summary") or ""), "severity": severity, "tlp": level,
            "values": values, "cpes": cpes, "vulnerability_refs": vulns, "indicator_refs": refs,
            "report_id": report_id, "collection": collection, "organization": data.get("organization"),
            "respond_by": respond_by}, problems


def _respond_by(value):
    """The reply deadline: none, or a time in the future at most `RESPOND_BY_MAX` ahead (Refused otherwise)."""
    if value in (None, ""):
        return None
    if not isinstance(value, dt.datetime):
        raise Refused(_("Give the reply deadline as a date and time."), code="invalid")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    now = timezone.now()
    if value <= now:
        raise Refused(_("The reply deadline must be in the future."), code="invalid")
    if value > now + RESPOND_BY_MAX:
        raise Refused(_("The reply deadline can be at most %(days)d days ahead.") % {"days": RESPOND_BY_MAX.days},
                      code="invalid")
    return value


def _candidate_targets(clean: dict, acting_user, *, sectors, provinces, isacs, organizations, auto_match,
                       seen=None, sender=None) -> dict:
    """{organization id: (reason, matched value)}; restricted to the ISAC members for an ISAC operator. `seen`
    ({organization id: events}) says which of the chosen organizations their own monitoring saw it at. A warning to
    an ISAC reaches its members and its operating organization (it coordinates its sector's response), unless the
    operator is the `sender`."""
    coordinator = is_national_coordinator(acting_user)
    allowed = None
    if not coordinator:
        operated = list(operated_isacs(acting_user))
        if not operated:
            raise Forbidden(str(ISSUERS_ONLY))
        operated_ids = {i.pk for i in operated}
        if any(i.pk not in operated_ids for i in isacs):
            raise Forbidden(_("You can only target the ISACs your organization operates."))
        allowed = set(Organization.objects.filter(isacs__in=operated).values_list("pk", flat=True))
        outside = [o for o in organizations if o.pk not in allowed]
        if outside:
            raise Forbidden(_("%(org)s is not a member of an ISAC your organization operates.")
                            % {"org": outside[0].code})
    targets: dict = {}  # {org id: {(reason, value): systems}}

    def add(org_id, reason, value="", systems=()):
        if allowed is not None and org_id not in allowed:
            return
        targets.setdefault(org_id, {}).setdefault((reason, value), list(systems))

    active = Organization.objects.filter(is_active=True)
    seen = seen or {}
    for org in organizations:
        if seen.get(org.pk):
            add(org.pk, TargetReason.SEEN, str(seen[org.pk]))
        else:
            add(org.pk, TargetReason.CHOSEN)
    for isac in isacs:
        for org_id in isac.members.filter(is_active=True).values_list("pk", flat=True):
            add(org_id, TargetReason.ISAC, isac.code)
        # The operator runs the ISAC: it hears of what its members are told (its own warning excepted).
        if isac.operator_id != getattr(sender, "pk", sender) and isac.operator.is_active:
            targets.setdefault(isac.operator_id, {}).setdefault((TargetReason.ISAC, isac.code), [])
    for sector in sectors:
        for org_id in active.filter(sectors=sector).values_list("pk", flat=True):
            add(org_id, TargetReason.SECTOR, sector.code)
    for province in provinces:
        for org_id in active.filter(province=province).values_list("pk", flat=True):
            add(org_id, TargetReason.PROVINCE, province.code)
    if auto_match:
        lists = warninglists.compiled()
        usable = [(k, v) for k, v in clean["values"] if not warninglists.hits(k, v, lists)]
        inactive = set(Organization.objects.filter(is_active=False).values_list("pk", flat=True))
        for org_id, match in match_organizations(usable, clean["cpes"]).items():
            if org_id not in inactive:
                for reason, value, systems in match.all or ((match.reason, match.value, ()),):
                    add(org_id, reason, value, systems)
    # Every reason kept, the most specific first (the main one, `WarningTarget.reason`).
    return {org_id: [{"reason": reason, "value": value[:2048], "systems": list(systems)}
                     for (reason, value), systems in sorted(keyed.items(),
                                                            key=lambda item: REASON_ORDER.index(item[0][0]))]
            for org_id, keyed in targets.items()}


def preview_targets(data: dict, *, acting_user, sectors=(), provinces=(), isacs=(), organizations=(),
                    auto_match: bool = True) -> dict:
    """Whom a warning would reach, before it is sent (nothing is written): {"total": organizations, "matched":
    those reached only because their registered systems match (auto-match)}. Refused as `do_issue_warning`
    would refuse the same input."""
    if not can_issue(acting_user):
        raise Forbidden(str(ISSUERS_ONLY))
    clean = _validated(data, acting_user)
    isacs = list(isacs)
    targets = _candidate_targets(clean, acting_user, sectors=list(sectors), provinces=list(provinces),
                                 isacs=isacs, organizations=list(organizations), auto_match=auto_match,
                                 sender=_sender_for(acting_user, clean, isacs))
    matched = TargetReason.MATCHED_IP, TargetReason.MATCHED_DOMAIN, TargetReason.MATCHED_PRODUCT
    only_matched = sum(1 for entries in targets.values() if all(e["reason"] in matched for e in entries))
    return {"total": len(targets), "matched": only_matched}


def _target_rows(warning: EarlyWarning, targets: dict) -> list[WarningTarget]:
    """The WarningTarget rows of `targets` ({org id: every reason, the main one first}), written."""
    rows = WarningTarget.objects.bulk_create([
        WarningTarget(warning=warning, organization_id=org_id, reason=entries[0]["reason"],
                      matched_value=entries[0]["value"][:2048], reasons=entries)
        for org_id, entries in sorted(targets.items(), key=lambda item: str(item[0]))
    ])
    return rows


def _audit_targets(warning: EarlyWarning, rows, acting_user):
    audit.record_many([Change(action=Act.CREATE, object_type="intel.warningtarget", object_id=str(t.pk or ""),
                              object_repr=f"{warning.title} → {t.organization_id}",
                              organization_id=str(t.organization_id),
                              after={"warning": str(warning.pk), "organization": str(t.organization_id),
                                     "reason": t.reason, "matched_value": t.matched_value, "reasons": t.reasons})
                       for t in rows], actor=acting_user)


def _announce(warning: EarlyWarning, rows) -> None:
    """Tell the target organizations of `rows` of the warning, the one way for the first targets and for those
    added later: an in-platform notification to their members (urgent for a high or critical warning, so e-mailed
    at once) saying why their organization receives it and by when to answer, and, after the commit, the e-mail
    to each one's 24/7 contact address (`notify_targets`)."""
    warning_id = warning.pk
    deadline = (notifications.Text(_l("Please answer by %(deadline)s (Vietnam time)."),
                                    {"deadline": shown_time(warning.respond_by)})
                if warning.respond_by is not None else None)
    title = _title(warning)
    url = reverse("intel:warning_detail", args=[warning_id])
    names = _reason_names([e for row in rows for e in reasons_of(row)])
    values = _notice_values(warning)
    groups: dict = {}  # the organizations told the same, told at once
    for row in rows:
        entries = reasons_of(row)
        key = tuple((e["reason"], e["value"], tuple(e["systems"])) for e in entries)
        groups.setdefault(key, (row, []))[1].append(row.organization_id)
    for key, (row, org_ids) in groups.items():
        # "Chosen by the sender" alone tells the members nothing they do not know: the reason is written when it
        # says something (which systems match, a sector, what their monitoring saw…).
        why = (notifications.Text(_l("Why your organization receives it: %(why)s."), {"why": why_text(row, names)})
               if key != ((TargetReason.CHOSEN, "", ()),) else None)
        _tell_members(org_ids, kind="intel.warning", title=title,
                      body=notifications.lines(_sharing(warning), warning.summary, values, why, deadline),
                      url=url, urgent=warning.severity in (WarningSeverity.HIGH, WarningSeverity.CRITICAL))
    ids = [row.organization_id for row in rows]
    transaction.on_commit(lambda: notify_targets(warning_id, organization_ids=ids))


@transaction.atomic
def do_issue_warning(data: dict, *, acting_user, sectors=(), provinces=(), isacs=(), organizations=(),
                     auto_match: bool = True, seen: dict | None = None) -> EarlyWarning:
    """Issue an early warning to the organizations chosen and matched; audit it; e-mail each target.

    `data`: title, summary, severity, tlp, values (IP/CIDR/domain strings),
    cpes (affected products), vulnerability_refs (CVE or STIX ids),
    indicator_refs (stored indicator ids the user may see: their values are
    matched too), and either report_id (an existing STIX report) or collection
    (a new STIX report is stored there through `do_add_objects`; a TLP:RED one
    names the targets as recipients); organization (the sender, one of the
    user's organizations; defaults to theirs); respond_by (optional reply
    deadline, an aware datetime). `seen` ({organization id: events}, a national campaign's warning): of the
    `organizations`, those whose own monitoring saw it are told so ("Seen by your monitoring: N events").
    """
    if not can_issue(acting_user):
        raise Forbidden(str(ISSUERS_ONLY))
    sectors, provinces, isacs, organizations = list(sectors), list(provinces), list(isacs), list(organizations)
    clean = _validated(data, acting_user)
    sender = _sender_for(acting_user, clean, isacs)
    targets = _candidate_targets(clean, acting_user, sectors=sectors, provinces=provinces, isacs=isacs,
                                 organizations=organizations, auto_match=auto_match, seen=seen, sender=sender)
    if not targets:
        raise Refused(_("No organization is targeted: choose sectors, provinces, ISACs or organizations, "
                        "or give values that match registered systems."), code="no_targets")

    now = timezone.now()
    warning = EarlyWarning(
        title=clean["title"], summary=clean["summary"], severity=clean["severity"], tlp=clean["tlp"],
        report_id=clean["report_id"], collection=clean["collection"], indicator_refs=clean["indicator_refs"],
        vulnerability_refs=clean["vulnerability_refs"],
        values=[{"kind": k, "value": v} for k, v in clean["values"]], cpes=clean["cpes"],
        created_by=acting_user, organization=sender, created_at=now, respond_by=clean["respond_by"],
    )
    if clean["collection"] is not None:
        from . import services

        object_refs = clean["indicator_refs"] + [v for v in clean["vulnerability_refs"]
                                                 if v.startswith("vulnerability--")]
        report = _report_object(warning.id, clean, sender, object_refs or [identity_id_for(sender.pk)], now)
        recipients = list(Organization.objects.filter(pk__in=targets)) if clean["tlp"] == Tlp.RED else None
        # Its targets are told of the warning itself (`_announce`), not again of its report.
        services.do_add_objects(clean["collection"], [report], acting_user=acting_user, recipients=recipients,
                                tell_recipients=False)
        warning.report_id = report["id"]
    warning.save()
    rows = _target_rows(warning, targets)
    audit.record(Act.CREATE, warning, actor=acting_user, organization_id=str(sender.pk))
    _audit_targets(warning, rows, acting_user)
    _announce(warning, rows)
    return warning


@transaction.atomic
def do_add_targets(warning: EarlyWarning, targets: dict, *, acting_user) -> list[WarningTarget]:
    """Send an issued warning to more organizations: `targets` {organization: (reason, value)}. They are told as
    the first targets were (`_announce`: their members notified, their 24/7 contact e-mailed), with the warning as
    it stands; each new target is audited. Refused, nothing written: 403 to whoever may not follow the warning up
    (`can_follow_up`); 409 for an organization that has the warning already or is inactive; 409 for a TLP:RED
    warning stored as a report (its report names its recipients)."""
    if not can_follow_up(acting_user, warning):
        raise Forbidden(_("Only those who may issue warnings for the sender organization, or the national "
                          "coordinator, can send this warning to more organizations."))
    warning = EarlyWarning.objects.select_for_update(of=("self",)).get(pk=warning.pk)
    if not targets:
        raise Refused(_("Choose the organizations to send the warning to."), code="no_targets")
    if warning.tlp == Tlp.RED and warning.collection_id is not None:
        raise Refused(_("A TLP:RED warning's report names its recipients: issue a new warning to reach more "
                        "organizations."), code="conflict", status=409)
    orgs = {o.pk: o for o in Organization.objects.filter(pk__in=[getattr(o, "pk", o) for o in targets])}
    already = set(warning.targets.filter(organization_id__in=list(orgs)).values_list("organization__code",
                                                                                      flat=True))
    if already:
        raise Refused(_("Already sent to: %(orgs)s.") % {"orgs": ", ".join(sorted(already))},
                      code="already_targeted", status=409)
    inactive = sorted(o.code for o in orgs.values() if not o.is_active)
    if inactive or len(orgs) != len(targets):
        raise Refused(_("Not an active organization: %(orgs)s.") % {"orgs": ", ".join(inactive) or "?"},
                      code="invalid")
    entries = {getattr(o, "pk", o): [{"reason": reason, "value": str(value or "")[:2048], "systems": []}]
               for o, (reason, value) in targets.items()}
    rows = _target_rows(warning, entries)
    _audit_targets(warning, rows, acting_user)
    audit.record(Act.UPDATE, warning, actor=acting_user, organization_id=str(warning.organization_id),
                 before={}, after={"targets_added": sorted(orgs[t.organization_id].code for t in rows)})
    _announce(warning, rows)
    return rows


# --- Acknowledging ---------------------------------------------------------------------------------


@transaction.atomic
def do_acknowledge(target: WarningTarget, state: str, note: str = "", *, acting_user) -> WarningTarget:
    """Record the target organization's answer: received, acted or not affected (may be changed later). The one
    who answers has read the warning: their notifications about it are marked read (`mark_warning_read`)."""
    if not can_acknowledge(acting_user, target):
        raise Forbidden(_("Only the administrators and analysts of the target organization can answer this warning."))
    if state not in AckState.values:
        raise Refused(_("The state must be received, acted or not affected."), code="invalid")
    note = str(note or "")
    if len(note) > 10000:
        raise Refused(_("The note is too long."), code="invalid")
    target = WarningTarget.objects.select_for_update().get(pk=target.pk)
    before = audit.snapshot(target)
    target.state, target.note = state, note
    target.acknowledged_by, target.acknowledged_at = acting_user, timezone.now()
    target.save(update_fields=["state", "note", "acknowledged_by", "acknowledged_at"])
    audit.record(Act.UPDATE, target, actor=acting_user, before=before)
    mark_warning_read(acting_user, target.warning_id)
    return target


def mark_warning_read(user, warning_id) -> int:
    """Mark read the user's own notifications about one warning (issued, reminded, updated, its deadline: every
    notice linking to its page); returns how many changed."""
    from khien.core.models import Notification

    url = reverse("intel:warning_detail", args=[warning_id])
    ids = Notification.objects.filter(recipient=user, read_at__isnull=True, kind__startswith="intel.warning",
                                      url=url).values_list("pk", flat=True)
    return notifications.mark_read(user, list(ids))


# --- Following up ----------------------------------------------------------------------------------


def _answer_request(warning: EarlyWarning):
    """What a reminder asks, as a `Text` (each reader's language): answer, by the deadline if there is one."""
    sender = notifications.ByLanguage.name_of(warning.organization)
    if warning.respond_by is not None:
        return notifications.Text(_l("%(sender)s is waiting for your organization's answer to this warning "
                                     "(received, acted or not affected), due by %(deadline)s."),
                                  {"sender": sender, "deadline": shown_time(warning.respond_by)})
    return notifications.Text(_l("%(sender)s is waiting for your organization's answer to this warning "
                                 "(received, acted or not affected)."), {"sender": sender})


@transaction.atomic
def do_remind_warning(warning: EarlyWarning, *, acting_user) -> list[WarningTarget]:
    """Remind the target organizations that have not answered: notify their members (urgent) and e-mail their
    contact address again, as at issue; stamp `reminded_at` on each and audit once. Refused (409) when a
    reminder went out less than `REMIND_INTERVAL` ago or everyone has answered; nothing is sent then."""
    if not can_follow_up(acting_user, warning):
        raise Forbidden(_("Only those who may issue warnings for the sender organization, or the national "
                          "coordinator, can send reminders."))
    # The lock makes two reminders at once wait for each other: the second sees the first one's stamps.
    warning = EarlyWarning.objects.select_for_update(of=("self",)).select_related("organization").get(pk=warning.pk)
    now = timezone.now()
    last = warning.targets.exclude(reminded_at=None).order_by("-reminded_at").values_list("reminded_at", flat=True) \
        .first()
    if last is not None and now - last < REMIND_INTERVAL:
        raise Refused(_("A reminder was sent at %(last)s: the next one can be sent after %(next)s.")
                      % {"last": shown_time(last), "next": shown_time(last + REMIND_INTERVAL)},
                      code="reminded_recently", status=409)
    silent = list(not_acknowledged(warning))
    if not silent:
        raise Refused(_("Every target organization has answered: there is nobody to remind."),
                      code="nothing_to_remind", status=409)
    ids = [t.organization_id for t in silent]
    WarningTarget.objects.filter(pk__in=[t.pk for t in silent]).update(reminded_at=now)
    for target in silent:
        target.reminded_at = now
    audit.record(Act.UPDATE, warning, actor=acting_user, organization_id=str(warning.organization_id),
                 before={}, after={"reminded_at": now.isoformat(),
                                   "reminded": sorted(t.organization.code for t in silent)})
    warning_id = warning.pk
    _tell_members(ids, kind="intel.warning_reminder", title=_title(warning, reminder=True),
                  body=notifications.lines(_sharing(warning), _answer_request(warning)),
                  url=reverse("intel:warning_detail", args=[warning_id]), urgent=True)
    transaction.on_commit(lambda: notify_targets(warning_id, organization_ids=ids, reminder=True))
    return silent


def _updating_organization(user, warning: EarlyWarning):
    """In whose name `user` updates the warning: the sender organization when they may issue for it, else the
    national coordinator's organization (None for a superuser who is a member of none)."""
    if can_issue_for(user, warning.organization_id):
        return warning.organization
    pk = next((o for role, _p, o in memberships_of(user) if role == Role.NATIONAL_COORDINATOR), None)
    return Organization.objects.filter(pk=pk).first() if pk is not None else None


def _update_body(update: WarningUpdate, *, answered: bool):
    """What a target is told of an update, as a `Text` (each reader's language); the update's own text is shown
    as its author wrote it, like the warning's."""
    deadline = None
    if update.deadline_changed and update.respond_by is not None:
        deadline = notifications.Text(_l("New reply deadline: %(deadline)s."),
                                      {"deadline": shown_time(update.respond_by)})
    elif update.deadline_changed:
        deadline = notifications.Text(_l("The reply deadline was removed."))
    check = notifications.Text(_l("Your organization answered before this update: check that your answer still "
                                  "holds, and change it on the warning's page if not.")) if answered else None
    return notifications.lines(deadline, update.text, check)


@transaction.atomic
def do_update_warning(warning: EarlyWarning, *, text: str = "", respond_by=UNCHANGED, acting_user) -> WarningUpdate:
    """Add an update to an issued warning: a text saying what changed and/or a new reply deadline (`respond_by`:
    an aware datetime in the future at most `RESPOND_BY_MAX` ahead, None to remove it, `UNCHANGED` to keep it).

    The warning's own text stays as issued. Every target organization is notified (its members, in their own
    language, and its contact address by e-mail) — those that have already answered too: their answer is kept and
    they are asked to check it. Audited. Refused (400) when the text is too long, the deadline out of bounds, or
    nothing would change; 403 to whoever may not follow the warning up (`can_follow_up`)."""
    if not can_follow_up(acting_user, warning):
        raise Forbidden(_("Only those who may issue warnings for the sender organization, or the national "
                          "coordinator, can update this warning."))
    if text is not None and not isinstance(text, str):
        raise Refused(_("The update text must be text."), code="invalid")
    text = (text or "").strip()
    if len(text) > UPDATE_TEXT_MAX:
        raise Refused(_("The update text can be at most %(n)d characters.") % {"n": UPDATE_TEXT_MAX},
                      code="invalid")
    try:
        no_control_characters(text)  # as the pages' and the API's text fields (a NUL breaks PostgreSQL)
    except ValidationError as exc:
        raise Refused(" ".join(exc.messages), code="invalid")
    new_deadline = UNCHANGED if respond_by is UNCHANGED else _respond_by(respond_by)
    # The lock orders two updates at once (numbers, the deadline each one saw before).
    warning = EarlyWarning.objects.select_for_update(of=("self",)).select_related("organization").get(pk=warning.pk)
    before_deadline = warning.respond_by
    deadline_changed = new_deadline is not UNCHANGED and new_deadline != before_deadline
    if not text and not deadline_changed:
        raise Refused(_("Nothing to update: write what changed, or give a new reply deadline."),
                      code="nothing_changed")
    now = timezone.now()
    last = warning.updates.order_by("-number").values_list("number", flat=True).first() or 0
    update = WarningUpdate.objects.create(
        warning=warning, number=last + 1, text=text, deadline_changed=deadline_changed,
        respond_by_before=before_deadline, respond_by=new_deadline if deadline_changed else before_deadline,
        organization=_updating_organization(acting_user, warning), created_by=acting_user, created_at=now)
    changes = [Change(action=Act.CREATE, obj=update, organization_id=str(warning.organization_id),
                      after=audit.snapshot(update))]
    if deadline_changed:
        before = audit.snapshot(warning)
        # A new deadline may pass again: the sender is then told again (the "told once" mark is for one deadline).
        warning.respond_by, warning.overdue_told_at = update.respond_by, None
        warning.save(update_fields=["respond_by", "overdue_told_at"])
        changes.append(Change(action=Act.UPDATE, obj=warning, organization_id=str(warning.organization_id),
                              before=before, after=audit.snapshot(warning)))
    audit.record_many(changes, actor=acting_user)

    warning_id = warning.pk
    title = _title(warning, update=update)
    url = reverse("intel:warning_detail", args=[warning_id])
    urgent = deadline_changed or warning.severity in (WarningSeverity.HIGH, WarningSeverity.CRITICAL)
    answered = set(warning.targets.exclude(state__isnull=True).values_list("organization_id", flat=True))
    everyone = list(warning.targets.values_list("organization_id", flat=True))
    for group, has_answered in ((answered, True), ([o for o in everyone if o not in answered], False)):
        if group:
            _tell_members(group, kind="intel.warning_update", title=title,
                          body=notifications.lines(_sharing(warning), _update_body(update, answered=has_answered)),
                          url=url, urgent=urgent)
    update_id = update.pk
    transaction.on_commit(lambda: notify_targets(warning_id, update_id=update_id))
    return update


def updates_of(warning: EarlyWarning):
    """A warning's updates in order, with who made them."""
    return warning.updates.select_related("created_by", "organization").order_by("number")


def _sender_people(warning: EarlyWarning) -> list:
    """Who is told about the sender's warning: its author, else the sender organization's administrators."""
    if warning.created_by is not None and warning.created_by.is_active:
        return [warning.created_by]
    return list(Organization.objects.filter(pk=warning.organization_id))


def tell_senders_of_missed_deadlines(now=None) -> int:
    """Tell each sender once that a warning's deadline passed with targets still silent (the "told once" mark
    `overdue_told_at`, set under a row lock: idempotent, also with two workers). Returns the warnings told."""
    now = now or timezone.now()
    silent = WarningTarget.objects.filter(warning_id=OuterRef("pk"), state__isnull=True)
    due = EarlyWarning.objects.filter(respond_by__lte=now, overdue_told_at__isnull=True).filter(Exists(silent))
    told = 0
    for pk in due.values_list("pk", flat=True).iterator(chunk_size=500):
        with transaction.atomic():
            warning = EarlyWarning.objects.select_for_update(of=("self",)).select_related("created_by") \
                .filter(pk=pk, overdue_told_at__isnull=True).first()
            if warning is None:
                continue  # told by another worker meanwhile
            codes = list(not_acknowledged(warning).values_list("organization__code", flat=True))
            if not codes:
                continue
            before = audit.snapshot(warning)
            warning.overdue_told_at = now
            warning.save(update_fields=["overdue_told_at"])
            audit.record(Act.UPDATE, warning, actor=None, before=before)
            n = len(codes)
            notifications.notify(
                _sender_people(warning), roles=[Role.ORG_ADMIN, Role.NATIONAL_COORDINATOR],
                kind="intel.warning_overdue",
                title=notifications.Text(ngettext_lazy(
                    "Reply deadline passed: %(n)d organization has not answered “%(title)s”",
                    "Reply deadline passed: %(n)d organizations have not answered “%(title)s”", n),
                    {"n": n, "title": warning.title}),
                body=notifications.Text(_l("Not answered yet: %(orgs)s. You can remind them from the warning's "
                                           "page."), {"orgs": ", ".join(codes)}),
                url=reverse("intel:warning_detail", args=[warning.pk]))
            told += 1
    return told


# --- E-mail ----------------------------------------------------------------------------------------

EMAIL_LISTED_MAX = 30  # values, CVE ids or products written out in one e-mail; the rest are counted


def named_indicator_values(warning: EarlyWarning) -> tuple[list[tuple[str, str]], int]:
    """(kind, value) of the indicators a warning names (`indicator_refs`: their latest versions, not revoked) that
    may go out with it, and how many such indicators may not: one shared at a stricter TLP than the warning's stays
    in the platform. The warning's own `values` hold only their addresses and domains (what matching uses): a
    file hash or a URL is only here."""
    refs = [r for r in warning.indicator_refs or [] if isinstance(r, str)]
    if not refs:
        return [], 0
    latest = {}
    for row in StixObject.objects.filter(stix_id__in=refs).only("pk", "stix_id", "tlp", "revoked").order_by("modified"):
        latest[row.stix_id] = row
    allowed = tlp.RESTRICTIVENESS.index(warning.tlp) if warning.tlp in tlp.RESTRICTIVENESS else 0
    kept = [row.pk for row in latest.values()
            if not row.revoked and tlp.RESTRICTIVENESS.index(row.tlp) <= allowed]
    stricter = len([row for row in latest.values() if not row.revoked and row.pk not in kept])
    values = list(dict.fromkeys(IndicatorValue.objects.filter(object_id__in=kept).order_by("kind", "value")
                                .values_list("kind", "value")))
    return values, stricter


NOTICE_LISTED_MAX = 10  # values written out in the members' notice of a warning; the rest are counted


def _warning_value_pairs(warning: EarlyWarning) -> tuple[list[tuple[str, str]], int]:
    """(kind, value) of what a warning asks to look for — its own values and those of the indicators it names that
    may go out with it (`named_indicator_values`) — once each, and how many named indicators may not."""
    pairs = [(str(v.get("kind") or ""), str(v.get("value") or "")) for v in warning.values or []
             if isinstance(v, dict)]
    named, stricter = named_indicator_values(warning)
    return list(dict.fromkeys(pairs + named)), stricter


def _notice_values(warning: EarlyWarning):
    """The values of a warning for its members' notice (e-mailed to them at once when urgent), as a `Text`: the
    first NOTICE_LISTED_MAX one a line, the others counted; None when it names none. At TLP:RED they stay in the
    platform, as in the e-mail to the 24/7 contact: the notice says where to read them."""
    if warning.tlp == Tlp.RED:
        if warning.values or warning.indicator_refs:
            return notifications.Text(_l("Its values are TLP:RED: read them on the warning's page in Khiên."))
        return None
    pairs, _stricter = _warning_value_pairs(warning)
    if not pairs:
        return None
    values = [value for _kind, value in pairs]
    more = len(values) - NOTICE_LISTED_MAX
    return notifications.lines(
        notifications.Text(_l("Values to look for and block:")),
        "\n".join(f"- {value}" for value in values[:NOTICE_LISTED_MAX]),
        notifications.Text(ngettext_lazy("… and %(n)d more value", "… and %(n)d more values", more), {"n": more})
        if more > 0 else None)


def _email_details(warning: EarlyWarning, target: WarningTarget | None) -> list[str]:
    """What a duty officer, who may not use Khiên, acts on: why the organization received the warning, and the
    values (its own and those of the indicators it names), CVE ids and products it names — except at TLP:RED,
    whose values stay in the platform (the e-mail then says so and gives the link). A value on a warning list
    (8.8.8.8, a private range…) is marked: blocking it would cut a service."""
    lines = []
    if target is not None:
        lines += [_("Why your organization receives it: %(why)s.") % {"why": why_text(target)}, ""]
    if warning.tlp == Tlp.RED:
        if warning.values or warning.vulnerability_refs or warning.cpes or warning.indicator_refs:
            lines += [_("Its values are TLP:RED: read them in Khiên (link below)."), ""]
        return lines
    pairs, stricter = _warning_value_pairs(warning)
    lists = warninglists.compiled()
    values = []
    for kind, value in pairs:
        names = warninglists.hits(kind, value, lists) if kind else []
        if names:
            value = "{} ({})".format(value, _("on a warning list: %(lists)s, check before blocking")
                                     % {"lists": ", ".join(warninglists.list_label(n) for n in names)})
        values.append(value)
    for title, items in ((_("Values to look for and block:"), values),
                         (_("Vulnerabilities (CVE):"), warning.vulnerability_refs),
                         (_("Affected products (CPE):"), warning.cpes)):
        if not items:
            continue
        lines.append(title)
        lines += [f"  - {item}" for item in items[:EMAIL_LISTED_MAX]]
        if len(items) > EMAIL_LISTED_MAX:
            lines.append("  " + _("… and %(n)d more, in Khiên.") % {"n": len(items) - EMAIL_LISTED_MAX})
        lines.append("")
    if stricter:
        lines += [ngettext("%(n)d indicator named by the warning is shared at a stricter TLP: read it in Khiên.",
                           "%(n)d indicators named by the warning are shared at a stricter TLP: read them in Khiên.",
                           stricter) % {"n": stricter}, ""]
    return lines


def notify_targets(warning_id, organization_ids=None, *, reminder: bool = False, update_id=None) -> int:
    """One e-mail to each target organization's contact address (only those in `organization_ids` if given; a
    reminder says so in its subject; with `update_id`, the e-mail of that update of the warning); returns the
    number sent."""
    warning = EarlyWarning.objects.select_related("organization").filter(pk=warning_id).first()
    if warning is None:
        return 0
    update = WarningUpdate.objects.filter(pk=update_id, warning=warning).first() if update_id is not None else None
    orgs = Organization.objects.filter(warning_targets__warning=warning).exclude(contact_email="") \
        .order_by("code").distinct()
    if organization_ids is not None:
        orgs = orgs.filter(pk__in=list(organization_ids))
    messages = []
    targets = {t.organization_id: t for t in WarningTarget.objects.filter(warning=warning, organization__in=orgs)}
    link = settings.KHIEN_PUBLIC_URL.rstrip("/") + reverse("intel:warning_detail", args=[warning.pk])
    with translation.override(settings.LANGUAGE_CODE):
        for org in orgs:
            # The members' notification title (`_title`: severity and TLP), as their own e-mails' subjects say it.
            subject = _("[Khiên] %(title)s") % {"title": _title(warning, reminder=reminder, update=update).render()}
            deadline = []
            if warning.respond_by is not None:
                deadline = [_("Please answer by %(deadline)s (Vietnam time).")
                            % {"deadline": shown_time(warning.respond_by)}]
            changed = []
            if update is not None:
                changed = [_("Update %(n)d to the early warning sent to %(org)s by %(sender)s, on %(at)s:")
                           % {"n": update.number, "org": org.name, "sender": warning.organization.name,
                              "at": shown_time(update.created_at)}, ""]
                if update.deadline_changed:
                    changed.append(_("New reply deadline: %(deadline)s.") % {"deadline": shown_time(update.respond_by)}
                                   if update.respond_by is not None else _("The reply deadline was removed."))
                if update.text:
                    changed.append(update.text)
                changed += ["", _("The warning as issued:")]
                intro = []
            else:
                intro = [_("Early warning sent to %(org)s by %(sender)s.")
                         % {"org": org.name, "sender": warning.organization.name}, ""]
            body = "\n".join([
                *changed,
                *intro,
                warning.title,
                "",
                warning.summary,
                "",
                *_email_details(warning, targets.get(org.pk)),
                _("Sharing: %(tlp)s. Open your warnings inbox in Khiên and acknowledge this warning "
                  "(received, acted or not affected).") % {"tlp": warning.get_tlp_display()},
                *deadline,
                _("Open the warning: %(url)s") % {"url": link},
                _("Warning id: %(id)s") % {"id": warning.pk},
            ])
            messages.append(EmailMessage(subject.replace("\n", " ")[:250], body, settings.DEFAULT_FROM_EMAIL,
                                         [org.contact_email]))
    if not messages:
        return 0
    try:
        return get_connection().send_messages(messages) or 0
    except Exception:  # the warning is stored; a mail outage must not undo it
        log.exception("early warning %s: e-mail notification failed", warning_id)
        return 0


# --- What a reader takes from a warning, and the warnings citing the same values ---------------------


@dataclass
class ExportValue:
    """One value a reader takes out of a warning: its kind, the most restrictive TLP of what gives it (the warning
    for its own values, each indicator for its values), the indicators carrying it (ids and names) and the warning
    lists it hits (blocking it would cut a service)."""
    kind: str
    value: str
    tlp: str
    indicators: list
    names: list
    lists: list


def _stricter(a: str, b: str) -> str:
    order = tlp.RESTRICTIVENESS
    return max(a, b, key=lambda level: order.index(level) if level in order else 0)


def export_values(user, warning: EarlyWarning) -> list[ExportValue]:
    """The values `user` takes out of `warning` (its page's downloads, the blocklists narrowed to it — one rule,
    `blocklists.acting_versions`): its own values, and those of the acting indicators it names that the user may
    see (a TLP:RED one the user may not see gives nothing). Once per value, sorted by kind then value."""
    from . import blocklists

    found: dict[tuple[str, str], ExportValue] = {}
    for kind, value in blocklists.warning_own_values(warning):
        found.setdefault((kind, value), ExportValue(kind, value, warning.tlp, [], [], []))
    versions = blocklists.acting_versions(user, narrowing=blocklists.Narrowing(warning=warning))
    for row in IndicatorValue.objects.filter(object_id__in=versions.values("pk")).select_related("object") \
            .order_by("object__stix_id"):
        item = found.get((row.kind, row.value))
        if item is None:
            item = found[(row.kind, row.value)] = ExportValue(row.kind, row.value, row.object.tlp, [], [], [])
        else:
            item.tlp = _stricter(item.tlp, row.object.tlp)
        if row.object.stix_id not in item.indicators:
            item.indicators.append(row.object.stix_id)
            item.names.append(str((row.object.data or {}).get("name") or ""))
    lists = warninglists.compiled()
    kinds = list(IndicatorKind.values)
    out = sorted(found.values(), key=lambda v: (kinds.index(v.kind) if v.kind in kinds else len(kinds), v.value))
    for item in out:
        item.lists = warninglists.hits(item.kind, item.value, lists)
    return out


# Indicator labels that say command-and-control (STIX has no indicator type for it: producers label it).
C2_LABELS = frozenset({"c2", "c&c", "cnc", "c2-server", "botnet-c2", "command-and-control", "command and control"})


def names_c2(indicators) -> bool:
    """Does one of the indicators (visible versions) carry a command-and-control label: a contact with its value
    means a compromised system, an incident to report."""
    return any(str(label).strip().lower() in C2_LABELS
               for i in indicators for label in ((i.data or {}).get("labels") or []) if isinstance(label, str))


CITING_MAX = 20  # related warnings listed
CITING_VALUES_MAX = 200  # values and indicator ids looked for (a warning may give thousands)


def warnings_citing(user, *, values=(), refs=(), exclude=None, limit: int = CITING_MAX) -> list[EarlyWarning]:
    """The early warnings `user` may see (`warnings_visible_to`) that cite one of `values` — among their own
    values, or carried by an indicator they name that the user may see — or name one of the indicators `refs`;
    newest first, at most `limit`; `exclude`: a warning left out (the one being read).

    Looked for in the JSON text of the warnings' `values` and `indicator_refs` as quoted strings (the same on
    SQLite and PostgreSQL): a quoted value is the whole value, never a part of another."""
    import json

    from django.db.models import TextField
    from django.db.models.functions import Cast

    values = [v for v in dict.fromkeys(str(v) for v in values if v)][:CITING_VALUES_MAX]
    refs = {str(r) for r in refs if r}
    if values:
        refs |= set(tlp.visible_versions(user).filter(stix_type="indicator", indicator_values__value__in=values)
                    .values_list("stix_id", flat=True).distinct()[:CITING_VALUES_MAX])
    if not values and not refs:
        return []
    cited = Q()
    for value in values:
        cited |= Q(values_text__contains=json.dumps(value))
    for ref in sorted(refs)[:CITING_VALUES_MAX]:
        cited |= Q(refs_text__contains=json.dumps(ref))
    found = warnings_visible_to(user).annotate(values_text=Cast("values", TextField()),
                                               refs_text=Cast("indicator_refs", TextField())).filter(cited)
    if exclude is not None:
        found = found.exclude(pk=exclude.pk)
    return list(found.select_related("organization").order_by("-created_at")[:limit])


def related_warnings(user, warning: EarlyWarning, indicator_values=()) -> list[EarlyWarning]:
    """The other warnings `user` may see citing one of the values of `warning` (its own, and `indicator_values`:
    those of its indicators the user sees) or one of its indicators the user may see — often the same wave warned
    twice, by the coordinator and by an ISAC. Each comes with `my_targets`: the user's organizations' answers."""
    own = [value for _kind, value in _own_value_pairs(warning)]
    refs = [r for r in warning.indicator_refs or [] if isinstance(r, str)]
    visible_refs = list(tlp.visible_versions(user).filter(stix_id__in=refs[:CITING_VALUES_MAX])
                        .values_list("stix_id", flat=True).distinct())
    related = warnings_citing(user, values=[*own, *indicator_values], refs=visible_refs, exclude=warning)
    answers: dict = {}
    for target in inbox_for(user).filter(warning__in=[w.pk for w in related]).select_related("acknowledged_by"):
        answers.setdefault(target.warning_id, []).append(target)
    for other in related:
        other.my_targets = answers.get(other.pk, [])
    return related


def _own_value_pairs(warning: EarlyWarning) -> list[tuple[str, str]]:
    return [(str(v.get("kind") or ""), str(v.get("value") or "")) for v in warning.values or []
            if isinstance(v, dict) and v.get("value")]


def warnings_covering_alert(alert, user) -> list[EarlyWarning]:
    """The early warnings `user` may see that cover an alert (khien.telemetry): they give one of the values its
    events matched, or name one of the indicators matched (`IndicatorHit` rows of the alert) — for the alert's
    page ("an early warning covers this value"). Newest first, at most CITING_MAX."""
    from khien.telemetry.models import IndicatorHit

    hits = IndicatorHit.objects.filter(alert=alert)
    values = list(hits.order_by("value").values_list("value", flat=True).distinct()[:CITING_VALUES_MAX])
    refs = list(hits.order_by("indicator_id").values_list("indicator_id", flat=True).distinct()[:CITING_VALUES_MAX])
    return warnings_citing(user, values=values, refs=refs)
