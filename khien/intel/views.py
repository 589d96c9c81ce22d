"""Intelligence pages: search with provenance, object detail, create indicators and reports.

Views stay thin. What a user sees comes from `tlp.py` (through `search.py`);
every write is a `services` call. An object the user may not see is a 404,
exactly as in the REST API and TAXII. Collections: `views_collections.py`;
early warnings and the allow-list: `views_warnings.py`.
"""
from __future__ import annotations

import json
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from khien.core.errors import Refused, status_of
from khien.core.forms import add_service_error

from . import search, services, services_versions, services_warnings, sightings, tlp
from .forms import (IndicatorCorrectionForm, IndicatorForm, ReportForm, RevokeForm, SearchForm, SightingForm,
                    writable_collections)
from .models import STIX_PROPERTY_LABELS, Tlp, stix_value_label

PAGE_SIZE = 25


def has_echarts() -> bool:
    return bool(finders.find("vendor/echarts/echarts.min.js"))


def _object_rows(user, stix_ids) -> list[dict]:
    latest = search.latest_versions(user, stix_ids)
    objects = [latest[i] for i in stix_ids if i in latest]
    flagged = search.flagged_object_ids(objects)
    colls = search.collections_of(user, objects)
    names = search.identity_names((o.created_by_ref for o in objects), user)
    return [{"obj": o, "name": search.display_name(o), "flagged": o.pk in flagged, "collections": colls[o.pk],
             "creator": names.get(o.created_by_ref, "")} for o in objects]


def objects_table(user, stix_ids) -> tuple[list[dict], bool]:
    """The rows of the objects table (`intel/_objects_table.html`, on the search and collection pages) and whether
    it offers "Revoke selected": a row has a checkbox only when the user may revoke its object
    (`services_versions.revocable_ids`); the ticked ones go to `objects_revoke`, which confirms first."""
    rows = _object_rows(user, stix_ids)
    revocable = services_versions.revocable_ids(user, [r["obj"].stix_id for r in rows])
    for row in rows:
        row["revocable"] = row["obj"].stix_id in revocable
    return rows, bool(revocable)


@login_required
@require_GET
def intel_search(request):
    """The intelligence home: one search box; values grouped with their provenance; recent objects."""
    user = request.user
    form = SearchForm(request.GET or None, user=user)
    status, groups, query, filters = 200, [], "", {}
    if form.is_bound and not form.is_valid():
        status = 400
        objects = search.search_objects(user).none()
    else:
        if form.is_bound:
            query, filters = form.cleaned_data.get("q", "").strip(), form.filters()
        groups = search.search_values(user, query, filters) if query else []
        objects = search.search_objects(user, query, filters)
    page = Paginator(objects, PAGE_SIZE).get_page(request.GET.get("page"))
    rows, can_revoke = objects_table(user, [r["stix_id"] for r in page])
    context = {"form": form, "query": query, "groups": groups, "page": page, "rows": rows,
               "can_revoke": can_revoke,
               "searched": bool(query or filters), "can_create": bool(writable_collections(user)),
               "now": timezone.now(),
               "can_issue": services_warnings.can_issue(user)}
    if not context["searched"]:
        stats = search.overview(user)
        context.update({
            "stats": stats, "has_echarts": has_echarts(),
            "tlp_rows": [(label, stats["by_tlp"].get(value, 0), value) for value, label in Tlp.choices],
            "week_chart": {"labels": stats["weeks"]["labels"], "values": stats["weeks"]["values"]},
            "week_rows": list(zip(stats["weeks"]["labels"], stats["weeks"]["values"])),
            "latest_warnings": services_warnings.warnings_visible_to(user).select_related("organization")[:5],
        })
    return render(request, "intel/search.html", context, status=status)


def _indented(value, stored_text: str, sort_keys: bool = False) -> str:
    """Indented JSON for reading; the stored compact text of an object too deep to indent (stored before the
    intake refused such nesting)."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=sort_keys)
    except (RecursionError, ValueError):
        return stored_text


# STIX properties holding a timestamp: shown in the page's own format, in the platform's time zone (Vietnam time),
# like every other time on the page; the STIX JSON panel and the title attribute keep them as written (UTC).
STIX_TIMESTAMP_PROPERTIES = frozenset({
    "published", "created", "modified", "valid_from", "valid_until", "first_seen", "last_seen", "first_observed",
    "last_observed",
})


def _shown_value(key: str, value) -> str:
    """A STIX property value as the object's page shows it: a timestamp as d/m/Y H:i in local time, anything
    else in the reader's language (`stix_value_label`)."""
    if key in STIX_TIMESTAMP_PROPERTIES and isinstance(value, str):
        parsed = services.parse_timestamp(value)
        if parsed is not None:
            try:
                return dateformat.format(timezone.localtime(parsed), "d/m/Y H:i")
            except (OverflowError, ValueError):  # year 9999 pushed past the calendar by the time zone
                pass
    return stix_value_label(key, value)


def _raw_value(value) -> str:
    """A STIX property value as written (shown to analysts on hover beside its label)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(i, str) for i in value):
        return ", ".join(value)
    return json.dumps(value, ensure_ascii=False)


def _visible_or_404(user, stix_id: str):
    obj = search.latest_visible(user, stix_id)
    if obj is None:
        raise Http404(_("No such object."))
    return obj


@login_required
@require_GET
def object_detail(request, stix_id: str):
    return _object_page(request, _visible_or_404(request.user, stix_id))


def _object_page(request, obj, sighting_form=None, status=200):
    user, stix_id = request.user, obj.stix_id
    versions = list(tlp.visible_versions(user).filter(stix_id=stix_id).select_related("producer").order_by("-modified"))
    refs = []
    if isinstance(obj.data.get("object_refs"), list):
        ids = [r for r in obj.data["object_refs"] if isinstance(r, str)]
        latest = search.latest_versions(user, ids)
        refs = [{"id": r, "obj": latest.get(r), "name": search.display_name(latest[r]) if r in latest else ""}
                for r in ids]
    creator = search.identity_names([obj.created_by_ref], user).get(obj.created_by_ref, "")
    data = obj.data or {}
    recipients, all_recipients = tlp.shown_recipients(user, obj) if obj.tlp == Tlp.RED else ([], False)
    values = search.value_flags(obj) if obj.stix_type == "indicator" else []
    context = {
        "recipients": recipients, "all_recipients": all_recipients,
        # Revoke / Correct: for the organization that created the object (the right of every new version).
        "can_version": not obj.revoked and services_versions.versioning_collection(user, stix_id) is not None,
        "revoke_form": RevokeForm(),
        "revocation": services_versions.revocation(user, obj),
        "obj": obj, "data": data, "name": search.display_name(obj), "creator": creator, "now": timezone.now(),
        "collections": search.collections_of(user, [obj])[obj.pk],
        "values": values, "listed_values": [v for v in values if v["warning_listed"]],
        "relationships": search.relationships(user, stix_id),
        "sightings": search.sightings(user, stix_id),
        # "Seen here" for an indicator still in force, when the user may write a collection to keep it in.
        "sighting_form": sighting_form or (SightingForm(user=user) if obj.stix_type == "indicator" and not obj.revoked
                                           and writable_collections(user) else None),
        "reports": search.reports_citing(user, stix_id),
        "versions": versions, "refs": [r for r in refs if r["obj"]],
        "hidden_refs": sum(1 for r in refs if not r["obj"]),
        # Shown with its too-deep parts summarized (stored before the intake refused such nesting).
        "summarized": services.is_summarized(data),
        "raw": _indented(data, obj.data_text or "", sort_keys=True),
        "extra_fields": [(k, STIX_PROPERTY_LABELS[k], _shown_value(k, v), _raw_value(v))
                         for k, v in sorted(data.items()) if k in STIX_PROPERTY_LABELS],
    }
    return render(request, "intel/object_detail.html", context, status=status)


@login_required
@require_POST
def object_sighting(request, stix_id: str):
    """Record a sighting of the indicator by the user's organization (`sightings.do_record_sighting`)."""
    obj = _visible_or_404(request.user, stix_id)
    if obj.stix_type != "indicator":
        raise Http404
    if not writable_collections(request.user):
        raise PermissionDenied(_("You may not add objects to any collection."))
    form = SightingForm(request.POST, user=request.user)
    if not form.is_valid():
        return _object_page(request, obj, form, 400)
    try:
        sightings.do_record_sighting(stix_id, dict(form.cleaned_data), acting_user=request.user)
    except (Refused, ValidationError) as exc:
        add_service_error(form, exc)
        return _object_page(request, obj, form, status_of(exc))
    messages.success(request, _("Sighting recorded: your organization saw this indicator."))
    return redirect(reverse("intel:object", args=[stix_id]) + "#sightings")


@login_required
@require_GET
def object_download(request, stix_id: str):
    """The latest visible version of the object as a STIX 2.1 bundle (plain JSON)."""
    obj = _visible_or_404(request.user, stix_id)
    bundle_id = f"bundle--{uuid.uuid4()}"
    compact = f'{{"type":"bundle","id":"{bundle_id}","objects":[{obj.data_text or services.stix_text(obj.data)}]}}'
    # A version read with its too-deep parts summarized is given whole, as stored (compact: it cannot be indented).
    text = compact if services.is_summarized(obj.data) else _indented(
        {"type": "bundle", "id": bundle_id, "objects": [obj.data]}, compact)
    response = HttpResponse(text, content_type="application/json")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stix_id)[:120]
    response["Content-Disposition"] = f'attachment; filename="{safe}.json"'
    return response


def _store(form, store) -> tuple[int, dict] | None:
    """Run `store()`; if the store refuses, put why on the form and return (status, details of invalid STIX)."""
    try:
        store()
    except services.InvalidStix as exc:
        add_service_error(form, exc)
        return 400, exc.errors
    except (Refused, ValidationError) as exc:
        add_service_error(form, exc)
        return status_of(exc), {}
    return None


def _create(request, form_class, template: str, noun: str):
    if not writable_collections(request.user):
        raise PermissionDenied(_("You may not add objects to any collection."))
    form = form_class(request.POST or None, user=request.user)
    status, details = 200, {}
    if request.method == "POST":
        if form.is_valid():
            obj = form.stix()
            refused = _store(form, lambda: services.do_add_objects(
                form.cleaned_data["collection"], [obj], acting_user=request.user,
                recipients=form.cleaned_data.get("recipients") or None))
            if refused:
                status, details = refused
            else:
                messages.success(request, _("%(noun)s “%(name)s” stored.") % {"noun": noun, "name": obj["name"]})
                return redirect("intel:object", stix_id=obj["id"])
        else:
            status = 400
    return render(request, template, {"form": form, "details": details, "audience": _audience_of(request.user, form)},
                  status=status)


def _audience_of(user, form):
    collection, level, recipients = form.sharing_choice()
    if collection is None or level is None:
        return None
    return search.audience(user, collection, level, recipients, refs=form.chosen_refs())


@login_required
@require_GET
def sharing_audience(request):
    """The "who will see it" box of the create forms for a chosen collection, TLP and recipients (HTMX); for a
    report, also its chosen objects (how many are shared more strictly than the report).

    Only for a collection the user may write (another one is a 404: its members are not the user's business).
    Nothing chosen yet (a TLP picked before the collection): the box asks to choose both (200, not an error).
    """
    from .forms import audience_choice, report_refs

    raw_collection, raw_level = request.GET.get("collection", "").strip(), request.GET.get("tlp", "").strip()
    collection, level, recipients = audience_choice(request.user, raw_collection, raw_level,
                                                    request.GET.getlist("recipients"))
    if collection is None and raw_collection:
        raise Http404(_("No such collection."))
    if level is None and raw_level:
        return render(request, "intel/_audience.html", {"audience": None}, status=400)
    if collection is None or level is None:
        return render(request, "intel/_audience.html", {"audience": None})
    refs = report_refs(request.GET.getlist("object_refs"), request.GET.get("extra_refs", ""))  # a report's objects
    return render(request, "intel/_audience.html", {"audience": search.audience(request.user, collection, level,
                                                                                recipients, refs=refs)})


@login_required
@require_http_methods(["GET", "POST"])
def indicator_create(request):
    return _create(request, IndicatorForm, "intel/indicator_form.html", _("Indicator"))


@login_required
@require_http_methods(["GET", "POST"])
def report_create(request):
    return _create(request, ReportForm, "intel/report_form.html", _("Report"))


def _versionable_or_403(user, stix_id: str):
    """The newest version the user sees (else 404) when their organization may version it (else 403)."""
    obj = _visible_or_404(user, stix_id)
    if services_versions.versioning_collection(user, stix_id) is None:
        raise PermissionDenied(_("Only the organization that created this object can publish a new version of it."))
    return obj


@login_required
@require_http_methods(["GET", "POST"])
def object_revoke(request, stix_id: str):
    """Withdraw an object: confirm (with an optional reason), then a new version with revoked=true."""
    obj = _versionable_or_403(request.user, stix_id)
    form = RevokeForm(request.POST or None)
    status = 409 if obj.revoked else 200
    if request.method == "POST" and not obj.revoked:
        if form.is_valid():
            try:
                services_versions.do_revoke_object(stix_id, acting_user=request.user,
                                                   reason=form.cleaned_data.get("reason", ""))
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, _("“%(name)s” is revoked: a new version says so to everyone who "
                                            "receives it.") % {"name": search.display_name(obj)})
                return redirect("intel:object", stix_id=stix_id)
        else:
            status = 400
    return render(request, "intel/object_revoke.html",
                  {"obj": obj, "name": search.display_name(obj), "form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def indicator_correct(request, stix_id: str):
    """Correct an indicator: a form prefilled from its newest version that stores a new version."""
    obj = _versionable_or_403(request.user, stix_id)
    if obj.stix_type != "indicator":
        raise Http404(_("Only an indicator can be corrected here."))
    form = IndicatorCorrectionForm(request.POST or None, initial=IndicatorCorrectionForm.initial_from(obj.data))
    status, details = (409, {}) if obj.revoked else (200, {})
    if request.method == "POST" and not obj.revoked:
        if form.is_valid():
            refused = _store(form, lambda: services_versions.do_correct_indicator(
                stix_id, form.changes(), acting_user=request.user))
            if refused:
                status, details = refused
            else:
                messages.success(request, _("The correction of “%(name)s” is stored as a new version.")
                                 % {"name": form.cleaned_data["name"]})
                return redirect("intel:object", stix_id=stix_id)
        else:
            status = 400
    return render(request, "intel/indicator_correct.html",
                  {"obj": obj, "name": search.display_name(obj), "form": form, "details": details}, status=status)


def _back_url(request, raw: str) -> str:
    """Where the bulk revocation page leads back to: the list it was opened from (a page of this site), else the
    intelligence search."""
    if raw and url_has_allowed_host_and_scheme(raw, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return raw
    return reverse("intel:search")


@login_required
@require_http_methods(["GET", "POST"])
def objects_revoke(request):
    """Revoke the objects ticked in the objects table ("Revoke selected"), without JavaScript: GET lists them with
    a reason field (a confirmation; nothing changes); POST revokes them all or none
    (`services_versions.do_revoke_objects`, which decides who may) and says which were revoked and which skipped.
    Refused ids are named, with the status the API gives (404 for an object unknown or not visible alike, 403)."""
    data = request.POST if request.method == "POST" else request.GET
    ids = data.getlist("ids")
    back = _back_url(request, data.get("next", ""))
    form = RevokeForm(request.POST or None)
    context = {"form": form, "ids": ids, "back": back, "error": "", "to_revoke": [], "skipped": [], "result": None}
    try:
        to_revoke, skipped = services_versions.check_revoke_objects(ids, acting_user=request.user)
    except Refused as exc:
        context["error"] = exc.message
        return render(request, "intel/objects_revoke.html", context, status=status_of(exc))
    context.update(to_revoke=[{"obj": o, "name": search.display_name(o)} for o in to_revoke],
                   skipped=[{"obj": o, "name": search.display_name(o)} for o in skipped])
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = services_versions.do_revoke_objects(ids, acting_user=request.user,
                                                             reason=form.cleaned_data.get("reason", ""))
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                context["result"] = result
        else:
            status = 400
    return render(request, "intel/objects_revoke.html", context, status=status)
