"""Blocklists for the national perimeter defence (C19): what a consumer may block, as text and as DNS RPZ.

A consumer is a user (a machine account with an API token). Its blocklist is
the set of indicator values (IPv4, IPv6, CIDR; domains) of the indicator
versions that

- it may see — ONLY through `tlp.visible_versions` (no rule of its own here);
- act: not revoked, `valid_from` in the past (or absent), `valid_until` in the
  future (or absent), not benign — `indicator_status.acting_q`, the rule the
  telemetry matcher follows too;
- are the newest stored version of their STIX id (an indicator revoked or
  re-dated by a newer version leaves the list);
- do not hit a warning list (`warninglists.hits`).

A consumer may narrow its list (`Narrowing`, from the query parameters by
`parse_narrowing`): `min_confidence` (versions without a confidence are then
left out), `collection` (the versions that collection holds) and `warning` (an
early warning the consumer may see, `services_warnings.warnings_visible_to`:
the versions of the indicators it names, plus the warning's own values — what
its page shows; a warning the consumer may not see is a 404, as its page).

Values are deduplicated (several producers' identical indicators are one
line). The hot path is one SQL query returning (kind, value) pairs.

Incremental mode (`since`): the same set is computed as it stood at `since`
(versions added by then, active then, newest as of then, visible now) and the
two are compared: additions are values in the list now and not then, removals
values in it then (and not warning-listed by the data file) and not now — an
indicator revoked, expired or allow-listed since.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from khien.core.errors import Refused

from . import indicator_status, tlp, warninglists
from .models import (
    Collection,
    CollectionObject,
    EarlyWarning,
    IndicatorKind,
    IndicatorValue,
    StixObject,
)

IP_KINDS = (IndicatorKind.IPV4, IndicatorKind.IPV6, IndicatorKind.CIDR)
DOMAIN_KINDS = (IndicatorKind.DOMAIN,)


@dataclass(frozen=True)
class Narrowing:
    """What a consumer keeps of its list: indicators of at least this confidence, held by this collection, named
    by this early warning (with the warning's own values)."""
    min_confidence: int | None = None
    collection: Collection | None = None
    warning: EarlyWarning | None = None


def visible_warning(user, raw) -> EarlyWarning | None:
    """The early warning of id `raw` if `user` may see it (its page's rule), else None."""
    from .services_warnings import warnings_visible_to

    try:
        return warnings_visible_to(user).filter(pk=uuid.UUID(str(raw).strip())).first()
    except ValueError:
        return None


def parse_narrowing(user, params) -> Narrowing:
    """The `min_confidence`, `collection` and `warning` query parameters; Refused (400) naming each bad one and
    what it accepts; a warning the user may not see is a 404, as its page (its existence is not theirs to know)."""
    errors = {}
    min_confidence = None
    raw = (params.get("min_confidence") or "").strip()
    if raw:
        if raw.isascii() and raw.isdigit() and int(raw) <= 100:
            min_confidence = int(raw)
        else:
            errors["min_confidence"] = _("min_confidence: give a whole number from 0 to 100.")
    collection = None
    raw = (params.get("collection") or "").strip()
    if raw:
        readable = tlp.collections_for(user)
        try:
            collection = readable.filter(pk=uuid.UUID(raw)).first()
        except ValueError:
            collection = readable.filter(alias=raw).first()
        if collection is None or not tlp.can_read_collection(user, collection):
            errors["collection"] = _("collection: give the id or alias of a collection you may read.")
    if errors:
        raise Refused(" ".join(errors.values()), code="invalid")
    warning = None
    raw = (params.get("warning") or "").strip()
    if raw:
        warning = visible_warning(user, raw)
        if warning is None:
            raise Refused(_("warning: no such early warning."), code="not_found", status=404)
    return Narrowing(min_confidence=min_confidence, collection=collection, warning=warning)


def _narrowed(qs, narrowing: Narrowing | None):
    if narrowing is None:
        return qs
    if narrowing.min_confidence is not None:
        qs = qs.filter(confidence__gte=narrowing.min_confidence)
    if narrowing.collection is not None:  # only narrows what `visible_versions` lets through
        qs = qs.filter(pk__in=CollectionObject.objects.filter(collection=narrowing.collection).values("object_id"))
    if narrowing.warning is not None:
        qs = qs.filter(stix_id__in=warning_refs(narrowing.warning))
    return qs


def warning_refs(warning: EarlyWarning) -> list[str]:
    return [r for r in warning.indicator_refs or [] if isinstance(r, str)]


def warning_own_values(warning: EarlyWarning) -> list[tuple[str, str]]:
    """(kind, value) of the values written in the warning itself (addresses, ranges, domains)."""
    return [(str(v.get("kind") or ""), str(v.get("value") or "")) for v in warning.values or []
            if isinstance(v, dict) and v.get("kind") and v.get("value")]


def _active_at(qs, at: dt.datetime, *, as_of_added: bool):
    qs = qs.filter(indicator_status.acting_q(at))
    newer = StixObject.objects.filter(stix_id=OuterRef("stix_id"), modified__gt=OuterRef("modified"))
    if as_of_added:
        qs = qs.filter(date_added__lte=at)
        newer = newer.filter(date_added__lte=at)
    return qs.filter(~Exists(newer))


def acting_versions(user, at: dt.datetime | None = None, narrowing: Narrowing | None = None):
    """The acting indicator versions `user` may see (the newest of their STIX id), at `at` (None: now)."""
    as_of_added = at is not None
    at = at or timezone.now()
    visible = _narrowed(tlp.visible_versions(user).filter(stix_type="indicator"), narrowing)
    return _active_at(visible, at, as_of_added=as_of_added)


def raw_values(user, kinds, at: dt.datetime | None = None, narrowing: Narrowing | None = None) \
        -> set[tuple[str, str]]:
    """(kind, value) of the acting indicator versions `user` may see, at `at` (None: now). One query; narrowed
    to a warning, its own values too from when it was issued."""
    versions = acting_versions(user, at, narrowing)
    rows = IndicatorValue.objects.filter(kind__in=kinds, object_id__in=versions.values("pk")) \
        .values_list("kind", "value").distinct()
    found = set(rows.iterator(chunk_size=5000))
    warning = narrowing.warning if narrowing is not None else None
    # The warning's own values carry no confidence and belong to no collection: only when nothing else narrows.
    if warning is not None and narrowing.min_confidence is None and narrowing.collection is None \
            and (at is None or warning.created_at <= at):
        found |= {(k, v) for k, v in warning_own_values(warning) if k in kinds}
    return found


def values_for(user, kinds, narrowing: Narrowing | None = None) -> set[tuple[str, str]]:
    """The current blocklist entries (kind, value): visible, acting, not warning-listed."""
    lists = warninglists.compiled()
    return {(k, v) for k, v in raw_values(user, kinds, narrowing=narrowing) if not warninglists.hits(k, v, lists)}


@dataclass
class Delta:
    added: list[str]
    removed: list[str]


def delta_for(user, kinds, since: dt.datetime, narrowing: Narrowing | None = None) -> Delta:
    lists = warninglists.compiled()
    now = values_for(user, kinds, narrowing)
    then = {(k, v) for k, v in raw_values(user, kinds, at=since, narrowing=narrowing)
            if not warninglists.static_hits(k, v, lists)}
    return Delta(added=_sorted(now - then), removed=_sorted(then - now))


def _sorted(pairs) -> list[str]:
    return sorted({v for _k, v in pairs})


def current(user, kinds, narrowing: Narrowing | None = None) -> list[str]:
    return _sorted(values_for(user, kinds, narrowing))


# --- Formats ---------------------------------------------------------------------------------------


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def text_list(values: list[str], *, name: str, generated: dt.datetime) -> str:
    """One value a line, after `#` comment lines (name, generation time)."""
    head = [f"# Khiên blocklist: {name}", f"# generated: {_stamp(generated)}", f"# entries: {len(values)}"]
    return "\n".join(head + values) + "\n"


def text_delta(delta: Delta, *, name: str, since: dt.datetime, generated: dt.datetime) -> str:
    """`+value` for an addition, `-value` for a removal."""
    head = [f"# Khiên blocklist: {name} (changes)", f"# since: {_stamp(since)}", f"# generated: {_stamp(generated)}",
            f"# added: {len(delta.added)}, removed: {len(delta.removed)}"]
    return "\n".join(head + [f"+{v}" for v in delta.added] + [f"-{v}" for v in delta.removed]) + "\n"


def zone_name() -> str:
    name = getattr(settings, "KHIEN_RPZ_ZONE", "rpz.khien.vn.")
    return name if name.endswith(".") else name + "."


def _owner_name(domain: str) -> str | None:
    """The domain as a zone owner name (IDNA, LDH labels), or None when it cannot be one."""
    try:
        ascii_name = domain.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return None
    labels = ascii_name.split(".")
    if not labels or any(not lab or len(lab) > 63 or not all(ch.isalnum() or ch in "-_" for ch in lab)
                         for lab in labels):
        return None
    if len(ascii_name) + len(zone_name()) > 250:
        return None
    return ascii_name.lower()


def serial_for(at: dt.datetime) -> int:
    """The SOA serial: the UNIX time of the generation (fits the 32-bit serial until 2106)."""
    return int(at.timestamp()) % (2 ** 32)


def rpz_zone(domains: list[str], *, generated: dt.datetime) -> str:
    """A DNS RPZ zone: SOA, NS, then `name CNAME .` and `*.name CNAME .` (NXDOMAIN) per domain."""
    origin = zone_name()
    ttl = int(getattr(settings, "KHIEN_RPZ_TTL", 300))
    lines = [
        f"; Khiên response policy zone, generated {_stamp(generated)}",
        f"$ORIGIN {origin}",
        f"$TTL {ttl}",
        f"@ IN SOA localhost. hostmaster.{origin} ( {serial_for(generated)} 3600 600 604800 {ttl} )",
        "@ IN NS localhost.",
    ]
    for domain in domains:
        name = _owner_name(domain)
        if name is None:
            continue
        lines.append(f"{name} CNAME .")
        lines.append(f"*.{name} CNAME .")
    return "\n".join(lines) + "\n"


def rpz_update(delta: Delta, *, since: dt.datetime, generated: dt.datetime) -> str:
    """The changes since `since` as an `nsupdate` script for the RPZ zone."""
    origin = zone_name()
    ttl = int(getattr(settings, "KHIEN_RPZ_TTL", 300))
    lines = [f"; Khiên RPZ changes since {_stamp(since)}, generated {_stamp(generated)}", f"zone {origin}"]
    for domain in delta.removed:
        name = _owner_name(domain)
        if name:
            lines += [f"update delete {name}.{origin} CNAME", f"update delete *.{name}.{origin} CNAME"]
    for domain in delta.added:
        name = _owner_name(domain)
        if name:
            lines += [f"update add {name}.{origin} {ttl} CNAME .", f"update add *.{name}.{origin} {ttl} CNAME ."]
    lines.append("send")
    return "\n".join(lines) + "\n"
