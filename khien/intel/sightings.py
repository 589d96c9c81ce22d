"""STIX 2.1 sightings of indicators, recorded from telemetry hits.

One `sighting` object per (indicator, sighted organization, UTC day), with a
deterministic id (so re-running adds a new VERSION with a larger `count`, never
a duplicate object): `sighting_of_ref` is the indicator, `where_sighted_refs`
and `created_by_ref` the identity of the organization whose SOC saw it,
`count`, `first_seen`, `last_seen` cover that day.

Stored with `services.do_add_objects` in the national collection (the
`national` collection owned by the coordinator's organization; the oldest one
when several exist), marked TLP:AMBER+STRICT. Why AMBER+STRICT: a sighting
says "organization X was hit by this indicator" — a fact about X's security
that must not reach the other readers of the national collection (TLP:AMBER
would show it to every organization that reads that collection). Under
AMBER+STRICT only two organizations see it: the producer — set to the sighted
organization, whose SOC produced the observation — and the owner of the
collection holding it, the national coordinator (see tlp.py).
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from django.db import transaction
from django.db.models import Count, Max, Min

from khien.core.roles import Role

from . import services, tlp
from .models import Collection, CollectionKind, StixObject, Tlp, identity_id_for

SIGHTING_NAMESPACE = uuid.UUID("6f1b1d5e-3c0a-4a53-9d4f-6b68696e0002")


def sighting_id(indicator_id: str, organization_id, day: dt.date) -> str:
    """Deterministic id of the sighting of one indicator by one organization on one UTC day.

    uuid5 of the three, with the version bits set to 4 (STIX asks for UUIDv4 in SDO/SRO ids).
    """
    digest = uuid.uuid5(SIGHTING_NAMESPACE, f"{indicator_id}|{organization_id}|{day.isoformat()}")
    return f"sighting--{uuid.UUID(bytes=digest.bytes, version=4)}"


def national_collection() -> Collection | None:
    return Collection.objects.filter(kind=CollectionKind.NATIONAL).order_by("created", "pk").first()


class PlatformJob:
    """Who a platform job acts as when no person triggered it: not a user, and not recorded as one.

    It acts for the collection's owner organization with the role of a national coordinator there (the national
    collection belongs to the coordinator's organization), so the one rights check of the services
    (`tlp.can_write_collection`, `producer_for`) passes as it would for that organization's coordinator; but it has
    no id and no e-mail, so the audit log records no actor — "—" on the log page, empty `actor_id` and
    `actor_email` in the audit API, as the correlation job's entries — while the entry still names the collection
    and its organization. It does not depend on any person holding the coordinator role either.
    """

    pk = None
    id = None
    email = ""
    username = ""
    is_active = True
    is_authenticated = True
    is_anonymous = False
    is_superuser = False
    is_staff = False

    def __init__(self, collection: Collection):
        owner = collection.owner
        # What `khien.core.scoping.memberships_of` reads: (role, organization path, organization id).
        self._khien_memberships = ((Role.NATIONAL_COORDINATOR, owner.path, owner.pk),)

    def __str__(self) -> str:
        return "telemetry.sightings"


def _stamp(value: dt.datetime) -> str:
    return services.format_timestamp(value.replace(microsecond=value.microsecond // 1000 * 1000))


def sighting_object(item: dict, now: dt.datetime) -> dict:
    day = item["day"]
    created = dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.timezone.utc)
    identity = identity_id_for(item["organization_id"])
    first_seen = max(item["first_seen"], created)
    last_seen = max(item["last_seen"], first_seen)
    return {
        "type": "sighting",
        "spec_version": "2.1",
        "id": sighting_id(item["indicator_id"], item["organization_id"], day),
        "created": _stamp(created),
        "modified": _stamp(max(now, created)),
        "created_by_ref": identity,
        "sighting_of_ref": item["indicator_id"],
        "where_sighted_refs": [identity],
        "count": min(int(item["count"]), 999_999_999),
        "first_seen": _stamp(first_seen),
        "last_seen": _stamp(last_seen),
        "object_marking_refs": [tlp.TLP_MARKING[Tlp.AMBER_STRICT]],
    }


def do_record_sightings(items, *, acting_user=None, now: dt.datetime | None = None) -> int:
    """Store (a new version of) the sighting of each item; returns how many sightings were written.

    `items`: dicts with indicator_id, organization_id, day (UTC date), count,
    first_seen, last_seen — the totals of that day so far. Nothing is written
    when there is no national collection (returns 0). Without `acting_user` (the worker's job) the platform
    writes them (`PlatformJob`): the audit log names no person.
    """
    from django.utils import timezone

    items = list(items)
    if not items:
        return 0
    collection = national_collection()
    if collection is None:
        return 0
    actor = acting_user or PlatformJob(collection)
    now = now or timezone.now()
    objects = [sighting_object(item, now) for item in items]
    by_org = defaultdict(list)
    for item, obj in zip(items, objects):
        by_org[item["organization_id"]].append(obj["id"])
    with transaction.atomic():
        services.ensure_identities(list(by_org))
        # New versions of sightings the platform made for (and in the name of) the sighted organizations.
        services.do_add_objects(collection, objects, acting_user=actor, platform_versions=True)
        # The sighted organization is the producer (its SOC saw it); see the module docstring.
        for org_id, ids in by_org.items():
            StixObject.objects.filter(stix_type="sighting", stix_id__in=ids).exclude(producer_id=org_id) \
                .update(producer_id=org_id)
    return len(objects)


def daily_totals(hit_model, keys) -> list[dict]:
    """For (indicator_id, organization_id, day) keys, the day's totals over all hits of `hit_model`."""
    days = defaultdict(set)
    for indicator_id, org_id, day in keys:
        days[day].add((indicator_id, org_id))
    out = []
    for day, pairs in days.items():
        start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.timezone.utc)
        rows = (hit_model.objects.filter(time__gte=start, time__lt=start + dt.timedelta(days=1),
                                         indicator_id__in={p[0] for p in pairs},
                                         organization_id__in={p[1] for p in pairs})
                .values("indicator_id", "organization_id")
                .annotate(count=Count("event_id", distinct=True), first_seen=Min("time"), last_seen=Max("time")))
        for row in rows:
            if (row["indicator_id"], row["organization_id"]) in pairs:
                out.append({**row, "day": day})
    return out



# --- A sighting recorded by hand ---------------------------------------------------------------------------

MAX_SIGHTING_COUNT = 999_999_999
# A device clock a little ahead is not a reason to refuse what a person saw "now".
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


def do_record_sighting(indicator_id: str, data: dict, *, acting_user) -> StixObject:
    """Record that the acting user's organization saw an indicator ("seen here", as MISP's sighting button): a STIX
    sighting of it, created by and sighted at that organization, stored in `data["collection"]` (one the user may
    write) under `data["tlp"]`. `data`: collection, tlp (not RED: a sighting names no recipients), count (1 by
    default), first_seen and last_seen (now by default), description. Telemetry records the sightings of SOC hits
    itself (`do_record_sightings`); this is for what a person found another way (an investigation, a scan).
    Refuses an indicator the user may not see (404), a revoked one (409), times in the wrong order or ahead."""
    from django.utils import timezone
    from django.utils.translation import gettext as _

    from khien.core.errors import Refused

    indicator = (tlp.visible_versions(acting_user).filter(stix_id=indicator_id, stix_type="indicator")
                 .order_by("-modified").first())
    if indicator is None:
        raise Refused(_("No such indicator."), code="not_found", status=404)
    if indicator.revoked:
        raise Refused(_("This indicator was revoked: a sighting of it is no longer recorded."), code="revoked",
                      status=409)
    level = data.get("tlp") or Tlp.AMBER_STRICT
    if level not in Tlp.values or level == Tlp.RED:
        raise Refused(_("Choose TLP:CLEAR, GREEN, AMBER or AMBER+STRICT for a sighting."), code="invalid")
    now = timezone.now()
    last_seen = data.get("last_seen") or now
    first_seen = data.get("first_seen") or last_seen
    if last_seen > now + FUTURE_TOLERANCE:
        raise Refused(_("The last sighting cannot be in the future."), code="invalid")
    if first_seen > last_seen:
        raise Refused(_("The first sighting must come before the last."), code="invalid")
    if not (services.in_range(first_seen) and services.in_range(last_seen)):
        raise Refused(services.out_of_range_message(), code="out_of_range")
    count = data.get("count") or 1
    if not isinstance(count, int) or not 1 <= count <= MAX_SIGHTING_COUNT:
        raise Refused(_("The number of times seen must be between 1 and %(max)s.") % {"max": MAX_SIGHTING_COUNT},
                      code="invalid")
    collection = data["collection"]
    producer_id = services.producer_for(acting_user, collection)
    if producer_id is None:
        raise Refused(_("You belong to no organization that could have seen it."), code="forbidden", status=403)
    identity = identity_id_for(producer_id)
    stamp = _stamp(now)
    sighting = {
        "type": "sighting", "spec_version": "2.1", "id": f"sighting--{uuid.uuid4()}",
        "created": stamp, "modified": stamp, "created_by_ref": identity,
        "sighting_of_ref": indicator.stix_id, "where_sighted_refs": [identity], "count": count,
        "first_seen": _stamp(first_seen), "last_seen": _stamp(last_seen),
        "object_marking_refs": [tlp.TLP_MARKING[level]],
    }
    if (data.get("description") or "").strip():
        sighting["description"] = data["description"].strip()
    with transaction.atomic():
        services.ensure_identities([producer_id])
        services.do_add_objects(collection, [sighting], acting_user=acting_user)
    return StixObject.objects.get(stix_id=sighting["id"])
