"""The membership notices (a role given, changed, taken away) read in their reader's language, whoever acted and in
whichever language: they are kept as texts (`core.texts.Text`), written again in the reader's language on each page
and API answer, and e-mailed in the language the person chose."""
import pytest
from django.core import mail
from django.urls import reverse
from django.utils.html import escape

from khien.core.models import Notification
from khien.registry.models import Membership
from khien.registry.services import MEMBERSHIP_NOTICE

pytestmark = pytest.mark.django_db

URL = "/api/registry/memberships/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
BY_VI = ("Người thực hiện: admin@min.test.vn. Nếu bạn không chờ đợi việc này, hãy báo quản trị viên của tổ chức "
         "hoặc cơ quan điều phối quốc gia.")
BY_EN = ("By admin@min.test.vn. If you did not expect this, tell the organization's administrator or the national "
         "coordinator.")


def _read(client, api, user) -> dict:
    """The person's latest membership notice as they read it: the notifications page in Vietnamese (the default),
    the API in each language, then the page after switching to English."""
    [notice] = Notification.objects.filter(recipient=user, kind=MEMBERSHIP_NOTICE).order_by("-created_at")[:1]
    client.force_login(user)
    read = {"page_vi": client.get(reverse("core:notifications")).content.decode()}
    token_client = api(user)
    for language in ("vi", "en"):
        [item] = [n for n in token_client.get("/api/notifications/", HTTP_ACCEPT_LANGUAGE=language).json()["results"]
                  if n["id"] == str(notice.pk)]
        read[f"api_{language}"] = (item["title"], item["body"])
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    read["page_en"] = client.get(reverse("core:notifications")).content.decode()
    read["stored"] = (notice.title, notice.body)
    return read


def _assert_reads(read, vi_title, en_title):
    assert read["api_vi"] == (vi_title, BY_VI)
    assert read["api_en"] == (en_title, BY_EN)
    assert escape(vi_title) in read["page_vi"] and escape(BY_VI) in read["page_vi"]
    assert escape(en_title) not in read["page_vi"]
    assert escape(en_title) in read["page_en"] and escape(BY_EN) in read["page_en"]
    assert escape(vi_title) not in read["page_en"]
    assert read["stored"] == (vi_title, BY_VI)  # stored (and e-mailed by default) in the platform's language


def test_a_role_given_by_an_english_speaking_administrator_reads_in_each_readers_language(world, api, client):
    response = api(world.admin).post(URL, {"organization": "MIN", "user": world.nobody.email, "role": "auditor"},
                                     format="json", **EN)
    assert response.status_code == 201, response.content
    _assert_reads(_read(client, api, world.nobody),
                  "Bạn được giao vai trò “Kiểm toán viên” tại Tổ chức MIN",
                  "You were given the role “Auditor” in Organization MIN")


def test_a_changed_role_reads_in_each_readers_language(world, api, client):
    membership = Membership.objects.get(user=world.auditor, organization=world.ministry)
    response = api(world.admin).patch(f"{URL}{membership.pk}/", {"role": "org_analyst"}, format="json", **EN)
    assert response.status_code == 200, response.content
    _assert_reads(_read(client, api, world.auditor),
                  "Vai trò của bạn tại Tổ chức MIN đã đổi từ “Kiểm toán viên” sang “Chuyên viên phân tích của tổ chức”",
                  "Your role in Organization MIN changed from “Auditor” to “Organization analyst”")


def test_a_removal_reads_in_each_readers_language(world, api, client):
    # A role elsewhere: removing the last one would close the account (`test_walkthrough_org_admin`).
    Membership.objects.create(user=world.auditor, organization=world.province, role="auditor")
    membership = Membership.objects.get(user=world.auditor, organization=world.ministry)
    assert api(world.admin).delete(f"{URL}{membership.pk}/", **EN).status_code == 204
    _assert_reads(_read(client, api, world.auditor),
                  "Bạn đã bị gỡ khỏi Tổ chức MIN (vai trò trước đó: “Kiểm toán viên”)",
                  "You were removed from Organization MIN (you had the role “Auditor”)")


def test_the_notice_is_mailed_in_the_language_the_person_chose(world, api, django_capture_on_commit_callbacks):
    """An administrator reading Khiên in Vietnamese changes the role of someone who chose English: the e-mail is in
    English; a Vietnamese reader's (none chosen) is in Vietnamese."""
    world.auditor.language = "en"
    world.auditor.save(update_fields=["language"])
    auditor = Membership.objects.get(user=world.auditor, organization=world.ministry)
    trainee = Membership.objects.get(user=world.trainee, organization=world.ministry)
    client = api(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.patch(f"{URL}{auditor.pk}/", {"role": "org_analyst"}, format="json",
                            HTTP_ACCEPT_LANGUAGE="vi").status_code == 200
        assert client.patch(f"{URL}{trainee.pk}/", {"role": "auditor"}, format="json", **EN).status_code == 200
    by_address = {m.to[0]: m for m in mail.outbox}
    assert by_address[world.auditor.email].subject == \
        "[Khiên] Your role in Organization MIN changed from “Auditor” to “Organization analyst”"
    assert BY_EN in by_address[world.auditor.email].body
    assert by_address[world.trainee.email].subject == \
        "[Khiên] Vai trò của bạn tại Tổ chức MIN đã đổi từ “Học viên” sang “Kiểm toán viên”"
    assert BY_VI in by_address[world.trainee.email].body


def test_an_organization_without_an_english_name_reads_its_vietnamese_name_in_english(world, api, client):
    world.ministry.name_en = ""
    world.ministry.save(update_fields=["name_en"])
    response = api(world.admin).post(URL, {"organization": "MIN", "user": world.nobody.email, "role": "auditor"},
                                     format="json", **EN)
    assert response.status_code == 201, response.content
    read = _read(client, api, world.nobody)
    assert read["api_en"][0] == "You were given the role “Auditor” in Tổ chức MIN"
