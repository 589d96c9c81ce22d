"""The shipped rsyslog configuration (telemetry/integrations/rsyslog/khien-elastic.conf), run by the real rsyslogd
with its Elasticsearch output (Debian's rsyslog and rsyslog-elasticsearch) against the real platform (live server):
Khiên's Elasticsearch-compatible intake taken by an Elasticsearch client that is not ours.

Skipped when rsyslog's Elasticsearch module is not there, unless KHIEN_REQUIRE_SERVICES=1 (`.ci/run` unpacks Debian's
rsyslog packages into KHIEN_RSYSLOG_DIR: they conflict with syslog-ng's, which other tests run)."""
import os
import subprocess
import time
from pathlib import Path

import pytest

from khien.conftest import require_tool
from khien.telemetry.models import AlertSource, DeadLetter, Event

from .conftest import sample_lines
from .test_syslog_ng import Daemon, stored, wait_for

CONFIG = Path(__file__).resolve().parents[1] / "integrations" / "rsyslog" / "khien-elastic.conf"


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
        # Retry sooner than the shipped 10 s so that the test does not wait; errors in the test's folder.
        installed.write_text(text.replace('action.resumeInterval="10"', 'action.resumeInterval="1"')
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
        "https://khien.example.gov.vn/api/telemetry/elastic": f"{live_server.url}/api/telemetry/elastic",
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
