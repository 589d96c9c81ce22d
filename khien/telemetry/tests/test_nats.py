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

    source, _ = make_source(format="wazuh")
    other, _ = make_source(format="cef")
    transport.ensure_stream(jetstream)
    lines = sample_lines("wazuh_alerts.ndjson") + sample_lines("wazuh_broken.ndjson")[1:2]
    first = transport.publish(source, lines, link=jetstream)
    again = transport.publish(source, lines, link=jetstream)  # the broker's de-duplication drops these
    assert (first.stored, again.stored, again.duplicates) == (5, 0, 5)
    transport.publish(other, sample_lines("cef_alerts.log"), link=jetstream)
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
                                            headers={"Nats-Msg-Id": f"late-{n}"}))
    stats = worker.run(idle_exit=True)
    assert (stats.messages, stats.accepted, stats.duplicates) == (4, 0, 4)
    assert Event.objects.count() == 7
    source.refresh_from_db()
    assert (source.accepted, source.rejected) == (4, 1)
    # Everything was acknowledged: nothing comes back.
    assert worker.fetch(timeout=0.5) == []


def test_a_batch_not_acknowledged_is_redelivered_and_not_duplicated(jetstream, make_source):
    from khien.telemetry import nats as transport

    source, _ = make_source(format="suricata")
    transport.ensure_stream(jetstream)
    transport.publish(source, sample_lines("suricata_eve.ndjson"), link=jetstream)
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

    source, _ = make_source(format="wazuh")
    transport.ensure_stream(jetstream)
    ghost = AlertSource(name="ghost", format="wazuh", organization=source.organization)  # never saved
    transport.publish(ghost, sample_lines("wazuh_alerts.ndjson")[:2], link=jetstream)
    transport.publish(source, sample_lines("wazuh_alerts.ndjson")[:1], link=jetstream)
    stats = transport.Worker(jetstream, batch=100).run(idle_exit=True)
    assert (stats.unknown_source, stats.accepted) == (2, 1)
    assert Event.objects.count() == 1


def test_publish_command_then_worker_command(jetstream, make_source, tmp_path):
    import io

    from django.core.management import call_command

    from .conftest import SAMPLES

    make_source(format="suricata", name="ids-min")
    out = io.StringIO()
    call_command("telemetry", "publish", str(SAMPLES / "suricata_eve.ndjson"), "--source", "ids-min", stdout=out)
    call_command("telemetry", "publish", str(SAMPLES / "suricata_eve.ndjson"), "--source", "ids-min", stdout=out)
    assert out.getvalue().splitlines() == ["published 4 duplicates 0", "published 0 duplicates 4"]
    out = io.StringIO()
    call_command("telemetry", "worker", "--idle-exit", "--quiet", stdout=out)
    assert out.getvalue().strip() == "messages 4 accepted 4 duplicates 0 rejected 0"
    assert Event.objects.count() == 4
