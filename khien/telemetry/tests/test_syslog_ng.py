"""The shipped syslog-ng configurations (telemetry/integrations/syslog-ng/), run by the real syslog-ng (Debian's
syslog-ng-core and syslog-ng-mod-http) against the real platform (live server), as an operator installs them:
the file copied with its @define values set, included from syslog-ng's main configuration.

Skipped when syslog-ng is not installed, unless KHIEN_REQUIRE_SERVICES=1 (CI installs it)."""
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from khien.conftest import require_tool
from khien.telemetry.models import AlertSource, DeadLetter, Event

from .conftest import sample_lines

CONFIGS = Path(__file__).resolve().parents[1] / "integrations" / "syslog-ng"
SYSLOG_NG = shutil.which("syslog-ng") or "/usr/sbin/syslog-ng"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _needs_syslog_ng():
    require_tool(Path(SYSLOG_NG).exists() and bool(list(Path("/usr/lib/syslog-ng").glob("*/libhttp.so"))),
                 "syslog-ng with its http module", "apt install syslog-ng-core syslog-ng-mod-http")


class Daemon:
    """A forwarder's process started by a test (`start` is the forwarder's own), stopped as a service would be."""

    process = None

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None


class SyslogNg(Daemon):
    """One syslog-ng process running a shipped file, its @define values set as the operator would."""

    def __init__(self, tmp_path: Path, name: str, **values):
        self.dir = tmp_path / "syslog-ng"
        self.dir.mkdir(exist_ok=True)
        text = (CONFIGS / name).read_text()
        for key, value in values.items():
            text, found = re.subn(rf'^@define {key} ".*"$', f'@define {key} "{value}"', text, flags=re.M)
            assert found == 1, f"{name} has no @define {key}"
        # Retry sooner than the shipped 10 s, so that the test does not wait: the only other change to the file.
        installed = self.dir / f"khien-{name}"
        installed.write_text(text.replace("time-reopen(10)", "time-reopen(1)"))
        self.main = self.dir / "syslog-ng.conf"
        self.main.write_text(f'@version: 3.35\n@include "{installed}"\n')
        self.log = self.dir / "syslog-ng.log"
        self.process = None

    def start(self):
        control = self.dir / "syslog-ng.ctl"
        self.process = subprocess.Popen(
            [SYSLOG_NG, "-F", "-e", "-f", str(self.main), f"--persist-file={self.dir / 'syslog-ng.persist'}",
             f"--pidfile={self.dir / 'syslog-ng.pid'}", f"--control={control}"],
            stdout=subprocess.DEVNULL, stderr=self.log.open("ab"))
        deadline = time.monotonic() + 20
        while not control.exists():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, f"syslog-ng did not start: {self.log.read_text()}"
            time.sleep(0.1)
        return self


@pytest.fixture
def syslog_ng(tmp_path):
    started = []

    def run(name, **values):
        process = SyslogNg(tmp_path, name, **values).start()
        started.append(process)
        return process

    yield run
    for process in started:
        process.stop()


def wait_for(condition, what, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def events_of(source):
    return Event.objects.filter(source=source)


def stored(source, n: int) -> bool:
    """`n` events stored and counted. On SQLite the live server shares the test's connection, so its rows are
    seen before its request has finished; the source's counter is the request's last write."""
    return events_of(source).count() == n and AlertSource.objects.get(pk=source.pk).accepted >= n


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_suricata_sensor_sends_only_its_alerts_and_nothing_twice_across_a_restart(
        live_server, flushable_audit_log, make_source, syslog_ng, tmp_path):
    source, key = make_source(format="suricata")
    alerts = sample_lines("suricata_eve.ndjson")
    other = [b'{"timestamp":"2026-11-24T14:12:04.000000+0000","event_type":"dns","src_ip":"10.30.4.21",'
             b'"dns":{"type":"query","rrname":"example.vn"}}',
             b'{"timestamp":"2026-11-24T14:12:05.000000+0000","event_type":"flow","src_ip":"10.30.4.21"}']
    eve = tmp_path / "eve.json"
    eve.write_bytes(b"\n".join([alerts[0], *other, *alerts[1:3]]) + b"\n")
    url = f"{live_server.url}/api/telemetry/alerts"
    sensor = syslog_ng("suricata-eve.conf", khien_url=url, khien_key=key, khien_eve_file=eve)
    wait_for(lambda: stored(source, 3), "the first three alerts")
    with eve.open("ab") as f:  # Suricata writes on
        f.write(alerts[3] + b"\n" + other[0] + b"\n")
    wait_for(lambda: events_of(source).count() == 4, "the alert written later")
    sensor.stop()
    events_of(source).delete()  # what syslog-ng would send again after its restart would show up here
    sensor.start()  # restarted: goes on from where it was
    later = alerts[0].replace(b"14:12:03.551734", b"14:20:00.000001")
    with eve.open("ab") as f:
        f.write(other[1] + b"\n" + later + b"\n")
    wait_for(lambda: events_of(source).exists(), "the alert written after the restart")
    time.sleep(2)
    assert [e.time.isoformat() for e in events_of(source)] == ["2026-11-24T14:20:00.000001+00:00"]
    source.refresh_from_db()
    assert (source.accepted, source.rejected) == (5, 0)  # the other event types were never sent
    assert not DeadLetter.objects.filter(source=source).exists()
    assert "khs_" not in sensor.log.read_text()  # the key is never written to syslog-ng's log


def test_wazuh_manager_ships_alerts_json_in_batches(live_server, flushable_audit_log, make_source, syslog_ng,
                                                     tmp_path):
    source, key = make_source(format="wazuh")
    alerts_file = tmp_path / "alerts.json"
    alerts_file.write_bytes(b"\n".join(sample_lines("wazuh_alerts.ndjson")) + b"\n")
    syslog_ng("wazuh-alerts.conf", khien_url=f"{live_server.url}/api/telemetry/alerts", khien_key=key,
              khien_alerts_file=alerts_file)
    wait_for(lambda: stored(source, 4), "the manager's four alerts")
    source.refresh_from_db()
    assert (source.accepted, source.rejected) == (4, 0)


def test_cef_relay_forwards_cef_from_syslog_with_the_relays_time_when_the_record_has_none(
        live_server, flushable_audit_log, make_source, syslog_ng, tmp_path):
    """A FortiGate (UDP) and a SIEM (TCP) send syslog to the relay; plain syslog noise is not forwarded."""
    source, key = make_source(format="cef")
    port = free_port()
    syslog_ng("cef-relay.conf", khien_url=f"{live_server.url}/api/telemetry/alerts", khien_key=key,
              khien_syslog_port=port, khien_buffer_dir=tmp_path)
    with_rt, trend, siem = [line.decode() for line in sample_lines("cef_alerts.log")]
    without_time = ("<134>Dec  4 21:40:01 fw-02.evn.demo CEF:0|Fortinet|FortiGate-600E|7.2.5|0419016385|"
                    "IPS: SMB brute force|7|src=203.0.113.91 dst=10.50.1.21 dpt=445 cat=intrusion_detection")
    noise = "<30>Dec  4 21:40:02 fw-02.evn.demo sshd[812]: Accepted publickey for admin"
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for line in (with_rt, noise, without_time):
        udp.sendto(line.encode(), ("127.0.0.1", port))
    udp.close()
    with socket.create_connection(("127.0.0.1", port)) as tcp:
        tcp.sendall(f"{trend}\n{siem}\n{noise}\n".encode())
    sent_at = time.time()
    wait_for(lambda: stored(source, 4), "four CEF records")
    source.refresh_from_db()
    assert (source.accepted, source.rejected) == (4, 0)
    by_rule = {e.rule_id: e for e in events_of(source)}
    assert by_rule["0419016384"].time.isoformat() == "2026-11-24T14:40:01+00:00"  # its own rt
    # No time of its own: the relay's arrival time (with its zone), not the device's zone-less header.
    assert abs(by_rule["0419016385"].time.timestamp() - sent_at) < 30
    assert by_rule["0419016385"].dst_port == 445 and by_rule["corr-77"].domain == "update.bad.example"


def test_cef_relay_keeps_what_the_platform_cannot_take_yet(live_server, flushable_audit_log, make_source,
                                                            syslog_ng, tmp_path, settings):
    """Busy platform (429): the relay waits and sends again; nothing is dropped."""
    source, key = make_source(format="cef")
    settings.KHIEN_INGEST_MAX_INFLIGHT = 0  # every batch is answered 429 Retry-After
    port = free_port()
    relay = syslog_ng("cef-relay.conf", khien_url=f"{live_server.url}/api/telemetry/alerts", khien_key=key,
                      khien_syslog_port=port, khien_buffer_dir=tmp_path)
    with socket.create_connection(("127.0.0.1", port)) as tcp:
        tcp.sendall(b"".join(line + b"\n" for line in sample_lines("cef_alerts.log")))
    wait_for(lambda: "status_code='429'" in relay.log.read_text(), "a 429 from the busy platform")
    assert not events_of(source).exists()
    settings.KHIEN_INGEST_MAX_INFLIGHT = 4  # the platform has room again
    wait_for(lambda: stored(source, 3), "the records kept by the relay")
    assert AlertSource.objects.get(pk=source.pk).accepted == 3


def test_cef_relay_with_a_wrong_key_keeps_the_records_until_the_key_is_fixed(live_server, flushable_audit_log,
                                                                              make_source, syslog_ng, tmp_path):
    """The operator's usual mistake: the records wait in the relay's disk buffer (refused with 401, never
    dropped), and arrive once the key is corrected and syslog-ng restarted."""
    source, key = make_source(format="cef")
    port = free_port()
    url = f"{live_server.url}/api/telemetry/alerts"
    relay = syslog_ng("cef-relay.conf", khien_url=url, khien_key="khs_a-mistyped-key", khien_syslog_port=port,
                      khien_buffer_dir=tmp_path)
    with socket.create_connection(("127.0.0.1", port)) as tcp:
        tcp.sendall(b"".join(line + b"\n" for line in sample_lines("cef_alerts.log")))
    wait_for(lambda: "status_code='401'" in relay.log.read_text(), "the platform's refusal of the wrong key")
    relay.stop()
    assert not events_of(source).exists()
    syslog_ng("cef-relay.conf", khien_url=url, khien_key=key, khien_syslog_port=port, khien_buffer_dir=tmp_path)
    wait_for(lambda: stored(source, 3), "the records kept on disk by the relay")
    assert "khs_a-mistyped-key" not in relay.log.read_text()


def test_suricata_sensor_sends_an_alert_written_with_spaces_after_the_colons(
        live_server, flushable_audit_log, make_source, syslog_ng, tmp_path):
    """Suricata writes compact JSON (`"event_type":"alert"`), but a record rewritten by a tool that puts a space
    after each colon is an alert all the same: sent, not silently left behind; other types stay out."""
    import orjson

    source, key = make_source(format="suricata")
    alert = orjson.loads(sample_lines("suricata_eve.ndjson")[0])
    spaced = orjson.dumps(alert).decode().replace('":', '": ').encode()
    assert b'"event_type": "alert"' in spaced
    dns = b'{"timestamp": "2026-11-24T14:12:04.000000+0000", "event_type": "dns", "src_ip": "10.30.4.21"}'
    eve = tmp_path / "eve.json"
    eve.write_bytes(dns + b"\n" + spaced + b"\n")
    url = f"{live_server.url}/api/telemetry/alerts"
    syslog_ng("suricata-eve.conf", khien_url=url, khien_key=key, khien_eve_file=eve)
    wait_for(lambda: stored(source, 1), "the alert written with spaces")
    time.sleep(2)
    source.refresh_from_db()
    assert (source.accepted, source.rejected) == (1, 0)  # the dns record was not sent
