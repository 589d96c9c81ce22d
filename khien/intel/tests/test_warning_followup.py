"""Following up early warnings: a reply deadline, reminders to the targets that have not answered, and the job
that tells the sender once when the deadline passes with targets still silent."""
import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from khien.core import jobs
from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry, Notification
from khien.intel import services_warnings
from khien.intel.models import AckState, EarlyWarning, WarningTarget
from khien.registry.models import Organization

from .test_views import html, signed_in
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
WARNINGS = "/api/intel/warnings/"


def _issue(user, *, respond_by=None, organizations=None, isacs=(), land=None):  # noqa: F811 — a value, not the fixture
    data = {"title": "Chiến dịch mã độc", "summary": "Synthetic warning", "severity": "high", "tlp": "amber"}
    if respond_by is not None:
        data["respond_by"] = respond_by
    return services_warnings.do_issue_warning(data, acting_user=user, organizations=organizations or [],
                                              isacs=isacs, auto_match=False)


def _to_prov_and_resp(land, **kwargs):
    """The coordinator's warning to PROV and RESP."""
    w = land.world
    return _issue(w.coordinator, organizations=[w.province, w.responder_org], **kwargs)


def _deadline_passed(warning, ago=dt.timedelta(minutes=5)):
    """Move the warning's deadline into the past (a deadline can only be set in the future)."""
    EarlyWarning.objects.filter(pk=warning.pk).update(respond_by=timezone.now() - ago)
    warning.refresh_from_db()


def _state():
    """Everything a reminder writes or sends."""
    return (Notification.objects.count(), len(mail.outbox),
            AuditEntry.objects.filter(object_type__startswith="intel.").count(),  # (sign-ins are audited too)
            WarningTarget.objects.exclude(reminded_at=None).count())


# --- Reply deadline --------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [dt.timedelta(minutes=-1), dt.timedelta(0), dt.timedelta(days=90, minutes=1)])
def test_a_deadline_in_the_past_or_too_far_ahead_is_refused_and_writes_nothing(land, offset):
    with pytest.raises(Refused) as refused:
        _to_prov_and_resp(land, respond_by=timezone.now() + offset)
    assert refused.value.status == 400
    assert not EarlyWarning.objects.exists() and not WarningTarget.objects.exists()


def test_the_deadline_is_stored_and_e_mailed(land, django_capture_on_commit_callbacks):
    deadline = timezone.now() + dt.timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        warning = _to_prov_and_resp(land, respond_by=deadline)
    assert EarlyWarning.objects.get().respond_by == deadline
    shown = timezone.localtime(deadline).strftime("%d/%m/%Y %H:%M")
    contacts = {m.to[0]: m for m in mail.outbox if m.to[0].startswith("soc")}
    assert len(contacts) == 2 and all(shown in m.body for m in contacts.values())
    assert warning.respond_by == deadline


def test_api_deadline_bad_input_is_400_with_a_message(land, api):
    client = api(land.world.coordinator)
    body = {"title": "T", "organizations": ["PROV"], "auto_match": False}
    for respond_by, message in [((timezone.now() - dt.timedelta(hours=1)).isoformat(), "in the future"),
                                ((timezone.now() + dt.timedelta(days=120)).isoformat(), "90 days"),
                                ("tomorrow", None)]:
        response = client.post(WARNINGS, {**body, "respond_by": respond_by}, format="json",
                               HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400, response.content
        if message:
            assert message in response.json()["detail"]
    assert not EarlyWarning.objects.exists()
    deadline = timezone.now() + dt.timedelta(days=3)
    created = client.post(WARNINGS, {**body, "respond_by": deadline.isoformat()}, format="json")
    assert created.status_code == 201 and created.json()["respond_by"] is not None
    assert EarlyWarning.objects.get().respond_by == deadline


def test_the_issue_form_takes_a_deadline_and_refuses_a_past_one(client, land):
    w = land.world
    c = signed_in(client, w.coordinator)
    post = {"title": "Cảnh báo", "severity": "high", "tlp": "amber", "organizations": [str(w.province.pk)]}
    past = timezone.localtime(timezone.now() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = c.post(reverse("intel:warning_create"), {**post, "respond_by": past})
    assert response.status_code == 400 and "Hạn phản hồi phải là một thời điểm trong tương lai" in html(response)
    assert not EarlyWarning.objects.exists()
    later = timezone.localtime(timezone.now() + dt.timedelta(days=1)).replace(second=0, microsecond=0)
    response = c.post(reverse("intel:warning_create"), {**post, "respond_by": later.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302
    assert EarlyWarning.objects.get().respond_by == later


def test_targets_see_the_deadline_and_the_sender_sees_who_is_past_due(client, land, api):
    w = land.world
    warning = _to_prov_and_resp(land, respond_by=timezone.now() + dt.timedelta(days=1))
    shown = timezone.localtime(warning.respond_by).strftime("%d/%m/%Y %H:%M")
    c = signed_in(client, w.other_admin)
    assert shown in html(c.get(reverse("intel:warning_inbox")))
    page = c.get(reverse("intel:warning_detail", args=[warning.pk]))
    assert 'id="respond-by"' in html(page) and shown in html(page) and page.context["past_due"] is False
    inbox = api(w.other_admin).get(f"{WARNINGS}inbox/").json()["results"]
    assert inbox[0]["warning"]["respond_by"] is not None and inbox[0]["reminded_at"] is None

    services_warnings.do_acknowledge(warning.targets.get(organization=w.province), AckState.ACTED,
                                     acting_user=w.other_admin)
    _deadline_passed(warning)
    page = signed_in(client, w.coordinator).get(reverse("intel:warning_detail", args=[warning.pk]))
    body = html(page)
    assert page.context["past_due"] is True and 'id="past-due"' in body
    assert 'data-target="RESP" class="past-due"' in body and 'data-target="PROV" class="past-due"' not in body
    sent = signed_in(client, w.coordinator).get(reverse("intel:warning_inbox"))
    assert f'data-past-due="{warning.pk}"' in html(sent)
    targets = api(w.coordinator).get(f"{WARNINGS}{warning.pk}/targets/").json()
    assert {t["organization"]: t["past_due"] for t in targets} == {"PROV": False, "RESP": True}


# --- Reminders -------------------------------------------------------------------------------------


def test_a_reminder_goes_to_the_silent_targets_only(land, django_capture_on_commit_callbacks):
    w = land.world
    warning = _to_prov_and_resp(land, respond_by=timezone.now() + dt.timedelta(days=1))
    services_warnings.do_acknowledge(warning.targets.get(organization=w.province), AckState.RECEIVED,
                                     acting_user=w.other_admin)
    mail.outbox.clear()
    audit_before = AuditEntry.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        reminded = services_warnings.do_remind_warning(warning, acting_user=w.coordinator)
    assert [t.organization.code for t in reminded] == ["RESP"]
    # One audit entry, naming who was reminded.
    entries = list(AuditEntry.objects.order_by("seq")[audit_before:])
    assert len(entries) == 1 and entries[0].object_id == str(warning.pk) and entries[0].after["reminded"] == ["RESP"]
    # reminded_at on the silent target only.
    stamps = dict(warning.targets.values_list("organization__code", "reminded_at"))
    assert stamps["PROV"] is None and stamps["RESP"] is not None
    # An urgent in-platform notification to RESP's members, read in each reader's language.
    notes = Notification.objects.filter(kind="intel.warning_reminder")
    assert set(notes.values_list("recipient__email", flat=True)) == {w.responder.email}
    note = notes.get()
    # A responder only reads a warning (its administrators and analysts answer it): told in Khiên, not urgently.
    assert not note.urgent and note.url == reverse("intel:warning_detail", args=[warning.pk])
    assert note.texts["title"]["msgid"].startswith("Reminder — early warning")
    with translation.override("en"):
        assert note.shown_title.startswith("Reminder — early warning (High, TLP:AMBER): Chiến dịch mã độc")
        assert "due by" in note.shown_body
    # The warning's e-mail again to RESP's contact address (not PROV's), marked as a reminder.
    resp_contact = Organization.objects.get(pk=w.responder_org.pk).contact_email
    contact_mail = [m for m in mail.outbox if m.to == [resp_contact]]
    assert len(contact_mail) == 1 and "Chiến dịch mã độc" in contact_mail[0].subject
    prov_contact = Organization.objects.get(pk=w.province.pk).contact_email
    assert not [m for m in mail.outbox if m.to == [prov_contact]]


def test_a_second_reminder_within_the_hour_is_409_and_sends_nothing(land):
    w = land.world
    warning = _to_prov_and_resp(land)
    services_warnings.do_remind_warning(warning, acting_user=w.coordinator)
    first = dict(warning.targets.values_list("organization__code", "reminded_at"))
    before = _state()
    with pytest.raises(Refused) as refused:
        services_warnings.do_remind_warning(warning, acting_user=w.coordinator)
    assert refused.value.status == 409 and refused.value.code == "reminded_recently"
    assert _state() == before and dict(warning.targets.values_list("organization__code", "reminded_at")) == first
    # An hour later it may be sent again.
    WarningTarget.objects.filter(warning=warning).update(reminded_at=timezone.now() - dt.timedelta(minutes=61))
    assert len(services_warnings.do_remind_warning(warning, acting_user=w.coordinator)) == 2


def test_nobody_to_remind_is_409(land):
    w = land.world
    warning = _issue(w.coordinator, organizations=[w.province])
    services_warnings.do_acknowledge(warning.targets.get(), AckState.NOT_AFFECTED, acting_user=w.other_admin)
    before = _state()
    with pytest.raises(Refused) as refused:
        services_warnings.do_remind_warning(warning, acting_user=w.coordinator)
    assert refused.value.status == 409 and _state() == before


def test_only_issuers_for_the_sender_organization_remind(land):
    """Refused to the targets (even an ISAC operator's administrator who is one) and to the sender's users who may
    not issue: 403, nothing sent, nothing recorded. The national coordinator may remind any warning's targets."""
    w = land.world
    by_isac = _issue(w.admin, isacs=[land.isac])  # MIN operates FIN-ISAC: PROV and RESP are its members
    by_coordinator = _issue(w.coordinator, organizations=[w.province, w.ministry])
    before = _state()
    refusals = [(by_isac, w.other_admin), (by_isac, w.responder), (by_isac, w.analyst),
                (by_isac, land.other_user), (by_isac, w.nobody),
                (by_coordinator, w.admin), (by_coordinator, w.other_admin), (by_coordinator, w.analyst)]
    for warning, user in refusals:
        with pytest.raises(Forbidden):
            services_warnings.do_remind_warning(warning, acting_user=user)
    assert _state() == before
    assert len(services_warnings.do_remind_warning(by_isac, acting_user=w.coordinator)) == 2


def test_api_remind(land, api):
    w = land.world
    warning = _to_prov_and_resp(land)
    url = f"{WARNINGS}{warning.pk}/remind/"
    clients = {name: api(user) for name, user in [("coordinator", w.coordinator), ("target", w.other_admin),
                                                  ("responder", w.responder), ("other", land.other_user),
                                                  ("sender's analyst", w.analyst)]}
    before = _state()
    assert api().post(url).status_code == 401
    for name in ("target", "responder"):  # they see the warning, may not remind for NCSC
        response = clients[name].post(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 403, name
        assert "sender organization" in response.json()["detail"]
    assert clients["other"].post(url).status_code == 404  # the warning does not exist for them
    by_isac = _issue(w.admin, isacs=[land.isac])  # MIN's analyst sees MIN's warning, may not issue
    before = _state()
    assert clients["sender's analyst"].post(f"{WARNINGS}{by_isac.pk}/remind/").status_code == 403
    assert _state() == before
    response = clients["coordinator"].post(url)
    assert response.status_code == 200, response.content
    assert response.json()["organizations"] == ["PROV", "RESP"] and response.json()["reminded_at"]
    again = clients["coordinator"].post(url, HTTP_ACCEPT_LANGUAGE="en")
    assert again.status_code == 409 and "next one can be sent after" in again.json()["detail"]
    targets = clients["coordinator"].get(f"{WARNINGS}{warning.pk}/targets/").json()
    assert all(t["reminded_at"] for t in targets)


def test_remind_from_the_warning_page(client, land):
    w = land.world
    warning = _to_prov_and_resp(land)
    url = reverse("intel:warning_remind", args=[warning.pk])
    page = signed_in(client, w.other_admin).get(reverse("intel:warning_detail", args=[warning.pk]))
    assert 'id="remind-form"' not in html(page)
    before = _state()
    assert signed_in(client, w.other_admin).post(url).status_code == 403
    assert signed_in(client, w.admin).post(url).status_code == 404  # MIN neither sent nor received it
    assert signed_in(client, land.other_user).post(url).status_code == 404
    assert _state() == before
    c = signed_in(client, w.coordinator)
    page = html(c.get(reverse("intel:warning_detail", args=[warning.pk])))
    # A refused second reminder comes back where the button is, its reason beside it (not out of sight).
    assert 'id="remind-form"' in page and f'action="{url}#remind-form"' in page
    response = c.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("intel:warning_detail", args=[warning.pk])
    after_first = _state()
    with translation.override("en"):
        again = c.post(url)
    assert again.status_code == 409 and 'id="remind-error"' in html(again)
    assert _state() == after_first


# --- Told once when the deadline passes ------------------------------------------------------------


def test_the_sender_is_told_once_when_the_deadline_passes_with_silent_targets(land):
    w = land.world
    silent = _to_prov_and_resp(land, respond_by=timezone.now() + dt.timedelta(days=1))
    answered = _issue(w.coordinator, organizations=[w.province], respond_by=timezone.now() + dt.timedelta(days=1))
    services_warnings.do_acknowledge(answered.targets.get(), AckState.ACTED, acting_user=w.other_admin)
    not_yet = _issue(w.coordinator, organizations=[w.province], respond_by=timezone.now() + dt.timedelta(hours=2))
    assert services_warnings.tell_senders_of_missed_deadlines() == 0  # no deadline has passed
    _deadline_passed(silent)
    _deadline_passed(answered)
    results = jobs.run_due(only="intel.warning_deadlines", force=True)
    assert results["intel.warning_deadlines"] == "1 warnings past their deadline"
    told = Notification.objects.filter(kind="intel.warning_overdue")
    assert list(told.values_list("recipient__email", flat=True)) == [w.coordinator.email]
    assert told.get().texts["title"]["n"] == 2 and told.get().url.endswith(f"{silent.pk}/")
    silent.refresh_from_db()
    assert silent.overdue_told_at is not None
    assert EarlyWarning.objects.get(pk=answered.pk).overdue_told_at is None
    assert EarlyWarning.objects.get(pk=not_yet.pk).overdue_told_at is None
    audit_count = AuditEntry.objects.count()
    # Idempotent: a second run (or a second worker) tells nobody again.
    assert services_warnings.tell_senders_of_missed_deadlines() == 0
    assert told.count() == 1 and AuditEntry.objects.count() == audit_count
