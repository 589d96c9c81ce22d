from django.utils.translation import gettext as _
from rest_framework import pagination
from rest_framework.exceptions import ValidationError

from khien.core.paging import page_rows


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """The one pagination style of the API: ?limit=&offset= → {count, next, previous, results}.

    A `limit` or `offset` that is not a whole number in range is a 400 naming it (DRF silently read `limit=0` or
    `limit=-5` as 50 and `offset=abc` as 0: a script would page through the wrong rows). Left empty, they are the
    defaults; a `limit` above `max_limit` is read as `max_limit` (the answer's `next` goes on from there)."""

    default_limit = 50
    max_limit = 1000

    def paginate_queryset(self, queryset, request, view=None):
        """As DRF's, except that a deep page is read by its ids first (`core.paging.page_rows`)."""
        self.request = request
        self.limit = self.get_limit(request)
        self.count = self.get_count(queryset)
        self.offset = self.get_offset(request)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        if self.count == 0 or self.offset > self.count:
            return []
        return page_rows(queryset, self.offset, self.limit)

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param, "").strip()
        if not raw:
            return self.default_limit
        value = _whole_number(raw)
        if value is None or value < 1:
            raise ValidationError({self.limit_query_param: [
                _("Enter a whole number from 1 to %(max)d (a larger one is read as %(max)d).") % {"max": self.max_limit}]})
        return min(value, self.max_limit)

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param, "").strip()
        if not raw:
            return 0
        value = _whole_number(raw)
        if value is None or value < 0:
            raise ValidationError({self.offset_query_param: [_("Enter a whole number, 0 or more.")]})
        return value


def _whole_number(raw: str) -> int | None:
    digits = raw[1:] if raw.startswith("-") else raw
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:  # beyond what a database offset takes
        return None
    return int(raw)
