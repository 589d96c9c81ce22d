"""Vietnamese first: the strings written in the code reach the Vietnamese catalogue, and are translated.

The forms write their labels with an alias, `_l("…")` (`gettext_lazy as _l`), that xgettext does not know by
itself: the project's `makemessages` adds it. Without it those labels stayed English on Vietnamese pages."""
import ast
import re
from pathlib import Path

import polib
import pytest
from django.utils import translation

KHIEN = Path(__file__).resolve().parents[2]
LAZY_ALIAS = re.compile(r'\b_l\(\s*"((?:[^"\\]|\\.)+)"\s*[,)]')


def lazy_alias_strings() -> set[str]:
    found = set()
    for path in KHIEN.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        found.update(ast.literal_eval(f'"{m}"') for m in LAZY_ALIAS.findall(path.read_text()))
    return found


def catalogue():
    return polib.pofile(str(KHIEN / "locale" / "vi" / "LC_MESSAGES" / "django.po"))


def test_the_forms_lazy_labels_are_translated():
    strings = lazy_alias_strings()
    assert len(strings) > 50  # the alias is used (the pattern still finds the forms' labels)
    translated = {e.msgid for e in catalogue().translated_entries()}
    assert sorted(strings - translated) == []
    with translation.override("vi"):  # and the compiled catalogue has them
        assert translation.gettext("Kind of value") == "Loại giá trị"


@pytest.mark.parametrize("path", sorted(KHIEN.rglob("locale/vi/LC_MESSAGES/django.po")), ids=str)
def test_the_vietnamese_catalogues_have_no_empty_or_fuzzy_entry(path):
    entries = polib.pofile(str(path))
    assert [e.msgid for e in entries.untranslated_entries()] == []
    assert [e.msgid for e in entries.fuzzy_entries()] == []  # a fuzzy entry is left out of the compiled catalogue


def test_makemessages_extracts_the_lazy_alias():
    from khien.core.management.commands.makemessages import Command

    assert "--keyword=_l" in Command.xgettext_options
