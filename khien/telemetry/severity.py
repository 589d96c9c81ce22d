"""The platform's severity scale (0–10) and its four bands: one place for both directions of the rule.

A severity reads as the band it falls in (`severity_label`: the label results carry, and the labels the API's
severity filters take); a label or a tool's usual word for one reads as the value `SEVERITY_OF_LABEL` gives its
band (`severity_of_word`: what a SIEM export writes in place of a number, "high" in ECS `event.severity`).
No Django models here: the parsers use it, and models.py imports them.
"""
from __future__ import annotations

from django.utils.translation import gettext_lazy

SEVERITY_BANDS = ((3, "low"), (6, "medium"), (8, "high"), (10, "critical"))
# Each band as people read it (the dashboard's chart, a campaign's "Critical (9)").
BAND_NAMES = {"low": gettext_lazy("Low"), "medium": gettext_lazy("Medium"), "high": gettext_lazy("High"),
              "critical": gettext_lazy("Critical")}

# The value a label stands for, inside its band: CEF's own words (Low 3, Medium 5, High 8, Very-High 10),
# the values the platform always gave them.
SEVERITY_OF_LABEL = {"low": 3, "medium": 5, "high": 8, "critical": 10}

# Other tools' usual words for a band: CEF's header (Very-High), Wazuh's vulnerability severities, Suricata's
# signature_severity metadata (Informational, Minor, Major, Critical), syslog's levels. "informational" and
# "debug" are the bottom of the scale (0, "information" in the scale's own words).
_WORD_BAND = {
    "low": "low", "minor": "low", "notice": "low",
    "medium": "medium", "moderate": "medium", "warning": "medium",
    "high": "high", "major": "high", "error": "high", "severe": "high",
    "critical": "critical", "very-high": "critical", "very high": "critical", "emergency": "critical",
    "fatal": "critical",
}
SEVERITY_WORDS = {word: SEVERITY_OF_LABEL[band] for word, band in _WORD_BAND.items()}
SEVERITY_WORDS.update({"informational": 0, "info": 0, "debug": 0})


def severity_label(severity: int) -> str:
    for upper, label in SEVERITY_BANDS:
        if severity <= upper:
            return label
    return "critical"


def severity_of_word(text: str) -> int | None:
    """The severity a word stands for ("High", "very-high", "Informational"), or None for any other text."""
    return SEVERITY_WORDS.get(text.strip().lower())


# Each label's value lies in its own band, so a "high" alert is found by `severity=high`.
assert all(severity_label(value) == label for label, value in SEVERITY_OF_LABEL.items())
