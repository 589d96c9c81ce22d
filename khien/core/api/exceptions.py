"""API errors: always a JSON body with `detail`, in the user's language, never a 500 for bad input."""
import json
import re

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from ..errors import Refused


def exception_handler(exc, context):
    if isinstance(exc, DataError):
        # A value the database will not store (a NUL character in a code looked up, a number out of range)
        # slipped past validation: the request's fault, refused like any bad input; nothing was written.
        set_rollback()
        return Response({"detail": _("A value of the request cannot be stored (a NUL character, or a value out "
                                     "of range)."), "code": "invalid_value"}, status=status.HTTP_400_BAD_REQUEST)
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
    if response is not None:
        # A refused value is often quoted in its error ("“…” is not a valid choice"); a lone surrogate in it
        # cannot be written as UTF-8 and would turn the 400 into a 500.
        response.data = _writable(_translated(response.data))
    return response


_SURROGATE = re.compile("[\ud800-\udfff]")
# DRF's errors written as plain English, not through gettext: (code, text) → the same in the reader's language.
_UNTRANSLATED = {("null", "No data provided"): lambda: _("No data provided.")}


def _translated(data):
    if isinstance(data, exceptions.ErrorDetail):
        text = _UNTRANSLATED.get((data.code, str(data)))
        return exceptions.ErrorDetail(text(), code=data.code) if text else data
    if isinstance(data, dict):
        return {key: _translated(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_translated(item) for item in data]
    return data


def _writable(data):
    if isinstance(data, str):
        return _SURROGATE.sub("\ufffd", data) if _SURROGATE.search(data) else data
    if isinstance(data, dict):
        return {_writable(key): _writable(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_writable(item) for item in data]
    return data


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
