"""Telemetry's notifications (campaigns, indicator hits, sources falling silent, alerts given to someone), each
written in its recipient's language.

`khien.core.notifications.notify` stores the text it is given for every recipient. Telemetry's texts are built
here once per language among the recipients — `build()` called inside `translation.override` — and each group is
notified with its own text: a coordinator who reads Khiên in English is not sent Vietnamese, nor the reverse.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from django.utils import translation

from khien.core import notifications


def notify(recipients: Iterable, *, build: Callable[[], tuple[str, str]], roles=None, **options) -> int:
    """`notifications.notify` (same recipients: users, organizations with `roles`; same `kind`, `url`, `urgent`),
    the title and body of each recipient in their language: `build()` returns (title, body) in the active one.
    Returns how many notifications were written."""
    # Who is reached is core's rule (the active users named, the active members of the organizations named).
    users = notifications._users_of(recipients, roles)
    by_language: dict[str, list] = {}
    for user in users:
        by_language.setdefault(notifications.recipient_language(user), []).append(user)
    written = 0
    for language, group in sorted(by_language.items()):
        with translation.override(language):
            title, body = build()
        written += notifications.notify(group, title=title, body=body, **options)
    return written
