from rest_framework import pagination


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """The one pagination style of the API: ?limit=&offset= → {count, next, previous, results}."""

    default_limit = 50
    max_limit = 1000
