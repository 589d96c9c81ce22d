"""Matching events' observables against the active indicators of the intelligence store.

`IndicatorMatcher.load()` compiles, once per process, the values of the latest
version of every STIX indicator that is not revoked, not expired and not benign
(`khien.intel.indicator_status.acts`, the blocklists' rule too) into
lookup tables where each observable costs O(1):

- IPv4 / IPv6 addresses: one dict keyed by the address as an integer;
- CIDR ranges: one dict per (IP version, prefix length) present, keyed by the
  network as an integer — an address is looked up once per prefix length in use
  (a handful), by shifting its integer;
- domains: one dict; an event's domain is looked up, then each parent domain
  (walking the labels up), so ``evil.com`` matches ``a.evil.com`` but never
  ``notevil.com``;
- URLs: exact, after the same normalization as ``khien.intel.services.normalize_value``
  (surrounding blanks stripped);
- hashes: lowercase hex, one dict per algorithm.

Addresses and domains already looked up are remembered with the table entries
they hit (usually none): SOC alerts repeat the same addresses and domains far
more often than they bring new ones. What is remembered is dropped whenever
values are added.

Warning-listed values (``khien.intel.warninglists``) never match: they are
checked when a value hits (rarely), so a change of the allow-list applies at
once without recompiling. Expiry (``valid_until``) is also checked when a value
hits, so a cached matcher never matches an indicator that expired since it was
built.

Visibility (TLP, collections) is NOT applied here: the matcher knows every
active indicator; ``khien.telemetry.matching.record_hits`` keeps only the hits
the event's organization may see.

`current_matcher()` returns the process's matcher and keeps it current: at most
every KHIEN_MATCHER_RECHECK_SECONDS (default 5) it compares a cheap fingerprint
of the store (highest ids of object versions and indicator values, number of
versions); when it changed, the versions written since are applied in place
(`refresh`: superseded, revoked and expired versions stop matching, new ones
are added) — cheap whatever the size of the store — and the whole matcher is
rebuilt at most every KHIEN_MATCHER_REBUILD_SECONDS (default 3600) or when a
very large import changed too much.
"""
from __future__ import annotations

import gc
import ipaddress
import threading
import time
from functools import lru_cache
from typing import NamedTuple

from django.db.models import Max
from django.utils import timezone

from khien.intel import indicator_status, warninglists
from khien.intel.models import IndicatorKind, IndicatorValue, StixObject

from . import conf

IP_FIELDS = ("src_ip", "dst_ip")
HASH_FIELDS = (("file_md5", IndicatorKind.MD5), ("file_sha1", IndicatorKind.SHA1), ("file_sha256", IndicatorKind.SHA256))
_BITS = {4: 32, 6: 128}


class Hit(NamedTuple):
    indicator_pk: int      # khien.intel.models.StixObject primary key of the indicator version
    indicator_id: str      # its STIX id
    kind: str              # IndicatorKind value
    value: str             # the indicator value that matched (e.g. the CIDR or the parent domain)
    field: str             # the event field that matched


def _ip_int(text: str) -> tuple[int, int] | None:
    """(version, integer) of an address given as text (as the parsers write it), or None."""
    parts = text.split(".")
    if len(parts) == 4:
        try:
            a, b, c, d = int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3])
        except ValueError:
            return _ip_int_slow(text)
        if 0 <= a <= 255 and 0 <= b <= 255 and 0 <= c <= 255 and 0 <= d <= 255:
            return 4, (a << 24) | (b << 16) | (c << 8) | d
    return _ip_int_slow(text)


@lru_cache(maxsize=1 << 16)
def _ip_int_slow(text: str) -> tuple[int, int] | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.version, int(address)


def _domain_key(value: str) -> str:
    text = value.strip().rstrip(".").lower()
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            return text
    return text


class IndicatorMatcher:
    """Compiled lookup tables over active indicator values (see the module docstring)."""

    def __init__(self):
        # Each table maps a key to a tuple of indicator version pks (usually one).
        self.addresses: dict[tuple[int, int], tuple[int, ...]] = {}        # (version, int) -> pks
        self.networks: dict[tuple[int, int], dict[int, tuple[int, ...]]] = {}  # (version, prefix) -> {net int: pks}
        self.network_text: dict[tuple[int, int, int], str] = {}            # (version, prefix, net) -> "a.b.c.0/24"
        self.domains: dict[str, tuple[int, ...]] = {}
        self.urls: dict[str, tuple[int, ...]] = {}
        self.hashes: dict[str, dict[str, tuple[int, ...]]] = {kind: {} for _f, kind in HASH_FIELDS}
        self.stix_ids: dict[int, str] = {}
        self.valid_until: dict[int, float] = {}                             # pk -> epoch seconds (only if set)
        self.valid_from: dict[int, float] = {}                              # pk -> epoch seconds (only if future)
        self.address_text: dict[tuple[int, int], str] = {}
        self.size = 0
        self.fingerprint: tuple = ()
        self.checked_at = 0.0
        self.built_at = 0.0
        self.dead: set[int] = set()   # versions superseded, revoked or expired since the build (by refresh)
        self._prefixes: dict[int, list[tuple[int, int, dict]]] = {4: [], 6: []}
        self._listed: dict[tuple[str, str], bool] = {}
        self._lists = None
        self._address_memo: dict[str, tuple] = {}   # address text -> table entries it hits (_entries)
        self._domain_memo: dict[str, tuple] = {}

    # --- building ---------------------------------------------------------------------------

    @classmethod
    def load(cls) -> "IndicatorMatcher":
        """The latest versions of active indicators: not revoked, not expired, values not warning-listed."""
        matcher = cls()
        matcher.fingerprint = store_fingerprint()
        now = timezone.now()
        latest: dict[str, tuple] = {}
        versions = (StixObject.objects.filter(stix_type="indicator")
                    .values_list("pk", "stix_id", "modified", "revoked", "valid_until", "valid_from", "benign")
                    .iterator(chunk_size=20000))
        for pk, stix_id, modified, revoked, valid_until, valid_from, benign in versions:
            current = latest.get(stix_id)
            if current is None or (modified, pk) > (current[1], current[0]):
                latest[stix_id] = (pk, modified, revoked, valid_until, valid_from, benign)
        active: dict[int, str] = {}
        for stix_id, (pk, _modified, revoked, valid_until, valid_from, benign) in latest.items():
            if not indicator_status.acts(revoked, benign, valid_until, now):  # a benign one never raises a hit
                continue
            active[pk] = stix_id
            matcher._note_validity(pk, valid_until, valid_from, now)
        del latest
        matcher.stix_ids = active
        values = IndicatorValue.objects.values_list("object_id", "kind", "value").iterator(chunk_size=20000)
        for pk, kind, value in values:
            if pk in active:
                matcher.add(pk, kind, value)
        matcher._finish()
        matcher.checked_at = matcher.built_at = time.monotonic()
        return matcher

    def refresh(self, fingerprint: tuple) -> bool:
        """Apply the indicator versions written since the build (or the last refresh) in place.

        New versions of an indicator supersede the older ones (their pks become dead), a revoked or
        expired latest version stops matching, new active versions add their values. The versions
        looked at are those with a primary key above the highest seen minus a margin (a transaction
        that committed late with a lower key is still found). Returns False when a full rebuild is
        better (too much changed)."""
        last = (self.fingerprint[0] or 0) if self.fingerprint else 0
        changed_ids = set(StixObject.objects.filter(stix_type="indicator", pk__gt=max(0, last - REFRESH_MARGIN))
                          .values_list("stix_id", flat=True)[:REFRESH_LIMIT + 1])
        if len(changed_ids) > REFRESH_LIMIT:
            return False
        now = timezone.now()
        latest: dict[str, tuple] = {}
        versions = (StixObject.objects.filter(stix_type="indicator", stix_id__in=changed_ids)
                    .values_list("pk", "stix_id", "modified", "revoked", "valid_until", "valid_from", "benign"))
        for pk, stix_id, modified, revoked, valid_until, valid_from, benign in versions:
            current = latest.get(stix_id)
            if current is None or (modified, pk) > (current[1], current[0]):
                latest[stix_id] = (pk, modified, revoked, valid_until, valid_from, benign)
            self.dead.add(pk)
        fresh: dict[int, str] = {}
        for stix_id, (pk, _modified, revoked, valid_until, valid_from, benign) in latest.items():
            if not indicator_status.acts(revoked, benign, valid_until, now):
                continue
            self.dead.discard(pk)
            self._note_validity(pk, valid_until, valid_from, now)
            if pk not in self.stix_ids:
                fresh[pk] = stix_id
        self.stix_ids.update(fresh)
        if fresh:
            for pk, kind, value in IndicatorValue.objects.filter(object_id__in=list(fresh)).values_list(
                    "object_id", "kind", "value"):
                self.add(pk, kind, value)
            self._finish()
        self.fingerprint = fingerprint
        self.checked_at = time.monotonic()
        return True

    def _note_validity(self, pk: int, valid_until, valid_from, now) -> None:
        """Remember the bounds checked when a value hits: expiry, and a start still in the future (an
        indicator published ahead of its `valid_from` does not match before that time)."""
        if valid_until is not None:
            self.valid_until[pk] = valid_until.timestamp()
        if valid_from is not None and valid_from > now:
            self.valid_from[pk] = valid_from.timestamp()

    @staticmethod
    def _put(table: dict, key, pk: int) -> None:
        pks = table.get(key)
        if pks is None:
            table[key] = (pk,)
        elif pk not in pks:
            table[key] = pks + (pk,)

    def add(self, pk: int, kind: str, value: str) -> None:
        """Add one indicator value (as stored by the intel store) to the tables."""
        if kind in (IndicatorKind.IPV4, IndicatorKind.IPV6, IndicatorKind.CIDR):
            try:
                net = ipaddress.ip_network(value.strip(), strict=False)
            except ValueError:
                return
            bits = _BITS[net.version]
            if net.prefixlen == bits:
                key = (net.version, int(net.network_address))
                self._put(self.addresses, key, pk)
                self.address_text[key] = str(net.network_address)
            else:
                network = int(net.network_address) >> (bits - net.prefixlen)
                self._put(self.networks.setdefault((net.version, net.prefixlen), {}), network, pk)
                self.network_text[(net.version, net.prefixlen, network)] = str(net)
        elif kind == IndicatorKind.DOMAIN:
            key = _domain_key(value)
            if key:
                self._put(self.domains, key, pk)
        elif kind == IndicatorKind.URL:
            key = value.strip()
            if key:
                self._put(self.urls, key, pk)
        elif kind in self.hashes:
            self._put(self.hashes[kind], value.strip().lower(), pk)
        else:
            return  # e-mail addresses: no event field carries one
        self.size += 1

    def _finish(self) -> None:
        self._address_memo.clear()  # values were added: remembered misses may now hit
        self._domain_memo.clear()
        self._prefixes = {4: [], 6: []}
        for (version, prefix), table in sorted(self.networks.items()):
            self._prefixes[version].append((_BITS[version] - prefix, prefix, table))

    # --- matching ----------------------------------------------------------------------------

    def _active(self, pks: tuple[int, ...], now: float) -> list[int]:
        if self.dead:
            pks = [pk for pk in pks if pk not in self.dead]
        if not self.valid_until and not self.valid_from:
            return list(pks)
        return [pk for pk in pks if self.valid_until.get(pk, now + 1) > now and self.valid_from.get(pk, now) <= now]

    def _listed_value(self, kind: str, value: str) -> bool:
        lists = warninglists.compiled()
        if lists is not self._lists:
            self._lists, self._listed = lists, {}
        key = (kind, value)
        listed = self._listed.get(key)
        if listed is None:
            listed = self._listed[key] = warninglists.is_listed(kind, value, lists)
        return listed

    def _emit(self, hits: list, pks, kind: str, value: str, field: str, now: float) -> None:
        if self._listed_value(kind, value):
            return
        for pk in self._active(pks, now):
            hits.append(Hit(pk, self.stix_ids[pk], kind, value, field))

    def _address_entries(self, text: str) -> tuple:
        """(pks, kind, matched value) of every table entry an address hits, () for none (the usual)."""
        parsed = _ip_int(text)
        if parsed is None:
            return ()
        found = []
        version, number = parsed
        pks = self.addresses.get(parsed)
        if pks is not None:
            found.append((pks, IndicatorKind.IPV4 if version == 4 else IndicatorKind.IPV6, self.address_text[parsed]))
        for shift, prefix, table in self._prefixes[version]:
            network = number >> shift
            pks = table.get(network)
            if pks is not None:
                found.append((pks, IndicatorKind.CIDR, self.network_text[(version, prefix, network)]))
        return tuple(found)

    def _domain_entries(self, domain: str) -> tuple:
        """The same for a domain: the domain itself and each parent domain listed."""
        found = []
        key = _domain_key(domain)
        while key:
            pks = self.domains.get(key)
            if pks is not None:
                found.append((pks, IndicatorKind.DOMAIN, key))
            dot = key.find(".")
            key = key[dot + 1:] if dot >= 0 else ""
        return tuple(found)

    def _entries(self, memo: dict, lookup, value: str) -> tuple:
        """`lookup(value)`, remembered: SOC alerts repeat the same addresses and domains (a sensor's own
        network, a scanner, a C2 server) far more often than they bring new ones, and the walk over the
        prefix lengths or the parent domains costs more than a dict lookup. Only table entries are
        remembered; warning lists, expiry and superseded versions are still checked at every hit."""
        found = memo.get(value)
        if found is None:
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            found = memo[value] = lookup(value)
        return found

    def match_event(self, event: dict) -> list[Hit]:
        """Every hit of one normalized event (keys as Event fields); [] when none."""
        hits: list[Hit] = []
        found_in: list = []
        for field in IP_FIELDS:
            text = event.get(field)
            if text:
                found = self._entries(self._address_memo, self._address_entries, text)
                if found:
                    found_in.append((found, field))
        domain = event.get("domain")
        if domain and self.domains:
            found = self._entries(self._domain_memo, self._domain_entries, domain)
            if found:
                found_in.append((found, "domain"))
        url = event.get("url")
        if url and self.urls:
            key = url.strip()
            pks = self.urls.get(key)
            if pks is not None:
                found_in.append((((pks, IndicatorKind.URL, key),), "url"))
        for field, kind in HASH_FIELDS:
            value = event.get(field)
            if value:
                key = value.lower()
                pks = self.hashes[kind].get(key)
                if pks is not None:
                    found_in.append((((pks, kind, key),), field))
        if found_in:
            now = time.time()
            for found, field in found_in:
                for pks, kind, value in found:
                    self._emit(hits, pks, kind, value, field, now)
        return hits


MEMO_LIMIT = 500_000  # remembered addresses (and, apart, domains) per matcher; emptied when full


# --- the process's matcher ---------------------------------------------------------------------


def store_fingerprint() -> tuple:
    """Changes whenever an indicator version or value is added: the highest primary keys (two index
    lookups). Object versions are never deleted (a change is a new version, revocation included), so no
    count is needed — a COUNT over a million versions cost ~0.2 s every KHIEN_MATCHER_RECHECK_SECONDS."""
    objects = StixObject.objects.aggregate(last=Max("pk"))
    values = IndicatorValue.objects.aggregate(last=Max("pk"))
    return objects["last"], values["last"]


REFRESH_MARGIN = 10000   # primary keys below the highest seen that a refresh looks at again
REFRESH_LIMIT = 50000    # more changed indicators than this: rebuild instead of refreshing
_lock = threading.Lock()
_matcher: IndicatorMatcher | None = None


def current_matcher() -> IndicatorMatcher:
    """The process's matcher, rebuilt when the intelligence store changed (checked at most every
    KHIEN_MATCHER_RECHECK_SECONDS)."""
    global _matcher
    recheck = float(conf.get("KHIEN_MATCHER_RECHECK_SECONDS"))
    current = _matcher
    if current is not None and time.monotonic() - current.checked_at < recheck:
        return current
    with _lock:
        current = _matcher
        if current is not None:
            if time.monotonic() - current.checked_at < recheck:
                return current
            fingerprint = store_fingerprint()
            if fingerprint == current.fingerprint:
                current.checked_at = time.monotonic()
                return current
            rebuild = float(conf.get("KHIEN_MATCHER_REBUILD_SECONDS"))
            if time.monotonic() - current.built_at < rebuild and current.refresh(fingerprint):
                return current
        _matcher = IndicatorMatcher.load()
        # A million values are millions of long-lived objects: keep them out of the garbage collector's
        # full passes, which would otherwise walk them during every large ingestion (core.apps freezes
        # what exists at start-up for the same reason).
        gc.freeze()
        return _matcher


def invalidate() -> None:
    """Forget the process's matcher (the next call rebuilds it)."""
    global _matcher
    with _lock:
        _matcher = None
