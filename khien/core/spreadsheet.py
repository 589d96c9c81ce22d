"""Cells of the CSV and XLSX files the platform writes: a cell that starts like a formula is written with a
leading apostrophe, so that a spreadsheet never runs it (CSV injection); imports take the apostrophe away.
Control characters that a worksheet cannot hold (all below space but tab, line feed and carriage return) are
left out: the API accepts them in text, and one such value made a whole XLSX export fail."""
import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what openpyxl refuses (IllegalCharacterError)


def safe_cell(value):
    """The value as a cell: text without unwritable control characters, with a leading apostrophe if it starts
    like a formula; other values are kept."""
    if isinstance(value, str):
        value = UNWRITABLE.sub("", value)
        if value.startswith(FORMULA_STARTS):
            return "'" + value
    return value
