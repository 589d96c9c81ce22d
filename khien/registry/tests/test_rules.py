"""Rules that live in one place: the 4-layer gap rule, the level suggestion, content loading."""
import datetime as dt
import itertools
from pathlib import Path

import pytest
import yaml
from django.utils import timezone

from khien.registry import content, levels
from khien.registry.models import InformationSystem, LayerState, LevelFramework, Province, Sector, four_layers_complete_q

pytestmark = pytest.mark.django_db


def test_gap_rule_and_query_agree(world, make_system):
    """`four_layer_gaps()` (shown on pages) and `four_layers_complete_q()` (counted on dashboards) never disagree."""
    today = timezone.localdate()
    dates = [None, today - dt.timedelta(days=30), today - dt.timedelta(days=365), today - dt.timedelta(days=366)]
    states = [LayerState.IN_PLACE, LayerState.PARTIAL]
    for l1, l2, l3, l4, assessed in itertools.product(states, states, states, states, dates):
        make_system(world.ministry, layer1_status=l1, layer2_status=l2, layer3_status=l3, layer4_status=l4,
                    layer3_assessed_on=assessed, approved_level=2)
    complete = set(InformationSystem.objects.filter(four_layers_complete_q(today)).values_list("pk", flat=True))
    for system in InformationSystem.objects.all():
        layer_gaps = [g for g in system.four_layer_gaps(today) if g != "level_unapproved"]
        assert (system.pk in complete) == (not layer_gaps), (system.code, layer_gaps)
    assert len(complete) == 2  # all four in place, assessed 30 or 365 days ago


def test_the_assessment_interval_is_the_levels_and_gaps_and_dashboard_agree_on_it(world, make_system):
    """Levels 1-2 ask for an independent assessment every 24 months, levels 3-5 every 12 (framework 2026.1); the
    approved level decides, else the proposed one; without a level, once a year."""
    fw = levels.current_framework()
    assert [levels.assessment_months(fw, n) for n in range(1, 6)] == [24, 24, 12, 12, 12]
    today = dt.date(2026, 3, 31)
    in_place = {f"layer{n}_status": LayerState.IN_PLACE for n in (1, 2, 3, 4)}
    cases = {  # (approved, proposed, assessed) -> current?
        (2, None, dt.date(2024, 3, 31)): True, (2, None, dt.date(2024, 3, 30)): False,
        (None, 1, dt.date(2024, 6, 1)): True, (4, None, dt.date(2025, 3, 31)): True,
        (4, None, dt.date(2025, 3, 30)): False, (2, 4, dt.date(2024, 6, 1)): True,  # approved level 2 stands
        (None, None, dt.date(2025, 4, 1)): True, (None, None, dt.date(2024, 6, 1)): False,
    }
    made = {}
    for (approved, proposed, assessed), current in cases.items():
        system = make_system(world.ministry, framework=fw, approved_level=approved, proposed_level=proposed,
                             layer3_assessed_on=assessed, **in_place)
        made[system.pk] = current
        assert system.assessment_current(today) is current, (approved, proposed, assessed)
    complete = set(InformationSystem.objects.filter(four_layers_complete_q(today)).values_list("pk", flat=True))
    assert complete == {pk for pk, current in made.items() if current}
    assert levels.months_before(dt.date(2026, 3, 31), 1) == dt.date(2026, 2, 28)
    assert levels.months_before(dt.date(2026, 1, 15), 13) == dt.date(2024, 12, 15)


def test_assessment_older_than_a_year_is_a_gap(world, make_system):
    today = timezone.localdate()
    system = make_system(world.ministry, layer3_status=LayerState.IN_PLACE, layer3_assessed_on=today - dt.timedelta(days=400))
    assert "assessment_outdated" in system.four_layer_gaps(today)
    assert "level_unapproved" in system.four_layer_gaps(today)


def test_suggested_level_is_the_highest_answer_with_its_reason():
    fw = levels.current_framework()
    answers = {"system_kind": "public_service", "data_kind": "personal", "data_volume": "under_100k",
               "served_scope": "local", "impact": "public_order"}
    suggestion = levels.suggest_level(fw, answers)
    assert suggestion.level == 3
    assert len(suggestion.reasons) == 1 and "public order" in suggestion.reasons[0].lower() or "trật tự" in suggestion.reasons[0]
    answers["data_kind"] = "secret_top"
    assert levels.suggest_level(fw, answers).level == 5


def test_unanswered_or_unknown_criteria_are_refused():
    fw = levels.current_framework()
    with pytest.raises(levels.CriteriaError):
        levels.suggest_level(fw, {"system_kind": "public_service"})
    with pytest.raises(levels.CriteriaError):
        levels.suggest_level(fw, {q.id: "not-an-option" for q in levels.questions(fw)})


def test_every_level_has_authority_and_requirements():
    fw = levels.current_framework()
    for level in range(1, 6):
        assert levels.authority(fw, level, "approved_by") in {"owner", "national"}
        assert levels.authority(fw, level, "appraised_by") in {"owner", "national"}
        assert levels.requirements(fw, level)
    assert levels.authority(None, None, "approved_by") == "national"


def test_content_loading_is_idempotent():
    assert Province.objects.count() == 34
    sectors = Sector.objects.count()
    assert content.load_all() == {"sectors": 0, "provinces": 0, "level_frameworks": 0}
    assert Sector.objects.count() == sectors


def test_a_new_framework_version_becomes_current_and_old_systems_keep_theirs(world, make_system, tmp_path):
    old = levels.current_framework()
    system = make_system(world.ministry, framework=old)
    data = yaml.safe_load(Path(content.DATA_DIR / "levels" / "2026.1.yaml").read_text())
    data["version"] = "2027.1"
    data["effective_from"] = "2027-01-01"
    data["levels"][3]["approved_by"] = "national"
    path = tmp_path / "2027.1.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    new, changed = content.load_framework(path)
    assert changed and new.is_current
    assert levels.current_framework() == new
    assert not LevelFramework.objects.get(pk=old.pk).is_current
    system.refresh_from_db()
    assert system.framework == old
    assert levels.authority(new, 3, "approved_by") == "national" and levels.authority(old, 3, "approved_by") == "owner"


def test_clearing_the_criteria_clears_the_suggestion(world):
    from khien.registry import services

    answers = {q.id: q.options[-1][0] for q in levels.questions(levels.current_framework())}
    system = services.do_create_system({"code": "CLR-1", "name": "Hệ thống", "owner": world.ministry, "criteria": answers},
                                       acting_user=world.analyst)
    assert system.suggested_level == 5 and system.suggestion_reason
    system = services.do_update_system(system, {"criteria": {}}, acting_user=world.analyst)
    system.refresh_from_db()
    assert system.suggested_level is None and system.suggestion_reason == ""


def test_lists_split_on_lines_and_semicolons_not_commas():
    from khien.registry.validators import split_list

    cpe = r"cpe:2.3:a:vendor:product\,_suite:1.0:*:*:*:*:*:*:*"
    assert split_list(f"10.0.0.0/8;\n192.0.2.0/24 \n\n{cpe}") == ["10.0.0.0/8", "192.0.2.0/24", cpe]


def test_every_workflow_step_has_a_label_in_the_history():
    """The history names a step by `LevelAction`'s label: one list with the workflow's steps."""
    from khien.registry import services
    from khien.registry.models import LevelAction

    assert set(LevelAction.values) == set(services.TRANSITIONS)
