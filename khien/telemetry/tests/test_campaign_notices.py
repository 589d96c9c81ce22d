"""The notices of national campaigns, read by the coordinator's night duty officer on a phone: what was seen (the
value, its kind and TLP — only when the reader may see an indicator carrying it; else only that it is one they may
not see), which organizations (named, by province and sector), the severity in words, first and last sighting,
events and alerts, and the link to the campaign's page; the notice of a decided campaign that spread names the
organizations that joined."""
import pytest
from django.urls import reverse

from khien.core.models import Notification
from khien.core.roles import Role
from khien.intel import services as intel_services
from khien.intel.models import Tlp
from khien.intel.tests.conftest import indicator
from khien.registry.models import Membership, Province, Sector
from khien.telemetry import correlation
from khien.telemetry.models import Campaign, CampaignKind
from khien.telemetry.tests.conftest import as_read
from khien.telemetry.tests.test_correlation import hit_at  # noqa: F401 (fixture)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

RED_VALUE = "45.77.30.9"
RED_NAME = "Operation Night Owl C2"


@pytest.fixture
def places(world):
    """MIN and MIN-D1 in Hanoi, PROV in Da Nang; MIN and MIN-D1 in the finance sector."""
    hanoi = Province.objects.create(code="T01", name_vi="Thành phố Hà Nội", name_en="Hanoi", kind="city",
                                    region="north")
    danang = Province.objects.create(code="T48", name_vi="Thành phố Đà Nẵng", name_en="Da Nang", kind="city",
                                     region="central")
    finance = Sector.objects.create(code="finance-t", name_vi="Tài chính", name_en="Finance")
    for org, province in ((world.ministry, hanoi), (world.department, hanoi), (world.province, danang)):
        org.province = province
        org.save()
    world.ministry.sectors.add(finance)
    world.department.sectors.add(finance)
    world.ministry.name_en, world.ministry.name_vi = "Ministry of Tests", "Bộ Thử nghiệm"
    world.ministry.save()
    return world


def _note(kind, recipient):
    return Notification.objects.get(kind=kind, recipient=recipient)


def test_a_new_indicator_campaign_s_notice_says_what_where_how_bad_and_links_the_page(world, intel, hit_at, places,
                                                                                      reads_in):  # noqa: F811
    reads_in(world.coordinator, "en")
    for n, org in enumerate((world.ministry, world.province, world.department)):
        hit_at(org, n=n)
    correlation.correlate()
    campaign = Campaign.objects.get(kind=CampaignKind.INDICATOR)
    note = _note("telemetry.campaign", world.coordinator)
    title, body = as_read(note)
    value = intel.values[Tlp.GREEN]
    assert value in title and "3 organizations" in title
    assert f"IPv4 address {value}, TLP:GREEN" in body, body
    assert "Medium (5)" in body  # the severity in words (5: the ECS default)
    assert "First seen " in body and "3 events" in body and "3 alerts" in body
    # Which organizations: by province and sector, then each by code and name (in the reader's language).
    assert "By province: Hanoi 2, Da Nang 1" in body, body
    assert "By sector: Finance 2" in body, body
    assert "MIN — Ministry of Tests (Hanoi)" in body and "PROV" in body and "MIN-D1" in body
    assert note.url == reverse("telemetry:campaign", args=[campaign.pk]) and note.urgent
    # The same notice in Vietnamese for a coordinator who reads Khiên in Vietnamese.
    reads_in(world.coordinator, "vi")
    _title, vi_body = as_read(_note("telemetry.campaign", world.coordinator))
    assert "Bộ Thử nghiệm" in vi_body and "Thành phố Hà Nội" in vi_body and "Ministry of Tests" not in vi_body


def test_a_rule_campaign_s_notice_names_the_rule(world, intel, hit_at, reads_in):  # noqa: F811
    reads_in(world.coordinator, "en")
    for org in (world.ministry, world.province, world.department):
        hit_at(org, "192.0.2.50", rule="edr-ransom", severity=9)
    correlation.correlate()
    _title, body = as_read(_note("telemetry.campaign", world.coordinator))
    assert "Seen: the rule “Rule edr-ransom” (edr-ransom)." in body, body
    assert "Critical (9)" in body and "3 alerts" in body


@pytest.fixture
def red_campaign(world, intel, hit_at):  # noqa: F811
    """A TLP:RED indicator of MIN's, sent to PROV and MIN-D1 only, seen by the three: the national coordinator
    (NCSC) may not see it. A second coordinator is a member of MIN too, and may."""
    from khien.conftest import _user

    own = intel_services.do_create_collection({"title": "MIN closed feed", "owner": world.ministry, "kind": "group"},
                                              acting_user=world.admin)
    red = indicator(RED_VALUE, tlp=Tlp.RED, name=RED_NAME)
    intel_services.do_add_objects(own, [red], acting_user=world.admin, recipients=[world.province, world.department])
    insider = _user("insider@ncsc.test.vn", world.ncsc, Role.NATIONAL_COORDINATOR)
    Membership.objects.create(user=insider, organization=world.ministry, role=Role.ORG_ANALYST)
    Notification.objects.all().delete()
    for n, org in enumerate((world.ministry, world.province, world.department)):
        hit_at(org, RED_VALUE, n=n)
    correlation.correlate()
    world.insider = insider
    return Campaign.objects.get(kind=CampaignKind.INDICATOR)


def test_a_coordinator_who_may_not_see_the_indicator_is_not_told_its_value(world, red_campaign, reads_in):
    for language in ("en", "vi"):
        reads_in(world.coordinator, language)
        note = _note("telemetry.campaign", world.coordinator)
        title, body = as_read(note)
        assert RED_VALUE not in title + body and RED_NAME not in title + body and "TLP:RED" not in body
        assert RED_VALUE not in note.title + note.body  # nor in what is stored (and e-mailed)
    reads_in(world.coordinator, "en")
    title, body = as_read(_note("telemetry.campaign", world.coordinator))
    assert "an indicator you may not see" in title.lower() and "3 organizations" in title
    assert "Seen: an indicator you may not see" in body
    # The rest of the notice is still there.
    assert "MIN-D1" in body and "First seen" in body
    assert _note("telemetry.campaign", world.coordinator).url == reverse("telemetry:campaign", args=[red_campaign.pk])


def test_a_coordinator_who_may_see_the_indicator_is_told_its_value_and_tlp(world, red_campaign, reads_in):
    reads_in(world.insider, "en")
    title, body = as_read(_note("telemetry.campaign", world.insider))
    assert RED_VALUE in title and f"IPv4 address {RED_VALUE}, TLP:RED" in body, body


def test_the_notice_of_a_decided_campaign_that_spread_names_who_joined(world, intel, hit_at, places,
                                                                       reads_in):  # noqa: F811
    from khien.incidents import content

    content.load_all()
    for n, org in enumerate((world.ministry, world.province, world.department)):
        hit_at(org, n=n)
    correlation.correlate()
    campaign = Campaign.objects.get(kind=CampaignKind.INDICATOR)
    correlation.do_campaign_to_warning(campaign, acting_user=world.coordinator)
    world.commune.name_vi, world.commune.name_en = "Xã Thử", "Test Commune"
    world.commune.save()
    hit_at(world.commune, n=5)
    hit_at(world.responder_org, n=6)
    reads_in(world.coordinator, "en")
    correlation.correlate()
    (note,) = Notification.objects.filter(kind="telemetry.campaign_grew", recipient=world.coordinator)
    title, body = as_read(note)
    assert "PROV-C1" in title and "RESP" in title and "5 organizations" in title
    assert "Joined: 2 organizations" in body, body
    assert "PROV-C1 — Test Commune" in body and "RESP" in body
    assert f"IPv4 address {intel.values[Tlp.GREEN]}, TLP:GREEN" in body
    # Those that were there already are not said to have joined.
    joined = body[body.index("Joined:"):body.index("Seen:")]
    assert "PROV-C1" in joined and "MIN" not in joined.replace("Ministry", ""), joined


def test_the_spread_notice_of_a_hidden_indicator_does_not_leak_it(world, red_campaign, hit_at,
                                                                  reads_in):  # noqa: F811
    from khien.incidents import content

    content.load_all()
    correlation.do_campaign_to_incident(red_campaign, acting_user=world.coordinator)
    # The commune sees it once MIN sends it there too.
    from khien.intel.models import StixObject, StixRecipient

    for version in StixObject.objects.filter(data__name=RED_NAME):
        StixRecipient.objects.create(object=version, organization=world.commune)
    from khien.telemetry import matcher

    matcher.invalidate()
    hit_at(world.commune, RED_VALUE, n=9)
    correlation.correlate()
    for language in ("en", "vi"):
        reads_in(world.coordinator, language)
        (note,) = Notification.objects.filter(kind="telemetry.campaign_grew", recipient=world.coordinator)
        title, body = as_read(note)
        assert "PROV-C1" in title
        assert RED_VALUE not in title + body + note.title + note.body
    reads_in(world.insider, "en")
    (note,) = Notification.objects.filter(kind="telemetry.campaign_grew", recipient=world.insider)
    assert RED_VALUE in note.shown_title
