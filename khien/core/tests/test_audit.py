"""The audit log records every write and `khien audit verify` detects tampering."""
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from khien.core import audit
from khien.core.models import AuditEntry
from khien.registry import services

pytestmark = pytest.mark.django_db


def _drop_triggers():
    """Simulate an attacker with DDL rights on the database."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("ALTER TABLE core_auditentry DISABLE TRIGGER core_auditentry_append_only")
        else:
            cur.execute("DROP TRIGGER IF EXISTS core_auditentry_no_update")
            cur.execute("DROP TRIGGER IF EXISTS core_auditentry_no_delete")


def _write_some(world, n=3):
    for i in range(n):
        services.do_create_organization(
            {"code": f"AUD-{i}", "name_vi": f"Đơn vị {i}", "org_type": "agency", "parent": world.ministry},
            acting_user=world.admin,
        )


def test_each_write_records_who_what_before_after(world):
    before_count = AuditEntry.objects.count()
    org = services.do_create_organization(
        {"code": "NEW-1", "name_vi": "Sở mới", "org_type": "agency", "parent": world.ministry}, acting_user=world.admin
    )
    services.do_update_organization(org, {"hotline": "02431234567"}, acting_user=world.admin)
    entries = list(AuditEntry.objects.filter(seq__gt=before_count).order_by("seq"))
    assert [e.action for e in entries] == ["create", "update"]
    assert all(e.actor_email == world.admin.email for e in entries)
    assert entries[0].object_id == str(org.pk) and entries[0].after["code"] == "NEW-1"
    assert entries[1].before["hotline"] == "" and entries[1].after["hotline"] == "02431234567"
    assert audit.verify().ok


def test_secrets_never_enter_the_log(world):
    from khien.core import services as core_services

    _token, key = core_services.do_create_api_token(world.admin, acting_user=world.admin)
    for entry in AuditEntry.objects.all():
        text = str(entry.before) + str(entry.after)
        assert key not in text and "key_hash" not in text and "pbkdf2" not in text


def test_orm_refuses_update_and_delete(world):
    _write_some(world, 1)
    entry = AuditEntry.objects.order_by("-seq").first()
    entry.action = "forged"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="forged")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()


def test_database_triggers_refuse_update_and_delete(world):
    _write_some(world, 1)
    seq = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    for sql in ("UPDATE core_auditentry SET action = 'forged' WHERE seq = %s", "DELETE FROM core_auditentry WHERE seq = %s"):
        with pytest.raises(Exception, match="append-only"):
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(sql, [seq])
    assert AuditEntry.objects.filter(seq=seq, action="create").exists()


def test_verify_detects_altered_content(world):
    _write_some(world)
    _drop_triggers()
    victim = AuditEntry.objects.order_by("seq")[2]
    with connection.cursor() as cur:
        cur.execute("UPDATE core_auditentry SET actor_email = 'someone@else.vn' WHERE seq = %s", [victim.seq])
    result = audit.verify()
    assert not result.ok
    assert any(f"entry {victim.seq}: content altered" in p for p in result.problems)
    with pytest.raises(CommandError):
        call_command("audit", "verify")


def test_verify_detects_a_removed_row(world):
    _write_some(world)
    _drop_triggers()
    victim = AuditEntry.objects.order_by("seq")[3].seq
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditentry WHERE seq = %s", [victim])
    result = audit.verify()
    assert not result.ok
    assert any("missing" in p for p in result.problems)


def test_verify_detects_a_rehashed_forgery(world):
    """Recomputing the altered row's own hash does not help: the next row no longer follows it."""
    _write_some(world)
    _drop_triggers()
    victim = AuditEntry.objects.order_by("seq")[2]
    victim.object_repr = "forged"
    forged_hash = audit._digest(audit._hashed_fields(victim))
    with connection.cursor() as cur:
        cur.execute("UPDATE core_auditentry SET object_repr = 'forged', hash = %s WHERE seq = %s", [forged_hash, victim.seq])
    result = audit.verify()
    assert any(f"entry {victim.seq + 1}: does not follow" in p for p in result.problems)


def test_verify_with_expected_head_detects_truncated_tail(world, capsys):
    _write_some(world)
    head = audit.verify().head_hash
    call_command("audit", "verify", "--expect-head", head)
    assert "intact" in capsys.readouterr().out
    _drop_triggers()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditentry WHERE seq = (SELECT MAX(seq) FROM core_auditentry)")
    assert audit.verify().ok  # the chain alone cannot see a cut tail…
    with pytest.raises(CommandError):  # …the recorded head can
        call_command("audit", "verify", "--expect-head", head)


def test_intact_log_verifies(world, capsys):
    _write_some(world)
    call_command("audit", "verify")
    assert "audit log intact" in capsys.readouterr().out


def test_keys_written_beside_model_fields_read_in_words_and_yes_no(world):
    """An entry's before/after may hold keys that are no model field (a count of dead letters discarded, the reason
    and flag of a revocation): they read as labels in the reader's language, true/false as yes/no — not as the
    keys and Python's True/False."""
    from django.utils import translation

    entry = audit.record(audit.Act.UPDATE, None, actor=world.analyst, object_type="telemetry.deadletter",
                         object_id="src", object_repr="dead letters of src",
                         after={"discarded": 2, "reason": "nhầm định dạng", "revoked": True, "some_new_key": 1})
    with translation.override("vi"):
        rows = {row["field"]: row for row in audit.changes(entry, world.analyst)}
        assert rows["discarded"]["label"] == "Đã loại bỏ" and rows["reason"]["label"] == "Lý do"
        assert rows["revoked"]["after_name"] == "có"
    with translation.override("en"):
        rows = {row["field"]: row for row in audit.changes(entry, world.analyst)}
        assert rows["revoked"]["after_name"] == "yes" and rows["discarded"]["label"] == "Discarded"
    assert rows["some_new_key"]["label"] == "Some new key"  # an unlisted key reads as itself, spaced
    assert rows["discarded"]["after_name"] is None and rows["discarded"]["after"] == "2"


def test_a_relation_written_under_its_name_is_named_like_one_under_its_attname(world):
    """The early-warning targets are logged as {"warning": id, "organization": id} and the text "title → <id>": the
    reader saw the organization's id, and the keys in English."""
    from django.utils import translation

    from khien.intel.models import EarlyWarning

    warning = EarlyWarning.objects.create(title="Cảnh báo", organization=world.ncsc, created_by=world.coordinator)
    entry = audit.record_many([audit.Change(
        action=audit.Act.CREATE, object_type="intel.warningtarget", object_id="1",
        object_repr=f"Cảnh báo → {world.ministry.pk}", organization_id=str(world.ministry.pk),
        after={"warning": str(warning.pk), "organization": str(world.ministry.pk), "reason": "chosen"})],
        actor=world.coordinator)[0]
    audit.describe([entry], world.coordinator)
    assert str(world.ministry.pk) not in entry.text and str(world.ministry) in entry.text
    with translation.override("vi"):
        rows = {row["field"]: row for row in audit.changes(entry, world.coordinator)}
    assert rows["organization"]["after_name"] == str(world.ministry)
    assert rows["organization"]["label"] != "organization" and rows["reason"]["after_name"]
