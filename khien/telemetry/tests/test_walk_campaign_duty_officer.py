"""Walkthrough of the coordinator's duty officer on national campaigns (round 2):

1. the early warning's prefilled text quotes only indicators every recipient may see, at the warning's TLP or less
   restrictive; a text quoting one beyond the TLP chosen, or one a recipient may not see, is refused (page and API);
2. a decided campaign that reaches more organizations tells the coordinators (once per run); the new
   organizations' alerts stay theirs to triage; their systems join the incident's;
3. a campaign's severity reads as a word with its number;
4. a decision is audited as what it was, under the coordinator's organization;
5. the warning form says it is written in the platform's language;
6. the warning's title comes from the most confident indicator quoted.
"""
import pytest
from django.urls import reverse
from django.utils import translation

from khien.conftest import _user
from khien.core import audit
from khien.core.roles import Role
from khien.core.models import AuditEntry, Notification
from khien.incidents import content
from khien.incidents.models import EventKind, IncidentEvent
from khien.intel import services as intel_services
from khien.intel.models import EarlyWarning, Tlp
from khien.intel.tests.conftest import indicator
from khien.telemetry import correlation, triage
from khien.telemetry.models import (OPEN_ALERT_STATUSES, Alert, AlertSource, AlertStatus, Campaign, CampaignKind,
                                    CampaignStatus)
from khien.telemetry.tests.conftest import as_read
from khien.telemetry.tests.test_correlation import campaign, hit_at  # noqa: F401 (fixtures)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

DOMAIN = "cdn-update.example.vn"
SCAN = f"Scanning domain: {DOMAIN}"
C2 = "C2 beacon domain"
C2_TEXT = "Closed ISAC note: beacons every 60 s to this domain"


@pytest.fixture
def c2_campaign(world, intel, hit_at):  # noqa: F811
    """A domain a TLP:GREEN indicator calls a scanning domain (low confidence) and a TLP:AMBER one of the national
    feed (MIN reads it, PROV and MIN-D1 do not) a C2 beacon domain (high confidence), seen at MIN, PROV and MIN-D1."""
    objects = [indicator(DOMAIN, kind="domain-name", tlp=Tlp.GREEN, name=SCAN, description="Seen scanning",
                         confidence=30),
               indicator(DOMAIN, kind="domain-name", tlp=Tlp.AMBER, name=C2, description=C2_TEXT, confidence=90)]
    intel_services.do_add_objects(intel.collection, objects, acting_user=world.coordinator)
    for n, org in enumerate((world.ministry, world.province, world.department)):
        hit_at(org, "192.0.2.9", n=n, domain=DOMAIN)
    correlation.correlate()
    return Campaign.objects.get(kind=CampaignKind.INDICATOR, indicator_kind="domain")


def _warn(api_client, campaign, body):
    return api_client.post(f"/api/telemetry/campaigns/{campaign.pk}/warn/", body, format="json")


# --- 1. TLP of what the warning quotes ------------------------------------------------------------------------


def test_the_prefilled_text_quotes_only_what_every_recipient_may_see(world, c2_campaign):
    defaults = correlation.warning_defaults(c2_campaign, world.coordinator)  # MIN, PROV, MIN-D1
    assert "Scanning domain — Seen scanning" in defaults["summary"]
    assert C2 not in defaults["summary"] and C2_TEXT not in defaults["summary"] and C2 not in defaults["title"]
    assert defaults["tlp"] == Tlp.AMBER  # never below what it quotes
    # To MIN alone, which reads the national feed, the AMBER indicator is quoted too; the two disagree (C2 beacon,
    # scanning): the title takes neither side, the summary gives both.
    only_min = correlation.warning_defaults(c2_campaign, world.coordinator, recipients=[world.ministry.pk])
    assert C2_TEXT in only_min["summary"] and "Scanning domain" in only_min["summary"]
    assert C2 not in only_min["title"] and SCAN not in only_min["title"] and DOMAIN in only_min["title"]
    assert only_min["tlp"] == Tlp.AMBER


def test_a_clear_warning_through_the_api_quotes_nothing_more_restrictive(world, c2_campaign, api):
    """The walkthrough's request: TLP:CLEAR to one organization quoted the AMBER indicator; now it quotes neither
    it nor the GREEN one (more restrictive than CLEAR)."""
    response = _warn(api(world.coordinator), c2_campaign, {"tlp": "clear", "organizations": ["MIN"]})
    assert response.status_code == 200, response.content
    warning = EarlyWarning.objects.get()
    assert warning.tlp == Tlp.CLEAR
    for text in (C2, C2_TEXT, SCAN, "Seen scanning"):
        assert text not in warning.summary and text not in warning.title
    assert DOMAIN in warning.summary  # still what to look for


def test_an_amber_warning_to_those_who_may_see_it_quotes_it(world, c2_campaign, api):
    response = _warn(api(world.coordinator), c2_campaign, {"tlp": "amber", "organizations": ["MIN"]})
    assert response.status_code == 200, response.content
    warning = EarlyWarning.objects.get()
    assert C2_TEXT in warning.summary and C2 not in warning.title and warning.tlp == Tlp.AMBER


def test_a_text_quoting_beyond_the_warning_s_tlp_is_refused_naming_the_indicator(world, c2_campaign, api):
    quoting = correlation.warning_defaults(c2_campaign, world.coordinator, recipients=[world.ministry.pk])["summary"]
    response = _warn(api(world.coordinator), c2_campaign,
                     {"tlp": "green", "organizations": ["MIN"], "summary": quoting})
    assert response.status_code == 400, response.content
    assert C2 in response.content.decode() and "TLP:AMBER" in response.content.decode()
    assert not EarlyWarning.objects.exists()
    c2_campaign.refresh_from_db()
    assert c2_campaign.status == CampaignStatus.OPEN and c2_campaign.warning_id is None


def test_a_text_quoting_what_a_recipient_may_not_see_is_refused(world, c2_campaign, api):
    quoting = correlation.warning_defaults(c2_campaign, world.coordinator, recipients=[world.ministry.pk])["summary"]
    response = _warn(api(world.coordinator), c2_campaign, {"organizations": ["MIN", "PROV"], "summary": quoting})
    assert response.status_code == 400, response.content
    body = response.content.decode()
    assert C2 in body and "PROV" in body and "MIN," not in body
    assert not EarlyWarning.objects.exists()


def test_the_page_refuses_a_tlp_below_what_the_text_quotes(world, c2_campaign, coordinator_client):
    defaults = correlation.warning_defaults(c2_campaign, world.coordinator, recipients=[world.ministry.pk])
    form = {"title": defaults["title"], "summary": defaults["summary"], "severity": "high", "tlp": "green",
            "organizations": [str(world.ministry.pk)], "recipients_chosen": "True", "respond_by": ""}
    url = reverse("telemetry:campaign_action", args=[c2_campaign.pk, "warn"])
    with translation.override("en"):
        coordinator_client.cookies["khien_language"] = "en"
        response = coordinator_client.post(url, form)
    assert response.status_code == 400
    page = response.content.decode()
    assert C2 in page[page.index('id="make-warning"'):] and "TLP:AMBER" in page
    assert not EarlyWarning.objects.exists()
    # At TLP:AMBER, to MIN, the same text is sent.
    response = coordinator_client.post(url, {**form, "tlp": "amber"})
    assert response.status_code == 302
    assert EarlyWarning.objects.get().summary == defaults["summary"]


def test_the_page_opens_the_form_with_the_quotes_its_recipients_may_see(world, c2_campaign, coordinator_client):
    page = coordinator_client.get(reverse("telemetry:campaign", args=[c2_campaign.pk])).content.decode()
    summary = page.split('name="summary"')[1].split("</textarea>")[0]
    assert "Scanning domain — Seen scanning" in summary and C2_TEXT not in summary


# --- 6. The title: the most confident indicator ------------------------------------------------------------------


def test_the_title_names_the_most_confident_indicator_then_the_latest(world, intel, hit_at):  # noqa: F811
    """Not the first indicator in the order of the hits (the scanning domain, in the walkthrough's C2 beacon wave):
    the most confident, and of two as confident the latest version."""
    from khien.telemetry.correlation import _named_indicators

    names = ("Scanning host", "Phishing kit host", "C2 server")
    objects = {name: indicator(DOMAIN, kind="domain-name", tlp=Tlp.GREEN, name=name, confidence=50)
               for name in names}
    intel_services.do_add_objects(intel.collection, list(objects.values()), acting_user=world.coordinator)
    for n, org in enumerate((world.ministry, world.province, world.department)):
        hit_at(org, "192.0.2.9", n=n, domain=DOMAIN)
    correlation.correlate()
    campaign = Campaign.objects.get(kind=CampaignKind.INDICATOR, indicator_kind="domain")  # noqa: F811
    first, middle, last = [v.data["name"] for v in _named_indicators(campaign, world.coordinator)]
    # The first in the hits' order is the least confident; the two others equally confident, the last one newer.
    changed = [{**objects[first], "confidence": 10, "modified": "2026-01-02T00:00:00.000Z"},
               {**objects[middle], "confidence": 90, "modified": "2026-01-03T00:00:00.000Z"},
               {**objects[last], "confidence": 90, "modified": "2026-01-04T00:00:00.000Z"}]
    intel_services.do_add_objects(intel.collection, changed, acting_user=world.coordinator)
    defaults = correlation.warning_defaults(campaign, world.coordinator)
    # Three readings: the title takes none of them (round 3); the summary gives them the most confident first.
    assert not defaults["title"].startswith(names), defaults["title"]
    summary = defaults["summary"]
    assert summary.index(last) < summary.index(middle) < summary.index(first), (summary, first, middle, last)
    # Of one reading, the most confident, latest indicator titles the warning.
    assert correlation.warning_title(campaign, [(last, "")]).startswith(last)


# --- 2. A decided campaign that spreads ------------------------------------------------------------------------


def _grew(recipient):
    return list(Notification.objects.filter(kind="telemetry.campaign_grew", recipient=recipient))


def test_an_incident_campaign_that_spreads_tells_the_coordinator_and_leaves_the_new_alerts_to_triage(
        world, campaign, hit_at, make_system, reads_in):  # noqa: F811
    campaign = correlation.do_campaign_to_incident(campaign, acting_user=world.coordinator)  # noqa: F811
    incident = campaign.incident
    portal = make_system(world.commune, name="Commune portal")
    hit_at(world.commune)
    for source in AlertSource.objects.filter(organization=world.commune):
        source.systems.add(portal)
    reads_in(world.coordinator, "en")
    commune_analyst = _user("analyst@c1.test.vn", world.commune, Role.ORG_ANALYST)
    correlation.correlate()
    campaign.refresh_from_db()
    assert campaign.organization_count == 4
    # The commune hears at once that the national incident names its system (and may open it, as affected).
    (named,) = Notification.objects.filter(kind="incidents.systems_named", recipient=commune_analyst)
    assert "Commune portal" in named.body and incident.reference in named.title and named.urgent
    # The coordinator is told, once, with the new organization and a link to the campaign's page.
    (note,) = _grew(world.coordinator)
    title, body = as_read(note)
    assert "4 organizations" in title and "PROV-C1" in title, title
    assert note.url == reverse("telemetry:campaign", args=[campaign.pk])
    assert "Critical" not in body and "Medium (5)" in body, body  # the severity in words (5: the ECS default)
    # The commune's alert stays its own to triage: in its open queue, not taken into an incident it cannot open.
    late = Alert.objects.get(organization=world.commune)
    assert late.status in OPEN_ALERT_STATUSES and late.incident_id is None
    triage.do_triage_alerts([late.pk], AlertStatus.ACKNOWLEDGED, acting_user=commune_analyst)
    # Its affected system is the incident's now, said in the journal (by Khiên) and audited.
    assert portal in incident.systems.all()
    corrected = IncidentEvent.objects.get(incident=incident, kind=EventKind.CORRECTED)
    assert corrected.actor is None and corrected.data["fields"] == ["systems"] and "PROV-C1" in corrected.text
    assert AuditEntry.objects.filter(object_type="incidents.incident", object_id=str(incident.pk),
                                     actor_email="", action="update").exists()
    # A run with nothing new tells nobody again; an organization the incident was decided with still joins.
    correlation.correlate()
    assert len(_grew(world.coordinator)) == 1
    hit_at(world.ministry, n=7, rule="second-rule")
    assert correlation.correlate()["joined_incidents"] == 1
    assert Alert.objects.get(rule_id="second-rule").incident == incident
    assert len(_grew(world.coordinator)) == 1


def test_a_warned_campaign_that_spreads_points_to_the_box_that_sends_the_warning(world, campaign, hit_at,
                                                                               coordinator_client):  # noqa: F811
    correlation.do_campaign_to_warning(campaign, acting_user=world.coordinator)
    hit_at(world.commune)
    hit_at(world.responder_org)
    correlation.correlate()
    (note,) = _grew(world.coordinator)
    with translation.override("en"):
        title = note.shown_title
    assert "PROV-C1" in title and "RESP" in title and "5 organizations" in title
    page = coordinator_client.get(note.url).content.decode()
    assert 'data-unwarned="PROV-C1"' in page and 'id="campaign-warn-more"' in page


def test_an_open_campaign_that_spreads_is_not_announced_again(world, campaign, hit_at):  # noqa: F811
    hit_at(world.commune)
    correlation.correlate()
    assert not Notification.objects.filter(kind="telemetry.campaign_grew").exists()


# --- 3. Severity in words ---------------------------------------------------------------------------------------


@pytest.fixture
def rule_campaign(world, intel, hit_at):  # noqa: F811
    content.load_all()
    for org in (world.ministry, world.province, world.department):
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)
    correlation.correlate()
    return Campaign.objects.get(kind=CampaignKind.RULE)


def test_the_severity_reads_as_a_word_with_its_number(world, rule_campaign, coordinator_client):
    for path in (reverse("telemetry:campaigns"), reverse("telemetry:campaign", args=[rule_campaign.pk])):
        page = coordinator_client.get(path).content.decode()
        assert "Nghiêm trọng (9)" in page, path
        coordinator_client.cookies["khien_language"] = "en"
        assert "Critical (9)" in coordinator_client.get(path).content.decode(), path
        coordinator_client.cookies["khien_language"] = "vi"
    note = Notification.objects.get(kind="telemetry.campaign", recipient=world.coordinator)
    with translation.override("en"):
        assert "Critical (9)" in note.shown_body
    with translation.override("vi"):
        assert "Nghiêm trọng (9)" in note.shown_body


# --- 4. Audit of a decision ----------------------------------------------------------------------------------


def _decision_entries(campaign):  # noqa: F811
    """The campaign's entries written by the coordinator (its raising and updates are Khiên's)."""
    return list(AuditEntry.objects.filter(object_type="telemetry.campaign", object_id=str(campaign.pk))
                .exclude(actor_email="").order_by("seq"))


@pytest.mark.parametrize("decision", ["warned", "incident", "dismissed"])
def test_a_decision_is_logged_as_what_it_was_under_the_coordinator_s_organization(world, rule_campaign, decision):
    service = {"warned": correlation.do_campaign_to_warning, "incident": correlation.do_campaign_to_incident,
               "dismissed": correlation.do_dismiss_campaign}[decision]
    service(rule_campaign, acting_user=world.coordinator)
    (entry,) = _decision_entries(rule_campaign)
    assert entry.action == "transition" and entry.after["decision"] == decision
    assert entry.organization_id == str(world.ncsc.pk)
    with translation.override("en"):
        label = audit.entry_action_label(entry)
    status = {"warned": "Early warning issued", "incident": "Incident opened", "dismissed": "Dismissed"}[decision]
    assert label.endswith(f"Open → {status}"), label
    if decision == "dismissed":
        correlation.do_reopen_campaign(rule_campaign, acting_user=world.coordinator)
        reopened = _decision_entries(rule_campaign)[-1]
        assert reopened.action == "transition" and reopened.after["decision"] == "reopened"
        assert reopened.organization_id == str(world.ncsc.pk)


def test_a_warning_made_after_the_incident_is_logged_as_a_warning(world, rule_campaign):
    correlation.do_campaign_to_incident(rule_campaign, acting_user=world.coordinator)
    correlation.do_campaign_to_warning(rule_campaign, acting_user=world.coordinator)
    entry = _decision_entries(rule_campaign)[-1]
    assert entry.after["decision"] == "warned" and entry.organization_id == str(world.ncsc.pk)


# --- 5. The form says its language -------------------------------------------------------------------------------


def test_the_warning_form_says_it_is_written_in_the_platform_s_language(world, rule_campaign, coordinator_client):
    coordinator_client.cookies["khien_language"] = "en"
    page = coordinator_client.get(reverse("telemetry:campaign", args=[rule_campaign.pk])).content.decode()
    form = page[page.index('id="make-warning"'):]
    assert 'id="warning-language"' in form and "Vietnamese" in form
    with translation.override("en"):
        assert correlation.warning_defaults(rule_campaign, world.coordinator)["title"].startswith("Quy tắc")
