"""The audit log as an independent assessor checks it: the hash recipe the operator guide documents (run here as
the guide writes it, against real entries from the API), the hashes and links in the CSV export, the "Verify these
entries" action of the log page, and long object names cut at a word with "…"."""
import csv
import html
import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from khien.core import audit, audit_export
from khien.core.models import AuditEntry
from khien.core.tests.test_audit import _drop_triggers  # an attacker with DDL rights

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[3] / "docs"
RECIPE_MARK = "<!-- audit-hash-recipe -->"


def _recipe(doc: str) -> dict:
    """The Python block that follows the recipe's marker in a documentation page, run: its functions."""
    text = (DOCS / doc).read_text()
    assert RECIPE_MARK in text, f"{doc} lost the audit hash recipe"
    block = re.search(r"```python\n(.*?)```", text[text.index(RECIPE_MARK):], re.S).group(1)
    namespace: dict = {}
    exec(compile(block, f"{doc}:audit-hash-recipe", "exec"), namespace)  # noqa: S102 — the documented code itself
    return namespace




def _write_some(world):
    from khien.registry import services

    services.do_create_organization({"code": "AUD-1", "name_vi": "Sở Thông tin — “đơn vị” mới", "org_type": "agency",
                                     "parent": world.ministry}, acting_user=world.admin)
    services.do_add_member(world.ministry, "moi@min.test.vn", "org_analyst", acting_user=world.admin,
                           full_name="Nguyễn Văn Mới")
    audit.record(audit.Act.EXPORT, actor=None, object_type="core.sealed", object_repr="", after={"n": 1, "x": [None]})


# --- the documented recipe ---------------------------------------------------------------------------------

def test_the_documented_recipe_verifies_real_entries_from_the_api(world, api):
    _write_some(world)
    recipe = _recipe("operator-guide.md")
    assert "operator-guide.md#checking-entries-yourself-for-an-assessor" in (DOCS / "api.md").read_text()
    for user in (world.coordinator, world.admin):
        entries = api(user).get("/api/audit/", {"limit": 500}).json()["results"]
        assert len(entries) >= 4
        assert all(recipe["entry_hash"](e) == e["hash"] for e in entries), user
        assert recipe["check"](entries) == []
    entries = api(world.coordinator).get("/api/audit/", {"limit": 500}).json()["results"]
    # an altered entry, and an entry whose link to the one before it is broken, are found
    altered = [dict(e) for e in entries]
    altered[2]["actor_email"] = "someone@else.vn"
    assert [p for p in recipe["check"](altered) if str(altered[2]["seq"]) in p]
    relinked = [dict(e) for e in entries]
    relinked[1]["prev_hash"] = "0" * 64
    relinked[1]["hash"] = recipe["entry_hash"](relinked[1])  # rehashed: its own hash matches, its link does not
    problems = recipe["check"](relinked)
    assert problems and all(str(relinked[1]["seq"]) in p for p in problems)


# --- the CSV export ----------------------------------------------------------------------------------------

def _csv(client, **params) -> list[list[str]]:
    response = client.get(reverse("core:audit_export"), params)
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_the_csv_export_carries_each_entrys_hash_and_the_previous_one(client, world):
    _write_some(world)
    client.force_login(world.admin)
    rows = _csv(client)
    assert rows[0][0] == "#" and rows[0][-2:] == ["prev_hash", "hash"]
    stored = {e.seq: e for e in AuditEntry.objects.all()}
    for row in rows[1:]:
        entry = stored[int(row[0])]
        assert row[-2:] == [entry.prev_hash, entry.hash]
    by_seq = {int(r[0]): r for r in rows[1:]}
    linked = [seq for seq in by_seq if seq - 1 in by_seq]
    assert linked and all(by_seq[seq][-2] == by_seq[seq - 1][-1] for seq in linked)


# --- "Verify these entries" on the log page -----------------------------------------------------------------

def _verify(client, **params):
    response = client.get(reverse("core:audit"), {**params, "verify": "1"})
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    box = re.search(r'<div[^>]*id="audit-verify"[^>]*>(.*?)</div>', page, re.S)
    assert box, "no verification result on the page"
    return response, " ".join(re.sub(r"<[^>]+>", " ", box.group(1)).split())


def test_a_reader_verifies_the_entries_they_see_in_their_language(client, world):
    _write_some(world)
    client.force_login(world.admin)
    page = html.unescape(client.get(reverse("core:audit")).content.decode())
    assert "verify=1" in page  # the action is offered
    seen = AuditEntry.objects.visible_to(world.admin).count()
    response, text = _verify(client)
    assert response.context["verification"].checked == seen
    assert "Các bản ghi này toàn vẹn" in text, text
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response, text = _verify(client)
    assert "These entries are intact" in text and f"{seen:,}" in text, text
    offer = html.unescape(response.content.decode())
    offer = offer[offer.index("Verify these entries"):offer.index('id="audit-verify"')]
    assert f"at most {audit_export.MAX_ENTRIES:,}" in offer  # the bound is said
    # the filters choose the entries checked, as they choose those downloaded
    response, _text = _verify(client, action="create")
    assert response.context["verification"].checked == AuditEntry.objects.visible_to(world.admin).filter(
        action="create").count()


def test_a_reader_is_told_which_entry_was_altered_or_relinked(client, world):
    _write_some(world)
    entries = list(AuditEntry.objects.visible_to(world.admin).order_by("seq"))
    linked = next(e for e in entries if any(o.seq == e.seq - 1 for o in entries))
    altered = next(e for e in entries if e.seq not in (linked.seq, linked.seq - 1))
    _drop_triggers()
    with connection.cursor() as cur:
        cur.execute("UPDATE core_auditentry SET actor_email = 'someone@else.vn' WHERE seq = %s", [altered.seq])
        cur.execute("UPDATE core_auditentry SET prev_hash = %s WHERE seq = %s", ["f" * 64, linked.seq])
    client.force_login(world.admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    _response, text = _verify(client)
    assert f"#{altered.seq}" in text and "does not match its hash" in text, text
    assert f"#{linked.seq}" in text and f"#{linked.seq - 1}" in text, text
    assert "intact" not in text.split(".")[0]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "vi"
    _response, text = _verify(client)
    assert f"#{altered.seq}" in text and "không khớp" in text, text


def test_the_national_coordinators_verification_covers_the_whole_chain(coordinator_client, world):
    _write_some(world)
    coordinator_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response, text = _verify(coordinator_client, action="create")  # the filters do not narrow it
    total = AuditEntry.objects.count()
    head = AuditEntry.objects.order_by("-seq").first()
    assert response.context["verification"].checked == total
    assert "whole chain is intact" in text and head.hash in text, text
    _drop_triggers()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditentry WHERE seq = %s", [3])
    _response, text = _verify(coordinator_client)
    assert "#3" in text and "missing" in text, text


# --- long object names --------------------------------------------------------------------------------------

LONG = ("Ảnh chụp màn hình cảnh báo từ hệ thống giám sát. (khai thác lỗ hổng trên cổng thông tin điện tử của "
        "tỉnh, máy chủ web bị tải lên tệp lạ, tài khoản quản trị bị đăng nhập từ địa chỉ nước ngoài, nhiều lần "
        "liên tiếp vào ban đêm, kèm theo nhật ký truy cập và bản sao lưu cơ sở dữ liệu bị thay đổi bất thường "
        "trong ngày hôm trước)")


def test_a_long_object_name_is_cut_at_a_word_with_an_ellipsis(client, world):
    assert len(LONG) > 300
    entry = audit.record(audit.Act.CREATE, actor=world.admin, object_type="core.sealed", object_repr=LONG,
                         organization_id=str(world.ministry.pk))
    assert len(entry.object_repr) <= 300 and entry.object_repr.endswith("…")
    kept = entry.object_repr[:-1]
    assert LONG.startswith(kept) and LONG[len(kept)] == " "  # the cut falls between words
    assert audit.verify().ok
    client.force_login(world.admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = html.unescape(client.get(reverse("core:audit")).content.decode())
    assert kept + "…" in page
    rows = _csv(client)
    assert any(r[5] == entry.object_repr for r in rows[1:])


def test_an_entry_cut_before_the_ellipsis_existed_reads_with_one(client, world):
    entry = audit.record(audit.Act.CREATE, actor=world.admin, object_type="core.sealed", object_repr="x",
                         organization_id=str(world.ministry.pk))
    entry.object_repr = LONG[:300]  # as the log stored it then (hashed: kept as stored)
    audit.describe([entry], world.admin)
    assert entry.text.endswith("…") and LONG.startswith(entry.text[:-1]) and LONG[len(entry.text) - 1] == " "
