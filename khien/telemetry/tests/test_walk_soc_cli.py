"""`khien telemetry worker` and `reprocess` progress as an operator reads it: rewritten in place on a terminal, one
line per report in a log file (no "\\r" in it), and a warning logged meanwhile on a line of its own."""
import io
import logging
import re

import pytest
from django.core.management import call_command
from django.core.management.base import OutputWrapper

from khien.telemetry import services
from khien.telemetry.management.commands.telemetry import Progress

from .conftest import sample_lines
from .test_nats import jetstream  # noqa: F401 - the fixture


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def logged_to():
    """The root logger also writes to `stream` (as the console handler writes to the command's stderr)."""
    handlers = []

    def attach(stream):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        logging.getLogger().addHandler(handler)
        handlers.append(handler)
        return stream

    yield attach
    for handler in handlers:
        logging.getLogger().removeHandler(handler)


def test_progress_in_a_log_file_is_one_line_per_report_with_warnings_apart(logged_to):
    log = logged_to(io.StringIO())
    with Progress(OutputWrapper(log)) as progress:
        progress.show("10 messages  unauthorized 2")
        logging.getLogger("khien.telemetry.nats").warning("telemetry worker: 2 message(s) terminated")
        progress.show("11 messages  unauthorized 2")
    assert "\r" not in log.getvalue()
    assert log.getvalue().splitlines() == ["10 messages  unauthorized 2",
                                           "WARNING telemetry worker: 2 message(s) terminated",
                                           "11 messages  unauthorized 2"]


def test_progress_on_a_terminal_is_rewritten_in_place_and_a_warning_starts_a_new_line(logged_to):
    screen = logged_to(Terminal())
    with Progress(OutputWrapper(screen)) as progress:
        progress.show("10 messages")
        progress.show("11 messages")
        logging.getLogger("khien.telemetry.nats").warning("terminated")
        progress.show("12 messages")
    assert screen.getvalue() == "\r10 messages\r11 messages\nWARNING terminated\n\r12 messages\n"
    # After the command, the console's handlers are as they were.
    assert not any(progress in handler.filters for handler in logging.getLogger().handlers)


def test_reprocess_writes_lines_in_a_log(world, make_source):
    source, _key = make_source(format="wazuh")
    services.ingest_batch(source, sample_lines("ecs_alerts.ndjson"))
    services.do_update_source(source, {"format": "ecs"}, acting_user=None)
    err = io.StringIO()
    call_command("telemetry", "reprocess", source.name, stdout=io.StringIO(), stderr=err)
    assert "\r" not in err.getvalue()
    assert err.getvalue().splitlines() == ["3 / 3 dead letters read again"]


def test_the_worker_command_writes_lines_in_a_log(jetstream, make_source, settings, logged_to):  # noqa: F811
    from khien.telemetry import nats as transport

    source, key = make_source(format="wazuh")
    transport.ensure_stream(jetstream)
    subject = f"{settings.KHIEN_NATS_SUBJECT_PREFIX}.{source.name}"
    lines = sample_lines("wazuh_alerts.ndjson")
    jetstream.call(jetstream.js.publish(subject, lines[0], headers={"Nats-Msg-Id": "forged-0"}))  # no key: a warning
    transport.publish(source, lines[1:], key=key, link=jetstream)
    err = logged_to(io.StringIO())
    call_command("telemetry", "worker", "--idle-exit", stdout=io.StringIO(), stderr=err)
    text = err.getvalue()
    assert "\r" not in text
    warnings = [line for line in text.splitlines() if line.startswith("WARNING ")]
    reports = [line for line in text.splitlines() if not line.startswith("WARNING ")]
    assert warnings and all("telemetry worker:" in line for line in warnings), text
    progress = re.compile(r"\d+ messages  accepted \d+ .* unauthorized \d+")
    assert reports and all(progress.fullmatch(line) for line in reports), text
    assert reports[-1].startswith(f"{len(lines)} messages") and reports[-1].endswith("unauthorized 1")
