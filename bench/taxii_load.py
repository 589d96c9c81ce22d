"""bench/taxii, step 1 (own subprocess, database chosen by the environment): the bench's organizations,
users, collections and objects. Prints one JSON line: the reader's credentials and the collections.

Arguments: N (main collection), BIG (big collection), then the sizes of the small collections
(the first objects of the main collection, for the same-size comparison with medallion).

Set-up through the platform's services (collections, membership, API token); objects through the
bench-only bulk loader of taxii_data.py.
"""
import datetime as dt
import sys
import time

from common import emit, setup_django

setup_django()

from khien.core import services as core_services  # noqa: E402
from khien.core.models import User  # noqa: E402
from khien.core.roles import Role  # noqa: E402
from khien.intel import services  # noqa: E402
from khien.intel.models import CollectionObject, identity_id_for  # noqa: E402
from khien.registry.models import Membership, Organization  # noqa: E402

import taxii_data  # noqa: E402


def log(message):
    print(f"bench/taxii load: {message}", file=sys.stderr, flush=True)


def org(code, org_type):
    found = Organization.objects.filter(code=code).first()
    if found:
        return found
    o = Organization(code=code, name_vi=f"Tổ chức {code}", name_en=f"Organization {code}", org_type=org_type)
    o.path = o.compute_path()
    o.save()  # bench fixture (as khien/conftest.py makes its organizations)
    return o


def user(email, organization, role):
    found = User.objects.filter(email=email).first()
    if found:
        return found
    u = User.objects.create_user(email=email, password=None, full_name=email.split("@")[0])
    Membership.objects.create(user=u, organization=organization, role=role)
    return u


def cursors(collection, count: int) -> dict:
    """Signed `next` values that start a walk in the middle and 50 pages before the end of a collection,
    made as the TAXII objects endpoint makes them (what a client holds after paging that far)."""
    from types import SimpleNamespace

    from khien.intel.taxii import views

    entries = CollectionObject.objects.filter(collection=collection).order_by("date_added", "pk")
    out = {}
    for name, position in (("middle", count // 2), ("end", max(count - 50 * 1000, 1))):
        when, pk = entries.values_list("date_added", "pk")[position - 1]
        out[name] = {"position": position, "next": views._cursor_out(
            "objects", collection, {}, SimpleNamespace(date_added=when, pk=pk))}
    return out


def main():
    n, big, *small = (int(a) for a in sys.argv[1:])
    producer = org("BENCH-TAXII-PROD", "ministry")
    reader_org = org("BENCH-TAXII-READ", "province")
    admin = user("admin@bench-taxii.test.vn", producer, Role.ORG_ADMIN)
    reader = user("reader@bench-taxii.test.vn", reader_org, Role.ORG_ANALYST)
    identity_id = identity_id_for(producer.pk)
    services.ensure_identities([producer.pk])

    def collection(title, alias):
        c = services.do_create_collection({"title": title, "owner": producer, "kind": "group", "alias": alias},
                                          acting_user=admin)
        services.do_set_collection_member(c, reader_org, can_read=True, can_write=False, acting_user=admin)
        return c

    base_added = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=30)
    result = {"identity_id": identity_id, "base_added": base_added.isoformat(), "collections": {}}

    main_c = collection(f"Bench {n:,}", "bench-taxii-main")
    log(f"loading {n:,} objects into the main collection…")
    result["load_main"] = taxii_data.bulk_load(main_c, producer.pk, identity_id, 0, n, base_added, progress=log)
    result["collections"]["main"] = str(main_c.pk)

    entries = list(CollectionObject.objects.filter(collection=main_c).order_by("date_added", "pk")
                   .values_list("object_id", "date_added")[:max(small, default=0)])
    for size in small:
        c = collection(f"Bench {size:,}", f"bench-taxii-{size}")
        taxii_data.add_entries(c, [e[0] for e in entries[:size]], [e[1] for e in entries[:size]])
        result["collections"][f"small_{size}"] = str(c.pk)

    if big:
        big_c = collection(f"Bench {big:,}", "bench-taxii-big")
        log(f"loading {big:,} objects into the big collection…")
        result["load_big"] = taxii_data.bulk_load(big_c, producer.pk, identity_id, n, big,
                                                  base_added + dt.timedelta(days=1), progress=log)
        result["collections"]["big"] = str(big_c.pk)
        result["big_cursors"] = cursors(big_c, big)

    started = time.perf_counter()
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    result["analyze_seconds"] = round(time.perf_counter() - started, 1)

    _token, key = core_services.do_create_api_token(reader, acting_user=reader, name="bench taxii")
    result["reader"] = {"email": reader.email, "token": key}
    emit(result)


if __name__ == "__main__":
    main()
