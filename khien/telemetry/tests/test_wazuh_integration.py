"""The shipped Wazuh manager integration (telemetry/integrations/wazuh/custom-khien), run as Wazuh runs it: a separate Python
process given the alert file, the source key and the intake URL, against the real platform (live server)."""
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from khien.telemetry.models import Event

from .conftest import sample_lines

SCRIPT = Path(__file__).resolve().parents[1] / "integrations" / "wazuh" / "custom-khien"


def run(tmp_path, alert, key, url, **env):
    alert_file = tmp_path / "alert.json"
    alert_file.write_text(alert if isinstance(alert, str) else json.dumps(alert))
    log = tmp_path / "integrations.log"
    proc = subprocess.run([sys.executable, str(SCRIPT), str(alert_file), key, url], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "KHIEN_INTEGRATION_LOG": str(log), **env})
    return proc.returncode, log.read_text() if log.exists() else ""


@pytest.fixture
def alert():
    return json.loads(sample_lines("wazuh_alerts.ndjson")[0])


def test_the_manager_integration_delivers_an_alert_once(live_server, flushable_audit_log, make_source, tmp_path, alert):
    source, key = make_source(format="wazuh")
    url = f"{live_server.url}/api/telemetry/alerts"
    assert run(tmp_path, alert, key, url) == (0, "")
    assert run(tmp_path, alert, key, url) == (0, "")  # Wazuh ran it again: recognised, not stored twice
    event = Event.objects.get()
    assert event.source == source and event.rule_id == alert["rule"]["id"]
    source.refresh_from_db()
    assert source.accepted == 1


def test_a_refusal_is_logged_with_khiens_reason_and_not_retried(live_server, flushable_audit_log, make_source,
                                                                tmp_path, alert):
    _source, key = make_source(format="wazuh")
    url = f"{live_server.url}/api/telemetry/alerts"
    code, log = run(tmp_path, alert, "khs_not-the-key", url, KHIEN_RETRY_SECONDS="30")  # a retry would time out
    assert code == 2 and "HTTP 401" in log and "khs_not-the-key" not in log
    assert Event.objects.count() == 0
    code, log = run(tmp_path, "{not json", key, url)
    assert code == 2 and "cannot read the alert file" in log
    assert Event.objects.count() == 0


def test_a_rejected_alert_is_logged_with_khiens_reason(live_server, flushable_audit_log, make_source, tmp_path,
                                                      alert):
    """Khiên takes the request (202) but cannot read the alert: the log says why, as the answer gives it."""
    _source, key = make_source(format="wazuh")
    url = f"{live_server.url}/api/telemetry/alerts"
    alert["timestamp"] = "1970-01-01T00:00:00.000+0000"  # a manager whose clock was never set
    code, log = run(tmp_path, alert, key, url)
    assert code == 0  # not sent again: the same alert would be refused the same way
    assert f"alert {alert['id']} was rejected by Khiên (1 record" in log
    assert "2000-01-01" in log and key not in log
    assert Event.objects.count() == 0


class FlakyPlatform(BaseHTTPRequestHandler):
    """Answers 503 (and 429 with Retry-After) a given number of times, then 202: a platform restarting or busy."""

    failures = 0
    seen: list = []

    def do_POST(self):  # noqa: N802 - the handler's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((self.headers["Authorization"], json.loads(body)))
        if len(type(self).seen) <= type(self).failures:
            self.send_response(429 if len(type(self).seen) == 1 else 503)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"accepted": 1, "duplicates": 0, "rejected": 0}')

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky():
    FlakyPlatform.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyPlatform)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()


def test_busy_or_unavailable_platform_is_retried_then_given_up_on(flaky, tmp_path, alert):
    url = f"http://127.0.0.1:{flaky.server_address[1]}/api/telemetry/alerts"
    FlakyPlatform.failures = 2
    assert run(tmp_path, alert, "khs_key", url, KHIEN_RETRY_SECONDS="0.01") == (0, "")
    assert len(FlakyPlatform.seen) == 3 and all(sent == ("Token khs_key", [alert]) for sent in FlakyPlatform.seen)
    FlakyPlatform.seen, FlakyPlatform.failures = [], 99
    code, log = run(tmp_path, alert, "khs_key", url, KHIEN_RETRY_SECONDS="0.01", KHIEN_RETRIES="3")
    assert code == 1 and len(FlakyPlatform.seen) == 3 and "not sent after 3 attempts (HTTP 503)" in log


@pytest.mark.parametrize("name", ["wazuh/custom-khien", "syslog-ng/suricata-eve.conf", "syslog-ng/wazuh-alerts.conf",
                                  "syslog-ng/cef-relay.conf"])
def test_the_connectors_are_downloaded_from_the_platform_by_signed_in_users(world, as_user, name):
    """Offline networks: SOC operators take the connectors from Khiên's Sources page, not from the Internet."""
    from django.test import Client
    from django.urls import reverse

    url = reverse("telemetry:integration", args=[name])
    assert url in as_user(world.analyst).get(reverse("telemetry:sources")).content.decode()
    response = as_user(world.analyst).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{name.split("/")[-1]}"'
    assert b"".join(response.streaming_content) == (SCRIPT.parents[1] / name).read_bytes()
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]


@pytest.mark.parametrize("name", ["wazuh/../../models.py", "syslog-ng/../../views.py", "syslog-ng/other.conf",
                                  "../settings.py"])
def test_nothing_else_is_served_as_a_connector(world, as_user, name):
    from django.urls import reverse

    assert as_user(world.analyst).get(reverse("telemetry:integration", args=[name])).status_code == 404


class RejectingPlatform(BaseHTTPRequestHandler):
    """Takes the request (202) but names five records it could not read."""

    def do_POST(self):  # noqa: N802 - the handler's name
        self.rfile.read(int(self.headers["Content-Length"]))
        answer = {"accepted": 0, "duplicates": 0, "rejected": 5, "rejected_records": [
            {"position": n, "reason": f"reason {n}", "reason_text": f"lý do {n}"} for n in range(1, 6)]}
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(answer).encode())

    def log_message(self, *args):
        pass


def test_a_few_of_many_rejections_are_logged_with_their_count(tmp_path, alert):
    server = ThreadingHTTPServer(("127.0.0.1", 0), RejectingPlatform)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/telemetry/alerts"
        code, log = run(tmp_path, alert, "khs_key", url)
    finally:
        server.shutdown()
    assert code == 0 and log.count("\n") == 1
    assert "was rejected by Khiên (5 records; see the source's dead letters): lý do 1; lý do 2; lý do 3 " \
           "(and 2 more)" in log
