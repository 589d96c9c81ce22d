"""Reading a level framework: the criteria questions, the suggested level and who approves.

The framework is data (data/levels/*.yaml, loaded into LevelFramework); this
module only interprets it, so a new decree means a new file, not new code.
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from .models import LevelFramework


def _lang_key(item: dict, stem: str) -> str:
    lang = "en" if (get_language() or "vi").startswith("en") else "vi"
    return item.get(f"{stem}_{lang}") or item.get(f"{stem}_vi", "")


def current_framework() -> LevelFramework | None:
    return LevelFramework.objects.filter(is_current=True).first()


@dataclass
class Question:
    id: str
    text: str
    options: list[tuple[str, str, int]]  # (option id, label, minimum level)


def questions(framework: LevelFramework) -> list[Question]:
    return [
        Question(
            id=q["id"],
            text=_lang_key(q, "text"),
            options=[(o["id"], _lang_key(o, "label"), int(o["min_level"])) for o in q["options"]],
        )
        for q in framework.data["questions"]
    ]


@dataclass
class Suggestion:
    level: int
    reasons: list[str]

    @property
    def reason_text(self) -> str:
        return _("Level %(n)s, reached by: %(why)s") % {"n": self.level, "why": "; ".join(self.reasons)}


class CriteriaError(ValueError):
    pass


def suggest_level(framework: LevelFramework, answers: dict[str, str]) -> Suggestion:
    """The highest level reached by any answer, with the answers that reach it as the reason.

    Every question must be answered with one of its options.
    """
    reached: list[tuple[int, str]] = []
    for question in questions(framework):
        chosen = answers.get(question.id)
        match = next((o for o in question.options if o[0] == chosen), None)
        if match is None:
            raise CriteriaError(_("Answer the question “%(q)s”.") % {"q": question.text})
        reached.append((match[2], f"{question.text}: {match[1]}"))
    level = max(lvl for lvl, _r in reached)
    return Suggestion(level=level, reasons=[text for lvl, text in reached if lvl == level])


def suggestion_reason(system) -> str:
    """Why the criteria suggest the system's level, in the reader's language: worked out again from what the system
    keeps (its answers and criteria version), as the language of the page or API call asks. The text stored when
    the suggestion was made is the fallback (rows saved before, or answers the framework no longer knows)."""
    if system.suggested_level and system.criteria and system.framework_id:
        try:
            suggestion = suggest_level(system.framework, system.criteria)
        except CriteriaError:
            suggestion = None
        if suggestion is not None and suggestion.level == system.suggested_level:
            return suggestion.reason_text
    return system.suggestion_reason


def level_info(framework: LevelFramework, level: int) -> dict:
    return framework.data["levels"].get(str(level)) or framework.data["levels"].get(level) or {}


# Layer 3 where the framework names no interval for a level (or the system has no level yet): once a year.
DEFAULT_ASSESSMENT_MONTHS = 12


def assessment_months(framework: LevelFramework | None, level: int | None) -> int:
    """Every how many months an independent assessment (layer 3) is due at `level` (the framework's
    `independent_assessment_months`)."""
    if framework is None or level is None:
        return DEFAULT_ASSESSMENT_MONTHS
    months = level_info(framework, level).get("requirements", {}).get("independent_assessment_months")
    return int(months) if months else DEFAULT_ASSESSMENT_MONTHS


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months earlier (31 March - 1 = 28/29 February)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return day.replace(year=year, month=month + 1, day=min(day.day, calendar.monthrange(year, month + 1)[1]))


def authority(framework: LevelFramework | None, level: int | None, step: str) -> str:
    """Who takes `step` ("appraised_by" or "approved_by") for `level`: "owner" or "national".

    Without a framework or level the national coordinator decides (the safe default).
    """
    if framework is None or level is None:
        return "national"
    return level_info(framework, level).get(step, "national")


def requirements(framework: LevelFramework, level: int) -> list[tuple[str, str]]:
    """(label, value) pairs of what applies at `level`, for display."""
    labels = framework.data.get("requirement_labels", {})
    values = framework.data.get("requirement_values", {})
    lang = "en" if (get_language() or "vi").startswith("en") else "vi"
    out = []
    for key, value in level_info(framework, level).get("requirements", {}).items():
        label = labels.get(key, {}).get(lang, key)
        if isinstance(value, bool):
            shown = _("required") if value else _("not required")
        elif value is None:
            shown = _("not required")
        elif isinstance(value, str):
            shown = values.get(value, {}).get(lang, value)
        else:
            shown = str(value)
        out.append((label, shown))
    return out
