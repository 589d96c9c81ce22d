"""Bulk import and export of organizations and information systems (CSV and XLSX).

A file is imported all-or-nothing: every row goes through the same service
(`services.do_create_*` / `do_update_*`, so rights, validation and the audit
log are those of the UI and the API), inside one transaction; if any row is
refused, the transaction is rolled back and the job carries the full report of
bad rows (spreadsheet row numbers: the header is row 1).

Two phases, so that the page can show progress:

1. *validating* — outside any transaction: every cell is parsed (booleans,
   dates, choices, lists, codes of sectors and provinces, criteria answers).
   Progress is committed every `PROGRESS_EVERY` rows, visible on every database.
2. *writing* — one transaction: every row goes through its service, each in a
   savepoint so that one refused row does not hide the next ones. On
   PostgreSQL the progress of this phase is written through a second
   connection (the import's own writes are invisible until commit); on SQLite
   a second writer would wait for the import's lock, so the page sees the
   phase start and its end.

An exported file has the same columns and imports back unchanged.
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import logging
import re
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files import File
from django.db import connection, connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from khien.core import audit, resumable
from khien.core.api.fields import no_control_characters
from khien.core.audit import Act
from khien.core.errors import Forbidden, Refused, file_too_large
from khien.core.roles import Action
from khien.core.scoping import scope_for
from khien.core.spreadsheet import FORMULA_STARTS, safe_cell, xlsx_row, xlsx_sheet
from khien.core.timerange import out_of_range_message, storable

from . import levels, services
from .models import (
    FINISHED_IMPORT_STATUSES,
    ImportJob,
    ImportKind,
    ImportStatus,
    InformationSystem,
    LayerState,
    LevelStatus,
    OperationalStatus,
    Organization,
    OrgType,
    Province,
    Sector,
)
from .validators import normalize_domains, normalize_ip_ranges, split_list

log = logging.getLogger(__name__)

PROGRESS_EVERY = 50
ROW = "_row"  # key of the spreadsheet row number in the dicts `read_rows` returns
CRITERIA_PREFIX = "criteria_"

ORGANIZATION_COLUMNS = [
    "code", "name_vi", "name_en", "org_type", "parent_code", "province_code", "sectors", "address", "hotline",
    "contact_email", "duty_officer", "duty_officer_phone", "head_name", "head_title", "head_email", "head_phone",
]
SYSTEM_COLUMNS_BEFORE_CRITERIA = [
    "code", "name", "owner_code", "operator_code", "purpose", "operational_status", "important_to_national_security",
    "internet_facing", "ip_ranges", "domains", "products", "proposed_level", "level_justification",
]
SYSTEM_COLUMNS_AFTER_CRITERIA = [
    "layer1_status", "layer1_evidence", "layer2_status", "layer2_provider", "layer2_evidence",
    "layer3_status", "layer3_assessed_on", "layer3_assessor", "layer3_evidence",
    "layer4_status", "layer4_connected_on", "layer4_evidence",
]
# Shown in the export for the reader, ignored on import (they change only through the approval workflow).
SYSTEM_READ_ONLY_COLUMNS = ["approved_level", "level_status"]
REQUIRED_COLUMNS = {
    ImportKind.ORGANIZATIONS: ["code", "name_vi", "org_type"],
    ImportKind.SYSTEMS: ["code", "name", "owner_code"],
}

# Model field → column, to name the column of a model validation error.
FIELD_TO_COLUMN = {
    "parent": "parent_code", "province": "province_code", "owner": "owner_code", "operator": "operator_code",
    NON_FIELD_ERRORS: "",
}

TRUE_WORDS = {"1", "true", "yes", "y", "x", "có", "co", "đúng"}
FALSE_WORDS = {"", "0", "false", "no", "n", "không", "khong", "sai"}

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _valid_kind(kind: str) -> str:
    if kind not in ImportKind.values:
        raise Refused(_("Unknown kind of data “%(kind)s”: use organizations or systems.") % {"kind": kind})
    return kind


def criteria_question_ids() -> list[str]:
    framework = levels.current_framework()
    return [q["id"] for q in framework.data.get("questions", [])] if framework else []


def columns(kind: str, read_only: bool = True) -> list[str]:
    """The columns of an import/export file of `kind`, in order; without `read_only`, those an import writes.

    Column names are stable codes, whatever the language: the import reads them. The values a person reads
    (statuses, types, yes/no) are exported as words of the exporter's language, and read back in either
    language or as codes (`parse_choice`, `parse_bool`).
    """
    kind = _valid_kind(kind)
    if kind == ImportKind.ORGANIZATIONS:
        return list(ORGANIZATION_COLUMNS)
    return (SYSTEM_COLUMNS_BEFORE_CRITERIA + [CRITERIA_PREFIX + q for q in criteria_question_ids()]
            + SYSTEM_COLUMNS_AFTER_CRITERIA + (SYSTEM_READ_ONLY_COLUMNS if read_only else []))


class _Columns(Mapping):
    """`COLUMNS[kind]`: computed when asked, since the systems' criteria columns follow the current framework."""

    def __getitem__(self, kind):
        if kind not in ImportKind.values:
            raise KeyError(kind)
        return columns(kind)

    def __iter__(self):
        return iter(ImportKind.values)

    def __len__(self):
        return len(ImportKind.values)


COLUMNS = _Columns()


# --- Reading files --------------------------------------------------------------------


def _read_bytes(uploaded_file) -> bytes:
    size = getattr(uploaded_file, "size", None)
    limit = settings.KHIEN_MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        raise file_too_large()
    if hasattr(uploaded_file, "seek"):
        try:
            uploaded_file.seek(0)
        except (OSError, ValueError):
            pass
    data = uploaded_file.read(limit + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > limit:
        raise file_too_large()
    return data


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if text.startswith("'") and text[1:2] and text[1:].startswith(FORMULA_STARTS):
        text = text[1:]  # undo the export's protection against formulas
    return text


# What a workbook may unpack into, per row of KHIEN_IMPORT_MAX_ROWS (and 1,000 rows' worth for the styles, theme…).
# A full row of our own export is ~1.8 KB of worksheet XML. Only worksheets are read as a stream; openpyxl holds
# every other part whole in memory, even read-only: its shared strings (~10 µs and ~170 bytes each) are the
# largest part of a real workbook. Real parts compress 5–25 times; a zip bomb hundreds of times.
XLSX_BYTES_PER_ROW = 2048
XLSX_WHOLE_PART_BYTES_PER_ROW = 512
XLSX_MAX_RATIO = 100
# What reading a workbook costs grows with its rows, its cells and its shared strings, not only with its bytes:
# 1 million short shared strings fit in 20 MB and took openpyxl 7–9 s to read; a row numbered 20,000,000 made
# it yield 20 million empty rows (8 s, from 5 KB); a declared size of XFD1048576 padded every row to 16,384 cells
# (45 s for 20,000 rows, from 150 KB). So the rows, cells and shared strings are counted before openpyxl reads
# anything, and the rows and cells it yields are counted again as it reads.
XLSX_SPARE_ROWS = 1000  # blank or formatted rows beside the data, the header
XLSX_CELLS_PER_ROW = 64  # twice the widest import (32 columns): formatted empty cells beside the data
XLSX_SPARE_STRINGS = 1000
# Start tags counted in the raw XML: the plain form and, for a document that names the namespace with a prefix
# (<x:c>), the prefixed one, whose end tags count too (hence the row allowance doubled below, and the cell
# allowance twice the widest import). An upper bound: other tags starting the same way count as well.
_XLSX_ROW_TAGS = (b"<row", b":row")
_XLSX_CELL_TAGS = (b"<c", b":c")
_XLSX_STRING_TAGS = (b"<si", b":si")


def _xlsx_budget() -> tuple[int, int]:
    """(rows, cells) an import may read from a workbook: the row limit, with room for blank and formatted rows."""
    rows = settings.KHIEN_IMPORT_MAX_ROWS + XLSX_SPARE_ROWS
    return rows, rows * XLSX_CELLS_PER_ROW


def _bad_xlsx():
    return Refused(_("The file is not a readable XLSX workbook."), code="bad_file")


def _too_many_xlsx_rows():
    return Refused(_("The sheet has more than %(n)s rows, empty rows included; delete the empty rows below the data "
                     "or split the file into smaller ones.") % {"n": _xlsx_budget()[0]}, code="too_many_rows")


def _too_many_xlsx_cells():
    return Refused(_("The sheet has more than %(n)s cells, formatted empty cells included; delete the unused columns "
                     "and rows, or split the file into smaller ones.") % {"n": _xlsx_budget()[1]},
                   code="too_many_cells")


def _count_tags(archive: zipfile.ZipFile, name: str, tags: tuple[bytes, ...], limit: int) -> int:
    """How many of `tags` the part `name` holds (read in 1 MB pieces), or a number above `limit` once it is
    reached. The pieces overlap by 3 bytes, so that no tag is missed where they meet (one may count twice)."""
    total, tail = 0, b""
    with archive.open(name) as part:
        while chunk := part.read(1 << 20):
            window = tail + chunk
            total += sum(window.count(tag) for tag in tags)
            if total > limit:
                break
            tail = window[-3:]
    return total


def _check_xlsx_size(data: bytes):
    """Refuse, before openpyxl reads it, a workbook that would unpack into far more than an import can hold, or
    whose rows, cells or shared strings are more than an import reads."""
    from openpyxl.packaging.manifest import Manifest
    from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS, WORKSHEET_TYPE
    from openpyxl.xml.functions import fromstring

    max_rows, max_cells = _xlsx_budget()
    too_big, counted = False, None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
            sizes = {p.filename: p.file_size for p in parts}
            too_big = (sum(p.file_size for p in parts) > max_rows * XLSX_BYTES_PER_ROW
                       or sizes.get(ARC_CONTENT_TYPES, 0) > max_rows * XLSX_WHOLE_PART_BYTES_PER_ROW
                       or any(p.file_size > 2**20 and p.file_size > XLSX_MAX_RATIO * p.compress_size for p in parts))
            if not too_big:
                manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
                types: dict[str, set] = {}
                for override in manifest.Override:
                    types.setdefault(override.PartName[1:], set()).add(override.ContentType)
                too_big = any(size > max_rows * XLSX_WHOLE_PART_BYTES_PER_ROW and types.get(name) != {WORKSHEET_TYPE}
                              for name, size in sizes.items())
            if not too_big:
                # The shared strings openpyxl reads (the first part declared as such); rows and cells in every other
                # part (openpyxl finds a worksheet through the workbook's relations, whatever type it is declared).
                strings = manifest.find(SHARED_STRINGS)
                strings_part = strings.PartName[1:] if strings is not None else None
                others = [p.filename for p in parts if p.filename != strings_part and not p.is_dir()]
                row_tags = cell_tags = 0
                for name in others:
                    row_tags += _count_tags(archive, name, _XLSX_ROW_TAGS, 2 * max_rows - row_tags)
                    if row_tags > 2 * max_rows:
                        counted = "rows"
                        break
                    cell_tags += _count_tags(archive, name, _XLSX_CELL_TAGS, max_cells - cell_tags)
                    if cell_tags > max_cells:
                        counted = "cells"
                        break
                # A spreadsheet program keeps the texts its cells use, one cell each at least.
                if counted is None and strings_part in sizes and _count_tags(
                        archive, strings_part, _XLSX_STRING_TAGS, cell_tags + XLSX_SPARE_STRINGS) > (
                        cell_tags + XLSX_SPARE_STRINGS):
                    counted = "strings"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, zlib.error,  # not a zip
            KeyError, SyntaxError, ValueError, TypeError, AttributeError):  # no or a broken [Content_Types].xml
        raise _bad_xlsx()
    if too_big:
        raise Refused(_("The workbook unpacks into far more data than %(n)s rows need; split it into smaller "
                        "files.") % {"n": settings.KHIEN_IMPORT_MAX_ROWS}, code="unpacks_too_large")
    if counted == "rows":
        raise _too_many_xlsx_rows()
    if counted == "cells":
        raise _too_many_xlsx_cells()
    if counted == "strings":
        raise Refused(_("The workbook holds far more texts than its cells use; open it in a spreadsheet program and "
                        "save it again, or import it as a CSV file."), code="too_many_strings")


def _xlsx_rows(data: bytes):
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    _check_xlsx_size(data)
    max_rows, max_cells = _xlsx_budget()
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, TypeError, OSError, zlib.error):
        raise _bad_xlsx()
    try:
        if not workbook.worksheets:
            raise Refused(_("The file is empty."), code="empty")
        sheet = workbook.worksheets[0]
        # The size the sheet declares is not trusted: openpyxl would pad every row to its width. Without it, a row
        # is as wide as its last cell and a row missing from the file is yielded empty (counted below all the same).
        sheet.reset_dimensions()
        cells = 0
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells += len(row)
            if number > max_rows:
                raise _too_many_xlsx_rows()
            if cells > max_cells:
                raise _too_many_xlsx_cells()
            yield [_cell_text(v) for v in row]
    except Refused:
        raise
    except Exception:  # a damaged workbook can fail anywhere while being read
        log.warning("unreadable XLSX sheet", exc_info=True)
        raise _bad_xlsx()
    finally:
        workbook.close()


def _csv_rows(data: bytes):
    if b"\x00" in data[:65536]:
        raise Refused(_("The file is neither a CSV file in UTF-8 nor an XLSX workbook."), code="bad_file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refused(_("The file is neither a CSV file in UTF-8 nor an XLSX workbook."), code="bad_file")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            yield [_cell_text(v) for v in row]
    except csv.Error as exc:
        raise Refused(_("The CSV file cannot be read: %(error)s") % {"error": exc}, code="bad_file")


def read_rows(uploaded_file, kind: str | None = None) -> list[dict]:
    """The data rows of a CSV or XLSX file, as {column: text} dicts with the row number under `ROW`.

    With `kind`, the header must name only known columns and all the required
    ones. Raises `Refused` for anything that is not a usable file.
    """
    data = _read_bytes(uploaded_file)
    if not data.strip():
        raise Refused(_("The file is empty."), code="empty")
    rows = _xlsx_rows(data) if data[:4] == b"PK\x03\x04" else _csv_rows(data)
    header = None
    out: list[dict] = []
    max_rows = settings.KHIEN_IMPORT_MAX_ROWS
    for number, cells in enumerate(rows, start=1):
        if header is None:
            if not any(cells):
                continue
            header = [c.strip().lower() for c in cells]
            header_row = number
            _check_header(header, kind)
            continue
        if not any(cells):
            continue  # blank lines (trailing rows of a spreadsheet)
        if len(out) >= max_rows:
            raise Refused(_("The file has more than %(n)s rows; split it into smaller files.") % {"n": max_rows},
                          code="too_many_rows")
        row = {}
        for i, value in enumerate(cells):
            if i >= len(header) or not header[i]:
                if value:
                    raise Refused(_("Row %(row)s has a value in a column without a name.") % {"row": number},
                                  code="bad_header")
                continue
            row[header[i]] = value
        row[ROW] = number
        out.append(row)
    if header is None:
        raise Refused(_("The file is empty."), code="empty")
    if not out:
        raise Refused(_("The file has a header (row %(row)s) but no data rows.") % {"row": header_row}, code="empty")
    return out


def _check_header(header: list[str], kind: str | None):
    named = [h for h in header if h]
    duplicates = sorted({h for h in named if named.count(h) > 1})
    if duplicates:
        raise Refused(_("Columns appear more than once: %(cols)s.") % {"cols": ", ".join(duplicates)}, code="bad_header")
    if kind is None:
        return
    known = columns(kind)
    unknown = [h for h in named if h not in known]
    if unknown:
        raise Refused(
            _("Unknown columns: %(cols)s. The columns are: %(known)s.") % {"cols": ", ".join(unknown),
                                                                            "known": ", ".join(known)},
            code="bad_header",
        )
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in named]
    if missing:
        raise Refused(_("Required columns are missing: %(cols)s.") % {"cols": ", ".join(missing)}, code="bad_header")


# --- Parsing cells -----------------------------------------------------------------------


class CellError(Exception):
    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


def parse_bool(value: str, field: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CellError(field, _("Write 1 or 0 (or true/false, có/không, x or nothing), not “%(v)s”.") % {"v": value})


def parse_date(value: str, field: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    parsed = None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            parsed = dt.datetime.strptime(value, fmt).date()
            break
        except ValueError:
            continue
    if parsed is None and re.match(r"^\d{4}-\d{2}-\d{2}T", value):  # a date-time cell from a spreadsheet
        try:
            parsed = dt.datetime.fromisoformat(value).date()
        except ValueError:
            pass
    if parsed is None:
        raise CellError(field, _("Write the date as YYYY-MM-DD or DD/MM/YYYY, not “%(v)s”.") % {"v": value})
    if not storable(parsed):
        raise CellError(field, out_of_range_message())
    return parsed


def _control_character_errors(row: dict) -> list[CellError]:
    """The API's rule for text (`core.api.fields`), for every cell."""
    errors = []
    for column, value in row.items():
        try:
            no_control_characters(value)
        except ValidationError as exc:
            errors.append(CellError(column, exc.messages[0]))
    return errors


def _word(text: str) -> str:
    """How a cell is compared with a label: lower case, one space between words, composed accents (a file saved on
    some systems writes "ộ" as "o" and two combining marks)."""
    return " ".join(unicodedata.normalize("NFC", str(text)).lower().split())


def _choice_words(choices) -> dict[str, str]:
    """{code or label in any of the platform's languages, lower-cased: code} of a choices class."""
    words = {}
    for code_, label in choices.choices:
        for lang, _name in settings.LANGUAGES:
            with translation.override(lang):
                words.setdefault(_word(label), code_)
    words.update({code_: code_ for code_ in choices.values})
    return words


def parse_choice(value: str, field: str, choices) -> str:
    """A choice written as its code (`in_place`) or its label in Vietnamese or English (as the export writes it)."""
    if value in choices.values:
        return value
    code_ = _choice_words(choices).get(_word(value))
    if code_ is not None:
        return code_
    # The names as well as the codes: the guide tells people to write the name, which is what they know.
    raise CellError(field, _("Unknown value “%(v)s”: use one of %(choices)s.") % {
        "v": value, "choices": "; ".join(f"{label} ({code_})" for code_, label in choices.choices)})


def choice_label(choices, value: str) -> str:
    """How the export writes a choice: its label in the active language (`parse_choice` reads it back)."""
    return str(dict(choices.choices).get(value, value)) if value else ""


class CriteriaAnswers:
    """The criteria answers of the current framework as a file writes them: the export writes an answer's label in
    the active language (a reader cannot make sense of `internal_admin`); the import reads the label in either
    language, or the option id (older exports, scripts), so an export imports back unchanged."""

    def __init__(self, framework=None):
        framework = framework or levels.current_framework()
        self.labels: dict[str, dict[str, str]] = {}  # question id → {option id: label in the active language}
        self.words: dict[str, dict[str, str]] = {}  # question id → {option id or any label, as _word: option id}
        if framework is None:
            return
        lang = "en" if (translation.get_language() or "vi").startswith("en") else "vi"
        for question in framework.data.get("questions", []):
            options = question.get("options", [])
            self.labels[question["id"]] = {o["id"]: o.get(f"label_{lang}") or o.get("label_vi") or o["id"]
                                           for o in options}
            words = {_word(o["id"]): o["id"] for o in options}
            for option in options:
                for key in ("label_vi", "label_en"):
                    if option.get(key):
                        words.setdefault(_word(option[key]), option["id"])
            self.words[question["id"]] = words

    def label(self, question_id: str, answer: str) -> str:
        """The label of `answer`, or the answer as stored when the current framework does not know it."""
        return self.labels.get(question_id, {}).get(answer, answer)

    def parse(self, question_id: str, value: str, column: str) -> str:
        option = self.words.get(question_id, {}).get(_word(value))
        if option is None:
            choices = self.labels.get(question_id, {})
            raise CellError(column, _("Unknown answer “%(v)s”: use one of %(choices)s.") % {
                "v": value, "choices": "; ".join(choices.values()) or "—"})
        return option


def yes_no(value: bool) -> str:
    """How the export writes a yes/no cell, in the active language (`parse_bool` reads both)."""
    if (translation.get_language() or "vi").startswith("vi"):
        return "có" if value else "không"
    return "yes" if value else "no"


def parse_level(value: str, field: str) -> int | None:
    if not value.strip():
        return None
    if value.strip() in {"1", "2", "3", "4", "5"}:
        return int(value)
    raise CellError(field, _("Write a level from 1 to 5, not “%(v)s”.") % {"v": value})


class _Lookups:
    """Codes of sectors and provinces, cached for the whole file."""

    def __init__(self):
        self.sectors = {s.code: s for s in Sector.objects.all()}
        self.provinces = {p.code: p for p in Province.objects.all()}


def _parse_organization(row: dict, lookups: _Lookups) -> tuple[dict, list[CellError]]:
    """Cells → {"data": service fields, "refs": codes to resolve, "sectors": [...] or None}."""
    errors: list[CellError] = []
    data: dict = {}
    for name in ("code", "name_vi", "name_en", "address", "hotline", "contact_email", "duty_officer",
                 "duty_officer_phone", "head_name", "head_title", "head_email", "head_phone"):
        if name in row:
            data[name] = row[name]
    parsed = {"data": data, "refs": {}, "sectors": None}
    if "org_type" in row:
        try:
            data["org_type"] = parse_choice(row["org_type"], "org_type", OrgType) if row["org_type"] else ""
        except CellError as exc:
            errors.append(exc)
    if "parent_code" in row:
        parsed["refs"]["parent"] = row["parent_code"] or None
    if "province_code" in row:
        code = row["province_code"]
        if not code:
            data["province"] = None
        elif code in lookups.provinces:
            data["province"] = lookups.provinces[code]
        else:
            errors.append(CellError("province_code", _("Unknown province code “%(v)s”.") % {"v": code}))
    if "sectors" in row:
        codes = split_list(row["sectors"])
        unknown = [c for c in codes if c not in lookups.sectors]
        if unknown:
            errors.append(CellError("sectors", _("Unknown sector codes: %(v)s.") % {"v": ", ".join(unknown)}))
        else:
            parsed["sectors"] = [lookups.sectors[c] for c in dict.fromkeys(codes)]
    return parsed, errors


def _parse_system(row: dict, lookups: _Lookups, criteria: CriteriaAnswers) -> tuple[dict, list[CellError]]:
    errors: list[CellError] = []
    data: dict = {}
    parsed = {"data": data, "refs": {}, "sectors": None}

    def attempt(fn, *args):
        try:
            return fn(*args), True
        except CellError as exc:
            errors.append(exc)
            return None, False

    for name in ("code", "name", "purpose", "level_justification", "layer1_evidence", "layer2_provider",
                 "layer2_evidence", "layer3_assessor", "layer3_evidence", "layer4_evidence"):
        if name in row:
            data[name] = row[name]
    if "owner_code" in row:
        parsed["refs"]["owner"] = row["owner_code"] or None
    if "operator_code" in row:
        parsed["refs"]["operator"] = row["operator_code"] or None
    # An empty choice cell keeps the current value (the default for a new system).
    for name, choices in (("operational_status", OperationalStatus), ("layer1_status", LayerState),
                          ("layer2_status", LayerState), ("layer3_status", LayerState), ("layer4_status", LayerState)):
        if row.get(name):
            value, ok = attempt(parse_choice, row[name], name, choices)
            if ok:
                data[name] = value
    for name in ("important_to_national_security", "internet_facing"):
        if name in row:
            value, ok = attempt(parse_bool, row[name], name)
            if ok:
                data[name] = value
    for name in ("layer3_assessed_on", "layer4_connected_on"):
        if name in row:
            value, ok = attempt(parse_date, row[name], name)
            if ok:
                data[name] = value
    for name, normalize in (("ip_ranges", normalize_ip_ranges), ("domains", normalize_domains), ("products", None)):
        if name in row:
            values = split_list(row[name])
            if normalize is not None:
                try:
                    values = normalize(values)
                except ValueError:
                    pass  # the model's validator names the bad value
            # Checked now, with the row's other cells, so that one upload reports every bad cell (the same
            # validators run again when the row is saved).
            try:
                InformationSystem._meta.get_field(name).run_validators(values)
            except ValidationError as exc:
                errors.append(CellError(name, " ".join(exc.messages)))
                continue
            data[name] = values
    if "proposed_level" in row:
        value, ok = attempt(parse_level, row["proposed_level"], "proposed_level")
        if ok:
            data["proposed_level"] = value
    criteria_columns = [c for c in row if c.startswith(CRITERIA_PREFIX)]
    if criteria_columns:
        answers = {}
        for column in criteria_columns:
            qid, value = column[len(CRITERIA_PREFIX):], row[column]
            if not value:
                continue
            answer, ok = attempt(criteria.parse, qid, value, column)
            answers[qid] = answer if ok else value
        data["criteria"] = answers
    return parsed, errors


# --- Running an import ---------------------------------------------------------------------


class _ProgressWriter:
    """Writes the job's progress so that other connections see it."""

    def __init__(self, job: ImportJob, callback=None):
        self.job = job
        self.callback = callback
        self.side = None

    def set(self, done: int, *, in_transaction: bool, **extra):
        if self.callback is not None:
            self.callback(done, self.job.total_rows)
        if not in_transaction:
            ImportJob.objects.filter(pk=self.job.pk).update(processed_rows=done, updated_at=timezone.now(), **extra)
            return
        if connection.vendor != "postgresql":
            # SQLite: a second writer would wait for the import's own lock. No sign of life either, none is
            # needed: while this run holds the lock no worker can claim the job (core.resumable).
            return
        try:
            if self.side is None:
                self.side = connections.create_connection("default")
            table = self.side.ops.quote_name(ImportJob._meta.db_table)
            with self.side.cursor() as cur:
                cur.execute(f"UPDATE {table} SET processed_rows = %s, updated_at = %s WHERE id = %s",
                            [done, timezone.now(), self.job.pk])
        except Exception:  # progress is a courtesy: never fail the import for it
            log.warning("could not write import progress", exc_info=True)

    def close(self):
        if self.side is not None:
            self.side.close()
            self.side = None


def _error(row: int, field: str, message) -> dict:
    return {"row": row, "field": field, "message": str(message)}


def _validation_errors(row: int, exc: ValidationError) -> list[dict]:
    if hasattr(exc, "error_dict"):
        return [_error(row, FIELD_TO_COLUMN.get(field, field), message)
                for field, messages in exc.message_dict.items() for message in messages]
    return [_error(row, "", message) for message in exc.messages]


class _Importer:
    def __init__(self, kind: str, user):
        self.kind = kind
        self.user = user
        self.import_scope = scope_for(user, Action.IMPORT)
        self.orgs: dict[str, Organization] = {}  # codes resolved (or created) so far
        self.bad_codes: dict[str, int] = {}  # code → row number of a rejected row defining it

    def org(self, code: str, field: str, current: Organization | None = None) -> Organization:
        """The organization `code` names: one the user may name (`referable_by`), or `current`, the one the row's
        object refers to already (an organization's export names the outside operator of its systems)."""
        if current is not None and current.code == code:
            return current  # not cached: keeping it on this row does not let another row name it
        if code in self.orgs:
            return self.orgs[code]
        org = Organization.objects.referable_by(self.user).filter(code=code).first()
        if org is None:
            if code in self.bad_codes:
                raise CellError(field, _("Organization “%(v)s” is defined in row %(row)s, which has errors.") % {
                    "v": code, "row": self.bad_codes[code]})
            raise CellError(field, _("No organization with code “%(v)s” that you can see.") % {"v": code})
        self.orgs[code] = org
        return org

    def require_import_right(self, org: Organization | None, field: str):
        if org is None:
            if not self.import_scope.everything:
                raise CellError(field, _("Only the national coordinator can import top-level organizations."))
            return
        if not self.import_scope.covers_path(org.path):
            raise CellError(field, _("You do not have the right to import data for organization “%(v)s”.") % {
                "v": org.code})

    def write(self, parsed: dict) -> str:
        """Create or update one row through the services; 'created', 'updated' or 'unchanged'."""
        data = dict(parsed["data"])
        code = data.get("code", "")
        if not code:
            raise CellError("code", _("This column must not be empty."))
        model = Organization if self.kind == ImportKind.ORGANIZATIONS else InformationSystem
        existing = model.objects.filter(code=code).first()
        owner_field = "parent" if self.kind == ImportKind.ORGANIZATIONS else "owner"
        if existing is not None and not model.objects.restrict(self.user, Action.CHANGE).filter(pk=existing.pk).exists():
            raise CellError("code", _("“%(v)s” already exists and you may not change it.") % {"v": code})
        for name, ref in parsed["refs"].items():
            current = getattr(existing, name) if existing is not None else None
            data[name] = self.org(ref, FIELD_TO_COLUMN[name], current) if ref else None
        if existing is None:
            target = data.get(owner_field)
            if self.kind == ImportKind.SYSTEMS and target is None:
                raise CellError("owner_code", _("This column must not be empty."))
            self.require_import_right(target, FIELD_TO_COLUMN[owner_field])
            try:
                if self.kind == ImportKind.ORGANIZATIONS:
                    obj = services.do_create_organization(data, acting_user=self.user, sectors=parsed["sectors"])
                    self.orgs[obj.code] = obj
                else:
                    services.do_create_system(data, acting_user=self.user)
            except Forbidden as exc:
                raise CellError(FIELD_TO_COLUMN[owner_field], exc.message)
            return "created"
        scope_org = existing if self.kind == ImportKind.ORGANIZATIONS else existing.owner
        self.require_import_right(scope_org, "code")
        if owner_field in data and data[owner_field] != getattr(existing, owner_field):
            self.require_import_right(data[owner_field], FIELD_TO_COLUMN[owner_field])
        changed = {k for k, v in data.items() if getattr(existing, k) != v}
        if parsed["sectors"] is not None and set(parsed["sectors"]) != set(existing.sectors.all()):
            changed.add("sectors")
        if not changed:
            return "unchanged"
        try:
            if self.kind == ImportKind.ORGANIZATIONS:
                obj = services.do_update_organization(existing, data, acting_user=self.user, sectors=parsed["sectors"])
                self.orgs[obj.code] = obj
            else:
                services.do_update_system(existing, data, acting_user=self.user)
        except Forbidden as exc:
            raise CellError(FIELD_TO_COLUMN[owner_field] if owner_field in changed else "code", exc.message)
        return "updated"


def run_import(job: ImportJob, *, rows: list[dict] | None = None, progress=None) -> ImportJob:
    """Validate then write every row of the job's file; all or nothing. Sets the job's final state."""
    writer = _ProgressWriter(job, progress)
    try:
        with translation.override(job.language):  # the report in the requester's language, whoever runs it
            _run(job, rows, writer)
    except Exception:
        log.exception("import %s failed", job.pk)
        with translation.override(job.language):
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportStatus.FAILED, finished_at=timezone.now(),
                errors=[_error(0, "", _("The import failed because of an internal error; nothing was changed. "
                                        "The operators have the details in the log."))],
            )
    finally:
        writer.close()
    job.refresh_from_db()
    return job


class _Rejected(Exception):
    pass


def _run(job: ImportJob, rows, writer: _ProgressWriter):
    kind, user = job.kind, job.created_by
    if rows is None:
        try:
            with job.file.open("rb") as fh:
                rows = read_rows(fh, kind)
        except Refused as exc:
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportStatus.REJECTED, finished_at=timezone.now(), errors=[_error(1, "", exc.message)])
            return
    job.total_rows = len(rows)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.VALIDATING, total_rows=len(rows), processed_rows=0,
                                               updated_at=timezone.now())

    # Phase 1: parse every cell.
    lookups = _Lookups()
    criteria = CriteriaAnswers()
    errors: list[dict] = []
    parsed_rows: list[tuple[int, dict | None]] = []
    importer = _Importer(kind, user)
    for i, row in enumerate(rows, start=1):
        if kind == ImportKind.ORGANIZATIONS:
            parsed, cell_errors = _parse_organization(row, lookups)
        else:
            parsed, cell_errors = _parse_system(row, lookups, criteria)
        cell_errors += _control_character_errors(row)
        if cell_errors:
            errors.extend(_error(row[ROW], e.field, e.message) for e in cell_errors)
            if row.get("code"):
                importer.bad_codes.setdefault(row["code"], row[ROW])
            parsed = None
        parsed_rows.append((row[ROW], parsed))
        if i % PROGRESS_EVERY == 0:
            writer.set(i, in_transaction=False)
    seen: dict[str, int] = {}
    for row in rows:
        code = row.get("code", "")
        if code and code in seen:
            errors.append(_error(row[ROW], "code", _("The code “%(v)s” already appears in row %(row)s.") % {
                "v": code, "row": seen[code]}))
        seen.setdefault(code, row[ROW])
    writer.set(len(rows), in_transaction=False, status=ImportStatus.WRITING)
    writer.set(0, in_transaction=False)

    # Phase 2: every row through its service, in one transaction; rolled back if anything is refused.
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    try:
        with transaction.atomic():
            for i, (row_number, parsed) in enumerate(parsed_rows, start=1):
                if parsed is not None:
                    try:
                        with transaction.atomic():
                            counts[importer.write(parsed)] += 1
                    except CellError as exc:
                        errors.append(_error(row_number, exc.field, exc.message))
                    except ValidationError as exc:
                        errors.extend(_validation_errors(row_number, exc))
                    except Refused as exc:
                        errors.append(_error(row_number, "", exc.message))
                    if errors and errors[-1]["row"] == row_number and parsed["data"].get("code"):
                        importer.bad_codes.setdefault(parsed["data"]["code"], row_number)
                if i % PROGRESS_EVERY == 0:
                    writer.set(i, in_transaction=True)
            if errors:
                raise _Rejected
            # Committed with the rows: a worker sees the job either unfinished with nothing written, or done.
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportStatus.DONE, processed_rows=len(rows), created_count=counts["created"],
                updated_count=counts["updated"], unchanged_count=counts["unchanged"], errors=[],
                finished_at=timezone.now())
    except _Rejected:
        errors.sort(key=lambda e: e["row"])
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.REJECTED, errors=errors, finished_at=timezone.now(), processed_rows=len(rows))
        return
    if writer.callback is not None:
        writer.callback(len(rows), len(rows))


def check_may_import(acting_user, kind: str | None = None):
    """Forbidden unless the user has the import right in some organization."""
    if kind is not None:
        _valid_kind(kind)
    scope = scope_for(acting_user, Action.IMPORT)
    if not scope.everything and not scope.paths:
        raise Forbidden(_("You do not have the right to import data."))


@transaction.atomic
def _create_job(kind: str, uploaded_file, name: str, acting_user) -> ImportJob:
    job = ImportJob(kind=kind, original_name=Path(name or "import").name[:255], created_by=acting_user,
                    language=translation.get_language() or settings.LANGUAGE_CODE)
    job.file.save(job.id.hex, uploaded_file, save=False)
    job.save()
    audit.record(Act.IMPORT, job, actor=acting_user)
    return job


def _run_in_thread(job_id):
    try:
        run_import(ImportJob.objects.select_related("created_by").get(pk=job_id))
    except Exception:
        log.exception("import %s could not run", job_id)
    finally:
        connection.close()


def start_import(kind: str, uploaded_file, *, acting_user) -> ImportJob:
    """Check the file and the right, store the file, and import it (in the background unless KHIEN_IMPORT_SYNC).

    A file that cannot be read, or has the wrong columns, is refused here (nothing is stored).
    """
    check_may_import(acting_user, kind)
    rows = read_rows(uploaded_file, kind)
    uploaded_file.seek(0)
    job = _create_job(kind, uploaded_file, getattr(uploaded_file, "name", ""), acting_user)
    if getattr(settings, "KHIEN_IMPORT_SYNC", False):
        return run_import(job, rows=rows)
    thread = threading.Thread(target=_run_in_thread, args=(job.pk,), name=f"import-{job.pk}", daemon=True)
    transaction.on_commit(thread.start)
    return job


def resume_stale_imports(now) -> list[str]:
    """Run again, here, the imports whose run stopped (the web process restarted): nothing of them was written
    (all or nothing) and their file is kept. A job whose `updated_at` has not moved for KHIEN_IMPORT_STALE_SECONDS
    is claimed by one worker only (`core.resumable`); after `resumable.MAX_RUNS` runs it fails ("upload again").
    Returns the jobs handled, each with what became of it."""
    handled = []
    unfinished = ImportJob.objects.exclude(status__in=FINISHED_IMPORT_STATUSES).order_by("created_at")
    stale_seconds = settings.KHIEN_IMPORT_STALE_SECONDS
    for job in resumable.claim_stale(unfinished, alive_field="updated_at", stale_seconds=stale_seconds, now=now):
        if job.attempts > resumable.MAX_RUNS:
            with translation.override(job.language):
                given_up = _("The import was interrupted %(n)d times before it could finish; nothing was "
                             "changed. Upload the file again.") % {"n": resumable.MAX_RUNS}
            ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.FAILED, finished_at=timezone.now(),
                                                       errors=[_error(0, "", given_up)])
            handled.append(f"{job.pk}: given up")
            continue
        log.info("import %s: resuming an interrupted import of %s (run %d)", job.pk, job.original_name, job.attempts)
        job = run_import(job)
        handled.append(f"{job.pk}: {job.status}")
    return handled


def import_file(kind: str, path_or_file, *, acting_user, progress=None) -> ImportJob:
    """Import a file now (the CLI's way); `progress(done, total)` is called as rows are processed."""
    check_may_import(acting_user, kind)
    if isinstance(path_or_file, (str, Path)):
        path = Path(path_or_file)
        if path.stat().st_size > settings.KHIEN_MAX_UPLOAD_BYTES:
            raise file_too_large()
        with path.open("rb") as fh:
            upload = File(fh, name=path.name)
            rows = read_rows(upload, kind)
            upload.seek(0)
            job = _create_job(kind, upload, path.name, acting_user)
    else:
        rows = read_rows(path_or_file, kind)
        path_or_file.seek(0)
        job = _create_job(kind, path_or_file, getattr(path_or_file, "name", ""), acting_user)
    return run_import(job, rows=rows, progress=progress)


# --- Export ----------------------------------------------------------------------------------


def _organization_cells(org: Organization) -> dict:
    return {
        **{name: getattr(org, name) for name in ORGANIZATION_COLUMNS if hasattr(org, name) and name != "sectors"},
        "org_type": choice_label(OrgType, org.org_type),
        "parent_code": org.parent.code if org.parent_id else "",
        "province_code": org.province.code if org.province_id else "",
        "sectors": "; ".join(sorted(s.code for s in org.sectors.all())),
    }


def _system_cells(system: InformationSystem, criteria: CriteriaAnswers) -> dict:
    cells = {name: getattr(system, name) for name in SYSTEM_COLUMNS_BEFORE_CRITERIA + SYSTEM_COLUMNS_AFTER_CRITERIA
             if hasattr(system, name)}
    cells.update({
        "owner_code": system.owner.code,
        "operator_code": system.operator.code if system.operator_id else "",
        "important_to_national_security": yes_no(system.important_to_national_security),
        "internet_facing": yes_no(system.internet_facing),
        "operational_status": choice_label(OperationalStatus, system.operational_status),
        **{f"layer{n}_status": choice_label(LayerState, getattr(system, f"layer{n}_status")) for n in (1, 2, 3, 4)},
        "approved_level": system.approved_level or "",
        "level_status": choice_label(LevelStatus, system.level_status),
        "ip_ranges": "; ".join(system.ip_ranges or []),
        "domains": "; ".join(system.domains or []),
        "products": "; ".join(system.products or []),
        "proposed_level": system.proposed_level or "",
    })
    for qid, answer in (system.criteria or {}).items():
        cells[CRITERIA_PREFIX + qid] = criteria.label(qid, answer)
    return cells


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _row(cells: dict, header: list[str]) -> list[str]:
    """One object's line of an export: its cells (made once per object) in the header's order."""
    return [_text(cells.get(column, "")) for column in header]


def export_file(kind: str, queryset, fmt: str, *, acting_user=None, filters: dict | None = None) -> tuple[bytes, str, str]:
    """(content, content type, file name) of `queryset` as a file that imports back unchanged. Taken out by
    `acting_user` (a page or the API): recorded in the audit log with the filters, as every export is."""
    kind = _valid_kind(kind)
    if fmt not in {"csv", "xlsx"}:
        raise Refused(_("Unknown file format “%(fmt)s”: use csv or xlsx.") % {"fmt": fmt})
    header = columns(kind)
    if kind == ImportKind.ORGANIZATIONS:
        objects = queryset.select_related("parent", "province").prefetch_related("sectors").order_by("path")
        cells_of = _organization_cells
    else:
        objects = queryset.select_related("owner", "operator").order_by("code")
        cells_of = functools.partial(_system_cells, criteria=CriteriaAnswers())
    lines = [_row(cells_of(obj), header) for obj in objects.iterator(chunk_size=1000)]
    if acting_user is not None:
        noun = "organizations" if kind == ImportKind.ORGANIZATIONS else "systems"
        audit.record_export(acting_user, object_type=objects.model._meta.label_lower, noun=noun, fmt=fmt,
                            count=len(lines), filters=filters or {})
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"khien-{kind}-{stamp}.{fmt}"
    if fmt == "csv":
        out = io.StringIO(newline="")
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(header)
        w.writerows([safe_cell(cell) for cell in line] for line in lines)
        return ("\ufeff" + out.getvalue()).encode("utf-8"), "text/csv; charset=utf-8", filename
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    title = _("Organizations") if kind == ImportKind.ORGANIZATIONS else _("Information systems")
    sheet = xlsx_sheet(workbook, title, header)
    for line in lines:
        sheet.append(xlsx_row(sheet, line))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), XLSX_TYPE, filename
