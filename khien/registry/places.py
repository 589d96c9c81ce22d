"""Where an organization counts in the national figures: the central agencies or a province — the one rule behind
every "by province" chart and `province` filter (incident statistics, the monitoring dashboard, their lists).

Vietnam's plans report ministries and central bodies ("bộ, ngành") apart from the provinces ("địa phương"). An
organization's own `province` is its seat, Hà Nội for every ministry: grouped by it, the whole central government
reads as attacks on Hà Nội. So the top of the organization's line decides: under a ministry or a political-system
body (its units, the enterprises it owns, wherever they are seated) it counts as `CENTRAL`; otherwise as its own
province (None when the registry records none).
"""
from __future__ import annotations

from django.db.models import Case, CharField, F, QuerySet, Value, When
from django.db.models.functions import Substr
from django.db.models.lookups import In
from django.utils.translation import gettext_lazy as _

from .models import Organization, OrgType, Province

CENTRAL = "central"
CENTRAL_LABEL = _("Central agencies")
# The types at the top of a line that make the whole line central.
CENTRAL_TOP_TYPES = (OrgType.MINISTRY, OrgType.POLITICAL)
# A top-level organization's path is "/<32 hex digits of its id>/": the start of every path of its line.
TOP_PATH_LENGTH = 34


def _central_tops():
    return Organization.objects.filter(parent__isnull=True, org_type__in=CENTRAL_TOP_TYPES).values("path")


def is_central(prefix: str = ""):
    """A condition (for `filter()` or `When`) on the organization at `prefix` (e.g. "organization__"): the top of
    its line is a ministry or a political-system body. One uncorrelated subquery on the indexed paths."""
    return In(Substr(F(f"{prefix}path"), 1, TOP_PATH_LENGTH), _central_tops())


def place_of(prefix: str = ""):
    """The place code of the organization at `prefix`, as an expression for `annotate`/`values`: CENTRAL, its
    province's code, or None."""
    return Case(When(is_central(prefix), then=Value(CENTRAL)), default=F(f"{prefix}province__code"),
                output_field=CharField())


def organizations_in(place: str) -> QuerySet:
    """The organizations that count at `place` (CENTRAL or a province code), by the very expression the charts
    group by: a filter `organization__in=organizations_in(code)` lists what the bar counted."""
    return Organization.objects.alias(place=place_of()).filter(place=place)


def choices() -> list[tuple[str, str]]:
    """The central agencies first, then the provinces by name: what the `province` filters offer."""
    return [(CENTRAL, str(CENTRAL_LABEL))] + [(p.code, p.name) for p in Province.objects.order_by("name_vi")]


def codes() -> list[str]:
    return [CENTRAL] + list(Province.objects.order_by("code").values_list("code", flat=True))


def label(place: str | None) -> str:
    """The name of a place code, in the active language."""
    if place == CENTRAL:
        return str(CENTRAL_LABEL)
    province = Province.objects.filter(code=place).first() if place else None
    return province.name if province else str(_("No province"))
