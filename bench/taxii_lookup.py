"""bench/taxii, step 3 (own subprocess, database chosen by the environment): value lookups among the
indexed IndicatorValue rows loaded by taxii_load.py, and (PostgreSQL) EXPLAIN ANALYZE of the TAXII
page query. Prints one JSON line.

Arguments: N, BIG, number of lookups. Half the lookups are values of loaded objects (random over both
collections), half are values no object names.

* `index_query`: the bare indexed lookup, `IndicatorValue.objects.filter(value=…, kind=…)`.
* `platform_query`: `khien.intel.search.search_values(reader, value)`, what the intelligence search
  page and API run for one value: the indexed lookup limited to the versions the reader may see
  (tlp.visible_versions), the latest visible version of each hit, warning lists, names, collections.
"""
import os
import random
import sys
import time

from common import emit, percentile, setup_django

setup_django()

from django.db import connection  # noqa: E402

from khien.core.models import User  # noqa: E402
from khien.intel import search  # noqa: E402
from khien.intel.models import Collection, CollectionObject, IndicatorValue, StixObject  # noqa: E402

import taxii_data  # noqa: E402

BUDGET = float(os.environ.get("KHIEN_BENCH_TAXII_LOOKUP_BUDGET", "60"))


def figures(samples):
    ms = [s * 1000 for s in samples]
    return {"lookups": len(ms), "p50_ms": round(percentile(ms, 50), 3), "p95_ms": round(percentile(ms, 95), 3),
            "p99_ms": round(percentile(ms, 99), 3), "max_ms": round(max(ms), 3)}


def explain_page(reader, collection, where: str) -> str:
    """EXPLAIN ANALYZE of the query the TAXII objects endpoint runs for one page of 1,000 (limit + 1 rows):
    `taxii.views._scan` (entries joined to their versions, visibility and JSON text in the select list)
    from the start, the middle or 1,000 entries before the end of the collection."""
    from khien.intel.taxii import views

    position = None
    if where != "start":
        entries = CollectionObject.objects.filter(collection=collection).order_by("date_added", "pk")
        count = entries.count()
        position = entries.values_list("date_added", "pk")[count - 1000 if where == "end" else count // 2]
    qs = views._after(views._scan(reader, collection, {}, with_data=True), position)[:1001]
    with views._serial(qs.db):  # as the view runs it (no parallel workers)
        return qs.explain(analyze=True, buffers=True)


def main():
    n, big, count = (int(a) for a in sys.argv[1:])
    reader = User.objects.get(email="reader@bench-taxii.test.vn")
    total = n + big
    rng = random.Random(7)
    wanted = []
    for j in range(count):
        if j % 2 == 0:
            kind, value, _pattern = taxii_data.value_of(rng.randrange(total))
            wanted.append((kind, value, True))
        else:
            kind, value = taxii_data.miss_value(rng.randrange(10 ** 6))
            wanted.append((kind, value, False))

    for kind, value, _hit in wanted[:20]:  # warm-up (connection, compiled warning lists)
        search.search_values(reader, value)

    index, platform, wrong = [], [], 0
    for kind, value, hit in wanted:
        started = time.perf_counter()
        found = list(IndicatorValue.objects.filter(value=value, kind=kind).values_list("object_id", flat=True))
        index.append(time.perf_counter() - started)
        wrong += bool(found) != hit
    # The platform's search, within a time budget (it can take seconds a lookup on a large store).
    deadline = time.perf_counter() + BUDGET
    for kind, value, hit in wanted:
        if time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        groups = search.search_values(reader, value)
        platform.append(time.perf_counter() - started)
        wrong += bool(groups) != hit

    main_c = Collection.objects.get(alias="bench-taxii-main")
    result = {
        "indexed_values": IndicatorValue.objects.count(),
        "wrong_answers": wrong,
        "index_query": figures(index),
        "platform_query": {**figures(platform), "time_budget_s": BUDGET,
                           "stopped_by_budget": len(platform) < len(wanted)},
        "hits": sum(1 for w in wanted if w[2]),
        "_meta": {
            "identity_id": StixObject.objects.filter(collection_entries__collection=main_c)
            .values_list("created_by_ref", flat=True).first(),
            "base_added": CollectionObject.objects.filter(collection=main_c).order_by("date_added")
            .values_list("date_added", flat=True).first().isoformat(),
        },
    }
    # The plan of the platform search's main query for one value (khien.intel.search.search_values).
    kind, value, _hit = wanted[0]
    visible = search._apply_filters(search.tlp.visible_versions(reader), {}, reader)
    hits = IndicatorValue.objects.filter(value__in={value}, object__in=visible.values("pk")) \
        .values_list("kind", "value", "object__stix_id", "object_id")
    started = time.perf_counter()
    list(hits)
    result["search_hits_query"] = {
        "seconds": round(time.perf_counter() - started, 3),
        "plan": hits.explain(analyze=True) if connection.vendor == "postgresql" else hits.explain(),
    }
    if connection.vendor != "postgresql":
        collection = Collection.objects.filter(alias="bench-taxii-big").first() or main_c
        from khien.intel.taxii import views

        result["page_query_plan_sqlite"] = views._scan(reader, collection, {}, with_data=True)[:1001].explain()
    if connection.vendor == "postgresql":
        plans = {}
        for alias in ("bench-taxii-main", "bench-taxii-big"):
            collection = Collection.objects.filter(alias=alias).first()
            if collection is None:
                continue
            for where in ("start", "end"):
                plans[f"{alias}:{where}"] = explain_page(reader, collection, where)
        result["explain_page_query"] = plans
    emit(result)


if __name__ == "__main__":
    main()
