"""Walkthrough of the coordinator deciding national campaigns (round 3):

1. the early warning prefilled from a campaign: a neutral title when the indicators disagree on what the value is
   (the specific reading kept when they agree); no description that only repeats its indicator's name; a rule
   campaign's instruction worded for what the recipient has (its own monitoring and alerts);
2. a URL campaign and the campaign of its host (a domain or subdomain, an IP address) are the same wave however few
   organizations they share; the related table says what its "5 / 9" counts;
3. the organizations involved are placed as the national figures place them (a ministry: the central agencies);
4. an alert the coordinator took into the national incident says so; one its organization reported keeps
   "Incident reported".
"""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from khien.core import notifications
from khien.intel import services as intel_services
from khien.intel.models import Tlp
from khien.intel.tests.conftest import indicator
from khien.registry import places
from khien.telemetry import correlation, triage
from khien.telemetry.models import Alert, Campaign, CampaignKind
from khien.telemetry.tests.test_campaign_summary_and_counts import HASH, hash_campaign  # noqa: F401 (fixture)
from khien.telemetry.tests.test_correlation import campaign, hit_at  # noqa: F401 (fixtures)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)
from khien.telemetry.tests.test_walk_campaign_decisions import DOMAIN, domain_campaign  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _platform(text) -> str:
    with notifications.platform_language():
        return str(text)


# --- 1. The prefilled warning ----------------------------------------------------------------------------------


def test_indicators_that_disagree_give_a_neutral_title(world, domain_campaign):  # noqa: F811
    """One producer calls the domain a malware distribution domain, another a credential phishing one: the title
    takes neither side — what was seen and where; the summary gives each reading."""
    defaults = correlation.warning_defaults(domain_campaign, world.coordinator)
    title, summary = defaults["title"], defaults["summary"]
    assert "Malware distribution" not in title and "phishing" not in title, title
    with translation.override("en"):
        assert correlation.warning_title(domain_campaign, correlation.threats(domain_campaign, world.coordinator)) \
            == f"Domain name {DOMAIN} seen at 4 organizations"
    assert DOMAIN in title and "4" in title
    assert "Malware distribution domain — Domain spreading malware" in summary
    assert "Credential phishing domain — Domain collecting sign-in details" in summary


def test_indicators_that_agree_keep_their_reading_in_the_title(world, hash_campaign):  # noqa: F811
    title = correlation.warning_defaults(hash_campaign, world.coordinator)["title"]
    assert title.startswith("Credential stealer (797ba93525f2…)"), title


def test_two_producers_with_one_reading_keep_it(world, intel, hit_at):  # noqa: F811
    """The same name in other words of case and punctuation is one reading."""
    value = "update-check.example.vn"
    objects = [indicator(value, kind="domain-name", tlp=Tlp.GREEN, name=f"C2 server: {value}"),
               indicator(value, kind="domain-name", tlp=Tlp.GREEN, name=f"c2 server {value}")]
    intel_services.do_add_objects(intel.collection, objects, acting_user=world.coordinator)
    for n, org in enumerate((world.ministry, world.province, world.department)):
        hit_at(org, "192.0.2.9", n=n, domain=value)
    correlation.correlate()
    c = Campaign.objects.get(kind=CampaignKind.INDICATOR, indicator_kind="domain")
    title = correlation.warning_defaults(c, world.coordinator)["title"]
    assert title.lower().startswith(f"c2 server: {value}") or title.lower().startswith(f"c2 server {value}"), title


def test_a_description_that_only_repeats_the_name_is_left_out(world, intel, hit_at):  # noqa: F811
    value = "beacon.example.vn"
    objects = [indicator(value, kind="domain-name", tlp=Tlp.GREEN, name=f"C2 server: {value}",
                         description="C2 server", confidence=90),
               indicator(value, kind="domain-name", tlp=Tlp.GREEN, name=f"Phishing site {value}",
                         description=f"Phishing site {value}.", confidence=50),
               indicator(value, kind="domain-name", tlp=Tlp.GREEN, name=f"Malware host {value}",
                         description="Serves the loader of a banking trojan", confidence=40)]
    intel_services.do_add_objects(intel.collection, objects, acting_user=world.coordinator)
    for n, org in enumerate((world.ministry, world.province, world.department)):
        hit_at(org, "192.0.2.9", n=n, domain=value)
    correlation.correlate()
    c = Campaign.objects.get(kind=CampaignKind.INDICATOR, indicator_kind="domain")
    summary = correlation.warning_defaults(c, world.coordinator)["summary"]
    assert "C2 server" in summary and "C2 server — C2 server" not in summary, summary
    assert "Phishing site" in summary and "Phishing site — " not in summary, summary
    assert "Malware host — Serves the loader of a banking trojan" in summary  # one that says more is kept


def test_a_rule_campaign_s_warning_points_to_the_recipient_s_own_alerts(world, intel, hit_at):  # noqa: F811
    for org in (world.ministry, world.province, world.department):
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)
    correlation.correlate()
    rule = Campaign.objects.get(kind=CampaignKind.RULE)
    with translation.override("en"):
        summary = correlation.warning_summary(rule)
    assert "the systems they name" not in summary  # a warning names no system
    assert "your own monitoring" in summary and "your alerts" in summary, summary
    assert _platform(correlation.WARNING_ACTION_RULE) in correlation.warning_defaults(rule)["summary"]


# --- 2. Related campaigns naming the same host -------------------------------------------------------------------


def _indicator_campaign(kind, value, orgs, first, last):
    c = Campaign.objects.create(kind=CampaignKind.INDICATOR, key=correlation.indicator_key(kind, value),
                                indicator_kind=kind, value=value, title=value, first_seen=first, last_seen=last,
                                organization_count=len(orgs), count=len(orgs))
    c.organizations.add(*orgs)
    return c


@pytest.fixture
def period():
    now = timezone.now()
    return now - dt.timedelta(hours=3), now


def _related(c):
    return {r.pk: r.shared for r in correlation.related_campaigns(c)}


def test_a_url_and_its_domain_are_one_wave_with_few_organizations_in_common(world, period):
    first, last = period
    url = _indicator_campaign("url", "https://login.hoadon.example.vn/verify?id=1",
                              (world.ministry, world.province, world.department, world.commune), first, last)
    domain = _indicator_campaign("domain", "hoadon.example.vn", (world.ministry, world.ncsc, world.responder_org),
                                 first, last)  # 1 in common: under half of each
    assert _related(url) == {domain.pk: 1} and _related(domain) == {url.pk: 1}
    # The URL's host itself as the domain too.
    exact = _indicator_campaign("domain", "login.hoadon.example.vn", (world.ncsc,), first, last)
    assert _related(exact) == {url.pk: 0} and exact.pk in _related(url)


def test_an_address_and_a_url_on_it_are_one_wave(world, period):
    first, last = period
    url = _indicator_campaign("url", "http://203.0.113.7:8080/payload.exe", (world.ministry, world.province,
                                                                            world.department), first, last)
    address = _indicator_campaign("ipv4", "203.0.113.7", (world.department, world.commune, world.ncsc,
                                                          world.responder_org), first, last)
    assert _related(url) == {address.pk: 1} and _related(address) == {url.pk: 1}
    # An IPv6 address, written otherwise in the URL.
    url6 = _indicator_campaign("url", "http://[2001:0db8::0007]/payload", (world.ncsc,), first, last)
    address6 = _indicator_campaign("ipv6", "2001:db8::7", (world.commune,), first, last)
    assert _related(url6) == {address6.pk: 0} and _related(address6) == {url6.pk: 0}


def test_a_host_link_needs_the_same_host_and_overlapping_times(world, period):
    first, last = period
    orgs = (world.ministry, world.province, world.department)
    url = _indicator_campaign("url", "https://login.hoadon.example.vn/verify", orgs[:1], first, last)
    # Another domain that merely ends with the same letters, another address, a parent that is only the TLD part.
    _indicator_campaign("domain", "fake-hoadon.example.vn", orgs[1:], first, last)
    _indicator_campaign("domain", "doan.example.vn", orgs[1:], first, last)
    _indicator_campaign("ipv4", "203.0.113.70", orgs[1:], first, last)
    _indicator_campaign("url", "https://203.0.113.7.example.net/x", orgs[1:], first, last)
    assert _related(url) == {}
    # The domain itself, but seen days before: not the same wave.
    old = _indicator_campaign("domain", "hoadon.example.vn", orgs[1:], first - dt.timedelta(days=3),
                              first - dt.timedelta(days=2))
    assert _related(url) == {} and _related(old) == {}
    address = _indicator_campaign("ipv4", "203.0.113.7", (world.ncsc, world.commune), first, last)
    assert _related(address) == {}  # "203.0.113.7.example.net" is not that address


def test_the_related_table_says_what_its_counts_are(world, period, coordinator_client):
    first, last = period
    url = _indicator_campaign("url", "https://login.hoadon.example.vn/verify",
                              (world.ministry, world.province, world.department, world.commune), first, last)
    _indicator_campaign("domain", "hoadon.example.vn", (world.ministry, world.ncsc, world.responder_org), first, last)
    coordinator_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = coordinator_client.get(reverse("telemetry:campaign", args=[url.pk])).content.decode()
    table = page.split('id="campaign-related"')[1].split("</section>")[0]
    assert "Organizations in common / all of its organizations</th>" in table
    assert '<span aria-hidden="true">1 / 3</span>' in table
    assert "1 of its 3 organizations also in this campaign" in table  # what a screen reader reads
    assert "naming the same host" in table


# --- 3. Where the organizations involved count -------------------------------------------------------------------


def test_a_ministry_is_listed_as_central_not_its_seat(world, campaign, coordinator_client):  # noqa: F811
    from khien.registry.models import Province

    hanoi = Province.objects.filter(code="01").first() or Province.objects.create(code="01", name_vi="Hà Nội",
                                                                                  name_en="Ha Noi")
    type(world.ministry).objects.filter(pk__in=[world.ministry.pk, world.department.pk]).update(province=hanoi)
    type(world.province).objects.filter(pk=world.province.pk).update(province=hanoi)
    context = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).context
    rows = {o.code: o for o in context["organizations"]}
    central = str(places.CENTRAL_LABEL)
    assert rows["MIN"].place == places.CENTRAL and rows["MIN"].place_label == central
    assert rows["MIN-D1"].place_label == central  # a unit of the ministry, wherever it is seated
    assert rows["PROV"].place_label == hanoi.name  # a province's organization by its province
    html = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    row = html.split('data-organization="MIN"')[1].split("</tr>")[0]
    assert 'data-place="central"' in row and hanoi.name not in row


# --- 4. Alerts taken into the national incident ------------------------------------------------------------------


def test_an_alert_taken_into_the_national_incident_says_so(world, campaign, as_user):  # noqa: F811
    incident = correlation.do_campaign_to_incident(campaign, acting_user=world.coordinator).incident
    alert = Alert.objects.get(organization=world.ministry, incident=incident)
    assert alert.taken_into_national_incident
    client = as_user(world.analyst)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get(reverse("telemetry:alert", args=[alert.pk])).content.decode()
    status = page.split('id="alert-status"')[1].split("</dd>")[0]
    assert "Taken into the national incident" in status and "Incident reported" not in status
    assert 'id="alert-taken-by-coordinator"' in page and "Not reported by MIN" in page
    assert incident.reference in page.split('id="alert-incident-link"')[1].split("</dd>")[0]
    listed = client.get(reverse("telemetry:alerts") + "?status=all").content.decode()
    assert "data-taken-by-coordinator" in listed and "Taken into the national incident" in listed
    # The API tells the two kinds of "escalated" apart too, on a list (one query for the page) and on one alert.
    rows = client.get("/api/telemetry/alert-groups/?status=escalated").json()["results"]
    assert {r["id"]: r["taken_into_national_incident"] for r in rows}[str(alert.pk)] is True
    one = client.get(f"/api/telemetry/alert-groups/{alert.pk}/").json()
    assert one["status"] == "escalated" and one["taken_into_national_incident"] is True


def test_an_alert_its_organization_reported_keeps_incident_reported(world, hit_at, as_user):  # noqa: F811
    from khien.incidents import content

    content.load_all()
    hit_at(world.ministry)
    alert = Alert.objects.get(organization=world.ministry)
    triage.do_alert_to_incident(alert, acting_user=world.analyst)
    alert.refresh_from_db()
    assert not alert.taken_into_national_incident
    client = as_user(world.analyst)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get(reverse("telemetry:alert", args=[alert.pk])).content.decode()
    status = page.split('id="alert-status"')[1].split("</dd>")[0]
    assert "Incident reported" in status and "Taken into" not in status
    assert 'id="alert-taken-by-coordinator"' not in page


def test_the_list_marks_taken_alerts_in_one_query(world, campaign, django_assert_max_num_queries):  # noqa: F811
    correlation.do_campaign_to_incident(campaign, acting_user=world.coordinator)
    alerts = list(Alert.objects.all())
    with django_assert_max_num_queries(1):
        triage.note_taken_into_national_incidents(alerts)
        assert all(a.taken_into_national_incident for a in alerts if a.incident_id)
