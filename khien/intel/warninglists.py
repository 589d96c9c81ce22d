"""Warning lists: values that must never be treated as malicious.

Three sources, compiled together once per process and cached:

- the versioned data file ``khien/intel/data/warninglists.yaml`` (private and
  reserved ranges, loopback, link-local, multicast, documentation ranges,
  well-known public resolvers and domains);
- the platform's own addresses and domains, setting ``KHIEN_OWN_ADDRESSES``
  (a list, or a comma-separated string in the environment variable of the same
  name), list name ``own-addresses``;
- the editable allow-list (`AllowListEntry`), list name ``allow-list``.

`hits(kind, value)` names the lists a value hits: an IP address or CIDR hits a
network list when the two overlap (the value inside a listed range, or a
listed address inside the value's range); a domain hits a domain list when it
or one of its parent domains is listed; a URL or e-mail address is checked by
its host. Hashes hit only the allow-list.

The compiled lists are rebuilt when the allow-list changes: at once in the
process that changed it (signals), and in the other processes within
``KHIEN_WARNINGLIST_RECHECK_SECONDS`` (a cheap fingerprint query of the table).

The allow-list is changed only through `do_add_allow_entry` /
`do_remove_allow_entry` (national coordinator; audited).
"""
from __future__ import annotations

import functools
import ipaddress
import os
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import translation
from django.utils.translation import gettext as _

from khien.core import audit, shapes
from khien.core.audit import Act
from khien.core.errors import Forbidden, Refused
from khien.core.scoping import is_national_coordinator

from . import services
from .models import AllowListEntry, IndicatorKind

DATA_FILE = Path(__file__).resolve().parent / "data" / "warninglists.yaml"
ALLOW_LIST = "allow-list"
OWN_ADDRESSES = "own-addresses"
IP_KINDS = frozenset({IndicatorKind.IPV4, IndicatorKind.IPV6, IndicatorKind.CIDR})
HASH_KINDS = frozenset({IndicatorKind.MD5, IndicatorKind.SHA1, IndicatorKind.SHA256})


def _network(value: str):
    try:
        return ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        return None


def _domain(value: str) -> str:
    return str(value).strip().lower().rstrip(".")


class _Intervals:
    """Sorted, merged, disjoint integer intervals per IP version: overlap test by one bisect."""

    def __init__(self, networks):
        self.starts: dict[int, list[int]] = {}
        self.ends: dict[int, list[int]] = {}
        by_version: dict[int, list[tuple[int, int]]] = {}
        for net in networks:
            by_version.setdefault(net.version, []).append(
                (int(net.network_address), int(net.broadcast_address)))
        for version, ranges in by_version.items():
            ranges.sort()
            merged: list[list[int]] = []
            for start, end in ranges:
                if merged and start <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            self.starts[version] = [s for s, _e in merged]
            self.ends[version] = [e for _s, e in merged]

    def overlaps(self, version: int, start: int, end: int) -> bool:
        starts = self.starts.get(version)
        if not starts:
            return False
        i = bisect_right(starts, end) - 1
        return i >= 0 and self.ends[version][i] >= start


@dataclass
class Compiled:
    networks: dict[str, _Intervals] = field(default_factory=dict)   # list name -> intervals
    any_network: _Intervals | None = None
    domains: dict[str, list[str]] = field(default_factory=dict)      # domain -> list names
    exact: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (kind, value) -> list names (hashes, URLs…)
    static_names: frozenset = frozenset()
    fingerprint: tuple = ()
    checked_at: float = 0.0


def load_file(path: Path = DATA_FILE) -> list[dict]:
    """The lists of the data file: [{"name", "description", "kind", "values"}]."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    lists = data.get("lists") if isinstance(data, dict) else None
    if not isinstance(lists, list):
        raise ValueError(f"{path}: no 'lists'")
    for item in lists:
        if item.get("kind") not in ("network", "domain") or not item.get("name"):
            raise ValueError(f"{path}: list {item.get('name')!r} needs a name and kind network|domain")
        for value in item.get("values") or ():
            if item["kind"] == "network" and _network(value) is None:
                raise ValueError(f"{path}: {item['name']}: {value!r} is not an IP address or range")
    return lists


@functools.lru_cache(maxsize=1)
def _descriptions() -> dict[str, tuple[str, str]]:
    return {item["name"]: (item.get("description") or item["name"], item.get("description_vi") or "")
            for item in load_file()}


def list_label(name: str) -> str:
    """A warning list as people read it, in the reader's language (its code, e.g. reserved-domains, when
    unknown): the data file's description, or the allow-list / the platform's own addresses."""
    if name == ALLOW_LIST:
        return str(_("Allow-list of the national coordinator"))
    if name == OWN_ADDRESSES:
        return str(_("Khiên's own addresses and domains"))
    english, vietnamese = _descriptions().get(name, (name, ""))
    return vietnamese if vietnamese and (translation.get_language() or "").startswith("vi") else english


def own_addresses() -> list[str]:
    value = getattr(settings, "KHIEN_OWN_ADDRESSES", None)
    if value is None:
        value = os.environ.get("KHIEN_OWN_ADDRESSES", "")
    if isinstance(value, str):
        value = value.split(",")
    return [str(v).strip() for v in value if str(v).strip()]


def _fingerprint() -> tuple:
    agg = AllowListEntry.objects.aggregate(n=Count("pk"), last=Max("pk"), at=Max("at"))
    return (agg["n"], agg["last"], agg["at"].isoformat() if agg["at"] else "", tuple(own_addresses()))


def _compile() -> Compiled:
    compiled = Compiled()
    networks: dict[str, list] = {}
    static = set()

    def add_value(name: str, kind: str | None, value: str):
        if kind in IP_KINDS or kind is None:
            net = _network(value)
            if net is not None:
                networks.setdefault(name, []).append(net)
                return
            if kind is not None:
                return
        if kind in (IndicatorKind.DOMAIN, None):
            domain = _domain(value)
            if domain:
                compiled.domains.setdefault(domain, [])
                if name not in compiled.domains[domain]:
                    compiled.domains[domain].append(name)
            return
        key = (kind, value.strip().lower() if kind in HASH_KINDS | {IndicatorKind.EMAIL} else value.strip())
        compiled.exact.setdefault(key, [])
        if name not in compiled.exact[key]:
            compiled.exact[key].append(name)

    for item in load_file():
        static.add(item["name"])
        for value in item.get("values") or ():
            add_value(item["name"], IndicatorKind.CIDR if item["kind"] == "network" else IndicatorKind.DOMAIN,
                      str(value))
    for value in own_addresses():
        add_value(OWN_ADDRESSES, None, value)
    for kind, value in AllowListEntry.objects.values_list("kind", "value"):
        add_value(ALLOW_LIST, kind, value)
    compiled.networks = {name: _Intervals(nets) for name, nets in networks.items()}
    compiled.any_network = _Intervals([n for nets in networks.values() for n in nets])
    compiled.static_names = frozenset(static | {OWN_ADDRESSES})
    compiled.fingerprint = _fingerprint()
    compiled.checked_at = time.monotonic()
    return compiled


_lock = threading.Lock()
_compiled: Compiled | None = None


def compiled() -> Compiled:
    """The compiled lists; rebuilt when the allow-list (or own addresses) changed."""
    global _compiled
    current = _compiled
    recheck = float(getattr(settings, "KHIEN_WARNINGLIST_RECHECK_SECONDS", 5))
    if current is not None and time.monotonic() - current.checked_at < recheck:
        return current
    with _lock:
        current = _compiled
        if current is not None:
            if time.monotonic() - current.checked_at < recheck:
                return current
            if _fingerprint() == current.fingerprint:
                current.checked_at = time.monotonic()
                return current
        _compiled = _compile()
        return _compiled


def invalidate() -> None:
    """Forget the compiled lists (the next call recompiles)."""
    global _compiled
    with _lock:
        _compiled = None


@receiver(post_save, sender=AllowListEntry)
@receiver(post_delete, sender=AllowListEntry)
def _allow_list_changed(**kwargs):
    invalidate()
    transaction.on_commit(invalidate)  # a concurrent reader may have compiled the uncommitted state


def _bounds(value: str) -> tuple[int, int, int] | None:
    """(version, first, last) of an address or CIDR as integers; None when it is neither."""
    value = value.strip()
    try:
        if "/" in value:
            net = ipaddress.ip_network(value, strict=False)
            return net.version, int(net.network_address), int(net.broadcast_address)
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    return address.version, int(address), int(address)


def _bounds_hits(c: Compiled, bounds) -> list[str]:
    if bounds is None:
        return []
    version, start, end = bounds
    if not c.any_network.overlaps(version, start, end):
        return []
    return [name for name, intervals in c.networks.items() if intervals.overlaps(version, start, end)]


def _network_hits(c: Compiled, net) -> list[str]:
    return _bounds_hits(c, (net.version, int(net.network_address), int(net.broadcast_address)))


def _domain_hits(c: Compiled, domain: str) -> list[str]:
    names: list[str] = []
    labels = domain.split(".")
    for i in range(len(labels)):
        for name in c.domains.get(".".join(labels[i:]), ()):
            if name not in names:
                names.append(name)
    return names


def _host_hits(c: Compiled, host: str) -> list[str]:
    host = host.strip("[]")
    net = _network(host) if host else None
    if net is not None:
        return _network_hits(c, net)
    return _domain_hits(c, _domain(host)) if host else []


def hits(kind: str, value: str, lists: Compiled | None = None) -> list[str]:
    """The names of the warning lists `value` (of IndicatorKind `kind`) hits; [] when none."""
    c = lists or compiled()
    value = str(value)
    names: list[str] = []
    if kind in IP_KINDS:
        names = _bounds_hits(c, _bounds(value))
        if not c.exact:
            return names
    elif kind == IndicatorKind.DOMAIN:
        names = _domain_hits(c, _domain(value))
    elif kind == IndicatorKind.URL:
        try:
            host = urlsplit(value.strip()).hostname or ""
        except ValueError:
            host = ""
        names = _host_hits(c, host)
    elif kind == IndicatorKind.EMAIL:
        names = _host_hits(c, value.rpartition("@")[2])
    key = (kind, value.strip().lower() if kind in HASH_KINDS | {IndicatorKind.EMAIL} else value.strip())
    for name in c.exact.get(key, ()):
        if name not in names:
            names.append(name)
    return names


def listed_in(objects) -> list[dict]:
    """The values of the STIX indicators among `objects` that are on a warning list — each as `flag` gives it, with
    the indicator's `id`: what a submitter is told (a private address, a well-known resolver… is stored, but left
    out of the blocklists and the SOC matching). An unreadable pattern is left to the validation."""
    lists = compiled()
    found = []
    for obj in objects:
        if not isinstance(obj, dict) or obj.get("type") != "indicator" or obj.get("pattern_type") != "stix":
            continue
        try:
            values = services.extract_values(obj.get("pattern") or "")
        except Exception:  # stix2-patterns' parse error: the validation refuses the object
            continue
        for kind, value in values:
            names = hits(kind, value, lists)
            if names:
                found.append({"id": obj.get("id"), "kind": kind, "value": value, "warninglists": names})
    return found


def values_and_lists(pairs) -> str:
    """“10.79.4.4 (Private addresses…); 8.8.8.8 (…)”: each (value, list names) of `pairs` with its lists named in
    the reader's language — what every warning about listed values says."""
    return "; ".join(f"{value} ({', '.join(list_label(n) for n in names)})" for value, names in pairs)


def listed_message(found: list[dict]) -> str:
    """Which values of `listed_in` are on which list, and what that means for them."""
    values = values_and_lists((f["value"], f["warninglists"]) for f in found)
    return _("On a warning list, so probably not malicious (a private or reserved address, a well-known service…): "
             "%(values)s. Such a value is left out of the blocklists and the SOC matching.") % {"values": values}


def is_listed(kind: str, value: str, lists: Compiled | None = None) -> bool:
    return bool(hits(kind, value, lists))


def static_hits(kind: str, value: str, lists: Compiled | None = None) -> list[str]:
    """Hits of the data-file lists and the platform's own addresses only (not the editable allow-list)."""
    c = lists or compiled()
    return [name for name in hits(kind, value, c) if name in c.static_names]


def flag(kind: str, value: str, lists: Compiled | None = None) -> dict:
    """The flag shown with an indicator value in API output."""
    names = hits(kind, value, lists)
    return {"kind": kind, "value": value, "warning_listed": bool(names), "warninglists": names}


# --- The editable allow-list (services) -----------------------------------------------------------


def normalize(kind: str, value: str) -> str:
    """The allow-list form of a value; Refused when it is not of that kind (an IP address or network of that
    version, a domain name, an e-mail address, a hash of that length)."""
    value = str(value or "").strip()
    if kind not in IndicatorKind.values:
        raise Refused(_("Unknown value kind."), code="invalid")
    if not value or len(value) > 2048:
        raise Refused(_("Give a value (at most 2048 characters)."), code="invalid")
    if kind in IP_KINDS:
        net = _network(value)
        if net is None:
            raise Refused(_("“%(v)s” is not an IP address or CIDR range.") % {"v": value}, code="invalid")
        if (kind == IndicatorKind.IPV4 and net.version != 4) or (kind == IndicatorKind.IPV6 and net.version != 6):
            raise Refused(_("“%(v)s” is not an address of that kind.") % {"v": value}, code="invalid")
        return str(net.network_address) if net.num_addresses == 1 and kind != IndicatorKind.CIDR else str(net)
    if kind == IndicatorKind.DOMAIN:
        domain = _domain(value)
        if not shapes.is_domain_name(domain):
            raise Refused(_("“%(v)s” is not a domain name.") % {"v": value}, code="invalid")
        return domain
    if kind in HASH_KINDS:
        if not services.is_hash(kind, value.lower()):
            raise Refused(_("“%(value)s” is not a %(kind)s hash (%(n)s hexadecimal digits).")
                          % {"value": value, "kind": IndicatorKind(kind).label, "n": services.HASH_LENGTHS[kind]},
                          code="invalid")
        return value.lower()
    if kind == IndicatorKind.EMAIL:
        if not services.is_email_address(value.lower()):
            raise Refused(_("“%(v)s” is not an e-mail address.") % {"v": value}, code="invalid")
        return value.lower()
    return value


def _require_coordinator(user):
    if not is_national_coordinator(user):
        raise Forbidden(_("Only the national coordinator can change the allow-list."))


@transaction.atomic
def do_add_allow_entry(kind: str, value: str, *, note: str = "", acting_user) -> AllowListEntry:
    _require_coordinator(acting_user)
    value = normalize(kind, value)
    if AllowListEntry.objects.filter(kind=kind, value=value).exists():
        raise Refused(_("This value is already on the allow-list."), code="duplicate", status=409)
    entry = AllowListEntry.objects.create(kind=kind, value=value, note=note or "", added_by=acting_user)
    audit.record(Act.CREATE, entry, actor=acting_user)
    return entry


@transaction.atomic
def do_remove_allow_entry(entry: AllowListEntry, *, acting_user) -> None:
    _require_coordinator(acting_user)
    before = audit.snapshot(entry)
    audit.record(Act.DELETE, entry, actor=acting_user, before=before)
    entry.delete()
