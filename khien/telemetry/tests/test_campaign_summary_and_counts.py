"""A campaign's early warning says what to look for and block; a campaign's events add up on its page."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from khien.core import notifications
from khien.intel.models import EarlyWarning, IndicatorKind, Tlp
from khien.telemetry import correlation
from khien.telemetry.models import Campaign, CampaignKind
from khien.telemetry.tests.test_correlation import hit_at  # noqa: F401 (fixture)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)

HASH = "797ba93525f2037cceac" + "ab" * 22


@pytest.fixture
def hash_campaign(world, intel, hit_at):
    from khien.intel import services as intel_services
    from khien.intel.tests.conftest import indicator

    obj = indicator(HASH, tlp=Tlp.GREEN, name="Credential stealer",
                    pattern=f"[file:hashes.'SHA-256' = '{HASH}']")
    intel_services.do_add_objects(intel.collection, [obj], acting_user=world.coordinator)
    for n, org in enumerate((world.ministry, world.province, world.department)):
        hit_at(org, "192.0.2.77", n=n, sha256=HASH)
    correlation.correlate()
    return Campaign.objects.get(kind=CampaignKind.INDICATOR, indicator_kind="sha256")


def _in_platform_language(text) -> str:
    with notifications.platform_language():
        return str(text)


def test_a_hash_campaign_s_warning_names_the_hash_and_what_to_do(world, hash_campaign, coordinator_client):
    """The summary names the value in full with its kind and says what to do with it: "seen at 3 organizations
    (N events)" alone tells a recipient nothing to look for or block."""
    summary = correlation.warning_defaults(hash_campaign, world.coordinator)["summary"]
    assert f"SHA-256 {HASH}" in summary  # the kind in words, the whole hash (it is looked for exactly)
    assert _in_platform_language(correlation.WARNING_ACTION["sha256"]) in summary
    assert f"({hash_campaign.count} " in summary  # still where and how often
    # The form opens with it; sent as it stands, the warning carries it to the organizations hit.
    page = coordinator_client.get(reverse("telemetry:campaign", args=[hash_campaign.pk])).content.decode()
    assert HASH in page.split('name="summary"')[1].split("</textarea>")[0]
    assert 'id="warning-indicators"' in page  # the lead's list of the indicators the warning names, kept
    correlation.do_campaign_to_warning(hash_campaign, acting_user=world.coordinator)
    warning = EarlyWarning.objects.get()
    assert warning.summary == summary and warning.tlp == Tlp.AMBER  # at the campaign's TLP, as before


def test_the_coordinator_may_still_rewrite_the_summary(world, hash_campaign):
    correlation.do_campaign_to_warning(hash_campaign, acting_user=world.coordinator,
                                       data={"summary": "Chặn ngay mã băm này."})
    assert EarlyWarning.objects.get().summary == "Chặn ngay mã băm này."


def test_an_address_and_a_rule_campaign_say_what_to_do_too(world, intel, hit_at):
    for org in (world.ministry, world.province, world.department):
        hit_at(org)  # the intel fixture's TLP:GREEN address
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)
    correlation.correlate()
    address = Campaign.objects.get(kind=CampaignKind.INDICATOR)
    summary = correlation.warning_defaults(address)["summary"]
    kind = _in_platform_language(IndicatorKind("ipv4").label)
    assert f"{kind} {intel.values[Tlp.GREEN]}" in summary
    assert _in_platform_language(correlation.WARNING_ACTION["ipv4"]) in summary
    rule = Campaign.objects.get(kind=CampaignKind.RULE)
    summary = correlation.warning_defaults(rule)["summary"]
    assert "Rule edr-ransom" in summary and "(edr-ransom)" in summary
    assert _in_platform_language(correlation.WARNING_ACTION_RULE) in summary
    with translation.override("en"):  # the summary is written for every recipient: the platform's language
        assert correlation.warning_summary(rule).endswith(str(correlation.WARNING_ACTION_RULE))


def _page_counts(client, campaign) -> tuple[int, int]:
    context = client.get(reverse("telemetry:campaign", args=[campaign.pk])).context
    return context["campaign"].count, sum(org.campaign_hits for org in context["organizations"])


def test_a_campaign_s_events_add_up_after_its_window_moved(world, intel, hit_at, settings, coordinator_client):
    """Hits that left the correlation window still belong to the campaign (its first sighting stays): its total
    counts them, as its organizations' figures do — it used to keep the window's count, one or more short."""
    settings.KHIEN_CAMPAIGN_WINDOW_SECONDS = 3600
    start = timezone.now() - dt.timedelta(hours=3)
    orgs = (world.ministry, world.province, world.department)
    for n, org in enumerate(orgs):
        hit_at(org, n=n, when=start)
    correlation.correlate(now=start + dt.timedelta(minutes=5))
    campaign = Campaign.objects.get()
    assert campaign.count == 3 and _page_counts(coordinator_client, campaign) == (3, 3)
    hit_at(world.ministry, n=5, when=start + dt.timedelta(minutes=30))  # keeps the campaign going
    assert correlation.correlate(now=start + dt.timedelta(minutes=35))["updated"] == 1
    # An hour on, three more events; the first three are out of the window (the campaign is still seen in it).
    for n, org in enumerate(orgs):
        hit_at(org, n=10 + n, when=start + dt.timedelta(minutes=65))
    assert correlation.correlate(now=start + dt.timedelta(minutes=70))["updated"] == 1
    campaign.refresh_from_db()
    assert Campaign.objects.count() == 1 and campaign.first_seen <= start + dt.timedelta(seconds=1)
    # The window holds 4 events; the campaign, from its first sighting, 7.
    assert campaign.count == 7 and _page_counts(coordinator_client, campaign) == (7, 7)
    assert correlation.event_counts(campaign) == {world.ministry.pk: 3, world.province.pk: 2,
                                                  world.department.pk: 2}
    # Nothing new: the next run changes nothing (no update recorded each time).
    assert correlation.correlate(now=start + dt.timedelta(minutes=75))["updated"] == 0


def test_a_rule_campaign_s_events_add_up_too(world, intel, hit_at, coordinator_client):
    for org in (world.ministry, world.province, world.department):
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)  # a repeat: the same alert, counted twice
    correlation.correlate()
    campaign = Campaign.objects.get(kind=CampaignKind.RULE)
    assert campaign.count == 6 and _page_counts(coordinator_client, campaign) == (6, 6)


def test_only_the_coordinator_sees_the_campaign_and_its_counts(world, hash_campaign, as_user):
    response = as_user(world.admin).get(reverse("telemetry:campaign", args=[hash_campaign.pk]))
    assert response.status_code in (403, 404) and HASH not in response.content.decode()


def test_campaigns_stored_with_the_window_s_count_are_recounted_once(world, intel, hit_at, coordinator_client):
    """Campaigns raised before the fix kept a window's count: migration 0021 recounts them over their span."""
    from importlib import import_module

    from django.apps import apps

    for org in (world.ministry, world.province, world.department):
        hit_at(org)
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)
    correlation.correlate()
    Campaign.objects.update(count=1)  # as an old campaign might read
    import_module("khien.telemetry.migrations.0021_campaign_count_whole_span").recount(apps, None)
    for campaign in Campaign.objects.all():
        assert campaign.count == 3 and _page_counts(coordinator_client, campaign) == (3, 3)
