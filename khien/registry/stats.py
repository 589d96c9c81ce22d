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
    MONITORED_LEVEL,
    InformationSystem,
    LayerState,
    LevelStatus,
    OperationalStatus,
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


def held_to_national_monitoring_q(level: int = MONITORED_LEVEL) -> Q:
    """The systems the plans' layer-4 rule (a connection to national monitoring) is about: of level 3 or above
    (`level_at_least_q`: approved, else proposed) and in operation. A system planned or being built, suspended or
    retired sends nothing to watch: counting it would make the gap look larger than it is. The one rule behind the
    "connected" figure of the home page (declared) and of the monitoring dashboard (live sources)."""
    return level_at_least_q(level) & Q(operational_status=OperationalStatus.IN_OPERATION)


def approved_level_q(level: int = MONITORED_LEVEL) -> Q:
    """Held to the rule by an approved level (the rest of `held_to_national_monitoring_q` only by a proposal)."""
    return Q(approved_level__gte=level)


def connection_figure(*, total: int, connected: int, approved: int) -> dict:
    """"X / Y connected (Z %)" for the level-3+ systems in operation, with how many of them hold an approved level
    and how many only a proposed one: both pages give their figure in this one shape."""
    return {"total": total, "connected": connected, "not_connected": total - connected,
            "share": _share(connected, total), "approved_level": approved, "proposed_level": total - approved}


def declared_connection(systems) -> dict:
    """The home page's figure: of the level-3+ systems in operation of `systems`, those declared connected to
    national monitoring (layer 4 in place in the registry)."""
    counts = systems.filter(held_to_national_monitoring_q()).aggregate(
        total=Count("id"), connected=Count("id", filter=Q(layer4_status=LayerState.IN_PLACE)),
        approved=Count("id", filter=approved_level_q()))
    return connection_figure(**counts)


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
    # Level 3 and above and in operation (`held_to_national_monitoring_q`, the rule the monitoring dashboard counts
    # by too), declared connected or not.
    connection = declared_connection(systems)

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
            "high_level_unconnected": connection["not_connected"],
            # "X / Y connected (Z %)": the page's layer-4 tile (the view passes only `kpis` on).
            "layer4": connection,
        },
        "charts": {
            "levels": levels_chart,
            "status": status_chart,
            "layers": layers_chart,
            "org_types": types_chart,
            "provinces": provinces_chart,
        },
    }
