"""Telemetry's notifications (campaigns, indicator hits, sources falling silent, alerts given to someone) are
written as `khien.core.texts.Text`s, as every app's are (decision 0015): each page, API answer and e-mail shows
them in its reader's language. Their bodies are lists of such texts, one a line (`lines`)."""
from __future__ import annotations

from collections.abc import Iterable

from khien.core.texts import Text


def lines(parts: Iterable[Text | str]) -> Text:
    """The texts one a line, each in the reader's language (a plain string is shown as given)."""
    parts = list(parts)
    return Text("\n".join(f"%(line{n})s" for n in range(len(parts))), {f"line{n}": part for n, part in enumerate(parts)})
