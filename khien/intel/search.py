"""Read-side queries for the intelligence pages: value search with provenance, related objects, sightings.

Nothing here decides visibility: every query starts from `tlp.visible_versions`
(or `tlp.collections_for` / `tlp.collection_content_q`), so a page shows
exactly what the REST API and TAXII would give the same user.

A value searched is recognised as one observable whatever its producers: the
same IP reported by three organizations is ONE result carrying three
provenance rows (producer, indicator, confidence, TLP, date, collections),
each row only when the user may see that indicator.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Max, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from . import indicator_status, services, tlp, warninglists
from khien.registry.models import Organization, OrgType

from .models import (
    CollectionObject,
    OBSERVABLE_TYPES,
    IndicatorKind,
    IndicatorValue,
    OrganizationIdentity,
    StixObject,
    Tlp,
    indicator_kind_label,
)

MAX_VALUE_GROUPS = 500
# A searched network also finds the addresses and smaller networks inside it: at most this many indexed
# values are read for it (one range read of the value index), the page says when the limit was reached.
MAX_INSIDE_ROWS = 5000
MAX_TEXT_RESULTS = 2000
HASH_KIND_BY_LENGTH = {length: kind for kind, length in services.HASH_LENGTHS.items()}


# --- What a query means ----------------------------------------------------------------------------


def candidates(query: str) -> list[tuple[str, str, str]]:
    """The indexed (kind, value) pairs a query may stand for, with why: "exact", "network" or "parent".

    An IP address also matches the CIDR indicators that contain it (every
    prefix of the address is a candidate, so the lookup stays on the index);
    a domain also matches the indicators of its parent domains.
    """
    text = (query or "").strip()
    if not text or len(text) > 2048:
        return []
    found: list[tuple[str, str, str]] = []
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
        else:
            net = ipaddress.ip_network(ipaddress.ip_address(text))
    except ValueError:
        net = None
    if net is not None:
        kind = IndicatorKind.IPV4 if net.version == 4 else IndicatorKind.IPV6
        if net.num_addresses == 1:
            found.append((kind, str(net.network_address), "exact"))
        else:
            found.append((IndicatorKind.CIDR, str(net), "exact"))
        for prefix in range(net.prefixlen - 1, 7, -1):
            found.append((IndicatorKind.CIDR, str(net.supernet(new_prefix=prefix)), "network"))
        return found
    lowered = text.lower()
    kind = HASH_KIND_BY_LENGTH.get(len(lowered))
    if kind and services.is_hash(kind, lowered):
        return [(kind, lowered, "exact")]
    if "://" in text:
        found.append((IndicatorKind.URL, text, "exact"))
        return found
    if "@" in text and " " not in text:
        return [(IndicatorKind.EMAIL, lowered, "exact")]
    domain = lowered.rstrip(".")
    if "." in domain and " " not in domain and "/" not in domain:
        found.append((IndicatorKind.DOMAIN, domain, "exact"))
        labels = domain.split(".")
        for i in range(1, len(labels) - 1):
            found.append((IndicatorKind.DOMAIN, ".".join(labels[i:]), "parent"))
    return found


def guess_kind(value: str) -> tuple[str, str] | None:
    """(kind, normalized value) of a value typed in a "check" box; None when it is of no known kind."""
    exact = [c for c in candidates(value) if c[2] == "exact"]
    if not exact:
        return None
    kind, normalized, _why = exact[0]
    if kind in warninglists.IP_KINDS or kind == IndicatorKind.DOMAIN:
        try:
            return kind, warninglists.normalize(kind, normalized)
        except Exception:  # a value shaped like a domain that the registry's rule refuses
            return None
    return kind, normalized


# --- Objects as the pages show them -----------------------------------------------------------------


def latest_versions(user, stix_ids) -> dict[str, StixObject]:
    """The latest visible version of each id (ids the user may not see are absent)."""
    stix_ids = list(dict.fromkeys(stix_ids))
    latest: dict[str, StixObject] = {}
    for start in range(0, len(stix_ids), 500):
        rows = (tlp.visible_versions(user).filter(stix_id__in=stix_ids[start:start + 500])
                .select_related("producer").order_by("stix_id", "-modified"))
        for row in rows:
            latest.setdefault(row.stix_id, row)
    return latest


def latest_visible(user, stix_id: str) -> StixObject | None:
    return (tlp.visible_versions(user).filter(stix_id=stix_id).select_related("producer")
            .order_by("-modified").first())


def identity_names(refs, user=None) -> dict[str, str]:
    """Display names of STIX identity ids: the platform organization's; else, for `user`, the name of the identity
    object itself (one an import or a partner brought) when the user may see it (`latest_versions`: its TLP);
    else the id itself."""
    refs = [r for r in set(refs) if r]
    names = {r: r for r in refs}
    for identity in OrganizationIdentity.objects.filter(stix_id__in=refs).select_related("organization"):
        names[identity.stix_id] = identity.organization.name
    others = [r for r in refs if names[r] == r and isinstance(r, str) and r.startswith("identity--")]
    if others and user is not None:
        for stix_id, obj in latest_versions(user, others).items():
            name = (obj.data or {}).get("name")
            if obj.stix_type == "identity" and isinstance(name, str) and name.strip():
                names[stix_id] = name.strip()
    return names


def collections_of(user, objects) -> dict[int, list]:
    """{object version pk: [collections holding it that the user may list]}."""
    pks = [o.pk for o in objects]
    out: dict[int, list] = {pk: [] for pk in pks}
    if not pks:
        return out
    listed = tlp.collections_for(user)
    for entry in (CollectionObject.objects.filter(object_id__in=pks, collection__in=listed)
                  .select_related("collection").order_by("collection__title")):
        out[entry.object_id].append(entry.collection)
    return out


def display_name(obj: StixObject) -> str:
    data = obj.data or {}
    for key in ("name", "value", "pattern"):
        if isinstance(data.get(key), str) and data[key]:
            return data[key]
    if obj.stix_type == "relationship":
        return f"{data.get('source_ref', '')} {data.get('relationship_type', '')} {data.get('target_ref', '')}"
    return obj.stix_id


@dataclass
class Provenance:
    obj: StixObject
    why: str                      # exact / network / parent
    matched: str                  # the indexed value that matched
    matched_kind: str
    creator: str = ""
    collections: list = field(default_factory=list)


@dataclass
class ValueGroup:
    kind: str
    value: str
    why: str
    rows: list[Provenance] = field(default_factory=list)
    warninglists: list[str] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return indicator_kind_label(self.kind)

    @property
    def producers(self) -> int:
        return len({r.obj.producer_id for r in self.rows})


def visible_producers(user):
    """The organizations that produced objects the user can see, for the producer filter (one query). Identities
    and marking definitions do not count: every platform organization's identity is public (TLP:CLEAR), and an
    organization whose only object the user sees is its identity has nothing to filter by."""
    produced = (tlp.visible_versions(user).exclude(stix_type__in=("identity", "marking-definition"))
                .order_by().values("producer_id").distinct())
    return Organization.objects.filter(pk__in=produced).order_by("code")


def _apply_filters(qs, filters: dict, user):
    if not filters:
        return qs
    if filters.get("type"):
        qs = qs.filter(stix_type=filters["type"])
    if filters.get("tlp"):
        qs = qs.filter(tlp=filters["tlp"])
    if filters.get("producer") is not None:
        qs = qs.filter(producer=filters["producer"])
    if filters.get("collection") is not None:
        content = tlp.collection_content_q(user, filters["collection"])
        if content is None:
            return qs.none()
        qs = qs.filter(collection_entries__collection=filters["collection"]).filter(content)
    if filters.get("added_after"):
        qs = qs.filter(date_added__date__gte=filters["added_after"])
    if filters.get("added_before"):
        qs = qs.filter(date_added__date__lte=filters["added_before"])
    if filters.get("status"):  # the object's status: its latest version's (indicator_status)
        qs = qs.filter(indicator_status.current_status_q(filters["status"], timezone.now()))
    return qs.distinct()


def searched_network(query: str):
    """The IP network a query names when it is a CIDR range of more than one address, else None."""
    text = (query or "").strip()
    if "/" not in text:
        return None
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return net if net.num_addresses > 1 else None


def _text_prefix(net) -> str | None:
    """The text that every indexed address or network inside `net` begins with (values are stored in their
    normal form: dotted IPv4, compressed IPv6): the whole octets of an IPv4 prefix, the leading non-zero
    hextets of an IPv6 one (a zero hextet may be written "::"). None when that is nothing (a network wider
    than /8, or an IPv6 prefix starting with a zero hextet): too wide to look inside."""
    if net.version == 4:
        octets = str(net.network_address).split(".")[:net.prefixlen // 8]
        return ".".join(octets) + "." if octets else None
    lead = []
    for hextet in net.network_address.exploded.split(":")[:net.prefixlen // 16]:
        if int(hextet, 16) == 0:
            break
        lead.append(format(int(hextet, 16), "x"))
    return ":".join(lead) + ":" if lead else None


def inside_rows(net) -> tuple[list[tuple[str, str, str, int]], bool]:
    """([(kind, value, stix_id, object pk)] of the indexed addresses and networks strictly inside `net`,
    whether some may be missing: the MAX_INSIDE_ROWS bound cut the read, or the network is too wide to look
    inside at all)."""
    prefix = _text_prefix(net)
    if prefix is None:
        return [], True
    address_kind = IndicatorKind.IPV4 if net.version == 4 else IndicatorKind.IPV6
    qs = IndicatorValue.objects.filter(kind__in=[address_kind, IndicatorKind.CIDR], value__startswith=prefix)
    if connection.vendor == "sqlite":
        # SQLite's LIKE ignores the index; the same prefix as a range reads just that slice of it (byte order:
        # the character after the prefix's last one, "." or ":", bounds it)
        qs = qs.filter(value__gte=prefix, value__lt=prefix[:-1] + chr(ord(prefix[-1]) + 1))
    rows = list(qs.order_by("value", "kind", "object_id")
                .values_list("kind", "value", "object__stix_id", "object_id")[:MAX_INSIDE_ROWS + 1])
    truncated = len(rows) > MAX_INSIDE_ROWS
    found = []
    for kind, value, stix_id, pk in rows[:MAX_INSIDE_ROWS]:
        try:
            inner = ipaddress.ip_network(value, strict=False)
        except ValueError:
            continue
        if inner.version == net.version and inner != net and inner.subnet_of(net):
            found.append((kind, value, stix_id, pk))
    return found, truncated


# The URL indicators on a searched domain: the starts their normal forms share ("https://evil.top/…",
# "http://evil.top:8080/…", "https://evil.top?…"), each read as one range of the value index, at most this many rows.
URL_SCHEMES = ("http", "https")
URL_AFTER_HOST = ("/", ":", "?")
MAX_URL_ROWS = 1000


def url_rows(domain: str) -> tuple[list[tuple[str, str, str, int]], bool]:
    """([(kind, value, stix_id, object pk)] of the URL indicators whose host is `domain`, whether the bound cut
    the read). Prefix reads of the (value, kind) index, never a scan of every URL: a URL on a subdomain
    (login.evil.top for evil.top) is found by searching that subdomain."""
    exact = [f"{scheme}://{domain}" for scheme in URL_SCHEMES]
    query = IndicatorValue.objects.filter(value__in=exact, kind=IndicatorKind.URL)
    rows = list(query.values_list("kind", "value", "object__stix_id", "object_id")[:MAX_URL_ROWS + 1])
    for scheme in URL_SCHEMES:
        for after in URL_AFTER_HOST:
            if len(rows) > MAX_URL_ROWS:
                break
            prefix = f"{scheme}://{domain}{after}"
            qs = IndicatorValue.objects.filter(value__startswith=prefix, kind=IndicatorKind.URL)
            if connection.vendor == "sqlite":  # as in `inside_rows`: a range reads the slice of the index
                qs = qs.filter(value__gte=prefix, value__lt=prefix[:-1] + chr(ord(prefix[-1]) + 1))
            rows += list(qs.order_by("value", "kind", "object_id")
                         .values_list("kind", "value", "object__stix_id", "object_id")[:MAX_URL_ROWS + 1 - len(rows)])
    return rows[:MAX_URL_ROWS], len(rows) > MAX_URL_ROWS


class ValueGroups(list):
    """The groups of a value search; `truncated`: a searched network held more values than were read."""

    truncated = False


@dataclass
class ValueMatches:
    """What `value_matches` found: the index rows (kind, value, stix id, object pk), why each (kind, value)
    matched, and whether a searched network held more values than were read."""

    rows: list = field(default_factory=list)
    why_of: dict = field(default_factory=dict)
    truncated: bool = False


def value_matches(query: str, *, urls: bool = False) -> ValueMatches:
    """The indexed observable values a searched value matches — the one rule of the search page and of the
    REST API (`value` filter, value provenance): the value itself ("exact"); for an address, the networks that
    contain it ("network"); for a network, the addresses and networks inside it ("inside"); for a domain, its
    parent domains ("parent"); with `urls`, for a domain, the URL indicators on it too ("url", `url_rows`).
    Visibility is not decided here: the caller narrows to what the user may see."""
    wanted = candidates(query)
    found = ValueMatches()
    if not wanted:
        return found
    found.why_of = {(k, v): why for k, v, why in wanted}
    # The value index first (a handful of rows), then visibility on just those objects: asked the other
    # way round, SQLite walks every visible object before it looks the value up (seconds at a million).
    found.rows = [row for row in IndicatorValue.objects.filter(value__in={v for _k, v, _w in wanted})
                  .values_list("kind", "value", "object__stix_id", "object_id") if (row[0], row[1]) in found.why_of]
    net = searched_network(query)
    if net is not None:
        inside, found.truncated = inside_rows(net)
        for kind, value, _stix_id, _pk in inside:
            found.why_of.setdefault((kind, value), "inside")
        found.rows.extend(inside)
    domain = next((v for k, v, why in wanted if k == IndicatorKind.DOMAIN and why == "exact"), None)
    if urls and domain:
        on_domain, _cut = url_rows(domain)  # beyond the bound: the page's own limit of values shown is lower
        for kind, value, _stix_id, _pk in on_domain:
            found.why_of.setdefault((kind, value), "url")
        found.rows.extend(on_domain)
    return found


def search_values(user, query: str, filters: dict | None = None) -> ValueGroups:
    """The observable values a query matches (`value_matches`), each once, with every visible indicator that
    names it."""
    out = ValueGroups()
    matches = value_matches(query, urls=True)
    if not matches.rows:
        out.truncated = matches.truncated
        return out
    rows, why_of, out.truncated = matches.rows, matches.why_of, matches.truncated
    visible = set()
    base = _apply_filters(tlp.visible_versions(user), filters or {}, user)
    pks = list({pk for *_rest, pk in rows})
    for start in range(0, len(pks), 500):
        visible.update(base.filter(pk__in=pks[start:start + 500]).values_list("pk", flat=True))
    hits = [row for row in rows if row[3] in visible]
    by_value: dict[tuple[str, str], set[str]] = {}
    for kind, value, stix_id, _pk in hits:
        if (kind, value) in why_of:
            by_value.setdefault((kind, value), set()).add(stix_id)
    latest = latest_versions(user, {i for ids in by_value.values() for i in ids})
    # only the latest visible version counts: an indicator whose newest version no longer names the value drops
    current = set(IndicatorValue.objects.filter(object_id__in=[o.pk for o in latest.values()])
                  .values_list("object__stix_id", "kind", "value"))
    groups: list[ValueGroup] = []
    lists = warninglists.compiled()
    all_objects = []
    order = {"exact": 0, "url": 1, "inside": 2, "network": 3, "parent": 4}
    for (kind, value), ids in sorted(by_value.items(), key=lambda kv: (order[why_of[kv[0]]], kv[0][1])):
        group = ValueGroup(kind=kind, value=value, why=why_of[(kind, value)],
                           warninglists=warninglists.hits(kind, value, lists))
        for stix_id in ids:
            obj = latest.get(stix_id)
            if obj is None or (stix_id, kind, value) not in current:
                continue
            if filters and not _apply_filters(StixObject.objects.filter(pk=obj.pk), filters, user).exists():
                continue
            group.rows.append(Provenance(obj=obj, why=group.why, matched=value, matched_kind=kind))
            all_objects.append(obj)
        if group.rows:
            group.rows.sort(key=lambda r: (-(r.obj.confidence or -1), -r.obj.date_added.timestamp()))
            groups.append(group)
        if len(groups) >= MAX_VALUE_GROUPS:
            break
    names = identity_names((o.created_by_ref for o in all_objects), user)
    colls = collections_of(user, all_objects)
    for group in groups:
        for row in group.rows:
            row.creator = names.get(row.obj.created_by_ref, "")
            row.collections = colls.get(row.obj.pk, [])
    out.extend(groups)
    return out


# Left out of object lists unless a type filter asks for them: relationships and sightings are shown
# on the pages of the objects they link, identities name producers.
BACKGROUND_TYPES = ("identity", "marking-definition", "extension-definition", "language-content",
                    "relationship", "sighting")
# Left out of a collection's "recently added" list (a MISP event brings an observed-data and several observables
# for each attribute, which would push its indicators and reports out of the list); the search shows them.
OBSERVED_TYPES = ("observed-data", *OBSERVABLE_TYPES)


def search_objects(user, query: str = "", filters: dict | None = None):
    """A queryset of (stix_id, last date added) of the visible objects matching a text, newest first.

    `query` is matched as a substring of the name, description or labels (or the id itself).
    Background objects (identities, relationships, sightings…) are left out unless a type filter asks for them.
    Paginate it, then `latest_versions` of the page's ids.
    """
    qs = _apply_filters(tlp.visible_versions(user), filters or {}, user)
    if not (filters or {}).get("type"):
        qs = qs.exclude(stix_type__in=BACKGROUND_TYPES)
    text = (query or "").strip()
    if text:
        qs = qs.filter(Q(data__name__icontains=text) | Q(data__description__icontains=text) | Q(stix_id=text)
                       | Q(labels__icontains=text))
    return (qs.order_by().values("stix_id").annotate(last=Max("date_added")).order_by("-last", "stix_id"))


# --- Detail: relationships, sightings, reports ----------------------------------------------------


def _latest_of_type(user, stix_type: str, condition: Q) -> list[StixObject]:
    rows = (tlp.visible_versions(user).filter(stix_type=stix_type).filter(condition)
            .order_by("stix_id", "-modified").select_related("producer"))
    latest: dict[str, StixObject] = {}
    for row in rows[:5000]:
        latest.setdefault(row.stix_id, row)
    return list(latest.values())


def relationships(user, stix_id: str) -> list[dict]:
    """The visible relationships whose source or target is this object, when the other end is visible too."""
    rels = _latest_of_type(user, "relationship", Q(data__source_ref=stix_id) | Q(data__target_ref=stix_id))
    rels = [r for r in rels if (r.data.get("source_ref") == stix_id) != (r.data.get("target_ref") == stix_id)
            or r.data.get("source_ref") == r.data.get("target_ref") == stix_id]
    others = {r.data.get("target_ref") if r.data.get("source_ref") == stix_id else r.data.get("source_ref")
              for r in rels}
    visible_others = latest_versions(user, [o for o in others if isinstance(o, str)])
    out = []
    for rel in sorted(rels, key=lambda r: (r.data.get("relationship_type", ""), r.stix_id)):
        outgoing = rel.data.get("source_ref") == stix_id
        other_id = rel.data.get("target_ref") if outgoing else rel.data.get("source_ref")
        other = visible_others.get(other_id)
        if other is None:
            continue
        out.append({"rel": rel, "type": rel.data.get("relationship_type", ""), "outgoing": outgoing,
                    "other": other, "other_name": display_name(other)})
    return out


def sightings(user, stix_id: str) -> dict:
    """The visible sightings of this object: count, first and last seen, where sighted."""
    rows = _latest_of_type(user, "sighting", Q(data__sighting_of_ref=stix_id))
    total = 0
    first, last = None, None
    where: list[str] = []
    for row in rows:
        count = row.data.get("count")
        total += count if isinstance(count, int) and count >= 0 else 1
        for key in ("first_seen", "last_seen"):
            when = services.parse_timestamp(row.data.get(key))
            if when is not None and services.in_range(when):  # a date no time zone can show is left out
                first = when if first is None or when < first else first
                last = when if last is None or when > last else last
        for ref in row.data.get("where_sighted_refs") or ():
            if isinstance(ref, str) and ref not in where:
                where.append(ref)
    names = identity_names(where, user)
    return {"rows": sorted(rows, key=lambda r: r.modified, reverse=True), "count": total, "first_seen": first,
            "last_seen": last, "where": [names.get(ref, ref) for ref in where]}


def reports_citing(user, stix_id: str) -> list[StixObject]:
    """Visible reports (and groupings) whose `object_refs` name this object."""
    found = []
    for stix_type in ("report", "grouping"):
        for row in _latest_of_type(user, stix_type, Q(data__object_refs__icontains=f'"{stix_id}"')
                                   | Q(data__object_refs__icontains=stix_id)):
            if stix_id in (row.data.get("object_refs") or ()):
                found.append(row)
    return sorted(found, key=lambda r: r.modified, reverse=True)


def value_flags(obj: StixObject) -> list[dict]:
    """The observable values of an indicator version, each with the warning lists it hits."""
    lists = warninglists.compiled()
    return [warninglists.flag(kind, value, lists) | {"kind_label": IndicatorKind(kind).label}
            for kind, value in obj.indicator_values.order_by("kind", "value").values_list("kind", "value")]


def flagged_object_ids(objects) -> set[int]:
    """The versions among `objects` with at least one indicator value on a warning list."""
    pks = [o.pk for o in objects]
    lists = warninglists.compiled()
    flagged = set()
    for pk, kind, value in IndicatorValue.objects.filter(object_id__in=pks).values_list("object_id", "kind", "value"):
        if pk not in flagged and warninglists.hits(kind, value, lists):
            flagged.add(pk)
    return flagged


# --- Overview ---------------------------------------------------------------------------------------


def overview(user, weeks: int = 12) -> dict:
    """Counts of the visible objects by type and TLP (with how many of them are background objects, which the
    object list leaves out), and the objects added per week (last `weeks` weeks)."""
    visible = tlp.visible_versions(user).order_by()
    by_type = list(visible.values("stix_type").annotate(n=Count("stix_id", distinct=True)).order_by("-n", "stix_type"))
    by_tlp = {row["tlp"]: row["n"] for row in visible.values("tlp").annotate(n=Count("stix_id", distinct=True))}
    today = timezone.localdate()
    start_day = today - dt.timedelta(days=today.weekday()) - dt.timedelta(weeks=weeks - 1)
    start = timezone.make_aware(dt.datetime.combine(start_day, dt.time.min))
    per_week = {}
    for row in (visible.filter(date_added__gte=start).annotate(week=TruncWeek("date_added"))
                .values("week").annotate(n=Count("pk"))):
        week = row["week"]
        if isinstance(week, dt.datetime):
            week = timezone.localtime(week).date() if timezone.is_aware(week) else week.date()
        per_week[week] = per_week.get(week, 0) + row["n"]
    labels, values = [], []
    for i in range(weeks):
        day = start_day + dt.timedelta(weeks=i)
        labels.append(day.strftime("%d/%m"))
        values.append(per_week.get(day, 0))
    # relationships, identities, sightings…: counted in the total, left out of the object list (`search_objects`)
    background = sum(r["n"] for r in by_type if r["stix_type"] in BACKGROUND_TYPES)
    return {"by_type": by_type, "by_tlp": by_tlp, "total": sum(r["n"] for r in by_type), "background": background,
            "weeks": {"labels": labels, "values": values}}


# --- Who will see a version (the create forms) -------------------------------------------------------


@dataclass
class Audience:
    level: str
    total: int                              # organizations that will see it
    everyone: bool                          # every organization (CLEAR, GREEN)
    anonymous: bool                         # and anonymous callers (a public CLEAR feed)
    by_type: list = field(default_factory=list)  # [(org type label, count)], largest first
    producer: Organization | None = None
    stricter: int = 0                       # objects it names (a report's) shared under a stricter TLP


def stricter_objects(user, refs, level: str) -> int:
    """How many of the objects `refs` (their newest versions the user sees) are shared under a stricter TLP than
    `level`: a report at `level` naming them is read by organizations that will not see them."""
    if level not in tlp.RESTRICTIVENESS:
        return 0
    rank = tlp.RESTRICTIVENESS.index(level)
    return sum(1 for obj in latest_versions(user, [r for r in refs if isinstance(r, str)][:2000]).values()
               if obj.tlp in tlp.RESTRICTIVENESS and tlp.RESTRICTIVENESS.index(obj.tlp) > rank)


def audience(user, collection, level: str, recipients=(), refs=()) -> Audience:
    """The organizations that will see a version the user stores in `collection` under TLP `level` (naming
    `recipients` for TLP:RED): counted by the TLP table itself (`tlp.audience_q`), with the producer the
    service will record (`services.producer_for`); with `refs` (the objects a report names), how many of them are
    shared more strictly (`stricter_objects`). Only for a collection the user may write (the caller checks)."""
    producer_id = services.producer_for(user, collection)
    recipient_ids = [getattr(r, "pk", r) for r in recipients] if level == Tlp.RED else []
    q = tlp.audience_q(level, producer_ids=[producer_id] if producer_id else [], collections=[collection],
                       recipient_ids=recipient_ids)
    orgs = Organization.objects.filter(q)
    labels = dict(OrgType.choices)
    by_type = sorted(((str(labels.get(row["org_type"], row["org_type"])), row["n"])
                      for row in orgs.order_by().values("org_type").annotate(n=Count("pk"))),
                     key=lambda item: (-item[1], item[0]))
    return Audience(level=level, total=sum(n for _label, n in by_type), everyone=not q,
                    anonymous=tlp.anonymous_audience(level, [collection]), by_type=by_type,
                    producer=Organization.objects.filter(pk=producer_id).first() if producer_id else None,
                    stricter=stricter_objects(user, refs, level) if refs else 0)
