"""Vietnamese number format: Django's own sets the separators but no grouping, so `intcomma` left 14479 as is.
Dates typed day first (`khien.formats.dates`)."""
from khien.formats.dates import DATE_INPUT_FORMATS, DATETIME_INPUT_FORMATS  # noqa: F401 - read by Django

NUMBER_GROUPING = 3
THOUSAND_SEPARATOR = "."
DECIMAL_SEPARATOR = ","
