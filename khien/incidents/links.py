"""What links an organization's own incident, the national incident naming its systems and the early warning it
received about the same wave (read-only queries, one query per list).

A national campaign (`telemetry.Campaign`, raised by `telemetry.correlation`) becomes an early warning to the
organizations (`Campaign.warning`) and/or a national incident naming their systems (`Campaign.incident`); each
organization may also report its own incident from its alerts (`Alert.incident`). Nothing else joins them, so a
province reading one did not learn of the others. The rules, for a reader `user`:

- `incidents_holding`: the incidents holding alerts — those the reader may open (`Incident.visible_to`: its own
  organizations' incidents, read whole; another organization's only as an affected organization, under a TLP that
  allows it — `affected_q`). Another organization's incident the reader may not open is never named.
- `national_incidents`: the incidents campaigns became that name a system of an organization O of the reader, under a
  TLP O reads as affected (`AFFECTED_TLPS`: never TLP:RED nor AMBER+STRICT) — "the national incident naming your
  systems" — and that the reader may open.
- `warnings_received`: the early warnings O received (a target) that the reader may see, citing one of the values.
- `related_to_incident`: the "Related" box of an incident's page, from the side the reader reads it.

Campaigns are the coordinator's (`CampaignQuerySet.visible_to`): only their links are read here, never shown.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from khien.core.scoping import scope_within

from .models import Incident, Observable, affected_q

# At most this many warnings are read when looking for those an organization received (a coordinator sees every
# warning citing a value; the organization's are among them).
WARNINGS_READ = 200
SHOWN = 20  # incidents or warnings listed in one box


def _shown(queryset) -> list:
    return list(queryset.select_related("organization").order_by("-reported_at", "reference")[:SHOWN])


def incidents_holding(user, alerts) -> list[Incident]:
    """The incidents holding one of `alerts` (an Alert queryset) that `user` may open, newest first, each annotated
    `affected_only` (`IncidentQuerySet.with_reading`). One query."""
    ids = alerts.exclude(incident=None).order_by().values("incident_id")
    return _shown(Incident.objects.visible_to(user).with_reading(user).filter(pk__in=ids))


def national_incidents(user, organization, campaigns, *, exclude=None) -> list[Incident]:
    """The incidents the `campaigns` (a Campaign queryset) became that name an information system of
    `organization` (or of its units) under a TLP it reads as affected, and that `user` may open; not `organization`'s
    own (those are its incidents, not the national one). One query."""
    ids = campaigns.exclude(incident=None).order_by().values("incident_id")
    found = (Incident.objects.visible_to(user).with_reading(user).filter(pk__in=ids)
             .filter(affected_q(scope_within(user, [organization.path]))).exclude(organization=organization))
    if exclude is not None:
        found = found.exclude(pk=exclude.pk)
    return _shown(found)


def warnings_received(user, organization, *, values=(), refs=()) -> list:
    """The early warnings `organization` received that `user` may see, citing one of `values` or naming one of the
    indicators `refs` (`services_warnings.warnings_citing`), newest first."""
    from khien.intel.models import WarningTarget
    from khien.intel.services_warnings import warnings_citing

    citing = warnings_citing(user, values=values, refs=refs, limit=WARNINGS_READ)
    received = set(WarningTarget.objects.filter(warning__in=[w.pk for w in citing], organization=organization)
                   .values_list("warning_id", flat=True))
    return [w for w in citing if w.pk in received][:SHOWN]


@dataclass
class Related:
    warnings: list = field(default_factory=list)  # early warnings about the same values or campaign
    national: list = field(default_factory=list)  # the national incident naming the organization's systems
    own: list = field(default_factory=list)  # the reader's organizations' incidents about the same alerts

    def __bool__(self):
        return bool(self.warnings or self.national or self.own)


def related_to_incident(user, incident: Incident, *, affected_only: bool) -> Related:
    """The "Related" box of the incident's page for `user`.

    Read whole (the reporting organization O, its responders, the coordinator): the early warnings O received
    citing the values of the incident's alerts (as `user` may see them) or of its observables, and the national
    incidents naming O's systems made from the same campaigns (those warnings', or those of the same indicator value
    or rule). Read as an affected organization: the warnings the campaigns behind it became, and the reader's
    organizations' own incidents holding the campaign's alerts (those the reader may see)."""
    from khien.intel.services_warnings import warnings_visible_to
    from khien.telemetry.correlation import campaign_alerts
    from khien.telemetry.models import Alert, Campaign, CampaignKind, IndicatorHit

    made_from = Campaign.objects.filter(incident=incident)
    if affected_only:
        warning_ids = [w for w in made_from.exclude(warning=None).values_list("warning_id", flat=True)]
        warnings = list(warnings_visible_to(user).filter(pk__in=warning_ids).select_related("organization")
                        .order_by("-created_at")[:SHOWN])
        visible_alerts = Alert.objects.visible_to(user).exclude(incident=None).exclude(incident=incident)
        held = Q(pk__in=[])
        for campaign in made_from:  # one campaign, or a few related ones that took over (`do_take_over_related`)
            held |= Q(pk__in=campaign_alerts(campaign, visible_alerts).order_by().values("incident_id"))
        own = _shown(Incident.objects.restrict(user, through_systems=False).filter(held).exclude(pk=incident.pk))
        return Related(warnings=warnings, own=own)

    alerts = Alert.objects.visible_to(user).filter(incident=incident)
    hits = IndicatorHit.objects.visible_to(user).filter(alert__in=alerts.values("pk"))
    values = set(hits.order_by().values_list("value", flat=True).distinct()[:500])
    refs = set(hits.order_by().values_list("indicator_id", flat=True).distinct()[:500])
    values |= set(Observable.objects.visible_to(user).filter(incident=incident).values_list("value", flat=True)[:500])
    rules = set(alerts.exclude(rule_id="").order_by().values_list("rule_id", flat=True).distinct()[:100])
    warnings = warnings_received(user, incident.organization, values=sorted(values), refs=sorted(refs))
    # The incident's own campaign (a national incident read whole, by the coordinator): the warnings it became.
    made = list(made_from.exclude(warning=None).values_list("warning_id", flat=True))
    if made:
        known = {w.pk for w in warnings}
        warnings += [w for w in warnings_visible_to(user).filter(pk__in=made).select_related("organization")
                     if w.pk not in known]
    same = Q(warning__in=[w.pk for w in warnings])
    if values:
        same |= Q(kind=CampaignKind.INDICATOR, value__in=sorted(values))
    if rules:
        same |= Q(kind=CampaignKind.RULE, key__in=sorted(rules))
    national = national_incidents(user, incident.organization, Campaign.objects.filter(same), exclude=incident)
    return Related(warnings=warnings, national=national)
