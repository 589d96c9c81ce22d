"""`khien ingest` says what it stored: a file with nothing in it is an error, a file whose every record is rejected
exits non-zero (3), a file with some rejected records says so; `khien telemetry sources` shows each source's
status; both commands speak the platform's language, whatever language the caller had active."""
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from khien.telemetry.models import AlertSource, DeadLetter, Event

from .conftest import SAMPLES

pytestmark = pytest.mark.django_db(transaction=True)  # `khien ingest` writes from a second thread


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def english(settings):
    settings.LANGUAGE_CODE = "en"  # the commands speak the platform's language: read in English here


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"[]", b"\xef\xbb\xbf[ ]\n"])
def test_a_file_with_no_record_is_an_error(make_source, tmp_path, english, content):
    make_source(format="ecs", name="siem-min")
    path = tmp_path / "alerts.ndjson"
    path.write_bytes(content)
    with pytest.raises(CommandError, match="holds no record") as refused:
        run("ingest", str(path), "--source", "siem-min", "--quiet")
    assert refused.value.returncode == 1
    assert Event.objects.count() == 0 and DeadLetter.objects.count() == 0


def test_every_record_rejected_exits_3_with_the_counts(make_source, tmp_path, english):
    make_source(format="cef", name="fw-min")
    path = tmp_path / "broken.log"
    path.write_bytes((SAMPLES / "cef_broken.log").read_bytes())
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="None of the 6 records could be read: nothing was stored") as refused:
        call_command("ingest", str(path), "--source", "fw-min", "--quiet", stdout=out, stderr=err)
    assert refused.value.returncode == 3
    assert "fw-min" in str(refused.value) and "CEF" in str(refused.value)  # where to look, what to check
    assert out.getvalue().strip() == "accepted 0 duplicates 0 rejected 6"  # the counts are still printed
    assert DeadLetter.objects.count() == 6 and Event.objects.count() == 0


def test_some_records_rejected_is_said_on_stderr_and_exits_0(make_source, tmp_path, english):
    make_source(format="cef", name="fw-min")
    path = tmp_path / "replay.log"
    path.write_bytes((SAMPLES / "cef_alerts.log").read_bytes() + (SAMPLES / "cef_broken.log").read_bytes())
    out, err = run("ingest", str(path), "--source", "fw-min", "--quiet")
    assert out.strip() == "accepted 3 duplicates 0 rejected 6"
    assert "6 of 9 records could not be read: kept as dead letters of source “fw-min”" in err
    # Everything read was stored before: nothing to say beyond the counts.
    clean = tmp_path / "clean.log"
    clean.write_bytes((SAMPLES / "cef_alerts.log").read_bytes())
    out, err = run("ingest", str(clean), "--source", "fw-min", "--quiet")
    assert out.strip() == "accepted 0 duplicates 3 rejected 0" and err == ""


def test_help_documents_the_exit_status():
    from khien.telemetry.management.commands.ingest import Command

    text = " ".join(Command().create_parser("khien", "ingest").format_help().split())
    assert "Exit status: 0 when every record was stored" in text and "3 when every record was rejected" in text


def test_sources_show_the_status_after_name_format_organization(make_source, world, settings):
    settings.KHIEN_SOURCE_SILENT_SECONDS = 900
    now = timezone.now()
    live, _ = make_source(format="wazuh", name="a-live")
    silent, _ = make_source(format="cef", name="b-silent")
    off, _ = make_source(format="ecs", name="c-off")
    make_source(format="suricata", name="d-new", org=world.province)
    AlertSource.objects.filter(pk=live.pk).update(last_event_at=now - dt.timedelta(minutes=1))
    AlertSource.objects.filter(pk=silent.pk).update(last_event_at=now - dt.timedelta(hours=2))
    AlertSource.objects.filter(pk=off.pk).update(enabled=False, last_event_at=now)
    out, _err = run("telemetry", "sources")
    rows = [line.split("\t")[:4] for line in out.splitlines()[1:]]  # after the header line
    assert rows == [["a-live", "wazuh", "MIN", "live"], ["b-silent", "cef", "MIN", "silent"],
                    ["c-off", "ecs", "MIN", "disabled"], ["d-new", "suricata", "PROV", "never"]]


def test_commands_speak_the_platform_language_not_the_callers(make_source, english):
    """The refusals the command writes and those the services give are in one language: the platform's."""
    make_source(format="ecs", name="siem-min")
    with translation.override("vi"):
        with pytest.raises(CommandError) as unknown:
            run("ingest", str(SAMPLES / "ecs_alerts.ndjson"), "--source", "nope")
        with pytest.raises(CommandError) as duplicate:
            run("telemetry", "add-source", "siem-min", "--format", "ecs", "--organization", "MIN")
        with pytest.raises(CommandError) as no_org:
            run("telemetry", "add-source", "x-min", "--format", "ecs", "--organization", "NOPE")
    assert str(unknown.value).startswith("No alert source named “nope”")
    assert str(no_org.value) == "No organization with code “NOPE”."
    assert "siem-min" in str(duplicate.value) or "name" in str(duplicate.value)
    assert not any(ch in str(duplicate.value) for ch in "ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ")
