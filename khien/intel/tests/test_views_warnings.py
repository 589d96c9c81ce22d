"""Early-warning pages (issue form, inbox, detail, acknowledgement) and the allow-list page."""
import pytest
from django.urls import reverse
from django.utils import translation

from khien.core.models import AuditEntry
from khien.intel import services_warnings, warninglists
from khien.intel.models import AckState, AllowListEntry, EarlyWarning, IndicatorKind, WarningTarget

from .test_views import html, signed_in
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
INTEL_AUDIT = {"object_type__startswith": "intel."}  # (sign-ins are audited too)



def _warning_post(land, **extra):
    data = {"title": "Chiến dịch dò quét", "summary": "Synthetic warning", "severity": "high", "tlp": "amber",
            "values": "45.33.1.2\n10.1.2.3", "organizations": [str(land.world.ministry.pk)], "auto_match": "on",
            "confirm_warninglisted": "on"}  # 10.1.2.3 is on a warning list: sent once confirmed
    data.update(extra)
    return data


def test_coordinator_issues_a_warning_and_sees_the_matched_targets(client, land):
    w = land.world
    c = signed_in(client, w.coordinator)
    assert c.get(reverse("intel:warning_create")).status_code == 200
    response = c.post(reverse("intel:warning_create"), _warning_post(land))
    warning = EarlyWarning.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("intel:warning_detail", args=[warning.pk])
    targets = {t.organization.code: t.reason for t in warning.targets.select_related("organization")}
    # MIN chosen; RESP matched by 45.33.1.2; 10.1.2.3 is on a warning list: OTHER (10.0.0.0/8) not matched
    assert targets == {"MIN": "chosen", "RESP": "matched_ip"}
    page = c.get(response["Location"])
    assert [t.organization.code for t in page.context["targets"]] == ["MIN", "RESP"]
    assert [t.organization.code for t in page.context["not_acknowledged"]] == ["MIN", "RESP"]
    body = html(page)
    assert 'data-target="RESP"' in body and "45.33.1.2" in body
    flagged = {v["value"]: bool(v["lists"]) for v in page.context["values"]}
    assert flagged == {"45.33.1.2": False, "10.1.2.3": True}  # a private address is flagged


@pytest.mark.parametrize("change", [{"title": ""}, {"values": "not-an-ip value"}, {"tlp": "purple"},
                                    {"cpes": "cpe:broken"}, {"vulnerabilities": "CVE-nope"},
                                    {"organizations": [], "values": "", "auto_match": ""}])
def test_bad_warning_input_is_400_and_writes_nothing(client, land, change):
    c = signed_in(client, land.world.coordinator)
    with translation.override("en"):
        response = c.post(reverse("intel:warning_create"), _warning_post(land, **change))
    assert response.status_code == 400
    assert response.context["form"].errors
    assert not EarlyWarning.objects.exists() and not WarningTarget.objects.exists()


def test_only_issuers_see_the_warning_form(client, land):
    w = land.world
    c = signed_in(client, w.analyst)
    assert c.get(reverse("intel:warning_create")).status_code == 403
    assert c.post(reverse("intel:warning_create"), _warning_post(land)).status_code == 403
    assert not EarlyWarning.objects.exists()
    # the ISAC operator's administrator (MIN) may issue, to its ISAC's members only
    c = signed_in(client, w.admin)
    response = c.post(reverse("intel:warning_create"), _warning_post(land, organizations=[str(land.other.pk)]))
    # Not among the members offered: the form refuses the choice (the service would refuse it too: 403).
    assert response.status_code == 400 and response.context["form"].errors["organizations"]
    assert not EarlyWarning.objects.exists()
    response = c.post(reverse("intel:warning_create"),
                      _warning_post(land, organizations=[], isacs=[str(land.isac.pk)], values=""))
    assert response.status_code == 302
    assert set(EarlyWarning.objects.get().targets.values_list("organization__code", flat=True)) == {"PROV", "RESP"}


def _issued(land):
    return services_warnings.do_issue_warning(
        {"title": "Cảnh báo mã độc", "summary": "Synthetic", "severity": "critical", "tlp": "amber"},
        acting_user=land.world.coordinator, organizations=[land.world.province, land.world.responder_org],
        auto_match=False)


def test_target_acknowledges_from_the_inbox(client, land):
    w = land.world
    warning = _issued(land)
    target = warning.targets.get(organization=w.province)
    c = signed_in(client, land.prov_analyst)
    response = c.get(reverse("intel:warning_inbox"))
    assert response.status_code == 200
    assert [r["target"].pk for r in response.context["rows"]] == [target.pk]
    assert response.context["rows"][0]["can_ack"] is True
    assert response.context["sent"] is None  # not an issuer
    response = c.post(reverse("intel:warning_acknowledge", args=[target.pk]),
                      {f"t{target.pk}-state": "acted", f"t{target.pk}-note": "Đã chặn IP", "next": "inbox"})
    assert response.status_code == 302 and response["Location"] == reverse("intel:warning_inbox")
    target.refresh_from_db()
    assert (target.state, target.note, target.acknowledged_by) == (AckState.ACTED, "Đã chặn IP", land.prov_analyst)
    # the coordinator sees who has answered and who has not
    page = signed_in(client, w.coordinator).get(reverse("intel:warning_detail", args=[warning.pk]))
    assert [t.organization.code for t in page.context["not_acknowledged"]] == ["RESP"]
    sent = signed_in(client, w.coordinator).get(reverse("intel:warning_inbox")).context["sent"]
    assert [(s.n_targets, s.n_open) for s in sent] == [(2, 1)]


def test_acknowledgement_refusals_change_nothing(client, land):
    w = land.world
    warning = _issued(land)
    target = warning.targets.get(organization=w.province)
    count = AuditEntry.objects.filter(**INTEL_AUDIT).count()
    post = {f"t{target.pk}-state": "acted", f"t{target.pk}-note": ""}
    # a trainee of the target organization may read but not answer
    c = signed_in(client, land.prov_trainee)
    page = c.get(reverse("intel:warning_detail", args=[warning.pk]))
    assert page.status_code == 200 and page.context["mine"][0]["can_ack"] is False
    assert page.context["show_targets"] is False and "not-acknowledged" not in html(page)
    assert c.post(reverse("intel:warning_acknowledge", args=[target.pk]), post).status_code == 403
    # another organization: the warning and the answer do not exist for it
    c = signed_in(client, land.other_user)
    assert c.get(reverse("intel:warning_detail", args=[warning.pk])).status_code == 404
    assert c.post(reverse("intel:warning_acknowledge", args=[target.pk]), post).status_code == 404
    # RESP's user cannot answer for PROV
    c = signed_in(client, w.responder)
    assert c.post(reverse("intel:warning_acknowledge", args=[target.pk]), post).status_code == 404
    # a bad state
    c = signed_in(client, land.prov_analyst)
    assert c.post(reverse("intel:warning_acknowledge", args=[target.pk]),
                  {f"t{target.pk}-state": "ignored"}).status_code == 400
    target.refresh_from_db()
    assert target.state is None and AuditEntry.objects.filter(**INTEL_AUDIT).count() == count


# --- allow-list -----------------------------------------------------------------------------------


def test_coordinator_edits_the_allow_list(client, world):
    c = signed_in(client, world.coordinator)
    response = c.post(reverse("intel:allowlist"), {"kind": "domain", "value": "Partner.Demo-Bank.vn", "note": "partner"})
    assert response.status_code == 302
    entry = AllowListEntry.objects.get()
    assert (entry.kind, entry.value, entry.added_by) == ("domain", "partner.demo-bank.vn", world.coordinator)
    page = c.get(reverse("intel:allowlist"), {"check": "www.partner.demo-bank.vn"})
    assert page.context["check"]["lists"] == ["allow-list"]
    with translation.override("en"):
        response = c.post(reverse("intel:allowlist"), {"kind": "domain", "value": "partner.demo-bank.vn"})
    assert response.status_code == 409 and AllowListEntry.objects.count() == 1
    response = c.post(reverse("intel:allowlist"), {"kind": "ipv4", "value": "not an ip"})
    assert response.status_code == 400 and AllowListEntry.objects.count() == 1
    response = c.post(reverse("intel:allowlist_delete", args=[entry.pk]), {"confirmed": "1"})
    assert response.status_code == 302 and not AllowListEntry.objects.exists()


def test_others_read_the_allow_list_and_check_values_but_cannot_change_it(client, world):
    warninglists.do_add_allow_entry(IndicatorKind.IPV4, "203.0.113.250", acting_user=world.coordinator)
    entry = AllowListEntry.objects.get()
    c = signed_in(client, world.analyst)
    page = c.get(reverse("intel:allowlist"), {"check": "8.8.8.8"})
    assert page.status_code == 200 and page.context["can_edit"] is False
    assert "public-dns-resolvers" in page.context["check"]["lists"]
    assert 'id="allow-form"' not in html(page) and 'data-entry="203.0.113.250"' in html(page)
    assert c.get(reverse("intel:allowlist"), {"check": "45.77.1.2"}).context["check"]["lists"] == []
    assert c.get(reverse("intel:allowlist"), {"check": "what?"}).context["check"]["kind"] is None
    count = AuditEntry.objects.filter(**INTEL_AUDIT).count()
    assert c.post(reverse("intel:allowlist"), {"kind": "ipv4", "value": "192.0.2.1"}).status_code == 403
    assert c.post(reverse("intel:allowlist_delete", args=[entry.pk])).status_code == 403
    assert list(AllowListEntry.objects.values_list("value", flat=True)) == ["203.0.113.250"]
    assert AuditEntry.objects.filter(**INTEL_AUDIT).count() == count
