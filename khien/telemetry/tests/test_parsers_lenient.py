"""What SIEM exports really write: CEF times with a zone, placeholders for values they lack, an address with its
port, a severity in words. Read as what they mean; the values that are truly wrong are still refused."""
import datetime as dt

import orjson
import pytest
from django.utils import translation

from khien.telemetry import parsers, services
from khien.telemetry.models import DeadLetter, Event
from khien.telemetry.parsers import ParseError, reason_text

UTC = dt.timezone.utc
LOCAL = dt.datetime(2026, 12, 6, 22, 51, 13, tzinfo=UTC)  # 07/12/2026 05:51:13 in Viet Nam (+07:00)


def cef(extension: str, severity: str = "5") -> str:
    return f"CEF:0|Fortinet|FortiGate|7.2|0419016384|IPS: Log4j RCE attempt|{severity}|{extension}"


def ecs(**parts) -> dict:
    record = {"@timestamp": "2026-12-06T22:51:13Z", "event": {"kind": "alert", "severity": 5},
              "source": {"ip": "10.0.0.5", "port": 51000}, "destination": {"ip": "203.0.113.7", "port": 443},
              "rule": {"id": "EDR-1", "name": "Outbound"}}
    for dotted, value in parts.items():
        target = record
        *path, last = dotted.split("__")
        for part in path:
            target = target.setdefault(part, {})
        target[last] = value
    return record


def refusal(parse, record) -> str:
    with pytest.raises(ParseError) as info:
        parse(record)
    return info.value.reason


# --- 1. CEF rt with a time zone ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rt", [
    "Dec 07 2026 05:51:13 +0700", "Dec 07 2026 05:51:13 +07:00", "Dec 07 2026 05:51:13 +07",
    "Dec 07 2026 05:51:13 GMT+07:00", "Dec 07 2026 05:51:13 UTC+7", "Dec 07 2026 05:51:13 GMT+0700",
    "Dec 07 2026 05:51:13 ICT", "Dec 07 2026 05:51:13 ict", "Dec 07 2026 05:51:13 Asia/Ho_Chi_Minh",
    "Dec 07 2026 05:51:13 Asia/Bangkok", "Dec 07 2026 05:51:13+0700", "Dec 6 2026 15:51:13 -07:00",
    "Dec 06 2026 22:51:13 GMT", "Dec 06 2026 22:51:13 UTC", "Dec 06 2026 22:51:13 Z", "Dec 06 2026 22:51:13Z",
    "Dec 06 2026 23:51:13 Europe/Paris", "Dec 06 2026 23:51:13 CET", "1796597473000",
])
def test_cef_rt_with_the_zones_senders_write(rt):
    assert parsers.parse_cef(cef(f"rt={rt} src=10.0.0.5"))["time"] == LOCAL


def test_cef_rt_keeps_its_milliseconds_and_a_zone_less_one_is_the_sources_zone():
    event = parsers.parse_cef(cef("rt=Dec 07 2026 05:51:13.250 +0700"))
    assert event["time"] == LOCAL.replace(microsecond=250000)
    hcm = parsers.parse_cef(cef("rt=Dec 07 2026 05:51:13"), dt.timezone(dt.timedelta(hours=7)))
    assert hcm["time"] == LOCAL
    # A zone name follows its daylight saving time: New York is UTC-4 in July, UTC-5 in December.
    assert parsers.parse_time("Jul 01 2026 08:00:00 America/New_York", "rt") == dt.datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert parsers.parse_time("Dec 01 2026 08:00:00 America/New_York", "rt") == dt.datetime(2026, 12, 1, 13, tzinfo=UTC)


def test_a_syslog_time_without_a_year_takes_a_zone_too():
    event = parsers.parse_time("Dec 07 05:51:13 +0700", "rt")
    assert (event.month, event.day, event.hour, event.minute) == (12, 6, 22, 51)


@pytest.mark.parametrize("zone", ["IST", "CST", "cst", "BST", "EST", "PST", "MST"])
def test_an_ambiguous_abbreviation_is_refused_not_guessed(zone):
    reason = refusal(parsers.parse_cef, cef(f"rt=Dec 07 2026 05:51:13 {zone} src=10.0.0.5"))
    assert reason.startswith(f"ambiguous time zone in rt: {zone} (accepted: +0700, +07:00, GMT+07:00, UTC, GMT, ICT")
    assert "Asia/Ho_Chi_Minh" in reason


@pytest.mark.parametrize("zone", ["XYZ", "Mars/Olympus", "+1500", "+07:75", "GMT+25:00", "EST5EDT"])
def test_an_unknown_zone_is_refused_with_the_forms_accepted(zone):
    reason = refusal(parsers.parse_cef, cef(f"rt=Dec 07 2026 05:51:13 {zone}"))
    assert reason.startswith(f"unknown time zone in rt: {zone} (accepted: ")


def test_the_zone_refusals_read_in_the_readers_language():
    reason = refusal(parsers.parse_cef, cef("rt=Dec 07 2026 05:51:13 IST"))
    with translation.override("en"):
        assert reason_text(reason) == reason
    assert parsers.ZONES_ACCEPTED in reason


def test_times_that_are_still_invalid():
    assert refusal(parsers.parse_cef, cef("rt=Foo 07 2026 05:51:13 +0700")).startswith("invalid rt: Foo 07")
    assert refusal(parsers.parse_cef, cef("rt=Feb 30 2026 05:51:13 +0700")).startswith("invalid rt: Feb 30")
    assert refusal(parsers.parse_cef, cef("rt=yesterday")) == "invalid rt: yesterday"


# --- 2. placeholders, an address with its port, severity words -----------------------------------------------------

@pytest.mark.parametrize("placeholder", ["-", "", " ", "n/a", "N/A", "null", "NULL", "none", "None", "unknown", "Unknown"])
def test_a_placeholder_address_or_port_is_no_value(placeholder):
    event = parsers.parse_ecs(ecs(source__ip=placeholder, destination__port=placeholder))
    assert (event["src_ip"], event["src_port"], event["dst_ip"], event["dst_port"]) == (None, 51000, "203.0.113.7", None)
    line = parsers.parse_cef(cef(f"rt=1796597473000 src={placeholder} spt={placeholder} dst=203.0.113.7 dpt=443"))
    assert (line["src_ip"], line["src_port"], line["dst_ip"], line["dst_port"]) == (None, None, "203.0.113.7", 443)


def test_placeholders_in_every_format_and_field():
    wazuh = {"timestamp": "2026-12-06T22:51:13Z", "rule": {"id": "5712", "level": "-", "description": "ssh"},
             "agent": {"name": "srv"}, "data": {"srcip": "N/A", "srcport": "-", "dstip": "unknown", "url": "-",
                                              "hostname": "none"}}
    event = parsers.parse_wazuh(wazuh)
    assert (event["src_ip"], event["src_port"], event["dst_ip"], event["url"], event["domain"], event["severity"]) == \
        (None, None, None, "", "", 0)
    eve = {"timestamp": "2026-12-06T22:51:13Z", "event_type": "alert", "src_ip": "-", "src_port": "-",
           "dest_ip": "203.0.113.7", "dest_port": 443, "alert": {"signature_id": 1, "severity": "N/A"},
           "http": {"hostname": "-", "url": "-"}}
    event = parsers.parse_suricata(eve)
    assert (event["src_ip"], event["src_port"], event["domain"], event["url"], event["severity"]) == (None, None, "", "", 3)
    event = parsers.parse_ecs(ecs(event__severity="-", url__full="N/A", dns__question__name="unknown",
                                  file__hash__sha256="-"))
    assert (event["severity"], event["url"], event["domain"], event["file_sha256"]) == (0, "", "", "")
    event = parsers.parse_cef(cef("rt=1796597473000 dhost=- request=- fileHash=n/a", severity="-"))
    assert (event["severity"], event["domain"], event["url"], event["file_md5"]) == (0, "", "", "")


def test_a_placeholder_time_is_a_missing_time_and_cef_reads_the_next_one():
    assert refusal(parsers.parse_ecs, ecs(**{"@timestamp": "-"})) == "missing @timestamp"
    assert refusal(parsers.parse_cef, cef("rt=- src=10.0.0.5")) == "missing time (rt, end, start or syslog timestamp)"
    assert parsers.parse_cef(cef("rt=- end=1796597473000"))["time"] == LOCAL
    assert parsers.parse_cef("<134>Dec  6 22:51:13 fw " + cef("rt=N/A"))["time"].hour == 22


@pytest.mark.parametrize("written, address, port", [
    ("1.2.3.4:443", "1.2.3.4", 443), ("[2001:db8::1]:443", "2001:db8::1", 443), ("[2001:db8::1]", "2001:db8::1", None),
    (" 10.0.0.5:8080 ", "10.0.0.5", 8080), ("2001:db8::1", "2001:db8::1", None), ("010.0.0.5", None, None),
])
def test_an_address_with_its_port_gives_the_port_when_the_port_field_is_empty(written, address, port):
    if address is None:  # a leading zero: not an address (octal or decimal?), refused as before
        assert refusal(parsers.parse_ecs, ecs(source__ip=written)) == f"invalid IP address in source.ip: {written}"
        return
    event = parsers.parse_ecs(ecs(source__ip=written, source__port=None))
    assert (event["src_ip"], event["src_port"]) == (address, port)
    line = parsers.parse_cef(cef(f"rt=1796597473000 src={written.strip()}"))
    assert (line["src_ip"], line["src_port"]) == (address, port)


def test_the_port_field_wins_over_the_port_in_the_address():
    event = parsers.parse_ecs(ecs(source__ip="1.2.3.4:443", source__port=51000))
    assert (event["src_ip"], event["src_port"]) == ("1.2.3.4", 51000)
    eve = {"timestamp": "2026-12-06T22:51:13Z", "event_type": "alert", "src_ip": "10.0.0.5:51000",
           "dest_ip": "[2001:db8::7]:8443", "alert": {"signature_id": 1, "severity": 1}}
    event = parsers.parse_suricata(eve)
    assert (event["src_ip"], event["src_port"], event["dst_ip"], event["dst_port"]) == ("10.0.0.5", 51000, "2001:db8::7", 8443)


@pytest.mark.parametrize("written, reason", [
    ("999.1.1.1", "invalid IP address in source.ip: 999.1.1.1"),
    ("999.1.1.1:443", "invalid IP address in source.ip: 999.1.1.1:443"),
    ("1.2.3.4:http", "invalid IP address in source.ip: 1.2.3.4:http"),
    ("1.2.3.4:", "invalid IP address in source.ip: 1.2.3.4:"),
    ("[2001:db8::1]:x", "invalid IP address in source.ip: [2001:db8::1]:x"),
    ("1.2.3.4:99999", "port out of range in source.ip: 99999"),
    ("--", "invalid IP address in source.ip: --"),
    ("not-an-ip", "invalid IP address in source.ip: not-an-ip"),
])
def test_truly_invalid_addresses_are_still_refused(written, reason):
    assert refusal(parsers.parse_ecs, ecs(source__ip=written)) == reason


def test_invalid_ports_and_hashes_are_still_refused():
    assert refusal(parsers.parse_ecs, ecs(source__port="http")) == "invalid port in source.port: http"
    assert refusal(parsers.parse_ecs, ecs(source__port=70000)) == "port out of range in source.port: 70000"
    assert refusal(parsers.parse_ecs, ecs(file__hash__md5="zz")) == "invalid file hash in file.hash.md5"
    assert refusal(parsers.parse_cef, cef("rt=1796597473000 spt=-1")) == "port out of range in spt: -1"


@pytest.mark.parametrize("word, severity", [
    ("low", 3), ("Low", 3), ("medium", 5), ("MEDIUM", 5), ("high", 8), ("High ", 8), ("critical", 10),
    ("Very-High", 10), ("informational", 0), ("info", 0), ("minor", 3), ("major", 8), ("warning", 5), ("error", 8),
])
def test_a_severity_word_reads_on_the_platforms_scale(word, severity):
    assert parsers.parse_ecs(ecs(event__severity=word))["severity"] == severity
    eve = {"timestamp": "2026-12-06T22:51:13Z", "event_type": "alert", "alert": {"signature_id": 1, "severity": word}}
    assert parsers.parse_suricata(eve)["severity"] == severity
    assert parsers.parse_cef(cef("rt=1796597473000", severity=word))["severity"] == severity


def test_a_label_reads_as_the_band_the_api_gives_it():
    """The one rule both ways: the value a label reads as is in the band the API's `severity=<label>` means."""
    from khien.telemetry.filters import SEVERITY_LABELS
    from khien.telemetry.models import severity_label

    for label, (lowest, highest) in SEVERITY_LABELS.items():
        value = parsers.parse_ecs(ecs(event__severity=label))["severity"]
        assert lowest <= value <= highest and severity_label(value) == label


def test_severities_that_are_still_invalid():
    assert refusal(parsers.parse_ecs, ecs(event__severity="very")) == "invalid event.severity: very"
    assert refusal(parsers.parse_ecs, ecs(event__severity="hihg")) == "invalid event.severity: hihg"
    assert refusal(parsers.parse_wazuh, {"timestamp": "2026-12-06T22:51:13Z", "rule": {"id": "1", "level": "high"}}) \
        == "invalid rule.level"
    eve = {"timestamp": "2026-12-06T22:51:13Z", "event_type": "alert", "alert": {"signature_id": 1, "severity": "x"}}
    assert refusal(parsers.parse_suricata, eve) == "invalid alert.severity"
    assert refusal(parsers.parse_cef, cef("rt=1796597473000", severity="eleven")) == "invalid CEF severity: eleven"


def test_the_whole_alert_is_kept_through_the_intake(world, make_source):
    """The SOC engineer's case: one placeholder field no longer sends the alert to the dead letters."""
    source, _key = make_source(world.ministry, "ecs")
    now = dt.datetime.now(UTC).replace(microsecond=0)
    records = [orjson.dumps(ecs(**{"@timestamp": now.isoformat(), "source__ip": "-", "event__severity": "high",
                                   "rule__id": "A"})),
               orjson.dumps(ecs(**{"@timestamp": now.isoformat(), "source__ip": "1.2.3.4:443", "source__port": "",
                                   "rule__id": "B"})),
               orjson.dumps(ecs(**{"@timestamp": now.isoformat(), "source__ip": "999.1.1.1", "rule__id": "C"}))]
    result = services.ingest_batch(source, records)
    assert (result.accepted, result.rejected) == (2, 1)
    stored = {e.rule_id: e for e in Event.objects.filter(source=source)}
    assert (stored["A"].src_ip, stored["A"].severity) == (None, 8)
    assert (stored["B"].src_ip, stored["B"].src_port) == ("1.2.3.4", 443)
    assert list(DeadLetter.objects.filter(source=source).values_list("reason", flat=True)) == [
        "invalid IP address in source.ip: 999.1.1.1"]


def test_cef_with_a_zone_through_the_intake(world, make_source):
    source, _key = make_source(world.ministry, "cef")
    at = (dt.datetime.now(UTC) - dt.timedelta(hours=1)).replace(microsecond=0)
    local = at.astimezone(dt.timezone(dt.timedelta(hours=7)))
    lines = [cef(f"rt={local:%b %d %Y %H:%M:%S} {zone} src=10.0.0.5 spt=-").encode()
             for zone in ("+0700", "ICT", "GMT+07:00", "Asia/Ho_Chi_Minh")]
    result = services.ingest_batch(source, lines + [cef(f"rt={local:%b %d %Y %H:%M:%S} IST").encode()])
    assert (result.accepted, result.rejected) == (4, 1)
    assert set(Event.objects.filter(source=source).values_list("time", flat=True)) == {at}  # one time, written 4 ways
    assert DeadLetter.objects.get(source=source).reason.startswith("ambiguous time zone in rt: IST (accepted: ")


# --- 3. where a JSON record is broken ----------------------------------------------------------------------------

def test_a_broken_json_record_says_the_character_of_the_record_not_line_1_column_1():
    _decoded, _data, reason = services.canonical("ecs", b'{"a": 1, "b": }')
    assert reason.startswith("not valid JSON: ")
    with translation.override("en"):
        assert reason_text(reason) == "not valid JSON (character 15 of the record)"
        assert "line" not in reason_text(reason)
