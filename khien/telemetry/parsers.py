"""One parser per source format, each turning a record into the normalized event dict.

The normalized schema follows Elastic Common Schema names, flattened:

    time (aware UTC datetime)    @timestamp
    kind, category               event.kind, event.category (first value)
    severity (int 0–10)          event.severity, mapped from the tool's own scale
    observer                     observer.name / agent / sensor
    src_ip, src_port             source.ip, source.port
    dst_ip, dst_port             destination.ip, destination.port
    domain                       dns.question.name / url.domain / destination.domain
    url                          url.full
    file_md5, file_sha1, file_sha256   file.hash.*
    rule_id, rule_name           rule.id, rule.name

Severity mapping: Wazuh rule.level 0–15 → round(level × 10 / 15); Suricata
alert.severity 1 (highest) → 8, 2 → 5, 3 → 3, 4+ → 1; ECS event.severity is
clamped to 0–10; CEF 0–10 as is, or Low 3 / Medium 5 / High 8 / Very-High 10.

A record that cannot be read raises `ParseError(reason)`; the caller stores it
as a dead letter with that reason. Reasons are English (operator data).
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import math
import re
from functools import lru_cache
from typing import Any, Callable

FIELDS = (
    "time", "kind", "category", "severity", "observer", "src_ip", "src_port", "dst_ip", "dst_port",
    "domain", "url", "file_md5", "file_sha1", "file_sha256", "rule_id", "rule_name",
)
HASH_LENGTHS = {32: "file_md5", 40: "file_sha1", 64: "file_sha256"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


class ParseError(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason[:300]


# --- field helpers ---------------------------------------------------------------------


def dig(record: dict, dotted: str) -> Any:
    """`a.b.c` from nested objects, or from a flat key "a.b.c" (ECS allows both)."""
    if dotted in record:
        return record[dotted]
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def first(*values):
    for value in values:
        if value not in (None, "", [], {}):
            return value
    return None


_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def parse_time(value: Any, field: str = "timestamp") -> dt.datetime:
    """ISO 8601 (with or without a colon in the offset), epoch seconds or milliseconds; naive means UTC."""
    if value in (None, ""):
        raise ParseError(f"missing {field}")
    if isinstance(value, bool):
        raise ParseError(f"invalid {field}")
    if isinstance(value, (int, float)) or (isinstance(value, str) and re.fullmatch(r"\d{9,13}(\.\d+)?", value.strip())):
        number = float(value)
        if number > 1e11:  # milliseconds
            number /= 1000.0
        try:
            return dt.datetime.fromtimestamp(number, tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ParseError(f"invalid {field}") from None
    if not isinstance(value, str):
        raise ParseError(f"invalid {field}")
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        parsed = _parse_legacy_time(text)
        if parsed is None:
            raise ParseError(f"invalid {field}: {text[:60]}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    try:
        return parsed.astimezone(dt.timezone.utc)
    except (OverflowError, ValueError):  # year 1 or 9999 pushed out of range by the offset
        raise ParseError(f"{field} out of range: {text[:60]}") from None


def _parse_legacy_time(text: str) -> dt.datetime | None:
    """CEF/syslog: "Nov 24 2026 14:03:11" or "Nov 24 14:03:11" (this year), with optional .mmm and zone-less."""
    m = re.fullmatch(r"([A-Za-z]{3})\s+(\d{1,2})(?:\s+(\d{4}))?\s+(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:\s+UTC|\s+Z)?", text)
    if not m or m.group(1).lower() not in _MONTHS:
        return None
    year = int(m.group(3)) if m.group(3) else dt.datetime.now(dt.timezone.utc).year
    micro = int((m.group(7) or "0").ljust(6, "0"))
    try:
        return dt.datetime(year, _MONTHS[m.group(1).lower()], int(m.group(2)), int(m.group(4)), int(m.group(5)),
                           int(m.group(6)), micro, tzinfo=dt.timezone.utc)
    except ValueError:
        return None


_IPV4_CANONICAL = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")


def _normal_ip(text: str) -> str:
    if _IPV4_CANONICAL.fullmatch(text):  # the usual case: already canonical (no leading zeros, no blanks)
        return text
    return _normal_ip_slow(text)


@lru_cache(maxsize=1 << 16)
def _normal_ip_slow(text: str) -> str:
    """The canonical text of an address (raises ValueError). Cached: a SOC sees the same addresses again and again."""
    # An IPv6 zone ("fe80::1%eth0") is local to the sensor: dropped (PostgreSQL's inet has none).
    return str(ipaddress.ip_address(text.strip().split("%", 1)[0]))


def parse_ip(value: Any, field: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return _normal_ip(value if type(value) is str else str(value))
    except ValueError:
        raise ParseError(f"invalid IP address in {field}: {str(value)[:60]}") from None


def parse_port(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        port = int(str(value).strip())
    except ValueError:
        raise ParseError(f"invalid port in {field}: {str(value)[:20]}") from None
    if not 0 <= port <= 65535:
        raise ParseError(f"port out of range in {field}: {port}")
    return port


def parse_domain(value: Any, field: str) -> str:
    if value in (None, ""):
        return ""
    text = str(value).strip().rstrip(".").lower()
    try:
        text = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError:
        raise ParseError(f"invalid domain in {field}") from None
    if not _DOMAIN.match(text):
        raise ParseError(f"invalid domain in {field}: {text[:60]}")
    return text


def parse_hash(value: Any, field: str) -> tuple[str, str] | None:
    """(normalized field name, lowercase hex) by the hash's length."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if ":" in text:  # "SHA256:abc…" style
        text = text.split(":", 1)[1]
    if not _HEX.match(text) or len(text) not in HASH_LENGTHS:
        raise ParseError(f"invalid file hash in {field}")
    return HASH_LENGTHS[len(text)], text.lower()


def clamp_severity(value: Any, field: str = "severity") -> int:
    if value in (None, ""):
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParseError(f"invalid {field}: {str(value)[:20]}") from None
    if not math.isfinite(number):
        raise ParseError(f"invalid {field}: {str(value)[:20]}")
    return int(round(max(0.0, min(10.0, number))))


def _text(value: Any, limit: int) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()[:limit]


def _event(**fields) -> dict:
    event = {
        "kind": "alert", "category": "", "severity": 0, "observer": "", "src_ip": None, "src_port": None,
        "dst_ip": None, "dst_port": None, "domain": "", "url": "", "file_md5": "", "file_sha1": "",
        "file_sha256": "", "rule_id": "", "rule_name": "",
    }
    event.update(fields)
    return event


def _add_hashes(event: dict, values: list[tuple[Any, str]]) -> None:
    for value, field in values:
        parsed = parse_hash(value, field)
        if parsed:
            event[parsed[0]] = parsed[1]


def _require_object(record: Any) -> dict:
    if not isinstance(record, dict):
        raise ParseError("record is not a JSON object")
    return record


# --- Wazuh ----------------------------------------------------------------------------------

_WAZUH_CATEGORIES = (
    ("syscheck", "file"), ("authentication", "authentication"), ("web", "web"), ("ids", "intrusion_detection"),
    ("malware", "malware"), ("rootcheck", "host"), ("vulnerability", "vulnerability"), ("firewall", "network"),
)


def parse_wazuh(record: Any) -> dict:
    record = _require_object(record)
    rule = record.get("rule")
    if not isinstance(rule, dict) or rule.get("id") in (None, ""):
        raise ParseError("missing rule.id")
    try:
        level = float(rule.get("level", 0))
    except (TypeError, ValueError):
        raise ParseError("invalid rule.level") from None
    if not math.isfinite(level):
        raise ParseError("invalid rule.level")
    groups = [str(g).lower() for g in rule.get("groups") or [] if isinstance(g, str)]
    category = next((cat for word, cat in _WAZUH_CATEGORIES if any(word in g for g in groups)), groups[0] if groups else "")
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    agent = record.get("agent") if isinstance(record.get("agent"), dict) else {}
    syscheck = record.get("syscheck") if isinstance(record.get("syscheck"), dict) else {}
    url = _text(data.get("url"), 4000)
    host = first(data.get("hostname"), data.get("dns_query"), data.get("domain"))
    event = _event(
        time=parse_time(record.get("timestamp"), "timestamp"),
        category=category[:40],
        severity=clamp_severity(level * 10 / 15, "rule.level"),
        observer=_text(first(agent.get("name"), (record.get("manager") or {}).get("name") if isinstance(record.get("manager"), dict) else None), 200),
        src_ip=parse_ip(first(data.get("srcip"), data.get("src_ip")), "data.srcip"),
        src_port=parse_port(first(data.get("srcport"), data.get("src_port")), "data.srcport"),
        dst_ip=parse_ip(first(data.get("dstip"), data.get("dst_ip")), "data.dstip"),
        dst_port=parse_port(first(data.get("dstport"), data.get("dst_port")), "data.dstport"),
        domain=parse_domain(host, "data.hostname"),
        url=url,
        rule_id=_text(rule.get("id"), 100),
        rule_name=_text(rule.get("description"), 500),
    )
    _add_hashes(event, [(syscheck.get("md5_after"), "syscheck.md5_after"), (syscheck.get("sha1_after"), "syscheck.sha1_after"),
                        (syscheck.get("sha256_after"), "syscheck.sha256_after")])
    return event


# --- Suricata EVE ------------------------------------------------------------------------------

_SURICATA_SEVERITY = {1: 8, 2: 5, 3: 3}


def parse_suricata(record: Any) -> dict:
    record = _require_object(record)
    event_type = record.get("event_type")
    if event_type != "alert":
        raise ParseError(f"event_type {str(event_type)[:30]!r} is not an alert")
    alert = record.get("alert")
    if not isinstance(alert, dict) or alert.get("signature_id") in (None, ""):
        raise ParseError("missing alert.signature_id")
    try:
        sev = int(alert.get("severity", 3))
    except (TypeError, ValueError):
        raise ParseError("invalid alert.severity") from None
    http = record.get("http") if isinstance(record.get("http"), dict) else {}
    dns = record.get("dns") if isinstance(record.get("dns"), dict) else {}
    tls = record.get("tls") if isinstance(record.get("tls"), dict) else {}
    fileinfo = record.get("fileinfo") if isinstance(record.get("fileinfo"), dict) else {}
    queries = dns.get("query") if isinstance(dns.get("query"), list) else []
    rrname = first(dns.get("rrname"), queries[0].get("rrname") if queries and isinstance(queries[0], dict) else None)
    hostname = first(http.get("hostname"), rrname, tls.get("sni"))
    url = ""
    if http.get("url"):
        path = str(http["url"])
        url = path if "://" in path else f"http://{http.get('hostname', '')}{path}" if http.get("hostname") else path
    event = _event(
        time=parse_time(record.get("timestamp"), "timestamp"),
        category="intrusion_detection",
        severity=_SURICATA_SEVERITY.get(sev, 1 if sev > 3 else 8),
        observer=_text(first(record.get("host"), record.get("in_iface")), 200),
        src_ip=parse_ip(record.get("src_ip"), "src_ip"),
        src_port=parse_port(record.get("src_port"), "src_port"),
        dst_ip=parse_ip(record.get("dest_ip"), "dest_ip"),
        dst_port=parse_port(record.get("dest_port"), "dest_port"),
        domain=parse_domain(hostname, "http.hostname/dns.rrname"),
        url=url[:4000],
        rule_id=_text(alert.get("signature_id"), 100),
        rule_name=_text(alert.get("signature"), 500),
    )
    _add_hashes(event, [(fileinfo.get("md5"), "fileinfo.md5"), (fileinfo.get("sha1"), "fileinfo.sha1"),
                        (fileinfo.get("sha256"), "fileinfo.sha256")])
    return event


# --- Elastic Common Schema --------------------------------------------------------------------


def parse_ecs(record: Any) -> dict:
    record = _require_object(record)
    url_full = first(dig(record, "url.full"), dig(record, "url.original"))
    domain = first(dig(record, "dns.question.name"), dig(record, "url.domain"), dig(record, "destination.domain"))
    kind = _text(dig(record, "event.kind"), 20) or "alert"
    event = _event(
        time=parse_time(dig(record, "@timestamp"), "@timestamp"),
        kind=kind,
        category=_text(dig(record, "event.category"), 40),
        severity=clamp_severity(dig(record, "event.severity"), "event.severity"),
        observer=_text(first(dig(record, "observer.name"), dig(record, "host.name"), dig(record, "agent.name")), 200),
        src_ip=parse_ip(dig(record, "source.ip"), "source.ip"),
        src_port=parse_port(dig(record, "source.port"), "source.port"),
        dst_ip=parse_ip(dig(record, "destination.ip"), "destination.ip"),
        dst_port=parse_port(dig(record, "destination.port"), "destination.port"),
        domain=parse_domain(domain, "dns.question.name/url.domain"),
        url=_text(url_full, 4000),
        rule_id=_text(dig(record, "rule.id"), 100),
        rule_name=_text(first(dig(record, "rule.name"), dig(record, "rule.description"), dig(record, "message")), 500),
    )
    _add_hashes(event, [(dig(record, "file.hash.md5"), "file.hash.md5"), (dig(record, "file.hash.sha1"), "file.hash.sha1"),
                        (dig(record, "file.hash.sha256"), "file.hash.sha256")])
    if not event["rule_id"] and not event["rule_name"]:
        raise ParseError("missing rule.id and rule.name")
    return event


# --- CEF ------------------------------------------------------------------------------------------

_CEF_SEVERITY_WORDS = {"unknown": 0, "low": 3, "medium": 5, "high": 8, "very-high": 10, "very high": 10}
_CEF_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z0-9_.\[\]-]+)=")
_CEF_UNESCAPE = re.compile(r"\\(.)")
_SYSLOG_5424_TIME = re.compile(r"^<\d+>\d\s+(\S+)\s")
_SYSLOG_3164_TIME = re.compile(r"^(?:<\d+>)?([A-Za-z]{3}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2})\s")


def _split_cef_header(text: str) -> list[str]:
    """The seven header fields and the extension; `\\|` and `\\\\` are escapes in the header."""
    head_end = -1
    for _n in range(7):
        head_end = text.find("|", head_end + 1)
        if head_end < 0:
            break
    if head_end >= 0 and "\\" not in text[:head_end]:  # no escapes in the header: a plain split
        return text.split("|", 7)
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text) and len(parts) < 7:
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "|\\":
            current.append(text[i + 1])
            i += 2
            continue
        if ch == "|":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if len(parts) < 7:
        raise ParseError(f"CEF header has {len(parts) + 1} fields, expected 8")
    parts.append(text[i:])
    return parts


def _unescape_value(value: str) -> str:
    return _CEF_UNESCAPE.sub(lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), value)


def parse_cef_extension(text: str) -> dict[str, str]:
    matches = list(_CEF_KEY.finditer(text))  # a key follows whitespace; "\=" never ends a key
    result: dict[str, str] = {}
    if text.strip() and (not matches or text[: matches[0].start()].strip()):
        raise ParseError("CEF extension is not key=value pairs")
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        result[match.group(1)] = _unescape_value(text[match.end():end].rstrip(" "))
    return result


def parse_cef(record: Any) -> dict:
    if isinstance(record, (bytes, bytearray)):
        try:
            record = record.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("CEF line is not UTF-8") from None
    if not isinstance(record, str):
        raise ParseError("CEF record is not a text line")
    line = record.strip()
    start = line.find("CEF:")
    if start < 0:
        raise ParseError("no CEF header")
    prefix, body = line[:start], line[start:]
    version, vendor, product, _dev_version, signature_id, name, severity, extension = _split_cef_header(body)
    if not re.fullmatch(r"CEF:\d+", version.strip()):
        raise ParseError("invalid CEF version")
    if not signature_id.strip():
        raise ParseError("missing CEF signature id")
    sev_text = severity.strip().lower()
    if sev_text in _CEF_SEVERITY_WORDS:
        sev = _CEF_SEVERITY_WORDS[sev_text]
    else:
        try:
            sev = int(sev_text)
        except ValueError:
            raise ParseError(f"invalid CEF severity: {severity[:20]}") from None
        if not 0 <= sev <= 10:
            raise ParseError(f"CEF severity out of range: {sev}")
    ext = parse_cef_extension(extension)
    when = first(ext.get("rt"), ext.get("end"), ext.get("start"))
    if when is None:
        m = _SYSLOG_5424_TIME.match(prefix) or _SYSLOG_3164_TIME.match(prefix)
        when = m.group(1) if m else None
    if when is None:
        raise ParseError("missing time (rt, end, start or syslog timestamp)")
    event = _event(
        time=parse_time(when, "rt"),
        category=_text(ext.get("cat"), 40),
        severity=sev,
        observer=_text(first(ext.get("dvchost"), f"{vendor} {product}".strip()), 200),
        src_ip=parse_ip(ext.get("src"), "src"),
        src_port=parse_port(ext.get("spt"), "spt"),
        dst_ip=parse_ip(ext.get("dst"), "dst"),
        dst_port=parse_port(ext.get("dpt"), "dpt"),
        domain=parse_domain(first(ext.get("dhost"), ext.get("destinationDnsDomain")), "dhost"),
        url=_text(ext.get("request"), 4000),
        rule_id=signature_id.strip()[:100],
        rule_name=name.strip()[:500],
    )
    _add_hashes(event, [(ext.get("fileHash"), "fileHash")])
    return event


PARSERS: dict[str, Callable[[Any], dict]] = {
    "wazuh": parse_wazuh,
    "suricata": parse_suricata,
    "ecs": parse_ecs,
    "cef": parse_cef,
}
