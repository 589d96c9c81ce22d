"""A JetStream worker killed with SIGKILL in the middle of a stream loses nothing and duplicates nothing,
and two workers restarted on the same durable consumer share the rest without storing anything twice.

The worker runs as a real subprocess (`khien telemetry worker`) against the test
database, so this needs PostgreSQL (a database two processes share) and NATS.
"""
import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.db.models import Sum

from khien.telemetry.models import Alert, AlertSource, Event

from .test_nats import jetstream  # noqa: F401  (fixture)

pytestmark = [pytest.mark.nats, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
TOTAL = 12000


def record(i):
    return {"timestamp": f"2026-11-24T{10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "rule": {"id": "5712", "level": 10, "description": "sshd: brute force", "groups": ["sshd"]},
            "agent": {"name": "web-01"}, "data": {"srcip": "203.0.113.45", "srcport": str(1024 + i)}, "seq": i}


def start_worker(settings, tmp_path, name):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="khien.settings", KHIEN_DB="postgres",
               KHIEN_PG_NAME=connection.settings_dict["NAME"], KHIEN_NATS_URL=settings.KHIEN_NATS_URL,
               KHIEN_NATS_STREAM=settings.KHIEN_NATS_STREAM, KHIEN_NATS_SUBJECT_PREFIX=settings.KHIEN_NATS_SUBJECT_PREFIX,
               KHIEN_NATS_DURABLE=settings.KHIEN_NATS_DURABLE)
    log = open(tmp_path / f"{name}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "khien.cli", "telemetry", "worker", "--batch", "400",
                             "--ack-wait", "2", "--quiet"], env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sigkill_mid_stream_loses_and_duplicates_nothing(jetstream, make_source, settings, tmp_path):  # noqa: F811
    from khien.telemetry import nats as transport

    source, key = make_source(format="wazuh")
    transport.ensure_stream(jetstream)
    assert transport.publish(source, [record(i) for i in range(TOTAL)], key=key, link=jetstream).stored == TOTAL

    first = start_worker(settings, tmp_path, "first")
    try:
        started = wait_for(lambda: Event.objects.count() >= TOTAL // 4, 120)
        os.kill(first.pid, signal.SIGKILL)  # in the middle of the stream, without any chance to clean up
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert started, (tmp_path / "first.log").read_text()
    stored_at_kill = Event.objects.count()
    print(f"stored when killed: {stored_at_kill}/{TOTAL}")
    assert stored_at_kill < TOTAL, "the first worker finished before it could be killed; raise TOTAL"

    # Two workers now share the durable consumer (add workers to add throughput).
    second = start_worker(settings, tmp_path, "second")
    third = start_worker(settings, tmp_path, "third")
    try:
        done = wait_for(lambda: Event.objects.count() >= TOTAL, 180)
        # Let the batch the first worker had in flight come back after ack_wait and be handled.
        info = None
        for _ in range(100):
            info = jetstream.call(jetstream.js.consumer_info(settings.KHIEN_NATS_STREAM, settings.KHIEN_NATS_DURABLE))
            if info.num_pending == 0 and info.num_ack_pending == 0:
                break
            time.sleep(0.1)
    finally:
        for worker in (second, third):
            worker.send_signal(signal.SIGTERM)
        for worker in (second, third):
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert done, (tmp_path / "second.log").read_text() + (tmp_path / "third.log").read_text()
    assert second.returncode == 0 and third.returncode == 0  # a clean stop on SIGTERM
    assert info.num_pending == 0 and info.num_ack_pending == 0
    assert Event.objects.count() == TOTAL
    assert sorted(event.raw["seq"] for event in Event.objects.only("raw")) == list(range(TOTAL))
    assert AlertSource.objects.get(pk=source.pk).accepted == TOTAL
    assert Alert.objects.aggregate(n=Sum("count"))["n"] == TOTAL  # no event folded into an alert twice
