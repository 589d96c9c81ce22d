"""The guides' script for replaying a Suricata eve.json by hand (soc-connect, section 3), run exactly as printed
(only Khiên's address and the key file set, as the operator does) against the real platform (live server).

Every line that may be an alert reaches Khiên: a line cut short in the middle of the file becomes a dead letter
with its reason — it is not silently lost, and the lines after it are sent (`jq` stopped at it, and the loop
printed a clean answer). A refused batch or an unreachable platform stops the script, which says so."""
import re
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from khien.telemetry.models import DeadLetter, Event

from .conftest import sample_lines

pytestmark = pytest.mark.django_db(transaction=True)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "user-guide"
STOPPED = {"soc-connect.en.md": "STOPPED", "soc-connect.vi.md": "ĐÃ DỪNG"}


@pytest.fixture(autouse=True)
def _tools():
    for tool in ("bash", "awk", "split", "curl"):
        if shutil.which(tool) is None:
            pytest.skip(tool)


def script(guide: str, tmp_path: Path, url: str, key: str) -> Path:
    text = (DOCS / guide).read_text()
    found = re.findall(r"```sh\n(#!/bin/bash\n# replay-eve\.sh .*?)```", text, re.S)
    assert len(found) == 1, guide
    body, n = re.subn(r"^url=\S+", f"url={url}", found[0], flags=re.M)
    assert n == 1
    key_file = tmp_path / "suricata.key"
    key_file.write_text(key + "\n")  # pasted with an editor: a newline after it
    body, n = re.subn(r"^key_file=\S+", f"key_file={key_file}", body, flags=re.M)
    assert n == 1
    path = tmp_path / "replay-eve.sh"
    path.write_text(body)
    return path


def run(path: Path, eve: Path):
    return subprocess.run(["bash", str(path), str(eve)], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "TMPDIR": str(path.parent)})


def eve_file(tmp_path: Path) -> Path:
    alerts = [a for a in sample_lines("suricata_eve.ndjson") if b'"event_type":"alert"' in a]
    spaced = orjson.dumps(orjson.loads(alerts[2])).decode().replace('":', '": ').encode()  # reformatted
    lines = [alerts[0],
             b'{"timestamp":"2026-11-24T14:12:04.000000+0000","event_type":"dns","src_ip":"10.30.4.21"}',
             alerts[1],
             alerts[3][:200],  # an alert cut short, in the middle of the file
             spaced,
             b"",
             b'{"timestamp":"2026-11-24T14:1',  # cut before its event type
             b'{"timestamp":"2026-11-24T14:12:05.000000+0000","event_type":"flow","src_ip":"10.30.4.21"}',
             alerts[0].replace(b"14:12:03.551734", b"14:30:00.000001")]  # another alert
    eve = tmp_path / "eve.json"
    eve.write_bytes(b"\n".join(lines) + b"\n")
    return eve


@pytest.mark.parametrize("guide", ["soc-connect.en.md", "soc-connect.vi.md"])
def test_every_line_reaches_khien_and_a_broken_one_becomes_a_dead_letter(live_server, flushable_audit_log,
                                                                         make_source, tmp_path, guide):
    source, key = make_source(format="suricata")
    eve = eve_file(tmp_path)
    done = run(script(guide, tmp_path, f"{live_server.url}/api/telemetry/alerts", key), eve)
    assert done.returncode == 0, done.stderr
    assert Event.objects.filter(source=source).count() == 4  # the alerts, the reformatted one too
    letters = dict(DeadLetter.objects.filter(source=source).values_list("position", "reason"))
    # Sent: alert, alert, the cut alert (3), alert, the line cut before its type (5), alert.
    assert sorted(letters) == [3, 5] and all(r.startswith("not valid JSON") for r in letters.values())
    source.refresh_from_db()
    assert (source.accepted, source.rejected) == (4, 2)  # the dns and flow records were not sent
    assert '"rejected":2' in done.stdout and '"position":3' in done.stdout  # Khiên's answer, printed
    assert key not in done.stdout + done.stderr


@pytest.mark.parametrize("guide", ["soc-connect.en.md", "soc-connect.vi.md"])
def test_a_refused_batch_or_an_unreachable_platform_stops_it_and_says_so(live_server, flushable_audit_log,
                                                                          make_source, tmp_path, guide):
    source, _key = make_source(format="suricata")
    eve = eve_file(tmp_path)
    done = run(script(guide, tmp_path, f"{live_server.url}/api/telemetry/alerts", "khs_not-the-key"), eve)
    assert done.returncode == 1
    assert "401" in done.stdout and "Khóa nguồn cảnh báo không hợp lệ" in done.stdout  # Khiên's reason
    assert STOPPED[guide] in done.stderr
    assert not Event.objects.filter(source=source).exists()
    done = run(script(guide, tmp_path, "http://127.0.0.1:9/api/telemetry/alerts", "khs_x"), eve)
    assert done.returncode == 1 and STOPPED[guide] in done.stderr
    done = run(script(guide, tmp_path, f"{live_server.url}/api/telemetry/alerts", "khs_x"), tmp_path / "missing")
    assert done.returncode == 2
