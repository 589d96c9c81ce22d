"""Incident exports: the list as CSV / XLSX, one incident as a PDF report in Vietnamese or English.

Read-only, but each export is written to the audit log (who exported what,
with which filters) by `record_export`. The caller passes an already
visibility-scoped queryset (`Incident.objects.visible_to(user)` through the
shared FilterSet): nothing here widens it.

The PDF uses the DejaVu Sans TTF fonts (Vietnamese glyphs) fetched by
`scripts/vendor_assets.py` into khien/static/vendor/dejavu/ (setting
`KHIEN_PDF_FONT_DIR` overrides the folder).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from django.conf import settings
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from khien.core import audit
from khien.core.audit import Act, Change
from khien.core.spreadsheet import safe_cell, xlsx_row

from . import deadlines, journal
from .evidence import exact_bytes, integrity_state, size_label
from .models import CustodyAction, Evidence, Incident

EXPORT_ACTION = Act.EXPORT
MAX_ROWS = 100000


def record_export(user, fmt: str, count: int, *, filters: dict | None = None, incident: Incident | None = None):
    """One audit entry per export: who, which format, how many incidents, with which filters."""
    if incident is not None:
        change = Change(action=EXPORT_ACTION, obj=incident, after={"format": fmt, "reference": incident.reference})
    else:
        change = Change(action=EXPORT_ACTION, object_type="incidents.incident", object_id="list",
                        object_repr=f"{fmt.upper()} export: {count} incidents",
                        after={"format": fmt, "count": count, "filters": filters or {}})
    audit.record_many([change], actor=user)


# --- CSV / XLSX --------------------------------------------------------------------------------

# The columns that hold a time: written in Vietnam time, the zone named in their header (`columns`).
TIME_COLUMNS = frozenset({"detected_at", "reported_at", "report_due_at", "notified_at", "final_report_at",
                          "triaged_at", "contained_at", "resolved_at", "closed_at", "escalated_at"})
XLSX_TIME_FORMAT = "dd/mm/yyyy hh:mm"


def zone_label() -> str:
    """The platform's zone as an offset ("UTC+7"): Vietnam has no summer time, so one offset names every row."""
    minutes = int(timezone.localtime().utcoffset().total_seconds() // 60)
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")


def columns() -> list[tuple[str, str]]:
    named = [
        ("reference", _("Reference")), ("title", _("Incident title")),
        ("organization", _("Reporting organization (code)")), ("organization_name", _("Reporting organization")),
        ("category", _("Category")), ("category_label", _("Category (RSIT)")), ("severity", _("Severity")),
        ("status", _("Status")), ("tlp", _("TLP")), ("detected_at", _("Detected at")),
        ("reported_at", _("Reported at")), ("report_due_at", _("Initial report due")),
        ("reported_late", _("Reported late")),
        # The later report stages (detailed notification, final report): when each was given.
        ("notified_at", _field_label("notified_at")), ("final_report_at", _field_label("final_report_at")),
        ("triaged_at", _("Triaged at")), ("contained_at", _("Contained at")),
        ("resolved_at", _("Resolved at")), ("closed_at", _("Closed at")), ("escalated_at", _("Escalated at")),
        ("responders", _("Responders")), ("people_affected", _("Number of people affected")),
        ("personal_data_exposed", _("Personal data exposed")), ("late_reason", _("Reason for the late report")),
    ]
    zone = zone_label()
    return [(key, f"{label} ({zone})" if key in TIME_COLUMNS else label) for key, label in named]


def _field_label(name: str) -> str:
    return str(capfirst(Incident._meta.get_field(name).verbose_name))


def _local(value):
    """A time as Vietnam time without its zone (a spreadsheet cell holds none: the header names it)."""
    return timezone.localtime(value).replace(tzinfo=None) if value else None


def _csv_time(value) -> str:
    # ISO order (2026-11-21 08:33), not dd/mm/yyyy: Excel reads it as a date and time whatever the computer's
    # regional settings, and it sorts as text too; a dd/mm/yyyy text is read day-for-month on a computer set to
    # English (United States) — 05/11 becomes 11 May — or left as text, silently. The header names the zone.
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def tlp_file_tag(level: str) -> str:
    """A TLP level as a file name says it: TLP-RED, TLP-AMBER+STRICT."""
    return "TLP-" + level.upper().replace("_", "+")


def rows(queryset):
    """One list of cells per incident, in the order of `columns()`: times as Vietnam time (naive datetimes, the
    header names the zone), numbers as numbers, the rest as text.

    The exports are read by people (nothing imports them; machines use the API): values are the labels in the
    reader's language (severity, status, TLP, yes/no), with the codes only where a column says so.
    """
    queryset = (queryset.select_related("organization", "policy", "taxonomy")
                .prefetch_related("assignments__responder")[:MAX_ROWS])
    for i in queryset:
        yield i.tlp, [
            i.reference, i.title, i.organization.code, i.organization.name, i.category, i.category_label(),
            i.severity_label(), i.get_status_display(), i.get_tlp_display(), _local(i.detected_at),
            _local(i.reported_at), _local(deadlines.incident_report_due_at(i)), _yes_no(deadlines.reported_late(i)),
            _local(i.notified_at), _local(i.final_report_at),
            _local(i.triaged_at), _local(i.contained_at), _local(i.resolved_at), _local(i.closed_at),
            _local(i.escalated_at), ", ".join(a.responder.code for a in i.assignments.all()),
            i.people_affected, _yes_no(i.personal_data_exposed), i.late_reason,
        ]


def most_restrictive(levels) -> str | None:
    from khien.intel.tlp import RESTRICTIVENESS

    levels = [level for level in levels if level in RESTRICTIVENESS]
    return max(levels, key=RESTRICTIVENESS.index) if levels else None


def export_csv(queryset) -> tuple[bytes, int, str | None]:
    """The list as CSV: (content, rows, the most restrictive TLP of the rows)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([label for _k, label in columns()])
    count, levels = 0, set()
    for level, row in rows(queryset):
        cells = [_csv_time(c) if isinstance(c, dt.datetime) else ("" if c is None else c) for c in row]
        writer.writerow([safe_cell(c) for c in cells])
        count, levels = count + 1, levels | {level}
    return ("\ufeff" + buffer.getvalue()).encode("utf-8"), count, most_restrictive(levels)


def export_xlsx(queryset) -> tuple[bytes, int, str | None]:
    """The list as XLSX: (content, rows, the most restrictive TLP of the rows). A first sheet states that TLP
    (the rows are read once, so it is filled in at the end); times are date cells, numbers number cells."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    from khien.core.spreadsheet import xlsx_sheet

    workbook = Workbook(write_only=True)
    # The marking's sheet comes first (the first tab); the file opens on the incidents, whose printed pages carry
    # the marking in their header too.
    marking = workbook.create_sheet(_("TLP"))
    sheet = xlsx_sheet(workbook, _("Incidents"), [label for _k, label in columns()])
    workbook.active = 1
    count, levels = 0, set()
    for level, row in rows(queryset):
        cells = xlsx_row(sheet, row)
        for cell in cells:
            if isinstance(cell.value, dt.datetime):
                cell.number_format = XLSX_TIME_FORMAT
        sheet.append(cells)
        count, levels = count + 1, levels | {level}
    tlp = most_restrictive(levels)
    if tlp:
        from khien.intel.models import Tlp

        sheet.oddHeader.center.text = str(Tlp(tlp).label)
        sheet.oddHeader.center.font = "Arial,Bold"
    note = WriteOnlyCell(marking, value=tlp_note(tlp, count))
    note.data_type = "s"
    note.font = Font(bold=True)
    marking.append([note])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue(), count, tlp


def tlp_note(tlp: str | None, count: int) -> str:
    if tlp is None:
        return _("No incident in this file.")
    from khien.intel.models import Tlp

    return ngettext(
        "%(tlp)s: the most restrictive marking of the %(n)d incident in this file (sheet “%(sheet)s”). "
        "Share the file only as this marking allows.",
        "%(tlp)s: the most restrictive marking of the %(n)d incidents in this file (sheet “%(sheet)s”). "
        "Share the file only as this marking allows.", count) % {
        "tlp": Tlp(tlp).label, "n": count, "sheet": _("Incidents")}


# --- PDF -----------------------------------------------------------------------------------------


def font_dir() -> Path:
    default = Path(__file__).resolve().parent.parent / "static" / "vendor" / "dejavu"
    return Path(getattr(settings, "KHIEN_PDF_FONT_DIR", None) or default)


def pdf_available() -> bool:
    folder = font_dir()
    return (folder / "DejaVuSans.ttf").exists() and (folder / "DejaVuSans-Bold.ttf").exists()


class PdfUnavailable(Exception):
    """The Unicode fonts are not installed (run scripts/vendor_assets.py)."""


def incident_pdf(incident: Incident, user, *, language: str = "vi") -> bytes:
    """The incident report as PDF: facts, deadlines, observables, journal, tasks, evidence and custody."""
    if not pdf_available():
        raise PdfUnavailable()
    with translation.override(language):
        return _build_pdf(incident, user)


def _yes_no(value) -> str:
    yes, no, unknown = (_("yes,no,unknown").split(",") + ["", "", ""])[:3]  # the msgid of the pages' yesno
    return {True: yes, False: no}.get(value, unknown)


def _named(user, email: str = "") -> str:
    """A person as the incident page names them (its journal and task table): their name, else their e-mail."""
    return getattr(user, "full_name", "") or email or getattr(user, "email", "") or ""


def _person(user) -> str:
    if user is None:
        return "—"
    name = getattr(user, "full_name", "") or ""
    return f"{name} <{user.email}>" if name else user.email


# Room a table cell or a label needs beside its text: fpdf2's cell margins on both sides, and the border.
CELL_PADDING = 2.5
LABEL_GUTTER = 3.0  # mm between a fact's label column and its value
# No column of a table is squeezed below this (mm) to give a word of another column its whole width.
MIN_COLUMN = 12.0


def _longest_word(pdf, texts, style: str, size: float) -> float:
    pdf.set_font("DejaVu", style, size)
    return max((pdf.get_string_width(word) for text in texts for word in str(text).split()), default=0.0)


def fit_columns(pdf, headers, requested, data, total: float) -> list[float]:
    """Column widths (mm, summing to `total`) in which every word keeps to one line where the page allows.

    fpdf2 wraps a cell's text at spaces, and breaks a word that is wider than its column anywhere: an e-mail
    address in the journal's narrow "Who" column came out as "analyst@ubnd-79.demo.khien" / ".vn". Each
    column first gets its longest word (header in bold, cells in the regular font); what is left goes to the
    columns whose requested share is larger than that. When the words cannot all fit, the columns with the
    shortest longest words are served first, and the rest share what remains.
    """
    n = len(requested)
    need = [max(_longest_word(pdf, [headers[i]], "B", 8), _longest_word(pdf, [row[i] for row in data], "", 8))
            + CELL_PADDING for i in range(n)]
    scaled = [w * total / sum(requested) for w in requested]
    if sum(need) <= total:
        extra = total - sum(need)
        wants = [max(0.0, w - m) for w, m in zip(scaled, need)]
        weights = wants if sum(wants) > 0 else scaled
        return [m + extra * w / sum(weights) for m, w in zip(need, weights)]
    widths: list[float | None] = [None] * n
    left, open_ = total, list(range(n))
    for i in sorted(range(n), key=need.__getitem__):
        if need[i] + MIN_COLUMN * (len(open_) - 1) > left:
            break
        widths[i], left = need[i], left - need[i]
        open_.remove(i)
    share = sum(scaled[j] for j in open_)
    for j in open_:
        widths[j] = left * scaled[j] / share
    return widths


# A journal or timeline text is printed whole up to this many characters (a comment or an evidence note holds at most
# 20,000); a longer one (hundreds of SOC alerts added at once) is cut at a word with a marker saying how much is left.
PDF_TEXT_MAX = 20000
# fpdf2 cannot split a table row across pages (a taller row fails the whole report): a long text goes on over rows of
# at most this many lines (4.5 mm each: 234 mm, within an A4 page below the repeated header row).
ROW_LINES = 52
CUSTODY_NOTE_INDENT = 6  # mm: a custody step's note under its step


def whole_or_cut(text: str, limit: int = PDF_TEXT_MAX) -> str:
    """`text`, or when longer than `limit` its start cut at a word boundary followed by “… (N more characters: see
    the incident page)” in the active language: the reader knows that the rest exists, and where to read it."""
    text = str(text or "")
    if len(text) <= limit:
        return text
    head = text[:limit]
    at = max(head.rfind(" "), head.rfind("\n"))
    if at > limit // 2:
        head = head[:at]
    head = head.rstrip()
    more = len(text) - len(head)
    return head + " " + ngettext("… (%(n)s more character: see the incident page)",
                                 "… (%(n)s more characters: see the incident page)", more) % {"n": more}


def fit_label_column(pdf, labels, total: float, preferred: float = 55.0, most: float = 70.0) -> float:
    """The width of the report's label column: `preferred`, widened (up to `most`) so that no label's word is
    broken and, where it costs little, a label stays on one line."""
    pdf.set_font("DejaVu", "B", 9)
    whole = max((pdf.get_string_width(str(label)) for label in labels), default=0.0) + CELL_PADDING + LABEL_GUTTER
    word = _longest_word(pdf, labels, "B", 9) + CELL_PADDING + LABEL_GUTTER
    return min(max(preferred, word, whole if whole <= most else 0.0), total / 2)


def _build_pdf(incident: Incident, user) -> bytes:
    import logging

    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    from . import services
    from .forms import system_name  # the one naming of a system on an incident (form, page, PDF)
    from .models import IncidentEvent, Observable, Task

    # As the page: an affected organization's reader (`services.reads_whole`) gets its own systems, the others
    # counted, and the journal lines it may read; not the tasks, evidence and observables.
    whole = services.reads_whole(user, incident)
    shown_systems, systems_not_shown = services.systems_shown(user, incident, whole=whole)

    logging.getLogger("fontTools").setLevel(logging.WARNING)  # font subsetting chatter
    folder = font_dir()
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("DejaVu", "", str(folder / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(folder / "DejaVuSans-Bold.ttf"))
    pdf.set_title(f"{incident.reference} {incident.title}")
    pdf.set_author("Khiên")
    pdf.set_creator("Khiên")
    generated = timezone.localtime(timezone.now()).strftime("%d/%m/%Y %H:%M")
    footer_text = _("Incident report %(ref)s · %(tlp)s · generated %(at)s") % {
        "ref": incident.reference, "tlp": incident.get_tlp_display(), "at": f"{generated} (UTC+7)"}

    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def line(text, size=9, bold=False, h=5):
        pdf.set_font("DejaVu", "B" if bold else "", size)
        pdf.multi_cell(width, h, str(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")

    def heading(text):
        pdf.ln(2)
        pdf.set_fill_color(230, 236, 245)
        pdf.set_font("DejaVu", "B", 11)
        pdf.cell(width, 7, str(text), fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)

    def fact(label, value, h=5):
        """One row: the label (bold, wrapped in its column) beside the value; the next row starts below the
        taller of the two, so that a long label never runs into the next row. Both are aligned left (justified
        text stretched the spaces of a wrapped label)."""
        label, value = str(label), str(value if value not in (None, "") else "—")
        pdf.set_font("DejaVu", "B", 9)
        label_height = pdf.multi_cell(label_width - LABEL_GUTTER, h, label, dry_run=True, output="HEIGHT",
                                      align="L")
        if pdf.get_y() + label_height > pdf.page_break_trigger:  # a label is never split across pages
            pdf.add_page()
        top, page = pdf.get_y(), pdf.page
        pdf.multi_cell(label_width - LABEL_GUTTER, h, label, new_x=XPos.RIGHT, new_y=YPos.TOP, align="L")
        pdf.set_x(pdf.get_x() + LABEL_GUTTER)  # a label that fills its column does not touch its value
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(width - label_width, h, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        if pdf.page == page:  # a value that went on to the next page is below the label already
            pdf.set_y(max(pdf.get_y(), top + label_height))

    def continued_rows(headers, requested, data, col):
        """The rows, each whose cell `col` is taller than ROW_LINES lines split into that row and rows below it
        marked “(continued)” in the first column, the text cut at its own line breaks (measured at the column's
        width, as `table` will draw it)."""
        marker = [_("(continued)")] + [" "] * (len(headers) - 1)
        measured = [[str(c) if c not in (None, "") else "—" for c in cells] for cells in [*data, marker]]
        column = fit_columns(pdf, headers, requested, measured, width)[col] - 2 * CELL_PADDING
        pdf.set_font("DejaVu", "", 8)
        out = []
        for cells in data:
            lines = pdf.multi_cell(column, 4.5, str(cells[col] or ""), dry_run=True, output="LINES")
            if len(lines) <= ROW_LINES:
                out.append(cells)
                continue
            for start in range(0, len(lines), ROW_LINES):
                row = list(cells) if start == 0 else list(marker)
                row[col] = "\n".join(lines[start:start + ROW_LINES])
                out.append(row)
        return out

    def table(headers, widths, data):
        data = [[str(cell) if cell not in (None, "") else "—" for cell in cells] for cells in data]
        widths = fit_columns(pdf, headers, widths, data, width)
        pdf.set_font("DejaVu", "", 8)
        with pdf.table(col_widths=widths, line_height=4.5, text_align="LEFT", width=width) as grid:
            head = grid.row()
            for text in headers:
                head.cell(str(text))
            for cells in data:
                row = grid.row()
                for cell in cells:
                    row.cell(cell)
        pdf.ln(1)

    # Header
    pdf.set_font("DejaVu", "B", 8)
    pdf.set_text_color(180, 30, 30)
    pdf.cell(width, 5, str(incident.get_tlp_display()), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    line(_("INCIDENT REPORT"), size=15, bold=True, h=8)
    line(f"{incident.reference} — {incident.title}", size=12, bold=True, h=6)
    line(_("Generated %(at)s by %(user)s") % {"at": generated, "user": _named(user)}, size=8)
    # Said once, as the pages' footer says it: a reader abroad, or a court, reads the times without the platform.
    line(_("Times shown in Vietnam time (UTC+7)"), size=8, bold=True)

    def t(value):
        return timezone.localtime(value).strftime("%d/%m/%Y %H:%M") if value else "—"

    def t_seconds(value):  # the chain of custody to the second, as the page shows it
        return timezone.localtime(value).strftime("%d/%m/%Y %H:%M:%S") if value else "—"

    facts = [
        (_("Reference number"), incident.reference),
        (_("Reporting organization"), f"{incident.organization.name} ({incident.organization.code})"),
        (_("Category (RSIT)"), f"{incident.category_label()} [{incident.category}]"),
        (_("Severity"), incident.severity_label()),
        (_("Status"), incident.get_status_display()),
        (_("Detected at"), t(incident.detected_at)),
        (_("Reported at"), t(incident.reported_at)),
        (capfirst(Incident._meta.get_field("created_by").verbose_name), _person(incident.created_by)),
    ]
    if incident.late_reason or deadlines.reported_late(incident):
        facts.append((_("Reason for the late report"), incident.late_reason))
    facts += [
        (_("Suspected malicious"), _yes_no(incident.suspected_malicious)),
        (_("Possible impact beyond the organization"), _yes_no(incident.impact_beyond_organization)),
        (_("Services disrupted"), incident.services_disrupted),
        (_("Data exposed"), _yes_no(incident.data_exposed)),
        (_("Personal data exposed"), _yes_no(incident.personal_data_exposed)),
        (_("Number of people affected"), incident.people_affected),
        (_("Affected information systems"),
         "; ".join([f"{s.code} {system_name(s, incident.organization)}" for s in shown_systems]  # as the page
                   + ([ngettext("and %(n)s system of other organizations", "and %(n)s systems of other organizations",
                                systems_not_shown) % {"n": systems_not_shown}] if systems_not_shown else [])) or "—"),
        (_("Description"), incident.description),
    ]
    if incident.root_cause:
        facts.append((_("Root cause"), incident.root_cause))
    if incident.mitigation:
        facts.append((_("Mitigation applied"), incident.mitigation))
    label_width = fit_label_column(pdf, [label for label, _value in facts], width)

    heading(_("Report"))
    for label, value in facts:
        fact(label, value)

    heading(_("Deadlines"))
    english = translation.get_language().startswith("en")
    stage_rows = []
    now = timezone.now()
    for stage in deadlines.incident_schedule(incident):
        if stage.given_at:
            state = _("late") if stage.late else _("on time")
        else:
            state = _("overdue") if stage.overdue(now) else _("not given yet")
        stage_rows.append([stage.name_en if english else stage.name_vi, t(stage.due_at), t(stage.given_at), state])
    for measure, done_at, label in (("triage", incident.triaged_at, _("Triage")),
                                    ("contain", incident.contained_at, _("Containment"))):
        overdue = deadlines.sla_overdue(incident, measure, now)
        state = (_("late") if overdue else _("on time")) if done_at else (_("missed") if overdue else "—")
        stage_rows.append([label, t(deadlines.incident_sla_due_at(incident, measure)), t(done_at), state])
    table([_("Deadline"), _("Due"), _("Done"), _("State")], [70, 40, 40, width - 150], stage_rows)
    if incident.escalated_at:
        line(_("Escalated to the national coordinator on %(at)s.") % {"at": t(incident.escalated_at)}, bold=True)

    assignments = incident.assignments.select_related("responder")
    heading(_("Responders"))
    if assignments:
        for a in assignments:
            line(f"{a.responder.name} ({a.responder.code}) — {t(a.at)}")
    else:
        line(_("No responder organization assigned yet."))

    if not whole:
        line(_("Its tasks, evidence and observables stay with the reporting organization, the national coordinator "
               "and the assigned responders."))
    obs = list(Observable.objects.visible_to(user).filter(incident=incident))
    if whole:
        heading(_("Observables"))
    if obs:
        table([_("Kind"), _("Value"), _("Shared")], [35, width - 75, 40],
              [[o.get_kind_display(), o.value, f"{o.get_shared_tlp_display()} {t(o.shared_at)}" if o.shared_at else "—"]
               for o in obs])
    elif whole:
        line(_("No observable yet."))

    tasks = list(Task.objects.visible_to(user).filter(incident=incident).select_related("owner"))
    if whole:
        heading(_("Tasks"))
    if tasks:
        from .models import TaskTemplates

        templates = TaskTemplates.current()  # a standard task in the report's language while unedited

        def task_title(x):
            return templates.shown(x)[0] if templates else x.title

        table([_("Task"), _("Person in charge"), _("Due"), _("Status")], [80, 50, 30, width - 160],
              [[task_title(x), _named(x.owner) if x.owner else "—", t(x.due_at), x.get_status_display()]
               for x in tasks])
    elif whole:
        line(_("No task yet."))

    evidence = list(Evidence.objects.visible_to(user).filter(incident=incident).prefetch_related("custody"))
    if whole:
        heading(_("Digital evidence"))
    if whole and not evidence:
        line(_("No evidence yet."))
    actions = dict(CustodyAction.choices)
    for e in evidence:
        name = e.original_name if e.kind in ("file", "external") else _("Note")
        sealed = _("sealed %(at)s") % {"at": t(e.sealed_at)} if e.sealed_at else _("not sealed")
        # The size as the page writes it (decimal units), and exact: a court compares it with the imaging report.
        line(f"{name} · {size_label(e.size)} ({exact_bytes(e.size)}) · {sealed}", bold=True)
        line(f"SHA-256: {e.sha256}", size=8)
        if e.kind != "external":  # as the page says it (`evidence.integrity_state`)
            line(_("Integrity: %(state)s") % {"state": integrity_state(e).text}, size=8)
        if e.kind == "external":
            line(_("Kept elsewhere, at: %(location)s (SHA-256 as declared)") % {"location": e.location}, size=8)
        if e.note:  # a note, or a file's description
            line(e.note[:2000], size=8)
        steps = list(e.custody.all())
        # People named as the journal names them (`journal.people_named`), not by e-mail.
        people = journal.people_named([v for c in steps for v in (c.actor_email, c.from_party, c.to_party)])
        for c in steps:
            parties = " → ".join(people.get(p, p) for p in (c.from_party, c.to_party) if p)
            line(f"  • {t_seconds(c.at)} {actions.get(c.action, c.action)} {parties} "
                 f"({people.get(c.actor_email, c.actor_email)})", size=8)
            if c.note:  # below its step, as the page shows it: wrapped, indented, printed as typed (no markup)
                pdf.set_font("DejaVu", "", 8)
                pdf.set_x(pdf.l_margin + CUSTODY_NOTE_INDENT)
                pdf.multi_cell(width - CUSTODY_NOTE_INDENT, 4, whole_or_cut(c.note), new_x=XPos.LMARGIN,
                               new_y=YPos.NEXT, align="L", markdown=False)

    events = IncidentEvent.objects.visible_to(user).filter(incident=incident).select_related("actor").order_by("at", "id")
    heading(_("Timeline"))  # what happened when, as on the page (`journal.timeline`)
    headers, requested = [_("When"), _("What happened"), _("Who")], [28, width - 80, 52]
    table(headers, requested, continued_rows(headers, requested, [
        [t(e["when"]), whole_or_cut(e["what"]), e["by"] or "—"]
        for e in journal.timeline(incident, events)], 1))

    heading(_("Journal"))
    names = journal.stage_names(incident.policy)
    from .models import TaskTemplates

    tasks_by_id = {str(task.pk): task for task in Task.objects.filter(incident=incident)}
    templates = TaskTemplates.current()
    # "Who" as on the page: the person's name (their e-mail when they have none, or their account is gone).
    events = list(events)
    alerts_seen = journal.alerts_seen(events, user)  # an alerts line names only the alerts the reader may see
    rows_ = [[t(ev.at), _named(ev.actor, ev.actor_email) or _("Khiên (automatic)"), journal.headline(ev, names),
              whole_or_cut(journal.note_text(ev, tasks_by_id, templates, alerts_seen, whole=whole, document=True))]
             for ev in events]
    headers, requested = [_("When"), _("Who"), _("What"), _("Text")], [28, 52, 45, width - 125]
    table(headers, requested, continued_rows(headers, requested, rows_, 3))

    pdf.ln(4)
    line(footer_text, size=7)
    return bytes(pdf.output())
