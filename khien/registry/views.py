"""Registry pages: dashboard, organizations, information systems, ISACs, imports.

Views stay thin: they read through `visible_to` / `restrict`, validate with a
form and call `services.py` for every write. An object outside the user's
scope is a 404; a visible object the user may not change is a 403. Refusals
from services are shown with their status code (403, 409, 400…), never a 500.
"""
from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from khien.core import twofactor
from khien.core.confirmation import ask_first, confirmed
from khien.core.errors import Forbidden, Refused, status_of
from khien.core.forms import add_service_error
from khien.core.roles import Action, Role
from khien.core.scoping import NOTHING, forget_memberships, is_national_coordinator, scope_for, user_can

from . import levels, services, stats
from .filters import InformationSystemFilter, IsacFilter, OrganizationFilter
from .forms import (
    DossierUploadForm,
    ImportForm,
    IsacForm,
    MemberForm,
    MembershipRoleForm,
    OrganizationForm,
    StepForm,
    SystemForm,
)
from .models import (
    GAP_LABELS,
    DossierFile,
    ImportJob,
    ImportKind,
    InformationSystem,
    Isac,
    LevelStatus,
    Membership,
    Organization,
)

PAGE_SIZE = 50
EXPORT_FORMATS = {"csv", "xlsx"}
STEP_LABELS = {
    "submit": gettext_lazy("Submit for appraisal"),
    "appraise": gettext_lazy("Record the appraisal"),
    "approve": gettext_lazy("Approve the level"),
    "return": gettext_lazy("Return the proposal"),
    "revise": gettext_lazy("Start a revision"),
}
# What the page says once a step is taken, and asks before the steps that lock or decide something.
STEP_DONE = {
    "submit": gettext_lazy("The proposal was submitted for appraisal; those who appraise it have been told."),
    "appraise": gettext_lazy("The appraisal was recorded; those who approve the level have been told."),
    "approve": gettext_lazy("The level was approved; the owner's people have been told."),
    "return": gettext_lazy("The proposal was returned with your reason; the owner's people have been told."),
    "revise": gettext_lazy("The proposal is a draft again; the approved level stands until a new one is approved."),
}
STEP_CONFIRM = {
    "submit": gettext_lazy("Submit the proposal for appraisal? The criteria and the dossier are locked until it is "
                           "decided or returned."),
    "appraise": gettext_lazy("Record this appraisal opinion? It goes to those who approve the level."),
    "approve": gettext_lazy("Approve the level with this decision? It is recorded in the system's history."),
    "revise": gettext_lazy("Start a revision? The level goes back to draft and must be approved again."),
    "return": gettext_lazy("Return the proposal for correction? Those who submit the organization's levels are told, "
                           "with your reason."),
}


# --- helpers ---------------------------------------------------------------------------


def _can_anywhere(user, action: str) -> bool:
    return scope_for(user, action) != NOTHING


def _filtered_list(request, filterset_class, queryset, export_kind: str, template: str, extra: dict, page_hook=None):
    """A list page: one FilterSet, 50 per page, and ?format=csv|xlsx exporting the same filtered rows."""
    filterset = filterset_class(request.GET or None, queryset=queryset, request=request)
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else queryset
    if filterset.is_bound and not filterset.is_valid():
        rows = queryset.none()
    fmt = request.GET.get("format")
    if fmt is not None and export_kind:
        if fmt not in EXPORT_FORMATS:
            return HttpResponse(_("Unknown export format; use csv or xlsx."), status=400, content_type="text/plain; charset=utf-8")
        from khien.registry.imports import export_file

        filters = {key: request.GET.getlist(key) for key in request.GET if key != "format"}
        content, content_type, filename = export_file(export_kind, rows, fmt, acting_user=request.user, filters=filters)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    if page_hook:  # what the page shows beyond the rows' own columns, for the page's rows only
        page_hook(page)
    # A filter applied (not paging, sorting or exporting) opens a folded filter box.
    filtering = any(v for k, v in request.GET.items() if k not in ("page", "sort", "format"))
    return render(request, template, {"filter": filterset, "page": page, "filtering": filtering, **extra})


# --- dashboard ------------------------------------------------------------------------------


@login_required
def dashboard(request):
    data = stats.dashboard(request.user)
    charts = data["charts"]
    # The same numbers as tables, readable without the chart library or JavaScript.
    tables = {key: list(zip(chart["labels"], chart["values"])) for key, chart in charts.items() if "values" in chart}
    layers = charts["layers"]
    tables["layers"] = [(label, [s["values"][i] for s in layers["series"]]) for i, label in enumerate(layers["labels"])]
    return render(request, "registry/dashboard.html", {
        "kpis": data["kpis"], "charts": charts, "tables": tables,
        "has_echarts": bool(finders.find("vendor/echarts/echarts.min.js")),
    })


# --- organizations ----------------------------------------------------------------------------


@login_required
def organization_list(request):
    queryset = Organization.objects.visible_to(request.user).select_related("parent", "province")
    return _filtered_list(request, OrganizationFilter, queryset, "organizations", "registry/organization_list.html", {
        "can_add": _can_anywhere(request.user, Action.ADD),
    })


def _member_rows(org, user, can_manage: bool) -> list:
    """The members `user` may read (`services.members_readable_by`); for one who manages them, each row with its role
    select (none when the role is not one `user` may grant) and what its buttons need. An auditor reads the rows only."""
    rows = list(services.members_readable_by(user).filter(organization=org).select_related("user")
                .order_by("user__email"))
    last = services.last_roles(rows) if can_manage else set()  # removing these closes the account: said first
    for m in rows:
        m.role_form = None
        if can_manage:
            form = MembershipRoleForm(user=user, initial={"role": m.role}, prefix=f"m{m.pk}")
            m.role_form = form if m.role in dict(form.fields["role"].choices) else None
        m.last_role = m.pk in last
        # Who has an authenticator to reset (a new phone).
        m.second_factor_resettable = can_manage and m.second_factor_on and m.user_id != user.pk
        # One's own administrator row: saving another role there takes one's own rights away, asked first.
        m.own_admin_row = _own_admin_row(m, user)
        if can_manage:  # the buttons' questions: the same words as the page that asks without JavaScript
            m.own_role_question = _own_role_question(org) if m.own_admin_row else ""
            m.remove_question = _remove_member_question(m, closes_account=m.last_role)
            m.second_factor_question = _second_factor_question(m)
    return rows


# The questions asked before a member's row is changed for good: by the button's dialog, and without JavaScript by
# the page `ask_first` answers with (`core.confirmation`). One wording for both.


def _own_admin_row(membership, user) -> bool:
    return membership.user_id == user.pk and membership.role == Role.ORG_ADMIN


def _own_role_question(org) -> str:
    return _("Change your own role? With any role other than administrator you lose the administrator rights in "
             "%(org)s: you can no longer manage its members nor give yourself the role back.") % {"org": org.name}


def _remove_member_question(membership, *, closes_account: bool) -> str:
    if closes_account:
        return _("Remove %(who)s from the organization? It is their last role on the platform: their account is "
                 "deactivated, their open sessions end and their API tokens are revoked. Adding them again later "
                 "reactivates the account.") % {"who": membership.user.email}
    return _("Remove %(who)s from the organization?") % {"who": membership.user.email}


def _second_factor_question(membership) -> str:
    return _("Reset the two-step sign-in of %(who)s? Do it only when you have made sure it is them asking (a new or "
             "lost phone): at their next sign-in they scan a new QR code.") % {"who": membership.user.email}


def _refused_anyway(check, *args, **kwargs) -> bool:
    """Would the service refuse this change (`check` raises)? Then it is not asked first: the service says why."""
    try:
        check(*args, **kwargs)
    except Refused:
        return True
    return False


def _organization_context(request, org, member_form=None):
    user = request.user
    can_manage = user_can(user, Action.MANAGE_MEMBERS, org)
    return {
        "org": org,
        # A parent the reader may not view (a commune's province) is named, not linked: its page would be a 404.
        "parent_visible": bool(org.parent_id)
        and Organization.objects.visible_to(user).filter(pk=org.parent_id).exists(),
        "children": Organization.objects.visible_to(user).filter(parent=org).order_by("code"),
        "systems": InformationSystem.objects.visible_to(user).filter(owner=org).order_by("code")[:100],
        "system_count": InformationSystem.objects.visible_to(user).filter(owner=org).count(),
        "can_change": user_can(user, Action.CHANGE, org),
        "can_delete": services.may_delete_organization(user, org),
        "can_add_child": user_can(user, Action.ADD, org),
        "can_manage": can_manage,
        # Those who manage the members, and the organization's auditors (read only): `services.may_read_members`.
        "memberships": _member_rows(org, user, can_manage) if services.may_read_members(user, org) else None,
        "member_form": member_form or (MemberForm(user=user) if can_manage else None),
    }


@login_required
def organization_detail(request, pk):
    org = get_object_or_404(Organization.objects.visible_to(request.user).select_related("parent", "province"), pk=pk)
    return render(request, "registry/organization_detail.html", _organization_context(request, org))


@login_required
@require_http_methods(["GET", "POST"])
def organization_create(request):
    if not _can_anywhere(request.user, Action.ADD):
        raise PermissionDenied
    initial = {}
    if request.GET.get("parent"):
        parent = Organization.objects.restrict(request.user, Action.ADD).filter(code=request.GET["parent"]).first()
        if parent:
            initial["parent"] = parent
    form = OrganizationForm(request.POST or None, user=request.user, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data, sectors = form.service_data()
            try:
                org = services.do_create_organization(data, acting_user=request.user, sectors=sectors)
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, _("Organization “%(name)s” created.") % {"name": org.name})
                return redirect("registry:organization_detail", pk=org.pk)
        else:
            status = 400
    return render(request, "registry/organization_form.html", {"form": form, "org": None}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def organization_edit(request, pk):
    org = get_object_or_404(Organization.objects.visible_to(request.user), pk=pk)
    if not user_can(request.user, Action.CHANGE, org):
        raise PermissionDenied
    form = OrganizationForm(request.POST or None, instance=org, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data, sectors = form.service_data()
            try:
                org = services.do_update_organization(org, data, acting_user=request.user, sectors=sectors)
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("registry:organization_detail", pk=org.pk)
        else:
            status = 400
    org.refresh_from_db()
    return render(request, "registry/organization_form.html", {"form": form, "org": org}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def organization_delete(request, pk):
    org = get_object_or_404(Organization.objects.visible_to(request.user), pk=pk)
    cancel_url = reverse("registry:organization_detail", args=[org.pk])
    if not services.may_delete_organization(request.user, org):
        # Reached by typing the address (the page offers no button): the page says who may, in the user's language.
        return render(request, "registry/confirm_delete.html", {
            "object": org, "title": _("Delete the organization"), "cancel_url": cancel_url, "denied": True,
            "error": services.deletion_denied_message(org),
        }, status=403)
    blocking, lost = services.organization_dependents(org)
    return _confirm_delete(
        request, org, services.do_delete_organization, title=_("Delete the organization"),
        done_message=_("Organization deleted."), done_url="registry:organization_list", cancel_url=cancel_url,
        # The same rule as deleting (`may_delete_organization`): who may delete it may switch it off.
        extra={"blocking": blocking, "lost": lost, "can_switch_off": org.is_active,
               "edit_url": reverse("registry:organization_edit", args=[org.pk])},
    )


def _confirm_delete(request, obj, delete, *, title, done_message, done_url, cancel_url, extra=None):
    """GET asks for confirmation; POST deletes through the service (a refusal is shown, nothing changes)."""
    error, status = None, 200
    if request.method == "POST":
        try:
            delete(obj, acting_user=request.user)
        except Refused as exc:
            error, status = exc.message, exc.status
        else:
            messages.success(request, done_message)
            return redirect(done_url)
    return render(request, "registry/confirm_delete.html", {
        "object": obj, "error": error, "cancel_url": cancel_url, "title": title, **(extra or {}),
    }, status=status)


def _managed_organization(request, pk) -> Organization:
    """An organization the user sees (404 otherwise) and whose members they manage (403 otherwise)."""
    org = get_object_or_404(Organization.objects.visible_to(request.user), pk=pk)
    if not user_can(request.user, Action.MANAGE_MEMBERS, org):
        raise PermissionDenied
    return org


def _members_url(org) -> str:
    return reverse("registry:organization_detail", args=[org.pk]) + "#members"


def _role_label(role: str) -> str:
    return str(Role(role).label)


@login_required
@require_POST
def organization_member_add(request, pk):
    org = _managed_organization(request, pk)
    form = MemberForm(request.POST, user=request.user)
    if form.is_valid():
        email, role = form.cleaned_data["email"], form.cleaned_data["role"]
        try:
            services.do_add_member(org, email, role, acting_user=request.user,
                                   full_name=form.cleaned_data["full_name"], create_only=True,
                                   confirm_national_role=form.cleaned_data.get("confirm_national_role", False))
        except Refused as exc:
            confirm = exc.code == services.NATIONAL_ROLE_UNCONFIRMED and "confirm_national_role" in form.fields
            form.add_error("confirm_national_role" if confirm else None, exc.message)
            status = exc.status
        else:
            # The same words whether the account existed or was created (no probing of addresses).
            messages.success(request, _("%(email)s now has the role “%(role)s” in %(org)s; they are told by e-mail.")
                             % {"email": email, "role": _role_label(role), "org": org.name})
            return redirect(_members_url(org))
    else:
        status = 400
    return render(request, "registry/organization_detail.html", _organization_context(request, org, form), status=status)


@login_required
@require_POST
def organization_member_role(request, pk, membership_id):
    """A member's row: change the role in place. A refusal comes back to the page as a message (safe to reload)."""
    org = _managed_organization(request, pk)
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id, organization=org)
    form = MembershipRoleForm(request.POST, user=request.user, prefix=f"m{membership.pk}")
    if not form.is_valid():
        messages.error(request, _("Choose one of the roles offered."))
        return redirect(_members_url(org))
    old, new = membership.role, form.cleaned_data["role"]
    names = {"email": membership.user.email, "old": _role_label(old), "new": _role_label(new)}
    if old == new:
        messages.info(request, _("%(email)s already has the role “%(new)s”: nothing changed.") % names)
        return redirect(_members_url(org))
    # Only one's own administrator row is asked first (its button's dialog); another row changes at once, as a role
    # given by mistake is given back. The only administrator is refused by the service, not asked.
    if (_own_admin_row(membership, request.user) and not confirmed(request)
            and not _refused_anyway(services.refuse_locking_oneself_out, membership, request.user, new_role=new)):
        return ask_first(request, question=_own_role_question(org), button=_("Change my role"),
                         note=_("New role: “%(role)s”.") % {"role": _role_label(new)}, cancel_url=_members_url(org))
    try:
        services.do_set_membership(org, membership.user, new, acting_user=request.user,
                                   confirm_national_role=form.cleaned_data.get("confirm_national_role", False))
    except Forbidden:
        raise PermissionDenied
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        if membership.user_id == request.user.pk:  # one's own role: said to oneself
            names["org"] = org.name
            forget_memberships(request.user)
            if user_can(request.user, Action.MANAGE_MEMBERS, org):
                messages.success(request, _("Your role in %(org)s changed from “%(old)s” to “%(new)s”.") % names)
            else:
                messages.success(request, _("Your role in %(org)s changed from “%(old)s” to “%(new)s”: you no "
                                            "longer administer this organization.") % names)
                return redirect("registry:organization_detail", org.pk)
        else:
            messages.success(request, _("The role of %(email)s changed from “%(old)s” to “%(new)s”; they are told "
                                        "by e-mail.") % names)
    return redirect(_members_url(org))


@login_required
@require_POST
def organization_member_remove(request, pk, membership_id):
    org = _managed_organization(request, pk)
    membership = get_object_or_404(Membership.objects.select_related("user", "organization"), pk=membership_id, organization=org)
    if not confirmed(request) and not _refused_anyway(services.refuse_locking_oneself_out, membership, request.user):
        question = _remove_member_question(membership, closes_account=services.removal_closes_account(membership))
        return ask_first(request, question=question, button=_("Remove the member"), cancel_url=_members_url(org))
    try:
        closed = services.do_remove_membership(membership, acting_user=request.user)
    except Forbidden:
        raise PermissionDenied
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        names = {"email": membership.user.email}
        if closed:
            messages.success(request, _("%(email)s was removed from the organization. Holding no other role, their "
                                        "account was deactivated: their sessions ended and their API tokens were "
                                        "revoked. They are told by e-mail.") % names)
        else:
            messages.success(request, _("%(email)s was removed from the organization; they are told by e-mail.") % names)
    return redirect(_members_url(org))


@login_required
@require_POST
def organization_member_second_factor(request, pk, membership_id):
    """Reset a member's two-step sign-in (a new phone): `services.do_reset_member_second_factor`."""
    org = _managed_organization(request, pk)
    membership = get_object_or_404(Membership.objects.select_related("user", "organization"), pk=membership_id,
                                   organization=org)
    if not confirmed(request) and _second_factor_reset_offered(request.user, membership):
        return ask_first(request, question=_second_factor_question(membership), button=_("Reset two-step sign-in"),
                         cancel_url=_members_url(org))
    try:
        services.do_reset_member_second_factor(membership, acting_user=request.user)
    except Refused as exc:  # Forbidden too: oneself, or a member of an organization the user does not administer
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Two-step sign-in of %(email)s was reset: they were signed out everywhere, set "
                                    "it up again at their next sign-in, and were told.") % {
            "email": membership.user.email})
    return redirect(_members_url(org))


def _second_factor_reset_offered(user, membership) -> bool:
    """Is the reset asked first? Not when there is nothing to reset or `services.refuse_member_second_factor_reset`
    refuses it (oneself, a person also in an organization `user` does not administer): the refusal is said at once."""
    return (twofactor.has_confirmed_device(membership.user)
            and not _refused_anyway(services.refuse_member_second_factor_reset, membership, acting_user=user))


# --- information systems ------------------------------------------------------------------


SYSTEM_SORTS = ("waiting_since", "-waiting_since")


@login_required
def system_list(request):
    """The systems; `?sort=waiting_since` (or `-waiting_since`) orders them by how long their level has waited in its
    status (`services.with_waiting_since`), oldest first by default in the queue of one's own decisions
    (`?awaiting_me=`), where that column is shown."""
    queryset = services.with_waiting_since(InformationSystem.objects.visible_to(request.user).select_related("owner"))
    sort = request.GET.get("sort", "")
    if sort and sort not in SYSTEM_SORTS:
        from khien.core.views import bad_request

        return bad_request(request)
    awaiting = bool(request.GET.get("awaiting_me"))
    sort = sort or ("waiting_since" if awaiting else "")
    if sort:
        since = F("waiting_since")
        queryset = queryset.order_by(since.desc(nulls_last=True) if sort.startswith("-") else since.asc(nulls_last=True),
                                     "code")
    return _filtered_list(request, InformationSystemFilter, queryset, "systems", "registry/system_list.html", {
        "can_add": _can_anywhere(request.user, Action.ADD),
        "show_waiting_since": awaiting or bool(request.GET.get("sort")), "sort": sort,
        "query_without_sort": _query_without(request, "sort", "page"),
    }, page_hook=_with_live_monitoring)


def _query_without(request, *names) -> str:
    """The page's query string less `names` (a link that changes one of them keeps the filters)."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _with_live_monitoring(page):
    """The live connection to national monitoring of the page's systems (one query; telemetry's rule)."""
    from khien.telemetry import health  # telemetry builds on the registry, not the other way round

    states = health.monitoring_of_systems([system.pk for system in page])
    for system in page:
        system.monitoring, system.monitor_last_event = states.get(system.pk, (None, None))
        system.monitoring_label = health.Monitoring.LABELS.get(system.monitoring, "")


def _visible_system(request, pk):
    return get_object_or_404(
        InformationSystem.objects.visible_to(request.user).select_related("owner", "operator", "framework"), pk=pk)


def _appraisal_shown(system) -> dict | None:
    """The appraisal opinion on the level card: the current proposal's while it is appraised or approved; at any other
    stage (a revision's draft, a new submission, a return) the one kept from an earlier appraisal, said so, with
    its date — it is not an opinion on the proposal being prepared."""
    if not system.appraisal_opinion:
        return None
    if system.level_status in (LevelStatus.APPRAISED, LevelStatus.APPROVED):
        return {"label": _("Appraisal opinion"), "text": system.appraisal_opinion, "earlier": False}
    appraised = system.level_events.filter(action="appraise").order_by("-at", "-id").first()
    if appraised is None:
        label = _("Earlier appraisal opinion")
    else:
        label = _("Earlier appraisal opinion (%(date)s)") % {"date": timezone.localtime(appraised.at).strftime("%d/%m/%Y")}
    return {"label": label, "text": system.appraisal_opinion, "earlier": True}


def _system_context(request, system, step_forms=None):
    user = request.user
    steps = []
    for step in services.TRANSITIONS:
        if services.may_take_step(user, system, step):
            initial = {"decision_date": timezone.localdate()} if step == "approve" else None
            form = (step_forms or {}).get(step) or StepForm(step=step, prefix=step, initial=initial)
            steps.append({"step": step, "label": STEP_LABELS[step], "form": form, "confirm": STEP_CONFIRM.get(step)})
    level = system.approved_level or system.proposed_level
    framework = system.framework or levels.current_framework()
    can_change = user_can(user, Action.CHANGE, system.owner)
    from khien.telemetry import health  # telemetry builds on the registry, not the other way round

    monitoring = health.system_monitoring(system, user)
    gaps = [GAP_LABELS[g] for g in system.four_layer_gaps()]
    if monitoring and monitoring["gap"]:
        gaps.append(health.Monitoring.GAP_LABELS[monitoring["state"]])
    return {
        "system": system,
        "steps": steps,
        "waiting_for": services.waiting_for(system, user=user),
        "appraisal": _appraisal_shown(system),
        "requirements": levels.requirements(framework, level) if framework and level else [],
        "requirements_level": level,
        "events": system.level_events.select_related("actor").all(),
        "files": [(f, services.may_remove_dossier_file(user, f)) for f in _with_remove_question(system)],
        "can_change": can_change,
        "can_delete": user_can(user, Action.DELETE, system.owner) and not services.system_on_record(system),
        "can_upload": can_change and system.level_status in services.EDITABLE_LEVEL_STATES,
        "upload_form": DossierUploadForm(),
        "gaps": gaps,
        "monitoring": monitoring,
        "monitoring_label": health.Monitoring.LABELS[monitoring["state"]] if monitoring else "",
        "layers": [
            {"n": 1, "status": system.layer1_status, "label": system.get_layer1_status_display(),
             "title": _("On-site force"), "facts": [], "evidence": system.layer1_evidence},
            {"n": 2, "status": system.layer2_status, "label": system.get_layer2_status_display(),
             "title": _("24/7 monitoring"), "facts": [(_("Provider (SOC)"), system.layer2_provider)],
             "evidence": system.layer2_evidence},
            {"n": 3, "status": system.layer3_status, "label": system.get_layer3_status_display(),
             "title": _("Independent assessment"),
             "facts": [(_("Assessed on"), system.layer3_assessed_on), (_("Assessor"), system.layer3_assessor)],
             "evidence": system.layer3_evidence},
            {"n": 4, "status": system.layer4_status, "label": system.get_layer4_status_display(),
             "title": _("Connection to national monitoring"),
             "facts": [(_("Connected on"), system.layer4_connected_on)], "evidence": system.layer4_evidence},
        ],
    }


@login_required
def system_detail(request, pk):
    system = _visible_system(request, pk)
    return render(request, "registry/system_detail.html",
                  _system_context(request, system, step_forms=_stashed_step_form(request, system)))


def _system_form_page(request, form, system, status):
    return render(request, "registry/system_form.html", {"form": form, "system": system}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def system_create(request):
    if not _can_anywhere(request.user, Action.ADD):
        raise PermissionDenied
    initial = {}
    if request.GET.get("owner"):
        owner = Organization.objects.restrict(request.user, Action.ADD).filter(code=request.GET["owner"]).first()
        if owner:
            initial["owner"] = owner
    form = SystemForm(request.POST or None, user=request.user, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                system = services.do_create_system(form.service_data(), acting_user=request.user)
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, _("System “%(code)s” registered.") % {"code": system.code})
                return redirect("registry:system_detail", pk=system.pk)
        else:
            status = 400
    return _system_form_page(request, form, None, status)


@login_required
@require_http_methods(["GET", "POST"])
def system_edit(request, pk):
    system = _visible_system(request, pk)
    if not user_can(request.user, Action.CHANGE, system.owner):
        raise PermissionDenied
    form = SystemForm(request.POST or None, instance=system, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                system = services.do_update_system(system, form.service_data(), acting_user=request.user)
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("registry:system_detail", pk=system.pk)
        else:
            status = 400
    return _system_form_page(request, form, _visible_system(request, pk), status)


@login_required
@require_POST
def system_suggest(request):
    """HTMX: the level the criteria answers suggest, with the reason (computed by `levels.suggest_level`)."""
    framework = levels.current_framework()
    if framework is None:
        return render(request, "registry/_suggestion.html", {"missing_framework": True})
    questions = levels.questions(framework)
    answers = {q.id: request.POST.get(f"crit_{q.id}") for q in questions}
    answered = sum(1 for v in answers.values() if v)
    suggestion, error = None, None
    if answered == len(questions):
        try:
            suggestion = levels.suggest_level(framework, answers)
        except levels.CriteriaError as exc:
            error = str(exc)
    return render(request, "registry/_suggestion.html", {
        "suggestion": suggestion, "error": error, "answered": answered, "total": len(questions),
    }, status=400 if error else 200)


@login_required
@require_http_methods(["GET", "POST"])
def system_delete(request, pk):
    system = _visible_system(request, pk)
    if not user_can(request.user, Action.DELETE, system.owner):
        raise PermissionDenied
    return _confirm_delete(
        request, system, services.do_delete_system, title=_("Delete the information system"),
        done_message=_("System deleted."), done_url="registry:system_list",
        cancel_url=reverse("registry:system_detail", args=[system.pk]),
    )


# A refused step goes back to the system's page (post/redirect/get: reloading it posts nothing again); what was
# typed into the step's form waits in the session for that page, which shows it again with its errors.
STEP_STASH = "registry.refused_step"
STEP_FIELDS = ("note", "decision_number", "decision_date")


def _refused_step(request, system, step, message):
    messages.error(request, message)
    request.session[STEP_STASH] = {
        "system": str(system.pk), "step": step,
        "data": {f"{step}-{name}": request.POST.get(f"{step}-{name}", "")[:6000] for name in STEP_FIELDS},
    }
    return redirect(reverse("registry:system_detail", args=[system.pk]) + "#level")


def _stashed_step_form(request, system) -> dict | None:
    stash = request.session.pop(STEP_STASH, None)
    if not stash or stash.get("system") != str(system.pk) or stash.get("step") not in services.TRANSITIONS:
        return None
    return {stash["step"]: StepForm(stash["data"], step=stash["step"], prefix=stash["step"])}


def _step_inputs(form) -> dict:
    return {name: form.cleaned_data[name] for name in ("note", "decision_number", "decision_date")}


@login_required
@require_POST
def system_step(request, pk, step):
    system = _visible_system(request, pk)
    if step not in services.TRANSITIONS:
        raise Http404
    try:
        # The right, then the state, before the inputs: who may not take the step is not asked to complete fields.
        services.check_level_step(request.user, system, step)
        form = StepForm(request.POST, step=step, prefix=step)
        if not form.is_valid():
            return _refused_step(request, system, step, _("The step was not taken: complete the fields shown in red."))
        if step in STEP_CONFIRM and not confirmed(request):  # the right, the state and the fields are good: asked
            services.refuse_level_step_inputs(system, step, **_step_inputs(form))
            return ask_first(request, question=str(STEP_CONFIRM[step]), button=str(STEP_LABELS[step]),
                             cancel_url=reverse("registry:system_detail", args=[system.pk]) + "#level")
        services.do_level_step(system, step, acting_user=request.user, **_step_inputs(form))
    except Forbidden as exc:  # a denial stays a 403 (the page offers no such button to this user)
        messages.error(request, exc.message)
        system.refresh_from_db()
        return render(request, "registry/system_detail.html", _system_context(request, system), status=exc.status)
    except Refused as exc:
        return _refused_step(request, system, step, exc.message)
    messages.success(request, STEP_DONE[step])
    return redirect("registry:system_detail", pk=system.pk)


@login_required
@require_POST
def system_upload(request, pk):
    """Add a file to the dossier. Added or refused (no file, an empty or too large one, a proposal no longer open),
    the browser goes back to the system's page with the outcome, as for a refused step: reloading it sends nothing
    again."""
    system = _visible_system(request, pk)
    back = redirect(reverse("registry:system_detail", args=[system.pk]) + "#dossier")
    try:  # the right, then a proposal open to changes, before the file is looked at
        services.check_dossier_open(request.user, system)
    except Forbidden:
        raise PermissionDenied
    except Refused as exc:
        messages.error(request, _("The file was not added to the dossier: %(reason)s") % {"reason": exc.message})
        return back
    form = DossierUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        reason = " ".join(str(e) for errors in form.errors.values() for e in errors)
        messages.error(request, _("The file was not added to the dossier: %(reason)s") % {"reason": reason})
        return back
    try:
        dossier = services.do_add_dossier_file(system, form.cleaned_data["file"], acting_user=request.user)
    except Forbidden:
        raise PermissionDenied
    except Refused as exc:
        messages.error(request, _("The file was not added to the dossier: %(reason)s") % {"reason": exc.message})
        return back
    messages.success(request, _("File “%(name)s” added to the dossier.") % {"name": dossier.original_name})
    return back


def _dossier_remove_question(dossier) -> str:
    return _("Take “%(name)s” out of the dossier?") % {"name": dossier.original_name}


def _with_remove_question(system) -> list:
    files = list(system.dossier_files.select_related("system"))
    for f in files:
        f.remove_question = _dossier_remove_question(f)  # its button's dialog, the words `dossier_remove` asks
    return files


@login_required
@require_POST
def dossier_remove(request, pk):
    """Take a file out of the dossier (one added since the last submission); the outcome is shown on the system's page."""
    dossier = get_object_or_404(
        DossierFile.objects.filter(system__in=InformationSystem.objects.visible_to(request.user))
        .select_related("system__owner"), pk=pk)
    if not user_can(request.user, Action.CHANGE, dossier.system.owner):
        raise PermissionDenied
    back = reverse("registry:system_detail", args=[dossier.system_id]) + "#dossier"
    # A file on record is refused by the service at once, not asked first.
    if not confirmed(request) and services.may_remove_dossier_file(request.user, dossier):
        return ask_first(request, question=_dossier_remove_question(dossier), button=_("Remove the file"),
                         cancel_url=back)
    try:
        services.do_remove_dossier_file(dossier, acting_user=request.user)
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("File “%(name)s” taken out of the dossier.") % {"name": dossier.original_name})
    return redirect(back)


@login_required
def dossier_download(request, pk):
    """A dossier file, only for those who see its system; files are never served from MEDIA_ROOT directly."""
    dossier = get_object_or_404(
        DossierFile.objects.filter(system__in=InformationSystem.objects.visible_to(request.user)), pk=pk)
    try:
        handle = dossier.file.open("rb")
    except FileNotFoundError:
        raise Http404
    response = FileResponse(handle, as_attachment=True, filename=dossier.original_name,
                            content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- ISACs -------------------------------------------------------------------------------


@login_required
def isac_list(request):
    queryset = Isac.objects.visible_to(request.user).select_related("sector", "operator")
    return _filtered_list(request, IsacFilter, queryset, "", "registry/isac_list.html", {
        "can_add": _can_anywhere(request.user, Action.MANAGE_MEMBERS),
    })


@login_required
def isac_detail(request, pk):
    from khien.intel.models import CollectionKind  # intel builds on the registry, not the reverse
    from khien.intel.tlp import collections_for

    isac = get_object_or_404(Isac.objects.visible_to(request.user).select_related("sector", "operator"), pk=pk)
    return render(request, "registry/isac_detail.html", {
        "isac": isac, "members": isac.members.order_by("code"),
        "can_change": user_can(request.user, Action.MANAGE_MEMBERS, isac.operator),
        # Its sharing channels that the reader sees (its members read and write them: `intel.sync_isac_channels`).
        "channels": collections_for(request.user).filter(kind=CollectionKind.ISAC, isac=isac).order_by("title"),
    })


def _isac_form(request, isac):
    form = IsacForm(request.POST or None, instance=isac, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data, members = form.service_data()
            try:
                saved = services.do_save_isac(isac, data, acting_user=request.user, members=members)
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                messages.success(request, _("ISAC saved."))
                return redirect("registry:isac_detail", pk=saved.pk)
        else:
            status = 400
    return render(request, "registry/isac_form.html", {"form": form, "isac": isac}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def isac_create(request):
    if not _can_anywhere(request.user, Action.MANAGE_MEMBERS):
        raise PermissionDenied
    return _isac_form(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def isac_edit(request, pk):
    isac = get_object_or_404(Isac.objects.visible_to(request.user), pk=pk)
    if not user_can(request.user, Action.MANAGE_MEMBERS, isac.operator):
        raise PermissionDenied
    return _isac_form(request, isac)


# --- imports ---------------------------------------------------------------------------------


def _import_template(kind: str) -> HttpResponse:
    from khien.registry.imports import COLUMNS, columns

    if kind not in COLUMNS:
        return HttpResponse(_("Unknown template."), status=400, content_type="text/plain; charset=utf-8")
    buffer = io.StringIO()
    csv.writer(buffer).writerow(columns(kind, read_only=False))  # the read-only columns of an export: not to fill in
    # A byte-order mark so that spreadsheet programs open the Vietnamese text as UTF-8.
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="khien-{kind}-template.csv"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    if not _can_anywhere(request.user, Action.IMPORT):
        raise PermissionDenied
    if request.method == "GET" and request.GET.get("template"):
        return _import_template(request.GET["template"])
    form = ImportForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            from khien.registry.imports import start_import

            try:
                job = start_import(form.cleaned_data["kind"], form.cleaned_data["file"], acting_user=request.user)
            except (Refused, ValidationError) as exc:
                add_service_error(form, exc)
                status = status_of(exc)
            else:
                return redirect("registry:import_job", pk=job.pk)
        else:
            status = 400
    jobs = ImportJob.objects.filter(created_by=request.user)[:10]
    return render(request, "registry/import.html", {
        "form": form, "jobs": jobs, "kinds": ImportKind.choices,
    }, status=status)


def _visible_job(request, pk) -> ImportJob:
    job = get_object_or_404(ImportJob, pk=pk)
    if job.created_by_id != request.user.pk and not is_national_coordinator(request.user):
        raise Http404
    return job


@login_required
def import_job(request, pk):
    job = _visible_job(request, pk)
    return render(request, "registry/import_job.html", {"job": job})


@login_required
def import_progress(request, pk):
    """HTMX partial polled every second until the job has finished."""
    job = _visible_job(request, pk)
    return render(request, "registry/_import_progress.html", {"job": job})

