"""Sources authenticate with their own key: `Authorization: Token khs_…` (not a user's token); `Bearer khs_…`,
which Fluent Bit and many tools write, is the same.

A source key only lets its holder post alerts as that one source; it never
reads anything. The optional `X-Khien-Source: <name>` header is checked
against the key's source, ignoring case as source names are (a mismatch is a
403), so a misconfigured forwarder that sends one SOC's alerts under another's
key is refused loudly. A wrong key is a 401 that tells nothing; the right key of
a disabled source is a 403 that says the source is disabled (and the refusal is
counted for the source's page: a tool still sending to it loses its alerts).
"""
import base64
import hmac

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from khien.core.api.authentication import key_from_header
from khien.core.services import TOKEN_PREFIX

from ..models import AlertSource
from ..services import note_refused_while_disabled, source_of_key

BAD_KEY = _("Invalid source key.")
# The challenge Elasticsearch sends with a 401: the Elasticsearch-compatible intake answers with it (elastic.py).
ELASTIC_CHALLENGE = 'Basic realm="security" charset="UTF-8"'


class SourceDisabled(exceptions.PermissionDenied):
    """The key is right, but its source was disabled: the sender is told so, not that its key is wrong."""

    def __init__(self, source: AlertSource):
        message = _("The source “%(name)s” is disabled by its organization (%(organization)s): nothing was stored. "
                    "Ask an administrator or analyst of %(organization)s to enable it on the Khiên source page, or "
                    "stop sending to it.") % {"name": source.name, "organization": source.organization.code}
        super().__init__({"detail": message, "code": "source_disabled"})


PERSONAL_TOKEN_SENT = _("This is a personal API token (khn_…), not a source key: the alert intake takes the "
                        "source's key, which starts with khs_ and is shown once when the source is registered or its "
                        "key is renewed (Monitoring → Sources).")


def enabled_source(source: AlertSource | None, key: str = "") -> AlertSource:
    """The source a presented key authenticates: 401 for no source, 403 (counted) for a disabled one. A personal
    token sent in its place (the guides show both in the same header) is named as such: told by its prefix only,
    the token itself is not looked up."""
    if source is None:
        raise exceptions.AuthenticationFailed(PERSONAL_TOKEN_SENT if key.startswith(TOKEN_PREFIX) else BAD_KEY)
    if not source.enabled:
        note_refused_while_disabled(source)
        raise SourceDisabled(source)
    return source


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
    # `Bearer <key>` is read as `Token <key>`: a wrong one is refused the same way.
    keywords = ("Token", "Bearer")

    def authenticate(self, request):
        for keyword in self.keywords:
            key = key_from_header(request, keyword)
            if key is not None:
                break
        else:
            return None
        source = enabled_source(source_of_key(key), key)
        return SourcePrincipal(source), source

    def authenticate_header(self, request):
        return self.keyword


class SourceBasicAuthentication(authentication.BaseAuthentication):
    """For Elasticsearch-style clients (the bulk intake, `elastic.py`): HTTP Basic with the source's name as
    user and its key as password, or `ApiKey base64(name:key)`. The name must be the key's source."""

    def authenticate(self, request):
        for keyword in ("Basic", "ApiKey"):
            encoded = key_from_header(request, keyword)
            if encoded is not None:
                break
        else:
            return None
        try:
            name, _sep, key = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeError):
            raise exceptions.AuthenticationFailed(BAD_KEY) from None
        source = source_of_key(key)
        # A wrong name gets the same answer as a wrong key: nothing tells which sources exist. Names are one
        # ignoring case (AlertSource.Meta): compared so.
        if source is not None and not hmac.compare_digest(source.name.lower().encode(), name.lower().encode()):
            source = None
        source = enabled_source(source)
        return SourcePrincipal(source), source

    def authenticate_header(self, request):
        return ELASTIC_CHALLENGE


class IsAlertSource(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, AlertSource)


class SourceKeyScheme(OpenApiAuthenticationExtension):
    target_class = SourceKeyAuthentication
    name = "sourceKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <source key>` (or `Bearer <source key>`): the key shown once when the "
                               "source was registered."}


class SourceBasicScheme(OpenApiAuthenticationExtension):
    target_class = SourceBasicAuthentication
    name = "sourceBasicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic",
                "description": "The source's name as user and its key as password (Elasticsearch-style clients)."}
