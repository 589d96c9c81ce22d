"""The shipped rsyslog file for a Wazuh manager (integrations/rsyslog/khien-elastic-wazuh.conf), run by the real
rsyslogd (test_rsyslog.py's harness): with only its CHANGE values set, every alert of alerts.json reaches Khiên.
The Suricata file keeps only eve.json's alerts: followed literally on a Wazuh manager it sent nothing."""
import time
from pathlib import Path

import pytest

from khien.telemetry.models import DeadLetter, Event

from . import test_rsyslog
from .conftest import sample_lines
from .test_rsyslog import Rsyslog
from .test_syslog_ng import stored, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("_needs_rsyslog")]
_needs_rsyslog = test_rsyslog._needs_rsyslog

INTEGRATIONS = Path(__file__).resolve().parents[1] / "integrations" / "rsyslog"


def test_a_wazuh_manager_sends_its_alerts_with_the_shipped_rsyslog_file(live_server, flushable_audit_log,
                                                                       make_source, tmp_path, monkeypatch):
    monkeypatch.setattr(test_rsyslog, "CONFIG", INTEGRATIONS / "khien-elastic-wazuh.conf")
    source, key = make_source(format="wazuh")
    alerts = sample_lines("wazuh_alerts.ndjson")
    log = tmp_path / "alerts.json"
    log.write_bytes(b"\n".join(alerts[:2]) + b"\n")
    manager = Rsyslog(tmp_path, **{
        "/var/ossec/logs/alerts/alerts.json": str(log),
        "https://khien.example.gov.vn/api/telemetry/elastic": f"{live_server.url}/api/telemetry/elastic",
        "wazuh-manager-01": source.name,
        "khs_the-source-key": key,
    }).start()
    try:
        wait_for(lambda: stored(source, 2), "the first two alerts")
        with log.open("ab") as f:  # Wazuh writes on
            f.write(alerts[2] + b"\n")
        wait_for(lambda: stored(source, 3), "the alert written later")
        time.sleep(1)
    finally:
        manager.stop()
    source.refresh_from_db()
    assert (source.accepted, source.rejected) == (3, 0)
    assert Event.objects.filter(source=source).count() == 3
    assert not DeadLetter.objects.filter(source=source).exists()
    assert key not in manager.log.read_text()


def test_the_rsyslog_files_say_which_tool_they_are_for_in_both_languages():
    suricata = (INTEGRATIONS / "khien-elastic.conf").read_text()
    wazuh = (INTEGRATIONS / "khien-elastic-wazuh.conf").read_text()
    assert "event_type" not in wazuh.split("ruleset(", 1)[1]  # no Suricata filter: every Wazuh line is an alert
    assert "khien-elastic-wazuh.conf" in suricata and "khien-elastic.conf" in wazuh
    for text in (suricata, wazuh):
        assert "Cài đặt" in text and "khóa nguồn" in text
