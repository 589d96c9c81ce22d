"""Figures for the home dashboard, counted on what the user may see.

`dashboard(user)` is used by the dashboard page and can be reused by the API:
it returns plain JSON-ready data (numbers, translated labels), never querysets.
Every count starts from `visible_to(user)`, so each user sees the picture of
the organizations they are allowed to see.
"""
from __future__ import annotations

from django.db.models import Count, Q
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import (
    InformationSystem,
    LayerState,
    LevelStatus,
    Organization,
    OrgType,
    four_layers_complete_q,
    level_approved_q,
    level_at_least_q,
)

LAYER_LABELS = {
    1: gettext_lazy("Layer 1: on-site force"),
    2: gettext_lazy("Layer 2: 24/7 monitoring"),
    3: gettext_lazy("Layer 3: independent assessment"),
    4: gettext_lazy("Layer 4: national monitoring"),
}
TOP_PROVINCES = 15


def _share(part: int, total: int) -> int:
    """Whole percent, 0 when there is nothing to count."""
    return round(100 * part / total) if total else 0


def dashboard(user) -> dict:
    orgs = Organization.objects.visible_to(user)
    systems = InformationSystem.objects.visible_to(user).order_by()

    total = systems.count()
    # Two different questions, each counted by one rule: whether a system holds an approved level (the key figure;
    # `level_approved_q`), and where its latest proposal stands (the status chart). A system whose approved level
    # is being revised counts in the first and, in the second, under the revision's state, not "Approved".
    approved = systems.filter(level_approved_q()).count()
    under_revision = systems.filter(level_approved_q()).exclude(level_status=LevelStatus.APPROVED).count()
    complete = systems.filter(four_layers_complete_q()).count()
    # Level 3 and above (`level_at_least_q`, the rule the monitoring pages count by too), not declared connected.
    high_unconnected = systems.filter(level_at_least_q()).exclude(layer4_status=LayerState.IN_PLACE).count()

    by_level = {row["approved_level"]: row["n"] for row in systems.values("approved_level").annotate(n=Count("id"))}
    levels_chart = {
        "labels": [_("Level %(n)s") % {"n": n} for n in range(1, 6)] + [_("Not approved")],
        "values": [by_level.get(n, 0) for n in range(1, 6)] + [by_level.get(None, 0)],
    }

    by_status = {row["level_status"]: row["n"] for row in systems.values("level_status").annotate(n=Count("id"))}
    status_chart = {
        "labels": [str(label) for _v, label in LevelStatus.choices],
        "keys": [value for value, _l in LevelStatus.choices],
        "values": [by_status.get(value, 0) for value, _l in LevelStatus.choices],
    }

    layer_counts = systems.aggregate(**{
        f"l{n}_{state}": Count("id", filter=Q(**{f"layer{n}_status": state}))
        for n in (1, 2, 3, 4) for state in LayerState.values
    })
    layers_chart = {
        "labels": [str(LAYER_LABELS[n]) for n in (1, 2, 3, 4)],
        "series": [
            {"key": state, "name": str(label), "values": [layer_counts[f"l{n}_{state}"] for n in (1, 2, 3, 4)]}
            for state, label in ((LayerState.IN_PLACE, LayerState.IN_PLACE.label),
                                 (LayerState.PARTIAL, LayerState.PARTIAL.label),
                                 (LayerState.MISSING, LayerState.MISSING.label))
        ],
    }

    by_type = {row["owner__org_type"]: row["n"] for row in systems.values("owner__org_type").annotate(n=Count("id"))}
    # Largest first: a bar chart is read from the top.
    present = sorted(((by_type[value], str(label)) for value, label in OrgType.choices if by_type.get(value)),
                     key=lambda pair: -pair[0])
    types_chart = {"labels": [label for _n, label in present], "values": [n for n, _label in present]}

    province_rows = list(
        systems.filter(owner__province__isnull=False)
        .values("owner__province__name_vi", "owner__province__name_en")
        .annotate(n=Count("id"))
        .order_by("-n", "owner__province__name_vi")[:TOP_PROVINCES]
    )
    english = (get_language() or "vi").startswith("en")
    provinces_chart = {
        "labels": [
            (r["owner__province__name_en"] if english and r["owner__province__name_en"] else r["owner__province__name_vi"])
            for r in province_rows
        ],
        "values": [r["n"] for r in province_rows],
    }

    return {
        "kpis": {
            "organizations": orgs.count(),
            "systems": total,
            "approved": approved,
            "approved_share": _share(approved, total),
            "approved_under_revision": under_revision,
            "four_layers": complete,
            "four_layers_share": _share(complete, total),
            "high_level_unconnected": high_unconnected,
        },
        "charts": {
            "levels": levels_chart,
            "status": status_chart,
            "layers": layers_chart,
            "org_types": types_chart,
            "provinces": provinces_chart,
        },
    }
