"""Vietnamese number format: Django's own sets the separators but no grouping, so `intcomma` left 14479 as is."""
NUMBER_GROUPING = 3
THOUSAND_SEPARATOR = "."
DECIMAL_SEPARATOR = ","
