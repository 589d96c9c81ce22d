"""Walkthrough fixes found by a banking-ISAC analyst on the intelligence pages: the producer filter names only
organizations whose objects the user can see (not one whose public STIX identity is all the user sees); the report
form offers the most recent objects first, names its object list once, and says before sending when chosen objects
are shared more strictly than the report; the collection page's TAXII snippet in the reader's language; the
warning-list confirmation beside its words with the value marked; a TLP:RED form does not offer the user's own
organization; the members' notice of an early warning lists its values; the overview says what its total counts
that the list leaves out."""
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from khien.conftest import _org, _user
from khien.core.models import Notification
from khien.core.roles import Role
from khien.intel import search, services, services_warnings
from khien.intel.forms import IndicatorForm, ReportForm, SearchForm
from khien.intel.models import CollectionKind, StixObject, Tlp
from khien.registry.models import Isac

from .conftest import indicator
from .test_views import html, signed_in

pytestmark = pytest.mark.django_db



@pytest.fixture
def bank(world):
    """A banking ISAC operated by MIN with the bank BANK as a member, its members' channel, and a bank analyst."""
    from types import SimpleNamespace

    s = SimpleNamespace(world=world)
    s.bank = _org("BANK", "enterprise")
    s.analyst = _user("analyst@bank.test.vn", s.bank, Role.ORG_ANALYST)
    s.isac = Isac.objects.create(code="ISAC-BANK", name_vi="ISAC Ngân hàng", operator=world.ministry)
    s.isac.members.set([world.ministry, s.bank])
    s.channel = services.do_create_collection({"title": "Kênh ISAC Ngân hàng", "kind": CollectionKind.ISAC,
                                               "owner": world.ministry, "isac": s.isac}, acting_user=world.admin)
    services.do_set_collection_member(s.channel, s.bank, can_read=True, can_write=True, acting_user=world.admin)
    return s


# --- 1. the producer filter ------------------------------------------------------------------------------------


def test_the_producer_filter_names_only_producers_of_objects_the_user_sees(bank):
    w = bank.world
    services.do_add_objects(bank.channel, [indicator("203.0.113.9", tlp=Tlp.AMBER)], acting_user=bank.analyst)
    # The bank's identity went out at CLEAR (platform organizations are public by design)…
    assert StixObject.objects.filter(producer=bank.bank, stix_type="identity", tlp=Tlp.CLEAR).exists()

    def producers(user):
        return [o.code for o in SearchForm(user=user).fields["producer"].queryset]

    # …yet an organization outside the ISAC sees none of its objects: the bank is not a producer it can filter by.
    assert "BANK" not in producers(w.other_admin)
    assert "BANK" in producers(w.analyst)  # a member of the ISAC reads its channel
    with CaptureQueriesContext(connection) as queries:
        producers(w.analyst)
    assert len(queries) == 1, [q["sql"] for q in queries.captured_queries]


# --- 2. the report's object picker -----------------------------------------------------------------------------


def test_the_report_form_offers_the_most_recent_objects_first_and_names_the_list_once(client, bank):
    # stored in this order; their ids sort the other way round
    ids = [f"indicator--{n}0000000-0000-4000-8000-000000000000" for n in (1, 2, 3)]
    for n, stix_id in enumerate(ids):
        services.do_add_objects(bank.channel, [indicator(f"203.0.113.{n + 1}", tlp=Tlp.AMBER, stix_id=stix_id)],
                                acting_user=bank.analyst)
        StixObject.objects.filter(stix_id=stix_id).update(date_added=timezone.now() + dt.timedelta(minutes=n))
    form = ReportForm(user=bank.analyst)
    assert [value for value, _label in form.fields["object_refs"].choices] == ids[::-1]
    page = html(signed_in(client, bank.analyst).get(reverse("intel:report_create")))
    assert page.count("Các đối tượng trong báo cáo") == 1
    # Fewer than the list's limit: it says it holds them all (it said "the 500 added last" with 483 on it).
    offered = len(form.fields["object_refs"].choices)
    assert f"Tất cả {offered} đối tượng bạn được xem, đối tượng mới thêm gần nhất ở trên." in page


# --- 3. a report listing objects shared more strictly ----------------------------------------------------------


STRICTER = "chosen object has a stricter TLP than the report"


def english(client, user):
    """The test client signed in as `user`, reading English (the new texts are asserted in the source language)."""
    c = signed_in(client, user)
    c.post(reverse("set_language"), {"language": "en", "next": "/"})
    return c


def test_the_report_form_says_when_chosen_objects_are_shared_more_strictly(client, bank):
    amber = indicator("203.0.113.20", tlp=Tlp.AMBER)
    strict = indicator("203.0.113.21", tlp=Tlp.AMBER_STRICT)
    services.do_add_objects(bank.channel, [amber, strict], acting_user=bank.analyst)
    c = english(client, bank.analyst)
    url = reverse("intel:sharing_audience")
    base = {"collection": str(bank.channel.pk), "tlp": "amber"}
    box = html(c.get(url, {**base, "object_refs": [amber["id"], strict["id"]]}))
    assert f"1 {STRICTER}" in box and "some of the report's readers will not see it" in box
    assert STRICTER not in html(c.get(url, {**base, "object_refs": [amber["id"]]}))
    # a pasted id counts too; at the object's own level nothing is said
    assert f"1 {STRICTER}" in html(c.get(url, {**base, "extra_refs": strict["id"]}))
    assert STRICTER not in html(c.get(url, {**base, "tlp": "amber_strict", "object_refs": [strict["id"]]}))
    # the form shown again after a mistake says it too, and the box is refreshed when the objects change
    response = c.post(reverse("intel:report_create"), {**base, "name": "", "report_type": "threat-report",
                                                       "object_refs": [amber["id"], strict["id"]]})
    assert response.status_code == 400 and f"1 {STRICTER}" in html(response)
    page = html(c.get(reverse("intel:report_create")))
    assert "[name=object_refs]" in page.split('id="sharing"')[1].split(">")[0]


# --- 4. the collection page's snippet --------------------------------------------------------------------------


def test_the_taxii_snippet_speaks_the_readers_language(client, bank):
    url = reverse("intel:collection_detail", args=[bank.channel.pk])
    page = html(signed_in(client, bank.analyst).get(url))
    snippet = page.split('id="taxii-snippet"')[1].split("</pre>")[0]
    with translation.override("vi"):
        placeholder = translation.pgettext("placeholder in a code example", "API token")
    assert f'password="&lt;{placeholder}&gt;"' in snippet  # "mã API", as the user guide writes it
    assert "Các đối tượng của nó" not in page
    assert "Objects of this collection" in html(english(client, bank.analyst).get(url))


# --- 5. the warning-list confirmation --------------------------------------------------------------------------


def test_the_warning_list_confirmation_sits_beside_its_words_and_marks_the_value(client, bank):
    c = signed_in(client, bank.analyst)
    response = c.post(reverse("intel:indicator_create"), {
        "name": "Máy chủ DNS", "value_kind": "ipv4", "value": "8.8.8.8", "indicator_type": "malicious-activity",
        "confidence": 50, "tlp": "amber", "collection": str(bank.channel.pk)})
    assert response.status_code == 400
    page = html(response)
    box = page.split('id="warninglisted-confirm"')[1].split("</div>")[0]
    label = box.split('<label class="check"')[1].split("</label>")[0]
    assert 'type="checkbox"' in label and "Vẫn lưu" in label  # the box inside its label, on one line
    value = page.split('name="value"')[1].split(">")[0]
    assert 'aria-invalid="true"' in value
    assert 'field has-error' in page.split('name="value"')[0].rsplit('<div class="', 1)[1]
    # confirmed, it is stored
    response = c.post(reverse("intel:indicator_create"), {
        "name": "Máy chủ DNS", "value_kind": "ipv4", "value": "8.8.8.8", "indicator_type": "malicious-activity",
        "confidence": 50, "tlp": "amber", "collection": str(bank.channel.pk), "confirm_warninglisted": "on"})
    assert response.status_code == 302


# --- 6. TLP:RED recipients -------------------------------------------------------------------------------------


def test_a_red_form_does_not_offer_the_users_own_organization(client, bank):
    w = bank.world
    form = IndicatorForm(user=bank.analyst)
    offered = {value for _group, options in form.fields["recipients"].widget.choices for value, _label in options}
    assert str(bank.bank.pk) not in offered and str(w.ministry.pk) in offered
    assert str(bank.bank.pk) not in {v for _g, opts in ReportForm(user=bank.analyst).fields["recipients"].widget.choices
                                     for v, _l in opts}
    post = {"name": "Máy chủ điều khiển", "value_kind": "ipv4", "value": "203.0.113.30",
            "indicator_type": "malicious-activity", "confidence": 50, "tlp": "red",
            "collection": str(bank.channel.pk), "recipients": [str(bank.bank.pk)]}
    response = english(client, bank.analyst).post(reverse("intel:indicator_create"), post)
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors.get("recipients", []))
    assert "Your organization always sees what it shares" in errors and "BANK" in errors
    assert not StixObject.objects.filter(stix_type="indicator", producer=bank.bank).exists()


# --- 7. the members' notice of an early warning ----------------------------------------------------------------


def _notice_of(user):
    notice = Notification.objects.filter(recipient=user, kind="intel.warning").latest("pk")
    with translation.override("en"):
        return notice.shown_body


def test_the_members_notice_lists_the_warnings_values(world):
    values = [f"198.51.100.{n}" for n in range(101, 115)] + ["bad-bank-login.example"]
    warning = services_warnings.do_issue_warning(
        {"title": "Chiến dịch giả mạo ngân hàng", "summary": "Hãy chặn các tên miền, địa chỉ IP sau.",
         "severity": "high", "tlp": "amber", "values": values},
        acting_user=world.coordinator, organizations=[world.ministry], auto_match=False)
    body = _notice_of(world.analyst)
    assert "Values to look for and block:" in body
    stored = [v["value"] for v in warning.values]
    assert sorted(stored) == sorted(values)
    assert [v for v in stored if v in body] == stored[:services_warnings.NOTICE_LISTED_MAX]
    assert f"and {len(values) - services_warnings.NOTICE_LISTED_MAX} more values" in body
    with translation.override("vi"):  # read in each reader's language
        notice = Notification.objects.filter(recipient=world.analyst, kind="intel.warning").latest("pk")
        assert "Giá trị cần rà soát và chặn:" in notice.shown_body


def test_a_red_warnings_notice_keeps_its_values_in_the_platform(world):
    services_warnings.do_issue_warning(
        {"title": "Cảnh báo hạn chế", "summary": "Chặn địa chỉ sau.", "severity": "high", "tlp": "red",
         "values": ["198.51.100.99"]},
        acting_user=world.coordinator, organizations=[world.ministry], auto_match=False)
    body = _notice_of(world.analyst)
    assert "198.51.100.99" not in body and "TLP:RED" in body


# --- 8. the overview's total ----------------------------------------------------------------------------------


def test_the_overview_says_what_its_total_holds_that_the_list_leaves_out(client, bank):
    services.do_add_objects(bank.channel, [indicator("203.0.113.40", tlp=Tlp.AMBER)], acting_user=bank.analyst)
    c = english(client, bank.analyst)
    response = c.get(reverse("intel:search"))
    stats = response.context["stats"]
    background = sum(row["n"] for row in stats["by_type"] if row["stix_type"] in search.BACKGROUND_TYPES)
    assert background >= 1 and stats["background"] == background
    page = html(response)
    note = page.split('id="overview-background"')[1].split("</")[0]
    assert f"Including {background} relationship" in note and "not listed below" in note
    listed = response.context["page"].paginator.count
    assert listed == stats["total"] - stats["background"]
