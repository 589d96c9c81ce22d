"""Fixes from the registry walkthrough: whose turn a level proposal is (the home page's "To do" and the level card),
a dossier file uploaded twice, a dossier file name of hundreds of characters, the suggestion's reason in the
reader's language, and the membership API's `user` field."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from khien.core.errors import Refused
from khien.registry import services
from khien.registry.models import DossierFile, InformationSystem, LevelStatus
from khien.registry.tests.test_services import answers
from khien.registry.worklist import waiting_work

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def in_english(client):
    """The pages in English (the language cookie, as the language menu sets it)."""
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def proposal(world, level, code=None, submitter=None):
    """A level-`level` proposal of the ministry, submitted (by the analyst unless told)."""
    system = services.do_create_system(
        {"code": code or f"SYS-L{level}", "name": f"Hệ thống cấp {level}", "owner": world.ministry,
         "criteria": answers(level), "proposed_level": level}, acting_user=world.admin)
    services.do_add_dossier_file(system, SimpleUploadedFile(f"ho-so-{system.code}.pdf", b"%PDF-1.4 " + system.code.encode()),
                                 acting_user=world.admin)
    return services.do_level_step(system, "submit", acting_user=submitter or world.analyst)


def todo(user, step):
    """(count, url) of the user's "To do" item for `step` ("appraise" or "approve")."""
    [item] = [i for i in waiting_work(user) if f"awaiting_me={step}" in i.url]
    return item.count, item.url


def codes_listed(client, url):
    """The system codes the list page at `url` shows, and those the API's same filter gives."""
    page = client.get(url)
    assert page.status_code == 200
    return {s.code for s in page.context["page"]}


# --- 1. "To do": exactly the proposals the person decides -------------------------------------------------------


@pytest.fixture
def proposals(world):
    return {level: proposal(world, level) for level in (1, 2, 3, 4, 5)}


def test_each_person_sees_the_proposals_whose_appraisal_is_theirs(world, proposals, as_user, api):
    # Levels 1-2 are appraised by the owner's administrators, 3-5 by the national coordinator.
    assert todo(world.admin, "appraise")[0] == 2
    assert todo(world.coordinator, "appraise")[0] == 3  # not every submitted proposal of the country
    assert todo(world.other_admin, "appraise")[0] == 0  # another organization's
    assert todo(world.analyst, "appraise")[0] == 0  # an analyst has no right to appraise
    count, url = todo(world.admin, "appraise")
    assert codes_listed(as_user(world.admin), url) == {"SYS-L1", "SYS-L2"}
    # The API's list takes the same filter.
    answer = api(world.coordinator).get("/api/registry/systems/?awaiting_me=appraise").json()
    assert {row["code"] for row in answer["results"]} == {"SYS-L3", "SYS-L4", "SYS-L5"}


def test_approval_waits_for_someone_other_than_the_appraiser(world, proposals, head, deputy_coordinator, as_user):
    for level in (1, 2):
        services.do_level_step(proposals[level], "appraise", acting_user=world.admin, note="Đạt")
    for level in (3, 4):
        services.do_level_step(proposals[level], "appraise", acting_user=world.coordinator, note="Đạt")
    # Level 3 is approved by the owner; 4-5 nationally. The appraiser is never the approver.
    assert todo(world.admin, "approve")[0] == 1  # level 3 only: 1 and 2 are the admin's own appraisals
    assert todo(head, "approve")[0] == 3  # levels 1, 2, 3
    assert todo(world.coordinator, "approve")[0] == 0  # level 4 was the coordinator's appraisal
    assert todo(deputy_coordinator, "approve")[0] == 1
    assert todo(world.admin, "appraise")[0] == 0
    count, url = todo(head, "approve")
    assert codes_listed(as_user(head), url) == {"SYS-L1", "SYS-L2", "SYS-L3"}
    _count, url = todo(world.admin, "approve")
    assert codes_listed(as_user(world.admin), url) == {"SYS-L3"}


def test_a_proposal_one_submitted_is_not_waiting_for_ones_own_appraisal(world, head):
    proposal(world, 1, code="SYS-OWN", submitter=world.admin)
    assert todo(world.admin, "appraise")[0] == 0
    assert todo(head, "appraise")[0] == 1


def test_waiting_work_agrees_with_the_rule_of_each_proposal(world, proposals, head, deputy_coordinator):
    """`decidable_by` is the one rule: the buttons a page shows (`may_take_step`) and those who are told
    (`_deciders`) agree with it, system by system."""
    services.do_level_step(proposals[1], "appraise", acting_user=world.admin, note="Đạt")
    services.do_level_step(proposals[4], "appraise", acting_user=world.coordinator, note="Đạt")
    people = [world.coordinator, deputy_coordinator, world.admin, head, world.analyst, world.other_admin,
              world.auditor, world.dept_analyst]
    for system in InformationSystem.objects.all():
        stage = services.DECISION_STAGES[system.level_status]
        step = "appraise" if system.level_status == LevelStatus.SUBMITTED else "approve"
        deciders = {u.pk for u in services._deciders(system, stage)}
        for user in people:
            waiting = services.decidable_by(user, step, own_turn_only=True).filter(pk=system.pk).exists()
            four_eyes = user.pk not in {e.actor_id for e in system.level_events.filter(
                action__in=["submit", "appraise"] if step == "approve" else ["submit"])}
            assert waiting == (user.pk in deciders and four_eyes), (system.code, user.email)
            if waiting:
                assert services.may_take_step(user, system, step)


def test_the_filter_refuses_an_unknown_decision(world, api):
    answer = api(world.admin).get("/api/registry/systems/?awaiting_me=everything")
    assert answer.status_code == 400


# --- 2. The level card says what the proposal waits for, and whom -------------------------------------------


def test_the_level_card_says_who_the_proposal_waits_for(world, as_user, head):
    system = proposal(world, 4)
    page = in_english(as_user(world.analyst)).get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    assert 'id="level-waiting-for"' in page
    assert "Waiting for appraisal" in page and "Organization NCSC" in page

    system = proposal(world, 2, code="SYS-L2")
    services.do_level_step(system, "appraise", acting_user=world.admin, note="Đạt")
    page = in_english(as_user(world.analyst)).get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    assert "Waiting for approval" in page and "administrators of Organization MIN" in page

    services.do_level_step(system, "return", acting_user=head, note="Thiếu sơ đồ")
    page = in_english(as_user(world.analyst)).get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    assert "Waiting for correction" in page


def test_the_api_says_who_a_proposal_waits_for_as_the_card_does(world, api, django_assert_max_num_queries):
    """`waiting_for` in the systems API ({step, by} in the caller's language, null for a draft); a list asks for the
    coordinators' names once, not once per system."""
    coordinator = proposal(world, 4, code="SYS-C")
    owner = proposal(world, 2, code="SYS-O")
    services.do_create_system({"code": "SYS-N", "name": "Nháp", "owner": world.ministry}, acting_user=world.admin)
    client = api(world.analyst)
    answer = client.get(f"/api/registry/systems/{coordinator.pk}/", **EN).json()
    assert answer["waiting_for"] == {"step": "Waiting for appraisal", "by": "the national coordinator (Organization NCSC)"}
    assert client.get(f"/api/registry/systems/{owner.pk}/", **EN).json()["waiting_for"]["by"] == \
        "the administrators of Organization MIN"
    rows = {r["code"]: r["waiting_for"] for r in client.get("/api/registry/systems/", **EN).json()["results"]}
    assert rows["SYS-N"] is None and rows["SYS-C"]["step"] == "Waiting for appraisal"
    many = [proposal(world, 4, code=f"SYS-M{i}") for i in range(5)]
    assert many
    with django_assert_max_num_queries(7):
        assert client.get("/api/registry/systems/", **EN).status_code == 200
    # Another organization does not learn of the proposal at all.
    assert api(world.other_admin).get(f"/api/registry/systems/{coordinator.pk}/").status_code == 404


def test_a_draft_waits_for_nobody(world, as_user):
    system = services.do_create_system({"code": "SYS-D", "name": "Nháp", "owner": world.ministry},
                                       acting_user=world.admin)
    page = as_user(world.admin).get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    assert 'id="level-waiting-for"' not in page


# --- 3. The same file twice -------------------------------------------------------------------------------


@pytest.fixture
def draft(world):
    return services.do_create_system({"code": "SYS-F", "name": "Hồ sơ", "owner": world.ministry},
                                     acting_user=world.admin)


def test_the_same_file_twice_is_refused_naming_the_first(world, draft, as_user, api):
    services.do_add_dossier_file(draft, SimpleUploadedFile("thuyet-minh.pdf", b"%PDF-1.4 same"), acting_user=world.admin)
    with pytest.raises(Refused) as refused:
        services.do_add_dossier_file(draft, SimpleUploadedFile("ban-sao.pdf", b"%PDF-1.4 same"), acting_user=world.admin)
    assert refused.value.status == 409 and "thuyet-minh.pdf" in refused.value.message
    assert DossierFile.objects.filter(system=draft).count() == 1

    client = in_english(as_user(world.admin))
    response = client.post(reverse("registry:system_upload", args=[draft.pk]),
                           {"file": SimpleUploadedFile("ban-sao-2.pdf", b"%PDF-1.4 same")}, follow=True)
    page = response.content.decode()
    assert "thuyet-minh.pdf" in page and "already holds this file" in page
    assert DossierFile.objects.filter(system=draft).count() == 1

    answer = api(world.admin).post(f"/api/registry/systems/{draft.pk}/dossier/",
                                   {"file": SimpleUploadedFile("ban-sao-3.pdf", b"%PDF-1.4 same")}, format="multipart")
    assert answer.status_code == 409, answer.content
    assert "thuyet-minh.pdf" in answer.json()["detail"]
    assert DossierFile.objects.filter(system=draft).count() == 1
    # Other content is taken.
    services.do_add_dossier_file(draft, SimpleUploadedFile("khac.pdf", b"%PDF-1.4 other"), acting_user=world.admin)
    assert DossierFile.objects.filter(system=draft).count() == 2


def test_the_same_file_in_another_systems_dossier_is_taken(world, draft):
    other = services.do_create_system({"code": "SYS-G", "name": "Khác", "owner": world.ministry},
                                      acting_user=world.admin)
    services.do_add_dossier_file(draft, SimpleUploadedFile("a.pdf", b"%PDF-1.4 x"), acting_user=world.admin)
    services.do_add_dossier_file(other, SimpleUploadedFile("a.pdf", b"%PDF-1.4 x"), acting_user=world.admin)


# --- 4. A long file name ------------------------------------------------------------------------------------


LONG_NAME = "ho-so-de-xuat-cap-do-" + "x" * 379 + ".pdf"  # 404 characters


def test_a_long_file_name_is_kept_short_with_its_extension(world, draft, as_user):
    assert len(LONG_NAME) == 404
    dossier = services.do_add_dossier_file(draft, SimpleUploadedFile(LONG_NAME, b"%PDF-1.4"), acting_user=world.admin)
    assert dossier.original_name.endswith(".pdf")
    assert len(dossier.original_name) <= services.DOSSIER_NAME_STEM + len(".pdf")
    assert dossier.original_name.startswith("ho-so-de-xuat-cap-do-xxx")
    page = as_user(world.admin).get(reverse("registry:system_detail", args=[draft.pk])).content.decode()
    assert 'class="wrap-long"' in page and dossier.original_name in page
    assert services.dossier_file_name("bao-cao.pdf") == "bao-cao.pdf"


# --- 5. The suggestion's reason in the reader's language ---------------------------------------------------


def test_the_suggestion_reason_reads_in_each_readers_language(world, as_user, api):
    with translation.override("vi"):
        system = services.do_create_system(
            {"code": "SYS-R", "name": "Lý do", "owner": world.ministry, "criteria": answers(3), "proposed_level": 3},
            acting_user=world.admin)
    with translation.override("en"):
        english = system.suggestion_reason_text
    with translation.override("vi"):
        vietnamese = system.suggestion_reason_text
    assert english.startswith("Level 3, reached by:") and english != vietnamese
    client = api(world.admin)
    assert client.get(f"/api/registry/systems/{system.pk}/", **EN).json()["suggestion_reason"] == english
    assert client.get(f"/api/registry/systems/{system.pk}/", HTTP_ACCEPT_LANGUAGE="vi").json()[
        "suggestion_reason"] == vietnamese
    page = in_english(as_user(world.admin)).get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    assert "Level 3, reached by:" in page


def test_a_reason_stored_before_still_reads(world, make_system):
    system = make_system(world.ministry, suggested_level=2, suggestion_reason="Cấp độ 2, căn cứ: (cũ)")
    assert system.suggestion_reason_text == "Cấp độ 2, căn cứ: (cũ)"


# --- 6. The membership API names the person `user` (an e-mail address); `email` is taken too -------------------


def test_a_membership_takes_the_person_as_user_or_email(world, api):
    client = api(world.admin)
    answer = client.post("/api/registry/memberships/", {"organization": "MIN", "email": "moi@min.test.vn",
                                                        "role": "org_analyst"}, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["user"] == "moi@min.test.vn"
    answer = client.post("/api/registry/memberships/", {"organization": "MIN", "role": "org_analyst"},
                         format="json", **EN)
    assert answer.status_code == 400
    assert "user" in answer.json() and "e-mail" in str(answer.json()["user"])


def test_a_proposal_with_no_recorded_submission_still_waits_for_its_decider(world, make_system):
    """A proposal set as submitted without a logged submission (older data, an import) has no submitter to leave
    out; SQL's NOT (NULL = id) made it wait for nobody."""
    from khien.registry.models import LevelStatus

    system = make_system(world.ministry, level_status=LevelStatus.SUBMITTED, proposed_level=4)
    assert system in services.decidable_by(world.coordinator, "appraise", own_turn_only=True)
    assert services.may_take_step(world.coordinator, system, "appraise")
