"""Updating an issued early warning: a text saying what changed and/or a new reply deadline, kept in order with
who made them, told to every target organization (those that answered too), audited; refused to whoever may not
follow the warning up, on the page and in the API."""
import datetime as dt

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry, Notification
from khien.intel import services_warnings
from khien.intel.models import AckState, EarlyWarning, WarningUpdate
from khien.registry.models import Organization

from .test_views import html, signed_in
from .test_warning_followup import _deadline_passed, _issue, _to_prov_and_resp
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
WARNINGS = "/api/intel/warnings/"


def _state(warning):
    """Everything an update writes or sends."""
    row = EarlyWarning.objects.get(pk=warning.pk)
    return (WarningUpdate.objects.count(), Notification.objects.count(), len(mail.outbox),
            AuditEntry.objects.filter(object_type__startswith="intel.").count(),
            row.respond_by, row.overdue_told_at, row.title, row.summary)


def _local(when) -> str:
    return timezone.localtime(when).strftime("%Y-%m-%dT%H:%M")


def _shown(when) -> str:
    return timezone.localtime(when).strftime("%d/%m/%Y %H:%M")


# --- The service -----------------------------------------------------------------------------------


def test_an_update_keeps_the_warning_as_issued_and_tells_every_target(land, django_capture_on_commit_callbacks):
    w = land.world
    warning = _to_prov_and_resp(land, respond_by=timezone.now() + dt.timedelta(days=1))
    services_warnings.do_acknowledge(warning.targets.get(organization=w.province), AckState.NOT_AFFECTED,
                                     acting_user=w.other_admin)
    mail.outbox.clear()
    audit_before = AuditEntry.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        update = services_warnings.do_update_warning(warning, text="  Thêm địa chỉ 45.33.9.9; bản vá đã có.  ",
                                                     acting_user=w.coordinator)
    assert update.number == 1 and update.text == "Thêm địa chỉ 45.33.9.9; bản vá đã có."
    assert update.deadline_changed is False and update.respond_by == update.respond_by_before == warning.respond_by
    assert update.created_by == w.coordinator and update.organization == w.ncsc
    stored = EarlyWarning.objects.get(pk=warning.pk)
    assert (stored.title, stored.summary, stored.respond_by) == (warning.title, warning.summary, warning.respond_by)
    # The answer given before the update is kept.
    assert warning.targets.get(organization=w.province).state == AckState.NOT_AFFECTED
    # Audited once (no deadline change), in the sender's name.
    entries = list(AuditEntry.objects.order_by("seq")[audit_before:])
    assert [(e.action, e.object_type) for e in entries] == [("create", "intel.warningupdate")]
    assert entries[0].organization_id == str(w.ncsc.pk) and entries[0].after["text"] == update.text
    # Every target's members are notified — the one that answered too, asked to check its answer.
    notes = Notification.objects.filter(kind="intel.warning_update")
    prov_people = {w.other_admin.email, land.prov_analyst.email}  # not its trainee: no live warnings in training
    assert set(notes.values_list("recipient__email", flat=True)) == prov_people | {w.responder.email}
    note = notes.get(recipient=w.responder)
    assert not note.urgent and note.url == reverse("intel:warning_detail", args=[warning.pk])  # a reader, told in Khiên
    assert note.texts["title"]["msgid"].startswith("Update %(n)d — early warning")
    with translation.override("en"):
        assert note.shown_title == "Update 1 — early warning (High, TLP:AMBER): Chiến dịch mã độc"
        assert update.text in note.shown_body and "answered before this update" not in note.shown_body
        answered = notes.get(recipient=w.other_admin)
        assert update.text in answered.shown_body and "answered before this update" in answered.shown_body
    # Both contact addresses get the update by e-mail, the original text under it.
    for org in (w.province, w.responder_org):
        contact = Organization.objects.get(pk=org.pk).contact_email
        sent = [m for m in mail.outbox if m.to == [contact]]
        assert len(sent) == 1 and "Chiến dịch mã độc" in sent[0].subject
        assert update.text in sent[0].body and warning.summary in sent[0].body


def test_the_deadline_moves_both_ways_within_the_issue_bounds(land):
    w = land.world
    first = timezone.now() + dt.timedelta(hours=2)
    warning = _to_prov_and_resp(land, respond_by=first)
    later = timezone.now() + dt.timedelta(days=5)
    extended = services_warnings.do_update_warning(warning, respond_by=later, acting_user=w.coordinator)
    assert extended.number == 1 and extended.deadline_changed
    assert (extended.respond_by_before, extended.respond_by) == (first, later)
    assert EarlyWarning.objects.get(pk=warning.pk).respond_by == later
    entry = AuditEntry.objects.filter(object_type="intel.earlywarning", action="update").latest("seq")
    assert entry.before["respond_by"] != entry.after["respond_by"]
    sooner = timezone.now() + dt.timedelta(hours=1)
    shortened = services_warnings.do_update_warning(warning, respond_by=sooner, text="Khẩn", acting_user=w.coordinator)
    assert shortened.number == 2 and EarlyWarning.objects.get(pk=warning.pk).respond_by == sooner
    with translation.override("en"):
        body = Notification.objects.filter(kind="intel.warning_update").order_by("-created_at").first().shown_body
    assert f"New reply deadline: {_shown(sooner)}." in body and "Khẩn" in body
    removed = services_warnings.do_update_warning(warning, respond_by=None, acting_user=w.coordinator)
    assert removed.deadline_changed and removed.respond_by is None and removed.respond_by_before == sooner
    assert EarlyWarning.objects.get(pk=warning.pk).respond_by is None
    assert list(services_warnings.updates_of(warning).values_list("number", flat=True)) == [1, 2, 3]


def test_a_new_deadline_after_a_missed_one_is_watched_again(land):
    w = land.world
    warning = _to_prov_and_resp(land, respond_by=timezone.now() + dt.timedelta(days=1))
    _deadline_passed(warning)
    assert services_warnings.tell_senders_of_missed_deadlines() == 1
    assert EarlyWarning.objects.get(pk=warning.pk).overdue_told_at is not None
    services_warnings.do_update_warning(warning, respond_by=timezone.now() + dt.timedelta(days=1),
                                        acting_user=w.coordinator)
    warning.refresh_from_db()
    assert warning.overdue_told_at is None and not services_warnings.is_past_due(warning)
    _deadline_passed(warning)
    assert services_warnings.tell_senders_of_missed_deadlines() == 1  # told again for the new deadline


@pytest.mark.parametrize("kwargs, code", [
    ({}, "nothing_changed"),
    ({"text": "   "}, "nothing_changed"),
    ({"text": "x" * 10001}, "invalid"),
    ({"text": 5}, "invalid"),
    ({"text": "a\x00b"}, "invalid"),
    ({"text": "a\x1bb"}, "invalid"),
    ({"respond_by": "tomorrow"}, "invalid"),
    ({"text": "ok", "respond_by": "past"}, "invalid"),
    ({"text": "ok", "respond_by": "far"}, "invalid"),
    ({"respond_by": "same"}, "nothing_changed"),
    ({"respond_by": None}, "nothing_changed"),  # there is no deadline to remove
])
def test_bad_updates_are_400_and_change_nothing(land, kwargs, code):
    w = land.world
    warning = _to_prov_and_resp(land)
    if kwargs.get("respond_by") == "same":
        deadline = timezone.now() + dt.timedelta(days=1)
        EarlyWarning.objects.filter(pk=warning.pk).update(respond_by=deadline)
        warning.refresh_from_db()
    times = {"past": timezone.now() - dt.timedelta(minutes=1), "far": timezone.now() + dt.timedelta(days=91),
             "same": warning.respond_by}
    kwargs = {k: times.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    before = _state(warning)
    with pytest.raises(Refused) as refused:
        services_warnings.do_update_warning(warning, acting_user=w.coordinator, **kwargs)
    assert refused.value.status == 400 and refused.value.code == code
    assert _state(warning) == before


def test_only_those_who_may_follow_the_warning_up_update_it(land):
    """The issuers for the sender and the national coordinator; refused to the targets (even an ISAC operator's
    administrator who is one), to the sender's users who may not issue (analyst, auditor: read-only), to other
    organizations and to a user of none: 403, nothing written, nobody told."""
    w = land.world
    by_isac = _issue(w.admin, isacs=[land.isac])  # MIN operates FIN-ISAC: PROV and RESP are its members
    by_coordinator = _issue(w.coordinator, organizations=[w.province, w.ministry])
    refusals = [(by_isac, w.other_admin), (by_isac, w.responder), (by_isac, w.analyst), (by_isac, w.auditor),
                (by_isac, land.prov_analyst), (by_isac, land.other_user), (by_isac, w.nobody),
                (by_coordinator, w.admin), (by_coordinator, w.other_admin), (by_coordinator, w.analyst)]
    for warning, user in refusals:
        before = _state(warning)
        with pytest.raises(Forbidden):
            services_warnings.do_update_warning(warning, text="x", acting_user=user)
        assert _state(warning) == before, user
    own = services_warnings.do_update_warning(by_isac, text="Bản vá", acting_user=w.admin)
    assert own.organization == w.ministry
    overseen = services_warnings.do_update_warning(by_isac, text="Bổ sung", acting_user=w.coordinator)
    assert overseen.number == 2 and overseen.organization == w.ncsc


# --- API -------------------------------------------------------------------------------------------


def test_api_update(land, api):
    w = land.world
    warning = _to_prov_and_resp(land, respond_by=timezone.now() + dt.timedelta(days=1))
    url = f"{WARNINGS}{warning.pk}/updates/"
    coordinator = api(w.coordinator)
    before = _state(warning)
    assert api().post(url, {"text": "x"}, format="json").status_code == 401
    for user in (w.other_admin, w.responder, land.prov_analyst):  # targets: they see the warning
        response = api(user).post(url, {"text": "x"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 403, user
        assert "can update this warning" in response.json()["detail"]
    for user in (land.other_user, w.admin, w.auditor):  # the warning does not exist for them
        assert api(user).post(url, {"text": "x"}, format="json").status_code == 404
    for body, message in [({}, "Nothing to update"), ({"text": ""}, "Nothing to update"),
                          ({"respond_by": (timezone.now() - dt.timedelta(hours=1)).isoformat()}, "in the future"),
                          ({"respond_by": (timezone.now() + dt.timedelta(days=120)).isoformat()}, "90 days"),
                          ({"respond_by": "tomorrow"}, None), ({"text": "x" * 10001}, None),
                          ({"text": ["x"]}, None)]:
        response = coordinator.post(url, body, format="json", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400, (body, response.content)
        if message:
            assert message in response.json()["detail"]
    assert _state(warning) == before
    later = timezone.now() + dt.timedelta(days=3)
    created = coordinator.post(url, {"text": "Thêm IP 45.33.9.9", "respond_by": later.isoformat()}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["number"] == 1 and body["deadline_changed"] and body["organization"] == "NCSC"
    assert body["created_by"] == w.coordinator.email and body["respond_by_before"] is not None
    removed = coordinator.post(url, {"respond_by": None}, format="json")
    assert removed.status_code == 201 and removed.json()["respond_by"] is None
    assert EarlyWarning.objects.get(pk=warning.pk).respond_by is None
    # Everyone who sees the warning reads its updates, in order.
    shown = coordinator.get(f"{WARNINGS}{warning.pk}/").json()
    assert [u["number"] for u in shown["updates"]] == [1, 2] and shown["updates"][0]["text"] == "Thêm IP 45.33.9.9"
    assert shown["title"] == warning.title and shown["summary"] == warning.summary
    inbox = api(w.responder).get(f"{WARNINGS}inbox/").json()["results"]
    assert [u["number"] for u in inbox[0]["warning"]["updates"]] == [1, 2]
    listed = api(w.other_admin).get(WARNINGS).json()["results"]
    assert [u["number"] for u in listed[0]["updates"]] == [1, 2]


# --- Page ------------------------------------------------------------------------------------------


def test_update_from_the_warning_page(client, land):
    w = land.world
    warning = _to_prov_and_resp(land, respond_by=timezone.now() + dt.timedelta(days=1))
    services_warnings.do_acknowledge(warning.targets.get(organization=w.province), AckState.ACTED,
                                     acting_user=w.other_admin)
    detail = reverse("intel:warning_detail", args=[warning.pk])
    url = reverse("intel:warning_update", args=[warning.pk])
    target_page = html(signed_in(client, w.other_admin).get(detail))
    assert 'id="update-form"' not in target_page and 'id="updates"' not in target_page
    before = _state(warning)
    for user in (w.other_admin, w.responder, land.prov_analyst):
        assert signed_in(client, user).post(url, {"text": "x"}).status_code == 403
    for user in (w.admin, w.auditor, land.other_user):
        assert signed_in(client, user).post(url, {"text": "x"}).status_code == 404
    assert signed_in(client, None).post(url, {"text": "x"}).status_code == 302  # to the sign-in page
    c = signed_in(client, w.coordinator)
    assert c.get(url).status_code == 405
    assert 'id="update-form"' in html(c.get(detail))
    past = _local(timezone.now() - dt.timedelta(days=1))
    response = c.post(url, {"text": "", "respond_by": past})
    assert response.status_code == 400 and "Hạn phản hồi phải là một thời điểm trong tương lai" in html(response)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # pages follow the language switch
    nothing = c.post(url, {"text": "  "})
    both = c.post(url, {"text": "x", "respond_by": _local(timezone.now() + dt.timedelta(days=2)),
                        "remove_deadline": "on"})
    del c.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert nothing.status_code == 400 and "Nothing to update" in html(nothing)
    assert both.status_code == 400 and "not both" in html(both)
    assert '<details class="card" open id="update-box">' in html(both)
    assert _state(warning) == before
    later = timezone.localtime(timezone.now() + dt.timedelta(days=4)).replace(second=0, microsecond=0)
    response = c.post(url, {"text": "Đã có bản vá: cập nhật lên 7.4.3.", "respond_by": _local(later)})
    assert response.status_code == 302 and response["Location"] == detail
    assert EarlyWarning.objects.get(pk=warning.pk).respond_by == later
    # Shown to everyone who sees the warning; the sender sees whose answer came before the update.
    for user in (w.coordinator, w.other_admin, w.responder):
        page = html(signed_in(client, user).get(detail))
        assert 'id="update-1"' in page and "Đã có bản vá: cập nhật lên 7.4.3." in page and _shown(later) in page
    page = html(signed_in(client, w.coordinator).get(detail))
    assert 'data-answered-before-update="PROV"' in page and 'data-answered-before-update="RESP"' not in page
    assert 'data-answered-before-update="PROV"' in html(signed_in(client, w.other_admin).get(detail))
    # The deadline can be removed from the page.
    c = signed_in(client, w.coordinator)
    assert c.post(url, {"remove_deadline": "on"}).status_code == 302
    assert EarlyWarning.objects.get(pk=warning.pk).respond_by is None
    assert 'name="remove_deadline"' not in html(c.get(detail))  # nothing left to remove


def test_the_inbox_and_the_sent_list_mark_updated_warnings(client, land):
    w = land.world
    updated = _to_prov_and_resp(land)
    untouched = _issue(w.coordinator, organizations=[w.responder_org])
    services_warnings.do_update_warning(updated, text="Thêm IP", acting_user=w.coordinator)
    services_warnings.do_update_warning(updated, text="Bản vá", acting_user=w.coordinator)
    inbox = html(signed_in(client, w.responder).get(reverse("intel:warning_inbox")))
    assert f'data-updates="{updated.pk}"' in inbox and f'data-updates="{untouched.pk}"' not in inbox
    sent = html(signed_in(client, w.coordinator).get(reverse("intel:warning_inbox")))
    assert f'data-sent-updates="{updated.pk}"' in sent and f'data-sent-updates="{untouched.pk}"' not in sent
