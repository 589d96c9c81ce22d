"""English pages of a Vietnamese platform: dates are written day first on every page in both languages, so they
are typed day first too (`khien.formats.dates`), not in the US order of Django's English defaults."""
from khien.formats.dates import DATE_INPUT_FORMATS, DATETIME_INPUT_FORMATS  # noqa: F401 - read by Django
