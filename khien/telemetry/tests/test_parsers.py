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


# --- edge cases of the fast paths ------------------------------------------------------------

WAZUH = {"timestamp": "2026-11-24T14:03:11.482+0000", "rule": {"id": "5712", "level": 10, "groups": ["sshd"]}}
ECS = {"@timestamp": "2026-11-24T07:35:45Z", "rule": {"id": "r1"}}


def reason(fmt, record):
    with pytest.raises(ParseError) as info:
        parsers.PARSERS[fmt](record)
    return info.value.reason


@pytest.mark.parametrize("text, expected", [
    (r"a=x\=y b=c:\\tmp\\ c=1\n2\r3 d=\q", {"a": "x=y", "b": "c:\\tmp\\", "c": "1\n2\r3", "d": "q"}),
    ("a=trailing\\", {"a": "trailing\\"}),
    ("a=1   b=2  ", {"a": "1", "b": "2"}),  # spaces before a key or at the end are dropped
    ("a=1\tb=2 \tc=3", {"a": "1\t", "b": "2 \t", "c": "3"}),  # other whitespace stays in the value
    (" a=x y=z", {"a": "x", "y": "z"}),
    ("a=b=c d==e", {"a": "b=c", "d": "=e"}),
    ("u=http://h/p?q=1&r=2 x[0]=1 .-_=2", {"u": "http://h/p?q=1&r=2", "x[0]": "1", ".-_": "2"}),
    ("a=1 a=2 b=3", {"a": "2", "b": "3"}),
    (r"a\=1 b=2", None), ("", {}), ("   ", {}),
])
def test_cef_extension_edge_cases(text, expected):
    if expected is None:
        with pytest.raises(ParseError, match="not key=value"):
            parsers.parse_cef_extension(text)
    else:
        assert parsers.parse_cef_extension(text) == expected


def test_cef_times_from_the_extension_or_the_syslog_prefix():
    head = "CEF:0|V|P|1|sig|name|Low|"
    assert parsers.parse_cef(head + "rt=1795315928010")["time"] == dt.datetime(2026, 11, 22, 2, 52, 8, 10000, tzinfo=UTC)
    assert parsers.parse_cef(head + "end=1795315928")["time"] == dt.datetime(2026, 11, 22, 2, 52, 8, tzinfo=UTC)
    assert parsers.parse_cef(head + "rt= start=Nov 24 2026 14:03:11.25 UTC")["time"] == dt.datetime(
        2026, 11, 24, 14, 3, 11, 250000, tzinfo=UTC)
    assert parsers.parse_cef("<134>1 2026-11-24T21:45:10+07:00 fw app - - - " + head + "src=10.0.0.1")["time"] == \
        dt.datetime(2026, 11, 24, 14, 45, 10, tzinfo=UTC)
    this_year = dt.datetime.now(UTC).year
    assert parsers.parse_cef("<134>Nov  4 14:03:11 fw " + head)["time"] == dt.datetime(this_year, 11, 4, 14, 3, 11, tzinfo=UTC)
    event = parsers.parse_cef(head + "rt=1795315928010 dhost= destinationDnsDomain=Bad.Example. fileHash=SHA1:" + "A" * 40)
    assert (event["severity"], event["domain"], event["file_sha1"], event["observer"]) == (3, "bad.example", "a" * 40, "V P")


@pytest.mark.parametrize("value, expected", [
    ("2026-11-24T14:03:11.482+0700", dt.datetime(2026, 11, 24, 7, 3, 11, 482000, tzinfo=UTC)),
    ("2026-11-24T14:03:11-05:30", dt.datetime(2026, 11, 24, 19, 33, 11, tzinfo=UTC)),
    ("2026-11-24 14:03:11", dt.datetime(2026, 11, 24, 14, 3, 11, tzinfo=UTC)),
    (" 2026-11-24T14:03:11Z ", dt.datetime(2026, 11, 24, 14, 3, 11, tzinfo=UTC)),
    ("1795315928", dt.datetime(2026, 11, 22, 2, 52, 8, tzinfo=UTC)),
    (" 1795315928.5 ", dt.datetime(2026, 11, 22, 2, 52, 8, 500000, tzinfo=UTC)),
    (1795315928010, dt.datetime(2026, 11, 22, 2, 52, 8, 10000, tzinfo=UTC)),
    ("Nov 24 2026 14:03:11", dt.datetime(2026, 11, 24, 14, 3, 11, tzinfo=UTC)),
])
def test_times(value, expected):
    assert parsers.parse_time(value) == expected


@pytest.mark.parametrize("value, message", [
    (None, "missing timestamp"), ("", "missing timestamp"), (True, "invalid timestamp"), ([], "invalid timestamp"),
    ({"a": 1}, "invalid timestamp"), (float("nan"), "invalid timestamp"),
    pytest.param(10 ** 400, "invalid timestamp", id="int-too-large-for-a-float"),
    ("20261124T25", "invalid timestamp: 20261124T25"), ("Feb 30 2026 10:00:00", "invalid timestamp: Feb 30 2026 10:00:00"),
    ("0001-01-01T00:00:00+01:00", "timestamp out of range: 0001-01-01T00:00:00+01:00"),
])
def test_bad_times(value, message):
    with pytest.raises(ParseError) as info:
        parsers.parse_time(value)
    assert info.value.reason == message


def test_addresses_domains_and_hashes():
    assert parsers.parse_ip("fe80::1%eth0", "f") == "fe80::1" and parsers.parse_ip("2001:DB8:0::15", "f") == "2001:db8::15"
    assert parsers.parse_ip(" 10.0.0.1 ", "f") == "10.0.0.1"
    for bad in ("010.0.0.1", "10.0.0.300", ["10.0.0.1"], True, 167772161):
        with pytest.raises(ParseError, match="invalid IP address in f"):
            parsers.parse_ip(bad, "f")
    assert parsers.parse_domain("пример.Example.", "f") == "xn--e1afmkfd.example"
    assert parsers.parse_domain("пример.Example.", "f") == "xn--e1afmkfd.example"  # cached: the same answer
    with pytest.raises(ParseError) as info:
        parsers.parse_domain("a b.example", "f")
    assert info.value.reason == "invalid domain in f: a b.example"
    for not_text in (True, 0, 1.5, ["evil.example"], {"name": "evil.example"}):  # read as "true", "0", …
        with pytest.raises(ParseError) as info:
            parsers.parse_domain(not_text, "f")
        assert info.value.reason == "invalid domain in f"
    assert parsers.parse_domain(None, "f") == "" == parsers.parse_domain("", "f")
    assert parsers.parse_hash("SHA256:" + "AB" * 32, "f") == ("file_sha256", "ab" * 32)
    assert parsers.parse_hash(" md5:" + "0f" * 16 + " ", "f") == ("file_md5", "0f" * 16)
    for bad in ("g" * 32, "０" * 32, "0x" + "a" * 30, "a" * 33, "ab " * 16, 12345):
        with pytest.raises(ParseError, match="invalid file hash in f"):
            parsers.parse_hash(bad, "f")


def test_ecs_flat_dotted_keys_and_nested_objects_read_alike():
    nested = {**ECS, "source": {"ip": "10.0.0.1", "port": "80"}, "url": {"full": "http://x/"},
              "file": {"hash": {"md5": "A" * 32}}, "event": {"severity": 7, "category": ["network"]}}
    flat = {**ECS, "source.ip": "10.0.0.1", "source.port": "80", "url.full": "http://x/", "file.hash.md5": "A" * 32,
            "event": {"severity": 7}, "event.category": ["network"]}
    assert parsers.parse_ecs(nested) == parsers.parse_ecs(flat)
    assert parsers.parse_ecs({**nested, "source.ip": "10.0.0.2"})["src_ip"] == "10.0.0.2"  # the flat key wins
    # A value that is not an object where one belongs reads as missing, as `dig` reads it.
    odd = {**ECS, "url": "http://x/", "file": {"hash": ["a" * 32]}, "host": 5, "dns": {"question": "q"}, "rule": {"id": "r"}}
    assert parsers._ecs_values(odd) == tuple(parsers.dig(odd, path) for path in parsers._ECS_PATHS)
    event = parsers.parse_ecs(odd)
    assert (event["url"], event["file_md5"], event["observer"], event["domain"]) == ("", "", "", "")
    assert parsers.parse_ecs({**ECS, "event": {"severity": 0, "kind": ""}, "observer": {"name": 0}})["observer"] == "0"


@pytest.mark.parametrize("groups, category", [
    (["sshd", "Authentication_failed"], "authentication"), ([["web"], "IDS", 5], "intrusion_detection"),
    ({"Firewall_drop": 1}, "network"), ([], ""), (None, ""),
    (["X" * 50], "x" * 40),
])
def test_wazuh_categories(groups, category):
    assert parsers.parse_wazuh({**WAZUH, "rule": {**WAZUH["rule"], "groups": groups}})["category"] == category
    assert parsers.parse_wazuh({**WAZUH, "rule": {**WAZUH["rule"], "groups": groups}})["category"] == category  # cached


def test_wrong_types_are_parse_errors_not_crashes():
    assert reason("wazuh", {**WAZUH, "rule": {**WAZUH["rule"], "groups": 5}}) == "invalid rule.groups"
    assert reason("wazuh", {**WAZUH, "rule": {**WAZUH["rule"], "level": [1]}}) == "invalid rule.level"
    assert reason("wazuh", {**WAZUH, "data": {"srcport": [80]}}) == "invalid port in data.srcport: [80]"
    assert reason("ecs", {**ECS, "event": {"severity": {"x": 1}}}) == "invalid event.severity: {'x': 1}"
    assert reason("ecs", {**ECS, "source": {"ip": {"v": 4}}}) == "invalid IP address in source.ip: {'v': 4}"
    assert reason("ecs", {**ECS, "file": {"hash": {"sha1": 1.5}}}) == "invalid file hash in file.hash.sha1"
    suricata = {"event_type": "alert", "timestamp": 1795315928, "alert": {"signature_id": 1, "severity": float("inf")}}
    assert reason("suricata", suricata) == "invalid alert.severity"
    assert reason("suricata", {**suricata, "alert": {"signature_id": 1}, "dest_port": True}) == "invalid port in dest_port: True"
    assert reason("cef", 42) == "CEF record is not a text line"
