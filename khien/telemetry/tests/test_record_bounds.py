"""What a record may carry to be stored: a host name that is a name (not digits), and a time within the accepted
window (services.EARLIEST_EVENT_TIME … arrival + EVENT_TIME_LEAD) — the same rule for the four formats and the
three ways in (HTTP intake, NATS worker, `khien ingest FILE`)."""
import datetime as dt
import io

import orjson
import pytest
from django.core.management import call_command
from django.utils import timezone, translation

from khien.telemetry import parsers, services
from khien.telemetry.models import DeadLetter, Event
from khien.telemetry.parsers import ParseError

from .conftest import intake_counts
from .test_api import INTAKE, source_client
from .test_nats import jetstream  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


def record(format: str, when, domain: str | None = None, rule: str = "r1"):
    """A minimal alert of `format` dated `when` (text or number), naming `domain` where that format puts it."""
    if format == "wazuh":
        return {"timestamp": when, "rule": {"id": rule, "level": 5}, "data": {"hostname": domain} if domain else {}}
    if format == "suricata":
        return {"event_type": "alert", "timestamp": when, "alert": {"signature_id": rule, "severity": 2},
                **({"http": {"hostname": domain, "url": "/x"}} if domain else {})}
    if format == "ecs":
        return {"@timestamp": when, "rule": {"id": rule}, **({"url": {"domain": domain}} if domain else {})}
    return f"CEF:0|V|P|1|{rule}|name|5|rt={when}" + (f" dhost={domain}" if domain else "")


FORMATS = ("wazuh", "suricata", "ecs", "cef")
DOMAIN_FIELDS = {"wazuh": "data.hostname", "suricata": "http.hostname/dns.rrname",
                 "ecs": "dns.question.name/url.domain", "cef": "dhost"}


# --- 1. host names that are digits -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["256.256.256.256", "10.0.0.300", "1.2.3.4.5", "999.1", "12345", "010.0.0.1",
                                   "host.123", "256.256.256.256."])
def test_a_name_ending_in_digits_is_an_invalid_domain(value):
    with pytest.raises(ParseError) as info:
        parsers.parse_domain(value, "f")
    assert info.value.reason == f"invalid domain in f: {value.rstrip('.')}"


def test_an_address_where_a_name_belongs_is_no_domain_and_names_with_digits_stay_names():
    assert parsers.parse_domain("203.0.113.7", "f") == ""  # an HTTP Host header sent to an address
    for literal in ("2001:db8::7", "[2001:DB8::7]", "[2001:db8::7]:8443", "[::ffff:203.0.113.7]"):
        assert parsers.parse_domain(literal, "f") == ""  # the same, to an IPv6 address (in brackets as in a URL)
    for bad in ("[2001:db8::7", "[2001:db8::7]x", "2001:db8::7::1", "[host.example]", "host:8080"):
        with pytest.raises(ParseError):
            parsers.parse_domain(bad, "f")
    for name in ("1password.com", "123.example", "a1.b2.c3", "host-01", "xn--p1ai", "win-pc01.corp"):
        assert parsers.parse_domain(name, "f") == name


@pytest.mark.parametrize("format", FORMATS)
def test_an_all_numeric_domain_is_a_dead_letter_in_every_format(make_source, format):
    source, _key = make_source(format=format)
    result = services.ingest_batch(source, [record(format, "2026-11-24T14:00:00Z", "256.256.256.256"),
                                            record(format, "2026-11-24T14:00:00Z", "203.0.113.7", rule="r2"),
                                            record(format, "2026-11-24T14:00:00Z", "ok.example", rule="r3"),
                                            record(format, "2026-11-24T14:00:00Z", "[2001:db8::7]", rule="r4")])
    assert (result.accepted, result.rejected) == (3, 1)
    assert DeadLetter.objects.get().reason == f"invalid domain in {DOMAIN_FIELDS[format]}: 256.256.256.256"
    assert dict(Event.objects.values_list("rule_id", "domain")) == {"r2": "", "r3": "ok.example", "r4": ""}


# --- 2. the accepted window of times -------------------------------------------------------------------------


def iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def refused_times():
    """(value as sent, reason) for every format; JSON formats also get epoch numbers."""
    ahead = timezone.now().replace(microsecond=0) + dt.timedelta(days=2)
    return [
        ("1970-01-01T00:00:00Z", "time before 2000-01-01: 1970-01-01T00:00:00+00:00"),
        ("1999-12-31T23:59:59Z", "time before 2000-01-01: 1999-12-31T23:59:59+00:00"),
        ("2200-01-01T00:00:00Z", "time more than 24 hours ahead of arrival: 2200-01-01T00:00:00+00:00"),
        (iso(ahead), f"time more than 24 hours ahead of arrival: {ahead.isoformat()}"),
        ("7258118400000", "time more than 24 hours ahead of arrival: 2200-01-01T00:00:00+00:00"),  # epoch ms
    ]


@pytest.mark.parametrize("format", FORMATS)
def test_times_outside_the_window_are_dead_letters_in_every_format(make_source, format):
    source, _key = make_source(format=format)
    refused = refused_times()
    if format != "cef":  # a JSON number: epoch seconds 0
        refused.append((0, "time before 2000-01-01: 1970-01-01T00:00:00+00:00"))
    accepted = ["2000-01-01T00:00:00Z", iso(timezone.now() + dt.timedelta(hours=23))]
    records = [record(format, value, rule=f"bad{n}") for n, (value, _reason) in enumerate(refused)]
    records += [record(format, value, rule=f"good{n}") for n, value in enumerate(accepted)]
    result = services.ingest_batch(source, records)
    assert (result.accepted, result.rejected) == (2, len(refused))
    assert result.reasons == [reason for _value, reason in refused]
    assert sorted(DeadLetter.objects.values_list("reason", flat=True)) == sorted(r for _v, r in refused)
    assert sorted(Event.objects.values_list("rule_id", flat=True)) == ["good0", "good1"]
    assert Event.objects.order_by("time").first().time == dt.datetime(2000, 1, 1, tzinfo=UTC)


def test_a_record_refused_for_a_clock_ahead_is_stored_when_read_again_later(make_source, world, monkeypatch):
    """The window is counted from the arrival of each reading: once its time has come, the record is stored."""
    source, _key = make_source(format="wazuh")
    ahead = timezone.now() + dt.timedelta(days=1, minutes=1)
    services.ingest_batch(source, [record("wazuh", ahead.isoformat())])
    letter = DeadLetter.objects.get()
    assert letter.reason.startswith("time more than 24 hours ahead of arrival")
    DeadLetter.objects.filter(pk=letter.pk).update(received_at=ahead - dt.timedelta(days=1))
    # Read again once the device's time is no longer more than a day ahead (a later arrival, here simulated by
    # moving the window's start: the rule compares with the time of each reading).
    monkeypatch.setattr(services, "EVENT_TIME_LEAD", dt.timedelta(days=2))
    result = services.do_reprocess_dead_letters(source, acting_user=world.admin)
    assert result.stored == 1 and not DeadLetter.objects.exists() and Event.objects.count() == 1


def test_the_reasons_read_in_the_readers_language():
    with translation.override("en"):
        assert parsers.reason_text("time before 2000-01-01: 1970-01-01T00:00:00+00:00") == \
            "time before 2000-01-01: 1970-01-01T00:00:00+00:00"
    with translation.override("vi"):
        assert parsers.reason_text("time before 2000-01-01: 1970-01-01T00:00:00+00:00") != \
            "time before 2000-01-01: 1970-01-01T00:00:00+00:00"
        assert parsers.reason_text("time more than 24 hours ahead of arrival: 2200-01-01T00:00:00+00:00") != \
            "time more than 24 hours ahead of arrival: 2200-01-01T00:00:00+00:00"


def test_the_http_intake_applies_the_window(make_source):
    source, key = make_source(format="ecs")
    response = source_client(key).post(INTAKE, data=orjson.dumps([
        record("ecs", 0), record("ecs", "2200-01-01T00:00:00Z", rule="r2"), record("ecs", "2026-11-24T14:00:00Z",
                                                                                   domain="1.1.1.300", rule="r3"),
        record("ecs", "2026-11-24T14:00:00Z", rule="r4")]), content_type="application/json")
    assert response.status_code == 202, response.content
    assert intake_counts(response) == {"accepted": 1, "duplicates": 0, "rejected": 3}
    assert Event.objects.get().rule_id == "r4"


@pytest.mark.django_db(transaction=True)  # `khien ingest` writes from a second thread
def test_khien_ingest_file_applies_the_window(make_source, tmp_path):
    make_source(format="cef", name="fw-bounds")
    path = tmp_path / "replay.log"
    path.write_text("\n".join([record("cef", "1970-01-01T00:00:01Z"), record("cef", "7258118400000", rule="r2"),
                               record("cef", "2026-11-24T14:00:00Z", rule="r3")]) + "\n")
    out = io.StringIO()
    call_command("ingest", str(path), "--source", "fw-bounds", "--quiet", stdout=out, stderr=io.StringIO())
    assert out.getvalue().strip() == "accepted 1 duplicates 0 rejected 2"
    assert sorted(DeadLetter.objects.values_list("reason", flat=True)) == [
        "time before 2000-01-01: 1970-01-01T00:00:01+00:00",
        "time more than 24 hours ahead of arrival: 2200-01-01T00:00:00+00:00"]


@pytest.mark.nats
def test_the_nats_worker_applies_the_window(jetstream, make_source):  # noqa: F811
    from khien.telemetry import nats as transport

    source, key = make_source(format="suricata")
    transport.ensure_stream(jetstream)
    lines = [orjson.dumps(record("suricata", value, rule=f"r{n}")) for n, value in
             enumerate((0, "2200-01-01T00:00:00+00:00", "2026-11-24T14:00:00+00:00"))]
    transport.publish(source, lines, key=key, link=jetstream)
    stats = transport.Worker(jetstream, batch=100).run(idle_exit=True)
    assert (stats.messages, stats.accepted, stats.rejected) == (3, 1, 2)
    assert Event.objects.get().rule_id == "r2"
    assert sorted(DeadLetter.objects.values_list("reason", flat=True)) == [
        "time before 2000-01-01: 1970-01-01T00:00:00+00:00",
        "time more than 24 hours ahead of arrival: 2200-01-01T00:00:00+00:00"]


@pytest.mark.parametrize("text, today, expected", [
    ("Dec 31 23:59:59", dt.date(2027, 1, 1), dt.datetime(2026, 12, 31, 23, 59, 59)),  # read after new year
    ("Jan  1 00:30:00", dt.date(2026, 12, 31), dt.datetime(2027, 1, 1, 0, 30)),  # a device 7 hours ahead of UTC
    ("Nov 24 14:03:11", dt.date(2026, 12, 5), dt.datetime(2026, 11, 24, 14, 3, 11)),
    ("Nov 24 2020 14:03:11", dt.date(2026, 12, 5), dt.datetime(2020, 11, 24, 14, 3, 11)),  # a year written wins
])
def test_a_syslog_time_without_a_year_takes_the_nearest_year(text, today, expected):
    assert parsers._parse_legacy_time(text, today) == expected
