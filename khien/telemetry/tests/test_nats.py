"""JetStream transport against the real server on 127.0.0.1:4222 (skipped when absent, unless KHIEN_REQUIRE_SERVICES=1).

Each test uses its own stream and subject prefix and deletes the stream at the end.
"""
import time
import uuid

import orjson
import pytest

from khien.conftest import REQUIRE_SERVICES
from khien.telemetry.models import AlertSource, DeadLetter, Event

from .conftest import sample_lines

pytestmark = [pytest.mark.nats, pytest.mark.django_db]


@pytest.fixture
def jetstream(settings):
    from khien.telemetry.nats import JetStreamLink

    url = "nats://127.0.0.1:4222"
    try:
        link = JetStreamLink(url, connect_timeout=2)
    except Exception as exc:  # the server does not answer
        if REQUIRE_SERVICES:
            pytest.fail(f"NATS JetStream on {url} is required (KHIEN_REQUIRE_SERVICES=1) but does not answer: {exc!r}")
        pytest.skip(f"NATS JetStream on {url} does not answer")
    run = uuid.uuid4().hex[:12]
    settings.KHIEN_NATS_URL = url
    settings.KHIEN_NATS_STREAM = f"KHIEN_TEST_{run}"
    settings.KHIEN_NATS_SUBJECT_PREFIX = f"khientest.{run}"
    settings.KHIEN_NATS_DURABLE = f"khien-test-{run}"
    try:
        yield link
    finally:
        try:
            link.call(link.js.delete_stream(settings.KHIEN_NATS_STREAM))
        except Exception:
            pass
        link.close()


def test_published_records_are_stored_exactly_once(jetstream, make_source, settings):
    from khien.telemetry import nats as transport

    source, key = make_source(format="wazuh")
    other, other_key = make_source(format="cef")
    transport.ensure_stream(jetstream)
    lines = sample_lines("wazuh_alerts.ndjson") + sample_lines("wazuh_broken.ndjson")[1:2]
    first = transport.publish(source, lines, key=key, link=jetstream)
    again = transport.publish(source, lines, key=key, link=jetstream)  # the broker's de-duplication drops these
    assert (first.stored, again.stored, again.duplicates) == (5, 0, 5)
    transport.publish(other, sample_lines("cef_alerts.log"), key=other_key, link=jetstream)
    worker = transport.Worker(jetstream, batch=100)
    stats = worker.run(idle_exit=True)
    assert (stats.messages, stats.accepted, stats.rejected) == (8, 7, 1)
    assert Event.objects.filter(source=source).count() == 4 and Event.objects.filter(source=other).count() == 3
    assert DeadLetter.objects.get().reason == "missing rule.id"
    # Past the broker's de-duplication window (simulated with other message ids), and re-serialized by a
    # forwarder (other key order and spacing), the same records reach the worker and are stored once.
    subject = f"{settings.KHIEN_NATS_SUBJECT_PREFIX}.{source.name}"
    for n, line in enumerate(sample_lines("wazuh_alerts.ndjson")):
        record = dict(reversed(list(orjson.loads(line).items())))
        jetstream.call(jetstream.js.publish(subject, orjson.dumps(record, option=orjson.OPT_INDENT_2),
                                            headers={"Nats-Msg-Id": f"late-{n}", transport.SOURCE_KEY_HEADER: key}))
    stats = worker.run(idle_exit=True)
    assert (stats.messages, stats.accepted, stats.duplicates) == (4, 0, 4)
    assert Event.objects.count() == 7
    source.refresh_from_db()
    assert (source.accepted, source.rejected) == (4, 1)
    # Everything was acknowledged: nothing comes back.
    assert worker.fetch(timeout=0.5) == []


def test_a_batch_not_acknowledged_is_redelivered_and_not_duplicated(jetstream, make_source):
    from khien.telemetry import nats as transport

    source, key = make_source(format="suricata")
    transport.ensure_stream(jetstream)
    transport.publish(source, sample_lines("suricata_eve.ndjson"), key=key, link=jetstream)
    worker = transport.Worker(jetstream, batch=100, ack_wait=1.0)
    messages = worker.fetch()
    assert len(messages) == 4
    # The batch is committed, then the worker dies before acknowledging it.
    stats = worker.process(messages, ack=False)
    assert stats.accepted == 4
    time.sleep(1.5)  # ack_wait passes: JetStream redelivers
    redelivered = []
    deadline = time.monotonic() + 10
    while len(redelivered) < 4 and time.monotonic() < deadline:
        redelivered += worker.fetch(timeout=1.0)
    assert len(redelivered) == 4 and all(m.metadata.num_delivered == 2 for m in redelivered)
    stats = worker.process(redelivered)
    assert (stats.accepted, stats.duplicates) == (0, 4)
    assert Event.objects.count() == 4
    assert AlertSource.objects.get(pk=source.pk).accepted == 4
    assert worker.fetch(timeout=0.5) == []


def test_messages_for_an_unknown_source_are_dropped_not_stored(jetstream, make_source):
    from khien.telemetry import nats as transport

    source, key = make_source(format="wazuh")
    transport.ensure_stream(jetstream)
    ghost = AlertSource(name="ghost", format="wazuh", organization=source.organization)  # never saved
    transport.publish(ghost, sample_lines("wazuh_alerts.ndjson")[:2], key="khs_ghost", link=jetstream)
    transport.publish(source, sample_lines("wazuh_alerts.ndjson")[:1], key=key, link=jetstream)
    stats = transport.Worker(jetstream, batch=100).run(idle_exit=True)
    assert (stats.unknown_source, stats.accepted) == (2, 1)
    assert Event.objects.count() == 1


def test_publish_command_then_worker_command(jetstream, make_source, tmp_path, monkeypatch, settings):
    import io

    settings.LANGUAGE_CODE = "en"  # the command's refusals are in the platform's language: read in English here

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from .conftest import SAMPLES

    _source, key = make_source(format="suricata", name="ids-min")
    _other, other_key = make_source(format="suricata", name="ids-other")
    sample = str(SAMPLES / "suricata_eve.ndjson")
    # The key comes from a file or the environment, never the command line; a missing or wrong one publishes nothing.
    monkeypatch.delenv("KHIEN_SOURCE_KEY", raising=False)
    with pytest.raises(CommandError, match="Give the key of source “ids-min”"):
        call_command("telemetry", "publish", sample, "--source", "ids-min", stdout=io.StringIO())
    monkeypatch.setenv("KHIEN_SOURCE_KEY", other_key)
    with pytest.raises(CommandError, match="not the key of source “ids-min”"):
        call_command("telemetry", "publish", sample, "--source", "ids-min", stdout=io.StringIO())
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("telemetry", "publish", sample, "--source", "ids-min", "--key-file", str(tmp_path / "none"))
    key_file = tmp_path / "ids-min.key"
    key_file.write_text(key + "\n")
    out = io.StringIO()
    call_command("telemetry", "publish", sample, "--source", "ids-min", "--key-file", str(key_file), stdout=out)
    monkeypatch.setenv("KHIEN_SOURCE_KEY", key)
    call_command("telemetry", "publish", sample, "--source", "ids-min", stdout=out)
    assert out.getvalue().splitlines() == ["published 4 duplicates 0", "published 0 duplicates 4"]
    out = io.StringIO()
    call_command("telemetry", "worker", "--idle-exit", "--quiet", stdout=out)
    assert out.getvalue().strip() == "messages 4 accepted 4 duplicates 0 rejected 0 unauthorized 0"
    assert Event.objects.count() == 4


def test_records_without_their_sources_key_are_never_stored(jetstream, make_source, settings, world, caplog):
    """Whoever may publish on the bus cannot send records in another source's name: without the key of the source
    the subject names (none, a wrong one, another organization's source's key) messages are terminated, counted
    and logged without the key; the source's own records still go in, and nothing comes back later."""
    from khien.telemetry import nats as transport

    source, key = make_source(format="wazuh")
    _foreign, foreign_key = make_source(org=world.province, format="wazuh")  # another organization's source
    transport.ensure_stream(jetstream)
    subject = f"{settings.KHIEN_NATS_SUBJECT_PREFIX}.{source.name}"
    lines = sample_lines("wazuh_alerts.ndjson")
    forged = [({}, lines[0]), ({transport.SOURCE_KEY_HEADER: "khs_guessed"}, lines[1]),
              ({transport.SOURCE_KEY_HEADER: foreign_key}, lines[2])]
    for n, (headers, line) in enumerate(forged):
        jetstream.call(jetstream.js.publish(subject, line, headers={"Nats-Msg-Id": f"forged-{n}", **headers}))
    transport.publish(source, lines[3:], key=key, link=jetstream)
    worker = transport.Worker(jetstream, batch=100, ack_wait=1.0)
    with caplog.at_level("WARNING", logger="khien.telemetry.nats"):
        stats = worker.run(idle_exit=True)
    assert (stats.messages, stats.unauthorized, stats.accepted, stats.rejected) == (4, 3, 1, 0)
    assert Event.objects.count() == 1
    source.refresh_from_db()
    assert (source.accepted, source.rejected) == (1, 0)  # forged records do not count against the source either
    assert "3 message(s) for %s without the source's key" % source.name in caplog.text
    assert foreign_key not in caplog.text and "khs_guessed" not in caplog.text
    time.sleep(1.5)  # past ack_wait: terminated messages are not redelivered
    assert worker.fetch(timeout=0.5) == []


def test_records_queued_before_a_key_rotation_are_kept_later_ones_with_the_old_key_are_not(jetstream, make_source,
                                                                                             world):
    """Rotating a source's key (a leaked key) does not lose what its sender had already put on the stream with
    the old key; whatever is sent with the old key after the rotation is refused."""
    from khien.telemetry import nats as transport
    from khien.telemetry import services

    source, old_key = make_source(format="wazuh")
    transport.ensure_stream(jetstream)
    lines = sample_lines("wazuh_alerts.ndjson")
    transport.publish(source, lines[:2], key=old_key, link=jetstream)  # queued, not yet ingested
    new_key = services.do_rotate_source_key(source, acting_user=world.admin)
    source.refresh_from_db()
    transport.publish(source, lines[2:3], key=old_key, link=jetstream)  # after the rotation: refused
    transport.publish(source, lines[3:4], key=new_key, link=jetstream)
    stats = transport.Worker(jetstream, batch=100).run(idle_exit=True)
    assert (stats.messages, stats.accepted, stats.unauthorized) == (4, 3, 1)
    assert Event.objects.count() == 3
    # The old key's digest is not written to the audit log either.
    from khien.core.models import AuditEntry

    entry = AuditEntry.objects.filter(object_type="telemetry.alertsource").latest("seq")
    assert "previous_key_hash" not in str(entry.before) + str(entry.after)
