"""Telemetry's notifications (campaigns, indicator hits, sources falling silent, alerts given to someone), each
read in its reader's language.

Telemetry's texts are sentences built from counts, lists and names (`build()` returns the title and body in the
active language). They are built once in every language the platform offers and given to
`khien.core.notifications.notify` as `Text`s holding one version per language (`ByLanguage`): each page, API
answer and e-mail then shows its reader's version — a coordinator who reads Khiên in English is not sent
Vietnamese, nor the reverse, and switching language later switches the notifications already received.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from django.conf import settings
from django.utils import translation

from khien.core import notifications


def notify(recipients: Iterable, *, build: Callable[[], tuple[str, str]], roles=None, **options) -> int:
    """`notifications.notify` (same recipients: users, organizations with `roles`; same `kind`, `url`, `urgent`),
    the title and body written by `build()` in each language. Returns how many notifications were written."""
    versions: dict[str, tuple[str, str]] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            versions[code] = build()

    def each_language(part: int) -> notifications.Text:
        return notifications.Text("%(text)s", {"text": notifications.ByLanguage(
            **{code: version[part] for code, version in versions.items()})})

    return notifications.notify(recipients, title=each_language(0), body=each_language(1), roles=roles, **options)
