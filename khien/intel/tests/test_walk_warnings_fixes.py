"""Walkthrough fixes of the early warnings: every reason a target has, with the matching systems (page, inbox,
e-mails, the members' notice with the reply deadline); the sender reads "its monitoring"; the refusal an auditor
gets; the form tells every problem at once and what auto-match does, with a count; a note box that fits; answering
marks the warning's notifications read."""
import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from khien.core.models import Notification
from khien.core.texts import shown_time
from khien.intel import services_warnings
from khien.intel.models import AckState, EarlyWarning, TargetReason, WarningTarget

from .test_views import html, signed_in
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
FORTI_72 = "cpe:2.3:a:fortinet:fortios:7.2.0:*:*:*:*:*:*:*"



def _issue(user, **kwargs):
    data = {"title": "Lỗ hổng FortiOS", "summary": "Synthetic test warning", "severity": "high",
            **kwargs.pop("data", {})}
    return services_warnings.do_issue_warning(data, acting_user=user, **kwargs)


def _english(client, user):
    c = signed_in(client, user)
    c.post(reverse("set_language"), {"language": "en", "next": "/"})
    return c


# --- 2. every reason, with the matching systems ----------------------------------------------------------------


def test_a_chosen_target_whose_product_matches_learns_which_system(client, land,  # noqa: F811
                                                                  django_capture_on_commit_callbacks):
    w = land.world
    system = land.product_system  # MIN-D1's, registered with FortiOS
    deadline = timezone.now() + dt.timedelta(days=2)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        warning = _issue(w.coordinator, organizations=[w.department], data={"cpes": [FORTI_72], "respond_by": deadline})
    target = warning.targets.get(organization=w.department)
    assert target.reason == TargetReason.CHOSEN  # the main reason as before…
    assert [r["reason"] for r in target.reasons] == [TargetReason.CHOSEN, TargetReason.MATCHED_PRODUCT]  # …and all
    assert target.reasons[1]["systems"] == [system.name]
    for page in (_english(client, w.dept_analyst).get(reverse("intel:warning_detail", args=[warning.pk])),
                 _english(client, w.dept_analyst).get(reverse("intel:warning_inbox"))):
        body = html(page)
        assert "Chosen by the sender" in body and "Registered product matches" in body
        assert system.name in body and "matching system" in body
    # the 24/7 contact's e-mail
    w.department.refresh_from_db()
    contact = next(m for m in mail.outbox if m.to == [w.department.contact_email]).body
    assert system.name in contact and FORTI_72 in contact
    # the members' notice (urgent: e-mailed at once) carries the reason and the reply deadline
    notice = Notification.objects.get(recipient=w.dept_analyst, kind="intel.warning")
    with translation.override("en"):
        assert "Chosen by the sender" in notice.shown_body and system.name in notice.shown_body
        assert f"Please answer by {shown_time(deadline)}" in notice.shown_body
    member = next(m for m in mail.outbox if m.to == [w.dept_analyst.email]).body
    assert system.name in member and shown_time(deadline) in member


# --- 3. the sender reads "its monitoring" -----------------------------------------------------------------------


def test_the_sender_reads_seen_by_its_monitoring_the_recipient_your(client, land):  # noqa: F811
    w = land.world
    warning = _issue(w.coordinator, organizations=[w.ministry], seen={w.ministry.pk: 29}, auto_match=False)
    sender = html(_english(client, w.coordinator).get(reverse("intel:warning_detail", args=[warning.pk])))
    row = sender.split('data-target="MIN"')[1].split("</tr>")[0]
    assert "Seen by its monitoring (29 events during the campaign)" in row and "your" not in row
    recipient = html(_english(client, w.admin).get(reverse("intel:warning_detail", args=[warning.pk])))
    answer = recipient.split('id="my-answer"')[1]
    assert "Seen by your monitoring (29 events during the campaign)" in answer


# --- 4. the refusal an auditor gets -----------------------------------------------------------------------------


def test_an_auditor_is_told_who_answers(land, api):  # noqa: F811
    w = land.world
    warning = _issue(w.coordinator, organizations=[w.ministry], auto_match=False)
    with translation.override("en"):
        response = api(w.auditor).post(f"/api/intel/warnings/{warning.pk}/acknowledge/", {"state": "received"},
                                       format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert "administrators and analysts of the target organization" in response.json()["detail"]
    assert WarningTarget.objects.get(warning=warning).state is None


# --- 5. the form: every problem at once; what auto-match does, and how many it adds ---------------------------


def _form(land, **extra):  # noqa: F811
    data = {"title": "Dò quét", "summary": "Synthetic", "severity": "high", "tlp": "amber",
            "values": "45.33.1.2\n10.1.2.3", "organizations": [str(land.world.ministry.pk)], "auto_match": "on"}
    data.update(extra)
    return data


def test_the_form_tells_every_problem_at_once(client, land):  # noqa: F811
    c = _english(client, land.world.coordinator)
    past = (timezone.localtime() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = c.post(reverse("intel:warning_create"), _form(land, respond_by=past, cpes="cpe:broken"))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "confirm_warninglisted" in errors  # 10.1.2.3 is on a warning list
    assert "The reply deadline must be in the future." in errors["respond_by"]  # told at once, not next time
    assert errors["cpes"]
    assert not EarlyWarning.objects.exists()


def test_the_form_says_what_auto_match_does_and_counts_the_recipients(client, land):  # noqa: F811
    c = _english(client, land.world.coordinator)
    page = html(c.get(reverse("intel:warning_create")))
    assert 'id="auto-match-help"' in page and "EVERY organization" in page and 'id="preview-recipients"' in page
    # 45.33.1.2 is in RESP's registered range: one chosen (MIN), one added by auto-match
    response = c.post(reverse("intel:warning_create"), _form(land, values="45.33.1.2", preview="1"))
    assert response.status_code == 200 and not EarlyWarning.objects.exists()
    assert response.context["preview"] == {"total": 2, "matched": 1}
    body = html(response)
    assert "This warning would go to 2 organizations." in body and "1 of them only because" in body
    assert "Nothing has been sent yet" in body
    # also with the warning-listed values' confirmation
    response = c.post(reverse("intel:warning_create"), _form(land))
    assert response.status_code == 400 and response.context["preview"] == {"total": 2, "matched": 1}
    assert not EarlyWarning.objects.exists()


# --- 6. a note box that fits its placeholder --------------------------------------------------------------------


def test_the_answer_note_box_is_three_rows(client, land):  # noqa: F811
    w = land.world
    warning = _issue(w.coordinator, organizations=[w.ministry], auto_match=False)
    body = html(signed_in(client, w.admin).get(reverse("intel:warning_detail", args=[warning.pk])))
    box = body.split('class="ack-form"')[1].split("</textarea>")[0]
    assert 'rows="3"' in box


# --- 7. answering marks the warning's notifications read --------------------------------------------------------


def test_answering_marks_the_warnings_notifications_read(client, land):  # noqa: F811
    w = land.world
    warning = _issue(w.coordinator, organizations=[w.ministry], auto_match=False)
    other = _issue(w.coordinator, organizations=[w.ministry], auto_match=False, data={"title": "Another"})
    mine = Notification.objects.get(recipient=w.admin, url=reverse("intel:warning_detail", args=[warning.pk]))
    assert mine.read_at is None
    target = warning.targets.get(organization=w.ministry)
    response = signed_in(client, w.admin).post(reverse("intel:warning_acknowledge", args=[target.pk]),
                                               {f"t{target.pk}-state": AckState.ACTED, f"t{target.pk}-note": ""})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.read_at is not None
    # the analyst's own notification, and the admin's about another warning, stay unread
    assert Notification.objects.get(recipient=w.analyst, url=mine.url).read_at is None
    assert Notification.objects.get(recipient=w.admin,
                                    url=reverse("intel:warning_detail", args=[other.pk])).read_at is None


def test_the_senders_list_names_a_targets_systems_only_to_who_may_see_them(land):  # noqa: F811
    """An ISAC operator or another organization that warns does not learn the names of its targets' systems; the
    coordinator (who sees every registry) and the organizations above the target do."""
    w = land.world
    warning = _issue(w.coordinator, organizations=[w.department], data={"cpes": [FORTI_72]})
    target = warning.targets.filter(organization=w.department)

    def systems(reader):
        [row] = services_warnings.with_matched_labels(target, sender_view=True, reader=reader)
        return [s for item in row.reason_items for s in item["systems"]]

    assert systems(w.coordinator) == [land.product_system.name]
    assert systems(w.admin) == [land.product_system.name]  # the ministry above the department
    assert systems(w.other_admin) == []  # a province: not its registry


def test_the_inbox_api_gives_every_reason_with_the_matching_systems(land, api):  # noqa: F811
    w = land.world
    _issue(w.coordinator, organizations=[w.department], data={"cpes": [FORTI_72]})
    [row] = api(w.dept_analyst).get("/api/intel/warnings/inbox/").json()["results"]
    assert [r["reason"] for r in row["reasons"]] == [TargetReason.CHOSEN, TargetReason.MATCHED_PRODUCT]
    assert row["reasons"][1] == {"reason": TargetReason.MATCHED_PRODUCT, "value": FORTI_72,
                                 "systems": [land.product_system.name]}
