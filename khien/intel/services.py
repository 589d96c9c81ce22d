"""Intelligence operations. The only place that changes the STIX store and its collections.

Every `do_*` function takes `acting_user`, checks the right (collection rights
come from `tlp.py`, organization rights from `khien.core.scoping`), validates
everything before writing, writes in one transaction and appends to the audit
log. TAXII views, the REST API, imports and commands all call these.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import re
import threading
from dataclasses import dataclass, field

import orjson

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from stix2.registry import STIX2_OBJ_MAPS
from stix2patterns.v21.pattern import Pattern
from stix2validator import ValidationOptions, validate_instance

from khien.core import audit, resumable, shapes
from khien.core.audit import Act, Change
from khien.core.errors import Forbidden, Refused
from khien.core.roles import Action
from khien.core.scoping import is_national_coordinator, user_can
from khien.core.timerange import out_of_range_message, storable
from khien.registry.models import Organization

from . import indicator_status, notices, tlp, validator_words
from .validator_words import in_reader_language
from .models import (
    UNVERSIONED,
    Collection,
    CollectionKind,
    CollectionMember,
    CollectionObject,
    IndicatorKind,
    IndicatorValue,
    OrganizationIdentity,
    StixObject,
    StixRecipient,
    TaxiiStatus,
    Tlp,
    identity_id_for,
)

KNOWN_TYPES = frozenset(STIX2_OBJ_MAPS["2.1"]["objects"]) | frozenset(STIX2_OBJ_MAPS["2.1"]["observables"])
NEW_TYPE_EXTENSIONS = {"new-sdo", "new-sco", "new-sro"}
SCO_TYPES = frozenset(STIX2_OBJ_MAPS["2.1"]["observables"])
BATCH = 1000
PROGRESS_EVERY = 200  # validated objects between two progress reports of a background submission
AUDIT_MAX_IDS = 10000
log = logging.getLogger(__name__)


class InvalidStix(Refused):
    """Some objects of a submission are not valid STIX 2.1: nothing was written.

    `errors` maps each rejected object's id (or `#<position>` when it has none)
    to its messages.
    """

    code_name = "invalid_stix"

    def __init__(self, message, errors: dict[str, list[str]]):
        super().__init__(message, code=self.code_name, status=422)
        self.errors = errors

    @property
    def others(self) -> str:
        """What a TAXII status says of the objects of the request that carry no error of their own."""
        return _("Not stored: other objects of this request are invalid.")


class CreatorRefused(InvalidStix):
    """Some objects name another platform organization as their author (`created_by_ref`, or are its
    identity) or as where they were seen (a sighting's `where_sighted_refs`): nothing was written. See
    `_foreign_creator_errors`."""

    code_name = "foreign_creator"

    @property
    def others(self) -> str:
        return _("Not stored: another object of this request was refused.")


class SharingRefused(CreatorRefused):
    """Some objects are versions another organization stored under TLP:AMBER, AMBER+STRICT or RED, sent into
    a collection that does not hold them yet, or naming recipients of another organization's TLP:RED version:
    nothing was written. Only a version's producer shares it on (TLP 2.0); see `_reshared_versions`."""

    code_name = "not_producer"


@dataclass
class AddResult:
    total: int = 0
    created: int = 0           # new versions stored
    existing: int = 0          # versions already stored (not duplicated)
    added_to_collection: int = 0
    already_in_collection: int = 0
    hidden: int = 0            # stored versions the submitter may not see, left out (skip_hidden)
    success_ids: list[tuple[str, str]] = field(default_factory=list)  # (stix id, version) of each accepted object
    errors: dict[str, list[str]] = field(default_factory=dict)
    status: TaxiiStatus | None = None
    red_unshared: int = 0      # new TLP:RED versions naming no recipient: seen by their producer only


# --- STIX helpers ------------------------------------------------------------------------------

_FRACTION = re.compile(r"(\.\d{6})\d+")


def read_timestamp(value) -> dt.datetime | None:
    """A STIX timestamp (any sub-second precision) as an aware datetime in its own offset (UTC when it has
    none); None when absent or invalid. Not yet moved to UTC: see `parse_timestamp`."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


def parse_timestamp(value) -> dt.datetime | None:
    """A STIX timestamp (any sub-second precision) as an aware UTC datetime; None when absent or invalid, or
    when it cannot be moved to UTC (year 1 or 9999 with an offset). Whether the platform may store or compare
    it is `in_range`: what takes timestamps from outside checks it (`check_object`, `timestamp_parameter`)."""
    parsed = read_timestamp(value)
    if parsed is None:
        return None
    try:
        return parsed.astimezone(dt.timezone.utc)
    except OverflowError:
        return None


def in_range(value: dt.datetime) -> bool:
    """The (aware) datetime lies within the years the platform stores (`khien.core.timerange`), in its own
    offset and in UTC: it can be stored, compared and shown in any time zone."""
    return storable(value) and storable(value.astimezone(dt.timezone.utc))


def out_of_range_error(name: str) -> str:
    """The refusal of a timestamp outside the years the platform stores, naming what carries it."""
    return f"{name}: {out_of_range_message()}"


def timestamp_parameter(value, name: str) -> dt.datetime:
    """A timestamp a caller gives as a filter (TAXII `added_after` and `match[version]`, the export's
    `added_since`) as an aware UTC datetime; `Refused` (400) naming `name` when it is not a timestamp or lies
    outside the years the platform stores."""
    parsed = read_timestamp(value)
    if parsed is None:
        raise Refused(_("'%(name)s' is not a valid timestamp.") % {"name": name}, code="invalid")
    if not in_range(parsed):
        raise Refused(out_of_range_error(name), code="out_of_range")
    return parsed.astimezone(dt.timezone.utc)


def format_timestamp(value: dt.datetime) -> str:
    """STIX/TAXII timestamp text: UTC, `Z`, milliseconds (microseconds when present)."""
    value = value.astimezone(dt.timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if value.microsecond % 1000 == 0:
        text = text[:-3]
    return text + "Z"


def version_of(obj: dict) -> dt.datetime:
    return parse_timestamp(obj.get("modified")) or parse_timestamp(obj.get("created")) or UNVERSIONED


def _unquote(literal: str) -> str:
    if len(literal) >= 2 and literal[0] == literal[-1] == "'":
        return literal[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    return literal


# The shape of a value of a kind (core.shapes), the one rule of the allow-list, the forms, the CSV import and the
# value search.
HASH_LENGTHS = {IndicatorKind(kind): length for kind, length in shapes.HASH_LENGTHS.items()}  # hexadecimal digits
is_hash = shapes.is_hash
is_email_address = shapes.is_email_address


HASH_KINDS = {"SHA-256": IndicatorKind.SHA256, "SHA256": IndicatorKind.SHA256, "MD5": IndicatorKind.MD5,
              "SHA-1": IndicatorKind.SHA1, "SHA1": IndicatorKind.SHA1}


def normalize_value(kind: str, raw: str) -> tuple[str, str] | None:
    """(kind, normalized value) for lookup; None when the value is not of that kind."""
    raw = raw.strip()
    if kind in (IndicatorKind.IPV4, IndicatorKind.IPV6):
        try:
            if "/" in raw:
                net = ipaddress.ip_network(raw, strict=False)
                if net.num_addresses == 1:
                    return kind, str(net.network_address)
                return IndicatorKind.CIDR, str(net)
            return kind, str(ipaddress.ip_address(raw))
        except ValueError:
            return None
    if kind == IndicatorKind.DOMAIN:
        return kind, raw.lower().rstrip(".")
    if kind == IndicatorKind.EMAIL:
        return kind, raw.lower()
    if kind in (IndicatorKind.MD5, IndicatorKind.SHA1, IndicatorKind.SHA256):
        return kind, raw.lower()
    return kind, raw


PATH_KINDS = {
    ("ipv4-addr", "value"): IndicatorKind.IPV4,
    ("ipv6-addr", "value"): IndicatorKind.IPV6,
    ("domain-name", "value"): IndicatorKind.DOMAIN,
    ("url", "value"): IndicatorKind.URL,
    ("email-addr", "value"): IndicatorKind.EMAIL,
}


def extract_values(pattern: str) -> list[tuple[str, str]]:
    """The (kind, value) of every `=` comparison on a known object path of a STIX pattern.

    Raises the stix2-patterns parse error for an invalid pattern.
    """
    found: list[tuple[str, str]] = []
    comparisons = Pattern(pattern).inspect().comparisons
    for object_type, items in comparisons.items():
        for path, op, literal in items:
            if op != "=" or not isinstance(literal, str) or not literal.startswith("'"):
                continue
            kind = None
            if len(path) == 1:
                kind = PATH_KINDS.get((object_type, path[0]))
            elif object_type == "file" and len(path) == 2 and path[0] == "hashes":
                kind = HASH_KINDS.get(str(path[1]).strip("'").upper())
            if kind is None:
                continue
            normalized = normalize_value(kind, _unquote(literal))
            if normalized and normalized[1] and len(normalized[1]) <= 2048:
                found.append(normalized)
    return sorted(set(found))


# The timestamps of an object that `_row_for` keeps in DateTimeFields (listed, filtered, shown in local time).
STORED_TIMESTAMPS = ("created", "modified", "valid_from", "valid_until")
# STIX objects are shallow (an extension's property holding a list of objects is 4 levels): deeper is refused,
# far below what the JSON encoder (255 levels), the validator and the pages go.
MAX_DEPTH = 32
MAX_OBJECT_BYTES = 1024 * 1024  # one object's JSON text
# Characters no stored text may hold: NUL (PostgreSQL's text and jsonb refuse it) and lone surrogates (not UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with the characters it cannot be stored or sent with written as \\uXXXX (ids and paths in errors)."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def object_key(obj, position: int) -> str:
    """How the errors of a submitted object name it: its id, else `#<position>` (0-based)."""
    stix_id = obj.get("id") if isinstance(obj, dict) else None
    return printable(stix_id) if isinstance(stix_id, str) and stix_id else f"#{position}"


def shape_errors(value) -> list[str]:
    """Unstorable characters in any key or string of a JSON value, nesting deeper than MAX_DEPTH, each named
    by its path: checked without recursion, before anything else reads the value (objects, MISP events)."""
    errors: list[str] = []
    stack = [(value, "", 1)]
    while stack:
        container, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return [_("%(path)s: nested deeper than %(max)d levels.") % {"path": path, "max": MAX_DEPTH}]
        for name, item in (container.items() if isinstance(container, dict) else enumerate(container)):
            where = f"{path}[{name}]" if isinstance(container, list) else f"{path}.{printable(name)}".lstrip(".")
            if (isinstance(name, str) and _UNSTORABLE.search(name)) or (
                    isinstance(item, str) and _UNSTORABLE.search(item)):
                errors.append(_("%(path)s: contains a NUL character or an invalid Unicode character (a lone "
                                "surrogate).") % {"path": where})
            elif isinstance(item, (dict, list)):
                stack.append((item, where, depth + 1))
    return sorted(errors)


def _shape_errors(obj: dict) -> list[str]:
    """`shape_errors`, then the size of the object's JSON text (at most MAX_OBJECT_BYTES)."""
    errors = shape_errors(obj)
    if not errors and len(stix_text(obj).encode()) > MAX_OBJECT_BYTES:
        errors.append(_("The object is larger than %(size)d bytes of JSON.") % {"size": MAX_OBJECT_BYTES})
    return errors


# A JSON string, or one bracket: what `summarized_json` walks (strings are skipped whole, so that a bracket
# inside one is not counted).
_JSON_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def summarized_json(text: str) -> str | None:
    """The JSON text of a stored object with every container nested deeper than MAX_DEPTH replaced by a note
    (a string); None when nothing is that deep. For the versions stored before the intake refused such nesting
    (`shape_errors`): hundreds of levels break every reader that recurses (the JSON decoder and encoder, the
    pages, the API) with a RecursionError. Walks the text without recursion; `StixObject.data` reads through it
    (`models.StixDataField`)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:  # cannot be that deep: no walk (most objects)
        return None
    depth, start, cuts = 0, None, []
    for match in _JSON_NESTING.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth == MAX_DEPTH + 1:
                start = match.start()
        elif token in "]}":
            if depth == MAX_DEPTH + 1:
                cuts.append((start, match.end()))
            depth -= 1
    if not cuts:
        return None
    note = json.dumps(_("(nested deeper than %(max)d levels: not shown; the STIX download holds it whole)")
                      % {"max": MAX_DEPTH}, ensure_ascii=False)
    parts, previous = [], 0
    for begin, end in cuts:
        parts += [text[previous:begin], note]
        previous = end
    parts.append(text[previous:])
    return "".join(parts)


class SummarizedData(dict):
    """The `data` of a stored version read through `summarized_json`: parts too deep are notes. Shown, never
    exported as the object (`is_summarized`)."""


def is_summarized(data) -> bool:
    return isinstance(data, SummarizedData)


def _schema_errors(obj: dict, options: ValidationOptions) -> list[str]:
    """The JSON-schema errors alone: what stix2-validator says when its other checks crash on a property of
    the wrong type (a number as a timestamp, an item of a list that is not an object…)."""
    from stix2validator.validator import _schema_validate, pretty_error

    try:
        return [in_reader_language(pretty_error(e, options.verbose))
                for gen, _prefix in _schema_validate(obj, options) for e in gen]
    except Exception:
        return []


def check_object(obj, position: int, options: ValidationOptions, cache: dict | None = None) -> tuple[str, list[str]]:
    """(key, errors) for one submitted object: its shape (characters, depth, size), stix2-validator, the years
    of its stored timestamps, custom types, the pattern. Every way in (API, TAXII, file imports, federation
    pulls) passes here (`do_add_objects`).

    `cache` receives the observable values of each valid pattern (pattern → values).
    """
    key = object_key(obj, position)
    if not isinstance(obj, dict):
        return key, [_("Each object must be a JSON object.")]
    errors = _shape_errors(obj)
    for name in ("type", "id", "spec_version"):
        value = obj.get(name, "2.1" if name == "spec_version" else None)
        if not isinstance(value, str) or not value:
            errors.append(_("%(name)s: required, and must be a non-empty string.") % {"name": name})
    if errors:
        return key, errors
    try:
        result = validate_instance(obj, options)
        raw = [str(e) for e in result.errors]
        errors.extend(validator_words.object_messages(obj.get("id"), raw))
    except Exception as exc:  # the validator's own checks raise on properties of a type they do not expect
        log.info("stix2-validator failed on %s: %r", key, exc)
        errors.extend(_schema_errors(obj, options) or [
            _("Not a valid STIX object: a property has a value of the wrong type.")])
        return key, errors
    for name in STORED_TIMESTAMPS:
        parsed = read_timestamp(obj.get(name))
        if parsed is not None and not in_range(parsed):
            errors.append(out_of_range_error(name))
    stix_type = obj.get("type")
    if stix_type == "bundle":
        errors.append(_("A bundle cannot be stored as an object; send its objects."))
    elif isinstance(stix_type, str) and stix_type not in KNOWN_TYPES:
        extensions = obj.get("extensions") if isinstance(obj.get("extensions"), dict) else {}
        declared = any(
            isinstance(name, str) and name.startswith("extension-definition--") and isinstance(ext, dict)
            and ext.get("extension_type") in NEW_TYPE_EXTENSIONS
            for name, ext in extensions.items()
        )
        if not declared:
            errors.append(_("Unknown object type '%(type)s' without an extension definition "
                            "(extension_type new-sdo, new-sco or new-sro).") % {"type": stix_type})
    if obj.get("spec_version", "2.1") != "2.1":
        errors.append(_("Only STIX 2.1 objects are accepted."))
    if stix_type == "indicator" and obj.get("pattern_type") == "stix" and isinstance(obj.get("pattern"), str):
        try:
            values = extract_values(obj["pattern"])
        except Exception as exc:  # stix2-patterns raises its ParseException on a broken pattern
            # said once: stix2-validator may have found it already (its words, as the validator wrote them)
            if not any(validator_words.is_pattern_message(e) for e in raw):
                errors.append(validator_words.parse_error(exc))
        else:
            if cache is not None:
                cache[obj["pattern"]] = values
    return key, errors


# --- Organizations' identities -------------------------------------------------------------------


def ensure_identities(organization_ids) -> dict:
    """The OrganizationIdentity of each organization, made on first use (derived data, not audited)."""
    organization_ids = list(organization_ids)
    existing = {i.organization_id: i for i in OrganizationIdentity.objects.filter(organization_id__in=organization_ids)}
    missing = [OrganizationIdentity(organization_id=o, stix_id=identity_id_for(o))
               for o in organization_ids if o not in existing]
    if missing:
        OrganizationIdentity.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {i.organization_id: i for i in
                    OrganizationIdentity.objects.filter(organization_id__in=organization_ids)}
    return existing


def identity_object(organization: Organization) -> dict:
    """The STIX 2.1 identity of an organization (what `created_by_ref` of its objects points to)."""
    created = format_timestamp(organization.created_at.replace(microsecond=organization.created_at.microsecond
                                                               // 1000 * 1000))
    obj = {
        "type": "identity",
        "spec_version": "2.1",
        "id": identity_id_for(organization.pk),
        "created": created,
        "modified": created,
        "name": organization.name_en or organization.name_vi,
        "identity_class": "organization",
        # Organizations' names are public: every reader of an object can resolve who made it.
        "object_marking_refs": [tlp.TLP_MARKING[Tlp.CLEAR]],
    }
    if organization.name_en and organization.name_vi and organization.name_en != organization.name_vi:
        obj["description"] = organization.name_vi
    return obj


IDENTITY_REF_FIELDS = ("created_by_ref",)
IDENTITY_LIST_FIELDS = ("where_sighted_refs",)


def _referenced_identities(objects) -> set[str]:
    """The identity ids the objects name as their creator (or, for sightings, as where they were seen)."""
    refs: set[str] = set()
    for obj in objects:
        for name in IDENTITY_REF_FIELDS:
            ref = obj.get(name)
            if isinstance(ref, str) and ref.startswith("identity--"):
                refs.add(ref)
        for name in IDENTITY_LIST_FIELDS:
            for ref in obj.get(name) or ():
                if isinstance(ref, str) and ref.startswith("identity--"):
                    refs.add(ref)
    return refs


def organization_identities(refs) -> dict[str, Organization]:
    """The platform organizations behind the given STIX identity ids (others are left out)."""
    refs = set(refs)
    if not refs:
        return {}
    found = {i.stix_id: i.organization_id for i in OrganizationIdentity.objects.filter(stix_id__in=refs)}
    if len(found) < len(refs):
        # An organization whose identity row was never made (its id is derived, so it can be recognised).
        missing = refs - set(found)
        for org_id in Organization.objects.values_list("pk", flat=True).iterator():
            stix_id = identity_id_for(org_id)
            if stix_id in missing:
                found[stix_id] = org_id
                missing.discard(stix_id)
                if not missing:
                    break
    organizations = Organization.objects.in_bulk(set(found.values()))
    return {stix_id: organizations[org_id] for stix_id, org_id in found.items() if org_id in organizations}


def own_identity_ids(user) -> set[str]:
    """The identities a user may name as an object's author (`created_by_ref`): those of the organizations
    they publish for (`tlp.adding_organization_ids`: their memberships whose role adds objects)."""
    return {identity_id_for(org_id) for org_id in tlp.adding_organization_ids(user)}


def _foreign_creator_errors(user, rows: dict) -> dict:
    """{(stix id, version): message} for the submitted versions not stored yet that speak for another platform
    organization: their `created_by_ref` is its identity, they are its identity object, or (a sighting) their
    `where_sighted_refs` name its identity.

    The rule of every write path (REST API, TAXII, file imports, forms, federation pulls): an organization
    publishes under its own identity or under that of an author outside the platform (a vendor, a partner's
    feed), never under another platform organization's, which would make its intelligence appear authored by
    that organization. Likewise a sighting says it was seen at the submitter's organization or outside the
    platform, never at another platform organization (it would appear in that organization's sightings as if it
    had reported them). A version already stored is not new authorship (it is only linked into a collection).
    """
    named = {}
    for key, row in rows.items():
        refs = [("created_by_ref", row.created_by_ref)] if row.created_by_ref else []
        if row.stix_type == "identity":
            refs.append(("id", row.stix_id))
        if row.stix_type == "sighting" and isinstance(row.data.get("where_sighted_refs"), list):
            refs += [("where_sighted_refs", ref) for ref in row.data["where_sighted_refs"] if isinstance(ref, str)]
        if refs:
            named[key] = refs
    if not named:
        return {}
    own = own_identity_ids(user)
    platform = organization_identities({ref for refs in named.values() for _name, ref in refs} - own)
    errors = {}
    for key, refs in sorted(named.items()):
        name, foreign = next(((name, ref) for name, ref in refs if ref in platform), (None, None))
        if foreign is None:
            continue
        if foreign == key[0]:  # (whichever field names it: an identity object often names itself its creator)
            errors[key] = _("This is the STIX identity of another organization of the platform: only that "
                            "organization publishes it.")
        elif name == "where_sighted_refs":
            errors[key] = _("where_sighted_refs names %(ref)s, the identity of another organization of the "
                            "platform: report what was seen at your organization, or at one outside the "
                            "platform.") % {"ref": printable(foreign)}
        else:
            errors[key] = _("created_by_ref names %(ref)s, the identity of another organization of the platform: "
                            "publish under your organization's identity, or under that of an author outside the "
                            "platform.") % {"ref": printable(foreign)}
    return errors


def producer_for(user, collection: Collection | None = None):
    """The organization a user submits for: one through which they may write the collection (the owner
    first, `tlp.writer_organization_ids`), else their first one."""
    orgs = tlp.organization_ids(user)
    if not orgs:
        return None
    if collection is not None:
        writers = tlp.writer_organization_ids(user, collection)
        if collection.owner_id in writers:
            return collection.owner_id
        if writers:
            orgs = writers
    return Organization.objects.filter(pk__in=orgs).order_by("code").values_list("pk", flat=True).first()


# --- Adding objects ------------------------------------------------------------------------------


def objects_of(payload) -> list:
    """The objects of a STIX bundle, a TAXII envelope or a plain list."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        if payload.get("type") == "bundle" or "objects" in payload:
            objects = payload.get("objects", [])
            if isinstance(objects, list):
                return objects
        elif "type" in payload and "id" in payload:
            return [payload]
    raise InvalidStix(_("Send a STIX bundle or a TAXII envelope with an \"objects\" list."), {})


def stix_text(obj: dict) -> str:
    """The canonical JSON text of a stored STIX object version (`StixObject.data_text`): compact, keys in
    the order received, non-ASCII characters as UTF-8. The one rule for that column: every writer of
    `StixObject` stores `data_text=stix_text(data)` (through `_row_for`), and TAXII serves it as is."""
    try:
        return orjson.dumps(obj).decode()
    except TypeError:  # what orjson refuses (integers beyond 64 bits): the standard encoder, same form
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _row_for(obj: dict, producer_id, default_tlp: str, now) -> StixObject:
    refs = obj.get("object_marking_refs") if isinstance(obj.get("object_marking_refs"), list) else []
    confidence = obj.get("confidence")
    labels = obj.get("labels") if isinstance(obj.get("labels"), list) else []
    return StixObject(
        stix_id=obj["id"],
        stix_type=obj["type"],
        spec_version=obj.get("spec_version", "2.1"),
        created=parse_timestamp(obj.get("created")),
        modified=version_of(obj),
        created_by_ref=obj.get("created_by_ref", "") or "",
        producer_id=producer_id,
        tlp=tlp.object_tlp(obj, default_tlp),
        marking_refs=refs,
        valid_from=parse_timestamp(obj.get("valid_from")),
        valid_until=parse_timestamp(obj.get("valid_until")),
        revoked=bool(obj.get("revoked", False)),
        benign=indicator_status.is_benign(obj),
        confidence=confidence if isinstance(confidence, int) and 0 <= confidence <= 100 else None,
        labels=labels,
        data=obj,
        data_text=stix_text(obj),
        date_added=now,
    )


def do_add_objects(collection: Collection, bundle_or_objects, *, acting_user, recipients=None,
                   taxii_status: bool | TaxiiStatus = False, progress=None, skip_hidden: bool = False,
                   platform_versions: bool = False, default_creator: str | None = None,
                   tell_recipients: bool = True) -> AddResult:
    """Validate every object, then store them all in `collection` — or nothing.

    Each object passes stix2-validator (default options) and, for indicators,
    stix2-patterns; unknown types need an extension definition. A version
    already stored (same id and `modified`) is not duplicated: it is only added
    to the collection if it is not there yet. An object without
    `created_by_ref` gets the identity of the submitting organization
    (`default_creator` instead when given: a federation pull names the remote
    source). A new version naming another platform organization as its author
    is refused with `CreatorRefused` (`_foreign_creator_errors`), and so is a new sighting naming another
    platform organization in `where_sighted_refs`.
    `recipients` (organizations) are the named recipients of the TLP:RED
    versions of this submission that it creates or that the submitter's organizations produced. Another
    organization's stored AMBER / AMBER+STRICT / RED version is linked only into a collection already holding
    it, and never with `recipients` (`SharingRefused`, `_reshared_versions`: only the producer shares it on).
    The organizations newly named are told (`notices.red_shared`: one notice each per submission), unless
    `tell_recipients` is false (a warning's report: its targets are told of the warning). A new TLP:RED version
    naming no recipient is counted in `red_unshared` (said, not refused: an import's report says it).
    Refuses with `Forbidden` without the write
    right and with `InvalidStix` (carrying every object's errors) when any
    object is invalid.

    Validation writes nothing; the writes happen in one transaction after it.
    `taxii_status`: True creates a complete TAXII status row, a `TaxiiStatus`
    (pending, from `do_submit_objects_async`) is completed in the same
    transaction as the writes. `progress(n)` is called as objects are validated.
    A version already stored that the submitter may not see is refused (`_hidden_versions`); with `skip_hidden`
    (a federation pull: a peer's page is not the submitter's choice, and refusing it would stall the feed at every
    pull) it is left out instead — neither stored again nor linked — and counted in `hidden`. So is a new version
    of an object another organization created (`_foreign_new_versions`), and a version naming another platform
    organization as its author or (a sighting) as where it was seen — except with `platform_versions`: the platform's own jobs (daily sightings),
    which version the objects they made for (and in the name of) an organization, never a user's submission.
    A pull also links a stored version it may not see when the page carries it identical and from an author
    outside the platform (`_same_external_versions`).
    """
    if not tlp.can_write_collection(acting_user, collection):
        raise Forbidden(_("You may not add objects to this collection."))
    objects = objects_of(bundle_or_objects)
    if not objects:
        raise InvalidStix(_("There are no objects to add."), {})

    options = ValidationOptions()
    result = AddResult(total=len(objects))
    patterns: dict[str, list[tuple[str, str]]] = {}
    first_at: dict[tuple[str, dt.datetime], int] = {}
    for position, obj in enumerate(objects):
        key, errors = check_object(obj, position, options, patterns)
        if errors:
            result.errors.setdefault(key, []).extend(errors)
        else:  # a version is stored once: the same one twice is kept once, two different ones are refused
            first = first_at.setdefault((obj["id"], version_of(obj)), position)
            if obj != objects[first]:
                result.errors.setdefault(key, []).append(
                    _("Object #%(position)d has the same id and modified as object #%(first)d but another "
                      "content: give it a later modified.") % {"position": position, "first": first})
        if progress is not None and (position + 1) % PROGRESS_EVERY == 0:
            progress(position + 1)
    if result.errors:
        raise InvalidStix(_("%(count)d of %(total)d objects are not valid STIX 2.1; nothing was stored.")
                          % {"count": len(result.errors), "total": len(objects)}, result.errors)
    with transaction.atomic():
        return _store(collection, objects, result, patterns, acting_user=acting_user, recipients=recipients,
                      taxii_status=taxii_status, skip_hidden=skip_hidden, platform_versions=platform_versions,
                      default_creator=default_creator, tell_recipients=tell_recipients)


def do_store_generated(collection: Collection, objects: list, *, acting_user, recipients=None) -> AddResult:
    """Store objects that the platform's own code generated (the demo builder), skipping stix2-validator.

    The same rights check, rows, identities, value index and audit entry as
    `do_add_objects`; only the per-object validation (~2 ms each, most of the
    cost) is skipped, because the caller builds the objects from fixed
    templates — the demo's test validates a sample of them with
    stix2-validator. Never call it with objects received from outside.
    """
    if not tlp.can_write_collection(acting_user, collection):
        raise Forbidden(_("You may not add objects to this collection."))
    with transaction.atomic():
        return _store(collection, list(objects), AddResult(total=len(objects)), {}, acting_user=acting_user,
                      recipients=recipients, taxii_status=False)


def _store(collection, objects, result: AddResult, patterns, *, acting_user, recipients, taxii_status,
           skip_hidden: bool = False, platform_versions: bool = False, default_creator: str | None = None,
           tell_recipients: bool = True) -> AddResult:
    if not tlp.can_write_collection(acting_user, collection):  # checked again: validation may have taken minutes
        raise Forbidden(_("You may not add objects to this collection."))

    producer_id = producer_for(acting_user, collection)
    own_ids = tlp.adding_organization_ids(acting_user) | ({producer_id} if producer_id else set())
    identities = ensure_identities([producer_id]) if producer_id else {}
    identity = identities.get(producer_id)
    default_tlp = identity.default_tlp if identity else Tlp.AMBER
    now = timezone.now()

    # One row per (id, version) of the submission: a repeated version is kept once.
    rows: dict[tuple[str, dt.datetime], StixObject] = {}
    creator = default_creator or (identity.stix_id if identity else None)
    for obj in objects:
        if creator and "created_by_ref" not in obj and obj["type"] not in SCO_TYPES and "created" in obj:
            obj = {**obj, "created_by_ref": creator}
        row = _row_for(obj, producer_id, default_tlp, now)
        rows.setdefault((row.stix_id, row.modified), row)
        result.success_ids.append((row.stix_id, format_timestamp(row.modified) if row.modified != UNVERSIONED
                                   else format_timestamp(now)))
    submitted = set(rows)

    # The identities of the platform organizations the objects name (created_by_ref, where_sighted_refs) go
    # into the collection with them (TLP:CLEAR), so that every consumer of the collection can resolve them.
    # An identity the submission carries itself is stored as sent.
    sent_ids = {key[0] for key in rows}
    wanted = {ref for ref in _referenced_identities(row.data for row in rows.values()) if ref not in sent_ids}
    if identity and any(row.created_by_ref == identity.stix_id for row in rows.values()):
        wanted.add(identity.stix_id)
    identity_rows = {}
    for _stix_id, organization in sorted(organization_identities(wanted).items()):
        row = _row_for(identity_object(organization), organization.pk, Tlp.CLEAR, now)
        identity_rows[(row.stix_id, row.modified)] = row
    rows = {**identity_rows, **rows}  # identities first: a reader paging the collection meets them first

    stix_ids = sorted({k[0] for k in rows})
    stored = _stored_versions(stix_ids)
    hidden = _hidden_versions(acting_user, [k for k in submitted if k in stored], stored)
    if hidden and skip_hidden:
        linked = _same_external_versions({k: rows[k] for k in hidden}, stored)
        hidden = [k for k in hidden if k not in linked]
    foreign: list = []  # new versions of objects another organization created
    if not platform_versions:
        new_submitted = {k: rows[k] for k in submitted if k not in stored}
        forged = _foreign_creator_errors(acting_user, new_submitted)
        if forged and not skip_hidden:
            # Named in clear words: which organization an identity id stands for is public (identities are
            # TLP:CLEAR), and the refusal depends on nothing stored that the submitter may not see.
            counts = {"count": len(forged), "total": len(objects)}
            if any(rows[k].stix_type == "sighting" for k in forged):
                summary = _("%(count)d of %(total)d objects name another organization of the platform as their "
                            "author or as where they were seen; nothing was stored.") % counts
            else:
                summary = _("%(count)d of %(total)d objects name another organization of the platform as their "
                            "author; nothing was stored.") % counts
            raise CreatorRefused(summary, {printable(stix_id): [message]
                                           for (stix_id, _version), message in forged.items()})
        hidden += list(forged)  # a pull leaves them out (counted hidden), as a peer's page is not its choice
        foreign = [k for k in _foreign_new_versions(producer_id, new_submitted) if k not in forged]
        hidden += foreign
        # Another organization's AMBER / AMBER+STRICT / RED version is not shared on by linking it elsewhere.
        reshared = _reshared_versions(collection, own_ids, [k for k in submitted if k in stored and k not in hidden],
                                      stored, recipients)
        if reshared and not skip_hidden:
            raise SharingRefused(
                _("%(count)d of %(total)d objects are versions another organization produced under TLP:AMBER, "
                  "AMBER+STRICT or RED, which only it shares on; nothing was stored.")
                % {"count": len(reshared), "total": len(objects)},
                {printable(stix_id): [message] for (stix_id, _version), message in sorted(reshared.items())})
        if reshared:  # a pull: linked only when the page carries it identical from an author outside the platform
            linked = _same_external_versions({k: rows[k] for k in reshared}, stored)
            hidden += [k for k in reshared if k not in linked]
    if hidden and not skip_hidden:
        # Refused in words that do not say whether the version exists and is hidden, or why: only that this id
        # and version cannot be taken.
        message = _("This id and modified cannot be used: give the object a new id, or a later modified.")
        # A new version of an object the submitter sees but did not create: saying so reveals nothing hidden.
        seen = set(tlp.visible_versions(acting_user).filter(
            stix_id__in={stix_id for stix_id, _version in foreign}).values_list("stix_id", flat=True)) \
            if foreign else set()
        not_creator = _("Only the organization that created this object publishes new versions of it: give your "
                        "object a new id.")
        raise InvalidStix(_("%(count)d of %(total)d objects are refused; nothing was stored.")
                          % {"count": len(hidden), "total": len(objects)},
                          {printable(stix_id): [not_creator if stix_id in seen else message]
                           for stix_id, _version in sorted(hidden)})
    for key in hidden:  # skipped: neither stored again nor linked into the collection
        del rows[key]
        submitted.discard(key)
    if hidden:  # nor the identities only the skipped objects named
        named = _referenced_identities(rows[key].data for key in submitted)
        for key in [key for key in identity_rows if key[0] not in named]:
            del rows[key]
    result.hidden = len(hidden)
    new_rows = [row for key, row in rows.items() if key not in stored]
    StixObject.objects.bulk_create(new_rows, batch_size=BATCH, ignore_conflicts=True)
    stored = _stored_versions(stix_ids)
    new_keys = {(r.stix_id, r.modified) for r in new_rows}
    new_pks = {stored[k] for k in new_keys if k in stored}
    # The counts are those of the submitted objects (the identities added with them are not counted).
    submitted_pks = {stored[k] for k in submitted}
    result.created = len(new_pks & submitted_pks)
    result.existing = len(submitted) - result.created
    pks = [stored[k] for k in rows]

    in_collection = set(CollectionObject.objects.filter(collection=collection, object_id__in=pks)
                        .values_list("object_id", flat=True)) if len(new_pks) < len(pks) else set()
    entries = [CollectionObject(collection=collection, object_id=pk, date_added=now) for pk in pks
               if pk not in in_collection]
    CollectionObject.objects.bulk_create(entries, batch_size=BATCH, ignore_conflicts=True)
    result.added_to_collection = len([e for e in entries if e.object_id in submitted_pks])
    result.already_in_collection = len(in_collection & submitted_pks)
    if entries:
        _mark_superseded(collection, stix_ids)

    if recipients:
        # Only the producer names the recipients of a TLP:RED version: the new versions of this submission, and
        # those already stored that the submitter's organizations produced (never another's: `_reshared_versions`).
        red_pks = []
        candidates = [stored[k] for k in rows]
        for start in range(0, len(candidates), 500):
            red_pks += [pk for pk, producer in StixObject.objects.filter(
                pk__in=candidates[start:start + 500], tlp=Tlp.RED).values_list("pk", "producer_id")
                if pk in new_pks or producer in own_ids]
        named = _newly_named(red_pks, recipients, {stored[k]: k[0] for k in rows}) if tell_recipients else {}
        StixRecipient.objects.bulk_create(
            [StixRecipient(object_id=pk, organization_id=org.pk) for pk in red_pks for org in recipients],
            batch_size=BATCH, ignore_conflicts=True)
        if named:
            notices.red_shared(named, producer_id=producer_id)
    elif not platform_versions and not skip_hidden:
        # Stored, but said: a TLP:RED version naming nobody is seen by its producer only (a file import names no
        # recipients; the form asks for them).
        result.red_unshared = sum(1 for key in submitted if key in new_keys and rows[key].tlp == Tlp.RED)

    values = []
    for key, row in rows.items():
        pk = stored[key]
        if pk in new_pks and row.stix_type == "indicator" and row.data.get("pattern_type") == "stix":
            pattern = row.data["pattern"]
            found = patterns[pattern] if pattern in patterns else extract_values(pattern)
            values.extend(IndicatorValue(object_id=pk, kind=k, value=v) for k, v in found)
    IndicatorValue.objects.bulk_create(values, batch_size=BATCH)

    ids = [k[0] for k in new_keys]
    audit.record_many([Change(
        action=Act.IMPORT,
        object_type="intel.collection",
        object_id=str(collection.pk),
        object_repr=f"{collection.title}: +{result.created} STIX versions",
        organization_id=str(producer_id or ""),
        after={"received": result.total, "created": result.created, "existing": result.existing,
               "added_to_collection": result.added_to_collection,
               "recipients": sorted(str(o.pk) for o in recipients or ()),
               "created_ids": sorted(ids)[:AUDIT_MAX_IDS], "ids_truncated": len(ids) > AUDIT_MAX_IDS},
    )], actor=acting_user)

    successes = [{"id": i, "version": v} for i, v in result.success_ids]
    if isinstance(taxii_status, TaxiiStatus):
        TaxiiStatus.objects.filter(pk=taxii_status.pk).update(
            status="complete", success_count=result.total, failure_count=0, pending_count=0, successes=successes,
            pendings=[], validated_count=result.total, updated_at=timezone.now(), payload="")
        taxii_status.refresh_from_db()
        result.status = taxii_status
    elif taxii_status:
        result.status = TaxiiStatus.objects.create(
            collection=collection, submitted_by=acting_user, request_timestamp=now, status="complete",
            total_count=result.total, success_count=result.total, failure_count=0, pending_count=0,
            successes=successes, validated_count=result.total, updated_at=now,
        )
    return result


# --- Large TAXII submissions in the background ---------------------------------------------------


def _pending_entries(objects) -> list[dict]:
    entries = []
    for obj in objects:
        if isinstance(obj, dict) and isinstance(obj.get("id"), str):
            entry = {"id": obj["id"]}
            version = obj.get("modified") or obj.get("created")
            if isinstance(version, str):
                entry["version"] = version
            entries.append(entry)
    return entries


def do_submit_objects_async(collection: Collection, objects: list, *, acting_user) -> TaxiiStatus:
    """Accept a large TAXII submission at once: a "pending" status now, the work in a background thread.

    The objects are kept with the status (`payload`) in the transaction that creates it, before the
    answer: nothing accepted is lost. The thread (started when this transaction commits, in this
    process) runs `do_add_objects` with the same all-or-nothing semantics as a synchronous request: it
    validates every object (the status row's `validated_count` and `updated_at` move as it goes), then
    stores everything and completes the status in ONE transaction. If any object is invalid nothing is
    stored and the status is complete with every object a failure (the invalid ones with their errors).
    If the process dies before that commit nothing was stored and the status stays pending: once
    `updated_at` is older than ``KHIEN_TAXII_ASYNC_STALE_SECONDS`` the worker runs it again
    (`resume_stale_submissions`), at most `resumable.MAX_RUNS` runs in all.
    """
    if not tlp.can_write_collection(acting_user, collection):
        raise Forbidden(_("You may not add objects to this collection."))
    objects = objects_of(objects)
    if not objects:
        raise InvalidStix(_("There are no objects to add."), {})
    # What cannot be kept with the status (unstorable characters, too deep for the encoder) is refused now.
    errors = {object_key(obj, n): found for n, obj in enumerate(objects)
              if isinstance(obj, dict) and (found := _shape_errors(obj))}
    if errors:
        raise InvalidStix(_("%(count)d of %(total)d objects are not valid STIX 2.1; nothing was stored.")
                          % {"count": len(errors), "total": len(objects)}, errors)
    now = timezone.now()
    with transaction.atomic():
        status = TaxiiStatus.objects.create(
            collection=collection, submitted_by=acting_user, request_timestamp=now, status="pending",
            total_count=len(objects), pending_count=len(objects), pendings=_pending_entries(objects),
            updated_at=now, payload=orjson.dumps(objects).decode(), attempts=1)
        audit.record(Act.CREATE, status, actor=acting_user, organization_id=str(collection.owner_id),
                     after={"collection": str(collection.pk), "total_count": len(objects), "status": "pending"})
        status_id, collection_id, user_id = status.pk, collection.pk, acting_user.pk
        transaction.on_commit(lambda: threading.Thread(
            target=_process_submission, args=(status_id, collection_id, user_id, objects),
            name=f"taxii-add-{status_id}", daemon=True).start())
    return status


def _process_submission(status_id, collection_id, user_id, objects, *, own_connection: bool = True) -> None:
    """The background half of `do_submit_objects_async` (in a thread of its own: its own database connection,
    closed at the end), also run again by `resume_stale_submissions` (in the worker: `own_connection=False`)."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    def touch(**fields):
        TaxiiStatus.objects.filter(pk=status_id).update(updated_at=timezone.now(), **fields)

    def progress(count):
        # Progress is for the client's polling only: a status row locked at that moment (an SQLite reader on
        # a shared-cache database, a lock timeout) must not fail the submission. Its own savepoint keeps the
        # enclosing transaction usable on PostgreSQL.
        try:
            with transaction.atomic():
                touch(validated_count=count)
        except OperationalError:
            log.info("TAXII status %s: progress not recorded (status row busy)", status_id)

    try:
        status = TaxiiStatus.objects.defer("payload").get(pk=status_id)  # the objects are in hand already
        collection = Collection.objects.get(pk=collection_id)
        user = get_user_model().objects.get(pk=user_id)
        try:
            do_add_objects(collection, objects, acting_user=user, taxii_status=status,
                           progress=progress)
        except InvalidStix as exc:
            touch(**_failed(objects, exc.errors, exc.others), validated_count=len(objects))
        except Refused as exc:
            touch(**_failed(objects, {}, str(exc.message)))
    except Exception as exc:  # never leave a status pending because of a bug: report it as failed
        # (If the database itself is down this fails too: the status stays pending and is resumed later.)
        touch(**_failed(objects, {}, _("Not stored: the server failed while processing (%(error)s).")
                        % {"error": type(exc).__name__}))
        raise
    finally:
        if own_connection:
            connections.close_all()


def resume_stale_submissions(now: dt.datetime) -> list[str]:
    """Run again, here, the large submissions whose processing stopped (the web process restarted): nothing
    of them was stored, their objects were kept, and the run is all-or-nothing as the first one. A submission
    whose `updated_at` has not moved for KHIEN_TAXII_ASYNC_STALE_SECONDS is claimed by one worker only
    (`core.resumable`); after `resumable.MAX_RUNS` runs it is failed ("send again"). Returns the ids of the
    statuses handled, each with what became of it."""
    handled = []
    pending = TaxiiStatus.objects.filter(status="pending").exclude(payload="").order_by("request_timestamp")
    stale_seconds = settings.KHIEN_TAXII_ASYNC_STALE_SECONDS
    for status in resumable.claim_stale(pending, alive_field="updated_at", stale_seconds=stale_seconds, now=now):
        objects = orjson.loads(status.payload)
        if status.attempts > resumable.MAX_RUNS:
            TaxiiStatus.objects.filter(pk=status.pk).update(updated_at=timezone.now(), **_failed(
                objects, {}, _("Interrupted %(n)d times before anything was stored; send the objects again.")
                % {"n": resumable.MAX_RUNS}))
            handled.append(f"{status.pk}: given up")
            continue
        log.info("TAXII status %s: resuming an interrupted submission of %d objects (run %d)", status.pk,
                 len(objects), status.attempts)
        try:
            _process_submission(status.pk, status.collection_id, status.submitted_by_id, objects,
                                own_connection=False)
        except Exception:  # reported on the status by _process_submission; the other submissions go on
            log.exception("TAXII status %s: the resumed run failed", status.pk)
        handled.append(f"{status.pk}: {TaxiiStatus.objects.values_list('status', flat=True).get(pk=status.pk)}")
    return handled


def do_refuse_submission(collection: Collection, objects: list, refusal: InvalidStix, *, acting_user) -> TaxiiStatus:
    """The complete TAXII status of a request `do_add_objects` refused as a whole for what some objects say
    (`CreatorRefused`): TAXII 2.1 reports a refused object in the status's `failures`, each with its message,
    the others as not stored. Nothing of the request is stored; only the status is written, for its client."""
    now = timezone.now()
    with transaction.atomic():
        status = TaxiiStatus.objects.create(collection=collection, submitted_by=acting_user, request_timestamp=now,
                                            total_count=len(objects), updated_at=now, validated_count=len(objects),
                                            **_failed(objects, refusal.errors, refusal.others))
        audit.record(Act.CREATE, status, actor=acting_user, organization_id=str(collection.owner_id),
                     after={"collection": str(collection.pk), "total_count": len(objects), "status": "complete",
                            "failure_count": len(objects), "refused": refusal.code})
    return status


def _failed(objects, errors: dict, others: str) -> dict:
    failures = []
    for position, obj in enumerate(objects):
        key = object_key(obj, position)
        entry = {"id": key, "message": "; ".join(str(e) for e in errors[key]) if key in errors else others}
        version = obj.get("modified") or obj.get("created") if isinstance(obj, dict) else None
        if isinstance(version, str):
            entry["version"] = version
        failures.append(entry)
    return {"status": "complete", "success_count": 0, "failure_count": len(failures), "pending_count": 0,
            "failures": failures, "pendings": [], "successes": [], "payload": ""}


def _mark_superseded(collection: Collection, stix_ids: list[str]) -> None:
    """Flag the collection's entries that have a newer version of the same object in the collection."""
    for start in range(0, len(stix_ids), 500):
        chunk = stix_ids[start:start + 500]
        entries = list(CollectionObject.objects.filter(collection=collection, object__stix_id__in=chunk)
                       .values_list("pk", "object__stix_id", "object__modified", "superseded"))
        newest: dict[str, dt.datetime] = {}
        for _pk, stix_id, modified, _flag in entries:
            if stix_id not in newest or modified > newest[stix_id]:
                newest[stix_id] = modified
        raise_flag = [pk for pk, stix_id, modified, flag in entries if modified < newest[stix_id] and not flag]
        lower_flag = [pk for pk, stix_id, modified, flag in entries if modified == newest[stix_id] and flag]
        if raise_flag:
            CollectionObject.objects.filter(pk__in=raise_flag).update(superseded=True)
        if lower_flag:
            CollectionObject.objects.filter(pk__in=lower_flag).update(superseded=False)


def _hidden_versions(user, keys, stored) -> list:
    """Of the submitted versions already stored, those the submitter may not see (a TLP:RED one of another
    organization): never linked into their collection."""
    hidden = []
    for start in range(0, len(keys), 500):
        chunk = {stored[k]: k for k in keys[start:start + 500]}
        visible = set(tlp.visible_versions(user).filter(pk__in=chunk).values_list("pk", flat=True))
        hidden += [key for pk, key in chunk.items() if pk not in visible]
    return hidden


def _same_external_versions(rows: dict, stored: dict) -> set:
    """Of the versions a federation pull may not see although they are stored (another subscriber of the same
    feed pulled them first, under a TLP that does not show them to this one), those it may link into its
    collection: the page carries them identical to the stored ones, authored outside the platform
    (`created_by_ref` naming no platform organization), not TLP:RED. The puller received the content itself
    from the remote: linking shows it nothing it does not hold, while refusing would leave every subscriber
    after the first without the feed's objects."""
    if not rows:
        return set()
    by_pk = {stored[key]: key for key in rows}
    found = {}
    for pk, data, creator, level in StixObject.objects.filter(pk__in=list(by_pk)).values_list(
            "pk", "data", "created_by_ref", "tlp"):
        key = by_pk[pk]
        if level != Tlp.RED and creator and creator == rows[key].created_by_ref and data == rows[key].data:
            found[key] = creator
    platform = set(organization_identities(set(found.values())))
    return {key for key, creator in found.items() if creator not in platform}


def _foreign_new_versions(producer_id, new_rows: dict) -> list:
    """Of the submitted versions not stored yet, those that would be a new version of an object another
    organization created: refused like a hidden version (STIX 2.1: only an object's creator versions it).

    The newest stored version of an id is what the blocklists and the telemetry matcher follow, whoever stored
    it: without this rule anyone who sees an indicator could revoke or expire it for every consumer. An object
    is versioned by the organization that produced one of its stored versions; an object created outside the
    platform (its `created_by_ref` names no platform organization: a federated feed) by whoever submits it
    with that same creator.
    """
    if not new_rows:
        return []
    producers: dict[str, set] = {}
    creators: dict[str, set] = {}
    ids = sorted({key[0] for key in new_rows})
    for start in range(0, len(ids), 500):
        for stix_id, producer, creator in StixObject.objects.filter(stix_id__in=ids[start:start + 500]) \
                .values_list("stix_id", "producer_id", "created_by_ref"):
            producers.setdefault(stix_id, set()).add(producer)
            creators.setdefault(stix_id, set()).add(creator)
    candidates = {key: row for key, row in new_rows.items()
                  if key[0] in producers and (producer_id is None or producer_id not in producers[key[0]])}
    if not candidates:
        return []
    platform = set(organization_identities({ref for key in candidates for ref in creators[key[0]] if ref}))
    return sorted(key for key, row in candidates.items()
                  if not (row.created_by_ref and row.created_by_ref in creators[key[0]]
                          and not platform & creators[key[0]]))


# The levels whose audience depends on where the version is held or whom it names (TLP 2.0: AMBER within the
# recipient organization and its clients, AMBER+STRICT within the organization, RED the named recipients only).
NOT_RESHARED = (Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)


def _reshared_versions(collection: Collection, own_ids: set, keys: list, stored: dict, recipients) -> dict:
    """{(stix id, version): message} for the submitted versions already stored (and visible to the submitter)
    that another organization produced under TLP:AMBER, AMBER+STRICT or RED and that this submission would
    share on: linked into a collection that does not hold them yet (its readers would see them: `tlp.GRANTS`
    counts every collection holding a version), or, TLP:RED, with recipients (only the producer names them).

    `own_ids`: the organizations the submitter publishes for; their versions are theirs to share. A version
    this collection already holds is left as it is (linking it again widens nothing)."""
    by_pk = {stored[key]: key for key in keys}
    found = {}
    pks = list(by_pk)
    for start in range(0, len(pks), 500):
        chunk = pks[start:start + 500]
        held = set(CollectionObject.objects.filter(collection=collection, object_id__in=chunk)
                   .values_list("object_id", flat=True))
        for pk, producer, level in StixObject.objects.filter(pk__in=chunk, tlp__in=NOT_RESHARED) \
                .exclude(producer_id__in=own_ids).values_list("pk", "producer_id", "tlp"):
            if level == Tlp.RED and recipients:
                found[by_pk[pk]] = _("This TLP:RED version was produced by another organization: only its "
                                     "producer names its recipients.")
            elif pk not in held:
                found[by_pk[pk]] = _("This version was produced by another organization under %(tlp)s: only "
                                     "its producer shares it with other organizations. Send your own objects, "
                                     "or ask the producer to share it in this collection.") % {
                                         "tlp": Tlp(level).label}
    return found


def _newly_named(red_pks: list, recipients, stix_of: dict) -> dict:
    """{organization id: (ids of the objects it is named on for the first time, ids of objects it was named on
    before that get a new version)} of the TLP:RED versions `red_pks` about to name `recipients` (a pair already
    stored names nobody anew: a re-import tells no one)."""
    org_ids = [org.pk for org in recipients]
    wanted = set(red_pks)
    had, earlier = set(), set()
    stix_ids = sorted({stix_of[pk] for pk in red_pks})
    for start in range(0, len(stix_ids), 500):
        for pk, stix_id, org_id in StixRecipient.objects.filter(
                object__stix_id__in=stix_ids[start:start + 500], organization_id__in=org_ids) \
                .values_list("object_id", "object__stix_id", "organization_id"):
            if pk in wanted:
                had.add((pk, org_id))
            else:
                earlier.add((stix_id, org_id))
    named: dict = {}
    for pk in red_pks:
        for org_id in org_ids:
            if (pk, org_id) not in had:
                new, updated = named.setdefault(org_id, (set(), set()))
                (updated if (stix_of[pk], org_id) in earlier else new).add(stix_of[pk])
    return named


ALREADY_SHARED_LISTED = 10  # values named when an import stores values already shared (the others counted)


def already_shared(collection: Collection, producer_id, pairs, *, exclude_stix_ids=()) -> tuple[list[dict], int]:
    """Of the (kind, value) `pairs`, those the producer organization already shares in `collection`: an active
    indicator of its own there (the newest version, not revoked, not expired) holds the value — the same address
    entered again by hand, in a STIX bundle, in a MISP event with new uuids… Returns ([{"kind", "value", "id": the
    indicator that first shared it}] for the first ALREADY_SHARED_LISTED, in the order given; how many in all).
    Said, not refused: a second indicator may be meant (another campaign, another validity)."""
    pairs = list(dict.fromkeys((str(k), str(v)) for k, v in pairs))
    if producer_id is None or collection is None or not pairs:
        return [], 0
    exclude = set(exclude_stix_ids)
    now = timezone.now()
    newer = StixObject.objects.filter(stix_id=OuterRef("object__stix_id"), modified__gt=OuterRef("object__modified"))
    found: dict = {}
    values = sorted({v for _k, v in pairs})
    for start in range(0, len(values), 500):
        rows = IndicatorValue.objects.filter(
            value__in=values[start:start + 500], object__producer_id=producer_id, object__stix_type="indicator",
            object__collection_entries__collection=collection,
        ).filter(indicator_status.active_q(now, prefix="object__")).filter(~Exists(newer)) \
            .values_list("kind", "value", "object__stix_id").order_by("object__date_added", "object__stix_id")
        for kind, value, stix_id in rows:
            if stix_id not in exclude:
                found.setdefault((kind, value), stix_id)
    shared = [{"kind": k, "value": v, "id": found[(k, v)]} for k, v in pairs if (k, v) in found]
    return shared[:ALREADY_SHARED_LISTED], len(shared)


def already_shared_in_file(collection: Collection, producer_id, stix_ids) -> tuple[list[dict], int]:
    """`already_shared` for the indicators of a file just stored (`stix_ids`): their indexed values (a MISP
    attribute's reference values too), against the producer's other indicators in the collection — a re-import
    of the same objects is not a repetition."""
    stix_ids = list(dict.fromkeys(stix_ids))  # in the file's order
    of: dict = {}
    for start in range(0, len(stix_ids), 500):
        for stix_id, kind, value in IndicatorValue.objects.filter(
                object__stix_id__in=stix_ids[start:start + 500], object__producer_id=producer_id) \
                .order_by("id").values_list("object__stix_id", "kind", "value"):
            of.setdefault(stix_id, []).append((kind, value))
    pairs = [pair for stix_id in stix_ids for pair in of.get(stix_id, ())]
    return already_shared(collection, producer_id, pairs, exclude_stix_ids=stix_ids)


def already_shared_in_submission(collection: Collection, objects, *, acting_user) -> tuple[list[dict], int]:
    """`already_shared_in_file` for the objects `acting_user` just added to `collection` (`do_add_objects`): the
    values of its indicators that the submitting organization already shares there (the REST answer)."""
    ids = [o["id"] for o in objects
           if isinstance(o, dict) and o.get("type") == "indicator" and isinstance(o.get("id"), str)]
    if not ids:
        return [], 0
    return already_shared_in_file(collection, producer_for(acting_user, collection), ids)


def _stored_versions(stix_ids: list[str]) -> dict[tuple[str, dt.datetime], int]:
    stored: dict[tuple[str, dt.datetime], int] = {}
    for start in range(0, len(stix_ids), 500):
        for pk, stix_id, modified in StixObject.objects.filter(stix_id__in=stix_ids[start:start + 500]) \
                .values_list("pk", "stix_id", "modified"):
            stored[(stix_id, modified.astimezone(dt.timezone.utc))] = pk
    return stored


# --- Collections -----------------------------------------------------------------------------------


def _require_manage(user, owner: Organization):
    if owner is None or not user_can(user, Action.CHANGE, owner):
        raise Forbidden(_("You may not manage the collections of that organization."))


def _unique_alias(title: str) -> str:
    base = (slugify(title) or "collection")[:50].strip("-") or "collection"
    alias, n = base, 1
    while Collection.objects.filter(alias=alias).exists():
        n += 1
        alias = f"{base}-{n}"
    return alias


@transaction.atomic
def do_create_collection(data: dict, *, acting_user) -> Collection:
    """Create a collection owned by `data["owner"]`; national collections only by the coordinator."""
    owner = data.get("owner")
    _require_manage(acting_user, owner)
    kind = data.get("kind", CollectionKind.GROUP)
    if kind == CollectionKind.NATIONAL and not is_national_coordinator(acting_user):
        raise Forbidden(_("Only the national coordinator can create a national collection."))
    isac = data.get("isac")
    if kind == CollectionKind.ISAC:
        if isac is None:
            raise Refused(_("An ISAC collection needs its ISAC."), code="invalid")
        if isac.operator_id != owner.pk:
            raise Refused(_("An ISAC collection is owned by the ISAC's operating organization."), code="invalid")
    collection = Collection(
        title=data.get("title", ""), description=data.get("description", ""), kind=kind, owner=owner,
        isac=isac if kind == CollectionKind.ISAC else None,
        alias=data.get("alias") or _unique_alias(data.get("title", "")),
    )
    try:
        collection.full_clean()
    except ValidationError as exc:
        raise Refused("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()), code="invalid")
    collection.save()
    audit.record(Act.CREATE, collection, actor=acting_user)
    if kind == CollectionKind.ISAC:
        _give_isac_members_their_channel(collection, list(isac.members.values_list("pk", flat=True)), [],
                                         acting_user=acting_user)
    return collection


def sync_isac_channels(isac, *, joined, left, acting_user) -> None:
    """An ISAC's members changed (`registry.services.do_save_isac`): each of its channels follows. A member who
    joins reads and writes the channel, as the members had when it was created; one who leaves loses it. Rights
    the channel's owner gave an organization that is not an ISAC member are left as they are."""
    for collection in Collection.objects.filter(kind=CollectionKind.ISAC, isac=isac).select_related("owner"):
        _give_isac_members_their_channel(collection, joined, left, acting_user=acting_user)


def _give_isac_members_their_channel(collection: Collection, joined, left, *, acting_user) -> None:
    owner_id = str(collection.owner_id)
    joined = {pk for pk in joined if pk != collection.owner_id}
    left = {pk for pk in left if pk != collection.owner_id} - joined
    changes = []
    rows = {m.organization_id: m for m in CollectionMember.objects.select_for_update()
            .filter(collection=collection, organization_id__in=joined | left)}
    for pk in sorted(joined, key=str):
        row = rows.get(pk)
        if row is None:
            row = CollectionMember.objects.create(collection=collection, organization_id=pk, can_read=True,
                                                  can_write=True)
            changes.append(Change(action=Act.CREATE, obj=row, organization_id=owner_id, after=audit.snapshot(row)))
        elif not (row.can_read and row.can_write):
            before = audit.snapshot(row)
            row.can_read = row.can_write = True
            row.save(update_fields=["can_read", "can_write"])
            changes.append(Change(action=Act.UPDATE, obj=row, organization_id=owner_id, before=before,
                                  after=audit.snapshot(row)))
    for pk in sorted(left, key=str):
        row = rows.get(pk)
        if row is not None:
            changes.append(Change(action=Act.DELETE, obj=row, organization_id=owner_id, before=audit.snapshot(row),
                                  object_id=str(row.pk), object_repr=str(row)))
            row.delete()
    if changes:
        audit.record_many(changes, actor=acting_user)


@transaction.atomic
def do_set_collection_member(collection: Collection, organization: Organization, *, can_read: bool | None,
                             can_write: bool | None, acting_user) -> CollectionMember | None:
    """Give an organization rights on a collection; both rights false removes it.

    A right given as None is left as it is (a new member takes the model's
    default: read, not write), so a caller granting write does not take away
    read by leaving it out, nor the reverse.
    """
    _require_manage(acting_user, collection.owner)
    if organization.pk == collection.owner_id:
        raise Refused(_("The owner organization always reads and writes its collection."), code="invalid")
    row = CollectionMember.objects.select_for_update().filter(collection=collection, organization=organization).first()
    current = row or CollectionMember()
    can_read = current.can_read if can_read is None else can_read
    can_write = current.can_write if can_write is None else can_write
    if not can_read and not can_write:
        if row is not None:
            before = audit.snapshot(row)
            audit.record(Act.DELETE, row, actor=acting_user, before=before, organization_id=str(collection.owner_id))
            row.delete()
        return None
    if row is None:
        try:
            with transaction.atomic():  # a savepoint: a concurrent request may have added the same member
                row = CollectionMember.objects.create(collection=collection, organization=organization,
                                                      can_read=can_read, can_write=can_write)
        except IntegrityError:
            row = CollectionMember.objects.select_for_update().get(collection=collection, organization=organization)
        else:
            audit.record(Act.CREATE, row, actor=acting_user, organization_id=str(collection.owner_id))
            return row
    if (row.can_read, row.can_write) == (can_read, can_write):
        return row  # nothing changes: nothing to audit
    before = audit.snapshot(row)
    row.can_read, row.can_write = can_read, can_write
    row.save(update_fields=["can_read", "can_write"])
    audit.record(Act.UPDATE, row, actor=acting_user, before=before, organization_id=str(collection.owner_id))
    return row


@transaction.atomic
def do_set_default_tlp(organization: Organization, default_tlp: str, *, acting_user) -> OrganizationIdentity:
    """Set the TLP that the organization's unmarked objects take (AMBER unless set)."""
    _require_manage(acting_user, organization)
    if default_tlp not in Tlp.values:
        raise Refused(_("Unknown TLP level."), code="invalid")
    identity = ensure_identities([organization.pk])[organization.pk]
    before = audit.snapshot(identity)
    identity.default_tlp = default_tlp
    identity.save(update_fields=["default_tlp"])
    audit.record(Act.UPDATE, identity, actor=acting_user, before=before)
    return identity
