"""The personal notices of an early warning (the duty officer's walkthrough):

- every copy carries the warning's TLP as the e-mail to the organization's 24/7 contact does — the in-app
  notification's title and body, the personal e-mail's subject and body — for the warning, a reminder and an update;
- they go to the target organization's members whose role may answer the warning (administrators, analysts),
  urgently when the warning is; its auditors read it in Khiên, never as an urgent e-mail; its trainees, in training,
  are not sent live warnings."""
import pytest
from django.core import mail
from django.utils import translation

from khien.conftest import _user
from khien.core.models import Notification
from khien.core.roles import Role
from khien.intel import services_warnings
from khien.registry.models import Organization

from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

TLP_LABEL = {"amber": "TLP:AMBER", "red": "TLP:RED", "clear": "TLP:CLEAR"}


@pytest.fixture
def province(land):  # noqa: F811
    """The province's people: its administrator and analyst answer warnings; an auditor and a trainee do not."""
    land.prov_auditor = _user("auditor@prov.test.vn", land.world.province, Role.AUDITOR)
    return land


def _issue(land, django_capture_on_commit_callbacks, severity="high", tlp="amber"):  # noqa: F811
    w = land.world
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        return services_warnings.do_issue_warning(
            {"title": "Chiến dịch mã độc", "summary": "Synthetic test warning", "severity": severity, "tlp": tlp,
             "values": ["45.33.10.1"]},
            acting_user=w.coordinator, organizations=[w.province], auto_match=False)


def _personal_mail(user):
    return [m for m in mail.outbox if m.to == [user.email]]


def _contact_mail():
    contact = Organization.objects.get(code="PROV").contact_email
    return [m for m in mail.outbox if m.to == [contact]]


def _notes(kind, user):
    return Notification.objects.filter(kind=kind, recipient=user)


# --- Who is told ---------------------------------------------------------------------------------------------------


def test_an_urgent_warning_goes_to_those_who_answer_it_auditors_read_it_in_khien_trainees_not_at_all(
        province, django_capture_on_commit_callbacks):
    land, w = province, province.world
    warning = _issue(land, django_capture_on_commit_callbacks, severity="high")
    for answering in (w.other_admin, land.prov_analyst):
        note = _notes("intel.warning", answering).get()
        assert note.urgent
        assert len(_personal_mail(answering)) == 1  # e-mailed at once
    auditor_note = _notes("intel.warning", land.prov_auditor).get()
    assert not auditor_note.urgent and auditor_note.url.endswith(f"/intel/warnings/{warning.pk}/")
    assert _personal_mail(land.prov_auditor) == []  # no urgent e-mail
    assert not Notification.objects.filter(recipient=land.prov_trainee).exists()
    assert _personal_mail(land.prov_trainee) == []
    # The contact address is e-mailed as before.
    assert len(_contact_mail()) == 1


def test_a_trainee_is_not_sent_a_warning_of_any_severity_nor_its_reminder_or_update(
        province, django_capture_on_commit_callbacks):
    land, w = province, province.world
    warning = _issue(land, django_capture_on_commit_callbacks, severity="low")
    assert _notes("intel.warning", land.prov_analyst).exists()
    with django_capture_on_commit_callbacks(execute=True):
        services_warnings.do_remind_warning(warning, acting_user=w.coordinator)
        services_warnings.do_update_warning(warning, text="Thêm địa chỉ 45.33.9.9.", acting_user=w.coordinator)
    assert not Notification.objects.filter(recipient=land.prov_trainee).exists()
    assert _personal_mail(land.prov_trainee) == []
    assert _notes("intel.warning_reminder", w.other_admin).get().urgent  # a reminder is urgent
    assert _notes("intel.warning_update", w.other_admin).exists()  # a low warning's update is not
    for kind in ("intel.warning_reminder", "intel.warning_update"):
        assert not _notes(kind, land.prov_auditor).get().urgent
    assert _personal_mail(land.prov_auditor) == []


def test_someone_both_administrator_and_auditor_is_told_once_urgently(province, django_capture_on_commit_callbacks):
    from khien.registry.models import Membership

    land, w = province, province.world
    Membership.objects.create(user=land.prov_auditor, organization=w.commune, role=Role.ORG_ADMIN)
    services_warnings.do_issue_warning(
        {"title": "Chiến dịch mã độc", "summary": "Synthetic test warning", "severity": "critical"},
        acting_user=w.coordinator, organizations=[w.province, w.commune], auto_match=False)
    assert [n.urgent for n in _notes("intel.warning", land.prov_auditor)] == [True]


# --- The TLP on every copy -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["amber", "red", "clear"])
def test_every_copy_of_the_warning_carries_its_tlp(province, level, django_capture_on_commit_callbacks):
    land, w = province, province.world
    label = TLP_LABEL[level]
    _issue(land, django_capture_on_commit_callbacks, tlp=level)
    [contact] = _contact_mail()
    assert label in contact.subject and label in contact.body  # as it was
    for user in (w.other_admin, land.prov_analyst, land.prov_auditor):
        note = _notes("intel.warning", user).get()
        for language in ("vi", "en"):
            with translation.override(language):
                assert label in note.shown_title and label in note.shown_body, (user.email, language)
        assert label in note.title and label in note.body  # as stored (and e-mailed) in the platform's language
    for user in (w.other_admin, land.prov_analyst):
        [message] = _personal_mail(user)
        assert label in message.subject and label in message.body
    with translation.override("en"):
        note = _notes("intel.warning", w.other_admin).get()
        assert note.shown_title == f"Early warning (High, {label}): Chiến dịch mã độc"
        assert f"Sharing: {label}." in note.shown_body


def test_a_reminder_and_an_update_carry_the_tlp_too(province, django_capture_on_commit_callbacks):
    land, w = province, province.world
    warning = _issue(land, django_capture_on_commit_callbacks, tlp="amber")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services_warnings.do_remind_warning(warning, acting_user=w.coordinator)
    with translation.override("en"):
        note = _notes("intel.warning_reminder", w.other_admin).get()
        assert note.shown_title == "Reminder — early warning (High, TLP:AMBER): Chiến dịch mã độc"
        assert "Sharing: TLP:AMBER." in note.shown_body
    [message] = _personal_mail(w.other_admin)
    assert "TLP:AMBER" in message.subject and "TLP:AMBER" in message.body
    [contact] = _contact_mail()
    assert "TLP:AMBER" in contact.subject
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services_warnings.do_update_warning(warning, text="Thêm địa chỉ 45.33.9.9.", acting_user=w.coordinator)
    with translation.override("en"):
        note = _notes("intel.warning_update", land.prov_analyst).get()
        assert note.shown_title == "Update 1 — early warning (High, TLP:AMBER): Chiến dịch mã độc"
        assert "Sharing: TLP:AMBER." in note.shown_body
    [message] = _personal_mail(land.prov_analyst)
    assert "TLP:AMBER" in message.subject and "TLP:AMBER" in message.body
    [contact] = _contact_mail()
    assert "TLP:AMBER" in contact.subject


def test_the_contact_e_mails_subject_is_the_members_title(province, django_capture_on_commit_callbacks):
    """One wording: the 24/7 contact's subject is the members' notification title (in the platform's language)."""
    land, w = province, province.world
    _issue(land, django_capture_on_commit_callbacks, tlp="amber")
    [contact] = _contact_mail()
    [personal] = _personal_mail(w.other_admin)  # the administrator chose no language: the platform's
    assert contact.subject == personal.subject
