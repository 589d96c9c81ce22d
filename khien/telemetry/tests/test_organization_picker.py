"""The early warning's "Organizations" are ticked, not picked in a <select multiple>: a plain click on one more
organization in the old list dropped every organization ticked before (on a campaign's page, those the campaign
hit) without a word. Each organization is now a checkbox, grouped by type, those ticked listed first under
"Chosen (n)", with a count of those chosen; the field's name and posted values are as before."""
import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse

from khien.intel.models import EarlyWarning, WarningTarget
from khien.telemetry.tests.test_correlation import campaign, hit_at  # noqa: F401 (fixtures)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)

from khien.intel.tests.test_views import signed_in

pytestmark = pytest.mark.django_db


def _warning_form(page: str) -> str:
    start = page.index('id="make-warning"')
    return page[start:page.index("</form>", start)]


def _boxes(form: str) -> dict[str, bool]:
    """{value: checked} of the organizations' checkboxes of a form's HTML."""
    boxes = {}
    for tag in re.findall(r'<input[^>]*name="organizations"[^>]*>', form):
        assert 'type="checkbox"' in tag, tag
        boxes[re.search(r'value="([^"]+)"', tag).group(1)] = " checked" in tag
    return boxes


def _chosen_group(form: str) -> str:
    start = form.index('data-org-chosen')
    return form[start:form.index("</fieldset>", start)]


def test_the_campaign_warning_form_ticks_the_campaigns_organizations_first(world, campaign,  # noqa: F811
                                                                          coordinator_client):
    coordinator_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # pages follow the language switch
    page = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    form = _warning_form(page)
    assert '<select name="organizations"' not in form  # no list where a plain click drops the others
    boxes = _boxes(form)
    hit = {str(o.pk) for o in (world.ministry, world.province, world.department)}
    assert {value for value, checked in boxes.items() if checked} == hit
    assert boxes[str(world.responder_org.pk)] is False  # offered, not ticked
    # The ticked ones first, under "Chosen (3)", each box once only; the others in their type's group.
    chosen = _chosen_group(form)
    assert "Chosen (3)" in chosen
    assert set(_boxes(chosen)) == hit
    assert len(re.findall(r'name="organizations"', form)) == len(boxes)
    assert form.index("data-org-chosen") < form.index(f'value="{world.responder_org.pk}"')
    assert "<summary>Incident-response company (1)</summary>" in form
    # Every box has its label (the code and the name), and the count is said.
    for value in boxes:
        box_id = re.search(rf'<input[^>]*value="{value}"[^>]*id="([^"]+)"|<input[^>]*id="([^"]+)"[^>]*value="{value}"',
                           form)
        assert box_id and f'for="{box_id.group(1) or box_id.group(2)}"' in form
    assert f"{world.ministry.code} — " in chosen
    assert re.search(r'data-org-count[^>]*>\s*3 organizations chosen\s*<', form)


def test_the_ticks_post_as_the_old_list_did(world, campaign, coordinator_client):  # noqa: F811
    page = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    form = _warning_form(page)
    ticked = [value for value, checked in _boxes(form).items() if checked] + [str(world.responder_org.pk)]
    response = coordinator_client.post(reverse("telemetry:campaign_action", args=[campaign.pk, "warn"]), {
        "title": "Cảnh báo chiến dịch", "summary": "Kiểm tra ngay.", "severity": "high", "tlp": "amber",
        "recipients_chosen": "True", "organizations": ticked})
    assert response.status_code == 302
    campaign.refresh_from_db()
    reached = WarningTarget.objects.filter(warning_id=campaign.warning_id).values_list("organization_id", flat=True)
    assert sorted(str(pk) for pk in reached) == sorted(ticked)


def test_the_warning_page_offers_checkboxes_and_keeps_the_ticks_of_a_refused_form(client, world):
    c = signed_in(client, world.coordinator)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = c.get(reverse("intel:warning_create")).content.decode()
    boxes = _boxes(page)
    assert str(world.responder_org.pk) in boxes and not any(boxes.values())
    assert '<select name="organizations"' not in page and "data-org-chosen" not in page  # nothing chosen yet
    assert re.search(r'data-org-count[^>]*>\s*0 organizations chosen\s*<', page)
    script = finders.find("khien/org-picker.js")  # the filter and the count: served by the platform, no CDN
    assert script and 'src="/static/khien/org-picker.js"' in page
    assert "http" not in open(script, encoding="utf-8").read()
    # Refused (no title): the organizations ticked are ticked again, first.
    chosen = [str(world.ministry.pk), str(world.responder_org.pk)]
    page = c.post(reverse("intel:warning_create"), {"title": "", "severity": "high", "tlp": "amber",
                                                     "organizations": chosen}).content.decode()
    assert not EarlyWarning.objects.exists()
    assert {value for value, checked in _boxes(page).items() if checked} == set(chosen)
    assert set(_boxes(_chosen_group(page))) == set(chosen) and "Chosen (2)" in page


def test_the_coordinators_own_organization_is_not_offered_and_the_dashboard_says_severity_in_words(
        world, campaign, coordinator_client):  # noqa: F811
    """The form says the warning leaves out the organization that sends it: it is not among the boxes either. The
    dashboard's campaign table says a campaign's severity in words with its number, as the campaign list does."""
    coordinator_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    boxes = _boxes(_warning_form(page))
    assert str(world.ncsc.pk) not in boxes and str(world.ministry.pk) in boxes
    dashboard = coordinator_client.get(reverse("telemetry:dashboard")).content.decode()
    row = dashboard[dashboard.index('id="tele-campaigns"'):].split("</tr>", 1)[0]
    assert f"({campaign.severity})" in row and re.search(r">(Low|Medium|High|Critical) \(\d+\)<", row)
    data = coordinator_client.get(reverse("telemetry:dashboard_data")).json()
    assert data["campaigns"][0]["severity_text"].endswith(f"({campaign.severity})")
