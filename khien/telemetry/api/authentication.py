"""Sources authenticate with their own key: `Authorization: Token khs_…` (not a user's token).

A source key only lets its holder post alerts as that one source; it never
reads anything. The optional `X-Khien-Source: <name>` header is checked
against the key's source (a mismatch is a 403), so a misconfigured forwarder
that sends one SOC's alerts under another's key is refused loudly.
"""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from khien.core.api.authentication import key_from_header

from ..models import AlertSource
from ..services import source_for_key


class SourcePrincipal:
    """`request.user` for a source-authenticated request: authenticated, but no person and no roles."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_superuser = False
    pk = None

    def __init__(self, source: AlertSource):
        self.source = source

    def __str__(self):
        return f"source:{self.source.name}"


class SourceKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        key = key_from_header(request, self.keyword)
        if key is None:
            return None
        source = source_for_key(key)
        if source is None:
            raise exceptions.AuthenticationFailed(_("Invalid source key, or the source is disabled."))
        return SourcePrincipal(source), source

    def authenticate_header(self, request):
        return self.keyword


class IsAlertSource(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, AlertSource)


class SourceKeyScheme(OpenApiAuthenticationExtension):
    target_class = SourceKeyAuthentication
    name = "sourceKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <source key>`: the key shown once when the source was registered."}
