"""A task's due time lies within the incident's response: not before the incident was reported, not in the past for
a new task, not more than `deadlines.TASK_DUE_MAX_AHEAD` ahead — refused with a message in the user's language on the
service, the page (form error, 400) and the API (400), with nothing written."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from khien.core.models import AuditEntry, Notification
from khien.incidents import deadlines, services
from khien.incidents.models import IncidentEvent, Task

pytestmark = pytest.mark.django_db

URL = "/api/incidents/"


def state():
    return (Task.objects.count(), IncidentEvent.objects.count(), AuditEntry.objects.exclude(action="login").count(),
            Notification.objects.count(), list(Task.objects.order_by("pk").values_list("due_at", "description")))


def local_input(value):
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def incident(world, report):
    # Reported three days ago: "before the report" and "in the past" are different bounds.
    return report(now=timezone.now() - dt.timedelta(days=3))


def absurd_due_times(incident):
    now = timezone.now()
    return {
        "1971": dt.datetime(1971, 3, 1, 8, 0, tzinfo=dt.timezone.utc),
        "before the report": incident.reported_at - dt.timedelta(minutes=1),
        "two days ago": now - dt.timedelta(days=2),
        "50 years ahead": now + dt.timedelta(days=50 * 365),
        "just past the horizon": now + deadlines.TASK_DUE_MAX_AHEAD + dt.timedelta(hours=1),
    }


def test_the_service_refuses_absurd_due_times_for_a_new_task(world, incident):
    before = state()
    for label, due_at in absurd_due_times(incident).items():
        with pytest.raises(ValidationError) as exc:
            services.do_add_task(incident, {"title": "Cô lập máy chủ", "due_at": due_at}, acting_user=world.analyst)
        assert list(exc.value.message_dict) == ["due_at"], label
    assert state() == before


def test_sensible_due_times_are_taken(world, incident):
    now = timezone.now()
    for due_at in (now - dt.timedelta(hours=2),  # recorded a little after the fact
                   now + dt.timedelta(hours=4), now + deadlines.TASK_DUE_MAX_AHEAD - dt.timedelta(hours=1), None):
        task = services.do_add_task(incident, {"title": "Việc", "due_at": due_at}, acting_user=world.analyst)
        assert task.due_at == due_at


def test_the_messages_say_which_bound(world, incident, settings):
    from django.utils import translation

    with translation.override("en"):
        problems = {label: services.task_due_problem(due_at, incident, timezone.now(), new=True)
                    for label, due_at in absurd_due_times(incident).items()}
    assert problems["1971"].startswith("The due time cannot be before the incident was reported")
    assert problems["two days ago"].startswith("A new task cannot be due in the past")
    assert problems["50 years ahead"].startswith("The due time cannot be more than 365 days ahead")


def test_changing_a_due_time_is_bounded_too_but_an_unchanged_one_is_kept(world, incident):
    task = services.do_add_task(incident, {"title": "Việc", "due_at": timezone.now() + dt.timedelta(hours=1)},
                                acting_user=world.analyst)
    before = state()
    for label, due_at in absurd_due_times(incident).items():
        if label == "two days ago":
            continue  # an existing task may be moved to any time of the response, a past one included
        with pytest.raises(ValidationError) as exc:
            services.do_update_task(task, {"due_at": due_at}, acting_user=world.analyst)
        assert list(exc.value.message_dict) == ["due_at"], label
    assert state() == before
    # Moved back to a time after the report, though in the past: taken (an overdue task stays recordable).
    earlier = incident.reported_at + dt.timedelta(hours=1)
    task, changed = services.do_update_task(task, {"due_at": earlier}, acting_user=world.analyst)
    assert changed == ["due_at"]
    # Its due time is now two days and more in the past: sending it back unchanged with another change is no error.
    task, changed = services.do_update_task(task, {"due_at": earlier, "description": "Đã cập nhật"},
                                            acting_user=world.analyst)
    assert changed == ["description"]


def test_the_api_answers_400_in_the_callers_language(world, api, incident):
    client = api(world.analyst)
    before = state()
    for label, due_at in absurd_due_times(incident).items():
        answer = client.post(f"{URL}{incident.pk}/tasks/", {"title": "Việc", "due_at": due_at.isoformat()},
                             format="json", HTTP_ACCEPT_LANGUAGE="en")
        assert answer.status_code == 400, label
        assert "due_at" in str(answer.json()), label
    answer = client.post(f"{URL}{incident.pk}/tasks/", {"title": "Việc", "due_at": "1971-03-01T08:00:00+07:00"},
                         format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert "before the incident was reported" in str(answer.json())
    task = services.do_add_task(incident, {"title": "Việc"}, acting_user=world.analyst)
    before = state()
    answer = client.patch(f"{URL}{incident.pk}/tasks/{task.pk}/", {"due_at": "2076-01-01T08:00:00+07:00"},
                          format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400 and "more than 365 days ahead" in str(answer.json())
    assert state() == before


def test_the_page_shows_the_error_on_the_form(world, client, incident):
    client.force_login(world.analyst)
    client.cookies["khien_language"] = "en"
    before = state()
    page = client.post(f"/incidents/{incident.pk}/tasks/",
                       {"title": "Việc", "due_at": "1971-03-01T08:00"})
    assert page.status_code == 400
    assert page.context["task_form"].errors["due_at"][0].startswith(
        "The due time cannot be before the incident was reported")
    assert "The due time cannot be before the incident was reported" in page.content.decode()
    task = services.do_add_task(incident, {"title": "Việc"}, acting_user=world.analyst)
    before = state()
    prefix = f"t{task.pk.hex[:8]}"
    far = timezone.now() + dt.timedelta(days=50 * 365)
    page = client.post(f"/incidents/{incident.pk}/tasks/{task.pk}/edit/",
                       {f"{prefix}-due_at": local_input(far), f"{prefix}-description": ""})
    assert page.status_code == 400
    assert "more than 365 days ahead" in page.content.decode()
    assert state() == before



def test_a_year_one_due_time_on_the_page_is_a_form_error_not_a_500(world, client, incident):
    """Year 1 in Vietnam time cannot be stored (it is before year 1 in UTC): the bound refuses it first."""
    client.force_login(world.analyst)
    before = state()
    page = client.post(f"/incidents/{incident.pk}/tasks/", {"title": "Việc", "due_at": "0001-01-01T00:00"})
    assert page.status_code == 400 and "due_at" in page.context["task_form"].errors
    assert state() == before


# --- The person in charge learns when someone else moves the due time (a missing notice) ----------------------


def test_the_person_in_charge_is_told_when_someone_else_moves_the_due_time(world, incident):
    from django.utils import translation

    first = timezone.now() + dt.timedelta(hours=4)
    task = services.do_add_task(incident, {"title": "Cô lập máy chủ", "owner": world.admin, "due_at": first},
                                acting_user=world.analyst)
    Notification.objects.all().delete()
    services.do_update_task(task, {"due_at": first - dt.timedelta(hours=2)}, acting_user=world.analyst)
    [note] = Notification.objects.all()
    assert note.recipient == world.admin and note.kind == "incidents.task"
    with translation.override("en"):
        assert note.shown_title == f"{incident.reference}: the due time of your task changed — Cô lập máy chủ"
        assert "It was due at" in note.shown_body and "Changed by" in note.shown_body
    # Removing it tells too; moving one's own task, or the description alone, tells nobody.
    services.do_update_task(task, {"due_at": None}, acting_user=world.analyst)
    assert Notification.objects.count() == 2
    services.do_update_task(task, {"due_at": first}, acting_user=world.admin)
    services.do_update_task(task, {"description": "Khác"}, acting_user=world.analyst)
    assert Notification.objects.count() == 2
