"""Dead-letter reasons as a SOC operator reads them: in their language through the API as on the pages, and with a
hint when a record looks like another format than its source's (a Suricata EVE record sent to a Wazuh source)."""
import orjson
import pytest
from django.utils import translation
from rest_framework.test import APIClient

from khien.telemetry import services
from khien.telemetry.models import DeadLetter
from khien.telemetry.parsers import looks_like, reason_text, with_format_hint

from .conftest import sample_lines

pytestmark = pytest.mark.django_db
DEAD_LETTERS = "/api/telemetry/dead-letters/"
HINT = " (this looks like a {} record: is the source's format right?)"


def reasons(source) -> list[str]:
    return list(DeadLetter.objects.filter(source=source).order_by("id").values_list("reason", flat=True))


def test_the_api_gives_the_reason_in_the_callers_language_and_as_stored(world, make_source, api, reads_in):
    source, _key = make_source(format="wazuh")
    services.ingest_batch(source, [b'{"timestamp": "2026-11-24T14:00:00Z"}'])
    client = api(world.admin)
    letter = client.get(DEAD_LETTERS, HTTP_ACCEPT_LANGUAGE="vi").json()["results"][0]
    assert letter["reason"] == "missing rule.id"  # as stored: the same for every caller, for programs
    assert letter["reason_text"] == "thiếu rule.id"  # as the page shows it
    assert client.get(DEAD_LETTERS, HTTP_ACCEPT_LANGUAGE="en").json()["results"][0]["reason_text"] == "missing rule.id"
    reads_in(world.admin, "vi")  # a program that asks for no language: the token owner's
    assert APIClient().get(DEAD_LETTERS).status_code in (401, 403)
    assert client.get(DEAD_LETTERS).json()["results"][0]["reason_text"] == "thiếu rule.id"


def test_a_record_of_another_format_gets_a_hint(make_source):
    wazuh, _key = make_source(format="wazuh")
    suricata, _key = make_source(format="suricata")
    ecs, _key = make_source(format="ecs")
    cef, _key = make_source(format="cef")
    eve_flow = orjson.dumps({**orjson.loads(sample_lines("suricata_eve.ndjson")[0]), "event_type": "flow"})
    services.ingest_batch(wazuh, sample_lines("suricata_eve.ndjson")[:1] + [eve_flow])
    assert reasons(wazuh) == ["missing rule.id" + HINT.format("Suricata EVE")] * 2
    services.ingest_batch(suricata, sample_lines("wazuh_alerts.ndjson")[:1] + [eve_flow])
    # The flow record is Suricata's own: its reason is right as it is.
    assert sorted(reasons(suricata)) == sorted(["missing event_type" + HINT.format("Wazuh"),
                                                "event_type 'flow' is not an alert"])
    services.ingest_batch(ecs, sample_lines("cef_alerts.log")[:1])
    assert reasons(ecs)[0].startswith("not valid JSON") and reasons(ecs)[0].endswith(HINT.format("CEF"))
    services.ingest_batch(cef, sample_lines("ecs_alerts.ndjson")[:1] + [b"hello"])
    assert sorted(reasons(cef)) == ["no CEF header", "no CEF header" + HINT.format("ECS")]
    # Read in the reader's language, hint included (its words once translated; the reason's already).
    with translation.override("vi"):
        shown = reason_text(reasons(wazuh)[0])
    assert shown.startswith("thiếu rule.id") and "Suricata EVE" in shown
    with translation.override("en"):
        assert reason_text(reasons(wazuh)[0]) == "missing rule.id" + HINT.format("Suricata EVE")
        assert reason_text("not valid JSON: unexpected character: line 1 column 1 (char 0)" + HINT.format("CEF")) == (
            "not valid JSON (character 1 of the record)" + HINT.format("CEF"))


def test_the_hint_is_only_for_plain_cases_and_keeps_the_reason_short():
    assert looks_like({"rule": {"id": "1"}}) is None  # not enough to say Wazuh
    assert looks_like({"event_type": "alert"}) is None
    assert looks_like(b"not json at all") is None and looks_like(b"{broken") is None and looks_like([1]) is None
    assert looks_like(b'<134>Nov 24 21:40:01 fw CEF:0|Fortinet|x|1|2|n|5|') == "cef"
    assert with_format_hint("missing rule.id", "wazuh", {"rule": {"level": 3}, "agent": {}}) == "missing rule.id"
    long = with_format_hint("x" * 300, "wazuh", {"event_type": "dns", "flow_id": 1})
    assert len(long) == 300 and long.endswith(HINT.format("Suricata EVE"))
