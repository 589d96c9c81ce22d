"""Federation: subscriptions of local collections to remote TAXII 2.1 collections, and pulling them.

Who manages a subscription: the national coordinator, and whoever may change (`Action.CHANGE`)
the organization that owns the local collection — the same people who manage the collection.

Pulling (`do_pull`, run by the worker job `intel.federation_pull` for the due subscriptions, by
`khien federation pull` and by "Pull now"):

- asks the remote collection with taxii2-client (`Collection.get_objects` through `as_pages`)
  for the objects added after the subscription's high-water mark (`added_after`);
- stores each page through `services.do_add_objects` in its own transaction, as the
  subscription's creator (`created_by`: the organization it acts for becomes the producer; its
  write right on the local collection is checked like any submission). An object without
  `created_by_ref` is attributed to the remote source (`source_identity_id`), not to the puller:
  every subscriber of the same remote collection then versions it alike, whoever pulled it first.
  An object naming another platform organization as its author is left out, as a stored version
  the creator may not see is (counted hidden, `services._foreign_creator_errors`). A page is all or
  nothing: an invalid object refuses the whole page, the pull stops there and records the error;
  the pages before it stay stored and the mark stays at the last stored page, so the next pull
  starts again at the refused page;
- moves the mark to the remote's `X-TAXII-Date-Added-Last` of each stored page (when a remote
  does not send it, the mark stays and the next pull asks again from the same point; versions
  already stored are not duplicated);
- records the run (last run, status, error, counts) on the subscription. The run's bookkeeping is
  operational state, not audited; the stored objects are audited by `do_add_objects`;
- when a subscription starts failing (its previous run succeeded, or it never ran), notifies its
  creator (else the local collection's organization administrators) once, in the digest.

The secret (password or token) is sent to the remote only; it is never shown back, logged or
audited (`audit.snapshot` leaves out fields named "password").
"""
from __future__ import annotations

import ipaddress

import datetime as dt
import functools
import logging
import uuid
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from khien.core import audit
from khien.core.audit import Act
from khien.core.errors import Forbidden, Refused
from khien.core.roles import Action
from khien.core.scoping import is_national_coordinator, user_can
from khien.core.texts import Text
from khien.registry.models import Organization

from . import services, tlp
from .models import Collection
from .models_federation import FeedAuth, FeedStatus, FeedSubscription

log = logging.getLogger(__name__)

EDITABLE = ["name", "collection", "api_root_url", "remote_collection_id", "auth_kind", "username", "password",
            "verify_tls", "interval_minutes", "enabled"]


# Namespace of the STIX identity ids of remote sources (uuid5 of the remote collection's URL).
SOURCE_NAMESPACE = uuid.UUID("6f1b1d5e-3c0a-4a53-9d4f-6b68696e0003")


def source_identity_id(sub: FeedSubscription) -> str:
    """The STIX identity id given as `created_by_ref` to the pulled objects that carry none: derived from the
    remote collection (scheme, host and port lower-cased, path, collection id; never credentials), so every
    subscription to the same remote collection names the same author, and no platform organization is it."""
    url = urlsplit(sub.api_root_url.strip())
    host = (url.hostname or "") + (f":{url.port}" if url.port else "")
    source = f"{url.scheme.lower()}://{host.lower()}{url.path.rstrip('/')}/collections/{sub.remote_collection_id}/"
    digest = uuid.uuid5(SOURCE_NAMESPACE, source)
    return f"identity--{uuid.UUID(bytes=digest.bytes, version=4)}"  # STIX asks for a UUIDv4-shaped id


def page_size() -> int:
    return int(getattr(settings, "KHIEN_FEDERATION_PAGE_SIZE", 1000))


def timeout() -> float:
    return float(getattr(settings, "KHIEN_FEDERATION_TIMEOUT", 30))


# --- Rights --------------------------------------------------------------------------------------


def can_manage(user, collection: Collection) -> bool:
    return is_national_coordinator(user) or user_can(user, Action.CHANGE, collection.owner)


def subscriptions_for(user):
    """The subscriptions the user may see and manage."""
    if is_national_coordinator(user):
        return FeedSubscription.objects.all()
    owners = Organization.objects.restrict(user, Action.CHANGE)
    return FeedSubscription.objects.filter(collection__owner__in=owners)


def manageable_collections(user):
    """The local collections the user may subscribe to a remote one."""
    if is_national_coordinator(user):
        return Collection.objects.all()
    return Collection.objects.filter(owner__in=Organization.objects.restrict(user, Action.CHANGE))


def _require(user, collection):
    if collection is None or not can_manage(user, collection):
        raise Forbidden(_("You may not manage the subscriptions of this collection."))


# --- Create, update, delete -------------------------------------------------------------------------


def _unreachable_peer_address(url: str) -> bool:
    """Whether `url` names, as a literal address, one no partner server can have: link-local (a cloud machine's
    metadata service at 169.254.169.254 answers there with its credentials), multicast or unspecified. Loopback
    and private addresses stay allowed: a partner on the same machine or the government network."""
    try:
        host = urlsplit(url.strip()).hostname or ""
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a host name (not resolved here), or no address at all
    return address.is_link_local or address.is_multicast or address.is_unspecified


def _clean(sub: FeedSubscription):
    if sub.auth_kind == FeedAuth.BASIC and not sub.username:
        raise Refused(_("User name and password authentication needs a user name."), code="invalid")
    if sub.auth_kind in (FeedAuth.BASIC, FeedAuth.TOKEN, FeedAuth.BEARER) and not sub.password:
        raise Refused(_("This authentication needs a password or token."), code="invalid")
    if not sub.api_root_url.lower().startswith(("http://", "https://")):
        raise Refused(_("The API root URL must start with http:// or https://."), code="invalid")
    if _unreachable_peer_address(sub.api_root_url):
        raise Refused(_("The API root URL names a link-local, multicast or unspecified address: no partner server "
                        "is there (169.254.169.254 is a cloud machine's own metadata service)."), code="invalid")
    if not sub.api_root_url.endswith("/"):
        sub.api_root_url += "/"
    try:
        sub.full_clean()
    except ValidationError as exc:
        raise Refused("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()), code="invalid")


@transaction.atomic
def do_create_subscription(data: dict, *, acting_user) -> FeedSubscription:
    """Subscribe a local collection (`data["collection"]`) to a remote TAXII 2.1 collection."""
    _require(acting_user, data.get("collection"))
    sub = FeedSubscription(created_by=acting_user, **{k: v for k, v in data.items() if k in EDITABLE})
    if sub.auth_kind == FeedAuth.NONE:
        sub.username, sub.password = "", ""
    _clean(sub)
    sub.save()
    audit.record(Act.CREATE, sub, actor=acting_user, organization_id=str(sub.collection.owner_id))
    return sub


@transaction.atomic
def do_update_subscription(sub: FeedSubscription, data: dict, *, acting_user) -> FeedSubscription:
    """Change a subscription. An empty or absent password keeps the stored one (it is never shown back).

    Changing the remote (URL or collection id) starts again from the beginning (the mark is cleared).
    """
    sub = FeedSubscription.objects.select_for_update().get(pk=sub.pk)
    _require(acting_user, sub.collection)
    if "collection" in data:
        _require(acting_user, data["collection"])
    before = audit.snapshot(sub)
    remote = (sub.api_root_url, sub.remote_collection_id)
    for key, value in data.items():
        if key not in EDITABLE or (key == "password" and not value):
            continue
        setattr(sub, key, value)
    if sub.auth_kind == FeedAuth.NONE:
        sub.username, sub.password = "", ""
    _clean(sub)
    if (sub.api_root_url, sub.remote_collection_id) != remote:
        sub.added_after = None
    sub.save()
    audit.record(Act.UPDATE, sub, actor=acting_user, before=before, organization_id=str(sub.collection.owner_id))
    return sub


@transaction.atomic
def do_delete_subscription(sub: FeedSubscription, *, acting_user) -> None:
    _require(acting_user, sub.collection)
    before = audit.snapshot(sub)
    audit.record(Act.DELETE, sub, actor=acting_user, before=before, organization_id=str(sub.collection.owner_id))
    sub.delete()


# --- Pulling -------------------------------------------------------------------------------------


class _HeaderAuth(requests.auth.AuthBase):
    def __init__(self, scheme: str, secret: str):
        self.value = f"{scheme} {secret}"

    def __call__(self, request):
        request.headers["Authorization"] = self.value
        return request

    def __repr__(self):
        return "<_HeaderAuth>"  # never the secret


def remote_collection(sub: FeedSubscription):
    """A taxii2-client Collection for the subscription's remote collection (with a request timeout)."""
    from taxii2client.v21 import Collection as RemoteCollection

    kwargs = {"verify": sub.verify_tls}
    if sub.auth_kind == FeedAuth.BASIC:
        kwargs.update(user=sub.username, password=sub.password)
    elif sub.auth_kind == FeedAuth.TOKEN:
        kwargs["auth"] = _HeaderAuth("Token", sub.password)
    elif sub.auth_kind == FeedAuth.BEARER:
        kwargs["auth"] = _HeaderAuth("Bearer", sub.password)
    url = f"{sub.api_root_url.rstrip('/')}/collections/{sub.remote_collection_id}/"
    remote = RemoteCollection(url, **kwargs)
    session = remote._conn.session
    session.request = functools.partial(session.request, timeout=timeout())
    return remote


def _describe(exc: Exception) -> Text | str:
    """A clear message for a failed request, without secrets: a `Text` (kept untranslated for the notification
    of its readers, `_notify_failure`), or the refusal's own words for what the platform refused."""
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status in (401, 403):
            return Text(_l("The remote server refused the credentials (HTTP %(status)s)."), {"status": status})
        if status == 404:
            return Text(_l("The remote server has no such API root or collection (HTTP 404)."))
        return Text(_l("The remote server answered with an error (HTTP %(status)s)."), {"status": status})
    if isinstance(exc, requests.exceptions.Timeout):
        return Text(_l("The remote server did not answer in time."))
    if isinstance(exc, requests.exceptions.SSLError):
        return Text(_l("The remote server's TLS certificate is not valid."))
    if isinstance(exc, requests.exceptions.ConnectionError):
        return Text(_l("Cannot reach the remote server."))
    if isinstance(exc, services.InvalidStix):
        details = [f"{key}: {messages[0]}" for key, messages in list(exc.errors.items())[:5] if messages]
        return " ".join([str(exc.message), *details])
    if isinstance(exc, Refused):
        return str(exc.message)
    return Text(_l("The remote answer cannot be read: %(error)s"), {"error": type(exc).__name__})


def is_due(sub: FeedSubscription, now: dt.datetime) -> bool:
    return sub.enabled and (sub.last_run_at is None
                            or sub.last_run_at + dt.timedelta(minutes=sub.interval_minutes) <= now)


def do_pull(sub: FeedSubscription, *, acting_user=None, now: dt.datetime | None = None) -> FeedSubscription:
    """Pull the subscription once (see the module's description); returns it with the run recorded.

    `acting_user` (pull now): must manage the subscription; the objects are still stored as the
    subscription's creator. Never raises for a remote's failure: it is recorded on the subscription.
    """
    if acting_user is not None:
        _require(acting_user, sub.collection)
    now = now or timezone.now()
    sub = FeedSubscription.objects.select_related("collection", "created_by").get(pk=sub.pk)
    # Claim the run (two workers at once: one pulls).
    if not FeedSubscription.objects.filter(pk=sub.pk, last_run_at=sub.last_run_at).update(last_run_at=now):
        sub.refresh_from_db()
        return sub
    submitter = sub.created_by
    received, pages_stored, error = 0, 0, ""
    mark = sub.added_after
    if submitter is None or not submitter.is_active or not tlp.can_write_collection(submitter, sub.collection):
        error = Text(_l("The subscription's creator may no longer add objects to the local collection; "
                        "someone who may should re-create the subscription."))
    else:
        from taxii2client.v21 import as_pages

        remote = None
        try:
            remote = remote_collection(sub)
            last_headers = requests.structures.CaseInsensitiveDict()  # HTTP/2 proxies lower-case header names

            def keep_headers(response, *args, **kwargs):
                last_headers.clear()
                last_headers.update(response.headers)

            remote._conn.session.hooks["response"].append(keep_headers)
            filters = {"added_after": services.format_timestamp(mark)} if mark else {}
            for envelope in as_pages(remote.get_objects, per_request=page_size(), **filters):
                objects = envelope.get("objects") or [] if isinstance(envelope, dict) else None
                if not isinstance(objects, list):
                    raise Refused(_("The remote answer is not a TAXII envelope."))
                page_mark = services.parse_timestamp(last_headers.get("X-TAXII-Date-Added-Last", ""))
                with transaction.atomic():
                    if objects:
                        services.do_add_objects(sub.collection, objects, acting_user=submitter, skip_hidden=True,
                                                default_creator=source_identity_id(sub))
                    # (A date outside the years the platform stores is not a mark: the next pull asks again.)
                    if page_mark and services.in_range(page_mark) and (mark is None or page_mark > mark):
                        mark = page_mark
                    FeedSubscription.objects.filter(pk=sub.pk).update(added_after=mark)
                received += len(objects)
                pages_stored += 1
        except Exception as exc:  # every failure of a remote is recorded, none escapes to the worker
            error = _describe(exc)
            log.warning("federation pull %s failed: %s", sub.name, type(exc).__name__)
        finally:
            if remote is not None:
                remote.close()
    status = FeedStatus.OK if not error else (FeedStatus.PARTIAL if received else FeedStatus.ERROR)
    update = {"last_status": status, "last_error": str(error)[:2000], "last_count": received,
              "total_count": sub.total_count + received, "added_after": mark}
    if not error:
        update["last_success_at"] = now
    previous = sub.last_status
    with transaction.atomic():
        FeedSubscription.objects.filter(pk=sub.pk).update(**update)
        if error and previous in (FeedStatus.NEVER, FeedStatus.OK):
            _notify_failure(sub, error)
    sub.refresh_from_db()
    log.info("federation pull %s: %s, %d objects", sub.name, status, received)
    return sub


def _notify_failure(sub: FeedSubscription, error: Text | str) -> None:
    """Tell the subscription's creator (else the local collection's organization administrators) once,
    when a subscription starts failing (not at every failed run). Kept as `Text`s: each reads it in their own
    language, whoever or whatever ran the pull."""
    from khien.core import notifications
    from khien.core.roles import Role

    creator = sub.created_by if sub.created_by is not None and sub.created_by.is_active else None
    recipients, roles = ([creator], None) if creator else ([sub.collection.owner], [Role.ORG_ADMIN])
    title = Text(_l("Partner TAXII feed “%(name)s” cannot be pulled"), {"name": sub.name})
    body = Text(_l("%(error)s The subscription feeds the collection “%(collection)s”; it will be tried again at "
                   "its interval."), {"error": error, "collection": sub.collection.title})
    notifications.notify(recipients, kind="intel.federation_failed", title=title, body=body,
                         url=reverse("intel:exchange_federation"), roles=roles)


def pull_due(now: dt.datetime | None = None) -> list[FeedSubscription]:
    """Pull every enabled subscription whose interval has passed."""
    now = now or timezone.now()
    return [do_pull(sub, now=now) for sub in FeedSubscription.objects.filter(enabled=True).order_by("name")
            if is_due(sub, now)]
