"""CSV of indicators: import (one STIX indicator per row, simple pattern) and export.

Import columns (header row required; names case-insensitive; UTF-8 with or without BOM; `;` or `,`):

=============  =========  =================================================================
column         required   content
=============  =========  =================================================================
type           yes        ipv4, ipv6, cidr, domain, url, email, md5, sha1, sha256
                          (also: ip, ip-src, ip-dst, hostname, email-src, email-dst, sha-1, sha-256)
value          yes        the observable
name           no         indicator name (default: "<type> <value>")
description    no         free text
valid_until    no         date (YYYY-MM-DD: the end of that day, Asia/Ho_Chi_Minh) or date and
                          time (ISO 8601; without an offset: UTC), in the future
confidence     no         0–100
labels         no         separated by | (or , inside a quoted cell)
tlp            no         clear, white, green, amber, amber+strict (or amber_strict), red
                          (empty: the producer's default)
=============  =========  =================================================================

The columns an export adds (indicator_id, producer, revoked, warning_listed) are accepted and not stored: an
exported file imports again. A row marked revoked (1) is refused: a revoked indicator is not shared again.

All or nothing: every row is checked first; one bad row and nothing is stored, the report lists
every bad row (row number — the header is row 1 —, column, reason).

A row's indicator id is derived from the producer and the row's value and type by a keyed hash (`row_id`,
`assign_row_ids`: ids of a former key or of before the ids were keyed are reused): importing
the same file again stores nothing new (counted as already stored), a changed row (a new name, a
later end of validity…) becomes a new version of the same indicator, and a value given twice in one
file is refused at its second row.

Export columns: type, value, indicator_id, name, producer, tlp, confidence, valid_until, revoked,
warning_listed — one line per indexed value of the latest visible version of each indicator (active ones
only unless the selection asks for inactive ones too); tlp spelled as the import reads it (amber+strict).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import ipaddress
import re
import uuid

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from khien.core import shapes
from khien.core.spreadsheet import safe_cell
from khien.core.timerange import out_of_range_message
from khien.registry.imports import ROW, read_rows

from .. import services, tlp, warninglists
from ..models import IndicatorKind, IndicatorValue, StixObject, Tlp
from . import common, stix_export
from .common import ImportRejected, ImportReport, add_objects, check_write, read_limited, reuse_stored_versions

IMPORT_COLUMNS = ["type", "value", "name", "description", "valid_until", "confidence", "labels", "tlp"]
# What an export writes besides: accepted on import so that an exported file imports again, not stored.
INFORMATIONAL_COLUMNS = ["indicator_id", "producer", "revoked", "warning_listed"]
REQUIRED = ["type", "value"]
EXPORT_COLUMNS = ["type", "value", "indicator_id", "name", "producer", "tlp", "confidence", "valid_until",
                  "revoked", "warning_listed"]

TYPE_ALIASES = {
    "ipv4": IndicatorKind.IPV4, "ip": None, "ip-src": None, "ip-dst": None, "ipv6": IndicatorKind.IPV6,
    "cidr": IndicatorKind.CIDR, "domain": IndicatorKind.DOMAIN, "hostname": IndicatorKind.DOMAIN,
    "domain-name": IndicatorKind.DOMAIN, "url": IndicatorKind.URL, "email": IndicatorKind.EMAIL,
    "email-src": IndicatorKind.EMAIL, "email-dst": IndicatorKind.EMAIL, "md5": IndicatorKind.MD5,
    "sha1": IndicatorKind.SHA1, "sha-1": IndicatorKind.SHA1, "sha256": IndicatorKind.SHA256,
    "sha-256": IndicatorKind.SHA256,
}
TLP_WORDS = {"clear": Tlp.CLEAR, "white": Tlp.CLEAR, "green": Tlp.GREEN, "amber": Tlp.AMBER,
             "amber+strict": Tlp.AMBER_STRICT, "amber_strict": Tlp.AMBER_STRICT, "red": Tlp.RED}
# The TLP as the import and the docs spell it (TLP 2.0: "amber+strict"), not the stored value "amber_strict".
TLP_SPELLING = {Tlp.CLEAR: "clear", Tlp.GREEN: "green", Tlp.AMBER: "amber", Tlp.AMBER_STRICT: "amber+strict",
                Tlp.RED: "red"}
HASH_PATH = {IndicatorKind.MD5: "MD5", IndicatorKind.SHA1: "'SHA-1'", IndicatorKind.SHA256: "'SHA-256'"}
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?!-)([a-z0-9_-]{1,63}\.)+[a-z][a-z0-9-]{0,62}$")
EMAIL_RE = re.compile(r"^[^@\s']+@[^@\s']+\.[^@\s']+$")


class _Bad(Exception):
    def __init__(self, column, message):
        super().__init__(message)
        self.column, self.message = column, message


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern_for(kind: str, value: str) -> tuple[str, str]:
    """(STIX pattern, normalized value) of one typed value; _Bad when the value is not of the type. A defanged
    value (hxxp://evil[.]top/a) is read as the real one, as the indicator form reads it (`shapes.refang`)."""
    value = shapes.refang(value)
    if kind in (None, IndicatorKind.IPV4, IndicatorKind.IPV6, IndicatorKind.CIDR):
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise _Bad("value", _("“%(value)s” is not an IP address or network.") % {"value": value})
        if kind == IndicatorKind.IPV4 and net.version != 4 or kind == IndicatorKind.IPV6 and net.version != 6:
            raise _Bad("value", _("“%(value)s” is not an IPv%(v)s address.")
                       % {"value": value, "v": 4 if kind == IndicatorKind.IPV4 else 6})
        text = str(net.network_address) if net.num_addresses == 1 and "/" not in value else str(net)
        path = "ipv4-addr" if net.version == 4 else "ipv6-addr"
        return f"[{path}:value = {_quote(text)}]", text
    if kind == IndicatorKind.DOMAIN:
        text = value.lower().rstrip(".")
        if not DOMAIN_RE.match(text):
            raise _Bad("value", _("“%(value)s” is not a domain name.") % {"value": value})
        return f"[domain-name:value = {_quote(text)}]", text
    if kind == IndicatorKind.URL:
        url = shapes.url_value(value)
        if url is None:
            raise _Bad("value", _("“%(value)s” is not a URL (scheme://…).") % {"value": value})
        return f"[url:value = {_quote(url)}]", url
    if kind == IndicatorKind.EMAIL:
        text = value.lower()
        if not EMAIL_RE.match(text):
            raise _Bad("value", _("“%(value)s” is not an e-mail address.") % {"value": value})
        return f"[email-addr:value = {_quote(text)}]", text
    text = value.lower()
    if not services.is_hash(kind, text):
        raise _Bad("value", _("“%(value)s” is not a %(kind)s hash (%(n)s hexadecimal digits).")
                   % {"value": value, "kind": kind.upper(), "n": services.HASH_LENGTHS[kind]})
    return f"[file:hashes.{HASH_PATH[kind]} = {_quote(text)}]", text


def _timestamp(value: dt.datetime) -> str:
    return services.format_timestamp(value.replace(microsecond=value.microsecond // 1000 * 1000))


# The namespace of the indicator ids CSV rows got before they were keyed (uuid5 of producer and pattern): anyone
# could compute them (the namespace is in the source, an organization's uuid is shown to every user). Still
# looked up at import (`assign_row_ids`), so that a file imported before keeps its indicators.
CSV_NAMESPACE = uuid.UUID("6f0c3c1e-4c8e-5b8a-9a43-1f6e6b0c4d21")
ROW_ID_PURPOSE = "khien.intel.exchange.csv_io.row_id"


def _keyed_row_id(producer_id, pattern: str, secret) -> str:
    digest = salted_hmac(ROW_ID_PURPOSE, "{}|{}".format(producer_id or "", pattern), secret=secret,
                         algorithm="sha256").digest()
    return "indicator--{}".format(uuid.UUID(bytes=digest[:16], version=4))


def row_id(producer_id, pattern: str) -> str:
    """The indicator id of a CSV row: the same producer and value (and type) give the same id at every import.

    A keyed hash (the platform's SECRET_KEY) written as a UUIDv4: no one outside the platform can compute the id
    an organization's row gets, so no one can probe whether it reported a value, nor take the id first."""
    return _keyed_row_id(producer_id, pattern, settings.SECRET_KEY)


def candidate_row_ids(producer_id, pattern: str) -> list[str]:
    """The ids a row may already have, in order of preference: the current key's, each former key's
    (SECRET_KEY_FALLBACKS: a key rotation), the id computed before they were keyed (an upgrade)."""
    ids = [row_id(producer_id, pattern)]
    ids += [_keyed_row_id(producer_id, pattern, key) for key in getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    ids.append("indicator--{}".format(uuid.uuid5(CSV_NAMESPACE, "{}|{}".format(producer_id or "", pattern))))
    return list(dict.fromkeys(ids))


def assign_row_ids(objects: list, producer_id) -> list:
    """`objects` (one per row, by pattern) with their ids: the candidate id (`candidate_row_ids`) of which this
    producer already stored a version, else the current key's. One query; ids another organization took are never
    reused (nor in the way: the current key's id is not theirs to know)."""
    candidates = {obj["pattern"]: candidate_row_ids(producer_id, obj["pattern"]) for obj in objects}
    every = sorted({i for ids in candidates.values() for i in ids})
    own = set()
    if producer_id is not None:
        for start in range(0, len(every), common.ID_CHUNK):  # a large file: bounded IN lists
            own.update(StixObject.objects.filter(stix_id__in=every[start:start + common.ID_CHUNK], producer_id=producer_id)
                       .order_by().values_list("stix_id", flat=True).distinct())
    out = []
    for obj in objects:
        ids = candidates[obj["pattern"]]
        out.append({**obj, "id": next((i for i in ids if i in own), ids[0])})
    return out


def read_date_or_time(text: str, *, end_of_day: bool) -> dt.datetime | None:
    """An ISO 8601 date and time, or a date alone: then the start of that day — or its last millisecond when
    `end_of_day` (an end of validity) — in the platform's time zone (Asia/Ho_Chi_Minh), not UTC: "valid until
    2027-01-31" means to the end of the 31st as people there read it. None when neither."""
    try:
        day = dt.date.fromisoformat(text.strip()) if len(text.strip()) == 10 else None
    except ValueError:
        day = None
    if day is None:
        return services.read_timestamp(text)
    moment = dt.time(23, 59, 59, 999000) if end_of_day else dt.time()
    return timezone.make_aware(dt.datetime.combine(day, moment))


def parse_row(row: dict, now: dt.datetime) -> dict:
    """The STIX indicator of one CSV row; raises _Bad (with every problem of the row as a list)."""
    problems: list[_Bad] = []
    raw_type = row.get("type", "").strip().lower()
    value = row.get("value", "").strip()
    kind = "?"
    if not raw_type:
        problems.append(_Bad("type", _("The type is required.")))
    elif raw_type not in TYPE_ALIASES:
        problems.append(_Bad("type", _("Unknown type “%(type)s”; use one of: %(types)s.")
                             % {"type": raw_type, "types": ", ".join(IndicatorKind.values)}))
    else:
        kind = TYPE_ALIASES[raw_type]
    pattern = ""
    if not value:
        problems.append(_Bad("value", _("The value is required.")))
    elif kind != "?":
        try:
            pattern, value = pattern_for(kind, value)
        except _Bad as exc:
            problems.append(exc)
    obj = {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": _timestamp(now), "modified": _timestamp(now),
        "name": row.get("name", "").strip() or f"{raw_type} {value}"[:250],
        "indicator_types": ["malicious-activity"],
        "pattern": pattern, "pattern_type": "stix", "valid_from": _timestamp(now),
    }
    if row.get("description", "").strip():
        obj["description"] = row["description"].strip()
    if row.get("revoked", "").strip().lower() in ("1", "true", "yes"):
        problems.append(_Bad("revoked", _("This indicator is revoked in the exported file: a revoked indicator "
                                          "is not imported again; remove the row.")))
    until = row.get("valid_until", "").strip()
    if until:
        parsed = read_date_or_time(until, end_of_day=True)
        if parsed is None:
            problems.append(_Bad("valid_until", _("“%(value)s” is not a date (YYYY-MM-DD) or an ISO 8601 "
                                                  "date and time.") % {"value": until}))
        elif not services.in_range(parsed):
            problems.append(_Bad("valid_until", out_of_range_message()))
        elif parsed <= now:
            problems.append(_Bad("valid_until", _("The end of validity must be in the future.")))
        else:
            obj["valid_until"] = _timestamp(parsed)
    confidence = row.get("confidence", "").strip()
    if confidence:
        if not confidence.isdigit() or int(confidence) > 100:
            problems.append(_Bad("confidence", _("The confidence is a whole number from 0 to 100.")))
        else:
            obj["confidence"] = int(confidence)
    labels = [lb.strip() for lb in re.split(r"[|,]", row.get("labels", "")) if lb.strip()]
    if labels:
        obj["labels"] = labels
    level = row.get("tlp", "").strip().lower().removeprefix("tlp:")
    if level:
        if level not in TLP_WORDS:
            problems.append(_Bad("tlp", _("Unknown TLP “%(value)s”; use clear, green, amber, amber+strict or red.")
                                 % {"value": row["tlp"]}))
        else:
            obj["object_marking_refs"] = [tlp.TLP_MARKING[TLP_WORDS[level]]]
    if problems:
        raise _Bad(None, problems)
    return obj


def import_csv(collection, source, *, acting_user, file_name: str = "", recipients=None) -> ImportReport:
    """One indicator per row into `collection`; one bad row and nothing is stored."""
    check_write(collection, acting_user)
    report = ImportReport(format="csv", file_name=file_name)
    producer_id = services.producer_for(acting_user, collection)
    data = read_limited(source)
    rows = read_rows(io.BytesIO(data))
    header = [k for k in rows[0] if k != ROW]
    unknown = [c for c in header if c not in IMPORT_COLUMNS and c not in INFORMATIONAL_COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing:
        message = []
        if unknown:
            message.append(_("Unknown columns: %(cols)s.") % {"cols": ", ".join(unknown)})
        if missing:
            message.append(_("Required columns are missing: %(cols)s.") % {"cols": ", ".join(missing)})
        message.append(_("The columns are: %(known)s.") % {"known": ", ".join(IMPORT_COLUMNS)})
        report.rejected = [{"ref": "1", "column": "", "message": " ".join(message)}]
        raise ImportRejected(" ".join(message), report)
    now = timezone.now()
    objects = []
    first_row: dict[str, str] = {}  # pattern -> the row that gave it first
    for row in rows:
        try:
            obj = parse_row(row, now)
        except _Bad as exc:
            report.rejected.extend({"ref": str(row[ROW]), "column": p.column, "message": str(p.message)}
                                   for p in exc.message)
            continue
        if obj["pattern"] in first_row:
            message = _("This value is already given at row %(row)s; give each value once.") \
                % {"row": first_row[obj["pattern"]]}
            report.rejected.append({"ref": str(row[ROW]), "column": "value", "message": message})
            continue
        first_row[obj["pattern"]] = str(row[ROW])
        objects.append(obj)
    if report.rejected:
        bad_rows = len({r["ref"] for r in report.rejected})
        raise ImportRejected(_("%(count)d of %(total)d rows are rejected; nothing was stored.")
                             % {"count": bad_rows, "total": len(rows)}, report)
    objects = assign_row_ids(objects, producer_id)
    objects = _fresh_id_when_revoked(reuse_stored_versions(objects, producer_id), producer_id)
    rows_of = {obj["id"]: first_row[obj["pattern"]] for obj in objects}
    try:
        return add_objects(collection, objects, report, acting_user=acting_user, recipients=recipients)
    except ImportRejected as exc:  # refused by the store: said by row, as every other refusal of a CSV file
        rows_named = [{**r, "ref": rows_of.get(r["ref"], r["ref"])} for r in exc.report.rejected]
        exc.report.rejected = rows_named
        bad_rows = len({r["ref"] for r in rows_named if r["ref"] in first_row.values()})
        if bad_rows:
            exc.message = _("%(count)d of %(total)d rows are rejected; nothing was stored.") \
                % {"count": bad_rows, "total": len(rows)}
            exc.args = (exc.message,)
        raise


def _fresh_id_when_revoked(objects: list, producer_id) -> list:
    """A revoked indicator has no later version (STIX): a row whose indicator the producer revoked becomes a new
    indicator."""
    revoked = set(StixObject.objects.filter(stix_id__in=[o["id"] for o in objects], producer_id=producer_id,
                                            revoked=True).values_list("stix_id", flat=True))
    return [{**o, "id": f"indicator--{uuid.uuid4()}"} if o["id"] in revoked else o for o in objects]


def _cell(value) -> str:
    return safe_cell("" if value is None else str(value))


def iter_csv(user, sel: stix_export.Selection):
    """CSV lines (text) of the indicator values of the selection's indicators the user may see."""
    sel = stix_export.Selection(**{**sel.__dict__, "types": ["indicator"]})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()
    lists = warninglists.compiled()
    batch = []

    def flush():
        buffer.seek(0)
        buffer.truncate()
        producers = {}
        values = {}
        for value in IndicatorValue.objects.filter(object_id__in=[r.pk for r in batch]).order_by("kind", "value"):
            values.setdefault(value.object_id, []).append(value)
        from khien.registry.models import Organization
        for org in Organization.objects.filter(pk__in={r.producer_id for r in batch if r.producer_id}):
            producers[org.pk] = org.code
        for row in batch:
            for value in values.get(row.pk, ()):
                writer.writerow([_cell(v) for v in (
                    value.kind, value.value, row.stix_id, row.data.get("name", ""), producers.get(row.producer_id, ""),
                    TLP_SPELLING[row.tlp], "" if row.confidence is None else row.confidence,
                    row.valid_until.isoformat() if row.valid_until else "", "1" if row.revoked else "0",
                    "1" if warninglists.is_listed(value.kind, value.value, lists) else "0")])
        batch.clear()
        return buffer.getvalue()

    for row in stix_export.iter_rows(user, sel):
        batch.append(row)
        if len(batch) >= 500:
            yield flush()
    if batch:
        yield flush()
