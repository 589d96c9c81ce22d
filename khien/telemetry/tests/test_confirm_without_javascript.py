"""Deleting dead letters and dismissing a campaign cannot be undone: asked first also without JavaScript
(core/confirmation.py). Without `confirmed=1` the page asks and nothing changes; with it the action is done;
whoever may not act is refused, not asked. The buttons carry `data-confirmed-field`: the dialog's yes is sent
as `confirmed=1`, so the question is not asked twice."""
import re

import pytest
from django.urls import reverse

from khien.core.models import AuditEntry
from khien.telemetry import services
from khien.telemetry.models import CampaignStatus, DeadLetter

from .test_matching import intel  # noqa: F401 - fixture
from .test_views import campaign  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def hidden_fields(page: str) -> list[tuple[str, str]]:
    form = page[page.index('id="confirm-action"'):]
    form = form[form.index("<form"):form.index("</form>")]
    return [(n, v) for n, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)
            if n != "csrfmiddlewaretoken"]


@pytest.fixture
def letters(world, make_source):
    source, _key = make_source(world.ministry, "ecs")
    services.ingest_batch(source, [b"{broken %d" % i for i in range(3)])
    return source, list(DeadLetter.objects.filter(source=source).order_by("id"))


def test_the_delete_buttons_say_the_dialog_answers(world, letters, as_user):
    source, _letters = letters
    client = as_user(world.admin)
    for url in (reverse("telemetry:source", args=[source.name]),
                reverse("telemetry:source_dead_letters", args=[source.name])):
        page = client.get(url).content.decode()
        for value in ("discard", "discard_all"):
            button = page[page.index(f'value="{value}"'):]
            button = button[:button.index(">")]
            assert "data-confirm=" in button and "data-confirmed-field" in button
        reprocess = page[page.index('value="reprocess_all"'):]
        assert "data-confirm" not in reprocess[:reprocess.index(">")]  # reading again can be done again


@pytest.mark.parametrize("back", ["", "list"])
def test_deleting_chosen_dead_letters_asks_first_without_javascript(world, letters, as_user, back):
    source, (first, second, third) = letters
    client = as_user(world.admin)
    client.cookies["khien_language"] = "en"
    url = reverse("telemetry:source_dead_letters", args=[source.name]) + ("?reason=JSON" if back else "")
    before = AuditEntry.objects.count()
    data = {"action": "discard", "ids": [str(first.pk), str(third.pk)], **({"back": back} if back else {})}
    asked = client.post(url, data)
    page = asked.content.decode()
    assert asked.status_code == 200 and 'id="confirm-action"' in page
    assert "Delete the 2 chosen dead letters? They cannot be read again afterwards." in page
    assert DeadLetter.objects.filter(source=source).count() == 3 and AuditEntry.objects.count() == before
    # The page posts the same choice again, to the same address (the list's search kept), with the consent.
    assert f'action="{url}"' in page
    sent = hidden_fields(page)
    assert sorted(sent) == sorted([("action", "discard"), ("ids", str(first.pk)), ("ids", str(third.pk)),
                                   ("confirmed", "1"), *([("back", back)] if back else [])])
    cancel = reverse("telemetry:source_dead_letters" if back else "telemetry:source", args=[source.name])
    assert f'href="{cancel}' in page
    done = client.post(url, {"action": "discard", "ids": [str(first.pk), str(third.pk)], "confirmed": "1",
                             **({"back": back} if back else {})})
    assert done.status_code == 302
    assert list(DeadLetter.objects.filter(source=source)) == [second]
    assert AuditEntry.objects.filter(object_type="telemetry.deadletter", action="delete").count() == 1


def test_deleting_all_dead_letters_asks_first_without_javascript(world, letters, as_user):
    source, _letters = letters
    client = as_user(world.admin)
    client.cookies["khien_language"] = "en"
    url = reverse("telemetry:source_dead_letters", args=[source.name])
    asked = client.post(url, {"action": "discard_all"})
    page = asked.content.decode()
    assert asked.status_code == 200 and "Delete all 3 dead letters of this source?" in page
    assert hidden_fields(page) == [("action", "discard_all"), ("confirmed", "1")]
    assert DeadLetter.objects.filter(source=source).count() == 3
    assert client.post(url, {"action": "discard_all", "confirmed": "1"}).status_code == 302
    assert not DeadLetter.objects.filter(source=source).exists()


def test_a_wrong_choice_is_refused_before_asking(world, letters, as_user):
    source, _letters = letters
    url = reverse("telemetry:source_dead_letters", args=[source.name])
    client = as_user(world.admin)
    for ids in ([], ["x"], ["999999"]):
        answer = client.post(url, {"action": "discard", "ids": ids, "back": "list"})
        assert answer.status_code == 400 and 'id="confirm-action"' not in answer.content.decode()
    assert DeadLetter.objects.filter(source=source).count() == 3


def test_those_who_may_not_delete_are_refused_not_asked(world, letters, as_user):
    source, (first, *_rest) = letters
    url = reverse("telemetry:source_dead_letters", args=[source.name])
    for action, ids in (("discard", [str(first.pk)]), ("discard_all", [])):
        for confirmed in ({}, {"confirmed": "1"}):
            data = {"action": action, "ids": ids, **confirmed}
            assert as_user(world.other_admin).post(url, data).status_code == 404  # another organization's source
            refused = as_user(world.auditor).post(url, data)  # sees them, may not change them
            assert refused.status_code == 403 and 'id="confirm-action"' not in refused.content.decode()
    assert DeadLetter.objects.filter(source=source).count() == 3


def test_dismissing_a_campaign_asks_first_without_javascript(world, campaign, coordinator_client, as_user):
    page = coordinator_client.get(reverse("telemetry:campaign", args=[campaign.pk])).content.decode()
    dismiss = page[page.index('id="campaign-dismiss"'):]
    button = dismiss[dismiss.index("<button"):]
    assert "data-confirm=" in button[:button.index(">")] and "data-confirmed-field" in button[:button.index(">")]
    url = reverse("telemetry:campaign_action", args=[campaign.pk, "dismiss"])
    coordinator_client.cookies["khien_language"] = "en"
    before = AuditEntry.objects.count()
    asked = coordinator_client.post(url, {"reason": "Quét thử nghiệm"})
    page = asked.content.decode()
    assert asked.status_code == 200 and 'id="confirm-action"' in page
    assert "Dismiss this campaign? It leaves the list of campaigns to decide; it can be reopened." in page
    assert hidden_fields(page) == [("reason", "Quét thử nghiệm"), ("confirmed", "1")]
    assert f'href="{reverse("telemetry:campaign", args=[campaign.pk])}"' in page  # Cancel: back to the campaign
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN and AuditEntry.objects.count() == before
    done = coordinator_client.post(url, {"reason": "Quét thử nghiệm", "confirmed": "1"})
    assert done.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DISMISSED and campaign.decision_note == "Quét thử nghiệm"
    # Already dismissed: refused with the reason, not asked again.
    again = coordinator_client.post(url, {"reason": "x"})
    assert again.status_code == 409 and 'id="confirm-action"' not in again.content.decode()


def test_only_the_coordinator_is_asked_to_dismiss(world, campaign, as_user):
    url = reverse("telemetry:campaign_action", args=[campaign.pk, "dismiss"])
    for user in (world.admin, world.other_admin, world.analyst):
        for confirmed in ({}, {"confirmed": "1"}):
            answer = as_user(user).post(url, {"reason": "x", **confirmed})
            assert answer.status_code == 404 and 'id="confirm-action"' not in answer.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN
