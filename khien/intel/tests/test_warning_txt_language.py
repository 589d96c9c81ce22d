"""The early warning's text download writes its header in the reader's language (Vietnamese unless they chose
English), as comment lines ("# …") that firewalls skip; the values and the "# <type>" lines stay as they are."""
import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _


from .test_views import signed_in
from .test_warning_receiving import wave  # noqa: F401 (fixture)
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _lines(client, user, warning, language: str) -> list[str]:
    from django.conf import settings

    client = signed_in(client, user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language  # the language the reader chose (the switch sets it)
    response = client.get(reverse("intel:warning_download", args=[warning.pk, "txt"]))
    assert response.status_code == 200
    return response.content.decode().splitlines()


def _header(language: str) -> dict[str, str]:
    """The header's words in `language` (as the catalogue gives them: Vietnamese once its msgids are translated)."""
    with translation.override(language):
        return {"title": _("Khiên early warning: %(title)s") % {"title": ""},
                "id": _("Identifier: %(id)s") % {"id": ""},
                "at": _("Generated (UTC): %(at)s") % {"at": ""},
                "entries": _("Entries: %(n)s") % {"n": 4},
                "left": _("Left out (on a warning list): %(n)s") % {"n": 1}}


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_header_is_in_the_readers_language(client, wave, language):  # noqa: F811
    user = wave.world.admin
    lines = _lines(client, user, wave.warning, language)
    head, words = [line for line in lines if line.startswith("#")], _header(language)
    assert head[0] == "# " + words["title"] + "Chiến dịch mã độc"
    assert any(line.startswith("# " + words["id"]) for line in head)
    assert any(line.startswith("# " + words["at"]) and line.endswith("Z") for line in head)
    assert "# " + words["entries"] in head and "# " + words["left"] in head
    assert "# TLP:AMBER" in head and "# domain" in head  # the marking and the types as they are
    # Every line is a value, a comment or empty: a firewall reads the file as before.
    assert all(line.startswith("#") or not line or " " not in line for line in lines)
    if language == "en":
        assert head[0].startswith("# Khiên early warning: ") and "# Entries: 4" in head
