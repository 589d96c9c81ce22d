"""Removing a value from the allow-list is asked first, also without JavaScript (`khien.core.confirmation`): the
button's dialog adds `confirmed=1` to its form (`data-confirmed-field`); a form arriving without it gets a page that
asks the same question and posts again with the consent; nothing is removed meanwhile. Only the national
coordinator removes; anyone else is refused (403), not asked."""
import re

import pytest
from django.urls import reverse

from khien.core.models import AuditEntry
from khien.intel import warninglists
from khien.intel.models import AllowListEntry, IndicatorKind

from .test_views import signed_in

pytestmark = pytest.mark.django_db

VALUE = "203.0.113.250"
QUESTION = f"Remove “{VALUE}” from the allow-list? The platform then no longer treats this value as known-good."


@pytest.fixture
def entry(world):
    return warninglists.do_add_allow_entry(IndicatorKind.IPV4, VALUE, note="partner gateway",
                                           acting_user=world.coordinator)


def _as(client, user):
    signed_in(client, user).cookies["khien_language"] = "en"  # (signing in afresh forgets the cookies)
    return client


def _removals():
    return AuditEntry.objects.filter(object_type="intel.allowlistentry", action="delete").count()


def test_the_button_asks_in_the_dialog_and_says_so_to_the_form(client, world, entry):
    page = _as(client, world.coordinator).get(reverse("intel:allowlist")).content.decode()
    form = page.split(f'action="{reverse("intel:allowlist_delete", args=[entry.pk])}"')[1].split("</form>")[0]
    button = re.search(r"<button[^>]*>", form).group(0)
    assert "data-confirmed-field" in button and f'data-confirm="{QUESTION}"' in button


def test_with_the_dialogs_consent_the_value_is_removed_at_once(client, world, entry):
    c = _as(client, world.coordinator)
    response = c.post(reverse("intel:allowlist_delete", args=[entry.pk]), {"confirmed": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("intel:allowlist")
    assert not AllowListEntry.objects.exists() and _removals() == 1
    assert "allow-list" not in warninglists.hits(IndicatorKind.IPV4, VALUE)  # no longer known-good


def test_without_javascript_a_page_asks_first_and_nothing_is_removed_meanwhile(client, world, entry):
    c = _as(client, world.coordinator)
    url = reverse("intel:allowlist_delete", args=[entry.pk])
    asked = c.post(url)  # the form as sent without JavaScript: no consent
    assert asked.status_code == 200
    text = asked.content.decode()
    assert 'id="confirm-action"' in text and QUESTION in text
    assert f'action="{url}"' in text and 'name="confirmed" value="1"' in text
    assert f'href="{reverse("intel:allowlist")}#allow-entries"' in text  # Cancel: back to the list
    assert AllowListEntry.objects.filter(pk=entry.pk).exists() and _removals() == 0
    # the page's own button posts again with the consent
    done = c.post(url, {"confirmed": "1"})
    assert done.status_code == 302 and not AllowListEntry.objects.exists() and _removals() == 1


@pytest.mark.parametrize("who", ["admin", "analyst", "other_admin", "responder", "nobody"])
def test_another_organization_is_refused_not_asked_and_nothing_is_removed(client, world, entry, who):
    c = _as(client, getattr(world, who))
    url = reverse("intel:allowlist_delete", args=[entry.pk])
    page = c.get(reverse("intel:allowlist")).content.decode()
    assert url not in page and "data-confirmed-field" not in page  # no button to press
    for body in ({}, {"confirmed": "1"}):
        response = c.post(url, body)
        assert response.status_code == 403, body
        assert 'id="confirm-action"' not in response.content.decode()
    assert AllowListEntry.objects.filter(pk=entry.pk).exists() and _removals() == 0


def test_an_unknown_entry_is_404_and_a_get_is_refused(client, world, entry):
    c = _as(client, world.coordinator)
    assert c.post(reverse("intel:allowlist_delete", args=[entry.pk + 1000]), {"confirmed": "1"}).status_code == 404
    assert c.get(reverse("intel:allowlist_delete", args=[entry.pk])).status_code == 405
    assert AllowListEntry.objects.filter(pk=entry.pk).exists() and _removals() == 0
