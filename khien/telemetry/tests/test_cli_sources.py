"""`khien telemetry sources` as an operator reads it: a header line, then one source a line (name, format,
organization first, then its status, when it last sent and what it sent, as the sources page shows them); piped
into `head`, which closes the pipe early, it stops quietly (no traceback)."""
import datetime as dt
import io
import os
import sqlite3
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from khien.telemetry.models import AlertSource

from .conftest import sample_lines
from .test_api import post_ndjson, source_client

pytestmark = pytest.mark.django_db

HEADER = "name\tformat\torganization\tstatus\tlast_event\taccepted\trejected"


def run(*args, stdout=None):
    out, err = stdout or io.StringIO(), io.StringIO()
    call_command("telemetry", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_header_then_each_source_with_its_last_event_and_counts(world, make_source, settings):
    settings.KHIEN_SOURCE_SILENT_SECONDS = 900
    sending, key = make_source(format="ecs", name="a-siem")
    make_source(format="cef", name="b-fw", org=world.province)
    post_ndjson(source_client(key), sample_lines("ecs_alerts.ndjson") + [b"{broken", b"[2]"])
    sent_at = AlertSource.objects.get(pk=sending.pk).last_event_at
    out, err = run("sources")
    lines = out.splitlines()
    assert lines[0] == HEADER
    assert lines[1] == f"a-siem\tecs\tMIN\tlive\t{sent_at.astimezone(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}\t3\t2"
    assert lines[2] == "b-fw\tcef\tPROV\tnever\t-\t0\t0"
    # The same numbers as the sources page, whatever the language of the platform: a fixed form for scripts.
    assert len(lines) == 3 and err == ""


def test_name_format_organization_stay_the_first_columns(world, make_source):
    make_source(format="wazuh", name="wazuh-min")
    out, _err = run("sources")
    header, row = out.splitlines()
    assert header.split("\t")[:3] == ["name", "format", "organization"]
    assert row.split("\t")[:4] == ["wazuh-min", "wazuh", "MIN", "never"]


def test_a_silent_source_shows_when_it_last_sent(world, make_source, settings):
    settings.KHIEN_SOURCE_SILENT_SECONDS = 900
    source, _key = make_source(format="suricata", name="ids-min")
    then = timezone.now() - dt.timedelta(hours=3)
    AlertSource.objects.filter(pk=source.pk).update(last_event_at=then, accepted=12000, rejected=7)
    row = run("sources")[0].splitlines()[1].split("\t")
    assert row[3:] == ["silent", f"{then.astimezone(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}", "12000", "7"]


class ClosedPipe(io.StringIO):
    """Standard output whose reader went away (`| head`): every write fails as a pipe's would."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_ends_the_command_quietly(world, make_source):
    make_source(format="wazuh", name="wazuh-min")
    err = io.StringIO()
    with pytest.raises(SystemExit) as stopped:
        call_command("telemetry", "sources", stdout=ClosedPipe(), stderr=err)
    assert stopped.value.code == 141  # as a Unix tool stopped by SIGPIPE: `set -o pipefail` still sees it
    assert err.getvalue() == ""


@pytest.mark.django_db(transaction=True)  # the command runs in a process of its own, on this database
def test_piped_into_a_reader_that_leaves_there_is_no_traceback(world, make_source, tmp_path):
    for n in range(3):
        make_source(format="wazuh", name=f"wazuh-{n}")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="khien.settings")
    if connection.vendor == "sqlite":  # the test database is in memory: the command reads a copy of it
        copy = tmp_path / "khien.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(copy)
        connection.connection.backup(target)
        target.close()
        env.update(KHIEN_DB="sqlite", KHIEN_SQLITE_PATH=str(copy))
    else:
        env.update(KHIEN_DB="postgres", KHIEN_PG_NAME=connection.settings_dict["NAME"])
    command = [sys.executable, "-m", "khien.cli", "telemetry", "sources"]
    whole = subprocess.run(command, env=env, capture_output=True, timeout=120)
    assert whole.returncode == 0 and whole.stdout.decode().splitlines()[0] == HEADER
    assert len(whole.stdout.decode().splitlines()) == 4
    # The reader closes its end before anything is written (as `head -0`, or `head` done early).
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    _out, err = process.communicate(timeout=120)
    assert err.decode() == "" and process.returncode == 141
