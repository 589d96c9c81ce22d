"""Walkthrough fix: an ECS record's severity reads as an Elastic user means it. Elastic Security writes an alert's
severity as a word (kibana.alert.severity, 7.x signal.rule.severity: low, medium, high, critical) and a risk score
on 0–100 (kibana.alert.risk_score: its prebuilt rules use 21, 47, 73, 99); many ECS producers write event.severity
on 0–100 too. A "medium" alert (47) used to be clamped to 10 ("critical"), which swelled the national "high or
critical not closed" figures and raised rule campaigns (severity 8 or more) from everyday alerts.

The rule (parsers._ecs_severity): the alert's severity in words first, else a 0–100 risk score divided by 10, else
event.severity — 0–10 as is, above 10 read as 0–100 (divided by 10)."""
import datetime as dt
import json
import random

import orjson
import pytest
from django.utils import timezone, translation

from khien.telemetry import parsers, services, simulate
from khien.telemetry.models import Alert, DeadLetter, Event
from khien.telemetry.parsers import ParseError
from khien.telemetry.severity import severity_label

from .conftest import sample_lines

UTC = dt.timezone.utc


def parse(line):
    """A line as the intake reads it (JSON decoding included), then the ECS parser."""
    decoded, _data, reason = services.canonical("ecs", line)
    if reason:
        raise ParseError(reason)
    return parsers.parse_ecs(decoded)


def record(**parts) -> dict:
    """An ECS alert; `a__b=value` sets the nested field a.b, a None value removes it."""
    rec = {"@timestamp": "2026-12-07T02:14:09Z", "event": {"kind": "alert", "severity": 5},
           "source": {"ip": "203.0.113.45"}, "rule": {"id": "siem-1", "name": "Outbound"}}
    for dotted, value in parts.items():
        target = rec
        *path, last = dotted.split("__")
        for part in path:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return rec


def severity(**parts) -> int:
    return parsers.parse_ecs(record(**parts))["severity"]


def refusal(rec) -> str:
    with pytest.raises(ParseError) as info:
        parsers.parse_ecs(rec)
    return info.value.reason


def nested(flat: dict) -> dict:
    """The same document with every dotted key written as nested objects (how some pipelines re-index alerts)."""
    out: dict = {}
    for key, value in flat.items():
        target = out
        *path, last = key.split(".")
        for part in path:
            target = target.setdefault(part, {})
        if isinstance(value, dict) and isinstance(target.get(last), dict):
            target[last].update(value)
        else:
            target[last] = value
    return out


# --- Elastic Security alert documents, as Elastic writes them --------------------------------------------------

def test_elastic_8_alerts_read_their_own_severity_and_rule():
    ssh, endpoint, _signal = [parse(line) for line in sample_lines("elastic_security_alerts.ndjson")]
    # "medium" / 47: medium, not critical. The alert's rule is the detection rule (the document has no rule.*).
    assert ssh["severity"] == 5 and severity_label(ssh["severity"]) == "medium"
    assert ssh["rule_id"] == "1c27fa22-7727-4dd3-81c0-de6da5555feb"
    assert ssh["rule_name"] == "Potential Internal Linux SSH Brute Force Detected"
    assert (ssh["kind"], ssh["category"], ssh["src_ip"], ssh["src_port"]) == ("signal", "authentication",
                                                                              "203.0.113.45", 52144)
    assert ssh["time"] == dt.datetime(2026, 12, 7, 2, 14, 9, 512000, tzinfo=UTC)
    # An Elastic Defend alert carries the endpoint's event.severity 73 too: the alert's own "high" wins (8, the
    # value of the band "high" everywhere on the platform), not 10 as before.
    assert endpoint["severity"] == 8 and endpoint["rule_name"] == "Malware Detection Alert"
    assert endpoint["file_sha256"].startswith("275a021b") and endpoint["dst_ip"] == "198.51.100.23"


def test_elastic_7_signals_read_signal_rule_severity():
    *_, signal = [parse(line) for line in sample_lines("elastic_security_alerts.ndjson")]
    # signal.rule.severity "critical" wins over the copied source event's event.severity 2.
    assert signal["severity"] == 10
    assert (signal["rule_id"], signal["rule_name"]) == ("0d69150b-96f8-467c-a86d-a67a3378ce77",
                                                        "Threat Intel Indicator Match")


def test_an_alert_reads_the_same_nested_or_dotted():
    for line in sample_lines("elastic_security_alerts.ndjson"):
        flat = json.loads(line)
        assert parsers.parse_ecs(nested(flat)) == parse(line)
    ssh = json.loads(sample_lines("elastic_security_alerts.ndjson")[0])
    assert nested(ssh)["kibana"]["alert"]["severity"] == "medium"  # the helper did nest it


@pytest.mark.parametrize("word, risk, expected", [
    ("low", 21, 3), ("medium", 47, 5), ("high", 73, 8), ("critical", 99, 10),
    ("Medium", 60, 5), ("HIGH", None, 8),
])
def test_kibana_alert_severity_reads_as_the_platforms_band(word, risk, expected):
    alert = record(**{"kibana.alert.severity": word, "kibana.alert.risk_score": risk, "event__severity": None})
    value = parsers.parse_ecs(alert)["severity"]
    assert value == expected and severity_label(value) == word.lower()


@pytest.mark.parametrize("risk, expected, band", [(21, 2, "low"), (47, 5, "medium"), (73, 7, "high"),
                                                  (99, 10, "critical"), (100, 10, "critical"), (0, 0, "low")])
def test_a_risk_score_alone_is_read_on_0_to_100(risk, expected, band):
    for field in ("kibana.alert.risk_score", "signal.rule.risk_score", "event.risk_score_norm", "event.risk_score"):
        alert = record(event__severity=None)
        alert[field] = risk
        value = parsers.parse_ecs(alert)["severity"]
        assert value == expected and severity_label(value) == band, field
    # Elastic's four risk scores fall in the bands of Elastic's four words.
    assert severity(event__risk_score=risk, event__severity=3) == expected  # the risk score wins over 0–10


# --- ECS records: event.severity and the event risk scores -------------------------------------------------------

@pytest.mark.parametrize("written, expected", [
    (47, 5), (73, 7), (99, 10), (100, 10), (47.0, 5), ("73", 7), (250, 10), (11, 1),   # 0–100
    (0, 0), (3, 3), (7, 7), (10, 10), (7.4, 7), ("8", 8),                              # 0–10 as is
    ("high", 8), ("Medium", 5), ("critical", 10), ("informational", 0),                # words
])
def test_event_severity_on_0_to_10_or_0_to_100(written, expected):
    assert severity(event__severity=written) == expected


def test_no_severity_reads_0():
    assert severity(event__severity=None) == 0
    assert severity(event=None) == 0
    assert severity(event__severity="-") == 0  # a placeholder, as before


def test_which_severity_wins():
    # A word first: the alert's own, then event.severity's.
    assert severity(**{"kibana.alert.severity": "low", "kibana.alert.risk_score": 99, "event__severity": 9}) == 3
    assert severity(**{"kibana.alert.severity": "critical", "signal__rule__severity": "low"}) == 10
    assert severity(event__severity="high", event__risk_score=21) == 8
    # Then a risk score: the alert's, then event.risk_score_norm (0–100 by ECS's definition), then event.risk_score.
    assert severity(**{"kibana.alert.risk_score": 73, "event__risk_score_norm": 21}) == 7
    assert severity(event__risk_score_norm=47, event__risk_score=99, event__severity=10) == 5
    # A placeholder is no value: the next one is read.
    assert severity(**{"kibana.alert.severity": "-", "kibana.alert.risk_score": 47}) == 5
    assert severity(event__risk_score="", event__severity=4) == 4
    # Dotted keys read as nested ones.
    flat = record(event=None)
    flat.update({"event.kind": "alert", "event.severity": 73, "event.risk_score_norm": 47})
    assert parsers.parse_ecs(flat)["severity"] == 5


# --- broken values: refused with the field's name, as before, or read as 0 ------------------------------------------

@pytest.mark.parametrize("parts, reason", [
    ({"event__severity": "bogus"}, "invalid event.severity: bogus"),
    ({"event__severity": True}, "invalid event.severity: True"),
    ({"event__severity": False}, "invalid event.severity: False"),
    ({"event__severity": [73]}, "invalid event.severity: [73]"),
    ({"event__severity": "inf"}, "invalid event.severity: inf"),
    ({"event__severity": float("nan")}, "invalid event.severity: nan"),
    ({"kibana.alert.severity": "urgent"}, "invalid kibana.alert.severity: urgent"),
    ({"kibana.alert.severity": True}, "invalid kibana.alert.severity: True"),
    ({"kibana.alert.risk_score": "abc"}, "invalid kibana.alert.risk_score: abc"),
    ({"event__risk_score_norm": {"x": 1}}, "invalid event.risk_score_norm: {'x': 1}"),
    ({"signal__rule__risk_score": "1e999"}, "invalid signal.rule.risk_score: 1e999"),
])
def test_broken_severities_are_refused_with_the_field(parts, reason):
    assert refusal(record(**parts)) == reason


def test_a_negative_severity_or_score_reads_0():
    assert severity(event__severity=-5) == 0
    assert severity(event__severity="-47") == 0
    assert severity(**{"kibana.alert.risk_score": -3}) == 0


# --- through the intake: what the SOC and the national dashboard see ---------------------------------------------

def test_elastic_alerts_through_the_intake(world, make_source):
    source, _key = make_source(world.ministry, "ecs")
    now = timezone.now().replace(microsecond=0)
    lines = []
    for i, line in enumerate(sample_lines("elastic_security_alerts.ndjson")):
        rec = json.loads(line)
        rec["@timestamp"] = (now - dt.timedelta(minutes=i)).isoformat()
        lines.append(orjson.dumps(rec))
    lines.append(orjson.dumps(record(**{"@timestamp": now.isoformat(), "event__severity": 47, "rule__id": "r47"})))
    lines.append(orjson.dumps(record(**{"@timestamp": now.isoformat(), "event__severity": True, "rule__id": "rb"})))
    result = services.ingest_batch(source, lines)
    assert (result.accepted, result.rejected) == (4, 1), result.reasons
    by_rule = dict(Event.objects.filter(source=source).values_list("rule_name", "severity"))
    assert by_rule == {"Potential Internal Linux SSH Brute Force Detected": 5, "Malware Detection Alert": 8,
                       "Threat Intel Indicator Match": 10, "Outbound": 5}
    assert sorted(Alert.objects.filter(source=source).values_list("severity", flat=True)) == [5, 5, 8, 10]
    assert DeadLetter.objects.get(source=source).reason == "invalid event.severity: True"
    with translation.override("vi"):  # the operator reads the reason in their language, the field as written
        assert parsers.reason_text("invalid kibana.alert.severity: urgent") == \
            "kibana.alert.severity không hợp lệ: urgent"


# --- the usual records read as before; the simulator's SIEM reads as it means ----------------------------------

def test_the_usual_records_read_as_before():
    for line, expected in zip(sample_lines("ecs_alerts.ndjson"), (7, 9, 4)):
        assert parse(line)["severity"] == expected


def test_the_simulated_siem_reads_its_own_levels():
    """`khien simulate` writes ECS event.severity on 0–10 (its rules' levels): each reads as written, so its noise
    stays below a rule campaign and only the wave reaches one."""
    rng = random.Random(5)
    now = timezone.now()
    specs = [simulate.noise_spec(rng, now - dt.timedelta(minutes=i), 1, "siem-01") for i in range(200)]
    specs.append(simulate.wave_spec(rng, now, 1, "siem-01"))
    levels = set()
    for spec in specs:
        raw = json.loads(simulate.WRITERS["ecs"](spec, rng))
        assert 0 <= raw["event"]["severity"] <= 10
        assert parsers.parse_ecs(raw)["severity"] == raw["event"]["severity"]
        levels.add(raw["event"]["severity"])
    assert max(levels) == 10 and len(levels) >= 3
