"""Walkthrough fix: a campaign's "Make an early warning" form announces the number of organizations the warning
goes to, and the result says the same number — the coordinator's own organization (which sends the warning, and
whose sensors may be among those hit) is not a recipient, in the form's ticks, the number announced, or the
targets."""
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from khien.intel.models import WarningTarget
from khien.telemetry import correlation
from khien.telemetry.models import Campaign
from khien.telemetry.tests.test_correlation import campaign, hit_at  # noqa: F401 (fixtures)
from khien.telemetry.tests.test_matching import intel  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_sender(world, campaign, hit_at):  # noqa: F811
    """The campaign (MIN, PROV, MIN-D1) seen by the national coordinator's own organization (NCSC) too."""
    hit_at(world.ncsc)
    correlation.correlate()
    campaign = Campaign.objects.get()
    assert campaign.organization_count == 4
    return campaign


def _warning_form(page: str) -> str:
    start = page.index('id="make-warning"')
    return page[start:page.index("</form>", start)]


def _announced(form: str) -> int:
    """The number in the sentence above the form that says whom the warning is sent to."""
    sentence = re.search(r'<p class="small muted">(.*?)</p>', form, re.S).group(1)
    return int(re.search(r"\d+", sentence).group(0))


def _ticked(form: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="organizations" value="([^"]+)"[^>]* checked>', form)


def test_the_recipients_leave_out_the_sender_and_the_form_starts_with_them(world, with_sender):
    recipients = correlation.warning_recipients(with_sender, world.coordinator)
    assert [o.code for o in recipients] == ["MIN", "MIN-D1", "PROV"]
    initial = correlation.warning_form_initial(with_sender, world.coordinator)
    assert initial["organizations"] == [o.pk for o in recipients]
    # Sent without choosing (API, a form without ticks): the same organizations.
    warned = correlation.do_campaign_to_warning(with_sender, acting_user=world.coordinator)
    assert sorted(WarningTarget.objects.filter(warning=warned.warning).values_list("organization__code", flat=True)) \
        == ["MIN", "MIN-D1", "PROV"]


def test_the_number_announced_is_the_number_the_warning_reaches(world, with_sender, coordinator_client):
    with translation.override("en"):
        page = coordinator_client.get(reverse("telemetry:campaign", args=[with_sender.pk])).content.decode()
    form = _warning_form(page)
    ticked = _ticked(form)
    assert sorted(ticked) == sorted(str(o.pk) for o in (world.ministry, world.department, world.province))
    assert str(world.ncsc.pk) not in ticked
    announced = _announced(form)
    # The form as the page posts it: its texts and the organizations it ticks.
    response = coordinator_client.post(reverse("telemetry:campaign_action", args=[with_sender.pk, "warn"]), {
        "title": "Cảnh báo chiến dịch", "summary": "Kiểm tra ngay.", "severity": "high", "tlp": "amber",
        "recipients_chosen": "True", "organizations": ticked})
    assert response.status_code == 302
    with_sender.refresh_from_db()
    reached = WarningTarget.objects.filter(warning_id=with_sender.warning_id).count()
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert announced == reached == 3
    assert any(re.search(rf"\b{reached}\b", m) for m in said), said
