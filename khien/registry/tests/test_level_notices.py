"""The people whose turn it is in the level workflow hear of it; nobody is told of their own step."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.utils import translation

from khien.core.models import Notification
from khien.registry import services
from khien.registry.services import LEVEL_NOTICE
from khien.registry.tests.test_services import answers

pytestmark = pytest.mark.django_db


def level_notices(user):
    return list(Notification.objects.filter(recipient=user, kind=LEVEL_NOTICE).order_by("created_at"))


def proposal(world, level):
    system = services.do_create_system(
        {"code": f"SYS-N{level}", "name": "Cổng dịch vụ công", "owner": world.ministry, "criteria": answers(level),
         "proposed_level": level}, acting_user=world.admin)
    services.do_add_dossier_file(system, SimpleUploadedFile("ho-so.pdf", b"%PDF-1.4"), acting_user=world.admin)
    return system


def test_a_nationally_appraised_proposal_reaches_the_coordinator_then_comes_back_to_its_owner(world):
    system = proposal(world, 4)  # levels 4-5: appraised and approved nationally
    services.do_level_step(system, "submit", acting_user=world.analyst)
    [waiting] = level_notices(world.coordinator)
    with translation.override("vi"):
        assert "SYS-N4" in waiting.shown_title and "thẩm định" in waiting.shown_title
    assert waiting.url.endswith(f"/systems/{system.pk}/")
    assert level_notices(world.analyst) == []  # not told of their own step
    assert level_notices(world.other_admin) == []  # another organization hears nothing

    services.do_level_step(system, "appraise", acting_user=world.coordinator, note="Đạt yêu cầu")
    services.do_level_step(system, "return", acting_user=world.coordinator, note="Thiếu sơ đồ mạng")
    appraised, returned = level_notices(world.analyst)  # the submitter hears of each move of the proposal
    assert "Đạt yêu cầu" in appraised.shown_body
    assert "Thiếu sơ đồ mạng" in returned.shown_body
    assert level_notices(world.admin)  # the owner's administrator too (may submit again)
    assert level_notices(world.dept_analyst) == []  # a unit below the owner is not the owner's people
    assert level_notices(world.auditor) == [] and level_notices(world.trainee) == []  # readers only


def test_an_owner_appraised_proposal_reaches_the_owners_administrators_and_its_approval_the_submitter(world, head):
    system = proposal(world, 1)  # levels 1-2: the owner appraises and approves
    services.do_level_step(system, "submit", acting_user=world.analyst)
    assert len(level_notices(world.admin)) == 1 and len(level_notices(head)) == 1
    assert level_notices(world.coordinator) == []
    services.do_level_step(system, "appraise", acting_user=world.admin, note="Đạt")
    assert len(level_notices(world.admin)) == 1  # the appraiser is not asked to approve (four eyes)
    assert len(level_notices(head)) == 2
    services.do_level_step(system, "approve", acting_user=head, decision_number="12/QĐ-BTC",
                           decision_date=timezone.localdate())
    approved = level_notices(world.analyst)[-1]
    with translation.override("en"):
        assert "approved" in approved.shown_title and "12/QĐ-BTC" in approved.shown_title
    assert len(level_notices(world.admin)) == 2  # the appraiser hears of the decision
    assert len(level_notices(head)) == 2  # the approver took the last step: not told of it
