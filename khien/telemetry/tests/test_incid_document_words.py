"""The printed incident report is an official document: it does not address its reader as "you" ("bạn") — the
alerts line counts the alerts "the reading organization may not see" (the page keeps speaking to its reader)."""
import io

import pytest
from pypdf import PdfReader

from khien.incidents import exports
from khien.telemetry.tests.test_journal_alerts_per_reader import national  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

needs_fonts = pytest.mark.skipif(not exports.pdf_available(), reason="run scripts/vendor_assets.py for the PDF fonts")


def _pdf(client, incident, lang) -> str:
    response = client.get(f"/incidents/{incident.pk}/report.pdf?lang={lang}")
    assert response.status_code == 200
    return " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages).split())


@needs_fonts
def test_pdf_counts_hidden_alerts_without_addressing_the_reader(national, as_user):  # noqa: F811
    incident, reader = national["incident"], national["centre_reader"]
    client = as_user(reader)
    english = _pdf(client, incident, "en")
    assert "2 alerts of organizations the reading organization may not see" in english
    assert "you may not see" not in english
    vietnamese = _pdf(client, incident, "vi")
    assert "bạn không có quyền xem" not in vietnamese and "you may not see" not in vietnamese
    assert "Rule nc-rule" in vietnamese  # the line itself is kept
