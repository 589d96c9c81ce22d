"""The `telemetry.retention` job and KHIEN_EVENT_RETENTION_DAYS (SQLite and PostgreSQL)."""
import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from khien.core.models import AuditEntry
from khien.telemetry import services, store
from khien.telemetry.jobs_retention import retention
from khien.telemetry.models import Alert, DeadLetter, Event, HourlyCount, IndicatorHit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_partition_cache():
    store.forget_partitions()
    yield
    store.forget_partitions()


def rec(when, rule="5712"):
    return {"timestamp": when.isoformat(), "rule": {"id": rule, "level": 7}, "data": {"srcip": "45.77.9.9"}}


def test_the_job_is_registered_with_the_worker():
    from khien.core import jobs

    assert "telemetry.retention" in jobs.discover()


def test_retention_deletes_what_is_older_and_keeps_counts(make_source, settings):
    settings.KHIEN_EVENT_RETENTION_DAYS = 7
    source, _ = make_source(format="wazuh")
    now = timezone.now()
    services.ingest_batch(source, [rec(now - dt.timedelta(days=8)), rec(now - dt.timedelta(days=30), rule="x"),
                                   rec(now - dt.timedelta(days=6), rule="kept"), "not json"])
    counted = sum(HourlyCount.objects.values_list("count", flat=True))
    for event in Event.objects.all():  # a hit on each event (as matching records them)
        IndicatorHit.objects.create(event_id=event.id, alert_id=event.alert_id, organization_id=event.organization_id,
                                    source=source, indicator_pk=1, indicator_id="indicator--x", kind="ipv4",
                                    value="203.0.113.9", field="src_ip", time=event.time)
    summary = retention(now)
    assert "deleted events 2 alerts 2 hits 2 dead letters 0" in summary
    assert list(IndicatorHit.objects.values_list("event_id", flat=True)) == list(Event.objects.values_list("id", flat=True))
    assert list(Event.objects.values_list("rule_id", flat=True)) == ["kept"]
    assert list(Alert.objects.values_list("rule_id", flat=True)) == ["kept"]
    assert DeadLetter.objects.count() == 1  # received now: kept
    assert sum(HourlyCount.objects.values_list("count", flat=True)) == counted
    entry = AuditEntry.objects.get(object_type="telemetry.retention")
    assert entry.actor_id == "" and entry.after["events"] == 2
    # Idempotent: a second run finds nothing and writes no audit entry.
    again = retention(now)
    assert again is None or "deleted" not in again
    assert AuditEntry.objects.filter(object_type="telemetry.retention").count() == 1


def test_zero_keeps_everything(make_source, settings):
    settings.KHIEN_EVENT_RETENTION_DAYS = 0
    source, _ = make_source(format="wazuh")
    now = timezone.now()
    services.ingest_batch(source, [rec(now - dt.timedelta(days=4000))])
    retention(now)
    assert Event.objects.count() == 1
    assert not AuditEntry.objects.filter(object_type="telemetry.retention").exists()


def test_prune_command_defaults_to_the_retention_setting(make_source, settings, capsys):
    settings.KHIEN_EVENT_RETENTION_DAYS = 10
    source, _ = make_source(format="wazuh")
    now = timezone.now()
    services.ingest_batch(source, [rec(now - dt.timedelta(days=11)), rec(now - dt.timedelta(days=9), rule="kept")])
    call_command("telemetry", "prune")
    assert capsys.readouterr().out.startswith("deleted events 1 ")
    assert list(Event.objects.values_list("rule_id", flat=True)) == ["kept"]
