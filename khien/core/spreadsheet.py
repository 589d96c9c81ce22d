"""Cells of the CSV and XLSX files the platform writes. In CSV a cell that starts like a formula is written with a
leading apostrophe, so that a spreadsheet never runs it (CSV injection); imports take the apostrophe away. In XLSX
a cell has a type: text is written as text (never as a formula), so it needs no apostrophe (`xlsx_row`).
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


def xlsx_row(sheet, values) -> list:
    """One row of a write-only worksheet: text as text cells (a phone number "+84 24…" or "=cmd" stays the text it
    is, never a formula, and without the CSV's apostrophe), without unwritable characters; other values as they are."""
    from openpyxl.cell import WriteOnlyCell

    row = []
    for value in values:
        if isinstance(value, str):
            cell = WriteOnlyCell(sheet, value=UNWRITABLE.sub("", value))
            cell.data_type = "s"  # openpyxl would store a text starting with "=" as a formula
        else:
            cell = WriteOnlyCell(sheet, value=value)
        row.append(cell)
    return row


def csv_stream(header, row_chunks):
    """The bytes of a CSV file, written as it streams: a UTF-8 byte order mark (so that Excel reads Vietnamese
    text right) with the header, then one piece per chunk of rows (each row a list of cells, made safe here)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode("utf-8")

    writer.writerow(header)
    yield "\ufeff".encode("utf-8") + flush()
    for rows in row_chunks:
        writer.writerows([safe_cell(cell) for cell in row] for row in rows)
        yield flush()


def xlsx_sheet(workbook, title: str, header: list[str], widths: list[int] | None = None):
    """A write-only worksheet ready to be read and sorted: the header row in bold, frozen while scrolling, with
    filter buttons, and columns wide enough for their header (or `widths`, in characters). Call before any row."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title=UNWRITABLE.sub("", title)[:31])  # a sheet name holds at most 31 characters
    for number, label in enumerate(header, start=1):
        width = widths[number - 1] if widths else min(max(len(label) + 4, 12), 50)
        sheet.column_dimensions[get_column_letter(number)].width = width
    sheet.freeze_panes = "A2"
    if header:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}1"
    bold = Font(bold=True)
    cells = []
    for label in header:
        cell = WriteOnlyCell(sheet, value=UNWRITABLE.sub("", label))
        cell.data_type = "s"
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)
    return sheet
