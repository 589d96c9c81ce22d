"""Notifications: who gets them, e-mail at once or in one digest, and nobody reads another's."""
import datetime as dt

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from khien.core import jobs, notifications
from khien.core.models import Notification
from khien.core.roles import Role

pytestmark = pytest.mark.django_db


def test_an_organization_means_its_active_members_optionally_by_role(world):
    world.trainee.is_active = False
    world.trainee.save()
    assert notifications.notify([world.ministry], kind="test", title="T") == 3  # admin, analyst, auditor
    assert set(Notification.objects.values_list("recipient__email", flat=True)) == {
        world.admin.email, world.analyst.email, world.auditor.email}
    Notification.objects.all().delete()
    assert notifications.notify([world.ministry, world.admin], kind="test", title="T", roles=[Role.ORG_ADMIN]) == 1
    # The department's analyst is not a member of the ministry itself.
    assert not Notification.objects.filter(recipient=world.dept_analyst).exists()


def test_a_rolled_back_change_announces_nothing(world):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            notifications.notify([world.admin], kind="test", title="T", urgent=True)
            raise RuntimeError
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_urgent_notifications_are_mailed_when_the_change_commits(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify([world.admin, world.analyst], kind="test", title="Sự cố khẩn", urgent=True)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([world.admin.email, world.analyst.email])
    assert "Sự cố khẩn" in mail.outbox[0].subject
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


def test_many_notifications_make_one_digest_per_person_once_the_interval_has_passed(world, settings):
    settings.KHIEN_NOTIFICATION_DIGEST_SECONDS = 300
    for i in range(500):
        notifications.notify([world.admin], kind="test", title=f"Hit {i}")
    now = timezone.now()
    notifications.send_digests(now + dt.timedelta(seconds=10))
    assert mail.outbox == []  # too early: more may come in this interval
    notifications.send_digests(now + dt.timedelta(seconds=301))
    assert len(mail.outbox) == 1
    assert "Hit 0" in mail.outbox[0].body and "Hit 499" in mail.outbox[0].body
    notifications.send_digests(now + dt.timedelta(seconds=900))
    assert len(mail.outbox) == 1  # sent once


def test_a_mail_outage_keeps_notifications_pending(world, settings):
    settings.EMAIL_BACKEND = "khien.core.tests.test_notifications.BrokenBackend"
    notifications.notify([world.admin], kind="test", title="T")
    notifications.send_digests(timezone.now() + dt.timedelta(hours=1))
    assert Notification.objects.get().emailed_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    notifications.send_digests(timezone.now() + dt.timedelta(hours=1))
    assert len(mail.outbox) == 1


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP down")


def test_the_page_shows_only_ones_own_and_marks_them_read(world, as_user):
    notifications.notify([world.admin], kind="test", title="Cho quản trị")
    notifications.notify([world.analyst], kind="test", title="Cho phân tích viên")
    other = Notification.objects.get(recipient=world.analyst)
    client = as_user(world.admin)
    page = client.get(reverse("core:notifications"))
    assert "Cho quản trị" in page.content.decode() and "Cho phân tích viên" not in page.content.decode()
    assert page.context["unread_notifications"] == 1
    # Marking someone else's notification does nothing.
    client.post(reverse("core:notifications"), {"id": str(other.pk)})
    other.refresh_from_db()
    assert other.read_at is None
    client.post(reverse("core:notifications"))
    assert not Notification.objects.filter(recipient=world.admin, read_at__isnull=True).exists()
    assert client.get(reverse("core:notifications")).context["unread_notifications"] == 0


def test_api_lists_and_marks_ones_own(world, api):
    notifications.notify([world.admin], kind="test", title="A")
    notifications.notify([world.analyst], kind="test", title="B")
    client = api(world.admin)
    listed = client.get("/api/notifications/?unread=true").json()
    assert [n["title"] for n in listed["results"]] == ["A"]
    other = Notification.objects.get(recipient=world.analyst)
    assert client.post("/api/notifications/read/", {"ids": [str(other.pk)]}, format="json").json() == {"marked": 0}
    with translation.override("en"):
        bad = client.post("/api/notifications/read/", {"ids": ["not-a-uuid"]}, format="json",
                          HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400
    nothing = client.post("/api/notifications/read/", {}, format="json")
    assert nothing.status_code == 400 and "ids" in nothing.json()
    assert client.post("/api/notifications/read/", {"all": "maybe"}, format="json").status_code == 400
    # A form, as the schema allows: "true" is all (was a 400 asking for a field).
    assert client.post("/api/notifications/read/", {"all": "true"}).json() == {"marked": 1}
    assert api(None).get("/api/notifications/").status_code in (401, 403)


def test_worker_once_runs_every_job(world, capsys):
    notifications.notify([world.admin], kind="test", title="T", urgent=True)
    call_command("worker", "--once", "--only", "core.notification_digest")
    assert "core.notification_digest" in capsys.readouterr().out
    assert len(mail.outbox) == 1
    assert "core.notification_digest" in jobs.discover()


# --- in each reader's language --------------------------------------------------------------------------

def _role_given(world):
    """A notification as `registry.services.do_set_membership` could write it with `Text`."""
    from django.utils.translation import gettext_lazy as _l

    return notifications.Text(_l("You were given the role “%(role)s” in %(org)s"), {
        "role": Role.ORG_ADMIN.label, "org": notifications.ByLanguage.name_of(world.ministry)})


def test_a_text_notification_is_shown_in_each_readers_language_and_mailed_in_the_recipients(
        world, client, api, django_capture_on_commit_callbacks):
    from django.utils.translation import ngettext_lazy

    hits = notifications.Text(ngettext_lazy("%(n)d indicator hit in your organization's telemetry",
                                            "%(n)d indicator hits in your organization's telemetry", 3), {"n": 3})
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):  # an English speaker acts
        notifications.notify([world.admin], kind="test", title=_role_given(world), body=hits, urgent=True)
    n = Notification.objects.get()
    vi_title = f"Bạn được giao vai trò “Quản trị viên tổ chức” tại {world.ministry.name_vi}"
    en_title = f"You were given the role “Organization administrator” in {world.ministry.name_en}"
    assert n.title == vi_title  # stored in the platform's language, whoever acted; mailed in the recipient's
    assert mail.outbox[0].subject == f"[Khiên] {vi_title}"
    assert n.texts["title"]["msgid"] == "You were given the role “%(role)s” in %(org)s"
    client.force_login(world.admin)
    page = client.get(reverse("core:notifications")).content.decode()
    assert vi_title in page and "3 lần trùng khớp chỉ báo" in page
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("core:notifications")).content.decode()
    assert en_title in page and "3 indicator hits in your organization&#x27;s telemetry" in page
    assert vi_title not in page
    token_client = api(world.admin)
    assert token_client.get("/api/notifications/", HTTP_ACCEPT_LANGUAGE="en").json()["results"][0]["title"] == en_title
    assert token_client.get("/api/notifications/", HTTP_ACCEPT_LANGUAGE="vi").json()["results"][0]["title"] == vi_title


def test_plain_text_notifications_and_unreadable_texts_show_as_stored(world, as_user):
    """Backward compatible: a caller that gives plain text, and rows written before `texts` existed, read as stored;
    so does a row whose `texts` this version cannot write (a missing parameter), rather than failing the page."""
    notifications.notify([world.admin], kind="test", title="Đã viết sẵn", body="Nội dung")
    Notification.objects.create(recipient=world.admin, kind="test", title="Tiêu đề lưu sẵn",
                                texts={"title": {"msgid": "%(missing)s and more", "params": {"other": 1}}})
    Notification.objects.create(recipient=world.admin, kind="test", title="Dạng lạ", texts=["not", "a", "dict"])
    assert Notification.objects.get(title="Đã viết sẵn").texts is None
    client = as_user(world.admin)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("core:notifications"))
    assert page.status_code == 200
    for stored in ("Đã viết sẵn", "Nội dung", "Tiêu đề lưu sẵn", "Dạng lạ"):
        assert stored in page.content.decode()


def test_text_keeps_choice_labels_plurals_contexts_and_names_untranslated(world):
    from django.utils.translation import ngettext_lazy, pgettext_lazy

    from khien.core.texts import Text, render_data

    text = Text("%(action)s · %(role)s · %(org)s · %(hits)s", {
        "action": pgettext_lazy("audit action", "Changed"), "role": Role.AUDITOR.label,
        "org": notifications.ByLanguage.name_of(world.ministry),
        "hits": Text(ngettext_lazy("%(n)d indicator hit in your organization's telemetry",
                                   "%(n)d indicator hits in your organization's telemetry", 1), {"n": 1})})
    data = text.as_data()
    assert data["params"]["action"] == {"msgid": "Changed", "context": "audit action"}
    with translation.override("en"):
        assert render_data(data) == (f"Changed · Auditor · {world.ministry.name_en} · "
                                     "1 indicator hit in your organization's telemetry")
    with translation.override("vi"):
        assert render_data(data).startswith(f"Thay đổi · Kiểm toán viên · {world.ministry.name_vi} · 1 ")


def test_marking_a_notification_with_an_id_that_is_no_id_is_refused_and_marks_nothing(world, as_user):
    notifications.notify([world.admin], kind="test", title="T")
    client = as_user(world.admin)
    response = client.post(reverse("core:notifications"), {"id": "not-a-uuid"})
    assert response.status_code == 400 and "Yêu cầu không hợp lệ." in response.content.decode()
    assert not Notification.objects.filter(read_at__isnull=False).exists()
    mine = Notification.objects.get()
    assert client.post(reverse("core:notifications"), {"id": [str(mine.pk), "x"]}).status_code == 400
    assert not Notification.objects.filter(read_at__isnull=False).exists()
    assert client.post(reverse("core:notifications"), {"id": str(mine.pk)}).status_code == 302
    assert Notification.objects.get().read_at is not None


def test_the_language_switch_is_kept_on_the_account_and_e_mails_follow_it(
        world, client, django_capture_on_commit_callbacks):
    from khien.core.models import AuditEntry, User

    client.force_login(world.admin)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert User.objects.get(pk=world.admin.pk).language == "en"
    entry = AuditEntry.objects.filter(object_id=str(world.admin.pk)).latest("seq")
    assert entry.after == {"language": "en"} and entry.before == {"language": ""}
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})  # not offered: nothing kept
    assert User.objects.get(pk=world.admin.pk).language == "en"
    client.logout()
    client.post(reverse("set_language"), {"language": "vi", "next": "/"})  # anonymous: only the cookie
    assert User.objects.get(pk=world.admin.pk).language == "en"

    world.admin.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify([world.admin, world.analyst], kind="test", title=_role_given(world), urgent=True)
    by_address = {m.to[0]: m for m in mail.outbox}
    assert by_address[world.admin.email].subject == \
        f"[Khiên] You were given the role “Organization administrator” in {world.ministry.name_en}"
    assert "Open Khiên to see and mark your notifications." in by_address[world.admin.email].body
    assert by_address[world.analyst.email].subject.startswith("[Khiên] Bạn được giao vai trò")


def test_an_unknown_chosen_language_is_read_as_the_platforms(world):
    world.coordinator.language = "fr"
    assert notifications.recipient_language(world.coordinator) == "vi"
    world.coordinator.language = "en"
    assert notifications.recipient_language(world.coordinator) == "en"
    assert notifications.recipient_language(world.admin) == "vi"  # none chosen


def test_a_person_who_wants_urgent_e_mails_only_gets_no_digest(world, settings, as_user):
    """On the notifications page a person chooses "only the urgent ones": the digest of ordinary notifications is
    not e-mailed to them (the list keeps them), urgent ones still are; someone else's choice changes nothing for
    them; the choice is audited and an unknown one refused."""
    from khien.core.models import AuditEntry

    settings.KHIEN_NOTIFICATION_DIGEST_SECONDS = 300
    client = as_user(world.admin)
    assert 'id="email-settings"' in client.get(reverse("core:notifications")).content.decode()
    before = AuditEntry.objects.count()
    assert client.post(reverse("core:notification_email_settings"),
                       {"email_notifications": "urgent"}).status_code == 302
    world.admin.refresh_from_db()
    assert world.admin.email_notifications == "urgent" and AuditEntry.objects.count() == before + 1
    assert client.post(reverse("core:notification_email_settings"),
                       {"email_notifications": "never"}).status_code == 400
    world.admin.refresh_from_db()
    assert world.admin.email_notifications == "urgent"
    notifications.notify([world.admin, world.analyst], kind="test", title="Hit 1")
    notifications.notify([world.admin], kind="test", title="Sự cố khẩn", urgent=True)
    notifications.send_digests(timezone.now() + dt.timedelta(seconds=301))
    to_admin = [m for m in mail.outbox if m.to == [world.admin.email]]
    assert len(to_admin) == 1 and "Sự cố khẩn" in to_admin[0].subject and "Hit 1" not in to_admin[0].body
    assert any(m.to == [world.analyst.email] and "Hit 1" in m.subject for m in mail.outbox)
    page = client.get(reverse("core:notifications")).content.decode()
    assert "Hit 1" in page  # kept in Khiên
