"""The frameworks' own answers read right in Vietnamese: DRF's "No data provided" (not a translatable string in
DRF) in the reader's language, and no message of Django's or DRF's Vietnamese catalogue with a stray space
(" Danh sách này không thể để trống.", "… %(field_name)s  mà …")."""
import re
from pathlib import Path

import django
import polib
import pytest
import rest_framework
from django.utils import translation

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language, expected", [("vi", "Không có dữ liệu nào được gửi."),
                                                ("en", "No data provided.")])
def test_a_null_body_is_refused_in_the_readers_language(world, api, language, expected):
    client = api(world.analyst)
    for path in ("/api/incidents/", "/api/notifications/read/"):
        response = client.post(path, "null", content_type="application/json", HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 400, (path, response.content)
        assert response.json() == {"non_field_errors": [expected]}, path


@pytest.mark.parametrize("language, expected", [("vi", "Danh sách này không được để trống."),
                                                ("en", "This list may not be empty.")])
def test_an_empty_list_is_refused_without_a_stray_space(world, api, language, expected):
    response = api(world.analyst).post("/api/notifications/read/", {"ids": []}, format="json",
                                       HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 400
    assert response.json() == {"ids": [expected]}


def _catalogue(package, name="django") -> polib.MOFile:
    return polib.mofile(str(Path(package.__file__).parent / ("conf/locale" if package is django else "locale")
                            / "vi" / "LC_MESSAGES" / f"{name}.mo"))


SPACED = re.compile(r"^\s|\s$|\s\s|\s[.,:;)]")


def _spaced(text: str) -> bool:
    return bool(SPACED.search(text))


@pytest.mark.parametrize("package", [rest_framework, django], ids=["rest_framework", "django"])
def test_no_framework_message_reads_with_a_stray_space_in_vietnamese(package):
    """Every message of the framework's Vietnamese catalogue, as the platform answers it (its own catalogue
    first): no space at either end, no double space, no space before a full stop, a comma, a colon."""
    stray = []
    for entry in _catalogue(package):
        if not entry.msgid or _spaced(entry.msgid):
            continue  # the English itself is spaced so (", ")
        with translation.override("vi"):
            if entry.msgid_plural:
                shown = [translation.ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2)]
            elif entry.msgctxt:
                shown = [translation.pgettext(entry.msgctxt, entry.msgid)]
            else:
                shown = [translation.gettext(entry.msgid)]
        stray += [f"{entry.msgid!r} → {text!r}" for text in shown if _spaced(text)]
    assert stray == []
