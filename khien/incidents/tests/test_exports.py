"""Exports: the list as CSV / XLSX (the list's filters and scope), one incident as a Vietnamese PDF; all audited."""
import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from khien.core.models import AuditEntry
from khien.incidents import exports, observables, services

pytestmark = pytest.mark.django_db

needs_fonts = pytest.mark.skipif(not exports.pdf_available(), reason="run scripts/vendor_assets.py for the PDF fonts")


@pytest.fixture
def two(world, report):
    mine = report(title="Mã độc tống tiền tại Bộ", severity="critical")
    theirs = report(org=world.province, user=world.other_admin, title="Sự cố của tỉnh")
    return mine, theirs


def _csv(response):
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_csv_follows_filters_and_scope_and_is_audited(world, as_user, two):
    mine, theirs = two
    client = as_user(world.analyst)
    before = AuditEntry.objects.filter(action="export").count()
    response = client.get("/incidents/?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    references = [r[0] for r in rows[1:]]
    assert references == [mine.reference]  # the province's incident never appears
    assert rows[1][1] == "Mã độc tống tiền tại Bộ"
    entry = AuditEntry.objects.filter(action="export").latest("seq")
    assert AuditEntry.objects.filter(action="export").count() == before + 1
    assert entry.actor_id == str(world.analyst.pk) and entry.after["count"] == 1 and entry.after["format"] == "csv"
    # Filters: severity=high excludes the critical incident.
    assert len(_csv(client.get("/incidents/?severity=high&format=csv"))) == 1
    assert client.get("/incidents/?format=pdf").status_code == 400
    # The province's admin: only theirs.
    other = as_user(world.other_admin)
    assert [r[0] for r in _csv(other.get("/incidents/?format=csv"))[1:]] == [theirs.reference]


def test_csv_gives_labels_in_the_readers_language(world, as_user, report):
    """The walkthrough: Vietnamese headers, but severity "high". Exports are read by people (nothing imports
    them): severity, status, TLP and yes/no are the labels of the reader's language; the late report's reason too."""
    report(severity="high", detected_at=timezone.now() - dt.timedelta(hours=30), late_reason="Mất điện")
    client = as_user(world.analyst)
    rows = _csv(client.get("/incidents/?format=csv"))
    row = dict(zip(rows[0], rows[1]))
    assert row["Mức độ nghiêm trọng"] == "Cao" and row["Trạng thái"] == "Mới"
    assert row["Báo cáo trễ hạn"] == "có" and "Mất điện" in rows[1]
    client.cookies["khien_language"] = "en"
    row = dict(zip(*_csv(client.get("/incidents/?format=csv"))[:2]))
    assert row["Severity"] == "High" and row["Status"] == "New" and row["Reason for the late report"] == "Mất điện"


def test_xlsx(world, as_user, two):
    mine, _theirs = two
    response = as_user(world.analyst).get("/incidents/?format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.values)
    assert len(values) == 2 and values[1][0] == mine.reference and values[1][1] == "Mã độc tống tiền tại Bộ"


def test_formula_cells_are_neutralized(world, as_user, report):
    report(title="=HYPERLINK(\"http://x\")")
    rows = _csv(as_user(world.analyst).get("/incidents/?format=csv"))
    assert rows[1][1].startswith("'=")
    response = as_user(world.analyst).get("/incidents/?format=xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content) if response.streaming
                                              else response.content)).active
    titles = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert any(c.value == '=HYPERLINK("http://x")' and c.data_type == "s" for c in titles)


def test_control_characters_do_not_break_the_xlsx_export(world, as_user, report):
    """A title holding a control character (the API accepts it) is written without it; the export used to fail."""
    report(title="bell\u0007 title\u0001")
    response = as_user(world.analyst).get("/incidents/?format=xlsx")
    assert response.status_code == 200
    assert list(load_workbook(io.BytesIO(response.content)).active.values)[1][1] == "bell title"


@needs_fonts
def test_pdf_in_vietnamese_with_reference_and_evidence(world, as_user, report):
    incident = report(title="Tấn công từ chối dịch vụ vào cổng thông tin")
    observables.do_add_observables(incident, [("ipv4", "198.51.100.99")], acting_user=world.analyst)
    evidence = services.do_add_evidence(incident, acting_user=world.analyst,
                                        uploaded=SimpleUploadedFile("nhat-ky.log", b"log lines"),
                                        received_from="Phòng CNTT")
    services.do_add_task(incident, {"title": "Chặn địa chỉ nguồn tấn công"}, acting_user=world.analyst)
    client = as_user(world.analyst)
    before = AuditEntry.objects.filter(action="export").count()
    response = client.get(f"/incidents/{incident.pk}/report.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    flat = " ".join(text.split())
    assert incident.reference in flat
    assert "Tấn công từ chối dịch vụ vào cổng thông tin" in flat  # data with diacritics
    assert "Nhiệm vụ" in flat  # labels in Vietnamese (the "Tasks" heading)
    assert world.ministry.name in flat and "Phòng CNTT" in flat
    assert evidence.sha256 in flat.replace(" ", "")
    assert "198.51.100.99" in flat and "Chặn địa chỉ nguồn tấn công" in flat
    entry = AuditEntry.objects.filter(action="export").latest("seq")
    assert AuditEntry.objects.filter(action="export").count() == before + 1
    assert entry.object_id == str(incident.pk) and entry.actor_id == str(world.analyst.pk)


@needs_fonts
def test_pdf_of_an_unrelated_incident_is_404(world, as_user, two):
    _mine, theirs = two
    before = AuditEntry.objects.filter(action="export").count()
    assert as_user(world.analyst).get(f"/incidents/{theirs.pk}/report.pdf").status_code == 404
    assert AuditEntry.objects.filter(action="export").count() == before


def _label_lines(content: bytes) -> list[tuple[float, float, str]]:
    """(y, x, text) of every piece of text on the first page in drawing order (y grows downwards)."""
    page = PdfReader(io.BytesIO(content)).pages[0]
    height = float(page.mediabox.height)
    found = []

    def visit(text, cm, tm, _font, _size):
        if text.strip():
            found.append((round(height - (tm[5] * cm[3] + cm[5]), 1), round(tm[4] * cm[0] + cm[4], 1), text.strip()))

    page.extract_text(visitor_text=visit)
    return found


@needs_fonts
@pytest.mark.parametrize("language", ["vi", "en"])
def test_pdf_long_labels_wrap_inside_their_row(world, report, language):
    """The walkthrough: "Có thể ảnh hưởng ra ngoài tổ chức" wrapped onto the next row and overprinted "Dịch vụ bị
    gián đoạn". Each row now starts below the last line of the previous row's label and value."""
    from django.utils import translation

    incident = report(services_disrupted="Cổng dịch vụ công trực tuyến\nHệ thống thư điện tử công vụ",
                      late_reason="Mất kết nối mạng diện rộng, không gửi được báo cáo trong 24 giờ.",
                      detected_at=timezone.now() - dt.timedelta(hours=30))
    lines = _label_lines(exports.incident_pdf(incident, world.analyst, language=language))
    with translation.override(language):
        from django.utils.translation import gettext as _

        impact, services = _("Possible impact beyond the organization"), _("Services disrupted")
    # The label column (left of the values): one piece of text per line, the labels intact and in order.
    left = min(x for _y, x, _t in lines)
    labels = [(y, t) for y, x, t in lines if x == left]
    ys = [y for y, _t in labels]
    assert len(ys) == len(set(ys)), [(y, t) for y, t in labels if ys.count(y) > 1]  # nothing overprinted
    text = " ".join(" ".join(t for _y, t in labels).split())
    assert f"{impact} {services}" in text, [l for l in labels if 200 < l[0] < 300]  # the wrapped label's lines together, then the next label
    # Every piece of text of a row lies above the next row's first line.
    impact_y = next(y for y, t in labels if impact.startswith(" ".join(t.split())))
    services_y = next(y for y, t in labels if t.startswith(services))
    assert impact_y < services_y


def _pdf_lines(content: bytes) -> list[str]:
    return [" ".join(line.split()) for page in PdfReader(io.BytesIO(content)).pages
            for line in page.extract_text().splitlines()]


@needs_fonts
@pytest.mark.parametrize("language", ["vi", "en"])
def test_pdf_keeps_long_email_addresses_whole(world, report, language):
    """The walkthrough: the journal's narrow "Who" column broke "responder@ir-lachan.demo.khien.vn" into
    "responder@ir-lachan.demo.kh" / "ien.vn". Columns now get at least their longest word; so does the task's
    person in charge, and the report says who reported."""
    from khien.conftest import _user
    from khien.core.roles import Role

    long_mail = "ung-cuu-su-co.truc-ban@ir-lachan.demo.khien.vn"
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    person = _user(long_mail, world.responder_org, Role.RESPONDER)
    person.full_name = ""  # named by the address, as on the page, for someone without a name
    person.save(update_fields=["full_name"])
    services.do_add_comment(incident, "Đã cô lập máy chủ.", acting_user=person)
    services.do_add_task(incident, {"title": "Thu thập nhật ký", "owner": person}, acting_user=world.analyst)
    lines = _pdf_lines(exports.incident_pdf(incident, world.analyst, language=language))
    with_mail = [line for line in lines if "ung-cuu-su-co" in line]
    assert len(with_mail) >= 2 and all(long_mail in line for line in with_mail), with_mail
    assert any(world.analyst.email in line for line in lines)  # "Reported by"


@needs_fonts
def test_pdf_journal_names_the_stage_and_the_responder(world, report):
    """The PDF's journal said "Report stage given" without saying which, and "Responder assigned" without whom;
    it now words each line as the page does (`journal.headline`)."""
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    services.do_submit_stage(incident, "notification", {"services_disrupted": "Thư điện tử", "people_affected": 3},
                             acting_user=world.analyst)
    text = " ".join(_pdf_lines(exports.incident_pdf(incident, world.analyst, language="vi")))
    assert "Đã gửi báo cáo giai đoạn: Thông báo chi tiết" in text
    assert "Đã phân công ứng cứu: Tổ chức RESP (RESP)" in text  # named, in the report's language
    text = " ".join(_pdf_lines(exports.incident_pdf(incident, world.analyst, language="en")))
    assert "Report stage given: Detailed notification" in text and "Responder assigned: Organization RESP (RESP)" in text


@needs_fonts
def test_fit_columns_gives_each_column_its_longest_word():
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(exports.font_dir() / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(exports.font_dir() / "DejaVuSans-Bold.ttf"))
    mail = "responder@ir-lachan.demo.khien.vn"
    data = [["06/12/2026 00:48", mail, "Đã phân loại → Đang ứng cứu", "Cô lập máy chủ"]]
    widths = exports.fit_columns(pdf, ["When", "Who", "What", "Text"], [28, 45, 45, 62], data, 180)
    assert abs(sum(widths) - 180) < 0.01
    pdf.set_font("DejaVu", "", 8)
    assert widths[1] >= pdf.get_string_width(mail) + exports.CELL_PADDING - 0.01
    # A word wider than the page: the short columns keep their words whole, that column takes what is left.
    data = [["06/12/2026 00:48", mail, "Bình luận", "http://x.example/" + "a" * 300]]
    widths = exports.fit_columns(pdf, ["When", "Who", "What", "Text"], [28, 45, 45, 62], data, 180)
    assert abs(sum(widths) - 180) < 0.01
    assert widths[1] >= pdf.get_string_width(mail) + exports.CELL_PADDING - 0.01 and widths[3] > exports.MIN_COLUMN


def test_csv_says_when_the_later_reports_were_given(world, as_user, report):
    """The walkthrough: the export had the initial report's times but not the detailed notification's nor the
    final report's, which a coordinator checks against Decree 85's stages."""
    from khien.incidents.models import Status

    from .conftest import walk

    incident = walk(report(reports_given=True), (Status.TRIAGED, Status.IN_RESPONSE, Status.CONTAINED, Status.RESOLVED),
                    world.analyst)
    rows = _csv(as_user(world.analyst).get("/incidents/?format=csv"))
    row = dict(zip(rows[0], rows[1]))
    local = timezone.localtime(incident.notified_at).strftime("%Y-%m-%d %H:%M")
    assert row["Thời điểm gửi thông báo chi tiết (UTC+7)"] == local
    assert row["Thời điểm gửi báo cáo kết thúc (UTC+7)"] == timezone.localtime(incident.final_report_at).strftime("%Y-%m-%d %H:%M")


@needs_fonts
def test_pdf_names_a_standard_task_in_the_reports_language(world, as_user, report):
    incident = report(category="ddos")
    services.do_triage(incident, {}, acting_user=world.analyst)
    client = as_user(world.analyst)

    def flat(lang):
        response = client.get(f"/incidents/{incident.pk}/report.pdf?lang={lang}")
        assert response.status_code == 200
        return " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages).split())

    assert "Kích hoạt phương án bảo đảm hoạt động liên tục" in flat("vi")
    assert "Activate the business continuity plan" in flat("en")
