"""Cells of the CSV and XLSX files the platform writes: a cell that starts like a formula is written with a
leading apostrophe, so that a spreadsheet never runs it (CSV injection); imports take the apostrophe away.
Control characters that a worksheet cannot hold (all below space but tab, line feed and carriage return) are
left out: the API now refuses them in text, but data stored before (or brought by an import) may hold them, and
one such value made a whole XLSX export fail."""
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE as UNWRITABLE  # what openpyxl refuses (IllegalCharacterError)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """The value as a cell: text without unwritable control characters, with a leading apostrophe if it starts
    like a formula; other values are kept."""
    if isinstance(value, str):
        value = UNWRITABLE.sub("", value)
        if value.startswith(FORMULA_STARTS):
            return "'" + value
    return value
