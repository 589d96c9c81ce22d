"""The national coordinator's duty officer turns campaigns into an early warning or an incident (walkthrough):
the warning says what the threat is, asks for an answer by a deadline and is not sent to the coordinator itself;
its two counts of the organization's events are told apart; the incident names the systems, the organizations
and the incidents they reported already."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from khien.incidents import content
from khien.intel import services as intel_services
from khien.intel.models import EarlyWarning, Tlp
from khien.intel.tests.conftest import indicator
from khien.telemetry import correlation, triage
from khien.telemetry.models import Alert, AlertSource, Campaign, CampaignKind
from khien.telemetry.tests.test_campaign_summary_and_counts import HASH, hash_campaign  # noqa: F401 (fixture)
from khien.telemetry.tests.test_correlation import hit_at  # noqa: F401 (fixture)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)

DOMAIN = "hoadon-dientu.example.vn"


@pytest.fixture
def domain_campaign(world, intel, hit_at):
    """A domain two producers call a malware distribution domain (the same name twice) and a third a credential
    phishing one, seen at four organizations, the coordinator's own among them; one more indicator, marked
    AMBER+STRICT, must not be quoted to the others."""
    named = [indicator(DOMAIN, kind="domain-name", tlp=Tlp.GREEN, name=f"Malware distribution domain: {DOMAIN}",
                       description="Domain spreading malware") for _ in range(2)]
    named.append(indicator(DOMAIN, kind="domain-name", tlp=Tlp.GREEN, name=f"Credential phishing domain: {DOMAIN}",
                           description="Domain collecting sign-in details"))
    named.append(indicator(DOMAIN, kind="domain-name", tlp=Tlp.AMBER_STRICT, name="Operation Secret Lotus",
                           description="Sensitive source"))
    intel_services.do_add_objects(intel.collection, named, acting_user=world.coordinator)
    for n, org in enumerate((world.ministry, world.province, world.department, world.ncsc)):
        hit_at(org, "192.0.2.9", n=n, domain=DOMAIN)
    correlation.correlate()
    return Campaign.objects.get(kind=CampaignKind.INDICATOR, indicator_kind="domain")


def test_the_warning_says_what_the_threat_is(world, domain_campaign):
    defaults = correlation.warning_defaults(domain_campaign, world.coordinator)
    names = (f"Malware distribution domain: {DOMAIN}", f"Credential phishing domain: {DOMAIN}")
    # Two producers, two readings (malware, phishing): the title takes neither side (round 3) — what was seen
    # and where; the summary gives each reading.
    assert not any(name.split(":")[0] in defaults["title"] for name in names), defaults["title"]
    assert DOMAIN in defaults["title"] and "4" in defaults["title"]
    # The value said once (where it was seen), what to do next, then what each indicator calls it, each once.
    summary = defaults["summary"]
    assert summary.count(DOMAIN) == 1
    assert "Malware distribution domain — Domain spreading malware" in summary
    assert summary.count("Malware distribution domain") == 1
    assert "Credential phishing domain — Domain collecting sign-in details" in summary
    assert summary.index(DOMAIN) < summary.index("Malware distribution domain")
    assert "Secret Lotus" not in defaults["summary"] and "Sensitive source" not in defaults["summary"]
    assert "Secret Lotus" not in defaults["title"]


def test_the_same_indicator_name_is_listed_once(world, domain_campaign):
    from khien.intel.search import latest_versions

    ids = correlation.warning_indicators(domain_campaign, world.coordinator)
    latest = latest_versions(world.coordinator, ids)
    names = [latest[i].data["name"] for i in ids]
    assert names.count(f"Malware distribution domain: {DOMAIN}") == 1
    assert f"Credential phishing domain: {DOMAIN}" in names


def test_a_hash_is_shortened_in_the_title_only(world, hash_campaign):
    defaults = correlation.warning_defaults(hash_campaign, world.coordinator)
    assert HASH not in defaults["title"] and f"{HASH[:12]}…" in defaults["title"]
    assert "Credential stealer" in defaults["title"]
    assert HASH in defaults["summary"]  # looked for exactly: whole where it is read
    warning = correlation.do_campaign_to_warning(hash_campaign, acting_user=world.coordinator).warning
    assert HASH not in warning.title
    assert warning.indicator_refs  # the values list (the indicators' own) keeps it whole


def test_a_reply_deadline_is_set_and_the_coordinator_is_not_a_recipient(world, domain_campaign):
    before = timezone.now()
    initial = correlation.warning_form_initial(domain_campaign, world.coordinator)
    assert world.ncsc.pk not in initial["organizations"]
    assert {world.ministry.pk, world.province.pk, world.department.pk} <= set(initial["organizations"])
    assert initial["severity"] == "high"
    assert dt.timedelta(hours=23) < initial["respond_by"] - before <= dt.timedelta(hours=24, minutes=1)
    warning = correlation.do_campaign_to_warning(domain_campaign, acting_user=world.coordinator).warning
    assert warning.respond_by is not None and warning.respond_by > before + dt.timedelta(hours=23)
    assert not warning.targets.filter(organization=world.ncsc).exists()
    assert warning.targets.count() == 3
    # The campaign page does not offer to send it to the coordinator later either.
    domain_campaign.refresh_from_db()
    assert world.ncsc not in correlation.unwarned_organizations(domain_campaign)


def test_a_deadline_left_out_on_purpose_stays_out(world, domain_campaign):
    warning = correlation.do_campaign_to_warning(domain_campaign, acting_user=world.coordinator,
                                                 data={"respond_by": None}).warning
    assert warning.respond_by is None


def test_a_medium_warning_gets_three_days(world):
    from khien.intel.services_warnings import default_respond_by

    now = timezone.now()
    assert default_respond_by("critical", now) == now + dt.timedelta(hours=24)
    assert default_respond_by("medium", now) == now + dt.timedelta(hours=72)
    assert default_respond_by("low", now) == now + dt.timedelta(hours=72)


def test_the_warning_page_tells_its_two_counts_apart(world, intel, hit_at, settings, as_user):
    """The reason counts the events of the campaign; the box every event the organization's monitoring saw."""
    settings.KHIEN_CAMPAIGN_WINDOW_SECONDS = 3600
    hit_at(world.ministry, n=9, when=timezone.now() - dt.timedelta(hours=3))  # before the campaign
    for n, org in enumerate((world.ministry, world.province, world.department)):
        hit_at(org, n=n)
    correlation.correlate()
    campaign = Campaign.objects.get()
    assert correlation.event_counts(campaign)[world.ministry.pk] == 1
    warning = correlation.do_campaign_to_warning(campaign, acting_user=world.coordinator).warning
    client = as_user(world.analyst)
    client.cookies["khien_language"] = "en"
    page = client.get(reverse("intel:warning_detail", args=[warning.pk])).content.decode()
    assert "1 event during the campaign" in page
    assert "MIN&#x27;s monitoring has seen these values in 2 events in all" in page \
        or "MIN's monitoring has seen these values in 2 events in all" in page


def _rule_hits(world, hit_at, orgs):
    for n, org in enumerate(orgs):
        hit_at(org, "192.0.2.50", n=n, rule="edr-ransom", severity=9, category="malware")


def test_the_incident_names_systems_and_the_campaign_page_the_related_incidents(world, intel, hit_at, make_system,
                                                                                coordinator_client):
    content.load_all()
    orgs = (world.ministry, world.province, world.department)
    _rule_hits(world, hit_at, orgs)
    systems = {}
    for org in orgs:
        systems[org.pk] = make_system(org, name=f"Portal of {org.code}")
        for source in AlertSource.objects.filter(organization=org):
            source.systems.add(systems[org.pk])
    # The ministry reported its own alert before the coordinator decides.
    own = triage.do_alert_to_incident(Alert.objects.get(organization=world.ministry), acting_user=world.admin)
    correlation.correlate()
    campaign = Campaign.objects.get(kind=CampaignKind.RULE)
    defaults = correlation.incident_defaults(campaign, world.coordinator)
    # The organizations hit read the national incident (its systems name theirs): its text names none of them, nor
    # their own incidents — who else was hit stays with the coordinator, on the campaign's page.
    for org in orgs:
        assert org.code not in defaults["description"] and org.name not in defaults["description"]
    assert own.reference not in defaults["description"]
    assert "3 organizations" in defaults["description"] or "3 tổ chức" in defaults["description"]
    assert correlation.related_incidents(campaign, world.coordinator) == [own]
    incident = correlation.do_campaign_to_incident(campaign, acting_user=world.coordinator).incident
    assert set(incident.systems.all()) == set(systems.values())
    assert own.reference not in incident.description
    page = coordinator_client.get(f"/telemetry/campaigns/{campaign.pk}/").content.decode()
    listed = page[page.index('id="campaign-related-incidents"'):]
    assert own.reference in listed[:2000]
    # A correction of the reporter's own systems keeps those of the organizations involved.
    from khien.incidents.services import do_correct_report

    do_correct_report(incident, {"title": "Ransomware across three organizations"}, systems=[],
                      acting_user=world.coordinator)
    assert set(incident.systems.all()) == set(systems.values())


def test_the_related_incidents_are_only_those_the_coordinator_may_see(world, intel, hit_at):
    """Listed on the campaign's page by their references, which the coordinator sees."""
    _rule_hits(world, hit_at, (world.ministry, world.province, world.department))
    correlation.correlate()
    campaign = Campaign.objects.get(kind=CampaignKind.RULE)
    assert "SC-" not in correlation.incident_defaults(campaign, world.coordinator)["description"]


def test_a_campaign_warning_through_the_api_has_the_deadline_too(world, domain_campaign, api):
    response = api(world.coordinator).post(f"/api/telemetry/campaigns/{domain_campaign.pk}/warn/", {},
                                           format="json")
    assert response.status_code == 200, response.content
    warning = EarlyWarning.objects.get()
    assert warning.respond_by is not None
    assert not warning.targets.filter(organization=world.ncsc).exists()
