"""Texts kept untranslated and translated when shown: each reader reads them in their own language.

A text written once for many readers (a notification) cannot be translated when it is written: its readers do not
all read Khiên in the same language, and they read it later. `Text` keeps the catalogue entry (the msgid, with its
plural and context) and the parameters, as JSON (`as_data`), and writes them in the active language (`render`):

    Text(_l(msgid), {"ref": incident.reference, "from": Status(a).label, "to": Status(b).label})
    Text(ngettext_lazy(singular, plural, n), {"n": n})
    Text("%(first)s\\n%(second)s", {"first": Text(...), "second": Text(...)})   # a plain format joins texts as is

The message is a lazy translation (`_l`, `pgettext_lazy`, `ngettext_lazy` with a number…): marked for the
catalogue where it is written, and kept as its msgid. A plain string is kept as is (not translated). Parameters are
plain values, lazy translations (a choice's label), other `Text`s, or `ByLanguage` (an organization's Vietnamese and
English names); anything else is written as text in the active language when the `Text` is made.
"""
from __future__ import annotations

import inspect
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.functional import Promise

_CATALOGUE_FUNCTIONS = {"gettext", "pgettext", "ngettext", "npgettext"}


class ByLanguage:
    """One value per language (a name kept in Vietnamese and English); shown in the active language, else in the
    platform's, else the first one given."""

    def __init__(self, **texts: str):
        self.texts = {code: str(text) for code, text in texts.items() if text}

    @classmethod
    def name_of(cls, obj) -> ByLanguage | str:
        """An object's bilingual name (`name_vi`, `name_en`: organizations, sectors, ISACs), else its name."""
        if hasattr(obj, "name_vi"):
            return cls(vi=obj.name_vi, en=getattr(obj, "name_en", "") or obj.name_vi)
        return str(obj)

    def as_data(self) -> dict:
        return {"by_language": dict(self.texts)}

    def render(self) -> str:
        language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
        for code in (language, settings.LANGUAGE_CODE):
            if self.texts.get(code):
                return self.texts[code]
        return next(iter(self.texts.values()), "")


def _entry(message) -> dict:
    """The catalogue entry a lazy translation stands for: {"msgid", and "context", "plural", "n" if any}."""
    if isinstance(message, Promise):
        try:
            func, args, kwargs = message.__reduce__()[1][:3]
        except (TypeError, ValueError, IndexError):
            func = None
        if getattr(func, "__module__", "") == "django.utils.translation" and func.__name__ in _CATALOGUE_FUNCTIONS:
            bound = inspect.signature(func).bind(*args, **kwargs).arguments
            entry = {"msgid": str(bound.get("message", bound.get("singular", "")))}
            if bound.get("context"):
                entry["context"] = str(bound["context"])
            if "plural" in bound:
                entry["plural"], entry["n"] = str(bound["plural"]), int(bound["number"])
            return entry
    return {"format": str(message)}  # not from the catalogue: kept as written


def _param_data(value) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)) and not isinstance(value, Promise):
        return value
    if isinstance(value, (Text, ByLanguage)):
        return value.as_data()
    if isinstance(value, Promise):
        return Text(value).as_data()
    return str(value)


def _param_value(data) -> Any:
    if isinstance(data, dict):
        if "by_language" in data:
            return ByLanguage(**data["by_language"]).render()
        return render_data(data)
    return data


class Text:
    """A message of the catalogue and its parameters, translated when shown (see the module's note)."""

    def __init__(self, message, params: dict | None = None):
        self.entry = _entry(message)
        self.params = {str(k): _param_data(v) for k, v in (params or {}).items()}

    def as_data(self) -> dict:
        data = dict(self.entry)
        if self.params:
            data["params"] = self.params
        return data

    def render(self) -> str:
        return render_data(self.as_data())

    def __str__(self):
        return self.render()


def render_data(data: dict) -> str:
    """A text kept by `Text.as_data`, in the active language. Raises KeyError, ValueError or TypeError for data
    that is not such a text (the caller shows what it stored instead)."""
    if "format" in data:
        text = str(data["format"])
    elif "plural" in data:
        n = int(data["n"])
        text = (translation.npgettext(data["context"], data["msgid"], data["plural"], n) if data.get("context")
                else translation.ngettext(data["msgid"], data["plural"], n))
    else:
        text = (translation.pgettext(data["context"], data["msgid"]) if data.get("context")
                else translation.gettext(data["msgid"]))
    params = data.get("params")
    if params:
        text = text % {key: _param_value(value) for key, value in params.items()}
    return text


def lines(*parts) -> Text:
    """Texts and plain strings one a line, each written in the reader's language (empty parts left out): the body
    of a notice that lists several things."""
    parts = [part for part in parts if part]
    return Text("\n".join(f"%(line{n})s" for n in range(len(parts))), {f"line{n}": part for n, part in enumerate(parts)})


def shown_time(when) -> str:
    """A time as notices show it, in the platform's time zone and the same in every language: 05/12/2026 14:30."""
    return timezone.localtime(when).strftime("%d/%m/%Y %H:%M")


def folded(text: str) -> str:
    """`text` as a search compares it: lower case, without Vietnamese diacritics (đ → d), spaces collapsed — people
    often type "tong tien" for "tống tiền"."""
    import unicodedata

    decomposed = unicodedata.normalize("NFD", str(text).casefold().replace("đ", "d"))
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())
