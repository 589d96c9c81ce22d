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
    # An app with a catalogue of its own (incidents) keeps its strings there.
    translated = {e.msgid for path in KHIEN.rglob("locale/vi/LC_MESSAGES/django.po")
                  for e in polib.pofile(str(path)).translated_entries()}
    assert sorted(strings - translated) == []
    with translation.override("vi"):  # and the compiled catalogue has them
        assert translation.gettext("Kind of value") == "Loại giá trị"


def test_no_other_alias_hides_strings_from_the_catalogue():
    """`gettext_lazy as _lazy` (or any other name) is not extracted: the registry's reasons for refusing to
    delete an organization stayed English on Vietnamese pages. Only `_` and `_l` are known to makemessages."""
    aliases = re.compile(r"\b(?:gettext_lazy|gettext|ngettext|pgettext|pgettext_lazy|ngettext_lazy) as (\w+)")
    unknown = {(str(path.relative_to(KHIEN)), alias) for path in KHIEN.rglob("*.py") if "tests" not in path.parts
               for alias in aliases.findall(path.read_text()) if alias not in ("_", "_l")}
    assert sorted(unknown) == []


@pytest.mark.parametrize("path", sorted(KHIEN.rglob("locale/vi/LC_MESSAGES/django.po")), ids=str)
def test_the_vietnamese_catalogues_have_no_empty_or_fuzzy_entry(path):
    entries = polib.pofile(str(path))
    assert [e.msgid for e in entries.untranslated_entries()] == []
    assert [e.msgid for e in entries.fuzzy_entries()] == []  # a fuzzy entry is left out of the compiled catalogue


def test_makemessages_extracts_the_lazy_alias():
    from khien.core.management.commands.makemessages import Command

    assert "--keyword=_l" in Command.xgettext_options


def framework_error_messages() -> dict:
    """Every error message the frameworks under the pages and the API can answer with — Django's form fields
    and validators, Django REST framework's fields, relations, validators and exceptions, django-filter's
    fields — read from the installed libraries (a new version's new message shows up here), each with where it
    comes from. A message is the lazy string, or (lazy string, params) when the text is built from parts."""
    import inspect

    import django_filters.fields
    import rest_framework.exceptions
    import rest_framework.fields
    import rest_framework.relations
    import rest_framework.serializers
    import rest_framework.validators
    from django import forms
    from django.core import validators
    from django.core.exceptions import ValidationError

    def classes(module, base):
        return [obj for obj in vars(module).values() if inspect.isclass(obj) and issubclass(obj, base)]

    found: dict = {}
    field_classes = [*classes(forms.fields, forms.Field), *classes(forms.models, forms.Field),
                     *classes(django_filters.fields, forms.Field), *classes(rest_framework.fields, rest_framework.fields.Field),
                     *classes(rest_framework.serializers, rest_framework.fields.Field),
                     *classes(rest_framework.relations, rest_framework.fields.Field)]
    for cls in field_classes:
        for key, message in getattr(cls, "default_error_messages", {}).items():
            found.setdefault(message, f"{cls.__module__}.{cls.__name__}[{key}]")
    for name, obj in vars(validators).items():
        message = getattr(obj, "message", None)
        if message is not None and not isinstance(message, property):
            found.setdefault(message, f"django.core.validators.{name}")
    for check in (validators.validate_ipv4_address, validators.validate_ipv6_address,
                  validators.validate_ipv46_address):
        try:
            check("not an address")
        except ValidationError as exc:  # the text is built from a template and the protocol's name
            found.setdefault((exc.message, tuple(exc.params.items())), check.__name__)
    for cls in classes(rest_framework.validators, object):
        if isinstance(getattr(cls, "message", None), (str, type(translation.gettext_lazy("")))):
            found.setdefault(cls.message, f"rest_framework.validators.{cls.__name__}")
    for cls in classes(rest_framework.exceptions, rest_framework.exceptions.APIException):
        found.setdefault(cls.default_detail, f"rest_framework.exceptions.{cls.__name__}")
    return {message: where for message, where in found.items() if str(message if not isinstance(message, tuple)
                                                                        else message[0])}


def _rendered(message) -> str:
    if isinstance(message, tuple):
        text, params = message
        return str(text) % {key: str(value) for key, value in params}
    return str(message)


def test_the_frameworks_error_messages_are_vietnamese():
    """A Vietnamese user who types a bad address, UUID or date gets the error in Vietnamese, not the English of
    a framework whose own Vietnamese catalogue lacks it (Django 5.2's has no "Enter a valid %(protocol)s
    address.", DRF's has 20 messages of its 150). `khien/core/api/messages.py` marks the missing ones."""
    messages = framework_error_messages()
    assert len(messages) > 100  # the walk still finds the libraries' messages
    untranslated = []
    for message, where in messages.items():
        with translation.override("en"):
            english = _rendered(message)
        with translation.override("vi"):
            if _rendered(message) == english:
                untranslated.append(f"{where}: {english}")
    assert untranslated == []
    with translation.override("vi"):
        assert str(rest_framework_throttled(7)) == "Yêu cầu bị hạn chế tần suất. Hãy thử lại sau 7 giây."


def rest_framework_throttled(wait: int):
    from rest_framework.exceptions import Throttled

    return Throttled(wait=wait).detail


@pytest.mark.parametrize("path", sorted(KHIEN.rglob("locale/vi/LC_MESSAGES/django.po")), ids=str)
def test_an_observable_has_one_name_in_vietnamese(path):
    """An incident's observables and an alert's are the same thing: "dấu hiệu kỹ thuật" everywhere. The two
    catalogues once said "dấu hiệu quan sát" in one and "dấu hiệu kỹ thuật" in the other, on the same page."""
    named = [(e.msgid, e.msgstr) for e in polib.pofile(str(path)).translated_entries()
             if re.search(r"\bobservables?\b", e.msgid, re.I)]
    assert named  # the catalogue does name them
    assert [msgid for msgid, msgstr in named if "dấu hiệu quan sát" in msgstr.lower()] == []


def test_a_journal_comment_has_one_name_in_vietnamese():
    """The incident journal's comment is "ý kiến": the button said "Thêm ý kiến", the confirmation "Đã thêm bình
    luận" and the notification "ghi chú của" (a word the evidence forms use for something else)."""
    path = KHIEN / "incidents/locale/vi/LC_MESSAGES/django.po"
    named = {e.msgid: e.msgstr for e in polib.pofile(str(path)).translated_entries()
             if re.search(r"\bcomments?\b", e.msgid, re.I) or e.msgid == "%(ref)s: note from %(who)s"}
    assert named["Comment added."] == "Đã thêm ý kiến."
    assert named["%(ref)s: note from %(who)s"] == "%(ref)s: ý kiến của %(who)s"
    assert [msgid for msgid, msgstr in named.items() if "bình luận" in msgstr.lower()] == []


def test_djangos_own_messages_use_khiens_words():
    """Django says "tập tin" and "email"; every Khiên page says "tệp" and "e-mail" (`core/django_strings.py`)."""
    from django import forms
    from django.core.files.uploadedfile import SimpleUploadedFile

    class Form(forms.Form):
        email = forms.EmailField()
        file = forms.FileField()

    with translation.override("vi"):
        form = Form({"email": "not-an-address"}, {"file": SimpleUploadedFile("a.txt", b"")})
        errors = " ".join(str(m) for messages in form.errors.values() for m in messages)
    assert "e-mail" in errors and "Tệp" in errors
    assert "tập tin" not in errors.lower() and " email" not in errors
