import logging

from django.conf import settings
from django.http import JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.encoding import iri_to_uri
from django.utils.translation import gettext as _

from . import twofactor
from .logging import redact


class SecondFactorRequiredMiddleware:
    """A signed-in browser session that owes a second factor may only reach the 2FA pages.

    Token-authenticated API calls are not sessions and are not affected.
    """

    OPEN_PREFIXES = ("/static/", "/i18n/", "/accounts/", "/favicon")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(self.OPEN_PREFIXES)
            and twofactor.owes_second_factor(user)
        ):
            if request.path.startswith("/api/") or request.path.startswith("/taxii2/"):
                return JsonResponse({"detail": _("Second factor required: finish signing in first.")}, status=403)
            target = "core:totp_verify" if twofactor.has_confirmed_device(user) else "core:totp_enroll"
            return redirect(f"{reverse(target)}?next={request.get_full_path()}")
        if user.is_authenticated and user.must_change_password and not request.path.startswith(self.OPEN_PREFIXES) \
                and not request.path.startswith("/api/"):
            return redirect("core:password_change")
        return self.get_response(request)


class RefuseNulMiddleware:
    """A NUL character in the address or its query (`%00`) is a 400 before any view: no database stores it
    (PostgreSQL refuses it with an error that would otherwise surface as a 500), and no name, code or id has one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any("\x00" in key or any("\x00" in value for value in values)
                                          for key, values in request.GET.lists()):
            from .views import bad_request

            return bad_request(request)
        return self.get_response(request)


security_log = logging.getLogger("khien.security")
# Address parts that carry a secret (a password link's token): logged as the part's name, never its value.
SECRET_PARTS = ("token", "key", "secret", "uidb64")


class RefusalLogMiddleware:
    """A signed-in user refused — any 403, or a 404 on a route that names an object (an id in its address: another
    organization's object, or one that does not exist, answer alike) — is one line on the `khien.security`
    logger: `refused user=<id> method=<method> path=<path> status=<code>`. Never the query string (it may carry a
    token), nor the body; address parts that carry a secret (`SECRET_PARTS`) as their name. Many such lines for
    one user are someone trying ids (docs/threat-model.md). Reads are not written to the audit log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code in (403, 404):
            user = getattr(request, "user", None)  # an API token's user: DRF sets it on the request too
            match = getattr(request, "resolver_match", None)
            if getattr(user, "is_authenticated", False) and (
                    response.status_code == 403 or (match is not None and (match.kwargs or match.args))):
                security_log.warning("refused user=%s method=%s path=%s status=%s", user.pk, request.method,
                                     _path_without_secrets(request.path, match), response.status_code)
        return response


def _path_without_secrets(path: str, match) -> str:
    path = iri_to_uri(path)  # percent-encoded: no line break or control character reaches the log
    for name, value in (match.kwargs.items() if match is not None else ()):
        if any(part in name.lower() for part in SECRET_PARTS) and str(value):
            path = path.replace(iri_to_uri(str(value)), f"<{name}>")
    return redact(path)[:500]


class SecurityHeadersMiddleware:
    """Headers Django does not set by itself."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if request.user.is_authenticated if hasattr(request, "user") else False:
            response.setdefault("Cache-Control", "no-store")
        return response


class VietnameseFirstLocaleMiddleware(LocaleMiddleware):
    """Pages are in Vietnamese unless the user chose English with the switch (a cookie).

    Browsers on government machines often send `Accept-Language: en-US` because
    the operating system is in English; that must not turn the interface to
    English. Machine clients of the API and TAXII may still ask for a language
    with Accept-Language; one that asks for none is answered in the language
    the owner of its API token chose (else Vietnamese).
    """

    def process_request(self, request):
        if request.path.startswith(("/api/", "/taxii2/")):
            super().process_request(request)
            if not request.META.get("HTTP_ACCEPT_LANGUAGE") and \
                    request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) not in dict(settings.LANGUAGES):
                from .api.authentication import language_of_credentials

                language = language_of_credentials(request)
                if language:
                    translation.activate(language)
                    request.LANGUAGE_CODE = translation.get_language()
            return None
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in dict(settings.LANGUAGES):
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
