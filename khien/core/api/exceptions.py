"""API errors: always a JSON body with `detail`, in the user's language, never a 500 for bad input."""
import json

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import Refused


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Refused):
        return Response({"detail": str(exc.message), "code": exc.code}, status=exc.status)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, exceptions.ParseError):
        exc = exceptions.ParseError(_unreadable_body(exc))
    elif isinstance(exc, Http404):
        # Django's get_object_or_404 says "No Incident matches the given query." — in English, naming the model.
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.data = {"detail": response.data.get("detail", "")}
    return response


def _unreadable_body(exc: exceptions.ParseError) -> str:
    """DRF's parsers say "JSON parse error - Expecting property name enclosed in double quotes: …" in English
    (Python's own message); say where, in the user's language."""
    cause = exc.__context__
    if isinstance(cause, json.JSONDecodeError):
        return _("The body is not valid JSON (line %(line)d, column %(column)d).") % {"line": cause.lineno,
                                                                                      "column": cause.colno}
    if isinstance(cause, UnicodeDecodeError):
        return _("The body is not UTF-8 text.")
    text = str(exc.detail)
    if text.startswith("JSON parse error"):
        return _("The body is not valid JSON.")
    if text.startswith("Multipart form parse error"):
        return _("The form data could not be read.")
    return exc.detail
