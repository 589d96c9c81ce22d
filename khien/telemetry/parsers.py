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
alert.severity 1 (highest) → 8, 2 → 5, 3 → 3, 4+ → 1; ECS: Elastic Security's
alert severity in words (kibana.alert.severity, signal.rule.severity) or
event.severity as a word, else a 0–100 risk score (kibana.alert.risk_score,
signal.rule.risk_score, event.risk_score_norm, event.risk_score) ÷ 10, else
event.severity 0–10 as is and above 10 ÷ 10 (`_ecs_severity`); CEF 0–10 as is.
A label in place of a number (Low 3 / Medium 5
/ High 8 / Critical or Very-High 10, and the tools' usual words for them) reads
as severity.py says, as the API's labels do.

A placeholder where a value belongs ("-", "N/A", "null", "none", "unknown", "":
`PLACEHOLDERS`) is no value; an address written with its port ("1.2.3.4:443")
gives the port when the port field has none (`parse_endpoint`).

A record that cannot be read raises `ParseError(reason)`; the caller stores it
as a dead letter with that reason. Reasons are English (operator data).

These parsers are the hot path of alert ingestion (a few µs per record), so
the helpers take a short fast path for the usual value (an exact `str` or
`int`) and keep the general conversion for anything else; the results are the
same either way.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import math
import re
import zoneinfo
from binascii import unhexlify
from functools import lru_cache
from typing import Any, Callable

import orjson
from django.utils.translation import gettext_lazy as _l

from khien.core import shapes
from khien.core.timerange import storable

from .severity import SEVERITY_WORDS, severity_of_word

FIELDS = (
    "time", "kind", "category", "severity", "observer", "src_ip", "src_port", "dst_ip", "dst_port",
    "domain", "url", "file_md5", "file_sha1", "file_sha256", "rule_id", "rule_name",
)
HASH_LENGTHS = {32: "file_md5", 40: "file_sha1", 64: "file_sha256"}
_UTC = dt.timezone.utc


class ParseError(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason[:300]


# The reasons are stored as written above (English, naming the record's fields: stable for the API and for
# searching); people read them through `reason_text`, in their language. The field names are not translated.
_REASONS = [(re.compile(pattern), template) for pattern, template in (
    (r"^missing (?P<a>.+)$", _l("missing %(a)s")),
    (r"^invalid IP address in (?P<a>[^:]+): (?P<b>.*)$", _l("invalid IP address in %(a)s: %(b)s")),
    (r"^invalid port in (?P<a>[^:]+): (?P<b>.*)$", _l("invalid port in %(a)s: %(b)s")),
    (r"^port out of range in (?P<a>[^:]+): (?P<b>.*)$", _l("port out of range in %(a)s: %(b)s")),
    (r"^invalid domain in (?P<a>[^:]+)$", _l("invalid domain in %(a)s")),
    (r"^invalid domain in (?P<a>[^:]+): (?P<b>.*)$", _l("invalid domain in %(a)s: %(b)s")),
    (r"^invalid file hash in (?P<a>.+)$", _l("invalid file hash in %(a)s")),
    (r"^event_type (?P<a>.*) is not an alert$", _l("event_type %(a)s is not an alert")),
    (r"^CEF header has (?P<a>\d+) fields, expected 8$", _l("CEF header has %(a)s fields, expected 8")),
    # The accepted window of event times (services.event_time_refusal).
    (r"^time before (?P<a>\d{4}-\d\d-\d\d): (?P<b>.*)$", _l("time before %(a)s: %(b)s")),
    (r"^time more than (?P<a>\d+) hours ahead of arrival: (?P<b>.*)$",
     _l("time more than %(a)s hours ahead of arrival: %(b)s")),
    # The JSON decoder's own words are English; where it gives the place, the place says enough. Its line and
    # column are within the record (each record is read alone: a batch's 2nd line is its own "line 1"), so the
    # place read is the character, counted from 1 (the decoder's "char" counts from 0).
    (r"^several records on one line \(char (?P<char>\d+)\)$",
     _l("several records on one line (a new record starts at character %(char)s): send one record a line with "
        "its line breaks kept (curl --data-binary @file, not -d)")),
    (r"^not valid JSON: .*: line \d+ column \d+ \(char (?P<char>\d+)\)$",
     _l("not valid JSON (character %(char)s of the record)")),
    (r"^ambiguous time zone in (?P<a>[^:]+): (?P<b>.*) \(accepted: .*\)$",
     _l("ambiguous time zone in %(a)s: %(b)s (accepted: +0700, +07:00, GMT+07:00, UTC, GMT, ICT or a zone name "
        "such as Asia/Ho_Chi_Minh)")),
    (r"^unknown time zone in (?P<a>[^:]+): (?P<b>.*) \(accepted: .*\)$",
     _l("unknown time zone in %(a)s: %(b)s (accepted: +0700, +07:00, GMT+07:00, UTC, GMT, ICT or a zone name "
        "such as Asia/Ho_Chi_Minh)")),
    (r"^not valid JSON: (?P<a>.*)$", _l("not valid JSON: %(a)s")),
    (r"^(?P<a>[^ :]+(?: [^ :]+)?) out of range: (?P<b>.*)$", _l("%(a)s out of range: %(b)s")),
    (r"^invalid (?P<a>[^ :]+(?: [^ :]+)?): (?P<b>.*)$", _l("invalid %(a)s: %(b)s")),
    (r"^invalid (?P<a>[^:]+)$", _l("invalid %(a)s")),
)]
_WHOLE_REASONS = {
    "missing rule.id and rule.name": _l("missing rule.id and rule.name"),
    "missing time (rt, end, start or syslog timestamp)": _l("missing time (rt, end, start or syslog timestamp)"),
    "invalid CEF version": _l("invalid CEF version"),
    "missing CEF signature id": _l("missing CEF signature id"),
    "record is not a JSON object": _l("record is not a JSON object"),
    "record cannot be serialized as JSON": _l("record cannot be serialized as JSON"),
    "record is nested too deeply": _l("record is nested too deeply"),
    "record contains a NUL byte": _l("record contains a NUL byte"),
    "record contains a NUL character": _l("record contains a NUL character"),
    "CEF extension is not key=value pairs": _l("CEF extension is not key=value pairs"),
    "CEF line is not UTF-8": _l("CEF line is not UTF-8"),
    "CEF record is not a text line": _l("CEF record is not a text line"),
    "no CEF header": _l("no CEF header"),
}


# A rejected record that looks like another format than its source's gets a hint after its reason
# (`with_format_hint`), stored in English as the reasons are and read in the reader's language.
FORMAT_NAMES = {"wazuh": "Wazuh", "suricata": "Suricata EVE", "ecs": "ECS", "cef": "CEF"}
_HINT = " (this looks like a {name} record: is the source's format right?)"
_HINTED = re.compile(r"^(?P<reason>.*) \(this looks like a (?P<name>" + "|".join(map(re.escape, FORMAT_NAMES.values()))
                     + r") record: is the source's format right\?\)$", re.DOTALL)
_CEF_HEADER = re.compile(r"CEF:\d+\|")


def looks_like(record: Any) -> str | None:
    """The format a record plainly has (a SourceFormat value), or None: Wazuh (rule.level with agent, manager or
    decoder), Suricata EVE (event_type with flow_id, src_ip or alert), ECS (@timestamp with ecs, or event.kind or
    event.category), CEF (a line with a CEF header). For rejected records only: not on the hot path."""
    if isinstance(record, (bytes, bytearray, memoryview)):
        record = bytes(record).decode("utf-8", "replace")
    if isinstance(record, str):
        if record.lstrip()[:1] != "{":
            return "cef" if _CEF_HEADER.search(record, 0, 2000) else None
        try:
            record = orjson.loads(record)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(record, dict):
        return None
    rule = record.get("rule")
    if isinstance(rule, dict) and "level" in rule and ("agent" in record or "manager" in record or "decoder" in record):
        return "wazuh"
    if isinstance(record.get("event_type"), str) and (
            "flow_id" in record or "src_ip" in record or isinstance(record.get("alert"), dict)):
        return "suricata"
    event = record.get("event")
    if "@timestamp" in record and (isinstance(record.get("ecs"), dict) or (
            isinstance(event, dict) and ("kind" in event or "category" in event))):
        return "ecs"
    return None


def with_format_hint(reason: str, source_format: str, record: Any) -> str:
    """The reason a record was rejected, with a hint when it looks like a record of another format than its
    source's (a Suricata EVE record sent to a Wazuh source); within the 300 characters a reason keeps."""
    seen = looks_like(record)
    if seen is None or seen == source_format:
        return reason
    hint = _HINT.format(name=FORMAT_NAMES[seen])
    return reason[:300 - len(hint)] + hint


def reason_text(reason: str) -> str:
    """A stored dead-letter reason in the reader's language (the reason itself when no rule knows it)."""
    hinted = _HINTED.match(reason)
    if hinted:
        return str(_l("%(reason)s (this looks like a %(format)s record: is the source's format right?)")) % {
            "reason": reason_text(hinted["reason"]), "format": hinted["name"]}
    if reason in _WHOLE_REASONS:
        return str(_WHOLE_REASONS[reason])
    for pattern, template in _REASONS:
        found = pattern.match(reason)
        if found:
            values = found.groupdict()
            if "char" in values:
                values["char"] = int(values["char"]) + 1
            return str(template) % values
    return reason


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
    """The first value that is not None, "", [] or {}."""
    for value in values:
        if type(value) is str:  # the usual case: no comparison with the four empty values
            if value:
                return value
        elif value not in (None, "", [], {}):
            return value
    return None


_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_EPOCH_TEXT = re.compile(r"\d{9,13}(\.\d+)?")
# CEF's date formats (MMM dd[ yyyy] HH:mm:ss[.SSS][ zzz]) and syslog's; the zone is one word, read by `_time_zone`.
_LEGACY_TIME = re.compile(r"([A-Za-z]{3})\s+(\d{1,2})(?:\s+(\d{4}))?\s+(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
                          r"(?:\s*([+\-A-Za-z]\S*))?")

# Time zones a sender writes after a CEF or syslog time. Besides these: a numeric offset (+0700, +07:00, +07,
# GMT+07:00, UTC+7) and an IANA name (Asia/Ho_Chi_Minh). An abbreviation is read only where it names one offset
# (ICT is +07:00 everywhere); those that name several (IST: India, Israel or Ireland; CST: China or the
# Americas' Central) are refused rather than guessed, with a reason naming the forms that are read.
_ZONE_ABBREVIATIONS = {
    "Z": 0, "UT": 0, "UTC": 0, "GMT": 0, "WET": 0, "WEST": 60, "CET": 60, "CEST": 120, "EET": 120, "EEST": 180,
    "MSK": 180, "ICT": 420, "WIB": 420, "SGT": 480, "HKT": 480, "AWST": 480, "JST": 540, "KST": 540, "ACST": 570,
    "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780, "EDT": -240, "MDT": -360, "PDT": -420,
}
_AMBIGUOUS_ZONES = frozenset({"IST", "CST", "CDT", "BST", "EST", "PST", "MST", "AST", "ADT", "SST", "GST"})
_ZONE_OFFSET = re.compile(r"(?:GMT|UTC|UT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)
ZONES_ACCEPTED = "+0700, +07:00, GMT+07:00, UTC, GMT, ICT or a zone name such as Asia/Ho_Chi_Minh"


@lru_cache(maxsize=256)
def _time_zone(text: str) -> dt.tzinfo | str:
    """The zone a time's last word names, or why it names none ("ambiguous", "unknown"). Cached: a sender
    writes the same zone on every record."""
    upper = text.upper()
    if upper in _ZONE_ABBREVIATIONS:
        return dt.timezone(dt.timedelta(minutes=_ZONE_ABBREVIATIONS[upper])) if _ZONE_ABBREVIATIONS[upper] else _UTC
    if upper in _AMBIGUOUS_ZONES:
        return "ambiguous"
    m = _ZONE_OFFSET.fullmatch(text)
    if m:
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 14 or minutes > 59:  # the world's offsets lie from -12:00 to +14:00
            return "unknown"
        offset = dt.timedelta(hours=hours, minutes=minutes)
        return dt.timezone(-offset if m.group(1) == "-" else offset) if offset else _UTC
    if "/" in text:  # an IANA name (Area/Location); the legacy names without a slash (EST, PST8PDT) are not read
        try:
            return zoneinfo.ZoneInfo(text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return "unknown"
    return "unknown"


class _ZoneRefused(ValueError):
    def __init__(self, why: str, zone: str):
        super().__init__(why)
        self.why, self.zone = why, zone


def parse_time(value: Any, field: str = "timestamp", zone: dt.tzinfo = _UTC) -> dt.datetime:
    """ISO 8601 (with or without a colon in the offset), epoch seconds or milliseconds, or CEF/syslog text
    with an optional zone (`_time_zone`). A time written without a zone is in `zone`: the zone of the sending
    device's clock (its source's setting). A placeholder ("-", "N/A": `is_placeholder`) is a missing time."""
    text_first = False  # CEF or syslog text ("Dec 07 …", never ISO 8601): not tried as ISO first (an exception costs)
    if type(value) is not str or "-" not in value:  # all but the usual ISO 8601 text (a dash is never in epoch digits)
        if type(value) is str and value.isdigit() and value.isascii() and 9 <= len(value) <= 13:  # CEF's rt: no regex
            number = float(value)
        elif value in (None, ""):
            raise ParseError(f"missing {field}")
        elif isinstance(value, bool):
            raise ParseError(f"invalid {field}")
        elif isinstance(value, (int, float)) or (isinstance(value, str) and _EPOCH_TEXT.fullmatch(value.strip())):
            try:
                number = float(value)
            except OverflowError:  # an integer too large for a float
                raise ParseError(f"invalid {field}") from None
        elif not isinstance(value, str):
            raise ParseError(f"invalid {field}")
        else:
            number = None  # text: ISO 8601 without dashes, or syslog's
            text_first = value[:1].isalpha()
        if number is not None:
            if number > 1e11:  # milliseconds
                number /= 1000.0
            try:
                parsed = dt.datetime.fromtimestamp(number, tz=_UTC)
            except (OverflowError, OSError, ValueError):
                raise ParseError(f"invalid {field}") from None
            if not storable(parsed):
                raise ParseError(f"{field} out of range: {value}")
            return parsed
    text = value.strip()
    parsed = None
    if not text_first:
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            pass
    if parsed is None:
        try:
            parsed = _parse_legacy_time(text)
        except _ZoneRefused as refused:
            raise ParseError(f"{refused.why} time zone in {field}: {refused.zone[:40]} (accepted: {ZONES_ACCEPTED})"
                             ) from None
        if parsed is None:
            if is_placeholder(text):
                raise ParseError(f"missing {field}") from None
            raise ParseError(f"invalid {field}: {text[:60]}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    try:
        parsed = parsed.astimezone(_UTC)
    except (OverflowError, ValueError):  # year 1 or 9999 pushed out of range by the offset
        raise ParseError(f"{field} out of range: {text[:60]}") from None
    if not storable(parsed):  # alert folding adds and takes away an hour; ids and days count from 1970
        raise ParseError(f"{field} out of range: {text[:60]}")
    return parsed


def _parse_legacy_time(text: str, today: dt.date | None = None) -> dt.datetime | None:
    """CEF/syslog: "Nov 24 2026 14:03:11" or "Nov 24 14:03:11" (the year nearest to `today`, default today
    in UTC), with optional .mmm and zone (`_time_zone`; _ZoneRefused for one it does not read); without a zone
    (naive) when none is written."""
    m = _LEGACY_TIME.fullmatch(text)
    if not m or m.group(1).lower() not in _MONTHS:
        return None
    month = _MONTHS[m.group(1).lower()]
    if m.group(3):
        year = int(m.group(3))
    else:
        # Syslog writes no year. This year's date, unless that is half a year away: a December record read in
        # January is last year's, a January one read on 31 December (a device on Vietnamese time, 7 hours
        # ahead of UTC) next year's — not a year off, which the accepted window of times would refuse.
        today = today or dt.datetime.now(_UTC).date()
        year = today.year - (month - today.month > 6) + (today.month - month > 6)
    tz = None
    if m.group(8):
        written = m.group(8).strip()
        tz = _time_zone(written)
        if type(tz) is str:
            raise _ZoneRefused(tz, written)
    micro = int((m.group(7) or "0").ljust(6, "0"))
    try:
        return dt.datetime(year, month, int(m.group(2)), int(m.group(4)), int(m.group(5)),
                           int(m.group(6)), micro, tzinfo=tz)
    except ValueError:
        return None


# Values a SIEM export writes where it has none (any letter case, blanks around): read as no value (no address,
# port, domain, URL or hash; severity 0). A time that is only a placeholder is missing, with that reason. Free
# text (a rule's id or name, an observer) is kept as written.
PLACEHOLDERS = frozenset({"", "-", "n/a", "null", "none", "unknown"})


def is_placeholder(value: Any) -> bool:
    return type(value) is str and len(value) < 12 and value.strip().lower() in PLACEHOLDERS


_IPV4_CANONICAL = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")


@lru_cache(maxsize=1 << 16)
def _normal_ip(text: str) -> str:
    """The canonical text of an address (raises ValueError). Cached: a SOC sees the same addresses again and again."""
    # An IPv6 zone ("fe80::1%eth0") is local to the sensor: dropped (PostgreSQL's inet has none).
    return str(ipaddress.ip_address(text.strip().split("%", 1)[0]))


def parse_ip(value: Any, field: str) -> str | None:
    """The canonical text of an address, None for none (or a placeholder); "1.2.3.4:443" is refused here:
    `parse_endpoint` reads the port in it."""
    address, port = parse_endpoint(value, None, field, field)
    if port is not None:
        raise ParseError(f"invalid IP address in {field}: {str(value)[:60]}")
    return address


def parse_endpoint(address: Any, port: Any, address_field: str, port_field: str) -> tuple[str | None, int | None]:
    """(address, port) of one side of a connection. A placeholder is no value; an address written with its port
    ("1.2.3.4:443", "[2001:db8::1]:443", as some SIEM exports write it) gives the port when the port field has
    none (the port field wins when it has one)."""
    # The usual cases first, without a further call: a canonical IPv4 address or none; a port as a JSON number
    # or as digits (CEF's spt, Wazuh's srcport), or none.
    if type(address) is str and _IPV4_CANONICAL.fullmatch(address):
        ip, carried = address, None
    elif address is None:
        ip = carried = None
    else:
        ip, carried = _address_with_port(address, address_field)
    if type(port) is int:
        if 0 <= port <= 65535:
            return ip, port
    elif port is None:
        return ip, carried
    elif type(port) is str and len(port) <= 5 and port.isdecimal():
        number = int(port)
        if number <= 65535:
            return ip, number
    port = parse_port(port, port_field)
    return ip, carried if port is None else port


def _address_with_port(value: Any, field: str) -> tuple[str | None, int | None]:
    if value in (None, ""):
        return None, None
    text = value if type(value) is str else str(value)
    try:
        return _normal_ip(text), None
    except ValueError:
        pass
    if is_placeholder(value):
        return None, None
    host, port = _split_host_port(text.strip())
    if host is not None:
        try:
            host = _normal_ip(host)
        except ValueError:
            pass
        else:
            return host, parse_port(port, field)
    raise ParseError(f"invalid IP address in {field}: {str(value)[:60]}")


def _split_host_port(text: str) -> tuple[str | None, str | None]:
    """("1.2.3.4", "443") from "1.2.3.4:443", ("2001:db8::1", "443") from "[2001:db8::1]:443" (the port may be
    absent after the brackets); (None, None) for anything else."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if bracket and (not rest or (rest[0] == ":" and rest[1:].isdigit())):
            return host, rest[1:] or None
        return None, None
    host, colon, port = text.rpartition(":")
    if colon and host and ":" not in host and port.isdigit():
        return host, port
    return None, None


def parse_port(value: Any, field: str) -> int | None:
    if type(value) is int:  # a JSON number: no round trip through str
        port = value
    elif value in (None, ""):
        return None
    else:
        try:
            port = int(str(value).strip())
        except ValueError:
            if is_placeholder(value):
                return None
            raise ParseError(f"invalid port in {field}: {str(value)[:20]}") from None
    if not 0 <= port <= 65535:
        raise ParseError(f"port out of range in {field}: {port}")
    return port


class _BadDomain(ValueError):
    """Its text ends the reason: "" (not IDNA) or ": <the normalized text>"."""


def parse_domain(value: Any, field: str) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):  # JSON true, 0 or 1.5 is no host name (it read as "true", "0", "1.5")
        raise ParseError(f"invalid domain in {field}")
    try:
        return _normal_domain(str(value))
    except _BadDomain as exc:
        raise ParseError(f"invalid domain in {field}{exc}") from None


@lru_cache(maxsize=1 << 15)
def _normal_domain(value: str) -> str:
    """Lower case, no trailing dot, IDNA (raises _BadDomain). Cached: the same hosts come back in many alerts,
    so the checks below run once per distinct value, not once per record."""
    text = value.strip().rstrip(".").lower()
    if text in PLACEHOLDERS:  # "unknown", "none": an export's word for no host, not a host called so
        return ""
    if ":" in text and _is_ipv6_literal(text):
        return ""  # an HTTP Host header sent to an IPv6 address ("[2001:db8::1]"): no name, like an IPv4 one below
    try:
        text = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError:
        raise _BadDomain("") from None
    if not shapes.is_host_name(text):
        raise _BadDomain(f": {text[:60]}")
    if text.rpartition(".")[2].isdigit():
        # A name never ends in an all-digit label (RFC 3696 §2). An IPv4 address there (an HTTP Host header sent
        # to an address) is no name but no malformed record either: the alert is kept without a domain. Anything
        # else numeric (256.256.256.256, 10.0.0.300, 12345) is an invalid domain, like any other.
        if _IPV4_CANONICAL.fullmatch(text):
            return ""
        raise _BadDomain(f": {text[:60]}")
    return text


def _is_ipv6_literal(text: str) -> bool:
    """An IPv6 address, bare or in brackets as a URL or a Host header writes it, with an optional port after the
    brackets ("[2001:db8::1]:8443")."""
    if text.startswith("["):
        text, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port[0] == ":" and port[1:].isdigit())):
            return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def parse_hash(value: Any, field: str) -> tuple[str, str] | None:
    """(normalized field name, lowercase hex) by the hash's length."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if ":" in text:  # "SHA256:abc…" style
        text = text.split(":", 1)[1]
    name = HASH_LENGTHS.get(len(text))
    try:
        if name is None:
            raise ValueError
        unhexlify(text)  # raises unless all hex digits (the lengths are even); ~10× faster than a regex
    except ValueError:
        if is_placeholder(value):
            return None
        raise ParseError(f"invalid file hash in {field}") from None
    return name, text.lower()


def clamp_severity(value: Any, field: str = "severity") -> int:
    if type(value) is int and 0 <= value <= 10:  # already on the scale
        return value
    if type(value) is float and 0.0 <= value <= 10.0:  # on the scale (so not NaN): just rounded
        return round(value)
    if value in (None, ""):
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        # A label ("high") or a tool's word for one, as the API's labels read (severity.py); a placeholder: none.
        word = severity_of_word(value) if type(value) is str else None
        if word is not None:
            return word
        if is_placeholder(value):
            return 0
        raise ParseError(f"invalid {field}: {str(value)[:20]}") from None
    if not math.isfinite(number):
        raise ParseError(f"invalid {field}: {str(value)[:20]}")
    return int(round(max(0.0, min(10.0, number))))


def _text(value: Any, limit: int) -> str:
    if type(value) is str:  # the usual case
        return value.strip()[:limit]
    if value in (None, ""):
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()[:limit]


def _url(value: Any) -> str:
    """A URL as written, none for a placeholder ("-")."""
    if value is None:  # the usual case where a record has no URL
        return ""
    text = _text(value, 4000)
    return "" if len(text) < 12 and text.lower() in PLACEHOLDERS else text


def _event(time, kind, category, severity, observer, src_ip, src_port, dst_ip, dst_port, domain, url, rule_id,
           rule_name, hashes=()) -> dict:
    """The normalized event (keys in this order); `hashes` are (value, field) pairs read by `parse_hash`."""
    event = {
        "kind": kind, "category": category, "severity": severity, "observer": observer, "src_ip": src_ip,
        "src_port": src_port, "dst_ip": dst_ip, "dst_port": dst_port, "domain": domain, "url": url, "file_md5": "",
        "file_sha1": "", "file_sha256": "", "rule_id": rule_id, "rule_name": rule_name, "time": time,
    }
    for value, field in hashes:  # in order: a later hash of the same length wins
        if value is not None:
            parsed = parse_hash(value, field)
            if parsed:
                event[parsed[0]] = parsed[1]
    return event


def _object(value: Any) -> dict:
    """`value` if it is an object, else an empty one (never written to)."""
    return value if isinstance(value, dict) else _NO_OBJECT


_NO_OBJECT: dict = {}


def _require_object(record: Any) -> dict:
    if not isinstance(record, dict):
        raise ParseError("record is not a JSON object")
    return record


# --- Wazuh ----------------------------------------------------------------------------------

_WAZUH_CATEGORIES = (
    ("syscheck", "file"), ("authentication", "authentication"), ("web", "web"), ("ids", "intrusion_detection"),
    ("malware", "malware"), ("rootcheck", "host"), ("vulnerability", "vulnerability"), ("firewall", "network"),
)


@lru_cache(maxsize=1024)
def _wazuh_category(groups: tuple) -> str:
    """From rule.groups (its text items). Cached: a manager has a few hundred rules, so a few distinct lists."""
    names = [str(g).lower() for g in groups if isinstance(g, str)]
    category = next((cat for word, cat in _WAZUH_CATEGORIES if any(word in g for g in names)), names[0] if names else "")
    return category[:40]


def parse_wazuh(record: Any, zone: dt.tzinfo = _UTC) -> dict:
    record = _require_object(record)
    rule = record.get("rule")
    if not isinstance(rule, dict) or rule.get("id") in (None, ""):
        raise ParseError("missing rule.id")
    try:
        level = float(rule.get("level", 0))
    except (TypeError, ValueError, OverflowError):
        if not is_placeholder(rule.get("level")):
            raise ParseError("invalid rule.level") from None
        level = 0.0
    if not math.isfinite(level):
        raise ParseError("invalid rule.level")
    try:
        groups = tuple(rule.get("groups") or ())
    except TypeError:  # a number or true: not a list
        raise ParseError("invalid rule.groups") from None
    try:
        category = _wazuh_category(groups)
    except TypeError:  # a list or an object among the groups: cannot be a cache key
        category = _wazuh_category.__wrapped__(groups)
    data = _object(record.get("data"))
    agent = _object(record.get("agent"))
    syscheck = _object(record.get("syscheck"))
    manager = record.get("manager")
    time = parse_time(record.get("timestamp"), "timestamp", zone)  # read in the order of _event's fields: the
    severity = clamp_severity(level * 10 / 15, "rule.level")        # reason is the first field's that fails
    src_ip, src_port = parse_endpoint(first(data.get("srcip"), data.get("src_ip")),
                                      first(data.get("srcport"), data.get("src_port")), "data.srcip", "data.srcport")
    dst_ip, dst_port = parse_endpoint(first(data.get("dstip"), data.get("dst_ip")),
                                      first(data.get("dstport"), data.get("dst_port")), "data.dstip", "data.dstport")
    return _event(
        time,
        "alert",
        category,
        severity,
        _text(first(agent.get("name"), manager.get("name") if isinstance(manager, dict) else None), 200),
        src_ip, src_port, dst_ip, dst_port,
        parse_domain(first(data.get("hostname"), data.get("dns_query"), data.get("domain")), "data.hostname"),
        _url(data.get("url")),
        _text(rule.get("id"), 100),
        _text(rule.get("description"), 500),
        ((syscheck.get("md5_after"), "syscheck.md5_after"), (syscheck.get("sha1_after"), "syscheck.sha1_after"),
         (syscheck.get("sha256_after"), "syscheck.sha256_after")) if syscheck else (),
    )


# --- Suricata EVE ------------------------------------------------------------------------------

_SURICATA_SEVERITY = {1: 8, 2: 5, 3: 3}


def parse_suricata(record: Any, zone: dt.tzinfo = _UTC) -> dict:
    record = _require_object(record)
    event_type = record.get("event_type")
    if event_type != "alert":
        if event_type is None:  # not a Suricata EVE record at all, perhaps (with_format_hint says which)
            raise ParseError("missing event_type")
        raise ParseError(f"event_type {str(event_type)[:30]!r} is not an alert")
    alert = record.get("alert")
    if not isinstance(alert, dict) or alert.get("signature_id") in (None, ""):
        raise ParseError("missing alert.signature_id")
    written = alert.get("severity", 3)
    try:
        level = int(written)
    except (TypeError, ValueError, OverflowError):
        # A word ("high") reads on the platform's scale as the API's labels do; a placeholder as no severity (3).
        sev = severity_of_word(written) if type(written) is str else None
        if sev is None:
            if not is_placeholder(written):
                raise ParseError("invalid alert.severity") from None
            sev = _SURICATA_SEVERITY[3]
    else:
        sev = _SURICATA_SEVERITY.get(level, 1 if level > 3 else 8)
    http = _object(record.get("http"))
    dns = _object(record.get("dns"))
    fileinfo = _object(record.get("fileinfo"))
    queries = dns.get("query") if isinstance(dns.get("query"), list) else []
    rrname = first(dns.get("rrname"), queries[0].get("rrname") if queries and isinstance(queries[0], dict) else None)
    hostname = first(http.get("hostname"), rrname, _object(record.get("tls")).get("sni"))
    time = parse_time(record.get("timestamp"), "timestamp", zone)  # before the addresses, as _event reads them
    src_ip, src_port = parse_endpoint(record.get("src_ip"), record.get("src_port"), "src_ip", "src_port")
    dst_ip, dst_port = parse_endpoint(record.get("dest_ip"), record.get("dest_port"), "dest_ip", "dest_port")
    url = ""
    if http.get("url") and not is_placeholder(http["url"]):
        path = str(http["url"])
        url = path if "://" in path else f"http://{http.get('hostname', '')}{path}" if http.get("hostname") else path
    return _event(
        time,
        "alert",
        "intrusion_detection",
        sev,
        _text(first(record.get("host"), record.get("in_iface")), 200),
        src_ip, src_port, dst_ip, dst_port,
        parse_domain(hostname, "http.hostname/dns.rrname"),
        url[:4000],
        _text(alert.get("signature_id"), 100),
        _text(alert.get("signature"), 500),
        ((fileinfo.get("md5"), "fileinfo.md5"), (fileinfo.get("sha1"), "fileinfo.sha1"),
         (fileinfo.get("sha256"), "fileinfo.sha256")) if fileinfo else (),
    )


# --- Elastic Common Schema --------------------------------------------------------------------

_ECS_PATHS = (
    "@timestamp", "event.kind", "event.category", "event.severity", "observer.name", "host.name", "agent.name",
    "source.ip", "source.port", "destination.ip", "destination.port", "destination.domain", "dns.question.name",
    "url.domain", "url.full", "url.original", "rule.id", "rule.name", "rule.description", "message",
    "file.hash.md5", "file.hash.sha1", "file.hash.sha256",
)


# An alert's severity as Elastic Security writes it (8.x kibana.alert.*, 7.x signal.rule.*) and ECS's event risk
# scores, then the alert's rule: read only from a record that has one of them (`_ecs_fields`), so the usual
# record pays one membership test per place they could be, no walk.
_ECS_ALERT_PATHS = (
    "kibana.alert.severity", "signal.rule.severity",
    "kibana.alert.risk_score", "signal.rule.risk_score", "event.risk_score_norm", "event.risk_score",
    "kibana.alert.rule.rule_id", "kibana.alert.rule.name", "signal.rule.rule_id", "signal.rule.name",
)


def _ecs_values(record: dict) -> tuple:
    """The values at `_ECS_PATHS`, in that order, as `dig` reads them."""
    return _ecs_fields(record)[:-1]


def _ecs_fields(record: dict) -> tuple:
    """`_ecs_values`, then one more: the values at `_ECS_ALERT_PATHS` when the record may have one of them (a key
    kibana, signal or event.risk_score…), else None (the usual record). One tuple: parse_ecs unpacks it."""
    try:
        keys = "".join(record)
    except TypeError:  # a key that is not text
        keys = None
    if keys is not None and "." not in keys:
        # Only nested objects (the usual case): read each object once instead of walking 23 paths from the top.
        # A missing or empty object reads as {}; any other non-object (text, number, list) has no .get() and takes
        # the general walk.
        get = record.get
        event, rule, url = get("event") or _NO_OBJECT, get("rule") or _NO_OBJECT, get("url") or _NO_OBJECT
        source, destination = get("source") or _NO_OBJECT, get("destination") or _NO_OBJECT
        file = get("file") or _NO_OBJECT
        try:
            file_hash = file.get("hash") or _NO_OBJECT
            # (a non-object `event` fails here or at its .get() below, and takes the general walk)
            alert = tuple([dig(record, path) for path in _ECS_ALERT_PATHS]) if (
                "kibana" in record or "signal" in record or "risk_score" in event or "risk_score_norm" in event
            ) else None
            return (
                get("@timestamp"), event.get("kind"), event.get("category"), event.get("severity"),
                (get("observer") or _NO_OBJECT).get("name"), (get("host") or _NO_OBJECT).get("name"),
                (get("agent") or _NO_OBJECT).get("name"), source.get("ip"), source.get("port"), destination.get("ip"),
                destination.get("port"), destination.get("domain"),
                ((get("dns") or _NO_OBJECT).get("question") or _NO_OBJECT).get("name"), url.get("domain"),
                url.get("full"), url.get("original"), rule.get("id"), rule.get("name"), rule.get("description"),
                get("message"), file_hash.get("md5"), file_hash.get("sha1"), file_hash.get("sha256"), alert,
            )
        except (AttributeError, TypeError):
            pass
    # Flat "a.b" keys (ECS allows them; Elastic Security writes its alerts' own fields so) or odd values.
    values = [dig(record, path) for path in _ECS_PATHS]
    event = record.get("event")
    if keys is None or "kibana" in record or "signal" in record or "kibana.alert.severity" in record or (
            "kibana.alert.risk_score" in record or "signal.rule.severity" in record
            or "signal.rule.risk_score" in record or "event.risk_score_norm" in record or "event.risk_score" in record
            or (isinstance(event, dict) and ("risk_score" in event or "risk_score_norm" in event))):
        # (membership tests: cheaper than one search of the keys' text, or than a set's isdisjoint)
        values.append(tuple([dig(record, path) for path in _ECS_ALERT_PATHS]))
    else:
        values.append(None)
    return tuple(values)


def _ecs_severity(severity: Any, alert: tuple | None) -> int:
    """An ECS record's severity on the platform's scale, from the first of these it has (a placeholder, "-", is
    none): (1) the alert's severity in words — Elastic Security's kibana.alert.severity (8.x) or
    signal.rule.severity (7.x), else event.severity written as a word — as severity.py reads words (low 3, medium
    5, high 8, critical 10); (2) a risk score on 0–100 — kibana.alert.risk_score, signal.rule.risk_score,
    event.risk_score_norm, event.risk_score — divided by 10 (Elastic's 21/47/73/99 read as 2/5/7/10, each in the
    band of Elastic's word); (3) event.severity as a number: 0–10 as is, above 10 a 0–100 scale divided by 10
    (47 → 5). None: 0. Rounded, a negative number is 0; text that is no number or known word, true, false, a list
    or an object is refused with the field's name (`_ecs_scaled`)."""
    if alert is not None:
        for value, field in ((alert[0], "kibana.alert.severity"), (alert[1], "signal.rule.severity")):
            if value is not None and value != "" and not is_placeholder(value):
                return _ecs_scaled(value, field, False)
    if type(severity) is str:
        word = severity_of_word(severity)
        if word is not None:
            return word
    if alert is not None:
        for value, field in zip(alert[2:6], _ECS_ALERT_PATHS[2:6]):
            if value is not None and value != "" and not is_placeholder(value):
                return _ecs_scaled(value, field, True)
    if severity is None:
        return 0
    return _ecs_scaled(severity, "event.severity", False)


def _ecs_scaled(value: Any, field: str, per_100: bool) -> int:
    """One severity field's value on 0–10: a word as severity.py reads it; a number divided by 10 when it is on
    0–100 (`per_100`, or above 10), then rounded and kept within 0–10."""
    if type(value) is str:
        word = severity_of_word(value)
        if word is not None:
            return word
        if is_placeholder(value):
            return 0
    if type(value) is str or type(value) is int or type(value) is float:  # not true or false: JSON's are no number
        try:
            number = float(value)
        except (ValueError, OverflowError):
            number = None
    else:  # true, false, a list, an object
        number = None
    if number is None or not math.isfinite(number):
        raise ParseError(f"invalid {field}: {str(value)[:20]}")
    if per_100 or number > 10:
        number = number / 10
    return int(round(max(0.0, min(10.0, number))))


def parse_ecs(record: Any, zone: dt.tzinfo = _UTC) -> dict:
    (timestamp, kind, category, severity, observer, host, agent, src_ip, src_port, dst_ip, dst_port, dst_domain,
     question, url_domain, url_full, url_original, rule_id, rule_name, rule_description, message,
     md5, sha1, sha256, alert) = _ecs_fields(_require_object(record))
    time = parse_time(timestamp, "@timestamp", zone)  # read in the order of _event's fields: the reason is the
    if alert is not None or type(severity) is not int or not 0 <= severity <= 10:  # first field's that fails
        severity = _ecs_severity(severity, alert)  # else the usual record: event.severity on 0–10, as is
    if alert is not None and first(rule_id, rule_name) is None:
        # An Elastic Security alert without ECS rule.* fields (they are the source event's, when it has them):
        # the detection rule that raised it (its rule_id is the same in every Kibana that installs the rule).
        rule_id, rule_name = first(alert[6], alert[8]), first(alert[7], alert[9])
    src_ip, src_port = parse_endpoint(src_ip, src_port, "source.ip", "source.port")
    dst_ip, dst_port = parse_endpoint(dst_ip, dst_port, "destination.ip", "destination.port")
    event = _event(
        time,
        _text(kind, 20) or "alert",
        _text(category, 40),
        severity,
        _text(first(observer, host, agent), 200),
        src_ip, src_port, dst_ip, dst_port,
        parse_domain(first(question, url_domain, dst_domain), "dns.question.name/url.domain"),
        _url(first(url_full, url_original)),
        _text(rule_id, 100),
        _text(first(rule_name, rule_description, message), 500),
        ((md5, "file.hash.md5"), (sha1, "file.hash.sha1"), (sha256, "file.hash.sha256")),
    )
    if not event["rule_id"] and not event["rule_name"]:
        raise ParseError("missing rule.id and rule.name")
    return event


# --- CEF ------------------------------------------------------------------------------------------

_CEF_SEVERITY_WORDS = {**SEVERITY_WORDS, "unknown": 0}  # Low, Medium, High, Very-High: the platform's labels
_CEF_VERSION = re.compile(r"CEF:\d+")
_CEF_KEY = re.compile(r"(\s)([A-Za-z0-9_.\[\]-]+)=")
_CEF_UNESCAPE = re.compile(r"\\(.)")
_CEF_ESCAPED = {"n": "\n", "r": "\r"}
_SYSLOG_5424_TIME = re.compile(r"^<\d+>\d\s+(\S+)\s")
_SYSLOG_3164_TIME = re.compile(r"^(?:<\d+>)?([A-Za-z]{3}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2})\s")


def _split_cef_header(text: str) -> list[str]:
    """The seven header fields and the extension; `\\|` and `\\\\` are escapes in the header."""
    parts = text.split("|", 7)
    if len(parts) == 8 and text.find("\\", 0, len(text) - len(parts[7])) < 0:  # no escapes in the header
        return parts
    parts = []
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
    return _CEF_UNESCAPE.sub(lambda m: _CEF_ESCAPED.get(m.group(1), m.group(1)), value)


def parse_cef_extension(text: str) -> dict[str, str]:
    """`key=value …`: a key follows whitespace or starts the text ("\\=" never ends one); values lose trailing spaces."""
    # One split of " " + text: [text before the first key, blank, key, value, blank, key, value, …]. The blank
    # before a key belongs to the value before it (then spaces are dropped from the value's end).
    parts = _CEF_KEY.split(" " + text)
    if parts[0].strip():
        raise ParseError("CEF extension is not key=value pairs")
    keys, values, blanks = parts[2::3], parts[3::3], parts[4::3]
    if blanks.count(" ") == len(blanks) and "  " not in text:  # one space before each key: only the last value
        if values:                                               # can end with a space
            values[-1] = values[-1].rstrip(" ")
    else:
        values = [(value + blank).rstrip(" ") for value, blank in zip(values, blanks + [""])]
    if "\\" in text:  # only a value with a backslash has escapes to undo
        values = [_unescape_value(value) if "\\" in value else value for value in values]
    return dict(zip(keys, values))


def _syslog_time(prefix: str) -> str:
    """The time of the syslog header before a CEF line with no time of its own (ParseError when it has none)."""
    m = _SYSLOG_5424_TIME.match(prefix) or _SYSLOG_3164_TIME.match(prefix)
    if m is None:
        raise ParseError("missing time (rt, end, start or syslog timestamp)")
    return m.group(1)


# The rule of a CEF record is its header's Signature ID and Name, unless the Name is only the event type — as a
# FortiGate writes it: "type:subtype eventtype" in lower case ("utm:ips signature", "utm:virus infected"), the
# same Name and ID (the log id) for every signature. Then the signature the record names is the rule, read from,
# in order: the FortiGate fields FTNTFGTattack / FTNTFGTvirus, a custom string labelled as the signature (csN
# with csNLabel "Attack Name", "Signature"…), or `msg` when it is only a name ("Apache.Log4j.Error…", or
# FortiGate's "web_misc: Apache.Log4j.Error…," — the group before ": " and a final comma are dropped; a sentence,
# "File is infected.", names nothing). The signature's id, when the record gives it (csN/cnN labelled "Attack
# ID"…, FTNTFGTattackid / FTNTFGTvirusid), becomes the rule id, so that two signatures are two alerts; else the
# header's id stays. `act` is the device's action (dropped, detected), never a signature. A header Name that
# names something else (anything not in the "type:subtype eventtype" form) is kept as written.
_CEF_GENERIC_NAME = re.compile(r"[a-z][a-z0-9-]*:[a-z0-9_-]+(?: [a-z0-9_-]+)?")
_CEF_SIGNATURE_LABELS = frozenset({"signature", "signature name", "signaturename", "attack", "attack name",
                                   "attackname", "threat name", "threatname", "virus", "virus name", "virusname"})
_CEF_SIGNATURE_ID_LABELS = frozenset({"signature id", "signatureid", "attack id", "attackid", "threat id",
                                      "threatid", "virus id", "virusid"})
_CEF_VENDOR_SIGNATURES = (("FTNTFGTattack", "FTNTFGTattackid"), ("FTNTFGTvirus", "FTNTFGTvirusid"))
_CEF_MESSAGE_NAME = re.compile(r"(?:[\w.-]+: )?([\w.\-/]{3,200}),?")


@lru_cache(maxsize=1024)
def _cef_generic_name(name: str) -> bool:
    """The header Name is only an event type (above). Cached: a device writes a few Names."""
    return _CEF_GENERIC_NAME.fullmatch(name) is not None


def _cef_signature(ext: dict, labelled: bool) -> tuple[str, str]:
    """(signature name, its id or "") named in a CEF extension, or ("", "") (see above). `labelled`: the
    extension has labels (csNLabel…), looked through only then."""
    for name_key, id_key in _CEF_VENDOR_SIGNATURES:  # the device's own fields first: one lookup each
        name = ext.get(name_key)
        if name and name.strip():
            sig_id = ext.get(id_key, "").strip()
            return name.strip(), "" if is_placeholder(sig_id) else sig_id
    name = sig_id = ""
    if labelled:
        for key, label in ext.items():
            if key[:2] in ("cs", "cn") and key.endswith("Label"):
                wanted = label.strip().lower()
                value = (ext.get(key[:-5]) or "").strip()
                if not value:
                    continue
                if key[:2] == "cs" and wanted in _CEF_SIGNATURE_LABELS and not name:
                    name = value
                elif wanted in _CEF_SIGNATURE_ID_LABELS and not sig_id:
                    sig_id = value
    if not name:
        found = _CEF_MESSAGE_NAME.fullmatch(ext.get("msg", "").strip())
        if found is None:
            return "", ""
        name = found.group(1)
    return name, "" if is_placeholder(sig_id) else sig_id


def parse_cef(record: Any, zone: dt.tzinfo = _UTC) -> dict:
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
    if version != "CEF:0" and not _CEF_VERSION.fullmatch(version.strip()):
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
            if not is_placeholder(sev_text):
                raise ParseError(f"invalid CEF severity: {severity[:20]}") from None
            sev = 0
        if not 0 <= sev <= 10:
            raise ParseError(f"CEF severity out of range: {sev}")
    ext = parse_cef_extension(extension)
    get = ext.get  # its values are all text, so `or` finds the first non-empty one
    try:
        time = parse_time(get("rt") or get("end") or get("start") or _syslog_time(prefix), "rt", zone)
    except ParseError:
        # A placeholder ("rt=-") is no time: the next of end, start and the syslog header's time is read.
        written = [value for value in (get("rt"), get("end"), get("start")) if value and not is_placeholder(value)]
        first = written[0].strip() if written else ""
        if first.isdigit() and first.isascii() and len(first) < 9:
            # Epoch milliseconds too small for parse_time's epoch (9–13 digits): a device whose clock was never
            # set ("rt=0", "rt=1000"). Read as what it is, so that the time window refuses it with that reason.
            time = dt.datetime.fromtimestamp(int(first) / 1000, tz=_UTC)
        else:
            time = parse_time(written[0] if written else _syslog_time(prefix), "rt", zone)
    file_hash = get("fileHash")
    src_ip, src_port = parse_endpoint(get("src"), get("spt"), "src", "spt")
    dst_ip, dst_port = parse_endpoint(get("dst"), get("dpt"), "dst", "dpt")
    rule_id, rule_name = signature_id.strip(), name.strip()
    if ":" in rule_name and _cef_generic_name(rule_name):  # only the event type (above `_cef_signature`)
        signature, its_id = _cef_signature(ext, "Label=" in extension)
        if signature:
            rule_name, rule_id = signature, its_id or rule_id
    return _event(
        time,
        "alert",
        _text(get("cat"), 40),
        sev,
        _text(get("dvchost") or f"{vendor} {product}".strip(), 200),
        src_ip, src_port, dst_ip, dst_port,
        parse_domain(get("dhost") or get("destinationDnsDomain"), "dhost"),
        _url(get("request")),
        rule_id[:100],
        rule_name[:500],
        ((file_hash, "fileHash"),) if file_hash is not None else (),
    )


PARSERS: dict[str, Callable[[Any, dt.tzinfo], dict]] = {
    "wazuh": parse_wazuh,
    "suricata": parse_suricata,
    "ecs": parse_ecs,
    "cef": parse_cef,
}
