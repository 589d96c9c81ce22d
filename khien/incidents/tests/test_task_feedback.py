"""Changing a task's status or adding a comment says it worked; finished tasks look finished; the person in charge
hears when the task is taken from them, or finished or cancelled by someone else (in their own language)."""
import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from khien.core.models import Notification
from khien.incidents import services
from khien.incidents.models import TaskStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(world, report):
    incident = report()
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    return incident


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_task_status_change_and_a_comment_say_they_worked(world, incident, as_user):
    task = services.do_add_task(incident, {"title": "Cô lập máy chủ"}, acting_user=world.analyst)
    client = as_user(world.analyst)
    response = client.post(reverse("incidents:incident_task_status", args=[incident.pk, task.pk]), {"status": "done"})
    assert response.status_code == 302
    said = messages_of(response)
    assert len(said) == 1 and "Cô lập máy chủ" in said[0]
    client.get(response.url)  # the page shows the message (and consumes it)
    response = client.post(reverse("incidents:incident_comment", args=[incident.pk]), {"text": "Đã liên hệ ISP"})
    assert response.status_code == 302 and len(messages_of(response)) == 1


def test_finished_tasks_look_finished(world, incident, as_user):
    open_task = services.do_add_task(incident, {"title": "Cô lập máy chủ"}, acting_user=world.analyst)
    done = services.do_add_task(incident, {"title": "Thu thập nhật ký"}, acting_user=world.analyst)
    cancelled = services.do_add_task(incident, {"title": "Gọi nhà cung cấp"}, acting_user=world.analyst)
    services.do_set_task_status(done, TaskStatus.DONE, acting_user=world.analyst)
    services.do_set_task_status(cancelled, TaskStatus.CANCELLED, acting_user=world.analyst)
    page = as_user(world.analyst).get(reverse("incidents:incident_detail", args=[incident.pk])).content.decode()

    def row(task):
        start = page.index(f'id="task-{task.pk}"')
        return page[page.rindex("<tr", 0, start):page.index("</tr>", start)]

    assert "task-finished" not in row(open_task)
    assert "task-finished" in row(done) and "task-finished" in row(cancelled)
    assert "<s>" in row(cancelled) and "<s>" not in row(open_task)


def test_the_previous_person_in_charge_is_told(world, incident):
    task = services.do_add_task(incident, {"title": "Phân tích mẫu", "owner": world.responder},
                                acting_user=world.analyst)
    services.do_update_task(task, {"owner": world.admin}, acting_user=world.analyst)
    [told] = Notification.objects.filter(recipient=world.responder, kind="incidents.task_taken")
    assert "Phân tích mẫu" in told.title
    assert Notification.objects.filter(recipient=world.admin, kind="incidents.task").exists()  # the new one
    # Giving up one's own task tells nobody of their own act.
    services.do_update_task(task, {"owner": None}, acting_user=world.admin)
    assert not Notification.objects.filter(recipient=world.admin, kind="incidents.task_taken").exists()


def test_the_person_in_charge_is_told_when_someone_else_ends_their_task(world, incident):
    world.responder.language = "en"
    world.responder.save()
    task = services.do_add_task(incident, {"title": "Phân tích mẫu", "owner": world.responder},
                                acting_user=world.analyst)
    services.do_set_task_status(task, TaskStatus.IN_PROGRESS, acting_user=world.analyst)
    assert not Notification.objects.filter(recipient=world.responder, kind="incidents.task_ended").exists()
    services.do_set_task_status(task, TaskStatus.DONE, acting_user=world.analyst)
    [told] = Notification.objects.filter(recipient=world.responder, kind="incidents.task_ended")
    assert told.texts  # kept as a Text: each reader reads it in their language
    with translation.override("en"):
        assert "Done" in told.shown_title and "Phân tích mẫu" in told.shown_title
    # Ending one's own task tells nobody.
    other = services.do_add_task(incident, {"title": "Viết báo cáo", "owner": world.responder},
                                 acting_user=world.analyst)
    services.do_set_task_status(other, TaskStatus.CANCELLED, acting_user=world.responder)
    assert Notification.objects.filter(recipient=world.responder, kind="incidents.task_ended").count() == 1
