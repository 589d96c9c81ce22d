"""The API token page in the words of the user guide: "tiêu đề" (not "header"), "ký tự" (not Django's "kí tự"), and
a revocation that names the token, in its question and in its outcome."""
import html
import re

import pytest
from django.urls import reverse

from khien.core.models import ApiToken

pytestmark = pytest.mark.django_db


def test_the_new_key_is_explained_with_the_guides_word(client, world):
    client.force_login(world.analyst)
    shown = client.get(client.post(reverse("core:tokens"), {"name": "Wazuh"})["Location"])
    page = html.unescape(shown.content.decode())
    line = page[page.index('id="new-token"'):]
    line = line[:line.index("</div>")]
    assert "Authorization: Token" in line
    assert "tiêu đề" in line and "header" not in line  # as the user guide says (registry.vi.md, intel-api.vi.md)


def test_a_name_too_long_is_refused_in_characters_as_elsewhere(client, world):
    client.force_login(world.analyst)
    refused = client.post(reverse("core:tokens"), {"name": "x" * 101})
    text = html.unescape(refused.content.decode())
    assert refused.status_code == 400 and "100" in text
    assert "ký tự" in text and "kí tự" not in text


def test_revoking_names_the_token_in_the_question_and_the_outcome(client, world):
    from khien.core import services

    token, _key = services.do_create_api_token(world.analyst, acting_user=world.analyst, name="Wazuh SOC")
    services.do_create_api_token(world.analyst, acting_user=world.analyst, name="Splunk")
    client.force_login(world.analyst)
    page = html.unescape(client.get(reverse("core:tokens")).content.decode())
    questions = {}
    # each row's button asks about its own token
    for button in re.findall(r"<button[^>]*name=\"revoke\"[^>]*>", page):
        value = re.search(r'value="([^"]+)"', button).group(1)
        questions[value] = re.search(r'data-confirm="([^"]+)"', button).group(1)
    assert "Wazuh SOC" in questions[str(token.pk)] and "Splunk" not in questions[str(token.pk)]
    done = client.post(reverse("core:tokens"), {"revoke": str(token.pk), "confirmed": "1"}, follow=True)
    said = html.unescape(done.content.decode())
    said = said[said.index('class="messages"'):]
    said = said[:said.index("</ul>")]
    assert "Wazuh SOC" in said
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
