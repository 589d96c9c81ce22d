"""A responder reading Khiên in English: the PDF report says its time zone and keeps the custody seconds, standard
tasks read (and are edited) in the reader's language on the page and over the API, systems are named without their
owner's Vietnamese name, journal times come in the platform's zone, and the bare PDF link follows the reader."""
import html
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from pypdf import PdfReader

from khien.incidents import exports, services
from khien.incidents.models import EventKind, IncidentEvent, Task, TaskTemplates

pytestmark = pytest.mark.django_db

needs_fonts = pytest.mark.skipif(not exports.pdf_available(), reason="run scripts/vendor_assets.py for the PDF fonts")
URL = "/api/incidents/"


def pdf_text(response) -> str:
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    return " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages).split())


def english(client):
    client.cookies["khien_language"] = "en"
    return client


@pytest.fixture
def triaged(world, report):
    """An incident of malware, triaged: its standard tasks were added (stored in Vietnamese, the platform's)."""
    incident = report(category="infected-system")
    services.do_triage(incident, {}, acting_user=world.analyst)
    return incident


def standard(incident) -> tuple[Task, dict]:
    task = incident.tasks.exclude(template_code="").order_by("created_at", "pk").first()
    return task, TaskTemplates.current().entry(task.template_code)


# --- 1. The PDF says its time zone and keeps the custody seconds ------------------------------------------------


@needs_fonts
@pytest.mark.parametrize("language, zone", [("en", "Times shown in Vietnam time (UTC+7)"),
                                            ("vi", "Thời gian hiển thị theo giờ Việt Nam (UTC+7)")])
def test_pdf_says_its_time_zone_and_custody_steps_keep_their_seconds(world, as_user, report, language, zone):
    incident = report()
    evidence = services.do_add_evidence(incident, acting_user=world.analyst,
                                        uploaded=SimpleUploadedFile("ram.img", b"memory"), received_from="Phòng CNTT")
    step = services.do_record_custody(evidence, "transferred", acting_user=world.analyst, from_party="Phòng CNTT",
                                      to_party="Phòng thí nghiệm")
    text = pdf_text(as_user(world.analyst).get(f"/incidents/{incident.pk}/report.pdf?lang={language}"))
    assert zone in text
    assert timezone.localtime(step.at).strftime("%d/%m/%Y %H:%M:%S") in text  # as the page shows it


# --- 2. The task edit form in the reader's language ----------------------------------------------------------


def edit_data(task, description):
    prefix = f"t{task.pk.hex[:8]}-"
    return {prefix + "owner": "", prefix + "due_at": timezone.localtime(task.due_at).strftime("%Y-%m-%dT%H:%M"),
            prefix + "description": description}


def textarea(page: str, task) -> str:
    found = re.search(rf'<textarea[^>]*name="t{task.pk.hex[:8]}-description"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "no edit form for the task"
    return html.unescape(found.group(1)).strip()


def test_the_edit_form_shows_a_standard_description_in_the_readers_language(world, as_user, triaged):
    task, entry = standard(triaged)
    assert task.description == entry["description_vi"]
    client = as_user(world.analyst)
    assert textarea(client.get(f"/incidents/{triaged.pk}/").content.decode(), task) == entry["description_vi"]
    english(client)
    assert textarea(client.get(f"/incidents/{triaged.pk}/").content.decode(), task) == entry["description_en"]


def test_saving_the_english_form_unchanged_keeps_the_standard_text(world, as_user, triaged):
    task, entry = standard(triaged)
    client = english(as_user(world.analyst))
    lines = IncidentEvent.objects.count()
    response = client.post(f"/incidents/{triaged.pk}/tasks/{task.pk}/edit/", edit_data(task, entry["description_en"]),
                           follow=True)
    assert "The task is unchanged." in response.content.decode()
    task.refresh_from_db()
    assert task.description == entry["description_vi"] and IncidentEvent.objects.count() == lines
    # Still the standard text: each reader reads it in their language.
    client.cookies["khien_language"] = "vi"
    assert entry["description_vi"] in client.get(f"/incidents/{triaged.pk}/").content.decode()


def test_a_description_really_changed_in_english_is_kept_as_written(world, as_user, triaged):
    task, entry = standard(triaged)
    client = english(as_user(world.analyst))
    written = entry["description_en"] + " Also image the domain controller."
    assert client.post(f"/incidents/{triaged.pk}/tasks/{task.pk}/edit/", edit_data(task, written)).status_code == 302
    task.refresh_from_db()
    assert task.description == written
    client.cookies["khien_language"] = "vi"
    assert textarea(client.get(f"/incidents/{triaged.pk}/").content.decode(), task) == written  # no longer standard


def test_an_api_client_sending_the_english_text_back_changes_nothing(world, api, triaged):
    task, entry = standard(triaged)
    client = api(world.analyst)
    lines = IncidentEvent.objects.count()
    response = client.patch(f"{URL}{triaged.pk}/tasks/{task.pk}/", {"description": entry["description_en"]},
                            format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and response.json()["description"] == entry["description_en"]
    task.refresh_from_db()
    assert task.description == entry["description_vi"] and IncidentEvent.objects.count() == lines


def test_the_english_text_of_another_task_is_a_change(world, api, triaged):
    tasks = list(triaged.tasks.exclude(template_code="").order_by("created_at", "pk")[:2])
    other = TaskTemplates.current().entry(tasks[1].template_code)
    response = api(world.analyst).patch(f"{URL}{triaged.pk}/tasks/{tasks[0].pk}/",
                                        {"description": other["description_en"]}, format="json")
    assert response.status_code == 200
    tasks[0].refresh_from_db()
    assert tasks[0].description == other["description_en"]


# --- 3. The API answers in the request's language --------------------------------------------------------------


def test_api_tasks_and_journal_in_the_requests_language(world, api, triaged):
    task, entry = standard(triaged)
    services.do_add_task(triaged, {"title": "Gọi nhà cung cấp"}, acting_user=world.analyst)
    client = api(world.analyst)
    tasks_url, journal_url = f"{URL}{triaged.pk}/tasks/", f"{URL}{triaged.pk}/journal/"

    def shown(language=None):
        headers = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
        tasks = {t["id"]: t for t in client.get(tasks_url, **headers).json()}
        journal = client.get(journal_url, **headers).json()
        added = next(e for e in journal if e["kind"] == EventKind.TASK and e["data"].get("action") == "standard")
        return tasks, added["text"]

    tasks, text = shown("en")
    assert (tasks[str(task.pk)]["title"], tasks[str(task.pk)]["description"]) == (entry["title_en"],
                                                                               entry["description_en"])
    assert entry["title_en"] in text.splitlines() and entry["title_vi"] not in text
    assert "Gọi nhà cung cấp" in {t["title"] for t in tasks.values()}  # a task added by hand: as written
    tasks, text = shown()  # no language asked, the token's owner reads Vietnamese
    assert tasks[str(task.pk)]["description"] == entry["description_vi"] and entry["title_vi"] in text.splitlines()
    world.analyst.language = "en"  # the token's owner reads English
    world.analyst.save(update_fields=["language"])
    tasks, text = shown()
    assert tasks[str(task.pk)]["title"] == entry["title_en"] and entry["title_en"] in text.splitlines()
    tasks, _text = shown("vi")  # the request's own language first
    assert tasks[str(task.pk)]["title"] == entry["title_vi"]


def test_api_in_english_for_a_browser_session_with_the_english_cookie(world, as_user, triaged):
    task, entry = standard(triaged)
    client = english(as_user(world.analyst))
    tasks = {t["id"]: t for t in client.get(f"{URL}{triaged.pk}/tasks/").json()}
    assert tasks[str(task.pk)]["title"] == entry["title_en"]


# --- 4. Affected systems without the owner's Vietnamese name -----------------------------------------------------


@pytest.fixture
def with_systems(world, report, make_system):
    own = make_system(world.ministry, code="HT-MIN-002", name=f"Hạ tầng điện toán đám mây – {world.ministry.name_vi}")
    operated = make_system(world.department, code="HT-MIN-003", operator=world.ministry,
                           name=f"Cổng dịch vụ công – {world.department.name_vi}")
    return report(systems=[own, operated])


def systems_line(page: str) -> str:
    start = page.index("<dt>", page.index("Affected information systems") - 10)
    return re.sub(r"<[^>]+>", " ", page[start:page.index("</dd>", start)])


def test_the_page_names_systems_without_the_owners_vietnamese_name(world, as_user, with_systems):
    client = english(as_user(world.analyst))
    line = " ".join(systems_line(client.get(f"/incidents/{with_systems.pk}/").content.decode()).split())
    assert "HT-MIN-002 Hạ tầng điện toán đám mây" in line and world.ministry.name_vi not in line
    # Another owner (the system is only operated by the reporting organization): named in the reader's language.
    assert f"HT-MIN-003 Cổng dịch vụ công – {world.department.name_en}" in line
    assert world.department.name_vi not in line


@needs_fonts
def test_the_pdf_names_systems_as_the_page_does(world, as_user, with_systems):
    text = pdf_text(as_user(world.analyst).get(f"/incidents/{with_systems.pk}/report.pdf?lang=en"))
    assert "HT-MIN-002 Hạ tầng điện toán đám mây;" in text
    assert f"HT-MIN-003 Cổng dịch vụ công – {world.department.name_en}" in text
    assert f"đám mây – {world.ministry.name_vi}" not in text
    text = pdf_text(as_user(world.analyst).get(f"/incidents/{with_systems.pk}/report.pdf?lang=vi"))
    assert f"HT-MIN-003 Cổng dịch vụ công – {world.department.name_vi}" in text


def test_the_report_form_still_leaves_out_the_reporting_organizations_name(world, make_system):
    from khien.incidents.forms import system_name

    system = make_system(world.ministry, name=f"Hạ tầng – {world.ministry.name_vi}")
    assert system_name(system, world.ministry) == "Hạ tầng"
    bare = make_system(world.ministry, name="Hạ tầng")  # a name that does not end with it stays whole
    assert system_name(bare, world.ministry) == "Hạ tầng"
    assert system_name(system, None) == f"Hạ tầng – {world.ministry.name_vi}"  # no organization named above


# --- 5. Journal times in the platform's zone ---------------------------------------------------------------------


def test_journal_data_times_are_in_the_platforms_zone(world, api, triaged):
    client = api(world.analyst)
    happened = "2026-01-05T08:30:15+07:00"
    response = client.post(f"{URL}{triaged.pk}/journal/", {"text": "Máy bị cách ly", "happened_at": happened},
                           format="json")
    assert response.status_code == 201
    assert response.json()["data"]["happened_at"] == happened and response.json()["at"].endswith("+07:00")
    task, _entry = standard(triaged)
    assert client.patch(f"{URL}{triaged.pk}/tasks/{task.pk}/", {"due_at": "2026-12-24T09:00:00+07:00"},
                        format="json").status_code == 200
    journal = client.get(f"{URL}{triaged.pk}/journal/").json()
    comment = next(e for e in journal if e["kind"] == EventKind.COMMENT)
    assert comment["data"]["happened_at"] == happened
    changed = next(e for e in journal if e["data"].get("action") == "changed")
    assert changed["data"]["due_at"][1] == "2026-12-24T09:00:00+07:00"
    assert changed["data"]["due_at"][0].endswith("+07:00")


# --- 6. The bare PDF link follows the reader -----------------------------------------------------------------------


@needs_fonts
def test_the_bare_pdf_link_is_in_the_readers_language(world, as_user, report):
    incident = report()
    client = as_user(world.analyst)
    response = client.get(f"/incidents/{incident.pk}/report.pdf")
    assert "BÁO CÁO SỰ CỐ" in pdf_text(response) and response["Content-Disposition"].endswith('-vi.pdf"')
    english(client)
    response = client.get(f"/incidents/{incident.pk}/report.pdf")
    assert "INCIDENT REPORT" in pdf_text(response) and response["Content-Disposition"].endswith('-en.pdf"')
    response = client.get(f"/incidents/{incident.pk}/report.pdf?lang=vi")  # asked for explicitly: as asked
    assert "BÁO CÁO SỰ CỐ" in pdf_text(response)
    # Someone who may not read the incident gets no report in any language.
    assert english(as_user(world.other_admin)).get(f"/incidents/{incident.pk}/report.pdf").status_code == 404
