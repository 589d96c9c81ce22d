"""The test commands a SOC operator copies (the source page's "to try it" line, the guides' replay loop) show
Khiên's answer when it refuses a batch: a wrong key prints the reason, not nothing (`curl -sf` printed nothing)."""
import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

from .test_sources import key_on, register

DOCS = Path(__file__).resolve().parents[3] / "docs" / "user-guide"
GUIDES = ["soc-connect.vi.md", "soc-connect.en.md", "telemetry.vi.md", "telemetry.en.md"]


def _try_it(page: str) -> str:
    """The "to try it" command of a source page, as the operator copies it."""
    commands = [html.unescape(c) for c in re.findall(r"<code>(curl .*?)</code>", page, re.S)]
    assert len(commands) == 1, commands
    return commands[0]


@pytest.mark.django_db
def test_the_source_page_command_shows_the_answer_of_a_refused_batch(world, as_user):
    client = as_user(world.admin)
    page = register(client, world.ministry, follow=True).content.decode()
    command = _try_it(page)
    assert command.startswith(f'curl -sS --fail-with-body -H "Authorization: Token {key_on(page)}"')
    later = _try_it(client.get(reverse("telemetry:source", args=["fw-min-hq"])).content.decode())
    assert later.startswith('curl -sS --fail-with-body -H "Authorization: Token $SOURCE_KEY"')


@pytest.mark.parametrize("guide", GUIDES)
def test_the_guides_curl_lines_do_not_hide_the_answer(guide):
    text = (DOCS / guide).read_text()
    assert not re.search(r"curl -[a-zA-Z]*f", text), "curl -f prints nothing when Khiên refuses"
    # soc-connect's replay script prints each answer itself (test_guide_replay_script).
    assert "--fail-with-body" in text or "replay-eve.sh" in text or guide.startswith("telemetry")


@pytest.mark.django_db(transaction=True)
def test_a_wrong_key_prints_the_reason_with_the_page_command(live_server, flushable_audit_log, world, as_user,
                                                            tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl")
    client = as_user(world.admin)
    page = register(client, world.ministry, name="wazuh-try", format="wazuh", follow=True).content.decode()
    command = (_try_it(page).replace(key_on(page), "khs_not-the-key").replace("http://testserver", live_server.url)
               .replace("\\\n", " "))
    (tmp_path / "alerts.ndjson").write_text('{"timestamp":"2026-11-24T14:03:11.000+0700","rule":{"id":"5712"}}\n')
    done = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 22
    assert "Khóa nguồn cảnh báo không hợp lệ" in done.stdout  # the answer's body: why Khiên refused (Vietnamese)
    assert "401" in done.stderr
