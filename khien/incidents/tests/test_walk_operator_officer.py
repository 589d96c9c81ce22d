"""Walkthrough of a one-person security officer (the reporting organization's administrator), Vietnamese UI:

1. assigning a responder asks first, saying who is e-mailed; whoever assigned a responder may remove that
   assignment of theirs (the coordinator any), and the page says so; nobody else;
2. a file over the size limit is refused at the file field, and the page comes back at the evidence form;
3. a reader who may publish intelligence but has no collection to write to is told so and who can help.
"""
import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from django.utils.html import escape

from khien.conftest import _org, _user
from khien.core.errors import Forbidden
from khien.core.models import Notification, User
from khien.core.roles import Role
from khien.incidents import services
from khien.incidents.models import EventKind, Evidence, ResponderAssignment
from khien.intel import services as intel_services
from khien.registry.models import Isac, Membership

pytestmark = pytest.mark.django_db


def signed_in(user, language="vi"):
    client = Client()  # its own session per person
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language  # the language switch
    return client


def page_of(client, incident):
    return client.get(f"/incidents/{incident.pk}/").content.decode()


def remove_url(incident, responder):
    return f"/incidents/{incident.pk}/assign/{responder.pk}/remove/"


# --- 1. Assigning asks first; the one who assigned may undo it ----------------------------------------------------


def test_the_assign_button_asks_first_and_names_how_many_people_are_emailed(world, report):
    _user("lead@resp.test.vn", world.responder_org, Role.ORG_ADMIN)
    gone = _user("gone@resp.test.vn", world.responder_org, Role.RESPONDER)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    _user("audit@resp.test.vn", world.responder_org, Role.AUDITOR)  # reads only: not e-mailed
    incident = report(org=world.ministry, user=world.analyst)
    with translation.override("en"):
        page = page_of(signed_in(world.admin, "en"), incident)
    form = page[page.index('id="assign-form"'):page.index("</form>", page.index('id="assign-form"'))]
    assert "data-confirm=" in form and "get an urgent e-mail at once" in form
    # The responder, its administrator: two people e-mailed (not the inactive one, nor the auditor).
    assert "RESP — Organization RESP · 2 people e-mailed" in form
    assert "Its response staff, administrators and analysts get an urgent e-mail at once" in form
    # The Vietnamese page too.
    page = page_of(signed_in(world.admin), incident)
    assert "RESP — Tổ chức RESP" in page and 'id="assign-form"' in page


def test_the_administrator_who_assigned_a_responder_removes_it(world, report, django_capture_on_commit_callbacks):
    incident = report(org=world.ministry, user=world.analyst)
    admin = signed_in(world.admin)
    assert admin.post(f"/incidents/{incident.pk}/assign/", {"responder": str(world.responder_org.pk),
                                                            "confirmed": "1"}).status_code == 302
    assignment = incident.assignments.get()
    assert assignment.assigned_by == world.admin
    assert services.may_unassign(world.admin, incident, assignment)
    page = page_of(admin, incident)
    assert f'action="{remove_url(incident, world.responder_org)}"' in page
    assert 'id="unassign-rule"' in page  # who removes what, said beside the list
    Notification.objects.all().delete()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(remove_url(incident, world.responder_org), {"reason": "Chọn nhầm đơn vị", "confirmed": "1"})
    assert response.status_code == 302 and response["Location"].endswith("#responders")
    assert not incident.assignments.exists()
    line = incident.events.get(kind=EventKind.UNASSIGNMENT)
    assert (line.actor, line.text) == (world.admin, "Chọn nhầm đơn vị")
    # The responder's people learn at once that the assignment is withdrawn.
    assert [m.to for m in mail.outbox] == [[world.responder.email]]


def test_the_administrator_removes_their_own_assignment_over_the_api(world, api, report):
    incident = report(org=world.ministry, user=world.analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.admin)
    response = api(world.admin).post(f"/api/incidents/{incident.pk}/unassign/", {"responder": "RESP"}, format="json")
    assert response.status_code == 200 and response.json()["assignments"] == []


def test_nobody_else_removes_an_assignment(world, api, report):
    incident = report(org=world.ministry, user=world.analyst)
    second_admin = _user("admin2@min.test.vn", world.ministry, Role.ORG_ADMIN)
    other_responder = _org("RESP2", "responder")
    # One the coordinator assigned, one the ministry's administrator assigned.
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    services.do_assign_responder(incident, other_responder, acting_user=world.admin)
    by_coordinator = incident.assignments.get(responder=world.responder_org)
    by_admin = incident.assignments.get(responder=other_responder)
    before = list(ResponderAssignment.objects.order_by("pk").values_list("pk", flat=True))

    # The administrator: not the coordinator's assignment (service, page, API).
    assert not services.may_unassign(world.admin, incident, by_coordinator)
    with pytest.raises(Forbidden):
        services.do_unassign_responder(incident, world.responder_org, acting_user=world.admin)
    admin = signed_in(world.admin)
    page = page_of(admin, incident)
    assert f'action="{remove_url(incident, world.responder_org)}"' not in page
    assert f'action="{remove_url(incident, other_responder)}"' in page
    assert admin.post(remove_url(incident, world.responder_org), {"reason": ""}).status_code == 403
    assert api(world.admin).post(f"/api/incidents/{incident.pk}/unassign/", {"responder": "RESP"},
                                 format="json").status_code == 403
    # Another administrator of the same organization: not the first one's assignment, nor the coordinator's.
    for responder in (world.responder_org, other_responder):
        with pytest.raises(Forbidden):
            services.do_unassign_responder(incident, responder, acting_user=second_admin)
        assert signed_in(second_admin).post(remove_url(incident, responder), {"reason": ""}).status_code == 403
    page = page_of(signed_in(second_admin), incident)
    assert 'id="unassign-rule"' in page
    for responder in (world.responder_org, other_responder):
        assert f'action="{remove_url(incident, responder)}"' not in page
    # Those who do not assign: the analyst, the auditor, the responder; another organization does not see it.
    for user in (world.analyst, world.auditor, world.responder):
        for responder in (world.responder_org, other_responder):
            with pytest.raises(Forbidden):
                services.do_unassign_responder(incident, responder, acting_user=user)
    assert signed_in(world.analyst).post(remove_url(incident, other_responder), {"reason": ""}).status_code == 403
    assert signed_in(world.other_admin).post(remove_url(incident, other_responder), {"reason": ""}).status_code == 404
    # Who assigned it but no longer administers the organization: no longer.
    Membership.objects.filter(user=world.admin, organization=world.ministry).update(role=Role.ORG_ANALYST)
    former = User.objects.get(pk=world.admin.pk)
    assert not services.may_unassign(former, incident, by_admin)
    with pytest.raises(Forbidden):
        services.do_unassign_responder(incident, other_responder, acting_user=former)
    assert list(ResponderAssignment.objects.order_by("pk").values_list("pk", flat=True)) == before
    # The coordinator removes either.
    services.do_unassign_responder(incident, other_responder, acting_user=world.coordinator)
    services.do_unassign_responder(incident, world.responder_org, acting_user=world.coordinator)
    assert not incident.assignments.exists()


def test_the_refusal_names_who_removes(world, report):
    incident = report(org=world.ministry, user=world.analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    with translation.override("en"), pytest.raises(Forbidden) as exc:
        services.do_unassign_responder(incident, world.responder_org, acting_user=world.admin)
    assert "the person who assigned this responder" in exc.value.message
    assert "ask the national coordinator" in exc.value.message


def test_the_coordinator_sees_no_own_only_note(world, coordinator_client, report):
    incident = report(org=world.ministry, user=world.analyst)
    services.do_assign_responder(incident, world.responder_org, acting_user=world.admin)
    page = coordinator_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'action="{remove_url(incident, world.responder_org)}"' in page and 'id="unassign-rule"' not in page


# --- 2. A file too large: at the file field, and the page back at the form ----------------------------------------


def test_a_file_too_large_is_refused_at_the_file_field_and_the_page_opens_at_the_form(world, report, settings,
                                                                                   tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.KHIEN_MAX_UPLOAD_BYTES = 5
    incident = report(org=world.ministry, user=world.analyst)
    admin = signed_in(world.admin, "en")
    page = page_of(admin, incident)
    # The forms send the page back at themselves (a page given back with an error opens there).
    assert f'action="/incidents/{incident.pk}/evidence/#evidence-add"' in page
    assert f'action="/incidents/{incident.pk}/evidence/external/#evidence-external"' in page
    with translation.override("en"):
        response = admin.post(f"/incidents/{incident.pk}/evidence/",
                              {"file": SimpleUploadedFile("mail.eml", b"123456"), "note": "Thư lừa đảo"})
        message = "The file is larger than the limit of 0 MB."
    assert response.status_code == 413
    form = response.context["evidence_form"]
    assert form.errors["file"] == [message]
    page = response.content.decode()
    start = page.index('id="evidence-form"')
    evidence_form = page[start:page.index("</form>", start)]
    # The file field is the one marked, with the reason in it (before the next field).
    start = evidence_form.index('<div class="field has-error">')
    file_field = evidence_form[start:evidence_form.index('<div class="field', start + 1)]
    assert 'type="file"' in file_field and escape(message) in file_field
    assert evidence_form.count("has-error") == 1
    assert not Evidence.objects.exists()


def test_an_empty_file_is_still_refused_at_the_field(world, report, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    incident = report(org=world.ministry, user=world.analyst)
    response = signed_in(world.admin).post(f"/incidents/{incident.pk}/evidence/",
                                           {"file": SimpleUploadedFile("empty.txt", b"")})
    assert response.status_code == 400 and response.context["evidence_form"].errors["file"]
    assert not Evidence.objects.exists()


# --- 3. Sharing as STIX without a collection -----------------------------------------------------------------------

OTHERS_SHARE = "the reporting organization and the national coordinator can share them"


def test_an_administrator_without_a_collection_is_told_so_and_who_helps(world, report):
    incident = report(org=world.ministry, user=world.analyst, observables=[("domain", "evil.example.com")])
    with translation.override("en"):
        response = signed_in(world.admin, "en").get(f"/incidents/{incident.pk}/")
    page = response.content.decode()
    assert response.context["share_form"] is None
    box = page[page.index('id="share-by-others"'):page.index("</div>", page.index('id="share-by-others"'))]
    assert "You cannot share these observables as STIX yet: Organization MIN has no intelligence collection" in box
    assert OTHERS_SHARE not in box
    assert 'id="share-create-collection" href="/intel/collections/new/"' in box
    assert "ISAC" not in box  # the ministry belongs to no ISAC
    # Vietnamese by default: the same box, translated or not, never the sentence for response staff.
    page = page_of(signed_in(world.admin), incident)
    assert 'id="share-no-collection"' in page


def test_the_isac_operator_is_named_to_a_member_without_a_collection(world, report):
    operator = _org("ISAC-OP", "agency")
    isac = Isac.objects.create(code="ISAC-FIN", name_vi="ISAC Tài chính", name_en="Finance ISAC", operator=operator)
    isac.members.add(world.ministry)
    incident = report(org=world.ministry, user=world.analyst, observables=[("domain", "evil.example.com")])
    with translation.override("en"):
        page = page_of(signed_in(world.analyst, "en"), incident)
    box = page[page.index('id="share-by-others"'):page.index("</div>", page.index('id="share-by-others"'))]
    assert ("Or ask Organization ISAC-OP, which runs the ISAC Finance ISAC, to let your organization write to the "
            "ISAC's collection.") in box


def test_response_staff_are_still_told_who_shares_and_a_collection_brings_the_form(world, report):
    incident = report(org=world.ministry, user=world.analyst, observables=[("domain", "evil.example.com")])
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    with translation.override("en"):
        page = page_of(signed_in(world.responder, "en"), incident)
    assert OTHERS_SHARE in page and 'id="share-no-collection"' not in page
    # Once the ministry has a collection, its administrator gets the form instead.
    intel_services.do_create_collection({"title": "MIN feed", "owner": world.ministry, "kind": "group"},
                                        acting_user=world.admin)
    response = signed_in(world.admin).get(f"/incidents/{incident.pk}/")
    assert response.context["share_form"] is not None
    assert 'id="share-by-others"' not in response.content.decode()
