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
