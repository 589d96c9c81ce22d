"""bench/taxii: the synthetic STIX 2.1 indicators, and the bench-only bulk loader.

`indicator(i, ...)` is deterministic: the same index gives the same object in
Khiên and in medallion's data file. Four pattern kinds in turn (IPv4, domain,
URL, SHA-256), TLP 2.0 markings (CLEAR 10 %, GREEN 40 %, AMBER 50 %: all of
them readable by a member of the collection, so a reader pages through every
object), `created_by_ref` = the producer organization's STIX identity.

`bulk_load` writes exactly the rows `khien.intel.services.do_add_objects`
would write for these objects submitted in batches of 1,000 by an analyst of
the producer organization — StixObject rows made by `services._row_for`, one
CollectionObject per version (`superseded` false: every object has one
version), the IndicatorValue rows `services.extract_values` gives — but
without stix2-validator and the pattern parser on each object (≈2.3 ms per
object, 40 minutes for 1,000,000). What is skipped is checked instead: the
first objects of every load go through `services.check_object`, and their
extracted values are compared with the ones written here. It writes no audit
rows and no TaxiiStatus: it is a bench fixture, never a platform path.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress

TLP_CYCLE = ["clear"] + ["green"] * 4 + ["amber"] * 5
KINDS = ["ipv4", "domain", "url", "sha256"]
BATCH = 1000
BASE_CREATED = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
# The TLP 2.0 marking definitions (khien.intel.tlp.TLP_MARKING; bulk_load checks they are the same).
MARKINGS = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
}


def value_of(i: int) -> tuple[str, str, str]:
    """(indicator kind, normalized value, STIX pattern) of object `i` (unique over i < 2**24)."""
    kind = KINDS[i % 4]
    if kind == "ipv4":
        ip = str(ipaddress.IPv4Address((11 << 24) + i * 7 % (1 << 24)))  # 11.0.0.0/8, a bijection of i mod 2**24
        return kind, ip, f"[ipv4-addr:value = '{ip}']"
    if kind == "domain":
        name = f"c2-{i}.bad{i % 997}.example"
        return kind, name, f"[domain-name:value = '{name}']"
    if kind == "url":
        url = f"http://dl{i}.example.net/payload/{i:x}.bin"
        return kind, url, f"[url:value = '{url}']"
    digest = hashlib.sha256(str(i).encode()).hexdigest()
    return kind, digest, f"[file:hashes.'SHA-256' = '{digest}']"


def miss_value(i: int) -> tuple[str, str]:
    """A value of the same shapes that no loaded object names."""
    kind = KINDS[i % 4]
    if kind == "ipv4":
        return kind, str(ipaddress.IPv4Address((12 << 24) + i))
    if kind == "domain":
        return kind, f"clean-{i}.example.org"
    if kind == "url":
        return kind, f"https://www{i}.example.org/index.html"
    return kind, hashlib.sha256(f"miss-{i}".encode()).hexdigest()


def _stamp(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def indicator(i: int, identity_id: str, markings: dict[str, str]) -> dict:
    kind, value, pattern = value_of(i)
    created = _stamp(BASE_CREATED + dt.timedelta(milliseconds=i))
    level = TLP_CYCLE[i % len(TLP_CYCLE)]
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{_uuid(i)}",
        "created_by_ref": identity_id,
        "created": created,
        "modified": created,
        "name": f"Malicious {kind} {value[:64]}",
        "description": "Synthetic indicator of the Khiên TAXII benchmark.",
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": created,
        "confidence": 50 + i % 50,
        "labels": ["bench", kind],
        "object_marking_refs": [markings[level]],
    }


def _uuid(i: int) -> str:
    """A deterministic version-4-shaped UUID for object i."""
    h = hashlib.md5(f"khien-bench-taxii-{i}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


def date_added_of(i: int, base: dt.datetime, start: int = 0) -> dt.datetime:
    """Objects arrive in submissions of 1,000; a submission's objects share its date (as in do_add_objects)."""
    return base + dt.timedelta(seconds=(i - start) // BATCH)


def bulk_load(collection, producer_id, identity_id: str, start: int, count: int, base_added: dt.datetime,
              *, check: int = 200, progress=None) -> dict:
    """Store objects start..start+count-1 in `collection` (see the module docstring). Returns timings."""
    import time

    from django.db import transaction
    from stix2validator import ValidationOptions

    from khien.intel import services
    from khien.intel.models import CollectionObject, IndicatorValue, StixObject
    from khien.intel.tlp import TLP_MARKING

    assert all(TLP_MARKING[level] == ref for level, ref in MARKINGS.items())
    started = time.perf_counter()
    # The checks that the fast path skips, on a sample: the objects are valid STIX 2.1 and their
    # values are the ones extract_values finds.
    options = ValidationOptions()
    for i in range(start, start + min(check, count)):
        obj = indicator(i, identity_id, MARKINGS)
        cache: dict = {}
        _key, errors = services.check_object(obj, i, options, cache)
        assert not errors, errors
        kind, value, _pattern = value_of(i)
        assert cache[obj["pattern"]] == [(kind, value)], (cache, kind, value)

    step = 5000
    for first in range(start, start + count, step):
        last = min(first + step, start + count)
        rows, values = [], []
        for i in range(first, last):
            added = date_added_of(i, base_added, start)
            rows.append(services._row_for(indicator(i, identity_id, MARKINGS), producer_id, "amber", added))
            values.append(value_of(i)[:2])
        with transaction.atomic():
            StixObject.objects.bulk_create(rows, batch_size=step)
            CollectionObject.objects.bulk_create(
                [CollectionObject(collection=collection, object_id=row.pk, date_added=row.date_added)
                 for row in rows], batch_size=step)
            IndicatorValue.objects.bulk_create(
                [IndicatorValue(object_id=row.pk, kind=k, value=v) for row, (k, v) in zip(rows, values)],
                batch_size=step)
        if progress and (last - start) % 100000 < step:
            progress(f"{last - start:,}/{count:,} objects")
    return {"objects": count, "seconds": round(time.perf_counter() - started, 1)}


def add_entries(collection, object_pks: list[int], dates: list[dt.datetime]) -> None:
    """Put already stored versions into another collection (as do_add_objects does for known versions)."""
    from khien.intel.models import CollectionObject

    CollectionObject.objects.bulk_create(
        [CollectionObject(collection=collection, object_id=pk, date_added=d) for pk, d in zip(object_pks, dates)],
        batch_size=5000)


def medallion_data(path, identity_id: str, count: int, base_added: dt.datetime, api_root_url: str,
                   collection_id: str) -> None:
    """medallion 3.0's memory-backend data file holding objects 0..count-1 with the same dates added."""
    import json

    objects, manifest = [], []
    for i in range(count):
        obj = indicator(i, identity_id, MARKINGS)
        objects.append(obj)
        manifest.append({"id": obj["id"], "date_added": _stamp(date_added_of(i, base_added)),
                         "version": obj["modified"], "media_type": "application/stix+json;version=2.1"})
    data = {
        "/discovery": {"title": "medallion (bench)", "default": api_root_url, "api_roots": [api_root_url]},
        "bench": {
            "information": {"title": "bench", "versions": ["application/taxii+json;version=2.1"],
                            "max_content_length": 10 * 1024 * 1024},
            "status": [],
            "collections": [{
                "id": collection_id, "title": "bench", "can_read": True, "can_write": False,
                "media_types": ["application/stix+json;version=2.1"], "objects": objects, "manifest": manifest,
            }],
        },
    }
    with open(path, "w", encoding="utf-8") as out:
        json.dump(data, out)
