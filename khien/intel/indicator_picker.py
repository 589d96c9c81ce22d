"""The early-warning form's indicator picker: the stored indicators a user may name in a warning, found by a value
(IP, network, domain, URL, e-mail, hash) or by words of their name, and described as the form lists them (kind,
value, name, TLP).

Nothing here decides visibility: the value search is `search.search_values`, the name search
`search.search_objects`, a description `search.latest_versions` — each starts from `tlp.visible_versions`, so the
picker offers exactly the indicators the search page shows the same user, and an id it cannot describe is one the
user may not name (the warning service refuses it too).
"""
from __future__ import annotations

import operator
from dataclasses import asdict, dataclass
from functools import reduce

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import search
from .models import IndicatorValue, Tlp, indicator_kind_label

MAX_RESULTS = 20  # a picker shows a short list: a longer one means the words typed are too vague
QUERY_MIN, QUERY_MAX = 2, 200
NAME_MAX = 160  # a name longer than this is cut in the list (the indicator's page has it whole)
INDICATOR = {"type": "indicator"}


class BadQuery(ValueError):
    """The text typed cannot be searched (too short or too long); the message says why, in the user's language."""


@dataclass
class Pick:
    id: str
    kind: str          # the kind of the value shown ("" when the pattern names no value the platform indexes)
    kind_label: str
    value: str         # one of its values (the one searched, when it names it), else its pattern
    more: int          # how many other values it names
    name: str
    tlp: str
    tlp_label: str

    def as_json(self) -> dict:
        return asdict(self)


def checked_query(raw) -> str:
    """The text to search, stripped; BadQuery when it is shorter than QUERY_MIN or longer than QUERY_MAX."""
    text = " ".join(str(raw or "").split())
    if len(text) < QUERY_MIN:
        raise BadQuery(_("Type at least %(n)s characters: a value or words of the name.") % {"n": QUERY_MIN})
    if len(text) > QUERY_MAX:
        raise BadQuery(_("Type at most %(n)s characters.") % {"n": QUERY_MAX})
    return text


def describe(user, stix_ids, prefer: dict | None = None, skip_revoked: bool = False) -> dict[str, Pick]:
    """{id: Pick} of the ids that are indicators the user may see (their latest visible version); the others are
    absent, and with `skip_revoked` the revoked ones too. `prefer` ({id: value}): the value to show first for an
    id (the one searched)."""
    prefer = prefer or {}
    latest = {i: o for i, o in search.latest_versions(user, [i for i in stix_ids if isinstance(i, str)]).items()
              if o.stix_type == "indicator" and not (skip_revoked and o.revoked)}
    values: dict[int, list[tuple[str, str]]] = {}
    for pk, kind, value in (IndicatorValue.objects.filter(object_id__in=[o.pk for o in latest.values()])
                            .order_by("kind", "value").values_list("object_id", "kind", "value")):
        values.setdefault(pk, []).append((kind, value))
    labels = dict(Tlp.choices)
    out = {}
    for stix_id, obj in latest.items():
        mine = values.get(obj.pk, [])
        first = next((kv for kv in mine if kv[1] == prefer.get(stix_id)), mine[0] if mine else None)
        data = obj.data or {}
        name = data.get("name") if isinstance(data.get("name"), str) else ""
        if first is None:  # a pattern on something not indexed (a file name…): the pattern itself
            pattern = data.get("pattern") if isinstance(data.get("pattern"), str) else ""
            kind, kind_label, value = "", _("Pattern"), pattern[:300]
        else:
            kind, value = first
            kind_label = indicator_kind_label(kind)
        out[stix_id] = Pick(id=stix_id, kind=kind, kind_label=str(kind_label), value=value,
                            more=max(0, len(mine) - 1), name=name.strip()[:NAME_MAX], tlp=obj.tlp,
                            tlp_label=str(labels.get(obj.tlp, obj.tlp)))
    return out


def _name_matches(user, text: str):
    """The ids of the visible indicators whose name (or description, labels, id) holds every word of `text`, newest
    first: the search page's text search (`search.search_objects`) for the first word, narrowed by the others."""
    words = text.split()
    found = search.search_objects(user, text if len(words) == 1 else words[0], INDICATOR)
    for word in words[1:]:
        found = found.filter(reduce(operator.or_, [Q(data__name__icontains=word), Q(data__description__icontains=word),
                                                   Q(labels__icontains=word)]))
    return found.values_list("stix_id", flat=True)


def find(user, query: str, exclude=()) -> tuple[list[Pick], bool]:
    """(the indicators the user may see that `query` finds, at most MAX_RESULTS; whether there were more).

    A value first (`search.search_values`: the value itself, then the networks holding an address, the parent
    domains of a domain, the URLs on it), then words of the name. Revoked indicators are left out (a warning
    names what to block now); so are `exclude` (those already chosen)."""
    text = checked_query(query)
    skip = set(exclude)
    order: list[str] = []
    prefer: dict[str, str] = {}
    if search.candidates(text):
        for group in search.search_values(user, text, INDICATOR):
            for row in group.rows:
                if row.obj.stix_id not in skip and not row.obj.revoked and row.obj.stix_id not in prefer:
                    order.append(row.obj.stix_id)
                    prefer[row.obj.stix_id] = group.value
    wanted = MAX_RESULTS + 1
    if len(order) < wanted:
        # a few more than needed: some may be revoked or chosen already
        for stix_id in _name_matches(user, text)[:wanted + len(skip) + MAX_RESULTS]:
            if stix_id not in skip and stix_id not in prefer:
                order.append(stix_id)
                prefer[stix_id] = ""
    described = describe(user, order[:wanted * 2], prefer, skip_revoked=True)
    picks = [described[i] for i in order if i in described]
    return picks[:MAX_RESULTS], len(picks) > MAX_RESULTS


def unknown_message(ids: list[str]) -> str:
    """What the form says of ids that are no indicator the user may see: each one named (a few, then how many
    more), whether it does not exist or is not shared with them (the same words: which one it is is not said)."""
    shown = ", ".join(ids[:5])
    if len(ids) > 5:
        shown += " " + _("(and %(n)d more)") % {"n": len(ids) - 5}
    return ngettext("No indicator you can see has this id: %(ids)s", "No indicator you can see has these ids: %(ids)s",
                    len(ids)) % {"ids": shown}


def not_indicator_message(ids: list[str]) -> str:
    shown = ", ".join(f"“{i[:120]}”" for i in ids[:5])
    return ngettext("Not an indicator id (it starts with indicator--): %(ids)s",
                    "Not indicator ids (they start with indicator--): %(ids)s", len(ids)) % {"ids": shown}


def check_ids(user, ids: list[str]) -> tuple[list[str], list[str]]:
    """(the ids among `ids` that are indicators the user may see, in order; the messages naming the others)."""
    ids = list(dict.fromkeys(i for i in ids if i))
    malformed = [i for i in ids if not i.startswith("indicator--")]
    shaped = [i for i in ids if i.startswith("indicator--")]
    found = describe(user, shaped) if shaped else {}
    unknown = [i for i in shaped if i not in found]
    problems = []
    if malformed:
        problems.append(not_indicator_message(malformed))
    if unknown:
        problems.append(unknown_message([i[:120] for i in unknown]))
    return [i for i in shaped if i in found], problems
