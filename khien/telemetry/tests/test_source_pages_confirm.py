"""A source's page: disabling it asks first (the tool is refused at once, as with a new key), without JavaScript;
the registering form starts with the user's own organization; the key shown once has a copy button (progressive:
the key stays plain, selectable text); the period fields of the alert and event lists say which format is read."""
import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from khien.core.models import AuditEntry
from khien.telemetry.models import AlertSource

from .test_api import post_ndjson, source_client
from .test_sources import LOCAL_CEF, key_on, register

pytestmark = pytest.mark.django_db


def settings_of(source, **changes):
    return {"format": source.format, "time_zone": source.time_zone, "enabled": "on", **changes}


def test_disabling_asks_first_and_changes_nothing_meanwhile(world, as_user, make_source):
    source, key = make_source(org=world.ministry, format="cef")
    client = as_user(world.admin)
    client.cookies["khien_language"] = "en"
    url = reverse("telemetry:source_settings", args=[source.name])
    before = AuditEntry.objects.count()
    data = settings_of(source, time_zone="Asia/Ho_Chi_Minh")
    del data["enabled"]  # "Enabled" unticked, with another change
    answer = client.post(url, data)
    page = answer.content.decode()
    assert answer.status_code == 200 and 'id="confirm-action"' in page  # the one confirmation page (core)
    assert f"Disable {source.name}?" in page and "refused at once" in page
    source.refresh_from_db()
    assert source.enabled and source.time_zone == "UTC" and AuditEntry.objects.count() == before
    assert post_ndjson(source_client(key), [LOCAL_CEF]).status_code == 202  # still accepted
    # The confirmation is a form of its own (no data-confirm: it works without JavaScript) carrying the settings.
    form = page[page.index('id="confirm-action"'):]
    form = form[form.index("<form"):form.index("</form>")]
    assert f'action="{url}"' in form and "data-confirm" not in form and 'name="enabled"' not in form
    sent = {name: value for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)
            if name != "csrfmiddlewaretoken"}
    assert sent == {"format": "cef", "time_zone": "Asia/Ho_Chi_Minh", "confirmed": "1"}
    assert f'href="{reverse("telemetry:source", args=[source.name])}#source-settings"' in form  # Cancel
    done = client.post(url, sent)
    assert done.status_code == 302
    source.refresh_from_db()
    assert not source.enabled and source.time_zone == "Asia/Ho_Chi_Minh"
    assert post_ndjson(source_client(key), [LOCAL_CEF]).status_code in (401, 403)  # refused


def test_other_changes_and_enabling_again_do_not_ask(world, as_user, make_source):
    source, _key = make_source(org=world.ministry, format="cef")
    client = as_user(world.admin)
    url = reverse("telemetry:source_settings", args=[source.name])
    assert client.post(url, settings_of(source, format="ecs")).status_code == 302
    AlertSource.objects.filter(pk=source.pk).update(enabled=False)
    assert client.post(url, settings_of(source, format="ecs")).status_code == 302  # ticked again: on at once
    source.refresh_from_db()
    assert source.enabled and source.format == "ecs"
    AlertSource.objects.filter(pk=source.pk).update(enabled=False)
    unticked = settings_of(source, format="cef")
    del unticked["enabled"]
    assert client.post(url, unticked).status_code == 302  # already disabled: nothing to confirm


def test_those_who_may_not_change_the_source_get_no_confirmation_page(world, as_user, make_source):
    source, _key = make_source(org=world.ministry, format="cef")
    url = reverse("telemetry:source_settings", args=[source.name])
    data = {"format": "cef", "time_zone": "UTC"}
    assert as_user(world.auditor).post(url, data).status_code == 403
    assert as_user(world.auditor).post(url, {**data, "confirmed": "1"}).status_code == 403
    assert as_user(world.other_admin).post(url, data).status_code == 404
    source.refresh_from_db()
    assert source.enabled


def test_the_register_form_starts_with_the_users_own_organization(world, as_user):
    page = as_user(world.admin).get(reverse("telemetry:source_create")).content.decode()
    chosen = re.findall(r'<option value="([^"]*)" selected>', page)
    assert str(world.ministry.pk) in chosen  # not "---------", though the department is offered too
    assert f'<option value="{world.department.pk}">' in page
    page = as_user(world.other_admin).get(reverse("telemetry:source_create")).content.decode()
    assert f'<option value="{world.province.pk}" selected>' in page


def test_the_new_key_has_a_copy_button_that_needs_no_network(world, as_user):
    client = as_user(world.admin)
    client.cookies["khien_language"] = "en"
    page = register(client, world.ministry, follow=True).content.decode()
    key = key_on(page)
    assert key.startswith("khs_")  # plain text in the page: selectable without the script
    button = page[page.index('id="copy-key"') - 60:]
    button = button[button.index("<button"):button.index("</button>")]
    assert 'data-copy="key-value"' in button and " hidden" in button and 'type="button"' in button
    assert "Copy the key" in button and key not in button
    script = re.search(r'<script src="([^"]*copy\.js)" defer>', page).group(1)
    assert script.startswith("/static/") and finders.find("khien/copy.js")  # served by the platform itself
    later = client.get(reverse("telemetry:source", args=["fw-min-hq"])).content.decode()
    assert 'id="copy-key"' not in later and "copy.js" not in later  # no key, no button


@pytest.mark.parametrize("name,help_id", [("telemetry:alerts", "alert-period-help"),
                                          ("telemetry:events", "event-period-help")])
def test_period_fields_say_the_format_read(world, as_user, name, help_id):
    client = as_user(world.admin)
    page = client.get(reverse(name)).content.decode()
    assert page.count(f'aria-describedby="{help_id}"') == 2
    client.cookies["khien_language"] = "en"
    page = client.get(reverse(name)).content.decode()
    assert f'id="{help_id}"' in page and "dd/mm/yyyy hh:mm, for example 06/12/2026 08:30" in page
    # That format is the one the filters read: the list answers, the value kept in the field.
    answer = client.get(reverse(name), {"since": "06/12/2026 08:30"})
    assert answer.status_code == 200 and 'name="since" value="2026-12-06T08:30"' in answer.content.decode()
