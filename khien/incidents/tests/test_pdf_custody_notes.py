"""The incident PDF prints each chain-of-custody step's note, as the page shows it: whole, wrapped within the page,
and as typed (no markup read into it)."""
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pypdf import PdfReader

from khien.incidents import exports, services

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not exports.pdf_available(), reason="run scripts/vendor_assets.py for the PDF fonts")]

HANDOVER = ("Niêm phong túi EV-0412 trao cho phòng giám định; <b>không</b> mở & **giữ nguyên** tem niêm phong, "
            "kiểm tra lại SHA-256 trước khi tạo bản sao pháp y. ") * 6


def pdf_text(content: bytes) -> str:
    return " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages).split())


def right_edges(content: bytes) -> list[float]:
    """How far right each piece of text of every page ends, roughly (its start plus its width in the page's units)."""
    edges = []
    for page in PdfReader(io.BytesIO(content)).pages:
        width = float(page.mediabox.width)

        def visit(text, cm, tm, _font, size, width=width):
            if text.strip():
                edges.append((tm[4] * cm[0] + cm[4]) / width)

        page.extract_text(visitor_text=visit)
    return edges


@pytest.fixture
def incident(world, report):
    incident = report(org=world.department, user=world.dept_analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    return incident


@pytest.mark.parametrize("language", ["vi", "en"])
def test_each_custody_steps_note_is_in_the_pdf(world, client, incident, language):
    evidence = services.do_add_evidence(incident, acting_user=world.dept_analyst,
                                        uploaded=SimpleUploadedFile("mem.raw", b"\x00MEM" * 100))
    services.do_record_custody(evidence, "transferred", acting_user=world.responder, to_party="Phòng giám định C50",
                               note=HANDOVER)
    services.do_record_custody(evidence, "analysed", acting_user=world.responder, note="Volatility 3: pslist, netscan")
    client.force_login(world.responder)
    response = client.get(f"/incidents/{incident.pk}/report.pdf?lang={language}")
    assert response.status_code == 200
    text = pdf_text(response.content)
    # Whole, as typed: the markup-looking characters are printed, not read.
    assert " ".join(HANDOVER.split()) in text
    assert "Volatility 3: pslist, netscan" in text
    # Below its own step, in order.
    assert text.index("Phòng giám định C50") < text.index("Niêm phong túi EV-0412") < text.index("Volatility 3")
    # Wrapped: no line starts beyond the page's right margin (the long note went on over several lines).
    assert all(edge < 0.9 for edge in right_edges(response.content))
