"""The home page's "To do" counts the security level proposals still in draft (never submitted: a new system's
level, the revision of an approved one) for those who may submit them — the owner's administrators and analysts and
those above them — linking to the system list filtered the same way; not the coordinator, nor read-only roles, nor
another tree."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from khien.conftest import _user
from khien.core.roles import Role
from khien.registry import services
from khien.registry.models import LevelStatus
from khien.registry.tests.test_services import answers
from khien.registry.worklist import waiting_work

pytestmark = pytest.mark.django_db

DRAFT = "level_status=draft"


def drafts(user):
    with translation.override("en"):
        found = [i for i in waiting_work(user) if DRAFT in i.url and i.count]
    return found[0] if found else None


def system(world, owner, code, user, level=2):
    return services.do_create_system({"code": code, "name": f"Hệ thống {code}", "owner": owner,
                                      "criteria": answers(level), "proposed_level": level}, acting_user=user)


def test_drafts_not_submitted_are_on_the_to_do_of_those_who_submit_them(world, as_user):
    officer = _user("it@xa.test.vn", world.commune, Role.ORG_ANALYST)
    auditor = _user("auditor@xa.test.vn", world.commune, Role.AUDITOR)
    first = system(world, world.commune, "XA-WEB", officer)
    system(world, world.commune, "XA-MAIL", officer, level=1)
    system(world, world.ministry, "MIN-HR", world.admin)
    mine = drafts(officer)
    assert mine.label == "2 security level proposals in draft, not submitted yet"
    assert mine.count == 2 and not mine.urgent
    page = as_user(officer).get(mine.url)
    assert {s.code for s in page.context["page"]} == {"XA-WEB", "XA-MAIL"}
    # The province above may submit them too; the ministry counts its own; no line for who may not submit.
    assert drafts(world.other_admin).count == 2
    assert drafts(world.admin).count == 1
    for person in (auditor, world.auditor, world.responder, world.coordinator):
        assert drafts(person) is None
    # Submitted: no longer a draft.
    services.do_add_dossier_file(first, SimpleUploadedFile("ho-so.pdf", b"%PDF-1.4 xa"), acting_user=officer)
    assert services.do_level_step(first, "submit", acting_user=officer).level_status == LevelStatus.SUBMITTED
    assert drafts(officer).count == 1
