"""Reading one page of a long list."""
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models.query import ModelIterable, QuerySet
from django.utils.functional import cached_property

# From this offset on, a page's ids are read first, then its rows (`page_rows`).
DEFERRED_FROM = 1000


def page_rows(queryset, start: int, count: int) -> list:
    """The rows `start` to `start + count` of `queryset` (a query set or a list). A deep page of a query set is
    read in two steps: the page's ids (the database skips `start` entries of an index, nothing more), then only
    those rows with their joins, put in that order. Skipping whole joined rows took 14 s at an offset of a million
    events; this, a fraction of a second. A DISTINCT query set (its ids would not follow its order), one read as
    dicts, and a list are sliced as they are."""
    if (start < DEFERRED_FROM or not isinstance(queryset, QuerySet) or queryset.query.distinct
            or queryset._iterable_class is not ModelIterable):
        return list(queryset[start:start + count])
    ids = list(queryset.values_list("pk", flat=True)[start:start + count])
    place = {pk: n for n, pk in enumerate(ids)}
    return sorted(queryset.filter(pk__in=ids), key=lambda row: place[row.pk])


# --- Capped counts ---------------------------------------------------------------------------------------------

# Beyond this many rows a list or a key figure says "more than 10,000" instead of its exact number. Counting every
# open alert of a national store (a million alerts) took 0.9 s, each "open high/critical" figure 0.4-0.6 s; an index
# on (status, severity) that would make them cheap costs every alert write on the ingest path (decision 0009).
# Counting at most COUNT_CAP + 1 rows stops there: a few milliseconds. A setting (KHIEN_COUNT_CAP) may lower it.
COUNT_CAP = 10_000


def count_cap() -> int:
    from django.conf import settings

    return int(getattr(settings, "KHIEN_COUNT_CAP", COUNT_CAP))


def capped_count(queryset, cap: int | None = None) -> int:
    """The rows of `queryset`, counted up to `cap` + 1 (`count_cap()` by default): `SELECT count(*) FROM (SELECT
    … LIMIT cap + 1)`. A result above `cap` (`is_capped`) means "more than `cap`", not the number. A list is
    counted as it is."""
    cap = count_cap() if cap is None else cap
    if not isinstance(queryset, QuerySet):
        return min(len(queryset), cap + 1)
    return queryset.order_by().values("pk")[:cap + 1].count()


def is_capped(n: int, cap: int | None = None) -> bool:
    return n > (count_cap() if cap is None else cap)


def count_text(n: int, cap: int | None = None) -> str:
    """A capped count as the reader writes numbers: "10.000" / "10,000", or "more than 10,000" ("hơn 10.000")
    when the cap was reached."""
    from django.utils.formats import number_format
    from django.utils.translation import gettext

    cap = count_cap() if cap is None else cap
    if n > cap:
        return gettext("more than %(n)s") % {"n": number_format(cap, force_grouping=True)}
    return number_format(n, force_grouping=True)


class CappedPaginator(Paginator):
    """Django's paginator over a count capped at `count_cap()` rows (`capped_count`). Below the cap it is the
    ordinary paginator (an exact count, the last page known). At the cap, `capped` is true: the count is "more than
    N" (`count_text`), a page has a next page when one more row follows it, and no page number is refused for
    being past a last page nobody counted (a page past the end is empty, with a way back)."""

    def __init__(self, object_list, per_page, *, cap: int | None = None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.cap = count_cap() if cap is None else cap

    @cached_property
    def count(self):
        return capped_count(self.object_list, self.cap)

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @property
    def count_text(self) -> str:
        return count_text(self.count, self.cap)

    def validate_number(self, number):
        if not self.capped:
            return super().validate_number(number)
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"])
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    def page(self, number):
        if not self.capped:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        # One row more than the page: whether a next page exists, without counting the rest.
        rows = list(self.object_list[bottom:bottom + self.per_page + 1])
        page = CappedPage(rows[:self.per_page], number, self)
        page.more = len(rows) > self.per_page
        return page

    def get_page(self, number):
        try:
            return super().get_page(number)
        except (PageNotAnInteger, EmptyPage):  # a capped list: an unreadable number is its first page
            return self.page(1)


class CappedPage(Page):
    more = False

    def has_next(self):
        return self.more

    def has_other_pages(self):
        return self.more or self.has_previous()

    def end_index(self):
        return (self.number - 1) * self.paginator.per_page + len(self.object_list)
