"""The shipped rsyslog configuration (telemetry/integrations/rsyslog/khien-elastic.conf), run by the real rsyslogd
with its Elasticsearch output (Debian's rsyslog and rsyslog-elasticsearch) against the real platform (live server):
Khiên's Elasticsearch-compatible intake taken by an Elasticsearch client that is not ours. And a wrong key: this
rsyslog (8.2302) never sends again a batch refused whole, whatever the answer (tried: Elasticsearch's own 401 and
403, a body that is not JSON; only a broken connection suspends its action): it writes it to its errorfile. What
it does send again is the records that a bulk answer names refused (`retryfailures`): Khiên's refusal names each,
and the shipped file's retry ruleset keeps them on disk, across restarts, until the key is right. The batches an
older file wrote to its errorfile are sent again with khien-replay-errors.sh.

Skipped when rsyslog's Elasticsearch module is not there, unless KHIEN_REQUIRE_SERVICES=1 (`.ci/run` unpacks Debian's
rsyslog packages into KHIEN_RSYSLOG_DIR: they conflict with syslog-ng's, which other tests run)."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from khien.conftest import require_tool
from khien.telemetry import services
from khien.telemetry.models import AlertSource, DeadLetter, Event

from .conftest import sample_lines
from .test_syslog_ng import Daemon, stored, wait_for

CONFIG = Path(__file__).resolve().parents[1] / "integrations" / "rsyslog" / "khien-elastic.conf"
REPLAY = CONFIG.parent / "khien-replay-errors.sh"


def _rsyslog() -> tuple[Path, Path] | None:
    """rsyslogd and its module folder: installed, or unpacked into KHIEN_RSYSLOG_DIR (Debian's rsyslog and
    syslog-ng packages conflict; `.ci/run` unpacks rsyslog's beside syslog-ng)."""
    roots = [Path("/")]
    if os.environ.get("KHIEN_RSYSLOG_DIR"):
        roots.insert(0, Path(os.environ["KHIEN_RSYSLOG_DIR"]))
    for root in roots:
        daemon = root / "usr" / "sbin" / "rsyslogd"
        modules = [found.parent for found in (root / "usr" / "lib").glob("*/rsyslog/omelasticsearch.so")]
        if daemon.exists() and modules:
            return daemon, modules[0]
    return None

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _needs_rsyslog():
    require_tool(_rsyslog() is not None, "rsyslog with its Elasticsearch module",
                 "apt install rsyslog rsyslog-elasticsearch, or unpack them into KHIEN_RSYSLOG_DIR as .ci/run does")


class Rsyslog(Daemon):
    """rsyslogd running the shipped file, its CHANGE values set as the operator would."""

    def __init__(self, folder: Path, **values):
        self.dir = folder / "rsyslog"
        self.dir.mkdir(exist_ok=True)
        text = CONFIG.read_text()
        for old, new in values.items():
            assert text.count(old) == 1, f"the shipped file has no single {old!r}"
            text = text.replace(old, new)
        installed = self.dir / "60-khien.conf"
        # Retry sooner than the shipped 10 s (a lost Khiên, refused records) so that the test does not wait;
        # errors in the test's folder.
        installed.write_text(text.replace('action.resumeInterval="10"', 'action.resumeInterval="1"')
                             .replace('queue.dequeueSlowdown="10000000"', 'queue.dequeueSlowdown="1000000"')
                             .replace("/var/log/rsyslog-khien-errors.json", str(self.dir / "errors.json")))
        self.main = self.dir / "rsyslog.conf"
        # What Debian's /etc/rsyslog.conf gives: a work directory (imfile's positions, the queue), then rsyslog.d.
        self.main.write_text(f'global(workDirectory="{self.dir}")\ninclude(file="{installed}")\n')
        self.log = self.dir / "rsyslogd.log"
        self.process = None

    def start(self):
        daemon, modules = _rsyslog()
        self.process = subprocess.Popen([str(daemon), "-n", "-M", str(modules), "-f", str(self.main),
                                         "-i", str(self.dir / "rsyslogd.pid")],
                                        stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        time.sleep(0.5)
        assert self.process.poll() is None, self.log.read_text()
        return self


def test_a_suricata_sensor_sends_its_alerts_with_rsyslog_elasticsearch_output(live_server, flushable_audit_log,
                                                                             make_source, tmp_path):
    source, key = make_source(format="suricata")
    alerts = sample_lines("suricata_eve.ndjson")
    dns = (b'{"timestamp":"2026-11-24T14:12:04.000000+0000","event_type":"dns","src_ip":"10.30.4.21",'
           b'"dns":{"type":"query","rrname":"example.vn"}}')
    eve = tmp_path / "eve.json"
    eve.write_bytes(b"\n".join([alerts[0], dns, alerts[1]]) + b"\n")
    sensor = Rsyslog(tmp_path, **{
        "/var/log/suricata/eve.json": str(eve),
        "https://khien.example.vn/api/telemetry/elastic": f"{live_server.url}/api/telemetry/elastic",
        "suricata-sensor-01": source.name,
        "khs_the-source-key": key,
    }).start()
    try:
        wait_for(lambda: stored(source, 2), "the first two alerts")
        with eve.open("ab") as f:  # Suricata writes on
            f.write(dns + b"\n" + alerts[2] + b"\n")
        wait_for(lambda: stored(source, 3), "the alert written later")
        sensor.stop()
        sensor.start()  # restarted: goes on from where it stopped, sends nothing twice
        with eve.open("ab") as f:
            f.write(alerts[3] + b"\n")
        wait_for(lambda: stored(source, 4), "the alert written after the restart")
        time.sleep(2)
    finally:
        sensor.stop()
    source.refresh_from_db()
    assert (source.accepted, source.rejected) == (4, 0)  # the dns events were never sent
    assert Event.objects.filter(source=source).count() == 4
    assert not DeadLetter.objects.filter(source=source).exists()
    assert not (sensor.dir / "errors.json").exists()  # every item of every bulk answer was taken
    assert key not in sensor.log.read_text()
    assert AlertSource.objects.get(pk=source.pk).last_event_at is not None


def disabled_refusals(source) -> int:
    return AlertSource.objects.get(pk=source.pk).refused_while_disabled


def errorfile_records(path: Path) -> list[dict]:
    """What rsyslog wrote to its errorfile: one JSON object a line, {"request": {"url", "postdata"}, "reply"}."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def refused_documents(path: Path) -> list[str]:
    """The documents of the batches in the errorfile (a bulk body: an action line, then its document)."""
    return [document for record in errorfile_records(path)
            for document in record["request"]["postdata"].splitlines()[1::2]]


def replay(folder: Path, errorfile: Path, url: str, key: str) -> subprocess.CompletedProcess:
    """khien-replay-errors.sh as the operator runs it: its two CHANGE values set, the key in a file only they read."""
    key_file = folder / "source.key"
    key_file.write_text(key)
    key_file.chmod(0o600)
    script = REPLAY.read_text()
    for old, new in {"https://khien.example.vn/api/telemetry/elastic/_bulk": url,
                     "/etc/khien/suricata.key": str(key_file)}.items():
        assert script.count(old) == 1, f"the shipped script has no single {old!r}"
        script = script.replace(old, new)
    installed = folder / "khien-replay-errors.sh"
    installed.write_text(script)
    return subprocess.run(["bash", str(installed), str(errorfile)], capture_output=True, text=True, timeout=120)


def test_alerts_refused_for_a_replaced_key_are_stored_once_the_key_is_fixed(live_server, flushable_audit_log,
                                                                          make_source, world, tmp_path):
    """The walkthrough: an administrator made a new key while the sensor still sent with the old one. Khiên refuses
    each batch (401) naming each record refused; the shipped file keeps them (not in the errorfile: not lost, not
    to be sent by hand). The operator puts the new key in the file and restarts rsyslog: every alert is stored,
    once, the ones refused before the restart included."""
    source, old_key = make_source(format="suricata")
    key = services.do_rotate_source_key(source, acting_user=world.coordinator)
    alerts = sample_lines("suricata_eve.ndjson")
    eve = tmp_path / "eve.json"
    eve.write_bytes(b"\n".join(alerts[:2]) + b"\n")
    values = {"/var/log/suricata/eve.json": str(eve), "suricata-sensor-01": source.name,
              "https://khien.example.vn/api/telemetry/elastic": f"{live_server.url}/api/telemetry/elastic"}
    sensor = Rsyslog(tmp_path, **values, **{"khs_the-source-key": old_key}).start()
    try:
        time.sleep(6)  # read, refused, given back to khien_retry, sent again and refused again every second
    finally:
        sensor.stop()
    # Kept on disk by the retry ruleset's queue when rsyslog stopped (and imfile remembers it read them).
    kept = b"".join(path.read_bytes() for path in sensor.dir.glob("khien_retry.0*"))
    assert all(alert in kept for alert in alerts[:2])
    assert not Event.objects.filter(source=source).exists()
    assert not (sensor.dir / "errors.json").exists()
    # The fix: the right key in the file, rsyslog restarted; Suricata writes on.
    sensor = Rsyslog(tmp_path, **values, **{"khs_the-source-key": key}).start()
    try:
        with eve.open("ab") as f:
            f.write(alerts[2] + b"\n")
        wait_for(lambda: stored(source, 3), "the refused alerts and the one written after the fix")
        time.sleep(3)  # nothing more comes
    finally:
        sensor.stop()
    source.refresh_from_db()
    assert Event.objects.filter(source=source).count() == 3 and source.accepted == 3
    assert not DeadLetter.objects.filter(source=source).exists()
    assert not (sensor.dir / "errors.json").exists()
    assert key not in sensor.log.read_text() and old_key not in sensor.log.read_text()


def test_alerts_refused_while_the_source_was_disabled_are_stored_once_it_is_enabled(live_server, flushable_audit_log,
                                                                                  make_source, world, tmp_path):
    """Fixed while rsyslog runs: the source enabled again on Khiên. The records refused meanwhile (403) are sent
    again by rsyslog itself and stored, once, with what comes next."""
    source, key = make_source(format="suricata")
    services.do_update_source(source, {"enabled": False}, acting_user=world.admin)
    alerts = sample_lines("suricata_eve.ndjson")
    eve = tmp_path / "eve.json"
    eve.write_bytes(alerts[0] + b"\n")
    sensor = Rsyslog(tmp_path, **{
        "/var/log/suricata/eve.json": str(eve),
        "https://khien.example.vn/api/telemetry/elastic": f"{live_server.url}/api/telemetry/elastic",
        "suricata-sensor-01": source.name,
        "khs_the-source-key": key,
    }).start()
    try:
        wait_for(lambda: disabled_refusals(source) >= 2, "the refused record, sent again and refused again")
        assert not Event.objects.filter(source=source).exists()
        services.do_update_source(source, {"enabled": True}, acting_user=world.admin)
        with eve.open("ab") as f:
            f.write(alerts[1] + b"\n")
        wait_for(lambda: stored(source, 2), "the refused alert and the one written once the source was enabled")
        time.sleep(3)
    finally:
        sensor.stop()
    source.refresh_from_db()
    assert Event.objects.filter(source=source).count() == 2 and source.accepted == 2
    assert not (sensor.dir / "errors.json").exists()


def test_batches_an_older_file_wrote_to_the_errorfile_are_sent_again_with_the_script(live_server, flushable_audit_log,
                                                                                  make_source, world, tmp_path):
    """The copy of the file an operator installed before (without `retryfailures`): a refused batch went to the
    errorfile, for ever. khien-replay-errors.sh sends it again once the key is right (the errorfile moved aside
    and rsyslog told to reopen it, HUP): stored once, even when the script is run twice."""
    source, old_key = make_source(format="suricata")
    key = services.do_rotate_source_key(source, acting_user=world.coordinator)
    alerts = sample_lines("suricata_eve.ndjson")
    eve = tmp_path / "eve.json"
    eve.write_bytes(b"\n".join(alerts[:2]) + b"\n")
    sensor = Rsyslog(tmp_path, **{
        "/var/log/suricata/eve.json": str(eve),
        "https://khien.example.vn/api/telemetry/elastic": f"{live_server.url}/api/telemetry/elastic",
        "suricata-sensor-01": source.name,
        "khs_the-source-key": old_key,
        'retryfailures="on" retryruleset="khien_retry" ratelimit.interval="0"': "",  # the older file
    }).start()
    errors = sensor.dir / "errors.json"
    try:
        wait_for(lambda: len(refused_documents(errors)) == 2, "the refused batch in rsyslog's errorfile")
        assert {(record["reply"]["status"], record["reply"]["error"]["type"])
                for record in errorfile_records(errors)} == {(401, "security_exception")}
        to_replay = errors.with_name("errors.replay.json")
        errors.rename(to_replay)
        os.kill(sensor.process.pid, signal.SIGHUP)  # as `systemctl kill -s HUP rsyslog`
        # What the walkthrough's errorfile holds: a batch refused before Khiên answered as Elasticsearch does
        # (sent again), and a batch whose record Khiên kept as a dead letter (not sent again).
        with to_replay.open("a") as f:
            for document, reply in ((alerts[2], {"detail": "Khóa nguồn cảnh báo không hợp lệ."}),
                                    (alerts[3], {"errors": True, "items": [{"index": {"status": 400, "error": {
                                        "type": "mapper_parsing_exception", "reason": "?"}}}]})):
                postdata = '{"index":{"_index": "khien","_type":"events"}}\n' + document.decode() + "\n"
                f.write(json.dumps({"request": {"url": "?", "postdata": postdata}, "reply": reply}) + "\n")
        sent = replay(tmp_path, to_replay, f"{live_server.url}/api/telemetry/elastic/_bulk", key)
        assert sent.returncode == 0 and "done: " in sent.stdout, sent.stdout + sent.stderr
        wait_for(lambda: stored(source, 3), "the refused alerts, sent again")
        again = replay(tmp_path, to_replay, f"{live_server.url}/api/telemetry/elastic/_bulk", key)  # by mistake
        assert again.returncode == 0, again.stdout + again.stderr
        time.sleep(1)
    finally:
        sensor.stop()
    source.refresh_from_db()
    assert Event.objects.filter(source=source).count() == 3 and source.accepted == 3
    assert not DeadLetter.objects.filter(source=source).exists()
    assert key not in sent.stdout + sent.stderr
