"""The registry's pages, through the Django test client against the real database.

Each test checks a grant and a denial: another organization's objects are a
404 (they do not exist for the user), a visible object the user may not
change is a 403, and a refused or invalid POST changes nothing.
"""
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from khien.core.models import AuditEntry
from khien.core.roles import Role
from khien.registry import services, stats
from khien.registry.views import STEP_DONE
from khien.registry.models import (
    DossierFile,
    ImportJob,
    InformationSystem,
    Isac,
    LayerState,
    LevelEvent,
    LevelStatus,
    Membership,
    Organization,
)

PASSWORD = "Khien-test-pass-2026"
LEVEL1_ANSWERS = {
    "system_kind": "internal_admin", "data_kind": "internal", "data_volume": "none",
    "served_scope": "internal", "impact": "organization",
}
LEVEL2_ANSWERS = dict(LEVEL1_ANSWERS, system_kind="public_service", data_kind="personal")


def crit(answers):
    return {f"crit_{k}": v for k, v in answers.items()}




def system_post(owner, **extra):
    data = {
        "code": "SYS-NEW", "name": "Cổng dịch vụ công", "owner": str(owner.pk), "operator": "",
        "purpose": "Dịch vụ công trực tuyến", "operational_status": "planned",
        "ip_ranges": "203.0.113.0/24\n198.51.100.7", "domains": "dichvucong.example.gov.vn",
        "products": "cpe:2.3:a:apache:http_server:2.4.62:*:*:*:*:*:*:*",
        "layer1_status": "in_place", "layer1_evidence": "", "layer2_status": "partial", "layer2_provider": "",
        "layer2_evidence": "", "layer3_status": "missing", "layer3_assessed_on": "", "layer3_assessor": "",
        "layer3_evidence": "", "layer4_status": "missing", "layer4_connected_on": "", "layer4_evidence": "",
        "proposed_level": "",
        **crit(LEVEL2_ANSWERS),
    }
    data.update(extra)
    return data


def org_post(parent, **extra):
    data = {"code": "MIN-D2", "name_vi": "Cục Mới", "name_en": "New Department", "org_type": "agency",
            "parent": str(parent.pk) if parent else "", "province": "", "address": "", "hotline": "1900 0000",
            "contact_email": "", "duty_officer": "", "duty_officer_phone": "", "head_name": "", "head_title": "",
            "head_email": "", "head_phone": "", "is_active": "on"}
    data.update(extra)
    return data


def submitted_system(world, make_system, owner=None, answers=LEVEL1_ANSWERS):
    """A system proposed by the analyst, with a dossier file, submitted through the services."""
    owner = owner or world.ministry
    system = make_system(owner)
    services.do_update_system(system, {"criteria": answers, "proposed_level": 1}, acting_user=world.analyst)
    services.do_add_dossier_file(system, SimpleUploadedFile("hoso.pdf", b"%PDF-1.4 dossier"), acting_user=world.analyst)
    services.do_level_step(system, "submit", acting_user=world.analyst)
    system.refresh_from_db()
    return system


# --- dashboard and statistics -----------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "analyst", "auditor", "trainee", "dept_analyst", "other_admin", "responder", "nobody"])
def test_every_page_renders_for_each_role(world, make_system, as_user, who):
    make_system(world.ministry)
    client = as_user(getattr(world, who))
    for name in ["registry:dashboard", "registry:organization_list", "registry:system_list", "registry:isac_list"]:
        response = client.get(reverse(name))
        assert response.status_code == 200, (name, response.status_code)
        assert b"<script>" not in response.content  # no inline script (CSP)
        assert b' style="' not in response.content  # no inline style (CSP)


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(reverse("registry:dashboard"))
    assert response.status_code == 302 and reverse("core:login") in response["Location"]


def test_dashboard_systems_by_organization_type_largest_first(world, make_system):
    for _ in range(3):
        make_system(world.province)
    make_system(world.ministry)
    chart = stats.dashboard(world.coordinator)["charts"]["org_types"]
    assert chart["values"] == sorted(chart["values"], reverse=True) == [3, 1]


def test_dashboard_counts_only_what_the_user_sees(world, make_system, as_user):
    today = dt.date.today()
    complete = dict(layer1_status=LayerState.IN_PLACE, layer2_status=LayerState.IN_PLACE,
                    layer3_status=LayerState.IN_PLACE, layer3_assessed_on=today, layer4_status=LayerState.IN_PLACE)
    make_system(world.ministry, approved_level=2, level_status=LevelStatus.APPROVED, **complete)
    make_system(world.department, proposed_level=3, operational_status="in_operation")                      # level 3+, not connected
    make_system(world.province, approved_level=4, level_status=LevelStatus.APPROVED, operational_status="in_operation")
    make_system(world.commune)

    response = as_user(world.admin).get(reverse("registry:dashboard"))
    kpis = response.context["kpis"]
    assert kpis["organizations"] == 2 and kpis["systems"] == 2
    assert kpis["approved"] == 1 and kpis["approved_share"] == 50
    assert kpis["four_layers"] == 1 and kpis["four_layers_share"] == 50
    assert kpis["high_level_unconnected"] == 1
    charts = response.context["charts"]
    assert charts["levels"]["values"] == [0, 1, 0, 0, 0, 1]
    assert dict(zip(charts["status"]["keys"], charts["status"]["values"]))["approved"] == 1
    assert b'id="chart-levels"' in response.content and b'type="application/json"' in response.content

    other = stats.dashboard(world.other_admin)
    assert other["kpis"]["systems"] == 2 and other["kpis"]["approved"] == 1
    assert other["kpis"]["high_level_unconnected"] == 1
    assert other["charts"]["levels"]["values"][3] == 1

    nobody = stats.dashboard(world.nobody)
    assert nobody["kpis"] == {"organizations": 0, "systems": 0, "approved": 0, "approved_share": 0,
                              "approved_under_revision": 0,
                              "four_layers": 0, "four_layers_share": 0, "high_level_unconnected": 0,
                              "layer4": {"total": 0, "connected": 0, "not_connected": 0, "share": 0,
                                         "approved_level": 0, "proposed_level": 0}}


def test_the_approved_figure_and_the_status_chart_say_which_rule_they_count(world, make_system, as_user):
    """An approved level stands while its revision is prepared: the key figure counts it (and its link lists the
    same systems), the status chart counts it under the revision's state, and the page says so."""
    approved = make_system(world.ministry, proposed_level=2, approved_level=2, level_status=LevelStatus.APPROVED)
    revising = make_system(world.ministry, proposed_level=3, approved_level=2, level_status=LevelStatus.SUBMITTED, operational_status="in_operation")
    make_system(world.department, proposed_level=1)  # never approved
    make_system(world.province, approved_level=4, level_status=LevelStatus.SUBMITTED, operational_status="in_operation")  # another tree: not counted

    client = as_user(world.admin)
    page = client.get(reverse("registry:dashboard"))
    kpis, charts = page.context["kpis"], page.context["charts"]
    assert kpis["approved"] == 2 and kpis["approved_under_revision"] == 1 and kpis["approved_share"] == 67
    assert dict(zip(charts["status"]["keys"], charts["status"]["values"]))["approved"] == 1
    html = page.content.decode()
    figure = html.split('id="kpi-approved"', 1)[1].split("</a>", 1)[0]
    assert "trong đó 1 đang điều chỉnh cấp độ" in figure  # "of which 1 with a revision under way"
    assert 'id="note-status"' in html
    # The figure opens the list of exactly the systems it counts.
    link = reverse("registry:system_list") + "?approved=true"
    assert f'href="{link}"' in html
    listed = {s.code for s in client.get(link).context["page"]}
    assert listed == {approved.code, revising.code}
    assert {s.code for s in client.get(reverse("registry:system_list"), {"approved": "false"}).context["page"]} == {
        "SYS-MIN-D1-3"}
    assert list(client.get(reverse("registry:system_list"), {"approved": "maybe"}).context["page"]) == []
    # One rule: the gap "level not approved" agrees with the figure.
    assert "level_unapproved" not in revising.four_layer_gaps() and revising.under_revision
    assert not approved.under_revision
    # Without revisions under way the note of the figure is not shown.
    other = as_user(world.other_admin).get(reverse("registry:dashboard"))
    assert other.context["kpis"]["approved"] == 1 and other.context["kpis"]["approved_under_revision"] == 1
    as_user(world.nobody)
    assert stats.dashboard(world.nobody)["kpis"]["approved_under_revision"] == 0


def test_coordinator_sees_the_whole_country(world, make_system, coordinator_client):
    make_system(world.ministry)
    make_system(world.province)
    response = coordinator_client.get(reverse("registry:dashboard"))
    assert response.status_code == 200
    assert response.context["kpis"]["systems"] == 2
    assert response.context["kpis"]["organizations"] == Organization.objects.count()
    listing = coordinator_client.get(reverse("registry:organization_list"))
    assert {o.code for o in listing.context["page"]} == set(Organization.objects.values_list("code", flat=True))


# --- organizations ------------------------------------------------------------------


def test_organization_list_shows_only_visible_and_filters(world, as_user):
    client = as_user(world.admin)
    codes = {o.code for o in client.get(reverse("registry:organization_list")).context["page"]}
    assert codes == {"MIN", "MIN-D1"}
    codes = {o.code for o in client.get(reverse("registry:organization_list"), {"q": "D1"}).context["page"]}
    assert codes == {"MIN-D1"}
    codes = {o.code for o in client.get(reverse("registry:organization_list"), {"org_type": "ministry"}).context["page"]}
    assert codes == {"MIN"}


def test_organization_export_uses_the_same_filters(world, as_user):
    client = as_user(world.admin)
    response = client.get(reverse("registry:organization_list"), {"format": "csv", "q": "MIN"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = response.content.decode("utf-8-sig")
    assert "MIN-D1" in body and "PROV" not in body
    xlsx = client.get(reverse("registry:organization_list"), {"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert client.get(reverse("registry:organization_list"), {"format": "pdf"}).status_code == 400


def test_other_organization_detail_and_edit_are_404(world, as_user):
    client = as_user(world.other_admin)
    for name in ["registry:organization_detail", "registry:organization_edit", "registry:organization_delete"]:
        assert client.get(reverse(name, args=[world.ministry.pk])).status_code == 404
    response = client.post(reverse("registry:organization_edit", args=[world.ministry.pk]),
                           org_post(None, code="MIN", name_vi="Bị đổi tên"))
    assert response.status_code == 404
    world.ministry.refresh_from_db()
    assert world.ministry.name_vi == "Tổ chức MIN"
    assert client.post(reverse("registry:organization_delete", args=[world.ministry.pk])).status_code == 404
    assert Organization.objects.filter(pk=world.ministry.pk).exists()


def test_reader_sees_detail_but_cannot_edit(world, as_user):
    client = as_user(world.auditor)
    response = client.get(reverse("registry:organization_detail", args=[world.ministry.pk]))
    assert response.status_code == 200
    assert reverse("registry:organization_edit", args=[world.ministry.pk]).encode() not in response.content
    # The auditor reads the members, with no control to change them (`test_walkthrough_auditor`).
    members = response.content.split(b'id="members"')[1].split(b"</section>")[0]
    assert b"<form" not in members and b"<button" not in members
    assert client.get(reverse("registry:organization_edit", args=[world.ministry.pk])).status_code == 403
    assert client.get(reverse("registry:organization_create")).status_code == 403
    response = client.post(reverse("registry:organization_edit", args=[world.ministry.pk]), org_post(None, code="MIN"))
    assert response.status_code == 403
    world.ministry.refresh_from_db()
    assert world.ministry.name_vi == "Tổ chức MIN"


def test_analyst_edits_the_details_of_an_organization_not_its_code_or_state(world, as_user):
    client = as_user(world.analyst)
    url = reverse("registry:organization_edit", args=[world.department.pk])
    form = client.get(url).context["form"]
    assert form.fields["code"].disabled and form.fields["is_active"].disabled
    # A forged form with another code and no "is_active": the details change, the code and state do not.
    response = client.post(url, org_post(world.ministry, code="HIJACKED", name_vi="Cục Một", is_active=""))
    assert response.status_code == 302
    department = Organization.objects.get(pk=world.department.pk)
    assert (department.code, department.is_active, department.name_vi) == ("MIN-D1", True, "Cục Một")
    assert not as_user(world.admin).get(url).context["form"].fields["code"].disabled


def test_organization_create_offers_only_allowed_parents(world, as_user):
    client = as_user(world.analyst)
    form = client.get(reverse("registry:organization_create")).context["form"]
    assert set(form.fields["parent"].queryset.values_list("code", flat=True)) == {"MIN", "MIN-D1"}
    assert form.fields["parent"].required
    response = client.post(reverse("registry:organization_create"), org_post(world.province))
    assert response.status_code == 400 and "parent" in response.context["form"].errors
    assert not Organization.objects.filter(code="MIN-D2").exists()

    response = client.post(reverse("registry:organization_create"), org_post(world.ministry))
    assert response.status_code == 302
    created = Organization.objects.get(code="MIN-D2")
    assert created.parent == world.ministry and created.path.startswith(world.ministry.path)
    assert AuditEntry.objects.filter(object_id=str(created.pk), action="create").exists()


def test_organization_edit_invalid_post_changes_nothing(world, as_user):
    client = as_user(world.admin)
    url = reverse("registry:organization_edit", args=[world.department.pk])
    response = client.post(url, org_post(world.ministry, code="MIN-D1", name_vi="", contact_email="not-an-email"))
    assert response.status_code == 400
    assert {"name_vi", "contact_email"} <= set(response.context["form"].errors)
    world.department.refresh_from_db()
    assert world.department.name_vi == "Tổ chức MIN-D1"

    response = client.post(url, org_post(world.ministry, code="MIN-D1", name_vi="Cục An toàn"))
    assert response.status_code == 302
    world.department.refresh_from_db()
    assert world.department.name_vi == "Cục An toàn"


def test_org_admin_cannot_move_own_top_level_organization(world, as_user):
    form = as_user(world.admin).get(reverse("registry:organization_edit", args=[world.ministry.pk])).context["form"]
    assert "parent" not in form.fields


def test_delete_refused_while_units_remain(world, as_user):
    client = as_user(world.admin)
    Membership.objects.filter(organization=world.department).delete()  # members keep a unit from being deleted
    unit = services.do_create_organization({"code": "MIN-D1-X", "name_vi": "Phòng X", "org_type": "agency",
                                            "parent": world.department}, acting_user=world.admin)
    response = client.post(reverse("registry:organization_delete", args=[world.department.pk]))
    assert response.status_code == 400
    assert Organization.objects.filter(pk=world.department.pk).exists()
    assert client.post(reverse("registry:organization_delete", args=[unit.pk])).status_code == 302
    assert client.post(reverse("registry:organization_delete", args=[world.department.pk])).status_code == 302
    assert not Organization.objects.filter(pk=world.department.pk).exists()


def test_members_are_managed_by_admins_only(world, as_user):
    url = reverse("registry:organization_member_add", args=[world.ministry.pk])
    response = as_user(world.analyst).post(url, {"email": world.nobody.email, "role": Role.ORG_ANALYST})
    assert response.status_code == 403
    assert not Membership.objects.filter(user=world.nobody).exists()

    client = as_user(world.admin)
    detail = client.get(reverse("registry:organization_detail", args=[world.ministry.pk]))
    assert world.analyst.email.encode() in detail.content
    assert Role.NATIONAL_COORDINATOR not in dict(detail.context["member_form"].fields["role"].choices)

    response = client.post(url, {"email": "not-an-email", "role": Role.ORG_ANALYST})
    assert response.status_code == 400 and "email" in response.context["member_form"].errors
    response = client.post(url, {"email": world.nobody.email, "role": Role.NATIONAL_COORDINATOR})
    assert response.status_code == 400
    assert not Membership.objects.filter(user=world.nobody).exists()

    assert client.post(url, {"email": world.nobody.email.upper(), "role": Role.AUDITOR}).status_code == 302
    membership = Membership.objects.get(user=world.nobody, organization=world.ministry)
    assert membership.role == Role.AUDITOR

    other = reverse("registry:organization_member_remove", args=[world.province.pk, membership.pk])
    assert as_user(world.other_admin).post(other).status_code == 404
    remove = reverse("registry:organization_member_remove", args=[world.ministry.pk, membership.pk])
    assert as_user(world.auditor).post(remove).status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert as_user(world.admin).post(remove).status_code == 200  # asked first (core.confirmation)
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert as_user(world.admin).post(remove, {"confirmed": "1"}).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_adding_an_unknown_email_creates_an_account_whose_owner_chooses_the_password(
        world, as_user, mailoutbox, django_capture_on_commit_callbacks):
    """No password travels: the owner gets a one-time link by e-mail, never shown to the administrator, that works
    once; then they sign in with the password they chose."""
    import re

    from django.test import Client

    from khien.core.models import AuditEntry, User

    url = reverse("registry:organization_member_add", args=[world.ministry.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(world.admin).post(url, {"email": "New.Officer@min.test.vn", "full_name": "Nguyễn Văn Mới",
                                                   "role": Role.ORG_ANALYST}, follow=True)
    new_user = User.objects.get(email="new.officer@min.test.vn")
    assert not new_user.has_usable_password() and new_user.full_name == "Nguyễn Văn Mới"
    assert Membership.objects.get(user=new_user).organization == world.ministry
    [mail] = mailoutbox
    assert mail.to == ["new.officer@min.test.vn"]
    link = re.search(r"https?://\S+/accounts/password/set/\S+/", mail.body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert path not in response.content.decode()  # the administrator never sees it

    client = Client()
    form = client.get("/" + path, follow=True)  # Django moves the token out of the address first
    assert form.status_code == 200 and 'name="new_password1"' in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "Mat-khau-moi-2026!",
                                                    "new_password2": "Mat-khau-moi-2026!"})
    assert done.status_code == 302 and done.url == reverse("core:login")
    new_user.refresh_from_db()
    assert new_user.check_password("Mat-khau-moi-2026!") and not new_user.must_change_password
    assert AuditEntry.objects.filter(object_id=str(new_user.pk), actor_id=str(new_user.pk)).exists()
    again = Client().get("/" + path, follow=True)  # used: it no longer works, and says so
    assert 'id="link-invalid"' in again.content.decode()
    assert client.post("/accounts/login/", {"username": new_user.email,
                                            "password": "Mat-khau-moi-2026!"}).status_code == 302
    assert client.get(reverse("registry:system_list")).status_code == 200


def test_a_forgotten_password_is_replaced_through_a_link_and_the_page_tells_nothing(world, client, mailoutbox):
    """Anyone may ask; only an active account of that address gets the e-mail, and the answer is the same."""
    asked = client.post(reverse("core:password_forgotten"), {"email": world.analyst.email.upper()}, follow=True)
    unknown = client.post(reverse("core:password_forgotten"), {"email": "nobody-here@min.test.vn"}, follow=True)
    assert [str(m) for m in asked.context["messages"]] == [str(m) for m in unknown.context["messages"]]
    [mail] = mailoutbox
    assert mail.to == [world.analyst.email] and "/accounts/password/set/" in mail.body
    assert client.post(reverse("core:password_forgotten"), {"email": "not an address"}).status_code == 200
    assert len(mailoutbox) == 1
    # Asked again at once: the same answer, no second e-mail (no flooding someone's mailbox); the link is logged.
    again = client.post(reverse("core:password_forgotten"), {"email": world.analyst.email}, follow=True)
    assert [str(m) for m in again.context["messages"]] == [str(m) for m in asked.context["messages"]]
    assert len(mailoutbox) == 1
    from khien.core.models import AuditEntry

    assert AuditEntry.objects.filter(action="password_link", object_id=str(world.analyst.pk)).count() == 1
    assert 'id="link-invalid"' in client.get("/accounts/password/set/MQ/wrong-token/").content.decode()


def test_another_organizations_admin_cannot_add_members(world, as_user):
    from khien.core.models import User

    url = reverse("registry:organization_member_add", args=[world.ministry.pk])
    assert as_user(world.other_admin).post(url, {"email": "x@prov.test.vn", "role": Role.ORG_ADMIN}).status_code == 404
    assert not User.objects.filter(email="x@prov.test.vn").exists()


# --- information systems --------------------------------------------------------------


def test_system_list_shows_only_visible_and_filters(world, make_system, as_user):
    mine = make_system(world.ministry, approved_level=2, level_status=LevelStatus.APPROVED)
    make_system(world.department)
    make_system(world.province)
    client = as_user(world.auditor)
    codes = {s.code for s in client.get(reverse("registry:system_list")).context["page"]}
    assert codes == {mine.code, "SYS-MIN-D1-2"}
    codes = {s.code for s in client.get(reverse("registry:system_list"), {"level_status": "approved"}).context["page"]}
    assert codes == {mine.code}
    response = client.get(reverse("registry:system_list"), {"format": "csv"})
    body = response.content.decode("utf-8-sig")
    assert mine.code in body and "SYS-PROV" not in body


def test_system_create_stores_criteria_and_suggested_level(world, as_user):
    client = as_user(world.analyst)
    form = client.get(reverse("registry:system_create")).context["form"]
    assert set(form.fields["owner"].queryset.values_list("code", flat=True)) == {"MIN", "MIN-D1"}
    assert len(form.questions) == 5

    response = client.post(reverse("registry:system_create"), system_post(world.ministry))
    assert response.status_code == 302, response.context["form"].errors if response.context else None
    system = InformationSystem.objects.get(code="SYS-NEW")
    assert system.criteria == LEVEL2_ANSWERS
    assert system.suggested_level == 2 and system.proposed_level == 2
    assert system.ip_ranges == ["203.0.113.0/24", "198.51.100.7/32"]
    assert system.domains == ["dichvucong.example.gov.vn"]
    assert system.level_status == LevelStatus.DRAFT


def test_system_create_refusals_change_nothing(world, as_user):
    client = as_user(world.analyst)
    # Partly answered criteria.
    data = system_post(world.ministry)
    del data["crit_impact"]
    response = client.post(reverse("registry:system_create"), data)
    assert response.status_code == 400 and "crit_impact" in response.context["form"].errors
    # A bad IP range and a bad domain.
    response = client.post(reverse("registry:system_create"), system_post(world.ministry, ip_ranges="999.1.1.1", domains="not a domain"))
    assert response.status_code == 400
    assert {"ip_ranges", "domains"} <= set(response.context["form"].errors)
    # Another organization as owner.
    response = client.post(reverse("registry:system_create"), system_post(world.province))
    assert response.status_code == 400 and "owner" in response.context["form"].errors
    # Not an operational status.
    response = client.post(reverse("registry:system_create"), system_post(world.ministry, operational_status="running"))
    assert response.status_code == 400 and "operational_status" in response.context["form"].errors
    assert not InformationSystem.objects.exists()
    # A reader cannot open the form at all.
    assert as_user(world.trainee).get(reverse("registry:system_create")).status_code == 403


def test_system_edit_other_org_is_404_and_reader_403(world, make_system, as_user):
    system = make_system(world.ministry)
    url = reverse("registry:system_edit", args=[system.pk])
    assert as_user(world.other_admin).get(reverse("registry:system_detail", args=[system.pk])).status_code == 404
    assert as_user(world.other_admin).post(url, system_post(world.ministry, code=system.code, name="X")).status_code == 404
    assert as_user(world.auditor).get(url).status_code == 403
    assert as_user(world.auditor).post(url, system_post(world.ministry, code=system.code, name="X")).status_code == 403
    system.refresh_from_db()
    assert system.name != "X"
    response = as_user(world.analyst).post(url, system_post(world.ministry, code=system.code, name="Đổi tên"))
    assert response.status_code == 302
    system.refresh_from_db()
    assert system.name == "Đổi tên" and system.proposed_level == 2


def test_proposal_is_locked_once_submitted(world, make_system, as_user):
    system = submitted_system(world, make_system)
    form = as_user(world.analyst).get(reverse("registry:system_edit", args=[system.pk])).context["form"]
    assert form.fields["crit_impact"].disabled and form.fields["proposed_level"].disabled
    data = system_post(world.ministry, code=system.code, name=system.name, proposed_level="5",
                       **crit(dict(LEVEL1_ANSWERS, impact="national_security_severe")))
    assert as_user(world.analyst).post(reverse("registry:system_edit", args=[system.pk]), data).status_code == 302
    system.refresh_from_db()
    assert system.proposed_level == 1 and system.criteria == LEVEL1_ANSWERS


def test_suggestion_endpoint(world, as_user):
    client = as_user(world.analyst)
    url = reverse("registry:system_suggest")
    response = client.post(url, crit(dict(LEVEL1_ANSWERS, data_kind="secret_top")), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.context["suggestion"].level == 5
    assert any("secret" in r.lower() or "mật" in r.lower() for r in response.context["suggestion"].reasons)
    assert b'id="suggestion"' in response.content and b"<html" not in response.content

    partial = client.post(url, {"crit_system_kind": "internal_admin", "crit_data_kind": "public"})
    assert partial.status_code == 200 and partial.context["suggestion"] is None
    assert partial.context["answered"] == 2 and partial.context["total"] == 5

    bad = client.post(url, crit(dict(LEVEL1_ANSWERS, impact="no-such-option")))
    assert bad.status_code == 400 and bad.context["error"]
    assert client.get(url).status_code == 405


def test_workflow_buttons_only_for_the_right_user(world, make_system, as_user):
    system = submitted_system(world, make_system)
    url = reverse("registry:system_detail", args=[system.pk])
    appraise = reverse("registry:system_step", args=[system.pk, "appraise"]).encode()

    analyst_page = as_user(world.analyst).get(url)  # the submitter
    assert analyst_page.context["steps"] == [] and appraise not in analyst_page.content
    auditor_page = as_user(world.auditor).get(url)
    assert auditor_page.context["steps"] == [] and appraise not in auditor_page.content
    admin_page = as_user(world.admin).get(url)
    assert [s["step"] for s in admin_page.context["steps"]] == ["appraise", "return"]
    assert appraise in admin_page.content

    draft = make_system(world.ministry)
    page = as_user(world.analyst).get(reverse("registry:system_detail", args=[draft.pk]))
    assert [s["step"] for s in page.context["steps"]] == ["submit"]
    assert [s["step"] for s in as_user(world.trainee).get(reverse("registry:system_detail", args=[draft.pk])).context["steps"]] == []


def test_workflow_steps_through_the_pages(world, make_system, as_user, head):
    system = submitted_system(world, make_system)

    # Refused: the submitter may not appraise; another organization does not see the system.
    response = as_user(world.analyst).post(reverse("registry:system_step", args=[system.pk, "appraise"]),
                                           {"appraise-note": "OK"})
    assert response.status_code == 403
    response = as_user(world.other_admin).post(reverse("registry:system_step", args=[system.pk, "appraise"]),
                                               {"appraise-note": "OK"})
    assert response.status_code == 404
    # Refused (post/redirect/get: back to the system's page, the reason shown there): appraisal without an opinion.
    client = as_user(world.admin)
    detail = reverse("registry:system_detail", args=[system.pk]) + "#level"
    response = client.post(reverse("registry:system_step", args=[system.pk, "appraise"]), {"appraise-note": " "})
    assert response.status_code == 302 and response.url == detail
    system.refresh_from_db()
    assert system.level_status == LevelStatus.SUBMITTED

    assert client.post(reverse("registry:system_step", args=[system.pk, "appraise"]),
                       {"appraise-note": "Hồ sơ đầy đủ", "confirmed": "1"}).status_code == 302
    # Wrong state: appraising again is refused (was a 409 page on the POST address).
    response = client.post(reverse("registry:system_step", args=[system.pk, "appraise"]), {"appraise-note": "lại"},
                           follow=True)
    assert response.redirect_chain == [(detail, 302)]
    assert any("not possible" in str(m) or "không thể" in str(m).lower() for m in response.context["messages"])
    # Four eyes: the appraiser is refused the approval (the page shows them no Approve form).
    assert "approve" not in [s["step"] for s in client.get(detail).context["steps"]]
    assert client.post(reverse("registry:system_step", args=[system.pk, "approve"]),
                       {"approve-decision_number": "12/QĐ-BTT", "approve-decision_date": dt.date.today().isoformat()}
                       ).status_code == 403
    client = as_user(head)
    assert "approve" in [s["step"] for s in client.get(detail).context["steps"]]
    # Approval needs number and date; a future date is refused by the service.
    response = client.post(reverse("registry:system_step", args=[system.pk, "approve"]), {"approve-decision_number": ""})
    assert response.status_code == 302 and response.url == detail
    client.get(detail)  # (reads the kept form)
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    response = client.post(reverse("registry:system_step", args=[system.pk, "approve"]),
                           {"approve-decision_number": "12/QĐ-BTT", "approve-decision_date": future, "confirmed": "1"})
    assert response.status_code == 302 and response.url == detail
    system.refresh_from_db()
    assert system.level_status == LevelStatus.APPRAISED and system.approved_level is None

    response = client.post(reverse("registry:system_step", args=[system.pk, "approve"]),
                           {"approve-decision_number": "12/QĐ-BTT", "approve-decision_date": dt.date.today().isoformat(),
                            "confirmed": "1"})
    assert response.status_code == 302
    system.refresh_from_db()
    assert system.level_status == LevelStatus.APPROVED and system.approved_level == 1
    assert system.decision_number == "12/QĐ-BTT"
    assert list(LevelEvent.objects.filter(system=system).values_list("action", flat=True)) == ["submit", "appraise", "approve"]
    page = client.get(reverse("registry:system_detail", args=[system.pk]))
    assert b"12/Q" in page.content and b'id="approved-level"' in page.content
    assert client.post(reverse("registry:system_step", args=[system.pk, "nonsense"])).status_code == 404


def test_a_refused_step_redirects_to_the_system_page_which_shows_why(world, make_system, as_user):
    """Post/redirect/get for refusals too: reloading the page the browser lands on posts nothing again."""
    system = make_system(world.ministry)
    services.do_update_system(system, {"criteria": LEVEL1_ANSWERS, "proposed_level": 1}, acting_user=world.analyst)
    client = as_user(world.analyst)
    detail = reverse("registry:system_detail", args=[system.pk])
    before = AuditEntry.objects.count()
    response = client.post(reverse("registry:system_step", args=[system.pk, "submit"]),  # no dossier attached
                           {"confirmed": "1"})
    assert response.status_code == 302 and response.url == detail + "#level"
    page = client.get(response.url)
    assert page.status_code == 200
    shown = [(m.level_tag, str(m)) for m in page.context["messages"]]
    assert len(shown) == 1 and shown[0][0] == "error"
    assert "dossier" in shown[0][1] or "hồ sơ" in shown[0][1]
    assert shown[0][1] in page.content.decode()
    assert len(client.get(detail).context["messages"]) == 0  # a reload shows the page, not the refusal again
    system.refresh_from_db()
    assert system.level_status == LevelStatus.DRAFT and AuditEntry.objects.count() == before


def test_a_refused_step_keeps_what_was_typed_and_its_errors(world, make_system, as_user, head):
    system = submitted_system(world, make_system)
    client = as_user(head)
    services.do_level_step(system, "appraise", acting_user=world.admin, note="Đạt")
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    response = client.post(reverse("registry:system_step", args=[system.pk, "approve"]),
                           {"approve-decision_number": "77/QĐ-TEST", "approve-decision_date": future,
                            "confirmed": "1"}, follow=True)
    assert response.redirect_chain == [(reverse("registry:system_detail", args=[system.pk]) + "#level", 302)]
    assert 'value="77/QĐ-TEST"' in response.content.decode()
    # A field left empty comes back in red with the message.
    response = client.post(reverse("registry:system_step", args=[system.pk, "approve"]),
                           {"approve-decision_number": "78/QĐ-TEST"}, follow=True)
    [form] = [s["form"] for s in response.context["steps"] if s["step"] == "approve"]
    assert "decision_date" in form.errors and form["decision_number"].value() == "78/QĐ-TEST"
    # The kept form is used once, and only on its own system's page.
    again = client.get(reverse("registry:system_detail", args=[system.pk]))
    [form] = [s["form"] for s in again.context["steps"] if s["step"] == "approve"]
    assert not form.is_bound
    system.refresh_from_db()
    assert system.level_status == LevelStatus.APPRAISED and system.approved_level is None


def test_a_step_the_user_has_no_right_to_take_is_still_a_403(world, make_system, as_user):
    system = submitted_system(world, make_system)
    response = as_user(world.auditor).post(reverse("registry:system_step", args=[system.pk, "appraise"]),
                                           {"appraise-note": "OK"})
    assert response.status_code == 403
    assert as_user(world.other_admin).post(reverse("registry:system_step", args=[system.pk, "appraise"]),
                                           {"appraise-note": "OK"}).status_code == 404
    system.refresh_from_db()
    assert system.level_status == LevelStatus.SUBMITTED


def test_dossier_upload_and_download_are_permission_checked(world, make_system, as_user):
    system = make_system(world.ministry)
    upload = reverse("registry:system_upload", args=[system.pk])
    response = as_user(world.auditor).post(upload, {"file": SimpleUploadedFile("a.pdf", b"x")})
    assert response.status_code == 403
    response = as_user(world.other_admin).post(upload, {"file": SimpleUploadedFile("a.pdf", b"x")})
    assert response.status_code == 404
    assert as_user(world.analyst).post(upload, {}).status_code == 302  # refused: back to the page (see below)
    assert not DossierFile.objects.exists()

    response = as_user(world.analyst).post(upload, {"file": SimpleUploadedFile("hồ sơ.pdf", b"%PDF-1.4 noi dung")})
    assert response.status_code == 302
    dossier = DossierFile.objects.get()
    url = reverse("registry:dossier_download", args=[dossier.pk])

    response = as_user(world.auditor).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 noi dung"
    assert "attachment" in response["Content-Disposition"]
    assert as_user(world.other_admin).get(url).status_code == 404
    assert as_user(world.responder).get(url).status_code == 404
    assert "/media/" not in as_user(world.analyst).get(reverse("registry:system_detail", args=[system.pk])).content.decode()


def test_system_delete(world, make_system, as_user):
    system = make_system(world.ministry)
    url = reverse("registry:system_delete", args=[system.pk])
    assert as_user(world.analyst).post(url).status_code == 403
    assert as_user(world.other_admin).post(url).status_code == 404
    assert InformationSystem.objects.filter(pk=system.pk).exists()
    assert as_user(world.admin).get(url).status_code == 200
    assert as_user(world.admin).post(url).status_code == 302
    assert not InformationSystem.objects.filter(pk=system.pk).exists()
    # A system whose level was submitted is on record: no Delete button, and a refusal that changes nothing.
    submitted = submitted_system(world, make_system)
    page = as_user(world.admin).get(reverse("registry:system_detail", args=[submitted.pk])).content.decode()
    assert reverse("registry:system_delete", args=[submitted.pk]) not in page
    response = as_user(world.admin).post(reverse("registry:system_delete", args=[submitted.pk]))
    assert response.status_code == 409 and InformationSystem.objects.filter(pk=submitted.pk).exists()


def test_step_forms_mark_what_they_require_ask_first_and_say_what_was_done(world, make_system, as_user):
    system = submitted_system(world, make_system)
    client = as_user(world.admin)
    detail = reverse("registry:system_detail", args=[system.pk])
    [appraise] = [s for s in client.get(detail).context["steps"] if s["step"] == "appraise"]
    assert appraise["form"].fields["note"].required and appraise["confirm"]
    html = client.get(detail).content.decode()
    form = html.split('class="step step-appraise"', 1)[1].split("</form>", 1)[0]
    assert 'class="req"' in form and "required" in form and "data-confirm=" in form
    with translation.override("vi"):
        response = client.post(reverse("registry:system_step", args=[system.pk, "appraise"]),
                               {"appraise-note": "Đạt", "confirmed": "1"}, follow=True, HTTP_ACCEPT_LANGUAGE="vi")
        shown = [str(m) for m in response.context["messages"]]
    assert shown == [str(STEP_DONE["appraise"])] and "Done:" not in shown[0]


def test_a_dossier_file_is_removed_from_the_page_and_the_api(world, make_system, as_user, api):
    system = make_system(world.ministry)
    kept = services.do_add_dossier_file(system, SimpleUploadedFile("a.pdf", b"%PDF-1.4 a"), acting_user=world.analyst)
    wrong = services.do_add_dossier_file(system, SimpleUploadedFile("b.pdf", b"%PDF-1.4 b"), acting_user=world.analyst)
    remove = reverse("registry:dossier_remove", args=[wrong.pk])
    assert as_user(world.other_admin).post(remove).status_code == 404
    assert as_user(world.auditor).post(remove).status_code == 403
    page = as_user(world.analyst).get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    assert remove in page
    response = as_user(world.analyst).post(remove, {"confirmed": "1"}, follow=True)
    assert response.redirect_chain[-1][0].endswith("#dossier")
    assert [f.pk for f in system.dossier_files.all()] == [kept.pk]
    url = f"/api/registry/systems/{system.pk}/dossier/{kept.pk}/"
    assert api(world.other_admin).delete(url).status_code == 404
    assert api(world.auditor).delete(url).status_code == 403
    assert api(world.analyst).delete(f"/api/registry/systems/{system.pk}/dossier/{wrong.pk}/").status_code == 404
    assert api(world.analyst).delete(url).status_code == 204 and not system.dossier_files.exists()


def test_an_unwanted_file_kind_is_refused_on_the_page_with_the_reason(world, make_system, as_user):
    system = make_system(world.ministry)
    response = as_user(world.analyst).post(reverse("registry:system_upload", args=[system.pk]),
                                           {"file": SimpleUploadedFile("malware.exe", b"MZ\x90")}, follow=True)
    assert any(".exe" in str(m) or "malware.exe" in str(m) for m in response.context["messages"])
    assert not system.dossier_files.exists()


# --- ISACs ---------------------------------------------------------------------------------


def test_isac_pages(world, as_user):
    client = as_user(world.admin)
    assert client.get(reverse("registry:isac_create")).status_code == 200
    response = client.post(reverse("registry:isac_create"), {
        "code": "ISAC-MIN", "name_vi": "ISAC Bộ", "name_en": "", "sector": "", "operator": str(world.ministry.pk),
        "description": "", "members": [str(world.department.pk), str(world.province.pk)]})
    assert response.status_code == 302
    isac = Isac.objects.get(code="ISAC-MIN")
    assert set(isac.members.values_list("code", flat=True)) == {"MIN-D1", "PROV"}

    # A member organization sees the ISAC; it cannot edit it.
    province_client = as_user(world.other_admin)
    assert province_client.get(reverse("registry:isac_detail", args=[isac.pk])).status_code == 200
    assert province_client.get(reverse("registry:isac_edit", args=[isac.pk])).status_code == 403
    # An organization outside the ISAC does not see it.
    assert as_user(world.responder).get(reverse("registry:isac_detail", args=[isac.pk])).status_code == 404
    assert as_user(world.analyst).get(reverse("registry:isac_create")).status_code == 403
    # Operator limited to organizations the user manages.
    response = as_user(world.other_admin).post(reverse("registry:isac_create"), {
        "code": "ISAC-X", "name_vi": "X", "operator": str(world.ministry.pk)})
    assert response.status_code == 400 and not Isac.objects.filter(code="ISAC-X").exists()


# --- imports -------------------------------------------------------------------------------


def test_import_page_rights_template_and_job(world, as_user, settings):
    settings.KHIEN_IMPORT_SYNC = True
    assert as_user(world.analyst).get(reverse("registry:import")).status_code == 403
    client = as_user(world.admin)
    assert client.get(reverse("registry:import")).status_code == 200

    template = client.get(reverse("registry:import"), {"template": "organizations"})
    assert template.status_code == 200
    header = template.content.decode("utf-8-sig").strip().split(",")
    assert "code" in header and "name_vi" in header
    assert client.get(reverse("registry:import"), {"template": "nope"}).status_code == 400

    response = client.post(reverse("registry:import"), {"kind": "organizations", "file": SimpleUploadedFile("a.pdf", b"x")})
    assert response.status_code == 400 and not ImportJob.objects.exists()

    upload = SimpleUploadedFile("donvi.csv", org_csv(header, [
        {"code": "MIN-D9", "name_vi": "Cục Chín", "org_type": "agency", "parent_code": "MIN"}]), content_type="text/csv")
    response = client.post(reverse("registry:import"), {"kind": "organizations", "file": upload})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("registry:import_job", args=[job.pk])
    page = client.get(response["Location"])
    assert page.status_code == 200 and job.status == "done", job.errors
    assert Organization.objects.get(code="MIN-D9").parent == world.ministry
    progress = client.get(reverse("registry:import_progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert progress.status_code == 200 and b"every 1s" not in progress.content  # finished: polling stops
    assert b"<html" not in progress.content

    # Another user (not the coordinator) cannot see the job.
    assert as_user(world.other_admin).get(reverse("registry:import_job", args=[job.pk])).status_code == 404
    assert as_user(world.other_admin).get(reverse("registry:import_progress", args=[job.pk])).status_code == 404


def test_import_job_page_polls_while_running(world, as_user):
    job = ImportJob.objects.create(kind="organizations", original_name="x.csv", created_by=world.admin,
                                   total_rows=10, processed_rows=4, status="validating")
    response = as_user(world.admin).get(reverse("registry:import_progress", args=[job.pk]))
    assert b'hx-trigger="every 1s"' in response.content and b"<progress" in response.content


def test_import_rejected_rows_are_listed(world, as_user):
    job = ImportJob.objects.create(kind="organizations", original_name="x.csv", created_by=world.admin,
                                   total_rows=2, processed_rows=2, status="rejected",
                                   errors=[{"row": 3, "field": "code", "message": "Mã đã tồn tại"}])
    response = as_user(world.admin).get(reverse("registry:import_job", args=[job.pk]))
    assert "Mã đã tồn tại" in response.content.decode() and b"every 1s" not in response.content


def org_csv(header, rows):
    out = io.StringIO()
    out.write(",".join(header) + "\n")
    for row in rows:
        out.write(",".join(row.get(c, "") for c in header) + "\n")
    return out.getvalue().encode("utf-8")


def test_import_through_the_page_is_all_or_nothing(world, as_user, settings):
    """A file with one bad row creates nothing; the job page lists the row."""
    settings.KHIEN_IMPORT_SYNC = True
    from khien.registry.imports import COLUMNS

    content = org_csv(COLUMNS["organizations"], [
        {"code": "MIN-D7", "name_vi": "Cục Bảy", "org_type": "agency", "parent_code": "MIN"},
        {"code": "MIN-D8", "name_vi": "Cục Tám", "org_type": "not-a-type", "parent_code": "MIN"},
    ])
    client = as_user(world.admin)
    response = client.post(reverse("registry:import"), {
        "kind": "organizations", "file": SimpleUploadedFile("bad.csv", content)})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.status == "rejected"
    assert [e["row"] for e in job.errors] == [3] and job.errors[0]["field"] == "org_type"
    page = client.get(response["Location"])
    assert b"org_type" in page.content and b'class="list compact rejected"' in page.content
    assert not Organization.objects.filter(code__in=["MIN-D7", "MIN-D8"]).exists()


def test_untouched_filter_form_filters_nothing(world, as_user, make_system):
    """Submitting the filter form as displayed (every select on its empty choice) lists every visible system."""
    for level in (1, 2, 3):
        make_system(world.ministry, approved_level=level, proposed_level=level)
    client = as_user(world.admin)
    page = client.get(reverse("registry:system_list"))
    form = page.context["filter"].form
    submitted = {name: (field.initial or "") for name, field in form.fields.items()}
    response = client.get(reverse("registry:system_list"), submitted)
    assert response.context["page"].paginator.count == 3
    assert '<option value="" selected>' in page.content.decode()
    assert client.get(reverse("registry:system_list"), {"level": "2"}).context["page"].paginator.count == 1


def test_system_dates_outside_the_platforms_years_are_refused_on_the_page(world, make_system, as_user):
    system = make_system(world.ministry)
    url = reverse("registry:system_edit", args=[system.pk])
    client = as_user(world.analyst)
    for name, value in (("layer3_assessed_on", "0001-01-01"), ("layer4_connected_on", "9999-12-31")):
        response = client.post(url, system_post(world.ministry, code=system.code, name="Đổi tên", **{name: value}))
        assert response.status_code == 400 and name in response.context["form"].errors
    system.refresh_from_db()
    assert system.name != "Đổi tên" and system.layer3_assessed_on is None and system.layer4_connected_on is None
    response = client.post(url, system_post(world.ministry, code=system.code, name="Đổi tên",
                                            layer4_connected_on="2024-05-01", layer4_status="in_place"))
    assert response.status_code == 302


def test_the_system_form_reads_in_the_readers_language_and_names_organizations_by_code(world, as_user):
    client = as_user(world.admin)
    page = client.get(reverse("registry:system_create")).content.decode()
    assert ">Cấp độ 3</option>" in page
    assert f">{world.ministry.code} — {world.ministry.name}</option>" in page
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("registry:system_create")).content.decode()
    assert ">Level 3</option>" in page and "Cấp độ" not in page


# --- A refused upload, a justification the approver reads, who may delete or switch off -------------------------


def test_a_refused_dossier_upload_redirects_to_the_system_page_which_shows_why(world, make_system, as_user,
                                                                                settings):
    """Post/redirect/get, as for a refused step: the refusal was rendered at the upload's address, where reloading
    the page sent the file again."""
    settings.KHIEN_MAX_UPLOAD_BYTES = 2**20
    system = make_system(world.ministry)
    client = as_user(world.analyst)
    upload = reverse("registry:system_upload", args=[system.pk])
    back = reverse("registry:system_detail", args=[system.pk]) + "#dossier"
    before = AuditEntry.objects.count()
    with translation.override("vi"):
        too_large = gettext("The file is larger than the limit of %(mb)s MB.") % {"mb": 1}
    refusals = [
        ({"file": SimpleUploadedFile("lon.pdf", b"x" * (2**20 + 1))}, too_large),  # too large
        ({"file": SimpleUploadedFile("rong.pdf", b"")}, None),  # empty
        ({}, None),  # no file chosen
    ]
    for data, reason in refusals:
        response = client.post(upload, data)
        assert response.status_code == 302 and response.url == back
        page = client.get(response.url)
        [(level, text)] = [(m.level_tag, str(m)) for m in page.context["messages"]]
        assert level == "error" and text in page.content.decode()
        if reason:
            assert reason in text
        assert not client.get(back).context["messages"]  # a reload shows the page, not the refusal again
    # A proposal no longer open takes no file: refused the same way.
    submitted = submitted_system(world, make_system)
    response = client.post(reverse("registry:system_upload", args=[submitted.pk]),
                           {"file": SimpleUploadedFile("them.pdf", b"%PDF-1.4")})
    assert response.status_code == 302
    assert [m.level_tag for m in client.get(response.url).context["messages"]] == ["error"]
    assert not DossierFile.objects.filter(system=system).exists()
    assert submitted.dossier_files.count() == 1
    assert AuditEntry.objects.count() == before + 3  # the submitted system's making only (update, file, submit)


def test_the_justification_of_a_level_below_the_suggestion_goes_with_the_submission(world, make_system, as_user,
                                                                                    api):
    """The appraiser and the approver read the submission in the level's history: it carries why the level is
    below the suggestion, as written when it was submitted."""
    system = make_system(world.ministry)
    why = "Hệ thống chỉ phục vụ thí điểm nội bộ trong 6 tháng."
    services.do_update_system(system, {"criteria": LEVEL2_ANSWERS, "proposed_level": 1, "level_justification": why},
                              acting_user=world.analyst)
    services.do_add_dossier_file(system, SimpleUploadedFile("hoso.pdf", b"%PDF-1.4"), acting_user=world.analyst)
    response = as_user(world.analyst).post(reverse("registry:system_step", args=[system.pk, "submit"]),
                                           {"confirmed": "1"})
    assert response.status_code == 302
    [event] = LevelEvent.objects.filter(system=system, action="submit")
    assert why in event.note and "1" in event.note and "2" in event.note
    # Where the approver looks: the history on the system's page, and the API's.
    page = as_user(world.admin).get(reverse("registry:system_detail", args=[system.pk])).content.decode()
    history = page.split('id="history"', 1)[1].split("</section>", 1)[0]
    assert why in history
    events = api(world.admin).get(f"/api/registry/systems/{system.pk}/events/").json()
    assert why in events[0]["note"]
    # A level at the suggestion needs no justification, and its submission carries none.
    plain = submitted_system(world, make_system)
    assert LevelEvent.objects.get(system=plain, action="submit").note == ""


def test_deleting_ones_own_top_level_organization_says_who_may(world, as_user, coordinator_client):
    """Typed into the address bar, the deletion of one's own organization answered a bare 403: the page now has
    the platform's layout and says, in the user's language, who may delete it."""
    url = reverse("registry:organization_delete", args=[world.ministry.pk])
    # The coordinator is offered the deletion (refused here: the ministry still has a unit).
    page = coordinator_client.get(url)
    assert page.status_code == 200 and b'id="blocking"' in page.content
    client = as_user(world.admin)
    for lang in ("vi", "en"):
        client.post(reverse("set_language"), {"language": lang, "next": "/"})
        with translation.override(lang):
            expected = services.deletion_denied_message(world.ministry)
        for response in (client.get(url), client.post(url)):
            assert response.status_code == 403
            page = response.content.decode()
            assert 'class="mainnav"' in page and 'id="delete-error"' in page
            assert escape(expected) in page
            assert "<form method=\"post\">" not in page  # no delete button
    assert "national coordinator" in expected
    # A unit: named with the organization above it, whose administrators may.
    Membership.objects.filter(organization=world.department).delete()
    response = as_user(world.analyst).get(reverse("registry:organization_delete", args=[world.department.pk]))
    assert response.status_code == 403 and escape(world.ministry.name) in response.content.decode()
    assert Organization.objects.filter(pk__in=[world.ministry.pk, world.department.pk]).count() == 2


def test_an_administrator_cannot_switch_off_their_own_organization(world, as_user):
    """Switched off, the organization locks its own administrator out as surely as deleted: the same rule as
    deleting it (the right over its parent)."""
    client = as_user(world.admin)
    url = reverse("registry:organization_edit", args=[world.ministry.pk])
    form = client.get(url).context["form"]
    assert form.fields["is_active"].disabled and not form.fields["code"].disabled
    before = AuditEntry.objects.count()
    response = client.post(url, org_post(None, code="MIN", name_vi="Bộ", org_type="ministry", is_active=""))
    assert response.status_code == 302  # the other fields are saved; "active" is not changeable here
    world.ministry.refresh_from_db()
    assert world.ministry.is_active and world.ministry.name_vi == "Bộ"
    assert AuditEntry.objects.count() == before + 1
    # A unit under it, they may.
    url = reverse("registry:organization_edit", args=[world.department.pk])
    assert not client.get(url).context["form"].fields["is_active"].disabled
    response = client.post(url, org_post(world.ministry, code="MIN-D1", name_vi="Cục", is_active=""))
    assert response.status_code == 302
    world.department.refresh_from_db()
    assert not world.department.is_active


def test_a_step_the_record_does_not_allow_is_refused_before_it_is_asked(world, make_system, as_user, head):
    """Without JavaScript a step is confirmed on a page of its own: a submission without a dossier, or an approval
    dated before its submission, is refused there and then, not asked first and refused after the yes."""
    system = make_system(world.ministry)
    services.do_update_system(system, {"criteria": LEVEL1_ANSWERS, "proposed_level": 1}, acting_user=world.analyst)
    assert not system.dossier_files.exists()
    client = as_user(world.analyst)
    with translation.override("vi"):
        response = client.post(reverse("registry:system_step", args=[system.pk, "submit"]), {"submit-note": ""},
                               follow=True, HTTP_ACCEPT_LANGUAGE="vi")
        shown = [str(m) for m in response.context["messages"]]
    assert 'name="confirmed"' not in response.content.decode()  # not the page that asks
    assert any("hồ sơ" in m for m in shown), shown
    system.refresh_from_db()
    assert system.level_status == "draft" and not system.level_events.exists()
    # The record allows it: asked first. An approval dated before the submission: refused with the reason, not asked.
    submitted = submitted_system(world, make_system)
    response = as_user(world.admin).post(reverse("registry:system_step", args=[submitted.pk, "appraise"]),
                                         {"appraise-note": "Đạt"})
    assert response.status_code == 200 and 'name="confirmed"' in response.content.decode()
    services.do_level_step(submitted, "appraise", acting_user=world.admin, note="Đạt")
    earlier = (timezone.localdate() - dt.timedelta(days=3)).isoformat()
    with translation.override("vi"):
        response = as_user(head).post(
            reverse("registry:system_step", args=[submitted.pk, "approve"]),
            {"approve-decision_number": "12/QĐ", "approve-decision_date": earlier}, follow=True,
            HTTP_ACCEPT_LANGUAGE="vi")
        shown = [str(m) for m in response.context["messages"]]
    assert 'name="confirmed"' not in response.content.decode()
    assert any("trước khi" in m or "trước ngày" in m for m in shown), shown
    submitted.refresh_from_db()
    assert submitted.level_status == "appraised" and not submitted.decision_number
