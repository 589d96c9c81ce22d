"""ingest_batch: idempotency, dead letters and counters, alert aggregation, batch limits, source rights."""
import datetime as dt
import gc

import orjson
import pytest
from django.core.exceptions import ValidationError

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry
from khien.telemetry import services
from khien.telemetry.models import Alert, AlertSource, DeadLetter, Event

from .conftest import sample_lines

pytestmark = pytest.mark.django_db


def wazuh(rule="5712", srcip="203.0.113.45", at="2026-11-24T14:00:00Z", level=10, **extra):
    record = {"timestamp": at, "rule": {"id": rule, "level": level, "description": f"rule {rule}", "groups": ["sshd"]},
              "agent": {"name": "web-01"}, "data": {"srcip": srcip}}
    record.update(extra)
    return record


def refresh(source):
    return AlertSource.objects.get(pk=source.pk)


def test_the_same_batch_twice_is_stored_once(make_source):
    source, _key = make_source(format="wazuh")
    lines = sample_lines("wazuh_alerts.ndjson")
    first = services.ingest_batch(source, lines)
    assert (first.accepted, first.duplicates, first.rejected) == (4, 0, 0)
    again = services.ingest_batch(source, lines)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 4, 0)
    # Same records re-serialized by another forwarder (other key order, dicts): still the same events.
    as_dicts = [orjson.loads(line) for line in lines]
    reordered = services.ingest_batch(source, [dict(reversed(list(r.items()))) for r in as_dicts])
    assert reordered.accepted == 0 and reordered.duplicates == 4
    assert Event.objects.count() == 4
    assert refresh(source).accepted == 4


def test_duplicates_inside_one_batch(make_source):
    source, _key = make_source(format="wazuh")
    result = services.ingest_batch(source, [wazuh(), wazuh(), wazuh(rule="5710")])
    assert (result.accepted, result.duplicates, result.rejected) == (2, 1, 0)


def test_same_content_from_two_sources_is_two_events(make_source):
    a, _ = make_source(format="wazuh")
    b, _ = make_source(format="wazuh")
    services.ingest_batch(a, [wazuh()])
    services.ingest_batch(b, [wazuh()])
    assert Event.objects.count() == 2


def test_event_fields_and_organization_come_from_the_source(make_source, world):
    source, _ = make_source(org=world.department, format="wazuh")
    services.ingest_batch(source, [wazuh(organization="PROV")])  # a claim in the record changes nothing
    event = Event.objects.get()
    assert event.organization == world.department and event.source == source
    assert event.src_ip == "203.0.113.45" and event.severity == 7 and event.rule_id == "5712"
    assert event.raw["organization"] == "PROV"
    # The id: the event's time (ms, hex) then the record's content digest; the same for the same content.
    digest = services.record_id(source, wazuh(organization="PROV"))
    assert (event.id, event.day) == services.stored_event_id(event.time, digest)
    assert event.id[12:] == digest[:52] and int(event.id[:12], 16) == int(event.time.timestamp() * 1000)


def test_malformed_records_become_dead_letters_with_reasons(make_source):
    source, _ = make_source(format="wazuh")
    good = sample_lines("wazuh_alerts.ndjson")[:2]
    bad = sample_lines("wazuh_broken.ndjson")
    result = services.ingest_batch(source, good + bad)
    assert (result.accepted, result.duplicates, result.rejected) == (2, 0, 5)
    letters = list(DeadLetter.objects.order_by("id"))
    assert [d.reason for d in letters][1:] == ["missing rule.id", "invalid IP address in data.srcip: 203.0.113.999",
                                               "missing timestamp", "record is not a JSON object"]
    assert letters[0].reason.startswith("not valid JSON") and letters[0].raw == bad[0].decode()
    assert all(d.organization_id == source.organization_id for d in letters)
    source = refresh(source)
    assert (source.accepted, source.rejected) == (2, 5) and source.last_event_at is not None
    # Sending the same bad records again does not pile up dead letters, but they are rejected again: the
    # sender's answer and the source's counter say so each time.
    again = services.ingest_batch(source, bad)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 0, 5)
    assert DeadLetter.objects.count() == 5 and refresh(source).rejected == 10


def test_each_format_end_to_end(make_source):
    for fmt, good, broken in [("suricata", "suricata_eve.ndjson", "suricata_broken.ndjson"),
                              ("ecs", "ecs_alerts.ndjson", "ecs_broken.ndjson"),
                              ("cef", "cef_alerts.log", "cef_broken.log")]:
        source, _ = make_source(format=fmt)
        good_lines, bad_lines = sample_lines(good), sample_lines(broken)
        result = services.ingest_batch(source, good_lines + bad_lines)
        assert (result.accepted, result.rejected) == (len(good_lines), len(bad_lines)), fmt
        assert Event.objects.filter(source=source).count() == len(good_lines)
    assert Event.objects.filter(source__format="cef", raw__isnull=False).first().raw.count("CEF:0") == 1


def test_alert_aggregation_within_window_and_new_alert_after(make_source, settings):
    settings.KHIEN_ALERT_WINDOW_SECONDS = 3600
    source, _ = make_source(format="wazuh")
    services.ingest_batch(source, [wazuh(at="2026-11-24T14:00:00Z"), wazuh(at="2026-11-24T14:20:00Z", agent={"name": "x"})])
    services.ingest_batch(source, [wazuh(at="2026-11-24T15:10:00Z")])  # 50 min after the last sighting
    alert = Alert.objects.get()
    assert alert.count == 3 and alert.rule_id == "5712"
    assert alert.first_seen == dt.datetime(2026, 11, 24, 14, 0, tzinfo=dt.timezone.utc)
    assert alert.last_seen == dt.datetime(2026, 11, 24, 15, 10, tzinfo=dt.timezone.utc)
    assert alert.observables == {"src_ip": "203.0.113.45"}
    assert set(Event.objects.values_list("alert_id", flat=True)) == {alert.id}
    # Different observables or rule: other alerts.
    services.ingest_batch(source, [wazuh(at="2026-11-24T15:11:00Z", srcip="198.51.100.1"),
                                   wazuh(at="2026-11-24T15:11:00Z", rule="5710")])
    assert Alert.objects.count() == 3
    # After more than the window of silence: a new alert, the old one unchanged.
    services.ingest_batch(source, [wazuh(at="2026-11-24T16:30:00Z")])
    assert sum(a.observables == {"src_ip": "203.0.113.45"} for a in Alert.objects.filter(rule_id="5712")) == 2
    assert Alert.objects.get(pk=alert.pk).count == 3
    # A duplicate does not count again.
    services.ingest_batch(source, [wazuh(at="2026-11-24T14:00:00Z")])
    assert Alert.objects.get(pk=alert.pk).count == 3


def test_oversized_batch_is_refused_and_writes_nothing(make_source, settings):
    settings.KHIEN_INGEST_MAX_BATCH = 3
    source, _ = make_source(format="wazuh")
    with pytest.raises(Refused) as info:
        services.ingest_batch(source, [wazuh(rule=str(i)) for i in range(4)])
    assert info.value.status == 413
    assert Event.objects.count() == 0 and refresh(source).accepted == 0


def test_disabled_source_is_refused(make_source, world):
    source, _ = make_source(format="wazuh")
    services.do_update_source(source, {"enabled": False}, acting_user=world.admin)
    with pytest.raises(Forbidden):
        services.ingest_batch(refresh(source), [wazuh()])
    assert Event.objects.count() == 0


def test_source_registration_rights_and_audit(world):
    source, key = services.do_create_source(world.department, "wazuh-min-d1", "wazuh", acting_user=world.admin)
    assert key.startswith("khs_") and source.key_hash != key and key not in str(AuditEntry.objects.first().after)
    assert services.source_for_key(key) == source
    assert AuditEntry.objects.filter(object_type__icontains="alertsource", action="create").count() == 1
    for user in (world.other_admin, world.auditor, world.nobody):
        with pytest.raises(Forbidden):
            services.do_create_source(world.ministry, "x-" + user.email[:5], "cef", acting_user=user)
    with pytest.raises(Refused):
        services.do_create_source(world.ministry, "wazuh-min-d1", "cef", acting_user=world.admin)  # name taken
    with pytest.raises(ValidationError):
        services.do_create_source(world.ministry, "bad name!", "cef", acting_user=world.admin)
    with pytest.raises(Refused):
        services.do_create_source(world.ministry, "other", "syslog", acting_user=world.admin)
    assert AlertSource.objects.count() == 1
    new_key = services.do_rotate_source_key(source, acting_user=world.admin)
    assert services.source_for_key(key) is None and services.source_for_key(new_key) == source
    with pytest.raises(Forbidden):
        services.do_update_source(source, {"enabled": False}, acting_user=world.other_admin)
    assert refresh(source).enabled


def test_hourly_counts_follow_new_events_only(make_source, world):
    from khien.telemetry.models import HourlyCount

    a, _ = make_source(org=world.ministry, format="wazuh")
    b, _ = make_source(org=world.department, format="wazuh")
    batch = [wazuh(at="2026-11-24T14:05:00Z"), wazuh(at="2026-11-24T14:59:59Z", rule="1"),
             wazuh(at="2026-11-24T15:00:00Z", level=15)]
    services.ingest_batch(a, batch)
    services.ingest_batch(a, batch)  # duplicates: not counted again
    services.ingest_batch(a, [wazuh(at="2026-11-24T14:30:00Z", rule="2")])
    services.ingest_batch(b, [wazuh(at="2026-11-24T14:30:00Z")])
    rows = {(c.organization.code, c.hour.isoformat(), c.category, c.severity): c.count for c in HourlyCount.objects.all()}
    assert rows == {
        ("MIN", "2026-11-24T14:00:00+00:00", "sshd", 7): 3,
        ("MIN", "2026-11-24T15:00:00+00:00", "sshd", 10): 1,
        ("MIN-D1", "2026-11-24T14:00:00+00:00", "sshd", 7): 1,
    }
    assert HourlyCount.objects.visible_to(world.other_admin).count() == 0
    assert HourlyCount.objects.visible_to(world.dept_analyst).count() == 1


def test_hostile_records_become_dead_letters_never_errors(make_source):
    source, _ = make_source(format="ecs")
    ok = {"@timestamp": "2026-11-24T14:00:00Z", "rule": {"id": "r1"}, "source": {"ip": "fe80::1%eth0"}}
    hostile = [
        {"@timestamp": "2026-11-24T14:00:00Z", "rule": {"id": "nul\x00"}},           # NUL inside a value
        b'{"@timestamp": "2026-11-24T14:00:00Z", "rule": {"id": "a\\u0000"}}',      # escaped NUL
        b'{"@timestamp": "2026-11-24T14:00:00Z", "rule": {"id": "x"}}\x00',         # raw NUL byte
        '{"@timestamp": "2026-11-24T14:00:00Z", "rule": {"id": "\ud800"}}',        # lone surrogate
        b"\xff\xfe\x00garbage",                                                     # not UTF-8
        {"@timestamp": "9999-12-31T23:59:59-01:00", "rule": {"id": "far"}},          # out of range once in UTC
        {"@timestamp": "0001-01-01T00:00:00Z", "rule": {"id": "year-1"}},             # no hour before it to fold
        {"@timestamp": "9999-12-31T23:30:00Z", "rule": {"id": "year-9999"}},          # no hour after it
        {"@timestamp": "2026-11-24T14:00:00Z", "rule": {"id": "inf"}, "event": {"severity": "inf"}},
        {"@timestamp": 10 ** 30, "rule": {"id": "epoch"}},
        {"@timestamp": "2026-11-24T14:00:00Z", "rule": {"id": "big"}, "n": 10 ** 30},  # beyond 64-bit JSON
        42,
        {"@timestamp": "2026-11-24T14:00:00Z", "rule": {"id": "r"}, "dns": {"question": {"name": "a" * 300}}},
    ]
    result = services.ingest_batch(source, [ok] + hostile)
    assert (result.accepted, result.rejected) == (1, len(hostile)), result.reasons
    assert Event.objects.get().src_ip == "fe80::1"
    assert DeadLetter.objects.count() == len(hostile)
    assert all("\x00" not in d.raw for d in DeadLetter.objects.all())


def test_event_ids_grow_with_event_time_and_alert_ids_differ_after_fork(make_source):
    """Ids start with the event time (the primary-key index is written at its right edge); a forked
    worker does not repeat its parent's alert ids."""
    import os

    source, _ = make_source(format="wazuh")
    early, late = wazuh(at="2026-11-20T08:00:00Z"), wazuh(at="2026-11-21T08:00:00Z")
    services.ingest_batch(source, [late, early])
    ids = {e.time.day: e.id for e in Event.objects.all()}
    assert ids[20] < ids[21]
    when = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only reports its id
        os.write(write, services._alert_uuid(when).bytes)
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 16)
    os.close(read), os.close(write)
    assert child != services._alert_uuid(when).bytes


@pytest.mark.django_db(transaction=True)
def test_a_stream_of_batches_is_written_by_a_second_thread_exactly_once(make_source):
    """`khien ingest` replays a file through ingest_stream: parsing overlaps writing (writer thread with its
    own connection), each batch is one transaction, redelivered batches count as duplicates, and a batch
    that is refused stops the stream without undoing the batches written before it."""
    source, _key = make_source(format="wazuh")
    first = [wazuh(srcip=f"203.0.113.{i}") for i in range(1, 40)]
    second = [wazuh(srcip=f"198.51.100.{i}", at="2026-11-24T15:00:00Z") for i in range(1, 30)] + [b"{not json"]
    seen = []
    totals = services.ingest_stream([(source, first), (source, second), (source, first)],
                                    progress=lambda t: seen.append(t.accepted))
    assert totals.as_dict() == {"accepted": 68, "duplicates": 39, "rejected": 1}
    assert seen == [39, 68, 68]  # after each commit, in order
    assert Event.objects.count() == 68 and Alert.objects.count() == 68 and DeadLetter.objects.count() == 1
    assert refresh(source).accepted == 68
    too_many = [wazuh(srcip="192.0.2.1")] * (services.conf.get("KHIEN_INGEST_MAX_BATCH") + 1)
    third = [wazuh(srcip="192.0.2.7", at="2026-11-24T16:00:00Z")]
    with pytest.raises(Refused):
        services.ingest_stream([(source, third), (source, too_many), (source, first)])
    assert Event.objects.count() == 69  # the batch before the refused one stays; nothing after it
    # The stream holds automatic garbage collection off while it runs; the process gets it back, even after a failure.
    assert gc.isenabled()


@pytest.mark.django_db(transaction=True)
def test_the_stream_writer_does_not_map_the_sqlite_file(make_source):
    """The writer thread's connection only writes: it first turns off the memory map the platform's other
    connections use for reading a large store (mapping cost its commits about 4 %, decision 0009). Observed on the
    statements that connection sends (the test database lives in memory, where the setting reads as nothing)."""
    import threading

    from django.db import connection
    from django.db.backends.signals import connection_created

    if connection.vendor != "sqlite":
        pytest.skip("a SQLite setting")
    source, _key = make_source(format="wazuh")
    sent = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    def watch(sender, connection, **kwargs):  # the writer thread opens its own connection
        if threading.current_thread() is not threading.main_thread():
            connection.execute_wrappers.append(record)

    connection_created.connect(watch)
    try:
        services.ingest_stream([(source, [wazuh(srcip="203.0.113.9")])])
    finally:
        connection_created.disconnect(watch)
    assert sent and sent[0] == "PRAGMA mmap_size=0"
    assert any(sql.lstrip().upper().startswith("INSERT") for sql in sent[1:])  # then it writes the batch


def test_alerts_opened_before_the_key_change_still_fold_repeats(make_source):
    """Migration 0008 recomputes the key of recent alerts with the rule of services.observables_key."""
    import importlib

    from django.apps import apps
    from django.utils import timezone

    migration = importlib.import_module("khien.telemetry.migrations.0008_shorter_alert_key")
    source, _key = make_source(format="wazuh")
    now = timezone.now().replace(microsecond=0)
    services.ingest_batch(source, [wazuh(at=now.isoformat())])
    Alert.objects.update(key="f" * 64)  # a key of the old form
    migration.recompute_recent_keys(apps, None)
    services.ingest_batch(source, [wazuh(at=(now + dt.timedelta(minutes=5)).isoformat())])
    alert = Alert.objects.get()
    assert alert.count == 2 and len(alert.key) == 16



def test_alerts_are_found_hour_by_hour_and_across_a_long_replay(make_source, settings):
    """The alert key index is led by the hour of the last sighting (migration 0011): repeats fold across an
    hour boundary, and an old record replayed after newer ones still finds its alert."""
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection
    from django.utils import timezone

    from khien.telemetry.models import epoch_hour

    settings.KHIEN_ALERT_WINDOW_SECONDS = 3600
    source, _ = make_source(format="wazuh")
    services.ingest_batch(source, [wazuh(at="2026-11-24T13:55:00Z")])
    services.ingest_batch(source, [wazuh(at="2026-11-24T14:40:00Z")])  # next hour, 45 minutes later: same alert
    alert = Alert.objects.get()
    last = dt.datetime(2026, 11, 24, 14, 40, tzinfo=dt.timezone.utc)
    assert alert.count == 2 and alert.seen_hour == epoch_hour(last.timestamp())
    # The source sends live records (another rule) days later, then an old file is replayed: the span of
    # hours is longer than the hours probed one by one, and the old alert is still found.
    services.ingest_batch(source, [wazuh(rule="9999", at=timezone.now().replace(microsecond=0).isoformat())])
    assert (timezone.now() - last).total_seconds() / 3600 > services.MAX_PROBED_HOURS
    services.ingest_batch(source, [wazuh(at="2026-11-24T15:30:00Z")])
    alert = Alert.objects.get(pk=alert.pk)
    assert alert.count == 3 and alert.seen_hour == epoch_hour(alert.last_seen.timestamp())
    assert Alert.objects.count() == 2
    # Alerts stored before the migration get their hour from their last sighting.
    migration = importlib.import_module("khien.telemetry.migrations.0011_alert_hour_key")
    Alert.objects.update(seen_hour=None)
    # (the migration runs only its SQL through the schema editor: a stand-in, inside the test's transaction)
    migration.fill_hours(apps, SimpleNamespace(connection=connection, execute=lambda sql: connection.cursor().execute(sql)))
    assert all(a.seen_hour == epoch_hour(a.last_seen.timestamp()) for a in Alert.objects.all())
