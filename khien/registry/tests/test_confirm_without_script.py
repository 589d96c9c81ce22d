"""Actions that cannot be undone are asked first also without JavaScript (`core.confirmation`): a level step, taking a
file out of the dossier, changing one's own administrator role, removing a member, resetting a member's two-step
sign-in. Without `confirmed=1` the page asks the dialog's question and nothing changes (no audit entry either); the
question's form posts the same fields again with the consent, which does it. Who may not act is refused as before,
not asked."""
import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from khien.core.models import AuditEntry
from khien.core.roles import Role
from khien.registry import services
from khien.registry.models import DossierFile, LevelEvent, LevelStatus, Membership
from khien.registry.tests.test_second_factor_reset import _signed_in_with_second_factor

pytestmark = pytest.mark.django_db

LEVEL1_ANSWERS = {
    "system_kind": "internal_admin", "data_kind": "internal", "data_volume": "none",
    "served_scope": "internal", "impact": "organization",
}


def _changes() -> int:
    """Audit entries of changes (a sign-in of the test's next user is recorded too, and is not one)."""
    return AuditEntry.objects.exclude(action="login").count()


def _english(client):
    client.cookies["khien_language"] = "en"
    return client


def _page(response) -> str:
    return html.unescape(response.content.decode())


def _reposted(response) -> dict:
    """The fields the question's form sends again (what a person without JavaScript sends by saying yes)."""
    form = response.content.decode().split('id="confirm-action"', 1)[1].split("</form>", 1)[0]
    fields = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        if name != "csrfmiddlewaretoken":
            fields[name] = html.unescape(value)
    return fields


def _asks(response, question: str, action: str, cancel: str):
    assert response.status_code == 200
    page = _page(response)
    assert question in page
    form = page.split('id="confirm-action"', 1)[1]
    assert f'action="{action}"' in form and f'href="{cancel}"' in form
    assert _reposted(response)["confirmed"] == "1"


def _proposal(world, make_system):
    system = make_system(world.ministry)
    services.do_update_system(system, {"criteria": LEVEL1_ANSWERS, "proposed_level": 1}, acting_user=world.analyst)
    services.do_add_dossier_file(system, SimpleUploadedFile("hoso.pdf", b"%PDF-1.4 dossier"), acting_user=world.analyst)
    return system


# --- level steps -------------------------------------------------------------------------------------------------


def test_a_level_step_is_asked_first_then_taken_with_the_consent(world, make_system, as_user):
    system = _proposal(world, make_system)
    services.do_level_step(system, "submit", acting_user=world.analyst)
    url = reverse("registry:system_step", args=[system.pk, "appraise"])
    client = _english(as_user(world.admin))
    page = _page(client.get(reverse("registry:system_detail", args=[system.pk])))
    button = page.split(f'action="{url}"', 1)[1].split("</form>", 1)[0]
    assert "data-confirmed-field" in button and "Record this appraisal opinion?" in button

    before = _changes(), LevelEvent.objects.count()
    asked = client.post(url, {"appraise-note": "Hồ sơ đầy đủ", "do": "appraise"})
    _asks(asked, "Record this appraisal opinion? It goes to those who approve the level.", url,
          reverse("registry:system_detail", args=[system.pk]) + "#level")
    assert "Record the appraisal" in _page(asked)  # the button says what it does
    system.refresh_from_db()
    assert system.level_status == LevelStatus.SUBMITTED and not system.appraisal_opinion
    assert (_changes(), LevelEvent.objects.count()) == before

    fields = _reposted(asked)
    assert fields["appraise-note"] == "Hồ sơ đầy đủ"  # what was typed is kept
    done = client.post(url, fields)
    assert done.status_code == 302
    system.refresh_from_db()
    assert system.level_status == LevelStatus.APPRAISED and system.appraisal_opinion == "Hồ sơ đầy đủ"
    assert AuditEntry.objects.filter(object_id=str(system.pk)).count() > 0
    assert _changes() > before[0] and LevelEvent.objects.count() == before[1] + 1


def test_a_step_is_refused_not_asked_to_those_who_may_not_take_it_or_left_fields_empty(world, make_system, as_user):
    system = _proposal(world, make_system)
    services.do_level_step(system, "submit", acting_user=world.analyst)
    url = reverse("registry:system_step", args=[system.pk, "appraise"])
    before = _changes()
    assert as_user(world.other_admin).post(url, {"appraise-note": "OK"}).status_code == 404
    assert as_user(world.analyst).post(url, {"appraise-note": "OK"}).status_code == 403  # the submitter
    # Nothing typed where the step needs it: said on the system's page, not asked.
    empty = as_user(world.admin).post(url, {"appraise-note": " "})
    assert empty.status_code == 302 and empty.url.endswith("#level")
    system.refresh_from_db()
    assert system.level_status == LevelStatus.SUBMITTED and _changes() == before


# --- the dossier ---------------------------------------------------------------------------------------------------


def test_taking_a_file_out_of_the_dossier_is_asked_first(world, make_system, as_user):
    system = _proposal(world, make_system)
    dossier = DossierFile.objects.get(system=system)
    url = reverse("registry:dossier_remove", args=[dossier.pk])
    client = _english(as_user(world.analyst))
    page = _page(client.get(reverse("registry:system_detail", args=[system.pk])))
    button = page.split(f'action="{url}"', 1)[1].split("</form>", 1)[0]
    assert "data-confirmed-field" in button and "Take “hoso.pdf” out of the dossier?" in button

    before = _changes()
    asked = client.post(url)
    _asks(asked, "Take “hoso.pdf” out of the dossier?", url,
          reverse("registry:system_detail", args=[system.pk]) + "#dossier")
    assert DossierFile.objects.filter(pk=dossier.pk).exists() and _changes() == before

    done = client.post(url, _reposted(asked), follow=True)
    assert done.redirect_chain[-1][0].endswith("#dossier")
    assert not DossierFile.objects.filter(pk=dossier.pk).exists()
    entry = AuditEntry.objects.filter(object_id=str(dossier.pk)).latest("seq")
    assert entry.action == "delete" and entry.actor_id == str(world.analyst.pk)


def test_a_file_that_may_not_be_taken_out_is_refused_not_asked(world, make_system, as_user):
    system = _proposal(world, make_system)
    dossier = DossierFile.objects.get(system=system)
    url = reverse("registry:dossier_remove", args=[dossier.pk])
    assert as_user(world.other_admin).post(url).status_code == 404
    assert as_user(world.auditor).post(url).status_code == 403
    services.do_level_step(system, "submit", acting_user=world.analyst)  # went to appraisal: stays on record
    before = _changes()
    refused = _english(as_user(world.analyst)).post(url, follow=True)
    assert refused.redirect_chain[-1][0].endswith("#dossier")
    assert any("stays in the dossier" in str(m) for m in refused.context["messages"])
    assert DossierFile.objects.filter(pk=dossier.pk).exists() and _changes() == before


# --- members -----------------------------------------------------------------------------------------------------


def _members_url(org):
    return reverse("registry:organization_detail", args=[org.pk]) + "#members"


def _button(page, action):
    return page.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]


def test_changing_ones_own_administrator_role_is_asked_first(world, head, as_user):
    own = Membership.objects.get(user=world.admin, organization=world.ministry)
    url = reverse("registry:organization_member_role", args=[world.ministry.pk, own.pk])
    client = _english(as_user(world.admin))
    page = _page(client.get(reverse("registry:organization_detail", args=[world.ministry.pk])))
    assert "data-confirmed-field" in _button(page, url)

    before = _changes()
    asked = client.post(url, {f"m{own.pk}-role": Role.ORG_ANALYST})
    _asks(asked, "Change your own role? With any role other than administrator you lose the administrator rights in "
                 f"{world.ministry.name}", url, _members_url(world.ministry))
    assert str(Role.ORG_ANALYST.label) in _page(asked)  # the role chosen is named
    own.refresh_from_db()
    assert own.role == Role.ORG_ADMIN and _changes() == before

    done = client.post(url, _reposted(asked), follow=True)
    own.refresh_from_db()
    assert own.role == Role.ORG_ANALYST
    assert any("no longer administer" in str(m) for m in done.context["messages"])
    entry = AuditEntry.objects.filter(object_id=str(own.pk)).latest("seq")
    assert entry.actor_id == str(world.admin.pk) and _changes() > before


def test_other_role_changes_are_not_asked_and_the_only_administrator_is_refused_not_asked(world, as_user):
    client = _english(as_user(world.admin))
    other = Membership.objects.get(user=world.auditor, organization=world.ministry)
    other_url = reverse("registry:organization_member_role", args=[world.ministry.pk, other.pk])
    page = _page(client.get(reverse("registry:organization_detail", args=[world.ministry.pk])))
    assert "data-confirm" not in _button(page, other_url)
    assert client.post(other_url, {f"m{other.pk}-role": Role.ORG_ANALYST}).status_code == 302  # at once, as before
    other.refresh_from_db()
    assert other.role == Role.ORG_ANALYST

    own = Membership.objects.get(user=world.admin, organization=world.ministry)
    url = reverse("registry:organization_member_role", args=[world.ministry.pk, own.pk])
    before = _changes()
    refused = client.post(url, {f"m{own.pk}-role": Role.AUDITOR}, follow=True)
    assert refused.redirect_chain == [(_members_url(world.ministry), 302)]
    assert any("only administrator" in str(m) for m in refused.context["messages"])
    own.refresh_from_db()
    assert own.role == Role.ORG_ADMIN and _changes() == before
    # Another organization's administrator: not found, as before.
    assert as_user(world.other_admin).post(url, {f"m{own.pk}-role": Role.AUDITOR}).status_code == 404


def test_removing_a_member_is_asked_first_saying_when_it_closes_the_account(world, as_user):
    membership = Membership.objects.get(user=world.analyst, organization=world.ministry)
    url = reverse("registry:organization_member_remove", args=[world.ministry.pk, membership.pk])
    client = _english(as_user(world.admin))
    page = _page(client.get(reverse("registry:organization_detail", args=[world.ministry.pk])))
    assert "data-confirmed-field" in _button(page, url)

    before = _changes()
    asked = client.post(url)
    _asks(asked, f"Remove {world.analyst.email} from the organization? It is their last role on the platform", url,
          _members_url(world.ministry))
    assert Membership.objects.filter(pk=membership.pk).exists() and _changes() == before
    world.analyst.refresh_from_db()
    assert world.analyst.is_active

    done = client.post(url, _reposted(asked))
    assert done.status_code == 302 and done.url == _members_url(world.ministry)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    entry = AuditEntry.objects.filter(object_id=str(membership.pk)).latest("seq")
    assert entry.action == "delete" and entry.actor_id == str(world.admin.pk)


def test_removing_a_member_is_refused_not_asked_to_those_who_may_not(world, as_user):
    membership = Membership.objects.get(user=world.analyst, organization=world.ministry)
    url = reverse("registry:organization_member_remove", args=[world.ministry.pk, membership.pk])
    assert as_user(world.other_admin).post(url).status_code == 404
    assert as_user(world.auditor).post(url).status_code == 403
    # The only administrator removing themselves: refused on the page, not asked.
    own = Membership.objects.get(user=world.admin, organization=world.ministry)
    own_url = reverse("registry:organization_member_remove", args=[world.ministry.pk, own.pk])
    refused = _english(as_user(world.admin)).post(own_url, follow=True)
    assert any("only administrator" in str(m) for m in refused.context["messages"])
    assert Membership.objects.filter(pk__in=[membership.pk, own.pk]).count() == 2


def test_resetting_a_members_two_step_sign_in_is_asked_first(world, as_user):
    TOTPDevice.objects.create(user=world.analyst, name="phone", confirmed=True)
    membership = Membership.objects.get(user=world.analyst, organization=world.ministry)
    url = reverse("registry:organization_member_second_factor", args=[world.ministry.pk, membership.pk])
    client = _english(as_user(world.admin))
    page = _page(client.get(reverse("registry:organization_detail", args=[world.ministry.pk])))
    assert "data-confirmed-field" in _button(page, url)

    before = _changes()
    asked = client.post(url)
    _asks(asked, f"Reset the two-step sign-in of {world.analyst.email}?", url, _members_url(world.ministry))
    assert TOTPDevice.objects.filter(user=world.analyst).exists() and _changes() == before

    done = client.post(url, _reposted(asked))
    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=world.analyst).exists()
    entry = AuditEntry.objects.filter(object_id=str(world.analyst.pk)).latest("seq")
    assert entry.actor_id == str(world.admin.pk) and entry.after == {"second_factor": "reset"}


@pytest.mark.parametrize("case", ["oneself", "member elsewhere", "no device"])
def test_a_reset_that_would_be_refused_is_refused_not_asked(world, as_user, case):
    target = world.admin if case == "oneself" else world.analyst
    if case != "no device":
        TOTPDevice.objects.create(user=target, name="phone", confirmed=True)
    if case == "member elsewhere":  # the ministry's administrator does not run the province
        Membership.objects.create(user=target, organization=world.province, role=Role.ORG_ANALYST)
    membership = Membership.objects.get(user=target, organization=world.ministry)
    url = reverse("registry:organization_member_second_factor", args=[world.ministry.pk, membership.pk])
    before = _changes(), TOTPDevice.objects.count()
    client = _english(_signed_in_with_second_factor(as_user(world.admin), world.admin) if case == "oneself"
                      else as_user(world.admin))
    response = client.post(url, follow=True)
    assert response.redirect_chain == [(_members_url(world.ministry), 302)]
    assert len(list(response.context["messages"])) == 1
    assert (_changes(), TOTPDevice.objects.count()) == before
    assert as_user(world.other_admin).post(url).status_code == 404
