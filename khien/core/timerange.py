"""The dates the platform stores and compares. No record of the platform is older than 1970 (event ids and days
count from it) or that far ahead; and before 1911 Vietnam's historical time zone had seconds in its offset
(+07:06:30), which RFC 3339 cannot write. Years 0 and 10000 do not exist, so a date near them cannot be moved to
UTC and back or have an hour added. Filters and API fields refuse dates outside these years with
`out_of_range_message()`; telemetry sends such records to the dead letters."""
from django.utils.translation import gettext as _

MIN_YEAR, MAX_YEAR = 1970, 9998


def storable(value) -> bool:
    return MIN_YEAR <= value.year <= MAX_YEAR


def out_of_range_message() -> str:
    return _("Enter a date between the years %(min)d and %(max)d.") % {"min": MIN_YEAR, "max": MAX_YEAR}
