from django.conf import settings
from django.http import JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from . import twofactor


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
