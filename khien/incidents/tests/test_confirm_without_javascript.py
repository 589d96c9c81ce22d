"""Assigning a responder, removing one and sealing evidence ask first also without JavaScript
(`core/confirmation.py`): the button's dialog adds `confirmed=1`; without it the view answers with a page that asks
the same question and posts the same fields again. Nothing changes until then; whoever may not act is refused, not
asked."""
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from khien.core.models import AuditEntry, Notification
from khien.incidents import services
from khien.incidents.models import CustodyEvent, Evidence, IncidentEvent, ResponderAssignment

pytestmark = pytest.mark.django_db


def state():
    return (ResponderAssignment.objects.count(), IncidentEvent.objects.count(), CustodyEvent.objects.count(),
            Notification.objects.count(), AuditEntry.objects.exclude(action="login").count(),
            list(Evidence.objects.order_by("pk").values_list("sealed_at", flat=True)))


def english(client, user):
    client.force_login(user)
    client.cookies["khien_language"] = "en"
    return client


def form_of(page: str, marker: str) -> str:
    start = page.index(marker)
    return page[page.rindex("<form", 0, start):page.index("</form>", start)]


def posted_again(client, page: str):
    """What the confirmation page's yes sends: its own form, as a browser without JavaScript would post it."""
    form = form_of(page, 'id="confirm-yes"')
    action = re.search(r'<form method="post" action="([^"]+)"', form).group(1)
    fields = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        if name != "csrfmiddlewaretoken":
            fields.setdefault(name, []).append(value)
    return client.post(action.replace("&amp;", "&"), fields)


@pytest.fixture
def incident(world, report):
    return report(org=world.ministry, user=world.analyst)


@pytest.fixture
def evidence(world, incident):
    return services.do_add_evidence(incident, acting_user=world.analyst,
                                    uploaded=SimpleUploadedFile("proxy.log", b"GET http://c2.example/\n" * 20))


def test_the_three_buttons_send_the_dialogs_yes(world, client, incident, evidence):
    services.do_assign_responder(incident, world.responder_org, acting_user=world.admin)
    page = english(client, world.admin).get(f"/incidents/{incident.pk}/").content.decode()
    for marker in ('id="assign-form"', f'/assign/{world.responder_org.pk}/remove/', f'/evidence/{evidence.pk}/seal/'):
        button = form_of(page, marker)
        assert "data-confirm=" in button and "data-confirmed-field" in button, marker


def test_assigning_without_javascript_asks_first_then_assigns(world, client, incident):
    english(client, world.admin)
    before = state()
    url = f"/incidents/{incident.pk}/assign/"
    asked = client.post(url, {"responder": str(world.responder_org.pk)})
    assert asked.status_code == 200
    page = asked.content.decode()
    assert 'id="confirm-action"' in page
    # The question names the organization and how many of its people are e-mailed at once (the responder: 1).
    assert f"Assign {world.responder_org.name} as responder?" in page and "1 person gets an urgent e-mail" in page
    assert f'name="responder" value="{world.responder_org.pk}"' in page
    assert f'href="/incidents/{incident.pk}/#responders"' in page  # the way back
    assert state() == before  # nothing assigned, told or audited yet
    done = posted_again(client, page)
    assert done.status_code == 302 and done["Location"].endswith("#responders")
    assert incident.assignments.get().responder == world.responder_org


def test_the_dialogs_yes_assigns_at_once(world, client, incident):
    english(client, world.admin)
    response = client.post(f"/incidents/{incident.pk}/assign/",
                           {"responder": str(world.responder_org.pk), "confirmed": "1"})
    assert response.status_code == 302
    assert incident.assignments.filter(responder=world.responder_org).exists()


def test_removing_a_responder_without_javascript_asks_first_with_the_reason(world, client, incident):
    services.do_assign_responder(incident, world.responder_org, acting_user=world.admin)
    english(client, world.admin)
    before = state()
    url = f"/incidents/{incident.pk}/assign/{world.responder_org.pk}/remove/"
    asked = client.post(url, {"reason": "Chọn nhầm đơn vị"})
    assert asked.status_code == 200
    page = asked.content.decode()
    assert f"Remove {world.responder_org.name} from this incident? Its people will no longer see it." in page
    assert 'name="reason" value="Chọn nhầm đơn vị"' in page  # the reason goes with the yes
    assert state() == before
    assert incident.assignments.exists()
    done = posted_again(client, page)
    assert done.status_code == 302 and done["Location"].endswith("#responders")
    assert not incident.assignments.exists()
    assert incident.events.get(kind="unassignment").text == "Chọn nhầm đơn vị"


def test_sealing_without_javascript_asks_first_naming_the_item(world, client, incident, evidence):
    english(client, world.analyst)
    before = state()
    url = f"/incidents/{incident.pk}/evidence/{evidence.pk}/seal/"
    asked = client.post(url, {})
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "Seal the evidence “proxy.log”?" in page and evidence.sha256 in page
    assert f'href="/incidents/{incident.pk}/#ev-{evidence.pk}"' in page
    assert state() == before
    done = posted_again(client, page)
    assert done.status_code == 302 and done["Location"].endswith(f"#ev-{evidence.pk}")
    evidence.refresh_from_db()
    assert evidence.is_sealed
    # Sealed already: refused at once (409), not asked again.
    before = state()
    assert client.post(url, {}).status_code == 409
    assert state() == before


def test_who_may_not_act_is_refused_not_asked(world, client, as_user, incident, evidence):
    services.do_assign_responder(incident, world.responder_org, acting_user=world.coordinator)
    before = state()
    base = f"/incidents/{incident.pk}/"
    # Reads only (the auditor): 403, with or without the yes.
    auditor = as_user(world.auditor)
    for data in ({}, {"confirmed": "1"}):
        response = auditor.post(f"{base}assign/", {"responder": str(world.responder_org.pk), **data})
        assert response.status_code == 403 and b'id="confirm-action"' not in response.content
        assert auditor.post(f"{base}evidence/{evidence.pk}/seal/", data).status_code == 403
        assert auditor.post(f"{base}assign/{world.responder_org.pk}/remove/", data).status_code == 403
    # The administrator did not assign it (the coordinator did): refused, not asked.
    response = as_user(world.admin).post(f"{base}assign/{world.responder_org.pk}/remove/", {"reason": ""})
    assert response.status_code == 403 and b'id="confirm-action"' not in response.content
    # The responder did not add the item: only the reporting side seals it.
    response = as_user(world.responder).post(f"{base}evidence/{evidence.pk}/seal/", {})
    assert response.status_code == 403 and b'id="confirm-action"' not in response.content
    # Another organization does not see the incident at all.
    other = as_user(world.other_admin)
    assert other.post(f"{base}assign/", {"responder": str(world.responder_org.pk)}).status_code == 404
    assert other.post(f"{base}evidence/{evidence.pk}/seal/", {}).status_code == 404
    assert state() == before


def test_bad_input_is_said_before_anything_is_asked(world, client, incident, evidence):
    english(client, world.admin)
    before = state()
    response = client.post(f"/incidents/{incident.pk}/assign/", {"responder": str(world.province.pk)})
    assert response.status_code == 400 and b'id="confirm-action"' not in response.content
    response = client.post(f"/incidents/{incident.pk}/evidence/{evidence.pk}/seal/", {"note": "x" * 30000})
    assert response.status_code == 400 and b'id="confirm-action"' not in response.content
    assert state() == before
