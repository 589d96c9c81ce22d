"""Collection pages: list, detail with members and recent content, create, member rights.

A collection the user can neither read nor write does not exist for them
(404, as in TAXII). Managing (create, member rights) is decided by the
services (`user_can(CHANGE)` on the owner organization): others get 403.
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from khien.core.errors import Refused, status_of
from khien.core.forms import add_service_error
from khien.core.roles import Action
from khien.core.scoping import user_can

from . import search, services, tlp
from .forms import CollectionForm, MemberForm, manageable_organizations
from .models import CollectionObject
from .views import objects_table


def _listed_or_404(user, pk):
    return get_object_or_404(tlp.collections_for(user).select_related("owner", "isac"), pk=pk)


def _count(user, collection) -> int:
    content = tlp.collection_content_q(user, collection, prefix="object__")
    if content is None:
        return 0
    return CollectionObject.objects.filter(collection=collection, superseded=False).filter(content).count()


@login_required
@require_GET
def collection_list(request):
    user = request.user
    collections = list(tlp.collections_for(user).select_related("owner", "isac")
                       .annotate(n_members=Count("members")).order_by("title"))
    rows = [{"c": c, "count": _count(user, c), "read": tlp.can_read_collection(user, c),
             "write": tlp.can_write_collection(user, c)} for c in collections]
    return render(request, "intel/collection_list.html", {
        "rows": rows, "can_create": manageable_organizations(user).exists()})


def taxii_addresses(request, collection) -> dict:
    """The absolute TAXII 2.1 addresses of a collection, built from the request as the TAXII server builds the
    API root it announces (`taxii.views._api_root_url`): what a client is given is what the server answers."""
    def url(name, *args):
        return request.build_absolute_uri(reverse(f"intel:taxii:{name}", args=args))

    return {
        "discovery": url("discovery"), "api_root": url("api_root"),
        "collection": url("collection", str(collection.pk)), "objects": url("objects", str(collection.pk)),
        "tokens": request.build_absolute_uri(reverse("core:tokens")),
    }


def _detail(request, collection, member_form=None, status=200):
    user = request.user
    content = tlp.collection_content_q(user, collection, prefix="object__")
    recent_ids, observed_left_out = [], False
    if content is not None:
        seen = set()
        entries = CollectionObject.objects.filter(collection=collection, superseded=False).filter(content)
        for stix_id in (entries.exclude(object__stix_type__in=search.BACKGROUND_TYPES + search.OBSERVED_TYPES)
                        .order_by("-date_added", "-pk").values_list("object__stix_id", flat=True)[:50]):
            if stix_id not in seen:
                seen.add(stix_id)
                recent_ids.append(stix_id)
        # observed data and observables are left out of the list: the page says so when the collection has some
        observed_left_out = entries.filter(object__stix_type__in=search.OBSERVED_TYPES).exists()
    # the objects table of the search page: the user ticks the objects they may revoke ("Revoke selected")
    recent, can_revoke = objects_table(user, recent_ids)
    can_manage = user_can(user, Action.CHANGE, collection.owner)
    return render(request, "intel/collection_detail.html", {
        "collection": collection, "count": _count(user, collection),
        "members": collection.members.select_related("organization").order_by("organization__code"),
        "recent": recent, "can_revoke": can_revoke, "now": timezone.now(),
        # the revocation page leads back here (not to the members form this page may answer)
        "revoke_next": reverse("intel:collection_detail", args=[collection.pk]) + "#recent",
        "observed_left_out": observed_left_out, "can_manage": can_manage,
        "observed_search_url": "{}?{}".format(reverse("intel:search"), urlencode({"collection": collection.pk})),
        "can_read": tlp.can_read_collection(user, collection),
        "can_write": tlp.can_write_collection(user, collection),
        "member_form": member_form or (MemberForm() if can_manage else None),
        "taxii": taxii_addresses(request, collection),
    }, status=status)


@login_required
@require_GET
def collection_detail(request, pk):
    return _detail(request, _listed_or_404(request.user, pk))


@login_required
@require_POST
def collection_member(request, pk):
    """Set one member organization's rights (both unchecked removes it)."""
    collection = _listed_or_404(request.user, pk)
    form = MemberForm(request.POST)
    if not form.is_valid():
        return _detail(request, collection, member_form=form, status=400)
    d = form.cleaned_data
    try:
        services.do_set_collection_member(collection, d["organization"], can_read=d["can_read"],
                                          can_write=d["can_write"], acting_user=request.user)
    except (Refused, ValidationError) as exc:
        if status_of(exc) == 403:
            raise PermissionDenied(getattr(exc, "message", ""))
        add_service_error(form, exc)
        return _detail(request, collection, member_form=form, status=status_of(exc))
    messages.success(request, _("Rights of %(org)s saved.") % {"org": d["organization"].code})
    return redirect("intel:collection_detail", pk=collection.pk)


@login_required
@require_http_methods(["GET", "POST"])
def collection_create(request):
    if not manageable_organizations(request.user).exists():
        raise PermissionDenied(_("You may not manage any organization's collections."))
    form = CollectionForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                collection = services.do_create_collection(form.service_data(), acting_user=request.user)
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, _("Collection “%(title)s” created.") % {"title": collection.title})
                return redirect("intel:collection_detail", pk=collection.pk)
        else:
            status = 400
    return render(request, "intel/collection_form.html", {"form": form}, status=status)
