"""Revoking an API token cannot be undone (the programs that use it are refused at once): it is asked first also
without JavaScript (`core.confirmation`). Without `confirmed=1` the page asks the dialog's question and nothing
changes; its form posts the token again with the consent. Someone else's token is refused, not asked."""
import html
import re

import pytest
from django.urls import reverse

from khien.core import services
from khien.core.models import ApiToken, AuditEntry

pytestmark = pytest.mark.django_db


def test_revoking_a_token_is_asked_first_then_done_with_the_consent(client, world):
    token, _key = services.do_create_api_token(world.analyst, acting_user=world.analyst, name="Wazuh SOC")
    client.force_login(world.analyst)
    client.cookies["khien_language"] = "en"
    url = reverse("core:tokens")
    page = html.unescape(client.get(url).content.decode())
    [button] = re.findall(r"<button[^>]*name=\"revoke\"[^>]*>", page)
    assert "data-confirmed-field" in button  # the dialog's yes is sent along: not asked twice

    before = AuditEntry.objects.count()
    asked = client.post(url, {"revoke": str(token.pk)})
    assert asked.status_code == 200
    text = html.unescape(asked.content.decode())
    assert "Revoke the token “Wazuh SOC”? Programs that use it will be refused from then on." in text
    form = text.split('id="confirm-action"', 1)[1].split("</form>", 1)[0]
    assert f'action="{url}"' in form and f'href="{url}"' in form and "Revoke the token" in form
    assert f'name="revoke" value="{token.pk}"' in form and 'name="confirmed" value="1"' in form
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None and AuditEntry.objects.count() == before

    done = client.post(url, {"revoke": str(token.pk), "confirmed": "1"})
    assert done.status_code == 302 and done["Location"] == url
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    entry = AuditEntry.objects.filter(object_id=str(token.pk)).latest("seq")
    assert entry.actor_id == str(world.analyst.pk) and AuditEntry.objects.count() == before + 1


def test_someone_elses_token_is_refused_not_asked(client, world):
    token, _key = services.do_create_api_token(world.admin, acting_user=world.admin)
    client.force_login(world.analyst)
    before = AuditEntry.objects.count()
    for data in ({"revoke": str(token.pk)}, {"revoke": str(token.pk), "confirmed": "1"}, {"revoke": "not-a-token"}):
        assert client.post(reverse("core:tokens"), data).status_code == 403
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None and AuditEntry.objects.count() == before
