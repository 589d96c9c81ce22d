"""Fixes from the walkthrough of a one-person security officer of a state-owned enterprise: the home page and the
monitoring pages count the same level-3+ systems; the submitter hears of every move of their proposal; the first day
shows where to start; the dossier upload states its limits; the layer evidence says what to write; the only owner
organization is chosen already."""
import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from khien.conftest import _org, _user
from khien.core import notifications
from khien.core.models import EmailNotifications, Notification
from khien.core.roles import Role
from khien.registry import services, stats
from khien.registry.forms import DossierUploadForm, SystemForm
from khien.registry.models import (
    InformationSystem,
    LayerState,
    LevelStatus,
    level_at_least_q,
)
from khien.registry.services import LEVEL_NOTICE
from khien.registry.tests.test_walkthrough_round2 import in_english, proposal

pytestmark = pytest.mark.django_db


@pytest.fixture
def soe(db):
    """A state-owned enterprise with no unit and one officer, its administrator (the walkthrough's persona)."""
    org = _org("EVN-X", "soe")
    return org, _user("officer@evn-x.test.vn", org, Role.ORG_ADMIN)


# --- 1. One rule for "level 3+ systems" ------------------------------------------------------------------------


def test_the_home_page_and_the_monitoring_pages_count_the_same_level_3_systems(world, make_system, as_user):
    from khien.telemetry import health
    from khien.telemetry.views import dashboard_data

    # No alert source anywhere and layer 4 declared missing everywhere: the declared and the live pictures agree,
    # so the two figures must be the same number of the same systems.
    proposed_4 = make_system(world.ministry, proposed_level=4, level_status=LevelStatus.SUBMITTED, operational_status="in_operation")
    approved_3 = make_system(world.ministry, approved_level=3, proposed_level=3, level_status=LevelStatus.APPROVED, operational_status="in_operation")
    # Approved at 2, a revision proposing 4 on its way: held to its approved level until the new one is approved.
    make_system(world.ministry, approved_level=2, proposed_level=4, level_status=LevelStatus.DRAFT, operational_status="in_operation")
    make_system(world.department, proposed_level=2)
    make_system(world.ministry)  # no level at all
    # Declared connected: not in the home page's figure; no source sends its alerts: in the monitoring one.
    declared = make_system(world.ministry, proposed_level=3, layer4_status=LayerState.IN_PLACE, operational_status="in_operation")

    home = stats.dashboard(world.admin)["kpis"]["high_level_unconnected"]
    live = dashboard_data(world.admin)["kpis"]["systems_disconnected"]
    listed = {s.code for s in health.monitored_systems(world.admin)}
    assert listed == {proposed_4.code, approved_3.code, declared.code}
    assert home == 2 and live == 3  # the same systems, less the one declared connected
    assert {s.code for s in InformationSystem.objects.filter(level_at_least_q())
            .exclude(layer4_status=LayerState.IN_PLACE)} == {proposed_4.code, approved_3.code}
    # The pages say so: the home page's figure and the monitoring dashboard's.
    page = as_user(world.admin).get(reverse("registry:dashboard"))
    assert page.context["kpis"]["high_level_unconnected"] == 2
    assert as_user(world.admin).get(reverse("telemetry:dashboard_data")).json()["kpis"]["systems_disconnected"] == 3
    # The system page of the proposed level-4 system shows its live layer-4 state, as a level-3+ system's.
    detail = as_user(world.admin).get(reverse("registry:system_detail", args=[proposed_4.pk])).content.decode()
    assert 'id="live-monitoring"' in detail and "badge mon-no_source" in detail


def test_the_level_rule_and_its_mirror_agree(world, make_system):
    for approved, proposed in [(None, None), (None, 2), (None, 3), (None, 5), (2, 4), (3, None), (3, 2), (4, 4)]:
        make_system(world.ministry, approved_level=approved, proposed_level=proposed)
    held = set(InformationSystem.objects.filter(level_at_least_q()).values_list("pk", flat=True))
    assert held == {s.pk for s in InformationSystem.objects.all() if s.held_to_national_monitoring}
    assert len(held) == 5  # (None, 3), (None, 5), (3, None), (3, 2), (4, 4)


def test_a_silent_source_names_a_proposed_level_3_system_with_its_level(world, make_system):
    from khien.telemetry import health
    from khien.telemetry import services as telemetry_services
    from khien.telemetry.models import AlertSource

    system = make_system(world.ministry, proposed_level=4, operational_status="in_operation")
    source, _key = telemetry_services.do_create_source(world.ministry, "wazuh-min", "wazuh", time_zone="UTC",
                                                       acting_user=world.coordinator)
    telemetry_services.do_set_source_systems(source, [system], acting_user=world.admin)
    AlertSource.objects.filter(pk=source.pk).update(last_event_at=timezone.now() - dt.timedelta(hours=3))
    health.notify_source_health()
    [note] = Notification.objects.filter(recipient=world.coordinator, kind="telemetry.source_health")
    with translation.override("en"):
        assert f"{system.code}" in note.shown_body and "level 4" in note.shown_body


# --- 2. The submitter hears of every move of their proposal -----------------------------------------------------


def _level_notices(user):
    return list(Notification.objects.filter(recipient=user, kind=LEVEL_NOTICE).order_by("created_at", "pk"))


def test_the_submitter_is_told_when_the_proposal_is_appraised_approved_or_returned(world, deputy_coordinator):
    system = proposal(world, 4)  # submitted by the analyst; levels 4-5 are decided nationally
    assert _level_notices(world.analyst) == []
    services.do_level_step(system, "appraise", acting_user=world.coordinator, note="Đạt yêu cầu về phương án")
    [appraised] = _level_notices(world.analyst)
    with translation.override("en"):
        assert "appraised" in appraised.shown_title and system.code in appraised.shown_title
        assert "waits for your approval" not in appraised.shown_title  # told, not asked to decide
    assert "Đạt yêu cầu về phương án" in appraised.shown_body
    assert appraised.url == reverse("registry:system_detail", args=[system.pk])
    # The other coordinator is asked to approve (after being asked to appraise); the appraiser is not.
    assert len(_level_notices(deputy_coordinator)) == 2 and len(_level_notices(world.coordinator)) == 1

    services.do_level_step(system, "approve", acting_user=deputy_coordinator, decision_number="7/QĐ-BCA",
                           decision_date=timezone.localdate())
    approved = _level_notices(world.analyst)[-1]
    assert len(_level_notices(world.analyst)) == 2 and "7/QĐ-BCA" in approved.shown_title

    # By e-mail too, as the person chose: the digest carries both notices.
    notifications.send_digests(now=timezone.now() + dt.timedelta(hours=1))
    [message] = [m for m in mail.outbox if m.to == [world.analyst.email]]
    assert system.code in message.body


def test_a_return_after_appraisal_reaches_the_submitter_and_urgent_only_keeps_it_out_of_the_mailbox(world):
    world.analyst.email_notifications = EmailNotifications.URGENT
    world.analyst.save(update_fields=["email_notifications"])
    system = proposal(world, 4)
    services.do_level_step(system, "appraise", acting_user=world.coordinator, note="Đạt")
    services.do_level_step(system, "return", acting_user=world.coordinator, note="Thiếu sơ đồ mạng")
    _appraised, returned = _level_notices(world.analyst)
    assert "Thiếu sơ đồ mạng" in returned.shown_body
    notifications.send_digests(now=timezone.now() + dt.timedelta(hours=1))
    assert not [m for m in mail.outbox if m.to == [world.analyst.email]]  # kept in Khiên, as they asked


def test_an_owner_decided_appraisal_is_told_to_the_submitter_once_and_not_to_the_appraiser(world, head):
    """Level 1, decided by the owner: the administrator submits, the head appraises. The submitter (an approver by
    role, but never of their own proposal) is told once, that it was appraised; the appraiser is not told of their
    own step."""
    system = proposal(world, 1, submitter=world.admin)
    services.do_level_step(system, "appraise", acting_user=head, note="Đạt")
    [told] = _level_notices(world.admin)
    with translation.override("en"):
        assert "was appraised and waits for approval" in told.shown_title
    assert len(_level_notices(head)) == 1  # asked to appraise after the submission; nothing of the appraisal


# --- 3. The first day: where to start -------------------------------------------------------------------------


def test_an_organization_without_systems_is_shown_where_to_start(soe, as_user, world):
    org, officer = soe
    with translation.override("en"):
        page = in_english(as_user(officer)).get(reverse("registry:dashboard")).content.decode()
    card = page.split('id="worklist"')[1].split("</section>")[0]
    assert "Register your first information system" in card and reverse("registry:system_create") in card
    assert "Nothing is waiting for you" not in card
    # Once a system is registered, the step is done.
    services.do_create_system({"code": "EVN-X-SCADA", "name": "SCADA", "owner": org}, acting_user=officer)
    page = as_user(officer).get(reverse("registry:dashboard")).content.decode()
    assert reverse("registry:system_create") not in page.split('id="worklist"')[1].split("</section>")[0]


def test_the_first_step_is_only_for_those_who_may_register_a_system(soe, world, as_user):
    org, _officer = soe
    reader = _user("reader@evn-x.test.vn", org, Role.AUDITOR)
    page = as_user(reader).get(reverse("registry:dashboard")).content.decode()
    assert reverse("registry:system_create") not in page.split('id="worklist"')[1].split("</section>")[0]


# --- 4. The dossier upload states its limits ------------------------------------------------------------------


def test_the_dossier_upload_says_its_size_limit_and_accepted_types_before_one_tries(world, as_user, settings):
    settings.KHIEN_MAX_UPLOAD_BYTES = 5 * 2**20
    system = services.do_create_system({"code": "SYS-UP", "name": "Cổng", "owner": world.ministry},
                                       acting_user=world.admin)
    with translation.override("en"):
        help_text = str(DossierUploadForm().fields["file"].help_text)
    assert "At most 5 MB per file" in help_text and ".pdf" in help_text and ".docx" in help_text
    assert help_text.endswith(f"{services.dossier_kinds()}.")
    page = in_english(as_user(world.admin)).get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    assert "At most 5 MB per file" in page and 'accept=".pdf,' in page
    # The refusal names the same limit.
    from django.core.files.uploadedfile import SimpleUploadedFile

    big = SimpleUploadedFile("ho-so.pdf", b"%PDF-" + b"0" * (5 * 2**20))
    with translation.override("en"), pytest.raises(services.Refused, match="limit of 5 MB"):
        services.do_add_dossier_file(system, big, acting_user=world.admin)


# --- 5. Layer evidence is a reference, written -----------------------------------------------------------------


def test_the_layer_evidence_says_what_to_write(world):
    with translation.override("en"):
        form = SystemForm(user=world.admin)
        for n in (1, 2, 3, 4):
            field = form.fields[f"layer{n}_evidence"]
            assert str(field.label) == "Evidence (reference of the document)"
            assert "number, date and title" in str(field.help_text) and "where it is kept" in str(field.help_text)
            assert "no file is attached" in str(field.help_text)
            assert "Contract no." in str(field.widget.attrs["placeholder"])


# --- 6. The only owner is chosen already -----------------------------------------------------------------------


def test_the_only_owner_organization_is_chosen_on_a_new_system(soe, world, as_user):
    org, officer = soe
    client = as_user(officer)
    response = client.get(reverse("registry:system_create"))
    form = response.context["form"]
    assert form["owner"].value() == org.pk
    select = response.content.decode().split('name="owner"')[1].split("</select>")[0]
    assert f'value="{org.pk}" selected' in select and 'value=""' not in select
    # Submitting the form as it comes, owner untouched, registers the system under it.
    response = client.post(reverse("registry:system_create"), {"code": "EVN-X-WEB", "name": "Cổng",
                                                               "owner": form["owner"].value(),
                                                               "operational_status": "planned",
                                                               **{f"layer{n}_status": "missing" for n in (1, 2, 3, 4)}})
    assert response.status_code == 302 and InformationSystem.objects.get(code="EVN-X-WEB").owner == org


def test_several_owner_organizations_are_left_to_choose(world, as_user):
    response = as_user(world.admin).get(reverse("registry:system_create"))  # the ministry and its department
    assert response.context["form"]["owner"].value() is None
    assert 'value=""' in response.content.decode().split('name="owner"')[1].split("</select>")[0]
