"""PostgreSQL: the events table is partitioned by day; partitions are made on demand; idempotency holds."""
import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from khien.telemetry import services, store
from khien.telemetry.jobs_retention import retention
from khien.telemetry.models import Event, HourlyCount

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def fresh_partition_cache():
    store.forget_partitions()  # partitions made by an earlier test were rolled back with it
    yield
    store.forget_partitions()


def rec(when: dt.datetime, rule="5712", ip="45.77.8.8"):
    return {"timestamp": when.isoformat(), "rule": {"id": rule, "level": 10}, "data": {"srcip": ip}}


def rows_in(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        return cursor.fetchone()[0]


def test_the_events_table_is_partitioned_with_a_composite_key():
    assert store.is_partitioned()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE conrelid = 'telemetry_event'::regclass AND contype = 'p'")
        assert cursor.fetchone()[0] == 'PRIMARY KEY (id, "time")'
    assert store.DEFAULT_PARTITION not in store.event_partitions().values()
    assert rows_in(store.DEFAULT_PARTITION) == 0


def test_partitions_exist_after_ingesting_days_apart(make_source):
    source, _ = make_source(format="wazuh")
    first = dt.datetime(2026, 11, 3, 23, 59, 59, tzinfo=dt.timezone.utc)
    later = dt.datetime(2026, 11, 9, 0, 0, 0, tzinfo=dt.timezone.utc)
    result = services.ingest_batch(source, [rec(first), rec(first, rule="5710"), rec(later)])
    assert result.accepted == 3
    partitions = store.event_partitions()
    assert {dt.date(2026, 11, 3), dt.date(2026, 11, 9)} <= set(partitions)
    assert dt.date(2026, 11, 5) not in partitions  # no empty partitions for days without events
    assert rows_in(partitions[dt.date(2026, 11, 3)]) == 2
    assert rows_in(partitions[dt.date(2026, 11, 9)]) == 1
    assert rows_in(store.DEFAULT_PARTITION) == 0
    # A timestamp in another zone lands in the partition of its UTC day.
    services.ingest_batch(source, ["{\"timestamp\": \"2026-11-10T06:00:00+07:00\", \"rule\": {\"id\": \"1\"}}"])
    assert rows_in(store.event_partitions()[dt.date(2026, 11, 9)]) == 2


def test_idempotency_holds_across_partitions(make_source):
    source, _ = make_source(format="wazuh")
    days = [dt.datetime(2026, 10, d, 12, tzinfo=dt.timezone.utc) for d in (1, 2, 3)]
    batch = [rec(day, rule=str(n)) for n, day in enumerate(days)]
    assert services.ingest_batch(source, batch).accepted == 3
    again = services.ingest_batch(source, batch + [rec(days[0], rule="new")])
    assert (again.accepted, again.duplicates) == (1, 3)
    assert Event.objects.count() == 4
    # The database itself drops a duplicate that gets past the check (ON CONFLICT on (id, time)).
    event = Event.objects.filter(rule_id="0").values(*services.EVENT_COLUMNS).get()
    assert store.copy_rows(Event, services.EVENT_COLUMNS, [[event[c] for c in services.EVENT_COLUMNS]]) == 0
    assert Event.objects.count() == 4


def test_a_day_already_in_the_default_partition_stays_there_and_is_still_deduplicated(make_source):
    source, _ = make_source(format="wazuh")
    day = dt.datetime(2026, 9, 1, 8, tzinfo=dt.timezone.utc)
    store._known_partitions.add(day.date())  # as if this process believed the partition existed
    services.ingest_batch(source, [rec(day)])
    assert rows_in(store.DEFAULT_PARTITION) == 1
    store.forget_partitions()
    # Now the partition cannot be made (its rows are in the default one): ingestion goes on regardless.
    result = services.ingest_batch(source, [rec(day), rec(day, rule="other")])
    assert (result.accepted, result.duplicates) == (1, 1)
    assert dt.date(2026, 9, 1) not in store.event_partitions()
    assert rows_in(store.DEFAULT_PARTITION) == 2


def test_retention_drops_old_partitions_and_keeps_the_rest(make_source, settings):
    settings.KHIEN_EVENT_RETENTION_DAYS = 30
    source, _ = make_source(format="wazuh")
    now = timezone.now()
    old, older, recent = now - dt.timedelta(days=45), now - dt.timedelta(days=60), now - dt.timedelta(days=2)
    services.ingest_batch(source, [rec(old), rec(old, rule="b"), rec(older), rec(recent)])
    old_names = {store.partition_name(old.date()), store.partition_name(older.date())}
    assert old_names <= set(store.event_partitions().values())
    hourly_before = sum(HourlyCount.objects.values_list("count", flat=True))

    summary = retention(now)

    partitions = store.event_partitions()
    assert not old_names & set(partitions.values())
    assert recent.astimezone(dt.timezone.utc).date() in partitions
    assert now.date() + dt.timedelta(days=2) in partitions  # made ahead for the coming days
    assert list(Event.objects.values_list("time", flat=True)) == [recent]
    assert sum(HourlyCount.objects.values_list("count", flat=True)) == hourly_before  # counts are kept
    assert "deleted events 3" in summary and "dropped partitions 2" in summary
    from khien.core.models import AuditEntry

    entry = AuditEntry.objects.get(object_type="telemetry.retention")
    assert entry.after["events"] == 3 and sorted(entry.after["partitions"]) == sorted(old_names)
    assert retention(now) is None or "deleted" not in retention(now)  # nothing more to delete
    assert AuditEntry.objects.filter(object_type="telemetry.retention").count() == 1
