"""Token authentication against hashed keys (`Authorization: Token <key>`)."""
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from ..models import ApiToken, hash_token


def user_for_key(key: str):
    """The active user owning a usable token with this key, or None. Also used by TAXII Basic auth."""
    try:
        token = ApiToken.objects.select_related("user").get(key_hash=hash_token(key))
    except ApiToken.DoesNotExist:
        return None, None
    if not token.is_usable or not token.user.is_active:
        return None, None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # not a user write: not audited
    return token.user, token


def key_from_header(request, keyword: str = "Token") -> str | None:
    """The key of an `Authorization: <keyword> <key>` header; None when the header is another scheme.

    A malformed header of this scheme is refused outright (401), never ignored.
    """
    header = authentication.get_authorization_header(request).split()
    if not header or header[0].lower() != keyword.lower().encode():
        return None
    if len(header) != 2:
        raise exceptions.AuthenticationFailed(_("Invalid token header."))
    try:
        return header[1].decode()
    except UnicodeError:
        raise exceptions.AuthenticationFailed(_("Invalid token header."))


class HashedTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        key = key_from_header(request, self.keyword)
        if key is None:
            return None
        user, token = user_for_key(key)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token."))
        return user, token

    def authenticate_header(self, request):
        return self.keyword


class HashedTokenScheme(OpenApiAuthenticationExtension):
    """Describes the token scheme in the OpenAPI schema."""

    target_class = HashedTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <key>` (create a key with `khien token EMAIL`)."}
