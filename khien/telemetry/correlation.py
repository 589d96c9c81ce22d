"""National campaigns: the same indicator, or the same rule, seen at several organizations.

`correlate(now)` (periodic job `telemetry.correlate`) looks at the last
KHIEN_CAMPAIGN_WINDOW_SECONDS: an indicator hit at KHIEN_CAMPAIGN_MIN_ORGS or
more distinct organizations, or a rule (alerts at least
KHIEN_CAMPAIGN_RULE_MIN_SEVERITY severe) raised at as many, makes a
`Campaign` — updated, not duplicated, while it keeps being seen within the
window. A new campaign is announced to the national coordinators at once; so is a decided one (warned, or made an
incident) that reaches more organizations (`_tell_spread`). A notice says all a duty officer needs to judge it on a
phone (`_facts_lines`): what was seen — an indicator's value only to a coordinator who may see an indicator carrying
it (`indicator_tlp_for`) —, the organizations named by province and sector, the severity in words, when, how often.

One wave is often seen twice (an address, and the rule that caught it): `related_campaigns` links such campaigns;
a related campaign takes over the early warning or incident already made from the other (`do_take_over_related`)
instead of a second one.

The coordinator then turns it into an early warning (`do_campaign_to_warning`),
an incident (`do_campaign_to_incident`) or dismisses it (`do_dismiss_campaign`).
Only the national coordinator sees campaigns or acts on them.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
import hashlib

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _, gettext_lazy as _l, ngettext_lazy

from khien.core import audit, notifications
from khien.core.audit import Act
from khien.core.errors import Forbidden, Refused
from khien.core.roles import Role
from khien.core.scoping import is_national_coordinator, memberships_of
from khien.core.texts import shown_time
from khien.registry.models import Organization
from khien.registry.services import national_coordinators

from . import conf_matching
from .models import (Alert, AlertStatus, Campaign, CampaignKind, CampaignStatus, Event, IndicatorHit, campaign_title,
                     severity_label)
from .severity import BAND_NAMES

MAX_LISTED_ORGS = 200


def indicator_key(kind: str, value: str) -> str:
    """The key of an indicator campaign: the observable (kind and value), whatever indicator carried it."""
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def representative_indicator(campaign: Campaign) -> str:
    """The STIX id of the latest indicator hit for an indicator campaign's value ("" if none)."""
    return (IndicatorHit.objects.filter(kind=campaign.indicator_kind, value=campaign.value).order_by("-time", "-pk")
            .values_list("indicator_id", flat=True).first() or "")


MAX_WARNING_INDICATORS = 20


def warning_indicators(campaign: Campaign, user) -> list[str]:
    """The STIX ids of the indicators that carried an indicator campaign's value and that `user` may see, the latest
    hit first, one per name (`_named_indicators`; at most MAX_WARNING_INDICATORS): the early warning names them, so
    that a hash or a URL — which a warning cannot match systems by — still reaches the organizations. None for a
    rule campaign."""
    return [i.stix_id for i in _named_indicators(campaign, user)][:MAX_WARNING_INDICATORS]


def _named_indicators(campaign: Campaign, user) -> list:
    """The latest visible versions of the indicators that carried an indicator campaign's value, the latest hit
    first, one per name: several producers often share an indicator under the same name ("Malware distribution
    domain: …"), which the warning and its page would list twice — of those, the one marked least restrictively
    is kept (the most recipients may open it)."""
    from khien.intel import tlp
    from khien.intel.search import latest_versions

    if campaign.kind != CampaignKind.INDICATOR:
        return []
    ids = list(dict.fromkeys(IndicatorHit.objects.filter(kind=campaign.indicator_kind, value=campaign.value)
                             .order_by("-time", "-pk").values_list("indicator_id", flat=True)[:1000]))
    latest = latest_versions(user, ids)
    by_name: dict = {}
    for stix_id in ids:
        version = latest.get(stix_id)
        if version is None:
            continue
        name = str((version.data or {}).get("name") or stix_id).strip()
        kept = by_name.get(name)
        if kept is None or tlp.RESTRICTIVENESS.index(version.tlp) < tlp.RESTRICTIVENESS.index(kept.tlp):
            by_name[name] = version
    return sorted(by_name.values(), key=lambda version: ids.index(version.stix_id))


def _window(now) -> tuple[dt.datetime, int]:
    return now - dt.timedelta(seconds=int(conf_matching.get("KHIEN_CAMPAIGN_WINDOW_SECONDS"))), \
        int(conf_matching.get("KHIEN_CAMPAIGN_MIN_ORGS"))


def _candidates(now) -> list[dict]:
    since, min_orgs = _window(now)
    found = []
    hits = IndicatorHit.objects.filter(time__gte=since, time__lte=now)
    # "The same indicator" is the same observable value: several producers' indicators with one value
    # (several provenances) make one campaign, and an event that hits them all counts once.
    for row in (hits.values("kind", "value").annotate(orgs=Count("organization", distinct=True))
                .filter(orgs__gte=min_orgs)):
        mine = hits.filter(kind=row["kind"], value=row["value"])
        # Its severity: the highest of the alerts its events belong to (an alert's is the highest of its events),
        # as a rule campaign's — how bad what the SOCs saw was, not how sure the producer of the indicator
        # is (its confidence): campaigns of both kinds rank on one scale.
        agg = mine.aggregate(first=Min("time"), last=Max("time"), count=Count("event_id", distinct=True),
                             severity=Max("alert__severity"))
        found.append({
            "kind": CampaignKind.INDICATOR, "key": indicator_key(row["kind"], row["value"]),
            "indicator_kind": row["kind"], "value": row["value"], "rule_name": "", "severity": agg["severity"] or 0,
            "first": agg["first"], "last": agg["last"], "count": agg["count"],
            "orgs": set(mine.values_list("organization_id", flat=True).distinct()),
        })
    alerts = _counted_rule_alerts(Alert.objects.filter(last_seen__gte=since, first_seen__lte=now))
    for row in (alerts.values("rule_id").annotate(orgs=Count("organization", distinct=True))
                .filter(orgs__gte=min_orgs)):
        key = row["rule_id"]
        mine = alerts.filter(rule_id=key)
        agg = mine.aggregate(first=Min("first_seen"), last=Max("last_seen"), count=Sum("count"), severity=Max("severity"))
        sample = mine.order_by("-last_seen").values("rule_name").first()
        found.append({
            "kind": CampaignKind.RULE, "key": key, "indicator_kind": "", "value": "",
            "rule_name": sample["rule_name"], "severity": agg["severity"] or 0, "first": agg["first"],
            "last": agg["last"], "count": agg["count"] or 0,
            "orgs": set(mine.values_list("organization_id", flat=True).distinct()),
        })
    return found


def _counted_rule_alerts(alerts):
    """The alerts that count towards a rule campaign: severe enough, with a rule. Alerts an organization judged
    harmless (false positives, suppressed repeats) are not evidence of a campaign."""
    return (alerts.filter(severity__gte=int(conf_matching.get("KHIEN_CAMPAIGN_RULE_MIN_SEVERITY")))
            .exclude(rule_id="").exclude(status=AlertStatus.FALSE_POSITIVE))


def campaign_alerts(campaign: Campaign, alerts=None):
    """The alerts behind a campaign, between its first and last sighting: for an indicator, those whose events hit
    its value; for a rule, those that counted towards it. Taken from `alerts` (a list already filtered) or from
    every organization's alerts — only the national coordinator, who sees campaigns, is shown them."""
    alerts = Alert.objects.all() if alerts is None else alerts
    if campaign.kind == CampaignKind.INDICATOR:
        hits = IndicatorHit.objects.filter(kind=campaign.indicator_kind, value=campaign.value,
                                           time__gte=campaign.first_seen, time__lte=campaign.last_seen)
        return alerts.filter(pk__in=hits.exclude(alert=None).values("alert_id"))
    return _counted_rule_alerts(alerts.filter(rule_id=campaign.key, last_seen__gte=campaign.first_seen,
                                              first_seen__lte=campaign.last_seen))


def event_counts(campaign: Campaign) -> dict:
    """{organization id: events} of the campaign between its first and last sighting — each event once (an
    indicator: the events that hit its value, whichever indicators named it; a rule: the events of the alerts that
    count towards it). The campaign's own total is their sum (`correlate`), so that its page, its organizations
    and the dashboard agree however far the correlation window has moved since the campaign was raised."""
    if campaign.kind == CampaignKind.INDICATOR:
        rows = (IndicatorHit.objects.filter(kind=campaign.indicator_kind, value=campaign.value,
                                            time__gte=campaign.first_seen, time__lte=campaign.last_seen)
                .values_list("organization_id").annotate(n=Count("event_id", distinct=True)))
    else:
        rows = (campaign_alerts(campaign).order_by().values_list("organization_id").annotate(n=Sum("count")))
    return {org: n or 0 for org, n in rows.values_list("organization_id", "n")}


def involved_organizations(campaign: Campaign) -> list[Organization]:
    """The organizations the campaign involves, as its page lists them (by code): each with `campaign_hits`, its
    events (`event_counts`), and `place`/`place_label`, where it counts in the national figures — "Central
    agencies" for a ministry's line, not its seat's province (`registry.places`, the dashboard's and the incident
    statistics' rule)."""
    from khien.registry import places

    per_org = event_counts(campaign)
    names = dict(places.choices())
    orgs = list(campaign.organizations.select_related("province").annotate(place=places.place_of()).order_by("code"))
    for org in orgs:
        org.campaign_hits = per_org.get(org.pk, 0)
        org.place_label = names.get(org.place, "") if org.place else ""
    return orgs


def shown_campaigns(queryset, now=None):
    """The campaigns a coordinator keeps in view (the dashboard's table): those still open, and those already
    turned into an early warning or an incident but still seen within the correlation window — active, marked by
    their status. The most serious first: the highest severity, then the most organizations, then the latest."""
    since, _min = _window(now or timezone.now())
    return (queryset.filter(Q(status=CampaignStatus.OPEN)
                            | Q(status__in=(CampaignStatus.WARNED, CampaignStatus.INCIDENT), last_seen__gte=since))
            .order_by(*RANKING))


# How campaigns are ranked wherever they are listed (the dashboard, the campaign list): by seriousness.
RANKING = ("-severity", "-organization_count", "-last_seen")


MAX_RELATED = 20


def related_campaigns(campaign: Campaign) -> list[Campaign]:
    """The campaigns that look like the same wave as `campaign` — an address hit by a Suricata rule at five
    ministries raises an indicator campaign and a rule campaign: so that the coordinator decides them together
    and does not issue two warnings for one wave. Another campaign (of either kind) is related when their times
    overlap (each was first seen before the other was last seen), and

    - they share at least half of the organizations of each: 2 × shared ≥ the larger of the two counts, or
    - their values name the same host (`_host_linked`): a URL campaign whose URL's host is a domain campaign's
      domain or one of its subdomains, or an IP address campaign's address. A phishing URL, its domain and its
      server's address are one wave however few organizations they have in common (one wave: 5 of 11): the
      organizations that caught the URL are not those whose DNS logs caught the domain.

    The rule is symmetric (A related to B ⟺ B to A); whatever their status, the most serious first (RANKING),
    at most MAX_RELATED. Each comes with `shared`, the number of organizations in common (0 possible for a
    host-linked one)."""
    through = Campaign.organizations.through
    mine = list(through.objects.filter(campaign_id=campaign.pk).values_list("organization_id", flat=True))
    overlapping = (Campaign.objects.exclude(pk=campaign.pk)
                   .filter(first_seen__lte=campaign.last_seen, last_seen__gte=campaign.first_seen))
    candidates = {c.pk: c for c in (overlapping.filter(pk__in=through.objects.filter(organization_id__in=mine)
                                                       .values("campaign_id")).order_by(*RANKING)[:MAX_RELATED * 5]
                                    if mine else [])}
    linked = {c.pk: c for c in _host_linked(campaign, overlapping)}
    ids = list({*candidates, *linked})
    totals = dict(through.objects.filter(campaign_id__in=ids).values("campaign_id")
                  .annotate(n=Count("organization_id")).values_list("campaign_id", "n"))
    shared = dict(through.objects.filter(campaign_id__in=ids, organization_id__in=mine)
                  .values("campaign_id").annotate(n=Count("organization_id")).values_list("campaign_id", "n"))
    related = []
    for pk, other in {**candidates, **linked}.items():
        if pk in linked or 2 * shared.get(pk, 0) >= max(len(mine), totals.get(pk, 0)):
            other.shared = shared.get(pk, 0)
            related.append(other)
    related.sort(key=lambda c: (-c.severity, -c.organization_count, -c.last_seen.timestamp()))  # RANKING
    return related[:MAX_RELATED]


IP_KINDS = ("ipv4", "ipv6")


def url_host(url: str) -> str:
    """The host of a URL, lower case, without brackets or a trailing dot ("" if it has none)."""
    from urllib.parse import urlsplit

    text = url.strip()
    if "://" not in text:
        text = f"//{text}"
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()


def _same_address(a: str, b: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def _host_linked(campaign: Campaign, overlapping) -> list[Campaign]:
    """The campaigns of `overlapping` (those whose times overlap `campaign`'s) whose value names the same host as
    `campaign`'s: a URL's host and a domain (the domain itself or one of its subdomains), or a URL's host and an
    IP address (the same address). At most MAX_RELATED * 5 read each way."""
    if campaign.kind != CampaignKind.INDICATOR or not campaign.value:
        return []
    indicators = overlapping.filter(kind=CampaignKind.INDICATOR).order_by(*RANKING)
    value = campaign.value.strip().rstrip(".").lower()
    if campaign.indicator_kind == "url":
        host = url_host(campaign.value)
        if not host:
            return []
        labels = host.split(".")
        domains = [".".join(labels[n:]) for n in range(len(labels) - 1)]  # the host and its parents, not the TLD
        found = list(indicators.filter(Q(indicator_kind="domain", value__in=domains)
                                       | Q(indicator_kind__in=IP_KINDS, value__in=[host]))[:MAX_RELATED * 5])
        if ":" in host:  # an IPv6 address may be written otherwise in the URL than in the campaign
            found += [c for c in indicators.filter(indicator_kind="ipv6").exclude(value=host)[:MAX_RELATED * 5]
                      if _same_address(c.value, host)]
        return found
    if campaign.indicator_kind == "domain":
        urls = indicators.filter(indicator_kind="url", value__icontains=value)[:MAX_RELATED * 5]
        return [c for c in urls if (h := url_host(c.value)) == value or h.endswith(f".{value}")]
    if campaign.indicator_kind in IP_KINDS:
        needle = value if campaign.indicator_kind == "ipv4" else value.split(":")[0]
        urls = indicators.filter(indicator_kind="url", value__icontains=needle)[:MAX_RELATED * 5]
        return [c for c in urls if _same_address(url_host(c.value), value)]
    return []


def _title(c: dict) -> str:
    return campaign_title(c["kind"], c["value"], c["rule_name"], c["key"], len(c["orgs"]))


def correlate(now=None) -> dict:
    """Raise or update the campaigns of the window ending at `now`; the alerts behind a campaign turned into an
    incident join it. Returns {"created": n, "updated": n, "joined_incidents": alerts}."""
    now = now or timezone.now()
    since, _min = _window(now)
    created = updated = joined = 0
    raised = []
    with transaction.atomic():
        for c in _candidates(now):
            with notifications.platform_language():
                title = _title(c)
            campaign = (Campaign.objects.select_for_update().filter(kind=c["kind"], key=c["key"], last_seen__gte=since)
                        .order_by("-last_seen").first())
            if campaign is None:
                campaign = Campaign(kind=c["kind"], key=c["key"], first_seen=c["first"], created_at=now)
                before = None
            else:
                before = audit.snapshot(campaign)
            first, last = min(campaign.first_seen, c["first"]), max(campaign.last_seen or c["last"], c["last"])
            # Counted over the campaign's whole span, not the window: hits that left the window still count, as
            # on its page (`event_counts`).
            span = Campaign(kind=c["kind"], key=c["key"], indicator_kind=c["indicator_kind"], value=c["value"][:2048],
                            first_seen=first, last_seen=last)
            count = sum(event_counts(span).values())
            if before is not None:
                known = set(campaign.organizations.values_list("pk", flat=True))
                if (known >= c["orgs"] and campaign.count == count and campaign.last_seen == last
                        and campaign.first_seen == first and campaign.severity >= c["severity"]):
                    continue
            campaign.title = title[:500]
            campaign.indicator_kind = c["indicator_kind"]
            campaign.value = c["value"][:2048]
            campaign.rule_name = c["rule_name"][:500]
            campaign.severity = max(campaign.severity, c["severity"])
            campaign.first_seen, campaign.last_seen, campaign.count = first, last, count
            campaign.updated_at = now
            campaign.save()
            campaign.organizations.add(*c["orgs"])
            campaign.organization_count = campaign.organizations.count()
            campaign.save(update_fields=["organization_count"])
            if before is None:
                created += 1
                audit.record(Act.CREATE, campaign, actor=None)
                raised.append(campaign)
            else:
                updated += 1
                audit.record(Act.UPDATE, campaign, actor=None, before=before)
                joined += _follow_incident(campaign, now)
                if campaign.status in (CampaignStatus.WARNED, CampaignStatus.INCIDENT) and c["orgs"] - known:
                    _tell_spread(campaign, c["orgs"] - known, now)
        # Told once all are raised: the two campaigns of one wave (an address, the rule that caught it) name
        # each other in their notices.
        for campaign in raised:
            _tell_coordinators(campaign, "telemetry.campaign", _campaign_notice)
    return {"created": created, "updated": updated, "joined_incidents": joined}


def _tell_coordinators(campaign: Campaign, kind: str, notice) -> None:
    """Tell the national coordinators of the campaign — one notice per run, not one per event or organization —
    with `notice(campaign, reader)` → (title, body): those who read it alike (the same indicators visible to
    them, the same organizations in their scope) are told at once, each in their language."""
    groups: dict = {}
    for user in national_coordinators():
        groups.setdefault(_reader_key(campaign, user), []).append(user)
    for users in groups.values():
        title, body = notice(campaign, users[0])
        notifications.notify(users, kind=kind, urgent=True, title=title, body=body,
                             url=reverse("telemetry:campaign", args=[campaign.pk]))


def _reader_key(campaign: Campaign, user) -> tuple:
    """What makes a campaign's notice differ from one reader to another: the TLP they see its value under (None:
    they may see none of its indicators) and the organizations in their scope."""
    visible = Organization.objects.visible_to(user).filter(pk__in=campaign.organizations.values("pk"))
    return indicator_tlp_for(campaign, user), frozenset(visible.values_list("pk", flat=True))


def indicator_tlp_for(campaign: Campaign, user) -> str | None:
    """The TLP under which `user` may know an indicator campaign's value: the least restrictive of the indicators
    carrying it that they may see (the intel rules, `_named_indicators`); None when they may see none of them —
    nothing then names the value to them, not even that it is marked TLP:RED. None for a rule campaign."""
    versions = _named_indicators(campaign, user) if campaign.kind == CampaignKind.INDICATOR else []
    return min((v.tlp for v in versions), key=_restrictiveness) if versions else None


def notice_title_text(campaign: Campaign, user) -> notifications.Text:
    """The campaign's title as told to `user`: without the value of an indicator they may not see."""
    if campaign.kind == CampaignKind.INDICATOR and indicator_tlp_for(campaign, user) is None:
        return notifications.Text(_l("An indicator you may not see, seen at %(n)d organizations"),
                                  {"n": campaign.organization_count})
    return campaign.title_text


def _seen_line(campaign: Campaign, user) -> notifications.Text:
    """What was seen, as `user` may know it: the value with its kind and TLP, or only that it is an indicator they
    may not see; or the rule, its name and id."""
    from khien.intel.models import IndicatorKind, Tlp

    if campaign.kind == CampaignKind.RULE:
        return notifications.Text(_l("Seen: the rule “%(rule)s” (%(key)s)."),
                                  {"rule": campaign.rule_name or campaign.key, "key": campaign.key})
    level = indicator_tlp_for(campaign, user)
    if level is None:
        return notifications.Text(_l("Seen: an indicator you may not see (its value is not shown to you)."))
    kind = (IndicatorKind(campaign.indicator_kind).label if campaign.indicator_kind in IndicatorKind.values
            else campaign.indicator_kind)
    return notifications.Text(_l("Seen: %(kind)s %(value)s, %(tlp)s."),
                              {"kind": kind, "value": campaign.value, "tlp": Tlp(level).label})


def _joined(parts) -> notifications.Text:
    """Texts joined by commas, each in the reader's language."""
    return notifications.Text(", ".join(f"%(p{n})s" for n in range(len(parts))),
                              {f"p{n}": part for n, part in enumerate(parts)})


def _organization_lines(orgs: list, *, heading) -> list:
    """The organizations as a notice lists them: a heading, how many there are by province and by sector, then each
    by its code, its name and its province (MAX_NAMED_NEW; the others on the campaign's page)."""
    from khien.core.texts import ByLanguage

    by_province, by_sector = Counter(), Counter()
    names = {}
    for org in orgs:
        if org.province_id:
            by_province[org.province_id] += 1
            names[("p", org.province_id)] = ByLanguage.name_of(org.province)
        for sector in org.sectors.all():
            by_sector[sector.pk] += 1
            names[("s", sector.pk)] = ByLanguage.name_of(sector)
    lines = [heading]
    if by_province:
        lines.append(notifications.Text(_l("By province: %(places)s"), {"places": _joined(
            [notifications.Text("%(name)s %(n)d", {"name": names[("p", pk)], "n": n})
             for pk, n in by_province.most_common()])}))
    if by_sector:
        lines.append(notifications.Text(_l("By sector: %(sectors)s"), {"sectors": _joined(
            [notifications.Text("%(name)s %(n)d", {"name": names[("s", pk)], "n": n})
             for pk, n in by_sector.most_common()])}))
    for org in orgs[:MAX_NAMED_NEW]:
        if org.province_id:
            lines.append(notifications.Text("%(code)s — %(name)s (%(province)s)", {
                "code": org.code, "name": ByLanguage.name_of(org), "province": names[("p", org.province_id)]}))
        else:
            lines.append(notifications.Text("%(code)s — %(name)s", {"code": org.code,
                                                                   "name": ByLanguage.name_of(org)}))
    if len(orgs) > MAX_NAMED_NEW:
        lines.append(notifications.Text(_l("… and %(n)d more on the campaign's page."),
                                        {"n": len(orgs) - MAX_NAMED_NEW}))
    return lines


def _scoped_organizations(user, ids) -> tuple[list, int]:
    """(the organizations of `ids` that `user` may see — the coordination boundary's rule, `scoping` —, how many
    others there are)."""
    orgs = list(Organization.objects.visible_to(user).filter(pk__in=list(ids)).select_related("province")
                .prefetch_related("sectors").order_by("code"))
    return orgs, len(set(ids)) - len(orgs)


def _hidden_organizations_line(n: int):
    return notifications.Text(ngettext_lazy("%(n)d organization outside what you may see.",
                                            "%(n)d organizations outside what you may see.", n), {"n": n}) if n else None


def _facts_lines(campaign: Campaign, user) -> list:
    """What was seen, how bad, when, how often, and the campaigns that look like the same wave."""
    alerts = campaign_alerts(campaign).count()
    lines = [
        notifications.Text(_l("First seen %(first)s, last seen %(last)s; %(count)d events."), {
            "first": shown_time(campaign.first_seen),
            "last": shown_time(campaign.last_seen),
            "count": campaign.count}),
        _seen_line(campaign, user),
        _severity_line(campaign),
        notifications.Text(ngettext_lazy("%(n)d alert behind the campaign.", "%(n)d alerts behind the campaign.",
                                         alerts), {"n": alerts}),
    ]
    related = related_campaigns(campaign)
    if related:
        lines.append(notifications.Text(_l("Possibly the same wave (decide them together): %(campaigns)s"), {
            "campaigns": _joined([notifications.Text("%(title)s — %(status)s", {
                "title": notice_title_text(other, user), "status": CampaignStatus(other.status).label})
                for other in related[:MAX_NAMED_RELATED]])}))
    return lines


MAX_NAMED_RELATED = 3  # related campaigns named in a notice; all of them on the campaign's page


def _campaign_notice(campaign: Campaign, user) -> tuple[notifications.Text, notifications.Text]:
    """The title and text telling the coordinator `user` of a new campaign, read in their language: everything a
    duty officer needs to judge it from the notice alone (the link opens its page)."""
    title = notifications.Text(_l("National campaign: %(title)s"), {"title": notice_title_text(campaign, user)})
    orgs, hidden = _scoped_organizations(user, campaign.organizations.values_list("pk", flat=True))
    heading = notifications.Text(_l("Organizations involved: %(n)d"), {"n": len(orgs) + hidden})
    body = notifications.lines(*_facts_lines(campaign, user), *_organization_lines(orgs, heading=heading),
                               _hidden_organizations_line(hidden))
    return title, body


def severity_text(severity: int) -> notifications.Text:
    """A campaign's severity as people read it: the word of its band and the number, "Critical (9)" — in the
    reader's language (`str()` of it: the active language)."""
    return notifications.Text("%(word)s (%(n)s)", {"word": BAND_NAMES[severity_label(severity)], "n": severity})


def _severity_line(campaign: Campaign) -> notifications.Text:
    return notifications.Text(_l("Severity: %(severity)s."), {"severity": severity_text(campaign.severity)})


MAX_NAMED_NEW = 10  # organizations named by their code in the notice of a campaign that spread; then "…"


def _tell_spread(campaign: Campaign, new_ids: set, now) -> None:
    """A campaign the coordinator decided (warned, or made an incident) reached the organizations `new_ids`: the
    national coordinators are told once for the run, with a link to the campaign's page (its box sends the warning
    to the organizations it has not reached; without a warning, its form makes one). Their information systems
    the campaign's alerts name join the incident's affected systems while it is open (`_add_incident_systems`).
    Their alerts are not taken into the incident (`_follow_incident`): they stay in their queues, to triage."""
    orgs = list(Organization.objects.filter(pk__in=new_ids).order_by("code"))
    codes = ", ".join(o.code for o in orgs[:MAX_NAMED_NEW]) + (" …" if len(orgs) > MAX_NAMED_NEW else "")
    lines = []
    if campaign.warning_id:
        unwarned = [o.code for o in unwarned_organizations(campaign) if o.pk in new_ids]
        if unwarned:
            lines.append(notifications.Text(
                _l("The early warning has not reached %(orgs)s: the campaign's page sends it to them."),
                {"orgs": ", ".join(unwarned)}))
    else:
        lines.append(notifications.Text(_l("No early warning was made from the campaign: its page makes one.")))
    if campaign.incident_id:
        added = _add_incident_systems(campaign, orgs, codes, now)  # once, whoever is told
        lines.append(notifications.Text(
            _l("Incident %(reference)s does not take their alerts: they stay in their organizations' queues."),
            {"reference": campaign.incident.reference}))
        if added:
            lines.append(notifications.Text(ngettext_lazy(
                "%(n)d of their information systems was added to the incident's affected systems.",
                "%(n)d of their information systems were added to the incident's affected systems.", len(added)),
                {"n": len(added)}))

    def notice(campaign, user):
        title = notifications.Text(_l("National campaign spread: %(title)s (+ %(orgs)s)"),
                                   {"title": notice_title_text(campaign, user), "orgs": codes})
        joined, hidden = _scoped_organizations(user, new_ids)
        heading = notifications.Text(ngettext_lazy("Joined: %(n)d organization", "Joined: %(n)d organizations",
                                                   len(joined) + hidden), {"n": len(joined) + hidden})
        body = notifications.lines(*_organization_lines(joined, heading=heading), _hidden_organizations_line(hidden),
                                   *_facts_lines(campaign, user), *lines)
        return title, body

    _tell_coordinators(campaign, "telemetry.campaign_grew", notice)


def _add_incident_systems(campaign: Campaign, orgs: list, codes: str, now) -> list:
    """The information systems of the organizations `orgs` that the campaign's alerts name (`campaign_systems`, the
    rule of the incident's first systems) join its incident's affected systems, while it is open: written by Khiên,
    said in its journal (a report correction of its systems, as a system found affected later) and audited.
    Returns the systems added."""
    from khien.incidents import notices as incident_notices
    from khien.incidents.models import EventKind, Incident, Status
    from khien.incidents.services import _event

    incident = Incident.objects.select_for_update().get(pk=campaign.incident_id)
    if incident.status == Status.CLOSED:
        return []
    present = set(incident.systems.values_list("pk", flat=True))
    added = [s for s in campaign_systems(campaign, organizations=orgs) if s.pk not in present]
    if not added:
        return []
    before = audit.snapshot(incident)
    incident.systems.add(*added)
    incident_notices.systems_named(incident, added, actor=None)
    with notifications.platform_language():  # the incident's record, in the platform's language
        text = _("The national campaign is now seen at %(n)d organizations (+ %(orgs)s); their affected systems: "
                 "%(systems)s.") % {"n": campaign.organization_count, "orgs": codes,
                                    "systems": ", ".join(s.code for s in added)}
    _event(incident, EventKind.CORRECTED, None, text=text, data={"fields": ["systems"]}, at=now)
    audit.record(Act.UPDATE, incident, actor=None, before=before)
    return added


# --- Coordinator's decisions --------------------------------------------------------------------


def _require_coordinator(user, campaign: Campaign) -> Campaign:
    if not is_national_coordinator(user):
        raise Forbidden(_("Only the national coordinator can act on campaigns."))
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _require_open(campaign: Campaign):
    if campaign.status != CampaignStatus.OPEN:
        raise Refused(_("This campaign has already been handled (%(status)s).")
                      % {"status": campaign.get_status_display()}, code="conflict", status=409)


def _require_not_made(campaign: Campaign, link: str):
    """A campaign becomes at most one early warning and one incident, in either order; a dismissed one neither."""
    if campaign.status == CampaignStatus.DISMISSED:
        _require_open(campaign)
    if getattr(campaign, f"{link}_id") is not None:
        raise Refused(_("An early warning was already made from this campaign.") if link == "warning"
                      else _("An incident was already made from this campaign."), code="conflict", status=409)


CATEGORY_SAMPLE = 1000  # events read to find a rule campaign's usual category


def suggested_category(campaign: Campaign) -> str:
    """The RSIT category offered for the campaign's incident: an indicator seen on many networks is taken as
    infected systems; a rule as an alert reported alone would be (`triage.incident_category`): by what its name
    says (ET MALWARE, brute force…), else by what most of its events are (ransomware, malware → infected-system)."""
    from .triage import incident_category

    if campaign.kind == CampaignKind.INDICATOR:
        return "infected-system"
    alert_ids = campaign_alerts(campaign).order_by().values("pk")[:CATEGORY_SAMPLE]
    common = Counter(Event.objects.filter(alert_id__in=alert_ids).exclude(category="")
                     .values_list("category", flat=True)[:CATEGORY_SAMPLE]).most_common(1)
    return incident_category(campaign.rule_name, common[0][0] if common else "")


# The warning and the incident a campaign becomes are written in the platform's language, whatever the language
# of the coordinator's page: they are read by every organization concerned (the form shows them before sending).


# What a recipient of a campaign's warning does with the value, by its kind: where to look for it, how to block it.
WARNING_ACTION = {
    "ipv4": _l("Look for connections to or from this address in your firewall, proxy and server logs, and block "
               "it at your network's edge."),
    "ipv6": _l("Look for connections to or from this address in your firewall, proxy and server logs, and block "
               "it at your network's edge."),
    "cidr": _l("Look for connections to or from this network in your firewall, proxy and server logs, and block "
               "it at your network's edge."),
    "domain": _l("Look for this domain and its subdomains in your DNS, proxy and e-mail logs, and block it on your "
                 "DNS resolvers, proxies and e-mail gateways."),
    "url": _l("Look for this URL in your proxy, web server and e-mail logs, and block it on your proxies and "
              "e-mail gateways."),
    "email": _l("Look for this address in your e-mail logs, and block it on your e-mail gateways."),
    "md5": _l("Look for files with this hash on your computers and servers (endpoint protection, antivirus, "
              "e-mail gateways), isolate the machines that have them, and block the hash."),
}
WARNING_ACTION["sha1"] = WARNING_ACTION["sha256"] = WARNING_ACTION["md5"]
# The warning names no system: a recipient looks in its own monitoring, at the machines its own alerts concern.
WARNING_ACTION_RULE = _l("Look in your own monitoring for alerts of this rule; check the machines your alerts "
                         "concern, and report an incident if one is compromised.")


HASH_KINDS = ("md5", "sha1", "sha256")
SHORT_HASH_CHARS = 12
# The indicators whose name and description the warning may quote: those marked at most TLP:AMBER — and of them
# only those every recipient may see, at the warning's TLP or less restrictive (`quoted_indicators`): a quote must
# not carry them further than their producer allowed. The warning's TLP is at least WARNING_TLP.
QUOTED_TLP = ("clear", "green", "amber")
WARNING_TLP = "amber"  # an early warning's TLP unless it quotes something more restrictive (as the warning form's)
MAX_QUOTED_THREATS = 5
THREAT_DESCRIPTION_CHARS = 300


def short_value(kind: str, value: str) -> str:
    """A value as a title shows it: a hash by its first SHORT_HASH_CHARS characters and "…" (the summary and the
    indicators the warning names carry it whole, where it is looked for exactly); any other value whole."""
    return f"{value[:SHORT_HASH_CHARS]}…" if kind in HASH_KINDS and len(value) > SHORT_HASH_CHARS else value


def _restrictiveness(level: str) -> int:
    from khien.intel import tlp

    return tlp.RESTRICTIVENESS.index(level)


def recipient_ids(organizations=(), sectors=(), provinces=()) -> set:
    """The organizations an early warning made from a campaign goes to: those chosen, and the active organizations
    of the sectors and provinces chosen (as `services_warnings.do_issue_warning` targets them)."""
    ids = {getattr(o, "pk", o) for o in organizations}
    active = Organization.objects.filter(is_active=True)
    if sectors:
        ids |= set(active.filter(sectors__in=list(sectors)).values_list("pk", flat=True))
    if provinces:
        ids |= set(active.filter(province__in=list(provinces)).values_list("pk", flat=True))
    return ids


def _unseen_by(versions, recipients) -> dict:
    """{version pk: the recipient organizations (ids) that may not see it} (`tlp.organizations_seeing`, the TLP
    table read for each version: one query per indicator version, however many recipients), for the versions some
    recipient may not see."""
    from khien.intel import tlp

    recipients = list(recipients)
    unseen: dict = {}
    for version in versions:
        seeing = tlp.organizations_seeing(version, recipients)
        missing = [org_id for org_id in recipients if org_id not in seeing]
        if missing:
            unseen[version.pk] = missing
    return unseen


def _quote(version) -> tuple[str, str]:
    """(name, description) of an indicator version as the warning quotes it (whitespace collapsed, the description
    cut at THREAT_DESCRIPTION_CHARS)."""
    data = version.data or {}
    name = " ".join(str(data.get("name") or "").split())
    description = " ".join(str(data.get("description") or "").split())
    if len(description) > THREAT_DESCRIPTION_CHARS:
        description = description[:THREAT_DESCRIPTION_CHARS - 1] + "…"
    return name, description


def _most_confident_first(versions) -> list:
    """The versions by the producers' confidence (highest first; none given counts lowest), then the latest
    version first, then as given (the latest hit first)."""
    ordered = sorted(versions, key=lambda v: v.modified, reverse=True)
    return sorted(ordered, key=lambda v: -1 if v.confidence is None else v.confidence, reverse=True)


def quoted_indicators(campaign: Campaign, user, *, level: str | None = None, recipients=None) -> list:
    """The indicator versions an indicator campaign's early warning quotes (name and description): of those it names
    (`_named_indicators`: `user` — the coordinator — may see them), those marked at most QUOTED_TLP, no more
    restrictive than the warning's TLP `level` (when given), and that every organization of `recipients` (ids;
    None: no check) may see; the most confident first (`_most_confident_first`), at most MAX_QUOTED_THREATS.
    [] for a rule campaign, or without a user."""
    if user is None or campaign.kind != CampaignKind.INDICATOR:
        return []
    versions = [v for v in _named_indicators(campaign, user) if v.tlp in QUOTED_TLP and _quote(v)[0]
                and (level is None or _restrictiveness(v.tlp) <= _restrictiveness(level))]
    if recipients is not None:
        unseen = _unseen_by(versions, list(recipients))
        versions = [v for v in versions if v.pk not in unseen]
    return _most_confident_first(versions)[:MAX_QUOTED_THREATS]


def threats(campaign: Campaign, user, *, level: str | None = None, recipients=None) -> list[tuple[str, str]]:
    """What the indicators of an indicator campaign say its value is: (name, description) of the indicators the
    warning quotes (`quoted_indicators`), the most confident first."""
    return [_quote(v) for v in quoted_indicators(campaign, user, level=level, recipients=recipients)]


def warning_tlp(quoted) -> str:
    """The TLP of a campaign's early warning unless the coordinator chooses: WARNING_TLP, or the most restrictive of
    the indicators it quotes if one is more restrictive."""
    return max([WARNING_TLP, *(v.tlp for v in quoted)], key=_restrictiveness)


def quoting_problem(campaign: Campaign, user, texts: dict, *, level: str, recipients) -> tuple[str, str] | None:
    """(field, message) when the warning's `texts` ({"title": …, "summary": …}) quote an indicator of the campaign
    (its name, or its description as the warning quotes it) that is more restrictive than the warning's TLP `level`,
    or that one of `recipients` (organization ids) may not see — the prefilled text of other recipients or of another
    TLP, sent as it stood; None otherwise. What the text quotes of the indicators it may quote is taken out first
    (an allowed name containing a refused one is not held against it)."""
    if user is None or campaign.kind != CampaignKind.INDICATOR:
        return None
    from khien.intel.models import Tlp

    named = [v for v in _named_indicators(campaign, user) if _quote(v)[0]]
    unseen = _unseen_by(named, list(recipients))
    fine = [v for v in named if _restrictiveness(v.tlp) <= _restrictiveness(level) and v.pk not in unseen]
    for field in ("title", "summary"):
        text = " ".join(str(texts.get(field) or "").split())
        for version in fine:  # what may be quoted is taken out first
            for part in _quotable_parts(campaign, version):
                text = text.replace(part, " ")
        for version in named:
            if version in fine or not any(part in text for part in _quotable_parts(campaign, version)):
                continue
            name = _quote(version)[0]
            if _restrictiveness(version.tlp) > _restrictiveness(level):
                return field, _("The text quotes the indicator “%(name)s”, marked %(marking)s: more restrictive than "
                                "the warning's %(level)s. Take the quote out, or choose %(marking)s.") % {
                    "name": name, "marking": Tlp(version.tlp).label, "level": Tlp(level).label}
            codes = sorted(Organization.objects.filter(pk__in=unseen.get(version.pk, ())).values_list("code", flat=True))
            return field, _("The text quotes the indicator “%(name)s”, which %(orgs)s may not see (%(marking)s): "
                            "take the quote out, or leave them out of the recipients.") % {
                "name": name, "orgs": ", ".join(codes), "marking": Tlp(version.tlp).label}
    return None


# A name or description that says no more than this many letters or digits besides the campaign's value (a feed's
# indicator named by its value alone, "C2") is not looked for in a text: every warning names the value.
QUOTE_MIN_CHARS = 6


def _quotable_parts(campaign: Campaign, version) -> list[str]:
    """How a warning's text carries an indicator: its name (in a title, with a hash value shortened) and its
    description as quoted — those that say something besides the value (QUOTE_MIN_CHARS)."""
    import re

    name, description = _quote(version)
    value = short_value(campaign.indicator_kind, campaign.value)
    parts = [name, description.rstrip("…").rstrip(".")]
    if value != campaign.value and campaign.value in name:
        parts.append(name.replace(campaign.value, value))
    return [part for part in dict.fromkeys(parts)
            if len(re.sub(r"\W", "", part.replace(campaign.value, "").replace(value, ""))) >= QUOTE_MIN_CHARS]


def warning_title(campaign: Campaign, quoted: list[tuple[str, str]]) -> str:
    """The warning's title in the active language (the caller's: `warning_defaults` writes it in the platform's, for
    the recipients): for an indicator, what it is (the name of the first indicator quoted — the most confident,
    `threats`) and where it was seen, the value shortened if it is a hash — when the indicators quoted agree on
    what it is (`_readings`); when they do not (one producer says C2, another phishing), the title states no one
    producer's reading as the fact: what was seen (the value and its kind) and where, the summary giving each
    reading. For a rule, the campaign's."""
    from khien.intel.models import indicator_kind_label

    if campaign.kind != CampaignKind.INDICATOR:
        return campaign.display_title
    value = short_value(campaign.indicator_kind, campaign.value)
    if len(_readings(campaign, quoted)) != 1:
        return _("%(kind)s %(value)s seen at %(n)d organizations") % {
            "kind": indicator_kind_label(campaign.indicator_kind), "value": value[:300],
            "n": campaign.organization_count}
    name = quoted[0][0]
    what = name.replace(campaign.value, value) if campaign.value in name else f"{name} ({value})"
    return _("%(threat)s — seen at %(n)d organizations") % {"threat": what[:240], "n": campaign.organization_count}


def _plain(campaign: Campaign, text: str) -> str:
    """A name or description reduced to what it says besides the campaign's value: lower case, words only."""
    import re

    if campaign.value:
        text = text.replace(campaign.value, " ").replace(short_value(campaign.indicator_kind, campaign.value), " ")
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


def _readings(campaign: Campaign, quoted: list[tuple[str, str]]) -> list[str]:
    """What the indicators quoted call the value, each reading once: their names without the value ("Malware
    distribution domain: x.vn" of two producers is one reading; "C2 server" and "Phishing site", two)."""
    return list(dict.fromkeys(plain for name, _description in quoted if (plain := _plain(campaign, name))))


def _says_more(campaign: Campaign, name: str, description: str) -> bool:
    """Whether an indicator's description says more than its name (feeds often describe "C2 server 1.2.3.4" as
    "C2 server"): not when, without the value, it is empty or a part of the name."""
    plain = _plain(campaign, description)
    return bool(plain) and f" {plain} " not in f" {_plain(campaign, name)} "


def warning_summary(campaign: Campaign, quoted: list[tuple[str, str]] = ()) -> str:
    """The warning's summary in the active language (the caller's: `warning_defaults` writes it in the platform's,
    for the recipients): what it is, as the indicators quoted say (`threats`: their names and descriptions), what
    was seen — the value and its kind in full (a hash or a URL is looked for exactly), or the rule — where and how
    often, then what to do (look for it, block it). The coordinator may edit it before sending."""
    from khien.intel.models import indicator_kind_label

    facts = {"n": campaign.organization_count, "first": shown_time(campaign.first_seen),
             "last": shown_time(campaign.last_seen), "count": campaign.count}
    if campaign.kind == CampaignKind.INDICATOR:
        seen = _("%(kind)s %(value)s was seen by the monitoring of %(n)d organizations between %(first)s and "
                 "%(last)s (%(count)d events).") % {
            **facts, "kind": indicator_kind_label(campaign.indicator_kind), "value": campaign.value}
        action = WARNING_ACTION.get(campaign.indicator_kind,
                                    _l("Look for this value in your logs and block it."))
    else:
        seen = _("The rule “%(rule)s” (%(key)s) raised alerts in the monitoring of %(n)d organizations between "
                 "%(first)s and %(last)s (%(count)d events).") % {
            **facts, "rule": campaign.rule_name or campaign.key, "key": campaign.key}
        action = WARNING_ACTION_RULE
    if not quoted:
        return f"{seen} {action}"
    # What to look for and do first; then what the indicators call it, each name once and without the value, which
    # `seen` gives ("Malware domain: x.vn — …; Phishing domain: x.vn — …" said the value three times before the
    # instruction).
    threats = []
    for name, description in quoted:
        if not _says_more(campaign, name, description):
            description = ""  # it only repeats the name
        if campaign.kind == CampaignKind.INDICATOR and campaign.value:
            name = " ".join(name.replace(campaign.value, " ").split()).strip(" :—-")
        threat = f"{name} — {description.rstrip('.')}" if name and description else name or description.rstrip(".")
        if threat and threat not in threats:
            threats.append(threat)
    if not threats:
        return f"{seen} {action}"
    what = _("What it is, as its indicators say: %(threats)s.") % {"threats": "; ".join(threats)}
    return f"{seen} {action} {what}"


def warning_defaults(campaign: Campaign, user=None, *, recipients=None, level: str | None = None) -> dict:
    """What the early warning made from the campaign says unless the coordinator changes it, in the platform's
    language whatever the coordinator's (its recipients read it): what it is (the indicators `user` — the
    coordinator — may see that it may quote to `recipients`, organization ids — by default `warning_recipients` —
    at the TLP `level`: `quoted_indicators`), where it was seen, what to do; its TLP (`level`, else `warning_tlp`:
    at least what it quotes), and a reply deadline (`services_warnings.default_respond_by`: a day for a high or
    critical warning, three otherwise), so that the organizations that stay silent are followed up."""
    from khien.intel.services_warnings import default_respond_by

    if recipients is None:
        recipients = [o.pk for o in warning_recipients(campaign, user)]
    quoted = quoted_indicators(campaign, user, level=level, recipients=recipients)
    severity = _warning_severity(campaign)
    with notifications.platform_language():
        return {
            "title": warning_title(campaign, [_quote(v) for v in quoted])[:300],
            "summary": warning_summary(campaign, [_quote(v) for v in quoted]),
            "severity": severity,
            "tlp": level or warning_tlp(quoted),
            "respond_by": default_respond_by(severity, timezone.now().replace(second=0, microsecond=0)),
        }


MAX_RELATED_INCIDENTS = 50


def related_incidents(campaign: Campaign, user) -> list:
    """The incidents the organizations already reported alerts of the campaign in (before the coordinator's own,
    which is left out), that `user` may see, the first reported first (at most MAX_RELATED_INCIDENTS)."""
    from khien.incidents.models import Incident

    if user is None:
        return []
    ids = campaign_alerts(campaign).exclude(incident=None).order_by().values("incident_id")
    incidents = Incident.objects.visible_to(user).filter(pk__in=ids)
    if campaign.incident_id:
        incidents = incidents.exclude(pk=campaign.incident_id)
    return list(incidents.select_related("organization").order_by("reported_at", "reference")[:MAX_RELATED_INCIDENTS])


def campaign_systems(campaign: Campaign, organizations=None) -> list:
    """The information systems watched by the sources of the campaign's alerts (of `organizations` only, when
    given), each owned or operated by the source's organization (as the incident of a single alert names them:
    `triage.do_alert_to_incident`)."""
    from django.db.models import F, Q

    from khien.registry.models import InformationSystem

    alerts = campaign_alerts(campaign)
    if organizations is not None:
        alerts = alerts.filter(organization__in=list(organizations))
    sources = alerts.order_by().values("source_id")
    return list(InformationSystem.objects.filter(
        Q(alert_sources__in=sources) & (Q(owner=F("alert_sources__organization"))
                                        | Q(operator=F("alert_sources__organization"))))
        .distinct().order_by("code")[:MAX_LISTED_ORGS])


def incident_defaults(campaign: Campaign, user=None) -> dict:
    """What the incident made from the campaign says unless the coordinator changes it: titled as the campaign,
    the rule's name (the SOC tool's own words) quoted; how many organizations it reached, not which: every
    organization whose systems the incident names reads its report (`incidents.models.affected_q`), and none may
    learn from it who else was hit (TLP:AMBER, need to know). The coordinator finds them, and the incidents they
    already reported (`related_incidents`), on the campaign's page."""
    with notifications.platform_language():
        description = _(
            "National campaign raised from telemetry: %(title)s. %(count)d events between %(first)s and "
            "%(last)s.") % {
            "title": campaign.display_title, "count": campaign.count,
            "first": shown_time(campaign.first_seen),
            "last": shown_time(campaign.last_seen)}
        return {
            "title": campaign.display_title[:300],
            "category": suggested_category(campaign),
            "severity": "critical" if campaign.severity >= 9 else "high",
            "description": description,
            "tlp": "amber",
            # Kept when the report comes after the deadline counted from the first sighting: the campaign is raised
            # only once several organizations were hit, so its first alert may be older than a day.
            "late_reason": _("A national campaign, raised when the same threat had been seen at %(n)d "
                             "organizations; its first alert was seen at %(first)s.") % {
                "n": campaign.organization_count,
                "first": shown_time(campaign.first_seen)},
        }


def _coordinator_org(user) -> Organization:
    orgs = [o for role, _p, o in memberships_of(user) if role == Role.NATIONAL_COORDINATOR]
    if not orgs:
        raise Refused(_("You are not a member of the national coordinator's organization."), code="invalid")
    return Organization.objects.get(pk=orgs[0])


def _warning_severity(campaign: Campaign) -> str:
    label = severity_label(campaign.severity) if campaign.kind == CampaignKind.RULE else "high"
    return label if label in ("low", "medium", "high", "critical") else "high"


def _decided(campaign: Campaign, status: str, user, before: dict, decision: str, **links) -> Campaign:
    """Record a decision and what it made. The decision shown (who, when) is the one that set the status: a
    warning made after the incident is recorded beside it, with its own time, without replacing the incident's."""
    for name, value in links.items():
        setattr(campaign, name, value)
    if campaign.status != status:
        campaign.status = status
        campaign.decided_by = user
        campaign.decided_at = timezone.now()
    campaign.save()
    _audit_decision(campaign, user, before, decision)
    return campaign


def _audit_decision(campaign: Campaign, user, before: dict, decision: str) -> None:
    """The audit entry of a coordinator's decision ("warned", "incident", "dismissed", "reopened"): a status change
    when it changed the status (the log list reads "Status changed: Open → Early warning issued"), the decision in
    `after` either way (a warning made after the incident leaves the status), filed under the coordinator's
    organization — a campaign belongs to none."""
    orgs = sorted(_coordinator_org_ids(user), key=str)
    audit.record(Act.TRANSITION if before.get("status") != campaign.status else Act.UPDATE, campaign, actor=user,
                 before=before, after={**audit.snapshot(campaign), "decision": decision},
                 organization_id=str(orgs[0]) if orgs else "")


def _coordinator_org_ids(user) -> set:
    return {o for role, _p, o in memberships_of(user) if role == Role.NATIONAL_COORDINATOR} if user else set()


def warning_recipients(campaign: Campaign, user=None) -> list[Organization]:
    """The organizations the campaign's early warning goes to unless the coordinator chooses: those it hit, but
    the coordinator's own (`user`'s), which sends it — its hits are on the campaign's page already."""
    return list(campaign.organizations.filter(is_active=True).exclude(pk__in=_coordinator_org_ids(user))
                .order_by("code"))


def warning_form_initial(campaign: Campaign, user=None) -> dict:
    """The early-warning form of a campaign as it opens: its texts and reply deadline (`warning_defaults`) and the
    organizations it hit, ticked (`warning_recipients`; the coordinator may add sectors, provinces or
    organizations, or untick one)."""
    return {**warning_defaults(campaign, user), "organizations": [o.pk for o in warning_recipients(campaign, user)]}


def unwarned_organizations(campaign: Campaign) -> list[Organization]:
    """The active organizations the campaign involves that its early warning has not reached (it kept growing
    after the warning was sent), each with `campaign_hits`, its events; [] without a warning. The warning's
    sender (the coordinator's organization) is not one of them."""
    from khien.intel.models import EarlyWarning, WarningTarget

    if campaign.warning_id is None:
        return []
    reached = WarningTarget.objects.filter(warning_id=campaign.warning_id).values("organization_id")
    sender = EarlyWarning.objects.filter(pk=campaign.warning_id).values("organization_id")
    orgs = list(campaign.organizations.filter(is_active=True).exclude(pk__in=reached).exclude(pk__in=sender)
                .order_by("code"))
    if orgs:
        counts = event_counts(campaign)
        for org in orgs:
            org.campaign_hits = counts.get(org.pk, 0)
    return orgs


WARNING_TEXT_FIELDS = ("title", "summary", "severity", "tlp", "respond_by", "sectors", "provinces")


def extend_campaign_warning(campaign: Campaign, *, acting_user, data: dict | None = None) -> list:
    """Send the campaign's early warning to the organizations it involves that the warning has not reached
    (`unwarned_organizations`; or those of them in `data["organizations"]`): each is a target "seen by your
    monitoring" with its events, as the first ones were, and is told as they were (notified, 24/7 contact
    e-mailed: `services_warnings.do_add_targets`). Returns the new targets. Refused, nothing written: 403 to
    anyone but the national coordinator; 400 for an organization the campaign does not involve, or for the
    warning's texts (the warning is sent as it was issued; its updates say what changed); 409 when the warning has
    reached every organization asked."""
    from khien.intel.models import TargetReason
    from khien.intel.services_warnings import do_add_targets

    data = dict(data or {})
    with transaction.atomic():
        campaign = _require_coordinator(acting_user, campaign)
        if campaign.warning_id is None:
            raise Refused(_("No early warning was made from this campaign yet."), code="conflict", status=409)
        given = [key for key in WARNING_TEXT_FIELDS if data.get(key) not in (None, "", [], ())]
        if given:
            raise Refused(_("The early warning was already sent: it goes to more organizations as it was issued "
                            "(add an update on its page to say what changed). Leave out: %(fields)s.")
                          % {"fields": ", ".join(given)}, code="invalid")
        missing = unwarned_organizations(campaign)
        if data.get("organizations") is not None:
            asked = list(data["organizations"])
            involved = set(campaign.organizations.values_list("pk", flat=True))
            outside = sorted(o.code for o in asked if o.pk not in involved)
            if outside:
                raise Refused(_("Not involved in the campaign: %(orgs)s.") % {"orgs": ", ".join(outside)},
                              code="invalid")
            open_ids = {o.pk for o in missing}
            reached = sorted(o.code for o in asked if o.pk not in open_ids)
            if reached:
                raise Refused(_("The early warning has already reached: %(orgs)s.") % {"orgs": ", ".join(reached)},
                              code="already_targeted", status=409)
            missing = [o for o in missing if o.pk in {a.pk for a in asked}]
        if not missing:
            raise Refused(_("The early warning has reached every organization the campaign involves."),
                          code="conflict", status=409)
        before = audit.snapshot(campaign)
        rows = do_add_targets(campaign.warning, {o: (TargetReason.SEEN if o.campaign_hits else TargetReason.CHOSEN,
                                                     str(o.campaign_hits) if o.campaign_hits else "")
                                                 for o in missing}, acting_user=acting_user)
        orgs = sorted(_coordinator_org_ids(acting_user), key=str)
        audit.record(Act.UPDATE, campaign, actor=acting_user, before=before,
                     after={**before, "decision": "warned", "warning_sent_to": sorted(o.code for o in missing)},
                     organization_id=str(orgs[0]) if orgs else "")
        return rows


def do_campaign_to_warning(campaign: Campaign, *, acting_user, data: dict | None = None):
    """Issue an early warning from the campaign: an indicator campaign's warning names its indicators
    (`warning_indicators`) and, for an address, range or domain, carries the value as the warning's value. Once
    the warning is made, the same decision sends it to the organizations the campaign came to involve since
    (`extend_campaign_warning`), instead of a second warning.

    `data` (all optional): title, summary, severity, tlp (else `warning_defaults`, written for the recipients and
    the TLP given: it quotes only the indicators they may all see at that TLP; a title or summary given that quotes
    another is refused, 400 naming it: `quoting_problem`); respond_by, the reply deadline
    (checked by `do_issue_warning`: in the future, at most RESPOND_BY_MAX ahead; left out, the default deadline of
    the warning's severity, `services_warnings.default_respond_by`; None: no deadline); the recipients: sectors,
    provinces (their active organizations) and organizations — without `organizations`, those the campaign hit
    but the coordinator's own (`warning_recipients`)."""
    from khien.intel.models import Tlp, WarningSeverity
    from khien.intel.services_warnings import default_respond_by, do_issue_warning

    data = dict(data or {})
    with transaction.atomic():
        campaign = _require_coordinator(acting_user, campaign)
        if campaign.warning_id is not None and campaign.status != CampaignStatus.DISMISSED:
            # The campaign grew after its warning: the warning goes to the organizations it has not reached.
            extend_campaign_warning(campaign, acting_user=acting_user, data=data)
            return campaign
        _require_not_made(campaign, "warning")
        before = audit.snapshot(campaign)
        organizations = (list(data["organizations"]) if data.get("organizations") is not None
                         else warning_recipients(campaign, acting_user))
        level = data.get("tlp") or None
        if level is not None and level not in Tlp.values:
            raise ValidationError({"tlp": [_("Unknown TLP level.")]})
        # The text left out is written for these recipients and this TLP; a text given must not quote more.
        recipients = recipient_ids(organizations, data.get("sectors") or (), data.get("provinces") or ())
        defaults = warning_defaults(campaign, acting_user, recipients=recipients, level=level)
        payload = {key: data.get(key) or default for key, default in defaults.items() if key != "respond_by"}
        problem = quoting_problem(campaign, acting_user, payload, level=payload["tlp"], recipients=recipients)
        if problem is not None:
            raise ValidationError({problem[0]: [problem[1]]})
        if payload["severity"] not in WarningSeverity.values:
            payload["severity"] = WarningSeverity.HIGH
        payload["respond_by"] = (data["respond_by"] if "respond_by" in data
                                 else default_respond_by(payload["severity"]))
        # The value goes where a warning matches by it (addresses, ranges, domains); the indicator always.
        if campaign.kind == CampaignKind.INDICATOR and campaign.indicator_kind in ("ipv4", "ipv6", "cidr", "domain"):
            payload["values"] = [campaign.value]
        payload["indicator_refs"] = warning_indicators(campaign, acting_user)
        warning = do_issue_warning(payload, acting_user=acting_user, organizations=organizations,
                                   sectors=list(data.get("sectors") or ()), provinces=list(data.get("provinces") or ()),
                                   auto_match=False, seen=event_counts(campaign))
        # An incident made before stays the campaign's state: the warning is recorded beside it.
        status = CampaignStatus.INCIDENT if campaign.incident_id else CampaignStatus.WARNED
        return _decided(campaign, status, acting_user, before, "warned", warning=warning)


def do_campaign_to_incident(campaign: Campaign, *, acting_user, data: dict | None = None):
    """Open an incident for the campaign, reported by the coordinator's organization, with the indicator's value
    as an observable (indicator campaigns) and the information systems its alerts' sources watch as the affected
    systems (`campaign_systems`: the organizations' own, which the national incident may name). The alerts behind
    the campaign that no one has handled yet (not reported as an incident, not judged false positives; the latest
    MAX_ALERTS_PER_CALL) join it, as alerts merged into an incident do: the organizations see on their alerts that
    the national incident handles them; those already in the organizations' own incidents stay there, and the
    description names those incidents (`incident_defaults`)."""
    from khien.incidents.services import do_report_incident, report_late_at

    from .triage import observable_items

    data = dict(data or {})
    now = timezone.now()
    with transaction.atomic():
        campaign = _require_coordinator(acting_user, campaign)
        _require_not_made(campaign, "incident")
        before = audit.snapshot(campaign)
        payload = {key: data.get(key) or default
                   for key, default in incident_defaults(campaign, acting_user).items()}
        payload.update({"organization": _coordinator_org(acting_user), "detected_at": campaign.first_seen,
                        "suspected_malicious": True, "impact_beyond_organization": True})
        if report_late_at(campaign.first_seen, now) is None:
            payload["late_reason"] = ""  # on time: no reason to give
        observables = observable_items([campaign.value]) if campaign.kind == CampaignKind.INDICATOR else []
        incident = do_report_incident(payload, acting_user=acting_user, observables=observables, now=now,
                                      systems=campaign_systems(campaign),
                                      system_owners=list(campaign.organizations.all()))
        _join_unhandled_alerts(campaign, incident, acting_user=acting_user, now=now)
        return _decided(campaign, CampaignStatus.INCIDENT, acting_user, before, "incident", incident=incident)


def _join_unhandled_alerts(campaign: Campaign, incident, *, acting_user, now, organizations=None) -> int:
    """The alerts behind the campaign (of `organizations` only, ids, when given) that no one has handled (not
    reported as an incident, not judged false positives; the latest MAX_ALERTS_PER_CALL, locked) join the incident;
    returns how many."""
    from .triage import MAX_ALERTS_PER_CALL, join_incident

    alerts = campaign_alerts(campaign)
    if organizations is not None:
        alerts = alerts.filter(organization_id__in=list(organizations))
    alerts = list(alerts.filter(incident=None)
                  .exclude(status__in=(AlertStatus.ESCALATED, AlertStatus.FALSE_POSITIVE))
                  .select_for_update(of=("self",)).select_related("organization")
                  .order_by("-last_seen", "pk")[:MAX_ALERTS_PER_CALL])
    if alerts:
        join_incident(alerts, incident, acting_user=acting_user, now=now)
    return len(alerts)


def _follow_incident(campaign: Campaign, now) -> int:
    """A campaign the coordinator turned into an incident keeps growing: the alerts raised since at the
    organizations the incident was opened for — those whose alerts it already handles — join it while it is open
    (by Khiên, no user). Those of an organization the campaign reached later do not: an alert in an incident is
    "reported as an incident", leaves its organization's queue and no longer changes (`triage.is_reported`), and
    that organization neither took part in the decision nor may open the national incident. It keeps its alerts to
    triage; the coordinator is told it joined the campaign (`_tell_spread`). An organization that had reported
    the campaign's alerts in its own incident keeps its new ones likewise."""
    from khien.incidents.models import Status

    if campaign.incident_id is None:
        return 0
    if campaign.incident.status == Status.CLOSED:
        return 0
    covered = set(Alert.objects.filter(incident=campaign.incident_id).values_list("organization_id", flat=True))
    return _join_unhandled_alerts(campaign, campaign.incident, acting_user=None, now=now, organizations=covered)


def take_over_offers(campaign: Campaign, related: list) -> dict:
    """{related campaign id: what `campaign` would take over from it — "warning", "incident" or both}: the early
    warning and the incident made from a related campaign that `campaign` has not (`do_take_over_related`)."""
    if campaign.status == CampaignStatus.DISMISSED:
        return {}
    offers = {}
    for other in related:
        links = [link for link in ("warning", "incident")
                 if getattr(other, f"{link}_id") is not None and getattr(campaign, f"{link}_id") is None]
        if links:
            offers[other.pk] = links
    return offers


def do_take_over_related(campaign: Campaign, *, acting_user, related) -> Campaign:
    """The campaign is the same wave as the related campaign `related` (an id; `related_campaigns`), already
    decided: it takes over that campaign's early warning and incident (those it has not) instead of a second
    warning or incident for one wave. Its alerts no one has handled join the incident, as on a decision; the
    organizations of its own that the warning has not reached are listed on its page, which sends the warning to
    them (`extend_campaign_warning`). Refused: 403 to anyone but the national coordinator; 400 for a campaign that
    is not related; 409 for a dismissed one, or when there is nothing to take over."""
    import uuid

    from khien.incidents.models import Status

    now = timezone.now()
    with transaction.atomic():
        campaign = _require_coordinator(acting_user, campaign)
        if campaign.status == CampaignStatus.DISMISSED:
            _require_open(campaign)
        try:
            related_id = uuid.UUID(str(getattr(related, "pk", related)))
        except ValueError:
            related_id = None
        other = next((c for c in related_campaigns(campaign) if c.pk == related_id), None)
        if other is None:
            raise Refused(_("That campaign is not related to this one."), code="invalid")
        links = {link: getattr(other, link) for link in take_over_offers(campaign, [other]).get(other.pk, ())}
        if not links:
            raise Refused(_("The related campaign has no early warning or incident that this one has not."),
                          code="conflict", status=409)
        before = audit.snapshot(campaign)
        status = CampaignStatus.INCIDENT if links.get("incident") or campaign.incident_id else CampaignStatus.WARNED
        campaign = _decided(campaign, status, acting_user, before, "took_over", **links)
        if "incident" in links and campaign.incident.status != Status.CLOSED:  # a closed incident takes no alert
            _join_unhandled_alerts(campaign, campaign.incident, acting_user=acting_user, now=now)
        return campaign


DISMISS_REASON_MAX_CHARS = 2000


def do_dismiss_campaign(campaign: Campaign, *, acting_user, reason: str = "") -> Campaign:
    """The coordinator judges the campaign harmless or known; the reason is kept for whoever reads it later."""
    reason = str(reason or "").strip()
    if len(reason) > DISMISS_REASON_MAX_CHARS:
        raise Refused(_("The reason is at most %(n)d characters.") % {"n": DISMISS_REASON_MAX_CHARS}, code="invalid")
    with transaction.atomic():
        campaign = _require_coordinator(acting_user, campaign)
        _require_open(campaign)
        before = audit.snapshot(campaign)
        campaign.decision_note = reason
        return _decided(campaign, CampaignStatus.DISMISSED, acting_user, before, "dismissed")


def do_reopen_campaign(campaign: Campaign, *, acting_user) -> Campaign:
    """A dismissal was a mistake, or the campaign turned serious: it is open again, to be decided (a warning or an
    incident made before stays linked)."""
    with transaction.atomic():
        campaign = _require_coordinator(acting_user, campaign)
        if campaign.status != CampaignStatus.DISMISSED:
            raise Refused(_("Only a dismissed campaign can be reopened."), code="conflict", status=409)
        before = audit.snapshot(campaign)
        campaign.status, campaign.decided_by, campaign.decided_at = CampaignStatus.OPEN, None, None
        campaign.save()
        _audit_decision(campaign, acting_user, before, "reopened")
        return campaign


def waiting_work(user) -> list:
    """The home page's "To do" items of the national coordinator (`core.worklist`): campaigns to decide."""
    from django.utils.translation import ngettext

    from khien.core.worklist import Item, grouped

    if not is_national_coordinator(user):
        return []
    n = Campaign.objects.filter(status=CampaignStatus.OPEN).count()
    label = ngettext("%(n)s national campaign to decide", "%(n)s national campaigns to decide", n)
    return [Item(label % {"n": grouped(n)}, n, f"{reverse('telemetry:campaigns')}?status=open", urgent=True)]
