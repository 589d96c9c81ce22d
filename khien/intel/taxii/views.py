"""TAXII 2.1 server (OASIS TAXII 2.1, sections 4 and 5): discovery, one API root, collections,
objects, manifest, versions and status.

Thin views: visibility comes from `khien.intel.tlp`, writes go through
`khien.intel.services`. Every answer is `application/taxii+json;version=2.1`;
every error is a TAXII error object. Paging cursors (`next`) are signed and
carry the position (date added, row id) and the filters, so any server
process can continue any client's paging.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps

import orjson
from django.conf import settings
from django.core import signing
from django.core.exceptions import RequestDataTooBig
from django.db import connections, transaction
from django.db.models import BooleanField, Case, Exists, ExpressionWrapper, OuterRef, Q, TextField, Value, When
from django.db.models.functions import Cast, Coalesce
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from khien.core.api.authentication import user_for_key
from khien.core.errors import Forbidden, Refused

from .. import services, tlp
from ..models import UNVERSIONED, Collection, CollectionObject, TaxiiStatus

TAXII_MEDIA = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
CURSOR_SALT = "khien.intel.taxii.next"


class TaxiiError(Exception):
    def __init__(self, status: int, title, description="", details=None):
        super().__init__(title)
        self.status, self.title, self.description, self.details = status, title, description, details


def _json(body, status=200, headers=None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type=TAXII_MEDIA)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _error(exc: TaxiiError) -> HttpResponse:
    body = {"title": str(exc.title), "description": str(exc.description), "http_status": str(exc.status)}
    if exc.details:
        body["details"] = exc.details
    headers = {"WWW-Authenticate": 'Basic realm="Khien TAXII", charset="UTF-8"'} if exc.status == 401 else None
    return _json(body, exc.status, headers)


def error_answer(status: int, title) -> HttpResponse:
    """A TAXII error for what Django answers before any TAXII view (an address no view takes)."""
    return _error(TaxiiError(status, title))


# --- Media types and authentication ------------------------------------------------------------


def _media_ok(value: str, main: str) -> bool:
    """Is one of the comma-separated media types `main` with version 2.1 (or no version)?"""
    for item in value.split(","):
        parts = [p.strip().lower() for p in item.split(";")]
        if parts[0] != main:
            continue
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if params.get("version", "2.1").strip('"') == "2.1":
            return True
    return False


def _authenticate(request):
    """The user of a Basic (e-mail + API token) or Token header; None without credentials; 401 when wrong."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _sep, credentials = header.partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    user = None
    if scheme == "basic":
        try:
            email, _colon, key = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            email, key = "", ""
        if email and key:
            user, _token = user_for_key(key)
            if user is not None and user.email.lower() != email.strip().lower():
                user = None
    elif scheme == "token" and credentials:
        user, _token = user_for_key(credentials)
    if user is None:
        raise TaxiiError(401, _("Authentication failed"),
                         _("Use HTTP Basic with your e-mail and an API token, or 'Authorization: Token <key>'."))
    return user


def taxii_endpoint(methods=("GET",)):
    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                if request.method not in methods:
                    raise TaxiiError(405, _("Method not allowed"))
                if not _media_ok(request.META.get("HTTP_ACCEPT", ""), "application/taxii+json"):
                    raise TaxiiError(406, _("Not acceptable"),
                                     _("This server answers with %(media)s only.") % {"media": TAXII_MEDIA})
                user = _authenticate(request)
                if user is None and not settings.KHIEN_PUBLIC_CLEAR_FEED:
                    raise TaxiiError(401, _("Authentication required"),
                                     _("Use HTTP Basic with your e-mail and an API token, or 'Authorization: Token <key>'."))
                return view(request, user, *args, **kwargs)
            except TaxiiError as exc:
                return _error(exc)
            except services.InvalidStix as exc:
                return _error(TaxiiError(422, _("Invalid STIX"), exc.message, {"errors": exc.errors} if exc.errors else None))
            except Forbidden as exc:
                return _error(TaxiiError(403, _("Forbidden"), exc.message))
            except Refused as exc:
                return _error(TaxiiError(exc.status, _("Refused"), exc.message))
        return wrapper
    return decorate


# --- Resources ---------------------------------------------------------------------------------


def _api_root_url(request) -> str:
    return request.build_absolute_uri(reverse("intel:taxii:api_root"))


def _collection_resource(user, collection: Collection) -> dict:
    readable = tlp.can_read_collection(user, collection)
    writable = tlp.can_write_collection(user, collection)
    resource = {
        "id": str(collection.pk),
        "title": collection.title,
        "alias": collection.alias,
        # A write-only member may read back what its own organizations pushed (the ISAC inbox).
        "can_read": readable or tlp.organization_writes(user, collection),
        "can_write": writable,
        "media_types": [STIX_MEDIA],
    }
    if collection.description:
        resource["description"] = collection.description
    return resource


def _collection_for(user, collection_id: str) -> Collection:
    try:
        pk = uuid.UUID(collection_id)
    except ValueError:
        pk = None
    collection = tlp.collections_for(user).filter(pk=pk).first() if pk else None
    if collection is None:
        raise TaxiiError(404, _("Collection not found"),
                         _("There is no such collection, or you may not see it."))
    return collection


@taxii_endpoint()
def discovery(request, user):
    root = _api_root_url(request)
    return _json({
        "title": _("Khiên TAXII 2.1 server"),
        "description": _("Threat-intelligence sharing of the Khiên national cybersecurity coordination platform."),
        "default": root,
        "api_roots": [root],
    })


@taxii_endpoint()
def api_root(request, user):
    return _json({
        "title": _("Khiên threat intelligence"),
        "description": _("National, ISAC and group collections, shared under TLP 2.0."),
        "versions": [TAXII_MEDIA],
        "max_content_length": settings.KHIEN_TAXII_MAX_CONTENT_LENGTH,
    })


@taxii_endpoint()
def collections(request, user):
    items = [_collection_resource(user, c) for c in tlp.collections_for(user).order_by("title", "pk")]
    return _json({"collections": items} if items else {})


@taxii_endpoint()
def collection(request, user, collection_id):
    return _json(_collection_resource(user, _collection_for(user, collection_id)))


# --- Filters and paging ------------------------------------------------------------------------


def _timestamp(value: str, name: str) -> dt.datetime:
    try:
        return services.timestamp_parameter(value, name)
    except Refused as exc:
        raise TaxiiError(400, _("Bad request"), exc.message)


def _filters(request) -> dict:
    """The request's filters in a plain form that the cursor can carry."""
    get = request.GET
    filters = {}
    for name in ("id", "type", "version", "spec_version"):
        raw = get.get(f"match[{name}]")
        if raw:
            filters[name] = sorted({v.strip() for v in raw.split(",") if v.strip()})
    for value in filters.get("version", []):
        if value not in ("last", "first", "all"):
            _timestamp(value, "match[version]")
    if get.get("added_after"):
        filters["added_after"] = services.format_timestamp(_timestamp(get["added_after"], "added_after"))
    return filters


def _limit(request) -> int:
    raw = request.GET.get("limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise TaxiiError(400, _("Bad request"), _("'limit' must be a positive whole number."))
    if limit < 1:
        raise TaxiiError(400, _("Bad request"), _("'limit' must be a positive whole number."))
    return min(limit, MAX_LIMIT)


def _cursor_in(request, kind: str, collection: Collection, extra: str = ""):
    """(filters, position) from the request, or from its `next` cursor."""
    token = request.GET.get("next")
    if not token:
        return _filters(request), None
    try:
        data = signing.loads(token, salt=CURSOR_SALT)
        if data["k"] != kind or data["c"] != str(collection.pk) or data.get("x", "") != extra:
            raise ValueError
        position = (services.parse_timestamp(data["d"]), int(data["i"]))
        if position[0] is None:
            raise ValueError
        return data["f"], position
    except (signing.BadSignature, ValueError, KeyError, TypeError):
        raise TaxiiError(400, _("Bad request"), _("The 'next' value is not valid for this request."))


def _cursor_out(kind, collection, filters, entry, extra="") -> str:
    return signing.dumps({"k": kind, "c": str(collection.pk), "x": extra, "f": filters,
                          "d": services.format_timestamp(entry.date_added), "i": entry.pk},
                         salt=CURSOR_SALT, compress=True)


def _entries(user, collection: Collection, filters: dict, *, default_version="last"):
    """The collection's entries the caller may get, filtered as TAXII says, in (date added, id) order."""
    visible = tlp.collection_content_q(user, collection, prefix="object__")
    if visible is None:
        raise TaxiiError(403, _("Forbidden"), _("You may not read this collection."))
    base = CollectionObject.objects.filter(collection=collection).filter(visible)
    qs = base
    if filters.get("id"):
        qs = qs.filter(object__stix_id__in=filters["id"])
    if filters.get("type"):
        qs = qs.filter(object__stix_type__in=filters["type"])
    if filters.get("spec_version"):
        qs = qs.filter(object__spec_version__in=filters["spec_version"])
    if filters.get("added_after"):
        qs = qs.filter(date_added__gt=services.parse_timestamp(filters["added_after"]))
    versions = filters.get("version") or [default_version]
    if "all" not in versions:
        vq = Q()
        for value in versions:
            if value == "last":
                # The newest entry of the collection, or a superseded one whose newer versions the caller
                # may not see (the flag spares the anti-join for the common case).
                vq |= Q(superseded=False) | (Q(superseded=True) & ~Exists(base.filter(
                    object__stix_id=OuterRef("object__stix_id"), object__modified__gt=OuterRef("object__modified"))))
            elif value == "first":
                vq |= ~Exists(base.filter(object__stix_id=OuterRef("object__stix_id"),
                                          object__modified__lt=OuterRef("object__modified")))
            else:
                vq |= Q(object__modified=services.parse_timestamp(value))
        qs = qs.filter(vq)
    return qs.order_by("date_added", "pk")


@dataclass
class Row:
    pk: int
    date_added: dt.datetime | None  # on an objects page, only for its first and last rows (`_page`)
    stix_id: str | None
    modified: dt.datetime | None
    raw: str | None = None


SCAN_CHUNK = 2000
# The columns of a page's rows: with the JSON text (objects endpoints: the dates added of the first and
# last rows only are read afterwards, by primary key — decoding 1,000 timestamps cost ~3 ms a page), or
# with the date added, STIX id and version (manifest, versions).
DATA_FIELDS = ("pk",)
ENTRY_FIELDS = ("pk", "date_added", "object__stix_id", "object__modified")


def _raw_text():
    """The stored JSON text of the entry's version (`data_text`, services.stix_text); for a row written
    without it (a bench loader), the database's text of `data`."""
    return Coalesce("object__data_text", Cast("object__data", TextField()))


def _page_rows(user, collection, filters, position, limit, default_version, *, with_data=False) -> list[Row]:
    """The next `limit` + 1 entries after `position`, in (date added, id) order, as `Row`s.

    `with_data`: each row carries its version's stored JSON text (the objects endpoints); otherwise its
    STIX id and version (manifest, versions).

    The rule is `_entries(...)`: the collection's entries the caller may get, filtered. For the common
    requests (no id filter, `match[version]` last or all) the page is read in steps, each one query: the
    collection's entries in (date added, id) order from the cursor (`intel_coll_added_idx`, stopping after
    a chunk of rows), joined to their versions by primary key, with the TLP and filter condition computed
    for each row in the select list rather than used as a filter — so the planner cannot turn the page
    into a hash join of the whole collection (decision 0007) — and the JSON text read in the same query.
    The first chunk is exactly the rows a page needs; only when some are not for the caller does another
    chunk follow. The rare superseded entries go through the full rule. Other requests (an id filter, or
    `match[version]` first or a timestamp) keep the single query (an id filter makes it selective).
    """
    fields = DATA_FIELDS if with_data else ENTRY_FIELDS
    extra = {"raw": _raw_text()} if with_data else {}
    versions = filters.get("version") or [default_version]
    if filters.get("id") or versions not in (["last"], ["all"]):
        qs = _entries(user, collection, filters, default_version=default_version)
        found = _after(qs, position).annotate(**extra).order_by("date_added", "pk").values_list(*fields, *extra)
        return [_row(values, with_data) for values in found[: limit + 1]]
    scan = _scan(user, collection, filters, with_data=with_data)
    flag_at = len(fields)  # superseded, wanted[, raw]
    rows: list[Row] = []
    size = limit + 1
    while True:
        chunk = _fetch(_after(scan, position)[:size])
        superseded = [values[0] for values in chunk if values[flag_at] and values[flag_at + 1]]
        if superseded and versions == ["last"]:
            # Superseded in the collection: still the last for the caller if it may not see the newer ones.
            qs = _entries(user, collection, filters, default_version=default_version)
            kept = set(qs.filter(pk__in=superseded).values_list("pk", flat=True))
        else:
            kept = set(superseded)
        rows.extend(_row(values, with_data) for values in chunk
                    if values[flag_at + 1] and (not values[flag_at] or values[0] in kept))
        if len(rows) > limit or len(chunk) < size:
            break
        last = chunk[-1][0]  # the position (date added, id) of the last entry read
        position = (chunk[-1][1] if not with_data else _dates_added([last])[last], last)
        size = min(max(2 * (limit + 1 - len(rows)), 200), SCAN_CHUNK)
    return rows[: limit + 1]


def _scan(user, collection, filters, *, with_data=False):
    """The query of one step of `_page_rows`, before its position and size: the collection's entries in
    (date added, id) order, each with its `DATA_FIELDS` or `ENTRY_FIELDS`, `superseded`, `wanted` (the
    caller may get the version and it passes the type and spec filters) and, with data, its JSON text."""
    wanted = tlp.collection_content_q(user, collection, prefix="object__")
    if wanted is None:
        raise TaxiiError(403, _("Forbidden"), _("You may not read this collection."))
    if filters.get("type"):
        wanted &= Q(object__stix_type__in=filters["type"])
    if filters.get("spec_version"):
        wanted &= Q(object__spec_version__in=filters["spec_version"])
    annotations = {"wanted": ExpressionWrapper(wanted, output_field=BooleanField())}
    if with_data:
        # The text of the versions the caller may not get is not even read.
        annotations["raw"] = Case(When(wanted, then=_raw_text()), default=Value(None), output_field=TextField())
    fields = DATA_FIELDS if with_data else ENTRY_FIELDS
    scan = CollectionObject.objects.filter(collection=collection)
    if filters.get("added_after"):
        scan = scan.filter(date_added__gt=services.parse_timestamp(filters["added_after"]))
    return scan.annotate(**annotations).order_by("date_added", "pk").values_list(*fields, "superseded", *annotations)


def _fetch(qs) -> list:
    with _serial(qs.db):
        return list(qs)


@contextmanager
def _serial(db):
    """On PostgreSQL, a page step reads the entries in the order of their index. The TLP
    condition's sub-plans make the planner over-estimate the cost of each row, and near the end of a large
    collection (dates beyond its statistics) it chose a parallel worker for 1,001 rows (~10 ms before the
    first) or a bitmap scan and a sort of the page (a page at the end of 1,000,000 objects took twice as
    long as one at the start). A keyset step with LIMIT is best served by walking the index. (Turning
    sorts off as well made every page slower: the planner then avoided sorts it needs elsewhere.)"""
    connection = connections[db]
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=db):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL enable_bitmapscan = off")
        yield


def _after(qs, position):
    """The entries of `qs` strictly after `position` (date added, id), written so that the index gets a lower
    bound on date_added."""
    if position is None:
        return qs
    when, pk = position
    return qs.filter(Q(date_added__gte=when) & (Q(date_added__gt=when) | Q(pk__gt=pk)))


def _row(values, with_data: bool) -> Row:
    if with_data:
        return Row(values[0], None, None, None, values[-1])
    return Row(*values[:4])


def _dates_added(pks) -> dict:
    return dict(CollectionObject.objects.filter(pk__in=pks).values_list("pk", "date_added"))


def _page(request, user, collection, kind, *, default_version="last", extra_filters=None, extra="", with_data=False):
    filters, position = _cursor_in(request, kind, collection, extra)
    limit = _limit(request)
    all_filters = {**filters, **(extra_filters or {})}
    rows = _page_rows(user, collection, all_filters, position, limit, default_version, with_data=with_data)
    more = len(rows) > limit
    rows = rows[:limit]
    if with_data and rows:
        dates = _dates_added({rows[0].pk, rows[-1].pk})
        rows[0].date_added, rows[-1].date_added = dates[rows[0].pk], dates[rows[-1].pk]
    headers = {}
    if rows:
        headers["X-TAXII-Date-Added-First"] = services.format_timestamp(rows[0].date_added)
        headers["X-TAXII-Date-Added-Last"] = services.format_timestamp(rows[-1].date_added)
    envelope = {"more": more}
    if more:
        envelope["next"] = _cursor_out(kind, collection, filters, rows[-1], extra)
    return rows, envelope, headers


def _version_text(row: Row) -> str:
    return services.format_timestamp(row.modified if row.modified != UNVERSIONED else row.date_added)


def _objects_response(rows: list[Row], envelope: dict, headers: dict) -> HttpResponse:
    """The envelope with the objects' stored JSON spliced in (valid JSON: each `raw` is a JSON object)."""
    head = orjson.dumps(envelope)
    if rows:
        objects = ",".join(row.raw for row in rows).encode()
        head = head[:-1] + b',"objects":[' + objects + b"]}"
    response = HttpResponse(head, content_type=TAXII_MEDIA)
    for name, value in headers.items():
        response[name] = value
    return response


# --- Objects -----------------------------------------------------------------------------------


@taxii_endpoint(methods=("GET", "POST"))
def objects(request, user, collection_id):
    collection = _collection_for(user, collection_id)
    if request.method == "POST":
        return _add_objects(request, user, collection)
    rows, envelope, headers = _page(request, user, collection, "objects", with_data=True)
    return _objects_response(rows, envelope, headers)


@taxii_endpoint()
def object_by_id(request, user, collection_id, object_id):
    collection = _collection_for(user, collection_id)
    if "match[id]" in request.GET or "match[type]" in request.GET:
        raise TaxiiError(400, _("Bad request"), _("Only match[version] and match[spec_version] filter one object."))
    rows, envelope, headers = _page(request, user, collection, "object", extra_filters={"id": [object_id]},
                                    extra=object_id, with_data=True)
    if not rows and not request.GET.get("next"):
        raise TaxiiError(404, _("Object not found"), _("There is no such object in this collection, or you may not see it."))
    return _objects_response(rows, envelope, headers)


@taxii_endpoint()
def versions(request, user, collection_id, object_id):
    collection = _collection_for(user, collection_id)
    rows, envelope, headers = _page(request, user, collection, "versions", default_version="all",
                                    extra_filters={"id": [object_id], "version": ["all"]}, extra=object_id)
    if not rows and not request.GET.get("next"):
        raise TaxiiError(404, _("Object not found"), _("There is no such object in this collection, or you may not see it."))
    envelope["versions"] = [_version_text(row) for row in rows]
    return _json(envelope, headers=headers)


@taxii_endpoint()
def manifest(request, user, collection_id):
    collection = _collection_for(user, collection_id)
    rows, envelope, headers = _page(request, user, collection, "manifest")
    if rows:
        envelope["objects"] = [{
            "id": row.stix_id,
            "date_added": services.format_timestamp(row.date_added),
            "version": _version_text(row),
            "media_type": STIX_MEDIA,
        } for row in rows]
    return _json(envelope, headers=headers)


def _add_objects(request, user, collection):
    if user is None:
        raise TaxiiError(401, _("Authentication required"), _("Sign in to add objects."))
    if not _media_ok(request.META.get("CONTENT_TYPE", ""), "application/taxii+json"):
        raise TaxiiError(415, _("Unsupported media type"),
                         _("Send the envelope as %(media)s.") % {"media": TAXII_MEDIA})
    limit = settings.KHIEN_TAXII_MAX_CONTENT_LENGTH
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise TaxiiError(413, _("Request too large"),
                         _("The largest accepted request is %(limit)d bytes.") % {"limit": limit})
    if not tlp.can_write_collection(user, collection):
        raise TaxiiError(403, _("Forbidden"), _("You may not add objects to this collection."))
    try:
        body = request.body
    except RequestDataTooBig:
        body = None
    if body is None or len(body) > limit:
        raise TaxiiError(413, _("Request too large"),
                         _("The largest accepted request is %(limit)d bytes.") % {"limit": limit})
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise TaxiiError(400, _("Malformed JSON"), _("The request body is not valid JSON."))
    if not isinstance(envelope, dict) or not isinstance(envelope.get("objects"), list):
        raise TaxiiError(422, _("Invalid envelope"), _("Send a TAXII envelope: a JSON object with an \"objects\" list."))
    threshold = int(getattr(settings, "KHIEN_TAXII_ASYNC_THRESHOLD", 1000))
    if len(envelope["objects"]) > threshold:
        # Validation costs ~2 ms per object: a large request is answered at once with a pending status that
        # the client polls (TAXII 2.1 §5.5); all-or-nothing as below (services.do_submit_objects_async).
        status = services.do_submit_objects_async(collection, envelope["objects"], acting_user=user)
        return _json(_status_resource(status), status=202)
    try:
        result = services.do_add_objects(collection, envelope, acting_user=user, taxii_status=True)
    except services.CreatorRefused as exc:
        # Valid STIX the rules refuse (another organization named as author): TAXII 2.1 says so per object, in
        # the status's failures; nothing of the request is stored.
        status = services.do_refuse_submission(collection, envelope["objects"], exc, acting_user=user)
        return _json(_status_resource(status), status=202)
    return _json(_status_resource(result.status), status=202)


# --- Status ------------------------------------------------------------------------------------


def _status_resource(status: TaxiiStatus) -> dict:
    # A pending status stays pending until its processing completes: if the web process restarted meanwhile,
    # the worker runs it again from the objects kept with it (services.resume_stale_submissions).
    resource = {
        "id": str(status.pk),
        "status": status.status,
        "request_timestamp": services.format_timestamp(status.request_timestamp),
        "total_count": status.total_count,
        "success_count": status.success_count,
        "failure_count": status.failure_count,
        "pending_count": status.pending_count,
    }
    for name in ("successes", "failures", "pendings"):
        if getattr(status, name):
            resource[name] = getattr(status, name)
    if status.status == "pending":
        resource["x_khien_validated_count"] = status.validated_count  # progress of the background validation
    return resource


@taxii_endpoint()
def status(request, user, status_id):
    try:
        pk = uuid.UUID(status_id)
    except ValueError:
        pk = None
    found = TaxiiStatus.objects.filter(pk=pk, submitted_by=user).defer("payload").first() if pk and user is not None else None
    if found is None:
        raise TaxiiError(404, _("Status not found"), _("There is no such status, or it is not yours."))
    return _json(_status_resource(found))
