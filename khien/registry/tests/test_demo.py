"""`khien demo`: builds a consistent synthetic country, and --if-empty leaves a loaded one alone."""
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from khien.core import audit
from khien.core.models import AuditEntry, User
from khien.core.roles import Role
from khien.core.scoping import is_national_coordinator
from khien.registry import demo, levels
from khien.registry.models import (
    InformationSystem,
    Isac,
    LayerState,
    LevelEvent,
    LevelStatus,
    OperationalStatus,
    Organization,
    OrgType,
    Province,
)
from khien.registry.validators import validate_cpes, validate_domains, validate_ip_ranges

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_hashing(settings):
    # The demo hashes six passwords; the default hasher is deliberately slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def built(fast_hashing):
    out = StringIO()
    call_command("demo", "--systems", "200", stdout=out)
    return out.getvalue()


def test_prints_every_account_coordinator_first_with_totp_hint(built):
    lines = [line for line in built.splitlines() if "@" in line and "demo.khien.vn" in line and "Demo-Khien-" in line]
    assert [line.split()[0] for line in lines] == [str(a.role) for a in demo.ACCOUNTS]
    assert lines[0].split()[0] == Role.NATIONAL_COORDINATOR
    for account in demo.ACCOUNTS:
        assert account.email in built and account.password in built
    assert demo.totp_secret_base32(demo.COORDINATOR_TOTP_KEY) in built
    assert f"khien totp {demo.COORDINATOR.email}" in built


def test_every_role_account_exists_with_its_membership_and_password(built):
    assert {a.role for a in demo.ACCOUNTS} == set(Role.values)
    for account in demo.ACCOUNTS:
        user = User.objects.get(email=account.email)
        assert len(account.password) >= 12
        assert user.check_password(account.password) and user.is_active
        membership = user.memberships.get()
        assert membership.role == account.role
        assert membership.organization.code == account.org_code
    coordinator = User.objects.get(email=demo.COORDINATOR.email)
    assert is_national_coordinator(coordinator)
    ncsc = Organization.objects.get(code="NCSC")
    assert ncsc.name_vi == "Trung tâm An ninh mạng quốc gia"
    assert ncsc.parent.name_vi == "Bộ Công an"
    device = TOTPDevice.objects.get(user=coordinator)
    assert device.confirmed and device.key == demo.COORDINATOR_TOTP_KEY
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    assert device.verify_token(f"{code:06d}")


def test_country_shape(built):
    assert Organization.objects.filter(org_type=OrgType.PROVINCE).count() == Province.objects.count() == 34
    for province in Organization.objects.filter(org_type=OrgType.PROVINCE):
        assert province.code == f"UBND-{province.province.code}"
        communes = province.children.filter(org_type=OrgType.COMMUNE).count()
        assert 2 <= communes <= 4
        assert province.children.filter(org_type=OrgType.AGENCY).count() >= 2
    for ministry in Organization.objects.filter(org_type=OrgType.MINISTRY):
        assert ministry.children.filter(org_type=OrgType.AGENCY).count() >= 2
    for org_type in (OrgType.SOE, OrgType.RESPONDER, OrgType.TRAINING):
        assert Organization.objects.filter(org_type=org_type).exists()
    # Materialized paths agree with the parents.
    for org in Organization.objects.select_related("parent"):
        assert org.path == org.compute_path()
        assert org.hotline and org.contact_email.endswith(".demo.khien.vn") and org.head_name
    # Companies are fictional.
    for company in Organization.objects.filter(org_type__in=[OrgType.SOE, OrgType.ENTERPRISE, OrgType.RESPONDER]):
        assert "Demo" in company.name_vi
    isacs = Isac.objects.all()
    assert {i.sector.code for i in isacs} >= {"finance", "banking", "energy", "telecom", "transport", "health"}
    for isac in isacs:
        assert 5 <= isac.members.count() <= 20


def test_systems_cover_every_level_and_state_consistently(built):
    systems = list(InformationSystem.objects.select_related("framework", "owner"))
    assert len(systems) == 200
    assert {s.proposed_level for s in systems} == {1, 2, 3, 4, 5}
    assert {s.level_status for s in systems} == set(LevelStatus.values)
    assert {s.operational_status for s in systems} == set(OperationalStatus.values)
    assert {s.approved_level for s in systems if s.approved_level} == {1, 2, 3, 4, 5}
    layer3_dates = [s.layer3_assessed_on for s in systems if s.layer3_assessed_on]
    today = max(layer3_dates)  # any day: some assessments are past their level's interval, some within it
    names = [(s.owner_id, s.name) for s in systems]
    assert len(set(names)) == len(names)  # told apart in pickers and lists
    assessed = [s for s in systems if s.layer3_assessed_on]
    assert any(not s.assessment_current(today) for s in assessed) and any(s.assessment_current(today) for s in assessed)
    for s in systems:
        s.full_clean()  # the model's own invariants and validators
        # "in operation" only with an approved level.
        if s.operational_status == OperationalStatus.IN_OPERATION:
            assert s.approved_level is not None
        # Criteria answers give the suggested level, which is the proposed one.
        assert levels.suggest_level(s.framework, s.criteria).level == s.suggested_level == s.proposed_level
        validate_ip_ranges(s.ip_ranges)
        validate_domains(s.domains)
        validate_cpes(s.products)
        assert all(d.endswith(".demo.khien.vn") for d in s.domains)
        if s.layer3_status == LayerState.IN_PLACE:
            assert s.layer3_assessed_on is not None


def test_level_history_matches_the_state_and_the_rules(built):
    import ipaddress

    allowed_nets = [ipaddress.ip_network(n) for n in (
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
        "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
    demo_emails = set(User.objects.filter(email__endswith=".demo.khien.vn").values_list("email", flat=True))
    for s in InformationSystem.objects.prefetch_related("level_events", "dossier_files"):
        for net in s.ip_ranges:
            assert any(ipaddress.ip_network(net).subnet_of(a) for a in allowed_nets), net
        events = list(s.level_events.all())
        status = LevelStatus.DRAFT
        submitter = appraiser = None
        for e in events:
            assert e.from_status == status, (s.code, [x.action for x in events])
            status = e.to_status
            assert e.actor_email in demo_emails and e.actor.email == e.actor_email
            if e.action == "submit":
                submitter = e.actor_id
            elif e.action in ("appraise", "approve", "return"):
                assert e.actor_id != submitter  # never one's own proposal
            if e.action == "appraise":
                appraiser = e.actor_id
            elif e.action == "approve":
                assert e.actor_id != appraiser  # four eyes
        assert status == s.level_status
        assert [e.at for e in events] == sorted(e.at for e in events)
        if s.approved_level is not None:
            approve = [e for e in events if e.action == "approve"][-1]
            assert approve.decision_number == s.decision_number and approve.decision_date == s.decision_date
        if events:
            assert s.dossier_files.exists()
    assert LevelEvent.objects.filter(action="approve").exists()
    assert LevelEvent.objects.filter(action="return").exists()


def test_audit_chain_complete_and_if_empty_changes_nothing(built, fast_hashing):
    result = audit.verify()
    assert result.ok, result.problems
    # One entry per created object.
    assert AuditEntry.objects.filter(object_type="registry.informationsystem", action="create").count() == 200
    assert AuditEntry.objects.filter(object_type="registry.organization", action="create").count() == Organization.objects.count()
    assert AuditEntry.objects.filter(object_type="registry.levelevent").count() == LevelEvent.objects.count()
    counts = (Organization.objects.count(), InformationSystem.objects.count(), User.objects.count(), AuditEntry.objects.count())

    out = StringIO()
    call_command("demo", "--if-empty", stdout=out)
    assert "not loaded" in out.getvalue()
    assert (Organization.objects.count(), InformationSystem.objects.count(), User.objects.count(),
            AuditEntry.objects.count()) == counts
    # Without --if-empty, a loaded registry is refused rather than doubled.
    with pytest.raises(CommandError):
        call_command("demo", stdout=StringIO())
    assert AuditEntry.objects.count() == counts[3]

    out = StringIO()
    call_command("demo", "--accounts", stdout=out)
    assert demo.COORDINATOR.email in out.getvalue() and AuditEntry.objects.count() == counts[3]


class _Rollback(Exception):
    pass


def _build_and_read(n):
    """Build in a savepoint, read what was built, roll it back."""
    from django.db import transaction

    try:
        with transaction.atomic():
            demo.build(n)
            data = (
                list(Organization.objects.order_by("code").values_list("id", "code", "name_vi", "parent__code", "head_name")),
                list(InformationSystem.objects.order_by("code").values_list(
                    "id", "code", "owner__code", "criteria", "proposed_level", "level_status", "operational_status",
                    "ip_ranges", "domains", "products")),
                list(User.objects.order_by("email").values_list("id", "email", "full_name")),
            )
            raise _Rollback
    except _Rollback:
        return data


def test_deterministic(fast_hashing):
    """The same seed gives the same country: ids, codes, names, levels and states."""
    first = _build_and_read(60)
    assert not Organization.objects.exists()  # rolled back
    second = _build_and_read(60)
    assert len(first[1]) == 60
    assert first == second


def test_level_events_read_as_words_in_the_audit_log(built, client):
    """The demo logged each level event as "approve: appraised → approved": the step and the statuses as codes.
    An event's entry names its system, and its page shows the step and the statuses by their labels."""
    from django.urls import reverse
    from django.utils import translation

    from khien.registry.models import LevelAction

    event = LevelEvent.objects.filter(action="approve").select_related("system__owner").first()
    root = event.system.owner.ancestor_paths()[0]  # an administrator of the owner's top organization sees it
    admin = User.objects.filter(memberships__role=Role.ORG_ADMIN, memberships__organization__path=root).first()
    entry = AuditEntry.objects.get(object_type="registry.levelevent", object_id=str(event.pk))
    assert entry.object_repr == str(event.system_id)  # language-neutral: no codes kept in the hashed text
    [described] = audit.describe([entry], admin)
    assert described.text == str(event.system)
    rows = {row["field"]: row for row in audit.changes(entry, admin)}
    with translation.override("vi"):
        assert rows["action"]["after_name"] == str(LevelAction.APPROVE.label) == "Đã phê duyệt"
        assert rows["from_status"]["after_name"] == str(LevelStatus.APPRAISED.label)
        assert rows["to_status"]["after_name"] == str(LevelStatus.APPROVED.label)
    client.force_login(admin)
    listing = client.get(reverse("core:audit") + "?object_type=registry.levelevent").content.decode()
    listing = listing[listing.index("<tbody>"):listing.index("</tbody>")]
    assert "appraised →" not in listing and "submit:" not in listing and "approve:" not in listing
    page = client.get(reverse("core:audit_entry", args=[entry.seq])).content.decode()
    assert "Đã phê duyệt" in page and "Đã thẩm định" in page
    # The system's own history names every step by its label, whatever the step.
    detail = client.get(reverse("registry:system_detail", args=[event.system_id])).content.decode()
    history = detail.split('id="history"', 1)[1].split("</section>", 1)[0]
    assert "Đã phê duyệt" in history and ">approve<" not in history


def test_a_printed_account_is_inside_a_sector_isac(built):
    """An ISAC analyst's walk starts from the printed accounts: one of them belongs to an ISAC's member
    organization (the banking ISAC), so its channels are seen from inside."""
    from khien.registry.models import Isac

    isac_member_codes = set(Isac.objects.values_list("members__code", flat=True))
    printed = [a for a in demo.ACCOUNTS if a.org_code in isac_member_codes]
    assert [a.email for a in printed] == [f"analyst@nh-demo-bd.{demo.DEMO_DOMAIN}"]
