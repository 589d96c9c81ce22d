"""Fixes from the third walkthrough: an administrator changing their own role is asked first and spoken to in the
first person; the submitter who is also an administrator is told why it is not their turn (card and API alike);
a revision's draft does not show the old appraisal as if it were the current one; returning a proposal asks
first; the coordinator's queue shows how long each proposal has waited and takes the oldest first; the import
names the operational statuses it accepts; the home page's layer-4 figure says it counts declarations."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from khien.core.roles import Role
from khien.registry import services
from khien.registry.models import LevelEvent, LevelStatus, Membership
from khien.registry.tests.test_walkthrough_round2 import in_english, proposal

pytestmark = pytest.mark.django_db


def _members_page(client, world):
    return client.get(reverse("registry:organization_detail", args=[world.ministry.pk])).content.decode()


def _row(page, membership):
    return page.split(f'id="member-{membership.pk}"')[1].split("</tr>")[0]


# --- 6. One's own role ----------------------------------------------------------------------------------------


def test_ones_own_administrator_row_asks_before_saving_another_role(world, head, as_user):
    own = Membership.objects.get(user=world.admin, organization=world.ministry)
    other = Membership.objects.get(user=world.auditor, organization=world.ministry)
    page = _members_page(in_english(as_user(world.admin)), world)
    assert "lose the administrator rights in" in _row(page, own) and "data-confirm" in _row(page, own).split(
        "Save the role")[0].rsplit("<button", 1)[1]
    assert "lose the administrator rights" not in _row(page, other)


def test_demoting_oneself_is_said_in_the_first_person(world, head, as_user):
    own = Membership.objects.get(user=world.admin, organization=world.ministry)
    url = reverse("registry:organization_member_role", args=[world.ministry.pk, own.pk])
    client = in_english(as_user(world.admin))
    response = client.post(url, {f"m{own.pk}-role": Role.ORG_ANALYST, "confirmed": "1"}, follow=True)
    own.refresh_from_db()
    assert own.role == Role.ORG_ANALYST
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Your role in") and "no longer administer" in message and world.admin.email not in message
    # The members section is no longer theirs: back to the organization's page, which answers.
    assert response.redirect_chain[-1][0] == reverse("registry:organization_detail", args=[world.ministry.pk])
    assert response.status_code == 200


def test_the_last_administrator_still_cannot_demote_themselves(world, as_user):
    own = Membership.objects.get(user=world.admin, organization=world.ministry)
    url = reverse("registry:organization_member_role", args=[world.ministry.pk, own.pk])
    response = in_english(as_user(world.admin)).post(url, {f"m{own.pk}-role": Role.AUDITOR}, follow=True)
    own.refresh_from_db()
    assert own.role == Role.ORG_ADMIN
    assert any("only administrator" in str(m) for m in response.context["messages"])


# --- 7. Whose turn, told to the submitter ---------------------------------------------------------------------


def test_an_administrator_who_submitted_is_told_another_one_decides(world, head, as_user, api):
    system = proposal(world, 1, submitter=world.admin)  # level 1: appraised by the ministry's administrators
    page = in_english(as_user(world.admin)).get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    waiting = page.split('id="level-waiting-for"')[1].split("</p>")[0]
    assert "you submitted it, so another administrator of" in waiting
    assert 'class="step step-appraise"' not in page
    body = api(world.admin).get(f"/api/registry/systems/{system.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["waiting_for"]["by"].startswith("you submitted it")
    # Another administrator, and the analyst who holds no such right, read whose turn it is.
    for reader in (head, world.analyst):
        body = api(reader).get(f"/api/registry/systems/{system.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()
        assert body["waiting_for"]["by"].startswith("the administrators of")
    page = in_english(as_user(head)).get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    assert 'class="step step-appraise"' in page


def test_the_appraiser_is_told_another_administrator_approves(world, head, as_user):
    system = proposal(world, 1)
    services.do_level_step(system, "appraise", acting_user=world.admin, note="Đạt yêu cầu.")
    page = in_english(as_user(world.admin)).get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    assert "you appraised it, so another administrator of" in page.split('id="level-waiting-for"')[1].split("</p>")[0]


# --- 8. The appraisal of an earlier proposal ------------------------------------------------------------------


def test_a_revision_draft_shows_the_old_appraisal_as_earlier(world, head, as_user):
    system = proposal(world, 1)
    services.do_level_step(system, "appraise", acting_user=world.admin, note="Ý kiến thẩm định cũ.")
    services.do_level_step(system, "approve", acting_user=head, decision_number="12/QĐ",
                           decision_date=timezone.localdate())
    client = in_english(as_user(world.admin))
    page = client.get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    assert "<dt>Appraisal opinion</dt>" in page  # approved: the opinion of this proposal
    services.do_level_step(system, "revise", acting_user=world.admin)
    page = client.get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    today = timezone.localdate().strftime("%d/%m/%Y")
    assert "<dt>Appraisal opinion</dt>" not in page
    assert f"<dt>Earlier appraisal opinion ({today})</dt>" in page and "Ý kiến thẩm định cũ." in page


# --- 9. Returning asks first ----------------------------------------------------------------------------------


def test_returning_a_proposal_asks_first(world, as_user):
    system = proposal(world, 1)
    page = in_english(as_user(world.admin)).get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    form = page.split('class="step step-return"')[1].split("</form>")[0]
    assert 'data-confirm="Return the proposal for correction?' in form


# --- 10. Waiting since ----------------------------------------------------------------------------------------


def test_the_queue_shows_how_long_each_proposal_waits_oldest_first(world, coordinator_client, api):
    older, newer = proposal(world, 3, code="SYS-OLD"), proposal(world, 3, code="SYS-NEW")
    long_ago = timezone.now() - dt.timedelta(days=40)
    LevelEvent.objects.filter(system=older, action="submit").update(at=long_ago)
    LevelEvent.objects.filter(system=newer, action="submit").update(at=timezone.now() - dt.timedelta(days=2))
    # A code that sorts first but waits for less time: the order is by waiting time, not by code.
    url = reverse("registry:system_list") + "?awaiting_me=appraise"
    response = coordinator_client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert [s.code for s in response.context["page"]] == ["SYS-OLD", "SYS-NEW"]
    page = response.content.decode()
    assert "sort-waiting-since" in page and timezone.localtime(long_ago).strftime("%d/%m/%Y") in page
    response = coordinator_client.get(url + "&sort=-waiting_since")
    assert [s.code for s in response.context["page"]] == ["SYS-NEW", "SYS-OLD"]
    # No such order: refused, not ignored.
    assert coordinator_client.get(url + "&sort=name;drop").status_code == 400
    # The plain list keeps its columns and its order by code.
    plain = coordinator_client.get(reverse("registry:system_list"))
    assert "sort-waiting-since" not in plain.content.decode()
    # The API orders by the same rule.
    results = api(world.coordinator).get("/api/registry/systems/?awaiting_me=appraise&ordering=waiting_since").json()
    assert [r["code"] for r in results["results"]] == ["SYS-OLD", "SYS-NEW"]
    assert world.coordinator.memberships.filter(role=Role.NATIONAL_COORDINATOR).exists()
    assert LevelStatus.SUBMITTED == older.level_status


# --- 11. The import names what it accepts ---------------------------------------------------------------------


def test_an_unknown_operational_status_lists_the_names_too():
    from django.utils import translation

    from khien.registry.imports import CellError, parse_choice
    from khien.registry.models import OperationalStatus

    with translation.override("vi"):
        with pytest.raises(CellError) as refused:
            parse_choice("đang chạy", "operational_status", OperationalStatus)
        name = str(OperationalStatus.IN_OPERATION.label)
        assert f"{name} (in_operation)" in str(refused.value.message)
        assert parse_choice(name, "operational_status", OperationalStatus) == "in_operation"


# --- 12. The home page's layer-4 figure -----------------------------------------------------------------------


def test_the_layer4_figure_says_it_counts_declarations(world, as_user):
    page = in_english(as_user(world.admin)).get(reverse("registry:dashboard")).content.decode()
    assert "level-3+ systems in operation declared connected to national monitoring (layer 4)" in page
    hint = page.split('id="kpi-layer4-hint"')[1].split("</span>")[0]
    assert reverse("telemetry:dashboard") in hint and "counts the sources that actually send" in hint
