"""Walkthrough fix: `khien simulate` makes each tool speak its own language — a Suricata sensor raises Emerging
Threats signatures (sids, classtypes), Wazuh its own rules (sshd, web, syscheck, Windows), the SIEM its detection
rules, the FortiGate its FortiGuard signatures — never another tool's rule (no "sshd: brute force" from Suricata).
The campaigns that hit the demo's indicators, and the ransomware wave, still reach several organizations."""
import datetime as dt
import json
import random

import pytest
from django.utils import timezone

from khien.telemetry import simulate
from khien.telemetry.services import PARSERS

FORMATS = ("wazuh", "suricata", "ecs", "cef")


def _parsed(fmt, raw):
    decoded = raw.decode() if fmt == "cef" else json.loads(raw)
    return decoded, PARSERS[fmt](decoded)


def _records(fmt, n=300, seed=4):
    rng = random.Random(seed)
    now = timezone.now()
    for i in range(n):
        spec = simulate.noise_spec(rng, now - dt.timedelta(minutes=i), 2, "sensor-01")
        yield _parsed(fmt, simulate.WRITERS[fmt](spec, rng))


def test_suricata_raises_emerging_threats_signatures_only():
    seen = set()
    for record, event in _records("suricata"):
        alert = record["alert"]
        assert alert["signature"].startswith("ET ") and 2000000 <= alert["signature_id"] < 3000000
        assert alert["category"] in {"Attempted Information Leak", "Misc Attack", "Misc activity"}
        assert alert["severity"] in (2, 3) and event["severity"] < 8  # noise: below a rule campaign
        assert event["rule_name"] == alert["signature"] and event["rule_id"] == str(alert["signature_id"])
        seen.add(alert["signature"])
    assert len(seen) >= 5
    assert not any(word in name for name in seen for word in ("sshd", "Windows", "Logon", "syscheck"))


def test_wazuh_raises_its_own_rules():
    known = {"5710", "5712", "5716", "31103", "31151", "60122", "60204", "550", "554"}
    ids = set()
    for record, event in _records("wazuh"):
        assert record["rule"]["id"] in known and not record["rule"]["description"].startswith("ET ")
        assert 0 <= record["rule"]["level"] <= 15 and event["severity"] < 8
        groups = record["rule"]["groups"]
        if "sshd" in groups:  # an sshd rule reads the auth log and names the user tried
            assert record["location"] == "/var/log/auth.log" and record["data"]["dstuser"]
        ids.add(record["rule"]["id"])
    assert {"5712", "31103", "554"} <= ids


def test_the_siem_raises_detection_rules_with_ecs_categories():
    ecs_categories = {"authentication", "network", "web", "malware", "process", "threat"}
    for record, event in _records("ecs"):
        assert record["event"]["category"][0] in ecs_categories
        assert not record["rule"]["name"].startswith(("ET ", "sshd", "IPS:"))
        assert event["severity"] < 8


def test_the_firewall_is_a_fortigate_named_by_its_signatures():
    for line, event in _records("cef"):
        assert "CEF:0|Fortinet|Fortigate|" in line
        header_name = line.split("|")[5]
        assert header_name in {"utm:ips signature", "utm:virus infected"}
        # The alert is the FortiGuard signature, not the generic log name (parsers: `_cef_signature`).
        assert event["rule_name"] != header_name and " " not in event["rule_name"] and event["severity"] < 8


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_wave_and_the_campaigns_read_the_same_in_every_tool(fmt):
    rng = random.Random(3)
    wave = _parsed(fmt, simulate.WRITERS[fmt](simulate.wave_spec(rng, timezone.now(), 1, "h"), rng))[1]
    assert wave["rule_id"] == simulate.WAVE_RULE[0] and wave["severity"] >= 8  # a rule campaign
    url = "http://cap-nhat.example.vn/tai-ve/cap-nhat.exe"
    event = _parsed(fmt, simulate.WRITERS[fmt](simulate.campaign_spec(rng, timezone.now(), 1, "h", "url", url), rng))[1]
    assert event["url"] == url and event["domain"] == "cap-nhat.example.vn" and event["severity"] < 8


def test_a_sensor_speaks_its_own_tool_whatever_the_organization(world, make_source):
    """Sources of every format at several organizations: each source's records are of its own tool's rules."""
    sources = [make_source(org, fmt)[0] for org in (world.ministry, world.province, world.department, world.commune)
               for fmt in FORMATS]
    sim = simulate.Simulator(sources, seed=11, campaign_share=0.2)
    now = timezone.now()
    own = {fmt: {r.name for r in simulate.RULES[fmt].values()} | {simulate.WAVE_RULE[1]} for fmt in FORMATS}
    for source in sources:
        for raw in sim.batch(source, 60, now - dt.timedelta(hours=1), now):
            decoded = raw.decode() if source.format == "cef" else json.loads(raw)
            name = {"wazuh": lambda r: r["rule"]["description"], "suricata": lambda r: r["alert"]["signature"],
                    "ecs": lambda r: r["rule"]["name"], "cef": lambda r: r.split("|")[5]}[source.format](decoded)
            assert name in own[source.format] or (source.format == "cef" and name.startswith("utm:")), name
