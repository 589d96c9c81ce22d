"""Exchange pages: import a file, export a selection, federation subscriptions.

Thin views over `khien.intel.exchange` and `khien.intel.federation`: rights, validation and the
audit are theirs. A refused import shows every rejected object or row and stores nothing.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from khien.core.errors import Refused, status_of
from khien.core.forms import add_service_error
from khien.core.texts import folded

from . import federation, tlp, warninglists
from .exchange import run, stix_export
from .exchange.common import FORMAT_LABELS, ImportRejected, max_import_mb
from .exchange.csv_io import IMPORT_COLUMNS
from .models import STIX_TYPE_LABELS, Collection, Tlp, stix_type_label
from .models_federation import MAX_SECRET_LENGTH, FeedAuth, FeedSubscription

FORMAT_CHOICES = list(FORMAT_LABELS.items())


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File"))
    format = forms.ChoiceField(label=gettext_lazy("Format"), choices=FORMAT_CHOICES)
    collection = forms.ModelChoiceField(label=gettext_lazy("Into the collection"), queryset=Collection.objects.none())

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        writable = [c.pk for c in tlp.collections_for(user) if tlp.can_write_collection(user, c)]
        self.fields["collection"].queryset = Collection.objects.filter(pk__in=writable).order_by("title")

    def ask_file_again(self) -> None:
        """After an error the format and the collection are kept, the file cannot be (a browser never fills a file
        input): say so at the file field."""
        self.fields["file"].help_text = self["file"].help_text = _(
            "Choose the file again: the format and the collection are kept, the file cannot be.")


class StixTypesField(forms.MultipleChoiceField):
    """STIX types ticked in a list named in the reader's language; a comma-separated value (an older link,
    e.g. ?types=indicator,malware) is read as its parts."""

    def to_python(self, value):
        return [part.strip() for item in super().to_python(value) for part in item.split(",") if part.strip()]


def stix_type_choices() -> list[tuple[str, str]]:
    """(type, label) of the known STIX types, by label in the reader's language."""
    return sorted(((t, stix_type_label(t)) for t in STIX_TYPE_LABELS), key=lambda choice: folded(choice[1]))


class ExportForm(forms.Form):
    format = forms.ChoiceField(label=gettext_lazy("Format"), choices=FORMAT_CHOICES)
    collection = forms.ModelChoiceField(label=gettext_lazy("Collection"), queryset=Collection.objects.none(),
                                        required=False, empty_label=gettext_lazy("Everything I may see"))
    types = StixTypesField(label=gettext_lazy("STIX types"), required=False, widget=forms.CheckboxSelectMultiple,
                           help_text=gettext_lazy("None ticked: every type."))
    tlp = forms.MultipleChoiceField(label=gettext_lazy("TLP"), choices=Tlp.choices, required=False,
                                    widget=forms.CheckboxSelectMultiple)
    added_since = forms.DateField(label=gettext_lazy("Added from"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))
    ids = forms.CharField(label=gettext_lazy("Only these STIX ids"), required=False,
                          widget=forms.Textarea(attrs={"rows": 2}),
                          help_text=gettext_lazy("Comma- or line-separated. Empty: no restriction."))
    all_versions = forms.BooleanField(label=gettext_lazy("Every version (not only the latest)"), required=False)
    # A choice, not a tick box: a link or bookmark without it still exports active objects only.
    active_only = forms.TypedChoiceField(
        label=gettext_lazy("Which objects"), required=False, coerce=lambda v: v != "0", empty_value=True,
        choices=[("1", gettext_lazy("Active only (not revoked, not expired, already valid)")),
                 ("0", gettext_lazy("Also revoked, expired and not yet valid ones"))],
        help_text=gettext_lazy("Inactive indicators exported to MISP are marked not for IDS (to_ids false)."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].queryset = tlp.collections_for(user).order_by("title")
        self.fields["types"].choices = stix_type_choices()


class SubscriptionForm(forms.ModelForm):
    api_root_url = forms.URLField(label=gettext_lazy("Remote API root URL"), max_length=500, assume_scheme="https",
                                  help_text=gettext_lazy("For example https://taxii.partner.example/api1/"))
    password = forms.CharField(label=gettext_lazy("Password or token"), required=False, max_length=MAX_SECRET_LENGTH,
                               widget=forms.PasswordInput(render_value=False),
                               help_text=gettext_lazy("Never shown again. Leave empty to keep the stored one."))

    class Meta:
        model = FeedSubscription
        fields = ["name", "collection", "api_root_url", "remote_collection_id", "auth_kind", "username", "password",
                  "verify_tls", "interval_minutes", "enabled"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].queryset = federation.manageable_collections(user).order_by("title")

    def validate_unique(self):
        pass  # the service decides (and says so clearly)

    def _post_clean(self):
        pass  # the model is validated by the service, not by the form


def _local_midnight(day):
    """The start of a day picked in the form, in the platform's time zone (Asia/Ho_Chi_Minh), not UTC."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _nav(request, active):
    return {"exchange_active": active, "max_import_mb": max_import_mb()}


def _imported_links(collection, report) -> dict:
    """Where to see what an import stored: the search of the collection's objects stored today (what this import
    created is among them), and the collection's page."""
    today = timezone.localdate().isoformat()
    search = "{}?{}".format(reverse("intel:search"), urlencode(
        {"collection": collection.pk, "added_after": today, "added_before": today}))
    return {"imported_collection": collection, "imported_search_url": search if report.created else "",
            "imported_collection_url": reverse("intel:collection_detail", args=[collection.pk])}


@login_required
@require_http_methods(["GET", "POST"])
def exchange_import(request):
    """Upload a STIX bundle, MISP event or CSV into a collection the user may write to."""
    form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
    report, rejected, status, links = None, None, 200, {}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = run.import_file(data["format"], data["collection"], data["file"], acting_user=request.user,
                                     file_name=data["file"].name)
        except ImportRejected as exc:
            add_service_error(form, exc)
            rejected, status = exc.details(), 422
        except Refused as exc:
            add_service_error(form, exc)
            status = status_of(exc)
        else:
            links = _imported_links(data["collection"], report)
            messages.success(request, _("Imported: %(created)d new objects, %(existing)d already stored, "
                                        "%(added)d added to the collection.")
                             % {"created": report.created, "existing": report.existing,
                                "added": report.added_to_collection})
            if report.warnings:  # stored, as the API's answer says too (`warnings`)
                messages.warning(request, warninglists.listed_message(report.warnings))
            if report.skipped:
                messages.warning(request, ngettext("%(n)d MISP attribute was left out: it is listed below.",
                                                   "%(n)d MISP attributes were left out: they are listed below.",
                                                   len(report.skipped)) % {"n": len(report.skipped)})
    elif request.method == "POST":
        status = 400
    if request.method == "POST" and report is None:
        form.ask_file_again()
    return render(request, "intel/exchange_import.html", {
        "form": form, "report": report, "rejected": rejected, "csv_columns": IMPORT_COLUMNS, **links,
        # No collection to import into (an auditor, a trainee, a responder…): no form, but who may import.
        "can_import_intel": form.fields["collection"].queryset.exists(),
        **_nav(request, "import")}, status=status)


@login_required
def exchange_export(request):
    """Choose what to export; `download=1` sends the file (audited: an export is a disclosure)."""
    form = ExportForm(request.GET if "download" in request.GET else None, user=request.user)
    status = 200
    if form.is_bound:
        if form.is_valid():
            data = form.cleaned_data
            ids = [i for i in data["ids"].replace("\n", ",").split(",") if i.strip()]
            try:
                sel = stix_export.parse_selection(
                    request.user, collection=data["collection"], types=data["types"], tlp_levels=data["tlp"],
                    added_since=_local_midnight(data["added_since"]) if data["added_since"] else "", ids=ids,
                    all_versions=data["all_versions"], active_only=data["active_only"])
                content_type, name, body = run.export(data["format"], request.user, sel)
            except Refused as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                response = StreamingHttpResponse(body, content_type=content_type)
                response["Content-Disposition"] = f'attachment; filename="{name}"'
                return response
        else:
            status = 400
    return render(request, "intel/exchange_export.html", {"form": form, **_nav(request, "export")}, status=status)


def _subscription_or_404(user, pk):
    return get_object_or_404(federation.subscriptions_for(user).select_related("collection"), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def exchange_federation(request):
    """The user's subscriptions with their last run, and a form to add one."""
    form = SubscriptionForm(request.POST or None, user=request.user, initial={"interval_minutes": 60})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                sub = federation.do_create_subscription(form.cleaned_data, acting_user=request.user)
            except Refused as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, _("Subscription “%(name)s” created.") % {"name": sub.name})
                return redirect("intel:exchange_federation")
        else:
            status = 400
    subs = federation.subscriptions_for(request.user).select_related("collection").order_by("name")
    return render(request, "intel/exchange_federation.html", {
        "form": form, "subscriptions": subs, "can_create": federation.manageable_collections(request.user).exists(),
        "auth_none": FeedAuth.NONE, **_nav(request, "federation")}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def exchange_subscription_edit(request, pk):
    sub = _subscription_or_404(request.user, pk)
    form = SubscriptionForm(request.POST or None, instance=sub, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items()}
            try:
                federation.do_update_subscription(FeedSubscription.objects.get(pk=sub.pk), data,
                                                  acting_user=request.user)
            except Refused as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, _("Subscription saved."))
                return redirect("intel:exchange_federation")
        else:
            status = 400
    return render(request, "intel/exchange_subscription.html", {"form": form, "sub": sub,
                                                                 **_nav(request, "federation")}, status=status)


@login_required
@require_POST
def exchange_subscription_pull(request, pk):
    sub = federation.do_pull(_subscription_or_404(request.user, pk), acting_user=request.user)
    if sub.last_status == "ok":
        messages.success(request, _("“%(name)s” pulled: %(count)d objects received.")
                         % {"name": sub.name, "count": sub.last_count})
    else:
        messages.error(request, _("“%(name)s” could not be pulled: %(error)s")
                       % {"name": sub.name, "error": sub.last_error})
    return redirect("intel:exchange_federation")


@login_required
@require_POST
def exchange_subscription_delete(request, pk):
    sub = _subscription_or_404(request.user, pk)
    federation.do_delete_subscription(sub, acting_user=request.user)
    messages.success(request, _("Subscription “%(name)s” deleted.") % {"name": sub.name})
    return redirect("intel:exchange_federation")
