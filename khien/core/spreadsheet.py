"""Cells of the CSV and XLSX files the platform writes: a cell that starts like a formula is written with a
leading apostrophe, so that a spreadsheet never runs it (CSV injection); imports take the apostrophe away."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """The value as a cell: text that starts like a formula gets a leading apostrophe; other values are kept."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
