"""National campaigns: raised from hits and rules at several organizations; the coordinator's decisions."""
import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry, Notification
from khien.incidents import content
from khien.incidents.models import EventKind, Incident, IncidentEvent
from khien.intel.models import EarlyWarning, Tlp
from khien.telemetry import correlation, jobs, services, triage
from khien.telemetry.models import Alert, AlertStatus, Campaign, CampaignKind, CampaignStatus, IndicatorHit
from khien.telemetry.tests.test_matching import ecs, intel  # noqa: F401 (fixture)
from .conftest import as_read, kept_untranslated


@pytest.fixture
def hit_at(world, intel, make_source):
    sources = {}

    def hit(org, value=None, **kw):
        if org.pk not in sources:
            sources[org.pk] = make_source(org, "ecs")[0]
        services.ingest_batch(sources[org.pk], [ecs(value or intel.values[Tlp.GREEN], **kw)])

    return hit


def test_indicator_seen_at_three_organizations_raises_one_campaign(world, intel, hit_at):
    hit_at(world.ministry)
    hit_at(world.province)
    assert correlation.correlate() == {"created": 0, "updated": 0, "joined_incidents": 0}  # two organizations: not yet
    Notification.objects.all().delete()
    hit_at(world.department)
    assert correlation.correlate() == {"created": 1, "updated": 0, "joined_incidents": 0}
    campaign = Campaign.objects.get()
    assert campaign.kind == CampaignKind.INDICATOR
    assert campaign.key == correlation.indicator_key("ipv4", intel.values[Tlp.GREEN])
    assert correlation.representative_indicator(campaign) == intel.ids[Tlp.GREEN]
    assert campaign.value == intel.values[Tlp.GREEN] and campaign.status == CampaignStatus.OPEN
    assert set(campaign.organizations.all()) == {world.ministry, world.province, world.department}
    assert campaign.organization_count == 3 and campaign.count == 3
    note = Notification.objects.get(kind="telemetry.campaign")
    assert note.recipient == world.coordinator and note.urgent and str(campaign.pk) in note.url
    assert AuditEntry.objects.filter(object_type="telemetry.campaign", object_id=str(campaign.pk)).exists()
    # Later runs update the same campaign instead of raising another one.
    assert correlation.correlate() == {"created": 0, "updated": 0, "joined_incidents": 0}
    hit_at(world.commune, n=1)
    assert jobs.correlate(timezone.now()) == "0 campaigns raised, 1 updated, 0 alerts added to their incidents"
    campaign.refresh_from_db()
    assert Campaign.objects.count() == 1 and campaign.organization_count == 4 and campaign.count == 4
    assert Notification.objects.filter(kind="telemetry.campaign").count() == 1


def test_hits_outside_the_window_do_not_count(world, intel, hit_at, settings):
    settings.KHIEN_CAMPAIGN_WINDOW_SECONDS = 3600
    old = timezone.now() - dt.timedelta(hours=3)
    hit_at(world.ministry, when=old)
    hit_at(world.province)
    hit_at(world.department)
    assert correlation.correlate() == {"created": 0, "updated": 0, "joined_incidents": 0}
    settings.KHIEN_CAMPAIGN_MIN_ORGS = 2
    assert correlation.correlate() == {"created": 1, "updated": 0, "joined_incidents": 0}
    assert Campaign.objects.get().organization_count == 2


def test_same_severe_rule_at_three_organizations_raises_a_rule_campaign(world, intel, hit_at):
    for org in (world.ministry, world.province, world.department):
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)
        hit_at(org, "192.0.2.51", rule="scan-noise", severity=3)
    correlation.correlate()
    campaign = Campaign.objects.get()
    assert campaign.kind == CampaignKind.RULE and campaign.key == "edr-ransom"
    assert campaign.severity == 9 and campaign.organization_count == 3


def test_alerts_judged_harmless_do_not_make_a_rule_campaign(world, intel, hit_at):
    """An organization's false positives (or suppressed repeats) are not evidence: the rule must still be live at
    three organizations."""
    from khien.telemetry import triage
    from khien.telemetry.models import Alert, AlertStatus

    for org in (world.ministry, world.province, world.department):
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)
    harmless = Alert.objects.get(organization=world.department, rule_id="edr-ransom")
    triage.do_triage_alerts([harmless.pk], AlertStatus.FALSE_POSITIVE, acting_user=world.analyst,
                            note="EDR test run")
    assert correlation.correlate() == {"created": 0, "updated": 0, "joined_incidents": 0}
    hit_at(world.commune, "192.0.2.50", rule="edr-ransom", severity=9)
    assert correlation.correlate() == {"created": 1, "updated": 0, "joined_incidents": 0}
    campaign = Campaign.objects.get()
    assert set(campaign.organizations.all()) == {world.ministry, world.province, world.commune}


def test_a_rule_campaign_s_incident_is_titled_in_the_platform_s_language(world, intel, hit_at):
    """The coordinator reading Khiên in English still reports the incident in the platform's language, the rule's
    name (the SOC tool's own words) quoted: every organization involved reads it."""
    content.load_all()
    for org in (world.ministry, world.province, world.department):
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)
    correlation.correlate()
    campaign = Campaign.objects.get()
    with translation.override("en"):
        assert correlation.incident_defaults(campaign)["title"] == campaign.title
        correlation.do_campaign_to_incident(campaign, acting_user=world.coordinator)
    with translation.override(settings.LANGUAGE_CODE):
        expected = gettext("Rule “%(rule)s” raised at %(n)d organizations") % {"rule": "Rule edr-ransom", "n": 3}
    assert expected.startswith("Quy tắc “Rule edr-ransom”") and Incident.objects.get().title == expected


@pytest.fixture
def two_languages(world, reads_in):
    """Two national coordinators: one reads Khiên in English, the other in Vietnamese."""
    from khien.core.models import User
    from khien.core.roles import Role
    from khien.registry.models import Membership

    english = User.objects.create_user(email="english@ncsc.test.vn", password="Khien-test-pass-2026")
    Membership.objects.create(user=english, organization=world.ncsc, role=Role.NATIONAL_COORDINATOR)
    reads_in(english, "en")
    reads_in(world.coordinator, "vi")
    return english


def test_a_campaign_is_announced_to_each_coordinator_in_their_language(world, intel, hit_at, two_languages):
    for org in (world.ministry, world.province, world.department):
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)
    Notification.objects.all().delete()
    with translation.override("en"):  # whoever's request or job runs it
        correlation.correlate()
    english = Notification.objects.get(kind="telemetry.campaign", recipient=two_languages)
    vietnamese = Notification.objects.get(kind="telemetry.campaign", recipient=world.coordinator)
    (en_title, en_body), (vi_title, vi_body) = as_read(english), as_read(vietnamese)
    assert en_title == "National campaign: Rule “Rule edr-ransom” raised at 3 organizations"
    assert en_body.startswith("First seen ")
    assert vi_title == "Chiến dịch tấn công cấp quốc gia: Quy tắc “Rule edr-ransom” được kích hoạt tại 3 tổ chức"
    assert not vi_body.startswith("First seen ") and english.url == vietnamese.url and vietnamese.urgent
    assert english.title == vi_title  # stored in the platform's language; each reads their own version
    assert kept_untranslated(english) and english.texts["title"]["params"]["title"]["msgid"] == \
        "Rule “%(rule)s” raised at %(n)d organizations"


@pytest.fixture
def campaign(world, intel, hit_at):
    from khien.incidents import content

    content.load_all()
    for org in (world.ministry, world.province, world.department):
        hit_at(org)
    correlation.correlate()
    return Campaign.objects.get()


def test_campaign_to_warning_targets_the_organizations(world, campaign):
    correlation.do_campaign_to_warning(campaign, acting_user=world.coordinator)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.WARNED and campaign.decided_by == world.coordinator
    warning = EarlyWarning.objects.get()
    assert campaign.warning == warning and warning.organization == world.ncsc
    assert set(warning.targets.values_list("organization_id", flat=True)) == {
        world.ministry.pk, world.province.pk, world.department.pk}
    assert {"kind": "ipv4", "value": campaign.value} in warning.values
    with pytest.raises(Refused) as exc:  # one warning per campaign
        correlation.do_campaign_to_warning(campaign, acting_user=world.coordinator)
    assert exc.value.status == 409 and EarlyWarning.objects.count() == 1
    # The warning does not close the other way: the same campaign also becomes an incident, the warning kept.
    correlation.do_campaign_to_incident(campaign, acting_user=world.coordinator)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.INCIDENT and campaign.warning == warning and Incident.objects.count() == 1
    with pytest.raises(Refused) as exc:
        correlation.do_campaign_to_incident(campaign, acting_user=world.coordinator)
    assert exc.value.status == 409 and Incident.objects.count() == 1


def test_campaign_to_incident_is_reported_by_the_coordinators_organization(world, campaign):
    correlation.do_campaign_to_incident(campaign, acting_user=world.coordinator)
    campaign.refresh_from_db()
    incident = Incident.objects.get()
    assert campaign.status == CampaignStatus.INCIDENT and campaign.incident == incident
    assert incident.organization == world.ncsc and incident.title == campaign.title
    assert incident.suspected_malicious and incident.impact_beyond_organization
    # The indicator's value is the incident's observable; the alerts behind the campaign joined the incident.
    assert list(incident.observables.values_list("kind", "value")) == [("ipv4", campaign.value)]
    behind = Alert.objects.filter(incident=incident)
    assert {a.organization_id for a in behind} == {world.ministry.pk, world.province.pk, world.department.pk}
    assert all(a.status == AlertStatus.ESCALATED and a.triaged_by == world.coordinator for a in behind)
    line = IncidentEvent.objects.get(incident=incident, kind=EventKind.ALERTS)
    assert set(line.data["alerts"]) == {str(a.pk) for a in behind}
    # The province's people see that the national incident handles their alert, not the incident itself.
    assert not Incident.objects.visible_to(world.other_admin).exists()
    assert [a.pk for a in triage.alerts_behind(world.other_admin, incident)] == [
        behind.get(organization=world.province).pk]


def test_alerts_raised_after_the_decision_join_the_campaigns_incident(world, campaign, hit_at, coordinator_client):
    """The campaign goes on after the coordinator opened its incident: the next correlation adds the new alerts of
    the organizations the incident was opened for (journal line, no user), and stops once the incident is closed.
    An organization the campaign reaches later keeps its alert to triage (it cannot open the national incident)."""
    from khien.incidents.models import Status

    campaign = correlation.do_campaign_to_incident(campaign, acting_user=world.coordinator)
    incident = campaign.incident
    opened_for = {a.organization_id for a in Alert.objects.filter(incident=incident)}
    hit_at(world.commune)  # a new organization
    assert correlation.correlate() == {"created": 0, "updated": 1, "joined_incidents": 0}
    newcomer = Alert.objects.get(organization=world.commune)
    assert newcomer.incident is None and newcomer.status == AlertStatus.NEW
    org = next(o for o in (world.ministry, world.department, world.province) if o.pk in opened_for)
    hit_at(org, rule="next-rule")  # a new alert of an organization the incident was opened for
    assert correlation.correlate()["joined_incidents"] == 1
    late = Alert.objects.get(organization=org, rule_id="next-rule")
    assert late.incident == incident and late.status == AlertStatus.ESCALATED and late.triaged_by is None
    line = IncidentEvent.objects.filter(incident=incident, kind=EventKind.ALERTS).latest("at")
    assert line.data["alerts"] == [str(late.pk)] and line.actor is None
    assert AuditEntry.objects.filter(object_type="telemetry.alert", object_id=str(late.pk), actor_email="").exists()
    # Its page says Khiên set it, and the incident's journal says the line was Khiên's.
    client = coordinator_client
    assert 'id="alert-set-by-khien"' in client.get(reverse("telemetry:alert", args=[late.pk])).content.decode()
    assert "Khiên (tự động)" in client.get(reverse("incidents:incident_detail", args=[incident.pk])).content.decode()
    assert 'id="campaign-follows-incident"' in client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    # A closed incident takes no more alerts: they stay open for their organization.
    joined = Alert.objects.filter(incident=incident).count()
    Incident.objects.filter(pk=incident.pk).update(status=Status.CLOSED)
    hit_at(org, rule="other-rule")  # another alert behind the campaign
    assert correlation.correlate()["joined_incidents"] == 0
    assert Alert.objects.get(rule_id="other-rule").incident is None
    assert Alert.objects.filter(incident=incident).count() == joined


def test_a_campaign_first_seen_days_ago_becomes_an_incident_with_its_delay_explained(world, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(first_seen=timezone.now() - dt.timedelta(days=3))
    campaign.refresh_from_db()
    incident = correlation.do_campaign_to_incident(campaign, acting_user=world.coordinator).incident
    assert "3 tổ chức" in incident.late_reason or "3 organizations" in incident.late_reason


def test_campaign_to_incident_leaves_alerts_already_handled(world, campaign):
    """An alert its organization reported as its own incident stays with it; one judged a false positive stays
    so; the others join the national incident."""
    own = Alert.objects.get(organization=world.ministry)
    unit_incident = triage.do_alert_to_incident(own, acting_user=world.analyst)
    harmless = Alert.objects.get(organization=world.department)
    triage.do_triage_alerts([harmless.pk], AlertStatus.FALSE_POSITIVE, acting_user=world.analyst, note="lab")
    campaign = correlation.do_campaign_to_incident(campaign, acting_user=world.coordinator)
    assert Alert.objects.get(pk=own.pk).incident == unit_incident
    assert Alert.objects.get(pk=harmless.pk).status == AlertStatus.FALSE_POSITIVE
    assert list(Alert.objects.filter(incident=campaign.incident).values_list("organization_id", flat=True)) == [
        world.province.pk]


def test_campaign_alerts_of_a_rule_are_those_that_counted(world, intel, hit_at):
    from khien.incidents import content

    content.load_all()
    for org in (world.ministry, world.province, world.department):
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)
    hit_at(world.commune, "192.0.2.50", rule="edr-ransom", severity=4)  # same rule, not severe enough to count
    correlation.correlate()
    campaign = Campaign.objects.get(kind=CampaignKind.RULE)
    assert {a.organization_id for a in correlation.campaign_alerts(campaign)} == {
        world.ministry.pk, world.province.pk, world.department.pk}
    campaign = correlation.do_campaign_to_incident(campaign, acting_user=world.coordinator)
    assert Alert.objects.filter(incident=campaign.incident).count() == 3
    assert not campaign.incident.observables.exists()  # a rule has no value of its own


@pytest.mark.parametrize("service", [correlation.do_campaign_to_warning, correlation.do_campaign_to_incident,
                                     correlation.do_dismiss_campaign])
def test_only_the_coordinator_acts_on_campaigns(world, campaign, service):
    for user in (world.admin, world.analyst, world.other_admin, world.nobody):
        with pytest.raises(Forbidden):
            service(campaign, acting_user=user)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN and campaign.decided_by is None
    assert not EarlyWarning.objects.exists() and not Incident.objects.exists()


def test_dismiss(world, campaign):
    correlation.do_dismiss_campaign(campaign, acting_user=world.coordinator)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DISMISSED
    for service in (correlation.do_campaign_to_warning, correlation.do_campaign_to_incident):
        with pytest.raises(Refused):
            service(campaign, acting_user=world.coordinator)
    assert not EarlyWarning.objects.exists() and not Incident.objects.exists()
    assert Campaign.objects.visible_to(world.coordinator).count() == 1
    assert Campaign.objects.visible_to(world.admin).count() == 0


def test_rule_campaign_to_warning_targets_its_organizations(world, intel, hit_at):
    for org in (world.ministry, world.province, world.department):
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)
    correlation.correlate()
    campaign = Campaign.objects.get(kind=CampaignKind.RULE)
    campaign = correlation.do_campaign_to_warning(campaign, acting_user=world.coordinator)
    warning = campaign.warning
    assert campaign.status == CampaignStatus.WARNED
    assert warning.values == [] and warning.severity == "critical"
    assert set(warning.targets.values_list("organization_id", flat=True)) == {
        world.ministry.pk, world.province.pk, world.department.pk}


def test_a_ransomware_rule_campaign_is_offered_as_infected_systems(world, intel, hit_at, coordinator_client):
    """The incident's category starts from what the campaign's events are; the coordinator sees and changes
    the warning and the incident before they are made."""
    for org in (world.ministry, world.province, world.department):
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9, category="malware")
    correlation.correlate()
    campaign = Campaign.objects.get(kind=CampaignKind.RULE)
    assert correlation.suggested_category(campaign) == "infected-system"
    content.load_all()  # the incident taxonomy and reporting policy the form offers
    page = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    assert 'id="make-warning"' in page and 'id="make-incident"' in page
    assert '<option value="infected-system" selected>' in page
    url = reverse("telemetry:campaign_action", args=[campaign.pk, "incident"])
    refused = coordinator_client.post(url, {"title": "", "category": "infected-system", "severity": "high",
                                            "description": "x", "tlp": "amber"})
    assert refused.status_code == 400 and not Incident.objects.exists()
    done = coordinator_client.post(url, {"title": "Mã độc tống tiền tại 3 đơn vị", "category": "malware-distribution",
                                         "severity": "critical", "description": "Đã xác minh.", "tlp": "red"})
    assert done.status_code == 302
    incident = Incident.objects.get()
    assert (incident.title, incident.category, incident.severity, incident.tlp) == (
        "Mã độc tống tiền tại 3 đơn vị", "malware-distribution", "critical", "red")
    page = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    assert 'id="make-warning"' in page and 'id="make-incident"' not in page  # the warning is still open to make
    decided_at = Campaign.objects.get(pk=campaign.pk).decided_at
    warned = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "warn"]), {
        "title": "Cảnh báo mã độc tống tiền", "summary": "Kiểm tra ngay.", "severity": "critical", "tlp": "amber"})
    assert warned.status_code == 302
    assert EarlyWarning.objects.get().title == "Cảnh báo mã độc tống tiền"
    campaign_after = Campaign.objects.get(pk=campaign.pk)
    assert campaign_after.status == CampaignStatus.INCIDENT and campaign_after.decided_at == decided_at  # kept


def test_one_value_carried_by_several_indicators_is_one_campaign(world, intel, hit_at):
    """Several producers' indicators with the same value (several provenances): one campaign, events counted once."""
    from khien.intel import services as intel_services
    from khien.intel.tests.conftest import indicator

    intel_services.do_add_objects(intel.collection, [indicator(intel.values[Tlp.GREEN], tlp=Tlp.GREEN)],
                                  acting_user=world.coordinator)
    for org in (world.ministry, world.province, world.department):
        hit_at(org)
    assert IndicatorHit.objects.count() == 6  # each event hits both indicators
    correlation.correlate()
    campaign = Campaign.objects.get()
    assert campaign.count == 3 and campaign.organization_count == 3


def test_a_campaign_is_titled_in_the_readers_language(world, campaign, coordinator_client):
    assert campaign.title.startswith("Chỉ báo ")  # stored in the platform's language (warnings, e-mails)
    page = coordinator_client.get(f"/telemetry/campaigns/{campaign.pk}/").content.decode()
    assert "<h1>Chỉ báo " in page
    coordinator_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = coordinator_client.get("/telemetry/campaigns/").content.decode()
    assert f"Indicator {campaign.value} seen at 3 organizations" in page and "Chỉ báo " not in page
    page = coordinator_client.get(f"/telemetry/campaigns/{campaign.pk}/").content.decode()
    assert f"<h1>Indicator {campaign.value} seen at 3 organizations</h1>" in page
    # The warning and the incident it may become are proposed in the platform's language: every organization
    # concerned reads them (the coordinator may rewrite them on the form).
    # The incident is titled as the campaign; the warning by what its indicator says the value is.
    assert page.count(f'value="{campaign.title}"') == 1 and "Seen at 3 organizations" not in page
    warning_title = correlation.warning_defaults(campaign, world.coordinator)["title"]
    assert warning_title.startswith(f"Test indicator {campaign.value} — ") and f'value="{warning_title}"' in page


def test_the_home_page_says_what_is_waiting_for_each_person(world, campaign, make_system, as_user, coordinator_client):
    """The "To do" card: the coordinator's campaigns to decide, proposals to appraise; an organization's severe
    alerts nobody has taken, warnings to acknowledge, proposals returned — each a link to exactly those."""
    from khien.core import worklist
    from khien.registry.models import LevelStatus

    make_system(world.ministry, level_status=LevelStatus.SUBMITTED, proposed_level=4)
    make_system(world.ministry, level_status=LevelStatus.RETURNED, proposed_level=3)
    make_system(world.province, level_status=LevelStatus.RETURNED, proposed_level=3)
    Alert.objects.filter(organization=world.ministry).update(severity=9)
    home = coordinator_client.get("/").content.decode().split('id="worklist"')[1].split("</section>")[0]
    assert "1 chiến dịch quốc gia cần quyết định" in home and "/telemetry/campaigns/?status=open" in home
    assert "1 đề xuất cấp độ an toàn chờ bạn thẩm định" in home
    correlation.do_campaign_to_warning(campaign, acting_user=world.coordinator)
    labels = [item.label for item in worklist.items_for(world.admin)]
    assert set(labels) >= {"1 cảnh báo mức cao hoặc nghiêm trọng chưa ai nhận xử lý", "1 cảnh báo sớm cần xác nhận",
                           "1 đề xuất cấp độ an toàn bị trả lại để sửa"}  # the ministry's, not the province's
    assert not any("chiến dịch" in label for label in labels)  # campaigns are the coordinator's
    # Nothing waiting: said so, no empty list.
    assert "Không có việc nào đang chờ bạn." in as_user(world.nobody).get("/").content.decode()


@pytest.mark.parametrize("kind, pattern, sent", [
    ("sha256", "[file:hashes.'SHA-256' = '{v}']", {"sha256": "ab" * 32}),
    ("url", "[url:value = '{v}']", {"url": "http://evil-update.top/payload.bin"}),
])
def test_a_hash_or_url_campaign_s_warning_carries_its_indicator(world, intel, hit_at, coordinator_client, kind,
                                                                   pattern, sent):
    """A hash or a URL is not a value a warning matches systems by: the warning names the campaign's indicator
    (indicator_refs), which its page shows — else it would go out with no indicator at all."""
    from khien.intel import services as intel_services
    from khien.intel.tests.conftest import indicator

    value = next(iter(sent.values()))
    obj = indicator(value, tlp=Tlp.GREEN, name=f"Bad {kind}", pattern=pattern.format(v=value))
    intel_services.do_add_objects(intel.collection, [obj], acting_user=world.coordinator)
    for n, org in enumerate((world.ministry, world.province, world.department)):
        hit_at(org, "192.0.2.77", n=n, **sent)
    correlation.correlate()
    campaign = Campaign.objects.get(kind=CampaignKind.INDICATOR, indicator_kind=kind)
    campaign = correlation.do_campaign_to_warning(campaign, acting_user=world.coordinator)
    warning = campaign.warning
    assert warning.indicator_refs == [obj["id"]]
    page = coordinator_client.get(reverse("intel:warning_detail", args=[warning.pk])).content.decode()
    assert f"Bad {kind}" in page and obj["id"] in page


def test_an_address_campaign_s_warning_carries_its_value_and_indicator(world, campaign):
    campaign = correlation.do_campaign_to_warning(campaign, acting_user=world.coordinator)
    assert campaign.warning.indicator_refs == [correlation.representative_indicator(campaign)]
    assert {"kind": "ipv4", "value": campaign.value} in campaign.warning.values
