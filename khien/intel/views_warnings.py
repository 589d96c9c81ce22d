"""Early-warning pages (inbox, detail, acknowledgement, reminder, update, issue form) and the allow-list.

Who sees a warning and who may issue or acknowledge it is decided in
`services_warnings`; the allow-list's rights in `warninglists`. A warning the
user may not see is a 404; a refused write is shown with the service's status.
"""
from __future__ import annotations

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from khien.core.confirmation import ask_first, confirmed
from khien.core.errors import Refused, status_of
from khien.core.forms import add_service_error
from khien.core.scoping import is_national_coordinator

from . import indicator_picker, search, services_warnings as sw, warning_exports, warning_sightings, warninglists
from .forms import AcknowledgeForm, AllowEntryForm, WarningForm
from .models import AllowListEntry, IndicatorKind

PAGE_SIZE = 25
TARGETS_PAGE_SIZE = 50  # target organizations listed on a warning's page at a time


class WarningUpdateForm(django_forms.Form):
    """An update to an issued warning (`services_warnings.do_update_warning`): what changed, a new deadline."""

    text = django_forms.CharField(
        label=_l("What changed"), required=False, max_length=sw.UPDATE_TEXT_MAX,
        widget=django_forms.Textarea(attrs={"rows": 4}),
        help_text=_l("New information, corrected advice… The warning's own text stays as issued."))
    respond_by = django_forms.DateTimeField(
        label=_l("New reply deadline"), required=False,
        widget=django_forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    remove_deadline = django_forms.BooleanField(label=_l("Remove the reply deadline"), required=False)

    def __init__(self, *args, warning, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["respond_by"].help_text = _(
            "Vietnam time, at most %(days)d days ahead; leave it empty to keep the current deadline."
        ) % {"days": sw.RESPOND_BY_MAX.days}
        if warning.respond_by is None:
            del self.fields["remove_deadline"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("remove_deadline") and cleaned.get("respond_by"):
            raise django_forms.ValidationError(_("Either give a new reply deadline or remove it, not both."))
        return cleaned

    def service_args(self) -> dict:
        d = self.cleaned_data
        if d.get("remove_deadline"):
            respond_by = None
        else:
            respond_by = d.get("respond_by") or sw.UNCHANGED
        return {"text": d.get("text", ""), "respond_by": respond_by}


@login_required
@require_GET
def warning_inbox(request):
    """The warnings sent to the user's organizations, with their answers; sent warnings for issuers."""
    user = request.user
    pending_only = request.GET.get("pending") == "1"
    inbox = sw.inbox_for(user)
    if pending_only:
        inbox = inbox.filter(state__isnull=True)
    received = Paginator(inbox.annotate(n_updates=Count("warning__updates")), PAGE_SIZE) \
        .get_page(request.GET.get("page"))
    rows = [{"target": t, "can_ack": sw.can_acknowledge(user, t),
             "form": AcknowledgeForm(prefix=f"t{t.pk}", initial={"state": t.state or "received", "note": t.note})}
            for t in sw.with_matched_labels(received)]
    sent, sent_query = None, request.GET.get("sent_q", "").strip()[:200]
    if sw.can_issue(user) or is_national_coordinator(user):
        # The warnings whose targets the user may see (`sw.can_view_targets`): those their organizations sent,
        # every warning for the coordinator; never the ones they only received (targets and answers are the
        # sender's).
        followed = sw.warnings_visible_to(user)
        if not is_national_coordinator(user):
            followed = followed.filter(organization_id__in=sw._org_ids(user))
        if sent_query:  # by title, or by the sender's code
            followed = followed.filter(Q(title__icontains=sent_query) | Q(organization__code__iexact=sent_query))
        sent = Paginator(followed.select_related("organization")
                         .annotate(n_targets=Count("targets", distinct=True),
                                   n_open=Count("targets", filter=Q(targets__state__isnull=True), distinct=True),
                                   n_updates=Count("updates", distinct=True))
                         .order_by("-created_at"), PAGE_SIZE).get_page(request.GET.get("sent_page"))
    return render(request, "intel/warning_inbox.html", {
        "page": received, "rows": rows, "sent": sent, "sent_query": sent_query, "pending_only": pending_only,
        "can_issue": sw.can_issue(user), "now": timezone.now()})


def _visible_warning(user, pk):
    return get_object_or_404(sw.warnings_visible_to(user).select_related("organization", "created_by"), pk=pk)


def _warning_detail(request, warning, forms=None, status=200, remind_error=None, update_form=None):
    user = request.user
    forms = forms or {}
    can_follow_up = sw.can_follow_up(user, warning)
    updates = list(sw.updates_of(warning))
    mine = [{"target": t, "can_ack": sw.can_acknowledge(user, t),
             "form": forms.get(t.pk) or AcknowledgeForm(prefix=f"t{t.pk}",
                                                        initial={"state": t.state or "received", "note": t.note})}
            for t in sw.with_matched_labels(sw.inbox_for(user).filter(warning=warning))]
    show_targets = sw.can_view_targets(user, warning)
    targets = answer = None
    if show_targets:  # a warning to a whole sector has hundreds: filtered by answer, a page at a time
        answer = request.GET.get("answer", "")
        chosen = warning.targets.select_related("organization", "acknowledged_by").order_by("organization__code")
        if answer == "pending":
            chosen = chosen.filter(state__isnull=True)
        elif answer == "answered":
            chosen = chosen.filter(state__isnull=False)
        else:
            answer = ""
        targets = Paginator(chosen, TARGETS_PAGE_SIZE).get_page(request.GET.get("targets_page"))
        targets.object_list = sw.with_matched_labels(targets.object_list, sender_view=True, reader=user)
    report = search.latest_visible(user, warning.report_id) if warning.report_id else None
    indicators = search.latest_versions(user, warning.indicator_refs or [])
    named = [indicators[i] for i in warning.indicator_refs or [] if i in indicators]
    # One line per value, the indicators carrying it named together; and what the reader's own monitoring saw.
    groups = warning_sightings.indicator_groups(named)
    seen = warning_sightings.seen_by_my_organizations(
        user, warning, warning_sightings.warning_values(warning, [g.value for g in groups if g.value]))
    # The other warnings citing the same values (the same wave warned twice), those the reader may see.
    related = sw.related_warnings(user, warning, [g.value for g in groups if g.value])
    lists = warninglists.compiled()
    values = [{"kind": v.get("kind"), "value": v.get("value"),
               "lists": warninglists.hits(v.get("kind", ""), v.get("value", ""), lists)}
              for v in warning.values or [] if isinstance(v, dict)]
    return render(request, "intel/warning_detail.html", {
        "warning": warning, "mine": mine, "targets": targets, "answer": answer, "show_targets": show_targets,
        "not_acknowledged": sw.not_acknowledged(warning) if show_targets else None,
        "past_due": sw.is_past_due(warning), "can_remind": can_follow_up,
        "remind_error": remind_error,
        "updates": updates, "last_update": updates[-1] if updates else None,
        "update_form": (update_form or WarningUpdateForm(warning=warning)) if can_follow_up else None,
        "report": report, "indicators": named, "indicator_groups": groups, "seen": seen,
        "values": values, "related": related, "names_c2": sw.names_c2(named),
        "downloads": bool(warning.values or warning.indicator_refs), "download_formats": warning_exports.FORMATS,
    }, status=status)


@login_required
@require_GET
def warning_detail(request, pk):
    return _warning_detail(request, _visible_warning(request.user, pk))


@login_required
@require_GET
def warning_download(request, pk, fmt):
    """The warning's values as a file (TXT, CSV, STIX, RPZ) for a firewall or a DNS server: what the page shows the
    reader (`warning_exports`); a warning they may not see is a 404; audited."""
    if fmt not in warning_exports.FORMATS:
        raise Http404
    warning = _visible_warning(request.user, pk)
    content_type, name, body = warning_exports.export(request.user, warning, fmt)
    response = (HttpResponse(body, content_type=content_type) if isinstance(body, str)
                else StreamingHttpResponse(body, content_type=content_type))
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def warning_acknowledge(request, pk):
    """One target organization's answer (received / acted / not affected) with a note."""
    user = request.user
    target = get_object_or_404(sw.inbox_for(user).filter(warning__in=sw.warnings_visible_to(user)), pk=pk)
    form = AcknowledgeForm(request.POST, prefix=f"t{target.pk}")
    if form.is_valid():
        try:
            sw.do_acknowledge(target, form.cleaned_data["state"], form.cleaned_data.get("note", ""), acting_user=user)
        except (Refused, ValidationError) as exc:
            add_service_error(form, exc)
            return _warning_detail(request, target.warning, {target.pk: form}, status=status_of(exc))
        messages.success(request, _("Your answer to “%(title)s” is recorded.") % {"title": target.warning.title})
        if request.POST.get("next") == "inbox":
            return redirect("intel:warning_inbox")
        return redirect("intel:warning_detail", pk=target.warning_id)
    return _warning_detail(request, target.warning, {target.pk: form}, status=400)


@login_required
@require_POST
def warning_remind(request, pk):
    """Remind the target organizations that have not answered (whoever may issue for the sender organization)."""
    warning = _visible_warning(request.user, pk)
    try:
        reminded = sw.do_remind_warning(warning, acting_user=request.user)
    except Refused as exc:
        if status_of(exc) == 403:
            raise PermissionDenied(exc.message)
        return _warning_detail(request, warning, status=status_of(exc), remind_error=exc.message)
    messages.success(request, ngettext("Reminder sent to %(n)d organization.", "Reminder sent to %(n)d organizations.",
                                       len(reminded)) % {"n": len(reminded)})
    return redirect("intel:warning_detail", pk=warning.pk)


@login_required
@require_POST
def warning_update(request, pk):
    """Add an update to an issued warning: what changed and/or a new reply deadline (whoever may follow it up)."""
    warning = _visible_warning(request.user, pk)
    if not sw.can_follow_up(request.user, warning):
        raise PermissionDenied(_("Only those who may issue warnings for the sender organization, or the national "
                                 "coordinator, can update this warning."))
    form = WarningUpdateForm(request.POST, warning=warning)
    if not form.is_valid():
        return _warning_detail(request, warning, status=400, update_form=form)
    try:
        update = sw.do_update_warning(warning, acting_user=request.user, **form.service_args())
    except (Refused, ValidationError) as exc:
        if status_of(exc) == 403:
            raise PermissionDenied(exc.message)
        add_service_error(form, exc)
        return _warning_detail(request, warning, status=status_of(exc), update_form=form)
    n = warning.targets.count()
    messages.success(request, ngettext("Update %(number)d sent to %(n)d target organization.",
                                       "Update %(number)d sent to %(n)d target organizations.", n)
                     % {"number": update.number, "n": n})
    return redirect("intel:warning_detail", pk=warning.pk)


@login_required
@require_http_methods(["GET", "POST"])
def warning_create(request):
    user = request.user
    if not sw.can_issue(user):
        raise PermissionDenied(str(sw.ISSUERS_ONLY))
    form = WarningForm(request.POST or None, user=user)
    status = 200
    wants_preview = request.method == "POST" and "preview" in request.POST
    # "Search" among the stored indicators (the way without JavaScript; with it, `indicator_pick` answers as one
    # types; it is also the form's first button, so Enter in a field searches rather than sends): the form comes
    # back with what was found, as boxes to tick, nothing sent.
    searching = request.method == "POST" and "indicator_search" in request.POST
    found = None
    if searching:
        form.is_valid()
        form.keep_only_indicator_errors()
        found = _indicators_found(request.POST.get("indicator_q", ""), form, user)
        status = 400 if found.get("error") else 200
    elif request.method == "POST":
        if form.is_valid() and not wants_preview:
            data, targeting = form.service_args()
            try:
                warning = sw.do_issue_warning(data, acting_user=user, **targeting)
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, _("Warning sent to %(n)d organizations.") % {"n": warning.targets.count()})
                return redirect("intel:warning_detail", pk=warning.pk)
        elif not form.is_valid() and not (wants_preview and _only_confirmation_missing(form)):
            status = 400
    preview = None if searching else _recipients_preview(form, user)
    form.show_pasted_as_chosen()
    return render(request, "intel/warning_form.html",
                  {"form": form, "preview": preview, "previewed": wants_preview,
                   "chosen_indicators": form.chosen_indicators() if form.is_bound else [], "found": found,
                   "query_min": indicator_picker.QUERY_MIN, "query_max": indicator_picker.QUERY_MAX},
                  status=status)


def _indicators_found(raw_query, form, user) -> dict:
    """What a search among the stored indicators found (`indicator_picker.find`), those already chosen left out:
    {query, results, more} or, for a text that cannot be searched, {query, error}; nothing typed: {query: ""}."""
    query = " ".join(str(raw_query or "").split())[:indicator_picker.QUERY_MAX + 1]
    if not query:
        return {"query": ""}
    try:
        results, more = indicator_picker.find(user, query, exclude=getattr(form, "picked", []))
    except indicator_picker.BadQuery as exc:
        return {"query": query, "error": str(exc)}
    return {"query": query, "results": results, "more": more}


@require_GET
def indicator_pick(request):
    """The early-warning form's indicator picker as one types (indicator-picker.js): the indicators the user may
    see that a value or words of a name find (`indicator_picker.find`: the search page's own queries), at most
    `indicator_picker.MAX_RESULTS`, as JSON. Signed out: a 401 (not the sign-in page, which a script cannot
    show); a text too short or too long: a 400 saying so."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": _("Your session has ended: sign in again.")}, status=401)
    try:
        results, more = indicator_picker.find(request.user, request.GET.get("q", ""))
    except indicator_picker.BadQuery as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    response = JsonResponse({"results": [r.as_json() for r in results], "more": more})
    response["Cache-Control"] = "private, no-store"
    return response


def _only_confirmation_missing(form) -> bool:
    """Is the form right but for the confirmation of warning-listed values (asked when it is sent)?"""
    return set(form.errors) <= {"confirm_warninglisted"}


def _recipients_preview(form, user) -> dict | None:
    """How many organizations the warning would reach, shown before it is sent (asked with "Count the recipients",
    and with the warning-listed values' confirmation): auto-match may add many. None while the form has other
    problems."""
    if not form.is_bound or not _only_confirmation_missing(form):
        return None
    data, targeting = form.service_args()
    try:
        return sw.preview_targets(data, acting_user=user, **targeting)
    except (Refused, ValidationError):
        return None


# --- Allow-list --------------------------------------------------------------------------------------


def _check(value: str) -> dict | None:
    value = (value or "").strip()
    if not value:
        return None
    guessed = search.guess_kind(value)
    if guessed is None:
        return {"value": value, "kind": None, "lists": []}
    kind, normalized = guessed
    return {"value": normalized, "kind": IndicatorKind(kind).label, "lists": warninglists.hits(kind, normalized)}


def _allowlist(request, form=None, status=200):
    user = request.user
    can_edit = is_national_coordinator(user)
    page = Paginator(AllowListEntry.objects.select_related("added_by"), 50).get_page(request.GET.get("page"))
    return render(request, "intel/allowlist.html", {
        "page": page, "can_edit": can_edit, "form": form or (AllowEntryForm() if can_edit else None),
        "check": _check(request.GET.get("check", "")), "check_value": request.GET.get("check", ""),
        "lists": warninglists.load_file(),
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def allowlist(request):
    """Everyone signed in reads the allow-list and checks values; the coordinator adds entries."""
    if request.method == "GET":
        return _allowlist(request)
    form = AllowEntryForm(request.POST)
    if not form.is_valid():
        return _allowlist(request, form, 400)
    d = form.cleaned_data
    try:
        entry = warninglists.do_add_allow_entry(d["kind"], d["value"], note=d.get("note", ""), acting_user=request.user)
    except (Refused, ValidationError) as exc:
        if status_of(exc) == 403:
            raise PermissionDenied(exc.message)
        add_service_error(form, exc)
        return _allowlist(request, form, status_of(exc))
    messages.success(request, _("“%(v)s” added to the allow-list.") % {"v": entry.value})
    return redirect("intel:allowlist")


@login_required
@require_POST
def allowlist_delete(request, pk):
    """Remove a value from the allow-list (the coordinator; anyone else is refused, not asked), once asked: by the
    button's dialog, or without JavaScript by a confirmation page (`core.confirmation`), nothing removed until
    then: the value is no longer known-good for the blocklists and the SOC matching."""
    entry = get_object_or_404(AllowListEntry, pk=pk)
    if not is_national_coordinator(request.user):
        raise PermissionDenied(_("Only the national coordinator can change the allow-list."))
    if not confirmed(request):
        return ask_first(
            request, title=_("Remove from the allow-list"), button=_("Remove"),
            question=_("Remove “%(v)s” from the allow-list? The platform then no longer treats this value as "
                       "known-good.") % {"v": entry.value},
            cancel_url=reverse("intel:allowlist") + "#allow-entries")
    try:
        warninglists.do_remove_allow_entry(entry, acting_user=request.user)
    except Refused as exc:
        if status_of(exc) == 403:
            raise PermissionDenied(exc.message)
        messages.error(request, exc.message)
        return redirect("intel:allowlist")
    messages.success(request, _("“%(v)s” removed from the allow-list.") % {"v": entry.value})
    return redirect("intel:allowlist")
