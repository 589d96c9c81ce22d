"""Sign-in (with TOTP), personal API tokens, the audit log page and error pages."""
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseForbidden, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import i18n as i18n_views
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework import exceptions

from . import audit, audit_export, notifications, services, shown_once, twofactor
from .confirmation import ask_first, confirmed
from .filters import AuditEntryFilterSet
from .forms import (EmailAuthenticationForm, PasswordChangeForm, PasswordLinkForm, SetPasswordForm, TokenCreateForm,
                    TotpForm, add_service_error)
from .models import ApiToken, AuditEntry, EmailNotifications, Notification


class LoginView(auth_views.LoginView):
    template_name = "core/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        # The language chosen with the switch before signing in (its cookie) is kept on an account that has none
        # yet, as the switch keeps it for a signed-in person: e-mails to them are written in it.
        # An account that has one gets it back on a browser that has none (a fresh one); a browser's own choice stays.
        language = self.request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        user = form.get_user()
        if not user.language and language in dict(settings.LANGUAGES):
            services.do_remember_language(user, language)
        elif user.language in dict(settings.LANGUAGES) and language not in dict(settings.LANGUAGES):
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, max_age=settings.LANGUAGE_COOKIE_AGE,
                                path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
                                secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                                samesite=settings.LANGUAGE_COOKIE_SAMESITE)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change one's own password (required after an administrator created the account)."""

    template_name = "core/password_change.html"
    form_class = PasswordChangeForm
    success_url = "/"

    def form_valid(self, form):
        services.do_change_password(self.request.user, form.cleaned_data["new_password1"], acting_user=self.request.user)
        from django.contrib.auth import update_session_auth_hash

        update_session_auth_hash(self.request, self.request.user)
        messages.success(self.request, _("Your password has been changed."))
        return redirect(self.get_success_url())


class PasswordLinkRequestView(auth_views.PasswordResetView):
    """"Forgot your password?": asks for the address, sends a one-time link (`forms.PasswordLinkForm`)."""

    template_name = "core/password_link_request.html"
    form_class = PasswordLinkForm
    success_url = reverse_lazy("core:login")

    def form_valid(self, form):
        super().form_valid(form)
        messages.success(self.request, _("If an account has this address, an e-mail with a link to choose a new "
                                         "password is on its way. The link works once, for three days."))
        return redirect("core:login")


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """The page a one-time link opens (`services.password_link`): choose a password, then sign in. An expired or
    used link says so."""

    template_name = "core/password_set.html"
    form_class = SetPasswordForm
    post_reset_login = False

    def form_valid(self, form):
        services.do_change_password(self.user, form.cleaned_data["new_password1"], acting_user=self.user)
        messages.success(self.request, _("Your password is set: sign in with it."))
        return redirect("core:login")


@require_http_methods(["POST"])
def set_language(request):
    """The language switch: Django's (cookie, redirect back), and a signed-in person's choice kept on the account."""
    response = i18n_views.set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and translation.check_for_language(language):
        services.do_remember_language(request.user, language)
    return response


def _safe_next(request, default="/"):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


# After a wrong code django-otp makes the device wait before it checks another (1, 2, 4, 8… seconds). A first
# mistake or two is only a wrong code (most often a phone whose clock is off); from this many on the page says to wait.
TOO_MANY_WRONG_CODES = 3


def _seconds_until(locked_until) -> int:
    return max(1, int((locked_until - timezone.now()).total_seconds()) + 1)


def _still_waiting(devices) -> str | None:
    """When every device still waits after a wrong code, what to say: the code just sent was not checked (a right
    code too is refused by django-otp then), so the page does not call it wrong, it says how long to wait."""
    if not devices:
        return None
    waits = []
    for device in devices:
        allowed, info = device.verify_is_allowed()
        if allowed or not (info and info.get("locked_until")):
            return None
        waits.append(_seconds_until(info["locked_until"]))
    wait = min(waits)
    return ngettext("Wait %(s)s second, then enter the code your authenticator app shows: after a mistake the next "
                    "try must wait a moment, longer after each one.",
                    "Wait %(s)s seconds, then enter the code your authenticator app shows: after a mistake the next "
                    "try must wait a moment, longer after each one.", wait) % {"s": wait}


def _wrong_code_message(devices) -> str:
    """The code was checked and is wrong: say so (and the phone's clock, the usual cause); after several wrong codes
    in a row, how long django-otp makes the next try wait."""
    for device in devices:
        device.refresh_from_db(fields=["throttling_failure_count", "throttling_failure_timestamp"])
        allowed, info = device.verify_is_allowed()
        if (not allowed and info and info.get("locked_until")
                and device.throttling_failure_count >= TOO_MANY_WRONG_CODES):
            wait = _seconds_until(info["locked_until"])
            return _("The code is wrong. Too many attempts: wait %(s)s seconds before the next try.") % {"s": wait}
    return _("The code is wrong. Enter the code your authenticator app shows now, and check that the clock of your "
             "phone is right: the codes follow the time.")


@login_required
@require_http_methods(["GET", "POST"])
def totp_verify(request):
    form = TotpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        devices = list(TOTPDevice.objects.filter(user=request.user, confirmed=True))
        # A code accepted once cannot be used again (django-otp): say so, rather than "wrong", and do not count it
        # as a failed try (a device still waiting after wrong codes keeps saying how long to wait).
        spent = [d for d in devices if d.verify_is_allowed()[0] and twofactor.code_already_used(d, token)]
        waiting = _still_waiting(devices)
        if spent:
            form.add_error("token", _("This code has already been used. Wait for the next code from your "
                                      "authenticator app (a new one appears every 30 seconds) and enter it."))
        elif waiting:
            form.add_error("token", waiting)
        else:
            for device in devices:
                if device.verify_token(token):
                    otp_login(request, device)
                    return redirect(_safe_next(request))
            form.add_error("token", _wrong_code_message(devices))
    return render(request, "core/totp_verify.html", {"form": form, "next": _safe_next(request, "")})


@login_required
@require_http_methods(["GET", "POST"])
def totp_enroll(request):
    if twofactor.has_confirmed_device(request.user):
        if not request.user.is_verified():
            return redirect("core:totp_verify")
        return render(request, "core/totp_enroll.html", {"enrolled": True})
    device = twofactor.pending_device(request.user)
    form = TotpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        waiting = _still_waiting([device])
        if waiting:
            form.add_error("token", waiting)
        elif device.verify_token(form.cleaned_data["token"]):
            services.do_confirm_totp_device(device, acting_user=request.user)
            otp_login(request, device)
            messages.success(request, _("Two-step sign-in is now on for your account."))
            return redirect(_safe_next(request))
        else:
            form.add_error("token", _wrong_code_message([device]))
    import base64

    import segno

    secret = base64.b32encode(device.bin_key).decode()
    qr = segno.make(device.config_url, error="m").svg_data_uri(scale=4)
    return render(request, "core/totp_enroll.html", {
        # The link: a person whose only device is this phone cannot scan its own screen.
        "form": form, "qr": qr, "secret": secret, "config_url": device.config_url, "next": _safe_next(request, ""),
        "reset": request.user.must_enrol_second_factor,
        "required": twofactor.role_requires_second_factor(request.user)})


# The key of the token just created, kept in the session for the one page that shows it.
NEW_TOKEN_SESSION_KEY = "core.new_api_token"


def _revoke_question(token) -> str:
    """Asked before a token is revoked (its programs are refused at once): by the button's dialog, and without
    JavaScript by the page `ask_first` answers with. One wording for both."""
    return _("Revoke the token “%(name)s”? Programs that use it will be refused from then on.") % {"name": token.name}


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    """A user's own API tokens: create (the key is shown once) and revoke.

    Post/redirect/get: the new key waits in the session for the one page that shows it (then it is dropped), so
    that reloading that page neither creates another token nor shows the key again; it is never put in a URL or
    a log."""
    form = TokenCreateForm(request.POST or None)
    status = 200
    if request.method == "POST" and request.POST.get("revoke"):
        try:
            token = ApiToken.objects.filter(user=request.user, pk=uuid.UUID(request.POST["revoke"])).first()
        except ValueError:
            token = None
        if token is None:  # someone else's token (or no token): refused, not asked
            return HttpResponseForbidden()
        if token.is_usable and not confirmed(request):
            return ask_first(request, question=_revoke_question(token), button=_("Revoke the token"),
                             cancel_url=reverse("core:tokens"))
        services.do_revoke_api_token(token, acting_user=request.user)
        messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
        return redirect("core:tokens")
    if request.method == "POST":
        if form.is_valid():
            try:
                token, key = services.do_create_api_token(request.user, acting_user=request.user,
                                                          name=form.cleaned_data["name"],
                                                          expires_at=form.expires_at(timezone.now()))
            except ValidationError as exc:
                add_service_error(form, exc)
                status = 400
            else:
                shown_once.keep(request, NEW_TOKEN_SESSION_KEY, key)
                messages.success(request, _("Token “%(name)s” created.") % {"name": token.name})
                return redirect("core:tokens")
        else:
            status = 400
    new_key = shown_once.take(request, NEW_TOKEN_SESSION_KEY) if request.method == "GET" else None
    own_tokens = list(ApiToken.objects.filter(user=request.user))
    for token in own_tokens:
        token.revoke_question = _revoke_question(token)
    response = render(request, "core/tokens.html", {
        "form": form, "new_key": new_key, "tokens": own_tokens,
    }, status=status)
    return shown_once.no_store(response) if new_key else response


def _audit_search(request) -> tuple[AuditEntryFilterSet, object, int]:
    """The log as the reader may see it (`AuditEntry.objects.visible_to`), filtered by the shared filter set: the
    page and its export alike. A filter that is refused selects nothing (400)."""
    visible = AuditEntry.objects.visible_to(request.user)
    filterset = AuditEntryFilterSet(request.GET or None, queryset=visible, request=request)
    if filterset.is_bound and not filterset.is_valid():
        return filterset, visible.none(), 400
    return filterset, (filterset.qs if filterset.is_bound else visible), 200


@login_required
def audit_log(request):
    filterset, entries, status = _audit_search(request)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    audit.describe(page.object_list, request.user)
    org_names = audit.organization_names(page.object_list)
    for entry in page.object_list:
        entry.organization_name = org_names.get(entry.organization_id, "")
    fields = [filterset.form[name] for name in AuditEntryFilterSet.PAGE_FIELDS]
    export = request.GET.copy()
    export.pop("page", None)
    export.pop("verify", None)
    verification = None
    if request.GET.get("verify") and status == 200:
        verification = audit_export.verify(request.user, entries)
    return render(request, "core/audit.html", {
        "page": page, "filter": filterset, "fields": fields, "export_query": export.urlencode(),
        "export_max": audit_export.MAX_ENTRIES, "verification": verification}, status=status)


@login_required
def audit_export_csv(request):
    """The entries the page's filters select, as CSV (`audit_export`): streamed, and recorded in the log before it
    is sent. Refused filters get the page with its 400, as on the page."""
    _search, entries, status = _audit_search(request)
    if status != 200:
        return audit_log(request)
    entries = audit_export.bounded(entries)
    filters = {key: request.GET.getlist(key) for key in request.GET if key != "page"}
    audit_export.record_export(request.user, entries.count(), filters)
    response = StreamingHttpResponse(audit_export.csv_lines(entries, request.user),
                                     content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="khien-audit-{stamp}.csv"'
    return response


@login_required
def audit_entry(request, seq: int):
    """One entry with its before/after; 404 for an entry the reader may not see, as for one that does not exist."""
    entry = get_object_or_404(AuditEntry.objects.visible_to(request.user), seq=seq)
    audit.describe([entry], request.user)
    changes = audit.changes(entry, request.user)
    # A change of a few fields of a 40-field record: those it changed first, the others folded away.
    both_sides = entry.before is not None and entry.after is not None
    unchanged = [row for row in changes if both_sides and not row["changed"]]
    return render(request, "core/audit_entry.html", {
        "entry": entry, "changes": changes, "shown": [row for row in changes if not both_sides or row["changed"]],
        "unchanged": unchanged,
        "organization_name": audit.organization_names([entry]).get(entry.organization_id, ""),
    })


def _error_answer(request, code: int, page_message, api_error: type[exceptions.APIException]):
    """An error page, or for a program the answer its protocol expects: the API's JSON `detail` (DRF's words, as
    its other answers), a TAXII error. Django answers these itself for addresses no view takes (a malformed id in
    an API path) and for requests it refuses before any view (too many form fields)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": str(api_error.default_detail)}, status=code,
                            json_dumps_params={"ensure_ascii": False})
    if request.path.startswith("/taxii2/"):
        from khien.intel.taxii.views import error_answer

        return error_answer(code, api_error.default_detail)
    return render(request, "core/error.html", {"code": code, "message": page_message}, status=code)


def bad_request(request, exception=None):
    return _error_answer(request, 400, _("The request was not understood."), exceptions.ParseError)


def permission_denied(request, exception=None):
    # A view that refuses with a reason (`PermissionDenied(_("Only the national coordinator sees campaigns."))`)
    # has it shown; a bare refusal gets the general sentence.
    reason = str(exception) if isinstance(exception, PermissionDenied) and exception.args else ""
    return _error_answer(request, 403, reason or _("You do not have access to this page."),
                         exceptions.PermissionDenied)


def page_not_found(request, exception=None):
    return _error_answer(request, 404, _("This page does not exist or you cannot see it."), exceptions.NotFound)


def server_error(request):
    return _error_answer(request, 500, _("Something went wrong on our side; it has been logged."),
                         exceptions.APIException)


@login_required
@require_http_methods(["GET", "POST"])
def notification_list(request):
    """One's own notifications, newest first; POST marks one (`id`) or all of them read."""
    if request.method == "POST":
        ids = request.POST.getlist("id") or None
        try:  # an id that is no id is refused (it reached the database as a 500), and nothing is marked
            ids = [uuid.UUID(value) for value in ids] if ids is not None else None
        except ValueError:
            return bad_request(request)
        notifications.mark_read(request.user, ids)
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            return redirect(target)
        return redirect("core:notifications")
    items = Notification.objects.filter(recipient=request.user)
    if request.GET.get("unread"):
        items = items.filter(read_at__isnull=True)
    page = Paginator(items, 30).get_page(request.GET.get("page"))
    return render(request, "core/notifications.html", {"page": page, "email_choices": EmailNotifications.choices})


@login_required
@require_http_methods(["POST"])
def notification_email_settings(request):
    """What of one's notifications is e-mailed (`services.do_set_email_notifications`)."""
    from .errors import Refused

    try:
        changed = services.do_set_email_notifications(request.user, request.POST.get("email_notifications", ""))
    except Refused as exc:
        messages.error(request, exc.message)
        return render(request, "core/notifications.html", {
            "page": Paginator(Notification.objects.filter(recipient=request.user), 30).get_page(1),
            "email_choices": EmailNotifications.choices}, status=400)
    if changed:
        messages.success(request, _("Saved: what you receive by e-mail."))
    return redirect("core:notifications")
