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


def language_of_credentials(request) -> str | None:
    """The language the owner of the API token in the request's Authorization header chose (`User.language`; a
    `Token <key>` header, or TAXII's Basic e-mail + token), or None: what a program that asks for no language is
    answered in. Read only: the authentication itself (and its refusals) happens in the view, as before."""
    import base64
    import binascii

    from django.conf import settings

    scheme, _sep, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    scheme, credentials, email = scheme.lower(), credentials.strip(), None
    if scheme == "basic":
        try:
            email, _colon, credentials = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
    elif scheme != "token":
        return None
    if not credentials:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(credentials)).first()
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    if email is not None and token.user.email.lower() != email.strip().lower():
        return None
    return token.user.language if token.user.language in dict(settings.LANGUAGES) else None


# Said in the platform's words (REST framework's own "Invalid token header." reads as jargon once translated).
MALFORMED_HEADER = _("The Authorization header must read “%(keyword)s <key>”: the word, one space, the key.")


def key_from_header(request, keyword: str = "Token") -> str | None:
    """The key of an `Authorization: <keyword> <key>` header; None when the header is another scheme.

    A malformed header of this scheme is refused outright (401), never ignored.
    """
    header = authentication.get_authorization_header(request).split()
    if not header or header[0].lower() != keyword.lower().encode():
        return None
    if len(header) != 2:
        raise exceptions.AuthenticationFailed(MALFORMED_HEADER % {"keyword": keyword})
    try:
        return header[1].decode()
    except UnicodeError:
        raise exceptions.AuthenticationFailed(MALFORMED_HEADER % {"keyword": keyword})


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
                "description": "`Token <key>`: create a key on the API tokens page (/me/tokens/, user menu)."}
