"""Warning lists that grow: an issuer's sent warnings were cut at the latest 50 (older ones unreachable), a
warning's page listed all of its hundreds of targets at once, and the inbox had no "not acknowledged yet" filter
(the API had one)."""
import re

import pytest
from django.urls import reverse

from khien.conftest import _org
from khien.intel import services_warnings
from khien.intel.models import AckState, WarningTarget

pytestmark = pytest.mark.django_db


def _issue(user, title, organizations):
    return services_warnings.do_issue_warning({"title": title, "summary": "S", "severity": "high"},
                                              acting_user=user, organizations=organizations, auto_match=False)


def _sent_titles(page: str) -> list[str]:
    section = page.split('id="sent"')[1]
    return re.findall(r'>(Cảnh báo số \d+)</a>', section)


def test_every_sent_warning_is_reachable_a_page_at_a_time_and_by_title(world, coordinator_client):
    for n in range(30):
        _issue(world.coordinator, f"Cảnh báo số {n}", [world.ministry])
    url = reverse("intel:warning_inbox")
    first = coordinator_client.get(url).content.decode()
    second = coordinator_client.get(url, {"sent_page": 2}).content.decode()
    assert len(_sent_titles(first)) == 25 and len(_sent_titles(second)) == 5
    assert set(_sent_titles(first)) | set(_sent_titles(second)) == {f"Cảnh báo số {n}" for n in range(30)}
    assert "sent_page=2#sent" in first
    assert _sent_titles(coordinator_client.get(url, {"sent_q": "số 7"}).content.decode()) == ["Cảnh báo số 7"]


def test_the_inbox_shows_only_the_warnings_not_acknowledged_yet_when_asked(world, as_user):
    answered = _issue(world.coordinator, "Đã trả lời", [world.ministry])
    _issue(world.coordinator, "Chưa trả lời", [world.ministry])
    target = WarningTarget.objects.get(warning=answered, organization=world.ministry)
    services_warnings.do_acknowledge(target, AckState.RECEIVED, "", acting_user=world.admin)
    client = as_user(world.admin)
    everything = client.get(reverse("intel:warning_inbox")).content.decode()
    pending = client.get(reverse("intel:warning_inbox"), {"pending": "1"}).content.decode()
    assert "Đã trả lời" in everything and "Chưa trả lời" in everything
    assert "Chưa trả lời" in pending and "Đã trả lời" not in pending.split('id="inbox"')[1].split("</section>")[0]


def test_a_warnings_targets_are_listed_a_page_at_a_time_and_by_answer(world, coordinator_client):
    organizations = [_org(f"T{n:03d}", "enterprise") for n in range(60)]
    warning = _issue(world.coordinator, "Cảnh báo diện rộng", organizations)
    answered = WarningTarget.objects.get(warning=warning, organization=organizations[0])
    WarningTarget.objects.filter(pk=answered.pk).update(state=AckState.ACTED)
    url = reverse("intel:warning_detail", args=[warning.pk])

    def rows(**params):
        return re.findall(r'data-target="(T\d+)"', coordinator_client.get(url, params).content.decode())

    first, second = rows(), rows(targets_page=2)
    assert len(first) == 50 and len(second) == 10 and set(first) | set(second) == {o.code for o in organizations}
    assert rows(answer="answered") == ["T000"]
    assert len(rows(answer="pending")) == 50 and "T000" not in rows(answer="pending", targets_page=2)
    assert "60" in coordinator_client.get(url).content.decode().split('id="targets"')[1].split("</h2>")[0]
