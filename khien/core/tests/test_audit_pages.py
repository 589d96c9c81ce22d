"""The audit log as people read it: who sees which entries (page, entry page and API alike), search and filters,
an entry's before/after, and entries shown in words rather than codes and ids."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from khien.core import audit
from khien.core import services as core_services
from khien.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _rows(response) -> str:
    page = response.content.decode()
    return page[page.index("<tbody>"):page.index("</tbody>")]


def _entry_of(object_type, actor, action=None):
    qs = AuditEntry.objects.filter(object_type=object_type, actor_id=str(actor.pk))
    if action:
        qs = qs.filter(action=action)
    return qs.order_by("-seq").first()


# --- who sees what -----------------------------------------------------------------------------------------

def test_an_org_admin_sees_their_own_sign_ins_and_tokens(client, world, api):
    token, _key = core_services.do_create_api_token(world.admin, acting_user=world.admin, name="SOC")
    core_services.do_revoke_api_token(token, acting_user=world.admin)
    client.post("/accounts/login/", {"username": world.admin.email, "password": "Khien-test-pass-2026"})
    created = _entry_of("core.apitoken", world.admin, "create")
    revoked = _entry_of("core.apitoken", world.admin, "update")
    login = _entry_of("core.user", world.admin, "login")
    assert created.organization_id == ""  # a token is filed under no organization
    assert login.organization_id == str(world.ministry.pk)  # a sign-in under the person's organization

    page = client.get(reverse("core:audit")).content.decode()
    for entry in (created, revoked, login):
        assert f'href="/audit/{entry.seq}/"' in page
        assert client.get(reverse("core:audit_entry", args=[entry.seq])).status_code == 200
    seqs = {row["seq"] for row in api(world.admin).get("/api/audit/?limit=500").json()["results"]}
    assert {created.seq, revoked.seq, login.seq} <= seqs
    assert api(world.admin).get(f"/api/audit/{login.seq}/").status_code == 200


def test_others_personal_actions_and_other_organizations_stay_hidden(client, world, api):
    """Denials: another person's sign-in or token, and what was done in another organization tree, are not
    listed, and their entry pages and API entries answer 404 as if they did not exist."""
    core_services.do_create_api_token(world.other_admin, acting_user=world.other_admin, name="Prov")
    theirs = _entry_of("core.apitoken", world.other_admin, "create")
    from khien.registry import services as registry_services

    org = registry_services.do_create_organization(
        {"code": "PROV-X", "name_vi": "Xã mới", "org_type": "commune", "parent": world.province},
        acting_user=world.other_admin)
    other_tree = AuditEntry.objects.filter(object_type="registry.organization", object_id=str(org.pk)).get()

    for reader in (world.admin, world.analyst):
        client.force_login(reader)
        page = client.get(reverse("core:audit")).content.decode()
        for entry in (theirs, other_tree):
            assert f'href="/audit/{entry.seq}/"' not in page
            assert client.get(reverse("core:audit_entry", args=[entry.seq])).status_code == 404
            assert api(reader).get(f"/api/audit/{entry.seq}/").status_code == 404
        seqs = {row["seq"] for row in api(reader).get("/api/audit/?limit=500").json()["results"]}
        assert theirs.seq not in seqs and other_tree.seq not in seqs
    assert client.get(reverse("core:audit_entry", args=[999999])).status_code == 404
    # the province's own admin sees what was done in the province; nobody without a role sees it
    client.force_login(world.other_admin)
    assert client.get(reverse("core:audit_entry", args=[other_tree.seq])).status_code == 200
    client.force_login(world.nobody)
    assert client.get(reverse("core:audit_entry", args=[other_tree.seq])).status_code == 404
    client.logout()
    assert client.get(reverse("core:audit_entry", args=[other_tree.seq])).status_code == 302  # to sign-in


def test_the_coordinator_sees_every_entry(coordinator_client, world):
    core_services.do_create_api_token(world.admin, acting_user=world.admin, name="SOC")
    entry = _entry_of("core.apitoken", world.admin, "create")
    assert coordinator_client.get(reverse("core:audit_entry", args=[entry.seq])).status_code == 200


def test_an_org_admin_sees_what_members_did_in_the_organization(client, world, make_system):
    system = make_system(world.department)
    audit.record(audit.Act.CREATE, system, actor=world.dept_analyst)
    entry = AuditEntry.objects.order_by("-seq").first()
    client.force_login(world.admin)  # the ministry's admin: the department is one of its units
    assert client.get(reverse("core:audit_entry", args=[entry.seq])).status_code == 200


# --- search and filters ------------------------------------------------------------------------------------

def test_search_finds_the_actor_by_e_mail_and_name(client, world, make_system):
    system = make_system(world.ministry)
    audit.record(audit.Act.CREATE, system, actor=world.analyst)
    mine = AuditEntry.objects.order_by("-seq").first()
    client.force_login(world.admin)
    for words in ("analyst@min.test.vn", "ANALYST@min", world.analyst.full_name):
        assert f'href="/audit/{mine.seq}/"' in _rows(client.get(reverse("core:audit"), {"q": words}))
    assert f'href="/audit/{mine.seq}/"' in _rows(client.get(reverse("core:audit"), {"q": system.name}))
    assert "/audit/" not in _rows(client.get(reverse("core:audit"), {"q": "no-such-person@nowhere.vn"}))


def test_filters_by_user_action_and_period_on_the_page_and_the_api(client, world, api, make_system):
    system = make_system(world.ministry)
    audit.record(audit.Act.CREATE, system, actor=world.analyst)
    created = AuditEntry.objects.order_by("-seq").first()
    audit.record(audit.Act.UPDATE, system, actor=world.admin, before={"name": "x"})
    changed = AuditEntry.objects.order_by("-seq").first()
    today = timezone.localdate()
    client.force_login(world.admin)

    def listed(**params):
        return {e.seq for e in client.get(reverse("core:audit"), params).context["page"]}

    def api_listed(**params):
        response = api(world.admin).get("/api/audit/", {"limit": 500, **params})
        assert response.status_code == 200, response.content
        return {row["seq"] for row in response.json()["results"]}

    for found in (listed, api_listed):
        by_user = found(actor="analyst@min")
        assert created.seq in by_user and changed.seq not in by_user
        by_action = found(action="update")
        assert changed.seq in by_action and created.seq not in by_action
        # dd/mm/yyyy as on the pages; a bare "until" date takes in that whole day
        day = today.strftime("%d/%m/%Y")
        assert {created.seq, changed.seq} <= found(since=day, until=day)
        assert created.seq not in found(until=(today - dt.timedelta(days=1)).strftime("%d/%m/%Y"))
        assert created.seq not in found(since=(today + dt.timedelta(days=1)).isoformat())
    # what is neither a date nor an action is refused with a message, not ignored
    refused = client.get(reverse("core:audit"), {"since": "31/02/2026"})
    assert refused.status_code == 400 and 'role="alert"' in refused.content.decode()
    reversed_period = client.get(reverse("core:audit"), {"since": "05/12/2026", "until": "01/12/2026"})
    assert reversed_period.status_code == 400
    assert "Thời điểm bắt đầu của khoảng thời gian nằm sau thời điểm kết thúc." in reversed_period.content.decode()
    assert client.get(reverse("core:audit"), {"action": "forged"}).status_code == 400
    assert api(world.admin).get("/api/audit/", {"since": "13/13/2026"}).status_code == 400
    page = client.get(reverse("core:audit")).content.decode()
    for name in ("q", "actor", "action", "since", "until"):
        assert f'name="{name}"' in page


# --- how entries read --------------------------------------------------------------------------------------

def test_a_token_revocation_reads_as_a_revocation_and_the_chain_still_verifies(client, world):
    token, _key = core_services.do_create_api_token(world.admin, acting_user=world.admin, name="SOC")
    core_services.do_revoke_api_token(token, acting_user=world.admin)
    revoked = _entry_of("core.apitoken", world.admin, "update")
    assert revoked.action == "update"  # the stored, hashed code is unchanged…
    client.force_login(world.admin)
    row = client.get(reverse("core:audit_entry", args=[revoked.seq])).content.decode()
    assert "Thu hồi token API" in row or "API token revoked" in row  # …the reader sees a revocation
    assert ">Thay đổi<" not in row and ">Changed<" not in row
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert ">API token revoked<" in client.get(reverse("core:audit_entry", args=[revoked.seq])).content.decode()
    assert audit.verify().ok


def test_an_entry_page_shows_before_and_after(client, world, make_system):
    system = make_system(world.ministry, name="Cổng dịch vụ công")
    audit.record(audit.Act.UPDATE, system, actor=world.admin, before={**audit.snapshot(system), "name": "Cổng cũ"})
    entry = AuditEntry.objects.order_by("-seq").first()
    client.force_login(world.admin)
    response = client.get(reverse("core:audit_entry", args=[entry.seq]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Cổng cũ" in page and "Cổng dịch vụ công" in page and entry.hash in page and entry.prev_hash in page
    name_row = next(r for r in response.context["changes"] if r["field"] == "name")
    assert name_row["changed"] and not next(r for r in response.context["changes"] if r["field"] == "code")["changed"]
    assert world.ministry.name_vi in page  # the organization by name
    # the owner's id in the snapshot is named too
    owner_row = next(r for r in response.context["changes"] if r["field"] == "owner_id")
    assert owner_row["after_name"] == str(world.ministry)
    # Fields by their names, choices by their labels, times in Vietnam time: what staff read, not the code's words.
    rows = {r["field"]: r for r in response.context["changes"]}
    assert rows["owner_id"]["label"] == "Cơ quan chủ quản" and rows["name"]["label"] == "Tên"
    assert rows["operational_status"]["after_name"] == str(system.get_operational_status_display())
    created = timezone.localtime(system.created_at).strftime("%d/%m/%Y %H:%M")
    assert rows["created_at"]["after_name"] == created and created in page


def test_ids_in_an_entry_are_shown_as_names_the_reader_may_see(client, world, make_system):
    """A responder assignment reads "<incident> → <organization>", not two UUIDs; an object the reader may not
    see keeps its id (its name is not disclosed)."""
    from khien.incidents import content, services

    content.load_all()
    incident = services.do_report_incident({
        "organization": world.ministry, "title": "Mã độc tống tiền", "detected_at": timezone.now(),
        "category": "infected-system", "severity": "high", "suspected_malicious": True,
        "impact_beyond_organization": False, "description": "Thử nghiệm."}, acting_user=world.analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    entry = AuditEntry.objects.filter(object_type="incidents.responderassignment").get()
    assert str(incident.pk) in entry.object_repr  # what is stored is the ids
    client.force_login(world.admin)
    rows = _rows(client.get(reverse("core:audit")))
    assert f"{incident.reference} Mã độc tống tiền → {world.responder_org}" in rows
    assert str(incident.pk) not in rows
    # a reader who may not see the incident (the entry is their own, filed elsewhere) gets the id, not the title
    assignment = incident.assignments.get()
    audit.record(audit.Act.CREATE, assignment, actor=world.other_admin, organization_id=str(world.ministry.pk))
    client.force_login(world.other_admin)
    rows = _rows(client.get(reverse("core:audit")))
    assert str(incident.pk) in rows and "Mã độc tống tiền" not in rows


def test_texts_written_in_english_by_the_platform_go_through_the_catalogue(world):
    """"+7 STIX versions" is stored as written (it is hashed) and shown in the reader's language."""
    from django.utils import translation

    audit.record(audit.Act.IMPORT, None, actor=world.admin, object_type="intel.collection", object_id="c1",
                 object_repr="Kênh quốc gia: +7 STIX versions", organization_id=str(world.ministry.pk))
    entry = AuditEntry.objects.order_by("-seq").first()
    with translation.override("en"):
        assert audit.describe([entry])[0].text == "Kênh quốc gia: +7 STIX versions"
    with translation.override("vi"):
        assert audit.describe([entry])[0].text == "Kênh quốc gia: +7 phiên bản STIX"
    assert AuditEntry.objects.get(seq=entry.seq).object_repr == "Kênh quốc gia: +7 STIX versions"  # stored as is
    assert audit.verify().ok


# --- revocations as a filter -------------------------------------------------------------------------------

def test_revocations_have_their_own_action_filter_on_the_page_and_the_api(client, world, api):
    """A token's revocation reads "API token revoked", also a choice of the action filter: it lists the
    revocations, and "Changed" no longer does (the stored code stays "update")."""
    token, _key = core_services.do_create_api_token(world.admin, acting_user=world.admin, name="SOC")
    core_services.do_revoke_api_token(token, acting_user=world.admin)
    revoked = _entry_of("core.apitoken", world.admin, "update")
    created = _entry_of("core.apitoken", world.admin, "create")
    # an API token's other change (its name), and a revoked token changed again, are changes, not revocations
    other = audit.record(audit.Act.UPDATE, token, actor=world.admin, before={"name": "SOC", "revoked_at": None},
                         after={"name": "SOC 2", "revoked_at": None})
    again = audit.record(audit.Act.UPDATE, token, actor=world.admin, before=audit.snapshot(token),
                         after={**audit.snapshot(token), "name": "SOC 3"})
    client.force_login(world.admin)

    def listed(**params):
        response = client.get(reverse("core:audit"), params)
        assert response.status_code == 200
        return {e.seq for e in response.context["page"]}

    def api_listed(**params):
        response = api(world.admin).get("/api/audit/", {"limit": 500, **params})
        assert response.status_code == 200, response.content
        return {row["seq"] for row in response.json()["results"]}

    for found in (listed, api_listed):
        assert found(action="revoked") == {revoked.seq}
        changed = found(action="update")
        assert {other.seq, again.seq} <= changed and revoked.seq not in changed and created.seq not in changed
    page = client.get(reverse("core:audit")).content.decode()
    assert '<option value="revoked">Thu hồi token API</option>' in page
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert '<option value="revoked">API token revoked</option>' in client.get(reverse("core:audit")).content.decode()
    assert client.get(reverse("core:audit"), {"action": "revoke"}).status_code == 400  # not a choice
    assert audit.verify().ok


# --- searching by the names the page shows -----------------------------------------------------------------

def _report_incident(world, title="Mã độc tống tiền"):
    from khien.incidents import content, services

    content.load_all()
    return services.do_report_incident({
        "organization": world.ministry, "title": title, "detected_at": timezone.now(),
        "category": "infected-system", "severity": "high", "suspected_malicious": True,
        "impact_beyond_organization": False, "description": "Thử nghiệm."}, acting_user=world.analyst)


def test_search_finds_entries_by_the_names_shown_in_place_of_ids(client, world, api):
    """"<incident> → <organization>" is stored as two ids: searching the incident's title or the responder's name
    finds it, on the page and in the API; so does the name of the organization an entry is filed under."""
    from khien.incidents import services

    incident = _report_incident(world)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    entry = AuditEntry.objects.filter(object_type="incidents.responderassignment").get()
    assert "Mã độc" not in entry.object_repr and world.responder_org.name_vi not in entry.object_repr
    client.force_login(world.admin)
    for words in ("mã độc tống", world.responder_org.name_vi, world.responder_org.name_en.upper()):
        assert f'href="/audit/{entry.seq}/"' in _rows(client.get(reverse("core:audit"), {"q": words})), words
        seqs = {r["seq"] for r in api(world.admin).get("/api/audit/", {"q": words, "limit": 500}).json()["results"]}
        assert entry.seq in seqs, words
    # the organization column: entries filed under the ministry, found by its English name
    filed = {e.seq for e in client.get(reverse("core:audit"), {"q": world.ministry.name_en}).context["page"]}
    assert entry.seq in filed
    assert "/audit/" not in _rows(client.get(reverse("core:audit"), {"q": "Không có tên nào như thế"}))


def test_a_name_search_tells_nothing_of_objects_the_reader_may_not_see(client, world):
    """Denial: the province's admin reads an entry of their own that holds the id of the ministry's incident (as
    in the test above, the page shows the id, not the title); searching the incident's title must not find it —
    it would tell them which hidden incident the id stands for."""
    incident = _report_incident(world, title="Rò rỉ dữ liệu bí mật")
    assignment_repr = f"{incident.pk} → {world.responder_org.pk}"
    audit.record(audit.Act.CREATE, None, actor=world.other_admin, object_type="incidents.responderassignment",
                 object_id="x", object_repr=assignment_repr, organization_id=str(world.province.pk),
                 after={"incident_id": str(incident.pk), "responder_id": str(world.responder_org.pk)})
    mine = AuditEntry.objects.order_by("-seq").first()
    client.force_login(world.other_admin)
    assert f'href="/audit/{mine.seq}/"' in _rows(client.get(reverse("core:audit")))
    assert "/audit/" not in _rows(client.get(reverse("core:audit"), {"q": "Rò rỉ dữ liệu"}))
    # …while the organization's name (the directory is not secret) finds it, as the page shows it
    assert f'href="/audit/{mine.seq}/"' in _rows(client.get(reverse("core:audit"), {"q": world.responder_org.name_vi}))
    # the ministry's analyst, who may see the incident, finds their own entries about it by its title
    client.force_login(world.admin)
    assert AuditEntry.objects.visible_to(world.admin).filter(object_id=str(incident.pk)).exists()
    found = {e.seq for e in client.get(reverse("core:audit"), {"q": "Rò rỉ dữ liệu"}).context["page"]}
    assert set(AuditEntry.objects.visible_to(world.admin).filter(object_id=str(incident.pk))
               .values_list("seq", flat=True)) <= found


# --- labels stored in the actor's language -----------------------------------------------------------------

def test_an_objects_label_stored_in_one_language_reads_in_the_readers(client, world):
    """An object's label is stored as the person who acted read it (hashed, so kept): an English reader sees the
    object's label in English where the stored text is that same label in Vietnamese; a label that matches no
    language (the object renamed since) stays as stored."""
    from django.utils import translation

    from khien.registry.models import Organization

    org = Organization.objects.get(pk=world.department.pk)
    org.name_vi, org.name_en = "Cục An toàn thông tin", "Authority of Information Security"
    org.save()
    with translation.override("vi"):
        labelled = audit.record(audit.Act.UPDATE, org, actor=world.admin, before={"name_vi": "x"})
    renamed = audit.record(audit.Act.UPDATE, org, actor=world.admin, before={"name_vi": "y"},
                           object_repr="Cục cũ")
    assert labelled.object_repr == "Cục An toàn thông tin"  # stored in Vietnamese
    client.force_login(world.admin)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    rows = _rows(client.get(reverse("core:audit")))
    assert "Authority of Information Security" in rows and "Cục An toàn thông tin" not in rows
    assert "Cục cũ" in rows  # the name it had
    assert "Cục cũ" in client.get(reverse("core:audit_entry", args=[renamed.seq])).content.decode()
    entry_page = client.get(reverse("core:audit_entry", args=[labelled.seq])).content.decode()
    assert "Authority of Information Security" in entry_page
    client.post(reverse("set_language"), {"language": "vi", "next": "/"})
    assert "Cục An toàn thông tin" in _rows(client.get(reverse("core:audit")))
    assert AuditEntry.objects.get(seq=labelled.seq).object_repr == "Cục An toàn thông tin" and audit.verify().ok


def test_a_choice_label_stored_in_vietnamese_reads_in_english_for_those_who_may_see_the_object(client, world):
    """The demo's "observable · Địa chỉ IPv4: 203.0.113.54" on English pages; and the denial: for a reader who may
    not see the object, the stored text is shown as is (nothing is read from the object)."""
    from django.utils import translation

    from khien.incidents import content, services

    content.load_all()
    with translation.override("vi"):
        services.do_report_incident({
            "organization": world.ministry, "title": "Lừa đảo", "detected_at": timezone.now(),
            "category": "infected-system", "severity": "high", "suspected_malicious": True,
            "impact_beyond_organization": False, "description": "Thử nghiệm."}, acting_user=world.analyst,
            observables=[("ipv4", "203.0.113.54")])
    entry = AuditEntry.objects.get(object_type="incidents.observable")
    assert entry.object_repr == "Địa chỉ IPv4: 203.0.113.54"
    client.force_login(world.admin)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    rows = _rows(client.get(reverse("core:audit")))
    assert "IPv4 address: 203.0.113.54" in rows and "Địa chỉ IPv4" not in rows
    with translation.override("en"):
        assert audit.describe([entry], world.other_admin)[0].text == "Địa chỉ IPv4: 203.0.113.54"
        assert audit.describe([entry], None)[0].text == "Địa chỉ IPv4: 203.0.113.54"


def test_an_entry_shows_what_changed_first_and_folds_the_rest(client, world, make_system):
    """A change of one field of a 40-field record listed all 40 in one table; times showed twice (Vietnam time and
    the stored UTC), yes/no beside True."""
    system = make_system(world.ministry, name="Cổng dịch vụ công")
    audit.record(audit.Act.UPDATE, system, actor=world.admin, before={**audit.snapshot(system), "name": "Cổng cũ"})
    entry = AuditEntry.objects.order_by("-seq").first()
    client.force_login(world.admin)
    response = client.get(reverse("core:audit_entry", args=[entry.seq]), HTTP_ACCEPT_LANGUAGE="vi")
    page = response.content.decode()
    assert [row["field"] for row in response.context["shown"]] == ["name"]
    assert len(response.context["unchanged"]) == len(response.context["changes"]) - 1 > 10
    first_table, folded = page.split("<details>", 1)[0], page.split("<details>", 1)[1]
    assert "Cổng cũ" in first_table and "created_at" not in first_table and 'title="created_at"' in folded
    assert system.created_at.astimezone(dt.timezone.utc).isoformat()[:16] not in page  # no UTC copy of the time


def test_a_workflow_step_says_which_step_it_was(client, world, make_system):
    system = make_system(world.ministry, level_status="submitted", proposed_level=2)
    before = audit.snapshot(system)
    system.level_status = "appraised"
    audit.record(audit.Act.TRANSITION, system, actor=world.admin, before=before)
    entry = AuditEntry.objects.order_by("-seq").first()
    client.force_login(world.admin)
    from django.utils import translation

    with translation.override("en"):
        label = audit.entry_action_label(entry)
        assert label == "Status changed: Submitted for appraisal → Appraised"
    page = client.get(reverse("core:audit"), HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    with translation.override("vi"):
        assert f"→ {system.get_level_status_display()}" in page


def test_a_bad_period_names_the_field_it_is_about(client, world):
    client.force_login(world.admin)
    response = client.get(reverse("core:audit"), {"since": "garbage", "until": "2026-13-45"}, HTTP_ACCEPT_LANGUAGE="vi")
    assert response.status_code == 400
    alert = response.content.decode().split('role="alert"')[1].split("</div>")[0]
    form = response.context["filter"].form
    assert f"{form['since'].label}:" in alert and f"{form['until'].label}:" in alert
