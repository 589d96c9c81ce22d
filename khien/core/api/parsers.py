"""The API's request body parsers (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES): bounded, and never a 500."""
from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from ..errors import Refused


class LimitedJSONParser(parsers.JSONParser):
    """JSON bodies larger than DATA_UPLOAD_MAX_MEMORY_SIZE are refused before parsing (413) — Django applies that
    limit to forms, not to the JSON DRF reads itself; nesting deep enough to exhaust Python's recursion is a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request is not None and limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise Refused(_("The request body is too large."), code="too_large", status=413)
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("The JSON body is nested too deeply."))

