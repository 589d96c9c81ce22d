"""What is waiting for the signed-in person, across the platform: the "To do" card of the home page.

Each app knows its own waiting work (systems to appraise, incidents past a deadline, campaigns to decide,
warnings to acknowledge, alerts nobody handles); it registers one function here (`register`, from its
AppConfig.ready) that returns that work for a user as `Item`s, already scoped to what the user may see. The
home page lists the items with a count above zero, urgent ones first. Core imports no app.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    label: str  # in the reader's language, naming the count: "3 incidents past their 24-hour report"
    count: int
    url: str  # the list that shows exactly those
    urgent: bool = False


Provider = Callable[[object], Iterable[Item]]


def grouped(n: int) -> str:
    """`n` with its thousands grouped as the reader writes numbers (10.001 in Vietnamese, 10,001 in English): an
    item's label is `ngettext("%(n)s …", "%(n)s …", n) % {"n": grouped(n)}`."""
    from django.utils.formats import number_format

    return number_format(n, force_grouping=True)


_providers: list[Provider] = []


def register(provider: Provider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def items_for(user) -> list[Item]:
    """Every app's waiting work for `user` with a count above zero, urgent first (then as the apps gave them)."""
    items: list[Item] = []
    for provider in _providers:
        items.extend(item for item in provider(user) if item.count > 0)
    return sorted(items, key=lambda item: not item.urgent)
