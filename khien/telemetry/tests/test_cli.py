"""`khien ingest` and `khien telemetry sources|add-source`."""
import io

import orjson
import pytest
from django.core.management import CommandError, call_command

from khien.telemetry.models import AlertSource, DeadLetter, Event

from .conftest import SAMPLES

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_sources_one_a_line(make_source, world):
    make_source(org=world.ministry, format="wazuh", name="wazuh-min")
    make_source(org=world.province, format="cef", name="arcsight-prov")
    out, _err = run("telemetry", "sources")
    # Name, format, organization, then the status (`health.source_status`): neither has sent anything yet.
    # A header line first; then the last event (none) and the running totals.
    header, *lines = out.splitlines()
    assert header.split("\t") == ["name", "format", "organization", "status", "last_event", "accepted", "rejected"]
    assert lines == ["arcsight-prov\tcef\tPROV\tnever\t-\t0\t0", "wazuh-min\twazuh\tMIN\tnever\t-\t0\t0"]


def test_add_source_prints_the_key_once(world):
    out, _err = run("telemetry", "add-source", "suricata-min", "--format", "suricata", "--organization", "MIN")
    key = out.strip()
    source = AlertSource.objects.get()
    assert key.startswith("khs_") and source.name == "suricata-min" and source.organization == world.ministry
    with pytest.raises(CommandError):
        run("telemetry", "add-source", "suricata-min", "--format", "cef", "--organization", "MIN")
    with pytest.raises(CommandError):
        run("telemetry", "add-source", "x", "--format", "cef", "--organization", "NOPE")
    assert AlertSource.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # `khien ingest` writes from a second thread
def test_ingest_file_in_batches_with_progress(make_source, tmp_path):
    source, _ = make_source(format="cef", name="fw-min")
    path = tmp_path / "replay.log"
    path.write_bytes((SAMPLES / "cef_alerts.log").read_bytes() + (SAMPLES / "cef_broken.log").read_bytes() + b"\n\n")
    out, err = run("ingest", str(path), "--source", "fw-min", "--batch", "2")
    assert out.strip() == "accepted 3 duplicates 0 rejected 6"
    assert "records" in err and "accepted 3" in err
    # Not a terminal (a log file): one line per batch, no carriage returns running them together; then the
    # rejected records are named (test_ingest_outcomes.py).
    progress = [line for line in err.strip().splitlines() if " records  accepted " in line]
    assert "\r" not in err and len(progress) == 5 and progress[-1].startswith("9 records")
    out, _err = run("ingest", str(path), "--source", "fw-min", "--quiet")
    assert out.strip() == "accepted 0 duplicates 3 rejected 6"  # the bad records are rejected again, kept once
    assert Event.objects.count() == 3 and DeadLetter.objects.count() == 6


@pytest.mark.django_db(transaction=True)  # `khien ingest` writes from a second thread
def test_ingest_json_array_file(make_source, tmp_path):
    make_source(format="ecs", name="siem-min")
    path = tmp_path / "alerts.json"
    lines = (SAMPLES / "ecs_alerts.ndjson").read_bytes().strip().splitlines()
    path.write_bytes(b"[" + b",".join(lines) + b"]")
    out, _err = run("ingest", str(path), "--source", "siem-min", "--quiet")
    assert out.strip() == "accepted 3 duplicates 0 rejected 0"
    # Saved by a Windows tool: a byte order mark, then the array written over many lines (was read as lines).
    path.write_bytes(b"\xef\xbb\xbf" + orjson.dumps([orjson.loads(line) for line in lines], option=orjson.OPT_INDENT_2))
    out, _err = run("ingest", str(path), "--source", "siem-min", "--quiet")
    assert out.strip() == "accepted 0 duplicates 3 rejected 0"


@pytest.mark.django_db(transaction=True)  # `khien ingest` writes from a second thread
def test_ingest_refusals(make_source, tmp_path, settings):
    settings.LANGUAGE_CODE = "en"  # the command's refusals are in the platform's language: read in English here
    make_source(format="ecs", name="siem-min")
    with pytest.raises(CommandError, match="No alert source"):
        run("ingest", str(SAMPLES / "ecs_alerts.ndjson"), "--source", "nope")
    with pytest.raises(CommandError, match="Cannot read"):
        run("ingest", str(tmp_path / "missing.ndjson"), "--source", "siem-min")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'[{"@timestamp": ')
    with pytest.raises(CommandError):
        run("ingest", str(bad), "--source", "siem-min")
    assert Event.objects.count() == 0


def test_prune_keeps_recent_telemetry_and_is_audited(make_source, world):
    import datetime as dt

    from django.utils import timezone

    from khien.core.errors import Forbidden
    from khien.core.models import AuditEntry
    from khien.telemetry import services
    from khien.telemetry.models import Alert, HourlyCount

    source, _ = make_source(format="wazuh")
    now = timezone.now()

    def rec(when, rule):
        return {"timestamp": when.isoformat(), "rule": {"id": rule, "level": 5}, "data": {"srcip": "192.0.2.1"}}

    services.ingest_batch(source, [rec(now - dt.timedelta(days=40), "old"), rec(now - dt.timedelta(days=1), "new"),
                                   "not json"])
    with pytest.raises(Forbidden):
        services.do_prune(now, acting_user=world.admin)
    assert Event.objects.count() == 2
    out, _err = run("telemetry", "prune", "--days", "30")
    # (PostgreSQL adds " partitions 1": the old day's partition is dropped whole.)
    assert out.strip().startswith("deleted events 1 alerts 1 hits 0 dead letters 0 hourly 0")
    assert list(Event.objects.values_list("rule_id", flat=True)) == ["new"]
    assert list(Alert.objects.values_list("rule_id", flat=True)) == ["new"]
    assert HourlyCount.objects.count() == 2 and DeadLetter.objects.count() == 1
    entry = AuditEntry.objects.filter(object_type="telemetry.retention").get()
    assert entry.after["events"] == 1 and entry.action == "delete"
    with pytest.raises(CommandError):
        run("telemetry", "prune", "--days", "0")


@pytest.mark.django_db(transaction=True)  # `khien ingest` writes from a second thread
def test_file_replay_batches_may_exceed_the_http_limit_up_to_their_own(make_source, tmp_path, settings):
    """`khien ingest` batches (one transaction each) are bounded by KHIEN_INGEST_FILE_MAX_BATCH, not by
    the HTTP limit; a larger --batch is cut to that bound."""
    settings.KHIEN_INGEST_MAX_BATCH = 1
    settings.KHIEN_INGEST_FILE_MAX_BATCH = 2
    make_source(format="cef", name="fw-min")
    path = tmp_path / "replay.log"
    path.write_bytes((SAMPLES / "cef_alerts.log").read_bytes())
    out, err = run("ingest", str(path), "--source", "fw-min", "--batch", "50")
    assert out.strip() == "accepted 3 duplicates 0 rejected 0" and Event.objects.count() == 3
    # Progress after each batch: two records, then three (not one at a time, not all three at once).
    assert [line.split()[0] for line in err.strip().splitlines() if line] == ["2", "3"]
