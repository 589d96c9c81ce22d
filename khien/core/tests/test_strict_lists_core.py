"""An analyst scripting against the audit log and the notifications: a misspelt parameter, an order the list does
not follow or a value a filter does not take is a 400 naming what is accepted — in the reader's language — not the
whole list as if it had been filtered."""
import pytest

from khien.conftest import refusal
from khien.core.models import AuditEntry, Notification

pytestmark = pytest.mark.django_db
AUDIT = "/api/audit/"
NOTIFICATIONS = "/api/notifications/"


def test_audit_log_refuses_an_unknown_parameter_naming_it_and_what_it_takes(world, reader):
    answer = refusal(reader(world.coordinator).get(AUDIT, {"actor_mail": world.admin.email}))
    assert answer["code"] == "unknown_parameter"
    assert "actor_mail" in answer["detail"]
    assert all(name in answer["detail"] for name in ("actor_email", "since", "limit", "ordering"))


def test_audit_log_refusal_is_in_the_readers_language(world, reader):
    answer = refusal(reader(world.coordinator, "vi").get(AUDIT, {"acton": "create"}))
    assert "acton" in answer["detail"] and "Unknown query parameter" not in answer["detail"]


def test_audit_log_filters_still_filter_and_order(world, reader):
    client = reader(world.coordinator)
    reader(world.admin)  # creating the admin's token is an audited action of theirs
    rows = client.get(AUDIT, {"actor_email": world.admin.email, "ordering": "-at", "limit": 5, "offset": 0})
    assert rows.status_code == 200, rows.content
    assert rows.json()["count"] == AuditEntry.objects.filter(actor_email=world.admin.email).count() >= 1
    assert {row["actor_email"] for row in rows.json()["results"]} == {world.admin.email}
    # The order is completed by the entry's own key (not an `id` the log does not have).
    assert client.get(AUDIT, {"ordering": "at"}).status_code == 200


def test_audit_log_refuses_a_bad_choice_a_bad_date_and_an_unknown_ordering(world, reader):
    client = reader(world.coordinator)
    answer = refusal(client.get(AUDIT, {"action": "creat"}))
    assert answer["action"][0].startswith("Unknown value “creat”: use one of ") and "create" in answer["action"][0]
    assert "since" in refusal(client.get(AUDIT, {"since": "yesterday"}))
    answer = refusal(client.get(AUDIT, {"ordering": "-time"}))
    assert answer["code"] == "unknown_ordering" and "seq" in answer["detail"] and "at" in answer["detail"]


def test_notifications_refuse_an_unknown_parameter_and_a_bad_flag(world, reader):
    client = reader(world.analyst)
    answer = refusal(client.get(NOTIFICATIONS, {"unred": "true"}))
    assert answer["code"] == "unknown_parameter" and "unred" in answer["detail"] and "unread" in answer["detail"]
    assert "unread" in refusal(client.get(NOTIFICATIONS, {"unread": "maybe"}))
    assert refusal(client.get(NOTIFICATIONS, {"ordering": "title"}))["code"] == "unknown_ordering"


def test_notifications_unread_filter_still_filters(world, reader):
    from django.utils import timezone

    Notification.objects.create(recipient=world.analyst, kind="test", title="Read one", read_at=timezone.now())
    Notification.objects.create(recipient=world.analyst, kind="test", title="Unread one")
    client = reader(world.analyst)
    answer = client.get(NOTIFICATIONS, {"unread": "true", "ordering": "-created_at", "format": "json"})
    assert answer.status_code == 200, answer.content
    assert [row["title"] for row in answer.json()["results"]] == ["Unread one"]
    assert client.get(NOTIFICATIONS).json()["count"] == 2
