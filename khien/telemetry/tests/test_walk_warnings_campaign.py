"""Walkthrough fix: a national campaign's early warning reaches the organizations the campaign involves after the
warning was sent — listed on the campaign's page, sent to them with one action of the coordinator (page and API),
told as the first targets were; and every refusal changes nothing."""
import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from khien.conftest import _user
from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry, Notification
from khien.core.roles import Role
from khien.intel.models import EarlyWarning, TargetReason, WarningTarget
from khien.registry.models import Organization
from khien.telemetry import correlation
from khien.telemetry.models import Campaign
from khien.telemetry.tests.test_correlation import campaign, hit_at  # noqa: F401 (fixtures)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def grown(world, campaign, hit_at):  # noqa: F811
    """The campaign (MIN, PROV, MIN-D1) warned, then seen at PROV-C1 (twice) and RESP: two organizations the
    warning has not reached."""
    Organization.objects.update(contact_email="")
    for org in (world.commune, world.responder_org):
        Organization.objects.filter(pk=org.pk).update(contact_email=f"soc@{org.code.lower()}.test.vn")
    correlation.do_campaign_to_warning(campaign, acting_user=world.coordinator)
    hit_at(world.commune)
    hit_at(world.commune)
    hit_at(world.responder_org)
    correlation.correlate()
    campaign = Campaign.objects.get()
    assert campaign.organization_count == 5
    return campaign


def _targets(campaign):  # noqa: F811
    return {t.organization.code: (t.reason, t.matched_value)
            for t in WarningTarget.objects.filter(warning_id=campaign.warning_id).select_related("organization")}


def test_the_campaign_page_lists_the_organizations_the_warning_has_not_reached(world, grown, coordinator_client):
    with translation.override("en"):
        page = coordinator_client.get(reverse("telemetry:campaign", args=[grown.pk])).content.decode()
    box = page[page.index('id="campaign-unwarned"'):page.index("</section>", page.index('id="campaign-unwarned"'))]
    assert 'data-unwarned="PROV-C1"' in box and 'data-unwarned="RESP"' in box and 'data-unwarned="MIN"' not in box
    assert "Gửi cảnh báo cho cả các tổ chức này" in box  # (the page speaks Vietnamese) and 'id="campaign-warn-more"' in box
    assert [o.code for o in correlation.unwarned_organizations(grown)] == ["PROV-C1", "RESP"]


def test_the_coordinator_sends_the_warning_to_them_too(world, grown, coordinator_client,
                                                      django_capture_on_commit_callbacks):
    commune_admin = _user("admin@c1.test.vn", world.commune, Role.ORG_ADMIN)
    first = _targets(grown)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = coordinator_client.post(reverse("telemetry:campaign_action", args=[grown.pk, "warn"]))
    assert response.status_code == 302
    assert EarlyWarning.objects.count() == 1  # the same warning, not a second one
    targets = _targets(grown)
    assert {k: v for k, v in targets.items() if k in first} == first  # the first targets as they were
    # as the first targets got: "seen by your monitoring" with their events
    assert targets["PROV-C1"] == (TargetReason.SEEN, "2") and targets["RESP"] == (TargetReason.SEEN, "1")
    # told as the first targets were: their members notified, their 24/7 contact e-mailed
    assert Notification.objects.filter(recipient=commune_admin, kind="intel.warning",
                                       url=reverse("intel:warning_detail", args=[grown.warning_id])).exists()
    contacts = {m.to[0] for m in mail.outbox if m.to[0].startswith("soc@")}
    assert contacts == {"soc@prov-c1.test.vn", "soc@resp.test.vn"}
    # audited: each new target, and the warning
    added = AuditEntry.objects.filter(object_type="intel.warningtarget", action="create")
    assert len(added) == 5
    assert AuditEntry.objects.filter(object_type="intel.earlywarning", action="update",
                                     object_id=str(grown.warning_id)).exists()
    page = coordinator_client.get(reverse("telemetry:campaign", args=[grown.pk])).content.decode()
    assert 'id="campaign-unwarned"' not in page
    assert "Cảnh báo sớm đã được gửi thêm tới 2 tổ chức." in page  # what was done, not the warning's total
    # nobody left: a 409 that changes nothing
    again = coordinator_client.post(reverse("telemetry:campaign_action", args=[grown.pk, "warn"]))
    assert again.status_code == 409 and _targets(grown) == targets


def test_through_the_api_and_every_refusal_changes_nothing(world, grown, api, as_user):
    before = _targets(grown)
    written = AuditEntry.objects.filter(object_type__regex=r"^(intel|telemetry)\.")  # (API tokens are audited too)
    audit_count = written.count()
    url = f"/api/telemetry/campaigns/{grown.pk}/warn/"
    # not the coordinator: the campaign does not exist for them; the service refuses them
    for user in (world.admin, world.analyst, world.other_admin):
        assert api(user).post(url, {}, format="json").status_code == 404
        with pytest.raises(Forbidden):
            correlation.extend_campaign_warning(grown, acting_user=user)
    coordinator = api(world.coordinator)
    # an organization the campaign does not involve
    outside = Organization.objects.create(code="OUT", name_vi="Ngoài", name_en="Outside", org_type="enterprise",
                                          path="OUT")
    response = coordinator.post(url, {"organizations": ["OUT", "RESP"]}, format="json")
    assert response.status_code == 400 and "OUT" in response.content.decode()
    # an organization the warning has reached already
    response = coordinator.post(url, {"organizations": ["MIN", "RESP"]}, format="json")
    assert response.status_code == 409 and "MIN" in response.content.decode()
    # the warning's texts are not rewritten by sending it further
    response = coordinator.post(url, {"title": "Other title"}, format="json")
    assert response.status_code == 400
    assert _targets(grown) == before and written.count() == audit_count and outside.pk
    # one of them, then the other
    response = coordinator.post(url, {"organizations": ["RESP"]}, format="json")
    assert response.status_code == 200, response.content
    assert set(_targets(grown)) == set(before) | {"RESP"}
    assert coordinator.post(url, {}, format="json").status_code == 200
    assert set(_targets(grown)) == set(before) | {"RESP", "PROV-C1"}
    response = coordinator.post(url, {}, format="json")
    assert response.status_code == 409
    with pytest.raises(Refused):
        correlation.extend_campaign_warning(grown, acting_user=world.coordinator)
