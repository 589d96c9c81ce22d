"""The incident's timeline: what happened when (DFIR-IRIS, TheHive 5), from its milestones and the comments that
say when what they tell happened — ordered by that time, not by when they were written; on the page and the API;
bad times refused; other organizations see nothing."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from khien.incidents import services
from khien.incidents.models import IncidentEvent, Status


def test_comments_dated_by_when_it_happened_are_on_the_timeline_in_that_order(world, report, as_user, api):
    now = timezone.now()
    incident = report(detected_at=now - dt.timedelta(hours=5))
    services.do_transition(incident, Status.TRIAGED, acting_user=world.analyst)
    client = as_user(world.analyst)
    first_login = timezone.localtime(now - dt.timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/incidents/{incident.pk}/comments/",
                           {"text": "Kẻ tấn công đăng nhập VPN lần đầu", "happened_at": first_login})
    assert response.status_code == 302, response.content
    services.do_add_comment(incident, "Đã cô lập máy DVC-01", acting_user=world.analyst,
                            happened_at=now - dt.timedelta(hours=1))
    services.do_add_comment(incident, "Ghi chú không có thời điểm", acting_user=world.analyst)
    page = client.get(f"/incidents/{incident.pk}/")
    entries = page.context["timeline"]
    rows = [t["what"] for t in entries]
    assert [t["when"] for t in entries] == sorted(t["when"] for t in entries)
    assert rows[0] == "Kẻ tấn công đăng nhập VPN lần đầu"  # before the detection: the attacker was in earlier
    assert entries[1]["milestone"] and entries[1]["when"] == incident.detected_at
    assert rows.index("Đã cô lập máy DVC-01") > 1 and "Ghi chú không có thời điểm" not in rows
    assert 'id="incident-timeline"' in page.content.decode()
    answer = api(world.analyst).get(f"/api/incidents/{incident.pk}/timeline/").json()
    assert [e["what"] for e in answer] == rows
    assert answer[0]["event"] and answer[1]["milestone"] is True and answer[1]["event"] is None
    assert api(world.other_admin).get(f"/api/incidents/{incident.pk}/timeline/").status_code == 404



def test_the_api_timeline_names_who_took_each_step_as_the_page_does(world, report, api):
    """A script reading the timeline learns who triaged and who wrote a comment, as the page shows them; the
    detection has no person."""
    now = timezone.now()
    incident = report(detected_at=now - dt.timedelta(hours=5))
    services.do_transition(incident, Status.TRIAGED, acting_user=world.analyst)
    services.do_add_comment(incident, "Đã cô lập máy DVC-01", acting_user=world.analyst,
                            happened_at=now - dt.timedelta(hours=1))
    name = world.analyst.full_name or world.analyst.email
    answer = api(world.analyst).get(f"/api/incidents/{incident.pk}/timeline/").json()
    by_what = {e["what"]: e["by"] for e in answer}
    assert by_what["Đã cô lập máy DVC-01"] == name
    detected = next(e for e in answer if e["milestone"] and e["when"] and e["by"] is None)
    assert detected["what"]
    triaged = [e for e in answer if e["milestone"] and e["by"] == name]
    assert triaged, answer

def test_a_time_ahead_or_out_of_range_is_refused_and_nothing_written(world, report, api):
    incident = report()
    lines = IncidentEvent.objects.count()
    with pytest.raises(ValidationError) as ahead:
        services.do_add_comment(incident, "Sẽ xảy ra", acting_user=world.analyst,
                                happened_at=timezone.now() + dt.timedelta(hours=2))
    assert "happened_at" in ahead.value.message_dict
    refused = api(world.analyst).post(f"/api/incidents/{incident.pk}/journal/",
                                      {"text": "Cũ quá", "happened_at": "1969-01-01T00:00:00Z"}, format="json")
    assert refused.status_code == 400
    assert IncidentEvent.objects.count() == lines
    ok = api(world.analyst).post(f"/api/incidents/{incident.pk}/journal/",
                                 {"text": "Thư lừa đảo được gửi", "happened_at": "2026-01-05T02:00:00Z"}, format="json")
    # In the platform's zone, as every time of the API (kept in UTC).
    assert ok.status_code == 201 and ok.json()["data"]["happened_at"] == "2026-01-05T09:00:00+07:00"


def test_the_pdf_report_carries_the_timeline(world, report, as_user):
    import io

    from pypdf import PdfReader

    incident = report()
    services.do_add_comment(incident, "Thư lừa đảo được gửi tới 40 hộp thư", acting_user=world.analyst,
                            happened_at=timezone.now() - dt.timedelta(days=2))
    response = as_user(world.analyst).get(f"/incidents/{incident.pk}/report.pdf")
    text = " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages).split())
    timeline = text[text.index("Dòng thời gian"):text.index("Nhật ký", text.index("Dòng thời gian"))]
    assert "Thư lừa đảo được gửi tới 40 hộp thư" in timeline
