"""A `{# … #}` comment must end on its line: Django reads a multi-line one as text and prints it on the page (a
developer's note shown to every user). Longer notes use {% comment %}."""

from pathlib import Path

import khien

ROOT = Path(khien.__file__).resolve().parent


def test_no_template_comment_runs_over_a_line():
    broken = []
    for template in ROOT.rglob("*.html"):
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), start=1):
            rest = line
            while "{#" in rest:
                rest = rest[rest.index("{#") + 2:]
                if "#}" not in rest:
                    broken.append(f"{template.relative_to(ROOT)}:{number}")
                    break
                rest = rest[rest.index("#}") + 2:]
    assert broken == []
