"""Early warnings: targeting (sector, province, ISAC, matched systems), rights, inbox, acknowledgement, e-mail, API."""
import pytest
from django.core import mail

from khien.conftest import _org, _user
from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry
from khien.core.roles import Role
from khien.intel import services, services_warnings
from khien.intel.models import (
    AckState,
    EarlyWarning,
    IndicatorKind,
    StixObject,
    StixRecipient,
    TargetReason,
    Tlp,
    WarningTarget,
)
from khien.intel.services_warnings import match_organizations
from khien.registry.models import Isac, Organization, Province, Sector

from .conftest import assert_valid_stix, indicator

FORTI = "cpe:2.3:a:fortinet:fortios:7.0.1:*:*:*:*:*:*:*"
WARNINGS = "/api/intel/warnings/"



@pytest.fixture
def land(world, make_system):
    """Sectors, provinces, an ISAC operated by MIN with PROV and RESP as members, and registered systems.

    An unrelated organization (OTHER) has a system that matches nothing.
    """
    s = type("Land", (), {})()
    s.world = world
    s.sector, s.other_sector = list(Sector.objects.order_by("code")[:2])
    s.prov_area, s.other_area = list(Province.objects.order_by("code")[:2])
    world.ministry.sectors.set([s.sector])
    Organization.objects.filter(pk=world.province.pk).update(province=s.prov_area)
    s.other = _org("OTHER", "enterprise", province=s.other_area)
    s.other.sectors.set([s.other_sector])
    s.other_user = _user("admin@other.test.vn", s.other, Role.ORG_ADMIN)
    for n, org in enumerate([world.ncsc, world.ministry, world.department, world.province, world.commune,
                             world.responder_org, s.other]):
        Organization.objects.filter(pk=org.pk).update(contact_email=f"soc{n}@{org.code.lower()}.test.vn")
    s.isac = Isac.objects.create(code="FIN-ISAC", name_vi="ISAC tài chính", operator=world.ministry)
    s.isac.members.set([world.province, world.responder_org])
    s.ip_system = make_system(world.responder_org, ip_ranges=["45.33.0.0/16"])
    s.domain_system = make_system(world.commune, domains=["portal.commune-c1.vn"])
    s.product_system = make_system(world.department, products=[FORTI])
    s.private_system = make_system(s.other, ip_ranges=["10.0.0.0/8"], domains=["other.vn"])
    s.prov_trainee = _user("trainee@prov.test.vn", world.province, Role.TRAINEE)
    s.prov_analyst = _user("analyst@prov.test.vn", world.province, Role.ORG_ANALYST)
    return s


def _issue(user, **kwargs):
    data = {"title": kwargs.pop("title", "Chiến dịch tấn công"), "summary": "Synthetic test warning",
            "severity": "high", **kwargs.pop("data", {})}
    return services_warnings.do_issue_warning(data, acting_user=user, **kwargs)


def _targets(warning):
    return {t.organization.code: (t.reason, t.matched_value) for t in warning.targets.select_related("organization")}


# --- Matching --------------------------------------------------------------------------------------


def test_match_organizations(land):
    w = land.world
    found = match_organizations([(IndicatorKind.IPV4, "45.33.10.1")], [])
    assert {m.organization_id for m in found.values()} == {w.responder_org.pk}
    assert found[w.responder_org.pk].reason == TargetReason.MATCHED_IP
    assert found[w.responder_org.pk].value == "45.33.10.1"
    # Containment either way: a warning range containing the system's range.
    assert w.responder_org.pk in match_organizations([(IndicatorKind.CIDR, "45.0.0.0/8")], [])
    assert w.responder_org.pk in match_organizations([(IndicatorKind.CIDR, "45.33.128.0/17")], [])
    assert match_organizations([(IndicatorKind.IPV4, "45.34.0.1")], []) == {}
    assert match_organizations([(IndicatorKind.IPV6, "2a01:4f8::1")], []) == {}
    # Domains: the registered domain, its subdomains, its parent.
    for value in ("portal.commune-c1.vn", "login.portal.commune-c1.vn", "commune-c1.vn"):
        found = match_organizations([(IndicatorKind.DOMAIN, value)], [])
        assert set(found) == {w.commune.pk} and found[w.commune.pk].reason == TargetReason.MATCHED_DOMAIN
    assert match_organizations([(IndicatorKind.DOMAIN, "xportal.commune-c1.vn")], []) == {}
    assert match_organizations([(IndicatorKind.DOMAIN, "c1.vn")], []) == {}
    # Products: same vendor and product, any version.
    found = match_organizations([], ["cpe:2.3:a:fortinet:fortios:7.2.0:*:*:*:*:*:*:*"])
    assert set(found) == {w.department.pk} and found[w.department.pk].reason == TargetReason.MATCHED_PRODUCT
    assert match_organizations([], ["cpe:2.3:a:fortinet:fortimanager:7.2.0:*:*:*:*:*:*:*"]) == {}
    assert match_organizations([], []) == {}


def test_operator_of_a_matched_system_is_targeted_too(land, make_system):
    w = land.world
    make_system(w.ministry, operator=w.responder_org, ip_ranges=["46.1.0.0/24"])
    assert set(match_organizations([(IndicatorKind.IPV4, "46.1.0.9")], [])) == {w.ministry.pk, w.responder_org.pk}


# --- Targeting -------------------------------------------------------------------------------------


def test_targeting_by_sector_province_and_isac(land):
    w = land.world
    assert _targets(_issue(w.coordinator, sectors=[land.sector])) == {"MIN": ("sector", land.sector.code)}
    assert _targets(_issue(w.coordinator, provinces=[land.prov_area])) == {"PROV": ("province", land.prov_area.code)}
    # An ISAC's members and its operating organization (MIN).
    assert _targets(_issue(w.coordinator, isacs=[land.isac])) == {"MIN": ("isac", "FIN-ISAC"),
                                                                  "PROV": ("isac", "FIN-ISAC"),
                                                                  "RESP": ("isac", "FIN-ISAC")}
    assert _targets(_issue(w.coordinator, organizations=[w.ncsc])) == {"NCSC": ("chosen", "")}


def test_targeting_by_matching_registered_systems(land):
    w = land.world
    warning = _issue(w.coordinator, data={"values": ["45.33.10.1", "portal.commune-c1.vn"],
                                          "cpes": ["cpe:2.3:a:fortinet:fortios:7.2.0:*:*:*:*:*:*:*"]})
    assert _targets(warning) == {
        "RESP": ("matched_ip", "45.33.10.1"),
        "PROV-C1": ("matched_domain", "portal.commune-c1.vn"),
        "MIN-D1": ("matched_product", "cpe:2.3:a:fortinet:fortios:7.2.0:*:*:*:*:*:*:*"),
    }
    assert "OTHER" not in _targets(warning)
    # Matching can be turned off.
    with pytest.raises(Refused):
        _issue(w.coordinator, data={"values": ["45.33.10.1"]}, auto_match=False)


def test_the_values_of_referenced_indicators_are_matched(land):
    w = land.world
    coll = services.do_create_collection({"title": "Ministry feed", "owner": w.ministry}, acting_user=w.admin)
    ind = indicator("45.33.77.1", tlp=Tlp.GREEN)
    services.do_add_objects(coll, [ind], acting_user=w.analyst)
    warning = _issue(w.coordinator, data={"indicator_refs": [ind["id"]]})
    assert _targets(warning) == {"RESP": ("matched_ip", "45.33.77.1")}
    # An indicator the sender may not see is an unknown reference.
    hidden = indicator("45.33.77.2", tlp=Tlp.RED)
    services.do_add_objects(coll, [hidden], acting_user=w.analyst)
    with pytest.raises(Refused):
        _issue(w.coordinator, data={"indicator_refs": [hidden["id"]]})


def test_warning_listed_values_do_not_match(land):
    w = land.world
    count = EarlyWarning.objects.count()
    with pytest.raises(Refused) as exc:
        _issue(w.coordinator, data={"values": ["10.1.2.3"]})  # OTHER registered 10.0.0.0/8
    assert exc.value.code == "no_targets"
    assert EarlyWarning.objects.count() == count


def test_several_reasons_keep_the_most_specific(land):
    w = land.world
    warning = _issue(w.coordinator, isacs=[land.isac], data={"values": ["45.33.10.1"]})
    assert _targets(warning)["RESP"] == ("matched_ip", "45.33.10.1")
    assert WarningTarget.objects.filter(warning=warning).count() == 3  # PROV, RESP and the operator MIN


@pytest.mark.parametrize("data", [
    {"title": ""},
    {"values": ["not a value!"]},
    {"values": ["45.33.10.1"], "severity": "apocalyptic"},
    {"values": ["45.33.10.1"], "tlp": "purple"},
    {"values": ["45.33.10.1"], "cpes": ["fortios"]},
    {"values": ["45.33.10.1"], "vulnerability_refs": ["CVE-12"]},
    {"values": ["45.33.10.1"], "report_id": "indicator--1"},
    {"indicator_refs": ["indicator--00000000-0000-4000-8000-000000000000"]},
])
def test_bad_input_writes_nothing(land, data):
    counts = (EarlyWarning.objects.count(), WarningTarget.objects.count(), AuditEntry.objects.count())
    with pytest.raises(Refused):
        services_warnings.do_issue_warning({"title": "T", **data}, acting_user=land.world.coordinator,
                                           sectors=[land.sector])
    assert (EarlyWarning.objects.count(), WarningTarget.objects.count(), AuditEntry.objects.count()) == counts
    assert len(mail.outbox) == 0


def test_every_problem_is_told_in_one_answer(land):
    """The form used to show one problem per submission: the values, then the products, then the CVE, then the
    deadline — four rounds for one warning."""
    import datetime as dt

    from django.utils import timezone

    counts = (EarlyWarning.objects.count(), AuditEntry.objects.count())
    with pytest.raises(Refused) as exc:
        services_warnings.do_issue_warning(
            {"title": "T", "values": ["not a value!", "45.33.10.1", "neither/this"], "cpes": ["fortios"],
             "vulnerability_refs": ["CVE-12"], "respond_by": timezone.now() - dt.timedelta(hours=1)},
            acting_user=land.world.coordinator, sectors=[land.sector])
    told = exc.value.message
    for part in ("not a value!", "neither/this", "fortios", "CVE-12"):
        assert part in told, (part, told)
    assert told.count(". ") >= 4  # the deadline's problem too, one sentence each
    assert (EarlyWarning.objects.count(), AuditEntry.objects.count()) == counts


# --- Rights ----------------------------------------------------------------------------------------


def test_only_the_coordinator_or_an_isac_operator_issues(land):
    w = land.world
    for user in (w.analyst, w.other_admin, w.responder, w.dept_analyst, land.other_user, w.nobody):
        with pytest.raises(Forbidden):
            _issue(user, sectors=[land.sector])
    assert EarlyWarning.objects.count() == 0


def test_an_isac_operator_warns_its_own_members_only(land):
    w = land.world
    warning = _issue(w.admin, isacs=[land.isac])
    assert warning.organization == w.ministry
    assert set(_targets(warning)) == {"PROV", "RESP"}
    # Sector targeting and matching are limited to the ISAC's members.
    warning = _issue(w.admin, sectors=[land.other_sector], provinces=[land.prov_area],
                     data={"values": ["45.33.10.1", "portal.commune-c1.vn"]})
    assert set(_targets(warning)) == {"PROV", "RESP"}
    with pytest.raises(Forbidden):
        _issue(w.admin, organizations=[land.other])
    other_isac = Isac.objects.create(code="OTHER-ISAC", name_vi="ISAC khác", operator=land.other)
    with pytest.raises(Forbidden):
        _issue(w.admin, isacs=[other_isac])
    with pytest.raises(Forbidden):  # the analyst of the operator is not its administrator
        _issue(w.analyst, isacs=[land.isac])


def test_acknowledgement_rights_and_audit(land):
    w = land.world
    warning = _issue(w.coordinator, provinces=[land.prov_area])
    target = warning.targets.get()
    for user in (w.coordinator, w.admin, land.other_user, land.prov_trainee, w.nobody):
        with pytest.raises(Forbidden):
            services_warnings.do_acknowledge(target, AckState.ACTED, acting_user=user)
    with pytest.raises(Refused):
        services_warnings.do_acknowledge(target, "ignored", acting_user=w.other_admin)
    target.refresh_from_db()
    assert target.state is None
    before = AuditEntry.objects.count()
    services_warnings.do_acknowledge(target, AckState.RECEIVED, acting_user=land.prov_analyst)
    services_warnings.do_acknowledge(target, AckState.ACTED, "Blocked at the firewall", acting_user=w.other_admin)
    target.refresh_from_db()
    assert (target.state, target.note, target.acknowledged_by) == (AckState.ACTED, "Blocked at the firewall",
                                                                   w.other_admin)
    entries = AuditEntry.objects.filter(seq__gt=AuditEntry.objects.order_by("seq").values_list("seq", flat=True)
                                        [before - 1]).order_by("seq")
    assert [(e.action, e.before["state"], e.after["state"]) for e in entries] == [
        ("update", None, "received"), ("update", "received", "acted")]


def test_issuing_is_audited(land):
    before = AuditEntry.objects.count()
    warning = _issue(land.world.coordinator, isacs=[land.isac])
    types = list(AuditEntry.objects.order_by("seq").values_list("object_type", flat=True)[before:])
    assert types == ["intel.earlywarning", "intel.warningtarget", "intel.warningtarget", "intel.warningtarget"]
    assert AuditEntry.objects.get(object_type="intel.earlywarning").object_id == str(warning.pk)


def test_inbox_and_who_has_not_acknowledged(land):
    w = land.world
    warning = _issue(w.coordinator, isacs=[land.isac])
    assert [t.warning_id for t in services_warnings.inbox(w.province)] == [warning.pk]
    assert list(services_warnings.inbox(land.other)) == []
    assert [t.organization.code for t in services_warnings.not_acknowledged(warning)] == ["MIN", "PROV", "RESP"]
    target = warning.targets.get(organization=w.province)
    services_warnings.do_acknowledge(target, AckState.NOT_AFFECTED, acting_user=w.other_admin)
    assert [t.organization.code for t in services_warnings.not_acknowledged(warning)] == ["MIN", "RESP"]


def test_visibility_of_warnings(land):
    w = land.world
    warning = _issue(w.admin, isacs=[land.isac])
    visible = services_warnings.warnings_visible_to
    assert warning in visible(w.coordinator)  # the coordinator oversees every warning
    assert warning in visible(w.analyst)  # the sender organization
    assert warning in visible(w.other_admin) and warning in visible(w.responder)  # targets
    for user in (land.other_user, w.dept_analyst, w.nobody):
        assert warning not in visible(user)
    assert services_warnings.can_view_targets(w.analyst, warning)
    assert not services_warnings.can_view_targets(w.other_admin, warning)


# --- Report and e-mail -----------------------------------------------------------------------------


def test_report_is_stored_in_a_collection_and_red_names_the_targets(land):
    w = land.world
    coll = services.do_create_collection({"title": "National", "owner": w.ncsc, "kind": "national"},
                                         acting_user=w.coordinator)
    warning = _issue(w.coordinator, isacs=[land.isac],
                     data={"collection": coll, "tlp": Tlp.RED, "vulnerability_refs": ["CVE-2024-21762"]})
    report = StixObject.objects.get(stix_id=warning.report_id)
    assert report.stix_type == "report" and report.tlp == Tlp.RED and report.producer == w.ncsc
    assert_valid_stix([report.data])
    assert set(StixRecipient.objects.filter(object=report).values_list("organization__code", flat=True)) == {
        "MIN", "PROV", "RESP"}  # the ISAC's members and its operator


def test_one_email_per_target_organization(land, django_capture_on_commit_callbacks):
    w = land.world
    Organization.objects.filter(pk=w.responder_org.pk).update(contact_email="")
    with django_capture_on_commit_callbacks(execute=True):
        warning = _issue(w.coordinator, isacs=[land.isac], sectors=[land.sector],
                         data={"values": ["45.33.10.1"], "title": "Mã độc mới", "severity": "medium"})
    assert set(_targets(warning)) == {"PROV", "RESP", "MIN"}
    recipients = sorted(r for m in mail.outbox for r in m.to)
    assert recipients == sorted(Organization.objects.filter(code__in=["PROV", "MIN"])
                                .values_list("contact_email", flat=True))
    assert all(len(m.to) == 1 for m in mail.outbox)
    assert all("Mã độc mới" in m.subject for m in mail.outbox)


@pytest.mark.parametrize("level", ["amber", "red"])
def test_the_contact_e_mail_says_why_what_to_block_and_where_to_answer(land, level, settings,
                                                                        django_capture_on_commit_callbacks):
    """A duty officer (maybe not a platform user) got the title, the summary and a bare warning id: no link, no
    value to block, no CVE, no reason the organization was targeted."""
    w = land.world
    settings.KHIEN_PUBLIC_URL = "https://khien.example.gov.vn/"
    with django_capture_on_commit_callbacks(execute=True):
        warning = _issue(w.coordinator, isacs=[land.isac], sectors=[land.sector], data={
            "values": ["45.33.10.1", "evil-update.example"], "vulnerability_refs": ["CVE-2024-3400"],
            "cpes": ["cpe:2.3:o:paloaltonetworks:pan-os:10.2.0:*:*:*:*:*:*:*"], "tlp": level})
    contacts = dict(warning.targets.values_list("organization__contact_email", "pk"))
    message = next(m for m in mail.outbox if m.to[0] in contacts)
    body = message.body
    assert f"https://khien.example.gov.vn/intel/warnings/{warning.pk}/" in body
    target = warning.targets.get(organization__contact_email=message.to[0])
    assert str(target.get_reason_display()) in body
    assert "'kind'" not in body and "{" not in body
    named = ("  - 45.33.10.1\n" in body, "evil-update.example" in body, "CVE-2024-3400" in body, "pan-os" in body)
    if level == "red":  # the values stay in the platform
        assert named == (False, False, False, False) and "TLP:RED" in body
    else:
        assert named == (True, True, True, True)


def test_no_email_before_commit(land):
    _issue(land.world.coordinator, isacs=[land.isac])
    assert len(mail.outbox) == 0  # the test transaction never commits


# --- API -------------------------------------------------------------------------------------------


def test_api_issue_inbox_acknowledge_targets(land, api, django_capture_on_commit_callbacks):
    w = land.world
    body = {"title": "Cảnh báo", "summary": "S", "severity": "critical", "tlp": "amber",
            "values": ["45.33.10.1", "8.8.8.8"], "isacs": ["FIN-ISAC"]}
    assert api().post(WARNINGS, body, format="json").status_code == 401
    assert api(w.responder).post(WARNINGS, body, format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        created = api(w.coordinator).post(WARNINGS, body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    flags = {v["value"]: v for v in data["values"]}
    assert flags["8.8.8.8"]["warning_listed"] and flags["8.8.8.8"]["warninglists"] == ["public-dns-resolvers"]
    assert not flags["45.33.10.1"]["warning_listed"]
    url = f"{WARNINGS}{data['id']}/"
    # One message to each target organization's contact address (critical: members are also told at once).
    contacts = set(Organization.objects.filter(warning_targets__warning_id=data["id"])
                   .values_list("contact_email", flat=True))
    assert sorted(m.to[0] for m in mail.outbox if m.to[0] in contacts) == sorted(contacts) and len(contacts) == 3

    inbox = api(w.other_admin).get(f"{WARNINGS}inbox/", {"state": "pending"})
    assert inbox.status_code == 200 and [i["warning"]["id"] for i in inbox.json()["results"]] == [data["id"]]
    assert api(w.other_admin).get(url).status_code == 200
    # An unrelated organization is not targeted and cannot see the warning.
    assert api(land.other_user).get(url).status_code == 404
    assert api(land.other_user).get(f"{WARNINGS}inbox/").json()["results"] == []
    assert api(land.other_user).post(f"{url}acknowledge/", {"state": "received"}, format="json").status_code == 404
    assert data["id"] not in [x["id"] for x in api(land.other_user).get(WARNINGS).json()["results"]]

    # The targets and who has not acknowledged: coordinator and sender only.
    assert api(w.other_admin).get(f"{url}targets/").status_code == 403
    pending = api(w.coordinator).get(f"{url}targets/", {"pending": "1"}).json()
    assert [t["organization"] for t in pending] == ["MIN", "PROV", "RESP"]

    assert api(land.prov_trainee).post(f"{url}acknowledge/", {"state": "acted"}, format="json").status_code == 403
    assert api(w.other_admin).post(f"{url}acknowledge/", {"state": "maybe"}, format="json").status_code == 400
    ack = api(w.other_admin).post(f"{url}acknowledge/", {"state": "acted", "note": "Đã chặn"}, format="json")
    assert ack.status_code == 200 and ack.json()["state"] == "acted"
    pending = api(w.coordinator).get(f"{url}targets/", {"pending": "true"}).json()
    assert [t["organization"] for t in pending] == ["MIN", "RESP"]
    everything = api(w.coordinator).get(f"{url}targets/").json()
    assert {t["organization"]: t["state"] for t in everything} == {"MIN": None, "PROV": "acted", "RESP": None}
    assert api(w.coordinator).post(f"{url}acknowledge/", {"state": "acted"}, format="json").status_code == 403


def test_api_bad_input_is_400_and_writes_nothing(land, api):
    client = api(land.world.coordinator)
    for body in ({"title": "T", "sectors": ["NO-SUCH-SECTOR"]}, {"title": "T", "values": ["@@"], "isacs": ["FIN-ISAC"]},
                 {"title": "T"}, {"values": ["45.33.10.1"]}, {"title": "T", "values": "45.33.10.1"}):
        response = client.post(WARNINGS, body, format="json")
        assert response.status_code == 400, (body, response.content)
    assert EarlyWarning.objects.count() == 0


def test_api_names_every_indicator_id_it_cannot_use(land, api):
    """Each unknown id is named (not only the first), a malformed one too: in the words of the form's picker."""
    client = api(land.world.coordinator)
    unknown = ["indicator--00000000-0000-4000-8000-000000000001", "indicator--00000000-0000-4000-8000-000000000002"]
    body = {"title": "T", "values": ["45.33.10.1"], "sectors": [land.sector.code], "indicator_refs": unknown}
    client.cookies["khien_language"] = "en"
    response = client.post(WARNINGS, body, format="json")
    said = str(response.json())
    assert response.status_code == 400 and all(i in said for i in unknown), said
    assert "No indicator you can see has these ids" in said
    response = client.post(WARNINGS, {**body, "indicator_refs": ["report--abc", 7]}, format="json")
    said = str(response.json())
    assert response.status_code == 400 and "report--abc" in said and "Not indicator ids" in said, said
    assert EarlyWarning.objects.count() == 0


def test_retired_systems_and_inactive_organizations_are_not_matched(land, make_system):
    w = land.world
    make_system(land.other, ip_ranges=["47.1.0.0/16"], operational_status="retired")
    assert match_organizations([(IndicatorKind.IPV4, "47.1.2.3")], []) == {}
    Organization.objects.filter(pk=w.responder_org.pk).update(is_active=False)
    with pytest.raises(Refused):
        _issue(w.coordinator, data={"values": ["45.33.10.1"]})


def test_members_of_target_organizations_get_an_in_app_notification(land, django_capture_on_commit_callbacks):
    from khien.core.models import Notification

    w = land.world
    with django_capture_on_commit_callbacks(execute=True):
        warning = _issue(w.coordinator, organizations=[w.ministry], auto_match=False,
                         data={"title": "Lỗ hổng nghiêm trọng", "severity": "critical"})
    notified = set(Notification.objects.filter(kind="intel.warning").values_list("recipient__email", flat=True))
    assert w.admin.email in notified and w.analyst.email in notified
    assert w.other_admin.email not in notified and w.responder.email not in notified
    assert Notification.objects.filter(kind="intel.warning", url__endswith=f"{warning.pk}/").count() == len(notified)
    # Critical: members are e-mailed at once, beside the organization's contact address.
    assert w.admin.email in {r for m in mail.outbox for r in m.to}


def test_an_isac_operators_warning_form_offers_its_members_only(land, as_user, coordinator_client):
    """The form offers what the service accepts: an ISAC operator picks among its ISACs' members, not the 338
    organizations of the country (others were refused only once sent); the coordinator is offered everyone."""
    from django.urls import reverse

    w = land.world
    everyone = coordinator_client.get(reverse("intel:warning_create")).context["form"]
    assert {w.ministry.pk, land.other.pk} <= {o.pk for o in everyone.fields["organizations"].queryset}
    page = as_user(w.admin).get(reverse("intel:warning_create"))
    assert page.status_code == 200
    offered = {o.pk for o in page.context["form"].fields["organizations"].queryset}
    assert offered == {w.province.pk, w.responder_org.pk}
    assert list(page.context["form"].fields["isacs"].queryset) == [land.isac]
