"""One wave seen twice: the same malicious address hit by a Suricata rule at several ministries raises an indicator
campaign and a rule campaign. They are linked (`correlation.related_campaigns`: times that overlap, at least half of
each one's organizations shared); each page lists the other, and once one is decided the other takes over its early
warning or incident instead of a second one."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry
from khien.incidents import content
from khien.intel.models import EarlyWarning, Tlp
from khien.telemetry import correlation
from khien.telemetry.models import Alert, Campaign, CampaignKind, CampaignStatus
from khien.telemetry.tests.test_correlation import hit_at  # noqa: F401 (fixture)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def wave(world, intel, hit_at):  # noqa: F811
    """The national feed's address hit by the rule "ET C2 beacon" (severity 9) at MIN, PROV and MIN-D1: an
    indicator campaign and a rule campaign of the same three organizations."""
    content.load_all()
    for n, org in enumerate((world.ministry, world.province, world.department)):
        hit_at(org, intel.values[Tlp.GREEN], n=n, rule="et-c2", severity=9)
    correlation.correlate()
    return (Campaign.objects.get(kind=CampaignKind.INDICATOR), Campaign.objects.get(kind=CampaignKind.RULE))


def _campaign(orgs, first, last, key):
    campaign = Campaign.objects.create(kind=CampaignKind.RULE, key=key, title=key, rule_name=key, first_seen=first,
                                       last_seen=last, organization_count=len(orgs), count=len(orgs))
    campaign.organizations.add(*orgs)
    return campaign


def test_one_wave_seen_as_an_indicator_and_as_a_rule_is_linked_both_ways(wave):
    indicator_campaign, rule_campaign = wave
    assert [c.pk for c in correlation.related_campaigns(indicator_campaign)] == [rule_campaign.pk]
    assert [c.pk for c in correlation.related_campaigns(rule_campaign)] == [indicator_campaign.pk]
    assert correlation.related_campaigns(rule_campaign)[0].shared == 3


def test_the_notices_of_one_wave_name_each_other(world, wave, reads_in):
    from khien.core.models import Notification
    from khien.telemetry.tests.conftest import as_read

    reads_in(world.coordinator, "en")
    notes = {n.url: as_read(n)[1] for n in Notification.objects.filter(kind="telemetry.campaign",
                                                                     recipient=world.coordinator)}
    indicator_campaign, rule_campaign = wave
    about_indicator = notes[reverse("telemetry:campaign", args=[indicator_campaign.pk])]
    about_rule = notes[reverse("telemetry:campaign", args=[rule_campaign.pk])]
    assert "Possibly the same wave" in about_indicator and "Rule et-c2" in about_indicator, about_indicator
    assert "Possibly the same wave" in about_rule and indicator_campaign.value in about_rule, about_rule


def test_campaigns_apart_in_time_are_not_related(world):
    now = timezone.now()
    orgs = (world.ministry, world.province, world.department)
    early = _campaign(orgs, now - dt.timedelta(days=3), now - dt.timedelta(days=2), "early")
    late = _campaign(orgs, now - dt.timedelta(days=1), now, "late")
    assert correlation.related_campaigns(early) == [] and correlation.related_campaigns(late) == []
    # Touching windows overlap: one was last seen when the other was first seen.
    touching = _campaign(orgs, now - dt.timedelta(days=2), now - dt.timedelta(days=1, hours=12), "touching")
    assert {c.key for c in correlation.related_campaigns(touching)} == {"early"}


def test_campaigns_sharing_less_than_half_of_their_organizations_are_not_related(world):
    now = timezone.now()
    first, last = now - dt.timedelta(hours=2), now
    a = _campaign((world.ministry, world.province, world.department), first, last, "a")
    b = _campaign((world.department, world.commune, world.responder_org), first, last, "b")  # 1 of 3 shared
    assert correlation.related_campaigns(a) == [] and correlation.related_campaigns(b) == []
    # Half of each is enough: 2 of 4 and 2 of 4.
    c = _campaign((world.ministry, world.province, world.commune, world.ncsc), first, last, "c")
    d = _campaign((world.ministry, world.province, world.department, world.responder_org), first, last, "d")
    assert "d" in {x.key for x in correlation.related_campaigns(c)}
    assert "c" in {x.key for x in correlation.related_campaigns(d)}
    # All of one but less than half of the other: 2 of 2 in a campaign of 5 is not the same wave; 2 of 4 is.
    small = _campaign((world.ministry, world.province), first, last, "small")
    assert "small" in {x.key for x in correlation.related_campaigns(c)}
    big = _campaign((world.ministry, world.province, world.department, world.commune, world.responder_org), first,
                    last, "big")
    assert "big" not in {x.key for x in correlation.related_campaigns(small)}
    assert "small" not in {x.key for x in correlation.related_campaigns(big)}


def test_the_campaign_page_links_the_related_campaign(world, wave, coordinator_client):
    indicator_campaign, rule_campaign = wave
    page = coordinator_client.get(reverse("telemetry:campaign", args=[indicator_campaign.pk])).content.decode()
    related = page[page.index('id="campaign-related"'):]
    assert f'href="{reverse("telemetry:campaign", args=[rule_campaign.pk])}"' in related
    assert "Rule et-c2" in related
    # Deciding is where it matters: the decision box says so before a second warning is written.
    assert page.index('id="decide-related"') < page.index('id="make-warning"')
    # Without a related campaign, no such section.
    Campaign.objects.filter(pk=rule_campaign.pk).delete()
    page = coordinator_client.get(reverse("telemetry:campaign", args=[indicator_campaign.pk])).content.decode()
    assert 'id="campaign-related"' not in page


def test_a_related_campaign_takes_over_the_early_warning_instead_of_a_second_one(world, wave, coordinator_client):
    indicator_campaign, rule_campaign = wave
    correlation.do_campaign_to_warning(indicator_campaign, acting_user=world.coordinator)
    indicator_campaign.refresh_from_db()
    page = coordinator_client.get(reverse("telemetry:campaign", args=[rule_campaign.pk])).content.decode()
    related = page[page.index('id="campaign-related"'):]
    assert f'href="{reverse("intel:warning_detail", args=[indicator_campaign.warning_id])}"' in related
    assert 'data-take-over="warning"' in related
    response = coordinator_client.post(reverse("telemetry:campaign_action", args=[rule_campaign.pk, "take_over"]),
                                       {"related": str(indicator_campaign.pk)})
    assert response.status_code == 302
    rule_campaign.refresh_from_db()
    assert rule_campaign.warning_id == indicator_campaign.warning_id and rule_campaign.status == CampaignStatus.WARNED
    assert EarlyWarning.objects.count() == 1  # one warning for one wave
    assert rule_campaign.decided_by == world.coordinator
    entry = (AuditEntry.objects.filter(object_type="telemetry.campaign", object_id=str(rule_campaign.pk))
             .exclude(actor_email="").order_by("seq").last())
    assert entry.after["decision"] == "took_over"
    # Once taken over, nothing left to take: refused, nothing changed.
    with pytest.raises(Refused):
        correlation.do_take_over_related(rule_campaign, acting_user=world.coordinator, related=indicator_campaign.pk)


def test_a_related_campaign_takes_over_the_incident_and_its_alerts_join_it(world, wave):
    indicator_campaign, rule_campaign = wave
    indicator_campaign = correlation.do_campaign_to_incident(indicator_campaign, acting_user=world.coordinator)
    correlation.do_take_over_related(rule_campaign, acting_user=world.coordinator, related=indicator_campaign.pk)
    rule_campaign.refresh_from_db()
    assert rule_campaign.incident_id == indicator_campaign.incident_id
    assert rule_campaign.status == CampaignStatus.INCIDENT
    assert set(correlation.campaign_alerts(rule_campaign).values_list("incident_id", flat=True)) == {
        indicator_campaign.incident_id}
    assert Alert.objects.exclude(incident=indicator_campaign.incident_id).count() == 0


def test_only_the_coordinator_takes_over_and_only_from_a_related_campaign(world, wave):
    indicator_campaign, rule_campaign = wave
    correlation.do_campaign_to_warning(indicator_campaign, acting_user=world.coordinator)
    with pytest.raises(Forbidden):
        correlation.do_take_over_related(rule_campaign, acting_user=world.admin, related=indicator_campaign.pk)
    now = timezone.now()
    elsewhere = _campaign((world.commune, world.responder_org, world.ncsc), now - dt.timedelta(hours=1), now, "x")
    elsewhere.warning = EarlyWarning.objects.get()
    elsewhere.status = CampaignStatus.WARNED
    elsewhere.save()
    with pytest.raises(Refused) as refused:
        correlation.do_take_over_related(rule_campaign, acting_user=world.coordinator, related=elsewhere.pk)
    assert refused.value.status == 400
    rule_campaign.refresh_from_db()
    assert rule_campaign.warning_id is None and rule_campaign.status == CampaignStatus.OPEN
