"""CSV/XLSX import (all rows or none, with a row report) and export (re-importable)."""
import datetime as dt
import io
import random
import threading
import zipfile

import openpyxl
import pytest
from django.utils import translation
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from khien.core.errors import Forbidden, Refused
from khien.core.models import AuditEntry
from khien.registry import imports, levels, services
from khien.registry.models import (
    ImportJob,
    ImportStatus,
    InformationSystem,
    LevelStatus,
    Organization,
    Province,
    Sector,
)

pytestmark = pytest.mark.django_db

LEVEL1 = {"system_kind": "internal_admin", "data_kind": "public", "data_volume": "none",
          "served_scope": "internal", "impact": "organization"}


@pytest.fixture(autouse=True)
def _sync(settings):
    settings.KHIEN_IMPORT_SYNC = True


def csv_upload(text, name="data.csv", bom=False):
    data = text.encode("utf-8")
    return SimpleUploadedFile(name, (b"\xef\xbb\xbf" if bom else b"") + data, content_type="text/csv")


def xlsx_upload(rows, name="data.xlsx"):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def audit_len():
    return AuditEntry.objects.count()


def snapshot_all():
    orgs = {o.code: (o.name_vi, o.parent_id, o.province_id, o.hotline, tuple(sorted(s.code for s in o.sectors.all())))
            for o in Organization.objects.all()}
    systems = {s.code: (s.name, s.owner_id, s.operator_id, s.ip_ranges, s.domains, s.products, s.criteria,
                        s.proposed_level, s.level_status, s.layer3_assessed_on, s.internet_facing, s.updated_at)
               for s in InformationSystem.objects.all()}
    return orgs, systems


# --- Columns ------------------------------------------------------------------------------


def test_columns_follow_the_current_framework(world):
    cols = imports.COLUMNS["systems"]
    assert cols[:3] == ["code", "name", "owner_code"]
    assert [c for c in cols if c.startswith("criteria_")] == [
        "criteria_system_kind", "criteria_data_kind", "criteria_data_volume", "criteria_served_scope", "criteria_impact"]
    assert cols[-3:] == ["layer4_evidence", "approved_level", "level_status"]  # read-only columns last
    assert imports.COLUMNS["organizations"][0] == "code" and "sectors" in imports.COLUMNS["organizations"]
    assert set(imports.COLUMNS) == {"organizations", "systems"}
    with pytest.raises(KeyError):
        imports.COLUMNS["incidents"]


# --- Successful imports ---------------------------------------------------------------------


def test_csv_organizations_with_bom_semicolons_and_in_file_parent(world):
    sector_a, sector_b = Sector.objects.all()[:2]
    province = Province.objects.first()
    text = (
        "code;name_vi;name_en;org_type;parent_code;province_code;sectors;hotline;contact_email\n"
        f"MIN-A;Cục A;Department A;agency;MIN;{province.code};\"{sector_a.code}; {sector_b.code}\";1900 1111;a@min.vn\n"
        "MIN-A-1;Phòng A1;;agency;MIN-A;;;;\n"
    )
    before = audit_len()
    job = imports.start_import("organizations", csv_upload(text, bom=True), acting_user=world.admin)
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.total_rows, job.processed_rows, job.created_count, job.updated_count) == (2, 2, 2, 0)
    assert job.finished_at is not None and job.file.name
    a = Organization.objects.get(code="MIN-A")
    a1 = Organization.objects.get(code="MIN-A-1")
    assert a.parent == world.ministry and a.province == province and a.name_en == "Department A"
    assert {s.code for s in a.sectors.all()} == {sector_a.code, sector_b.code}
    assert a1.parent == a and a1.path.startswith(a.path)
    entries = list(AuditEntry.objects.filter(seq__gt=0).order_by("seq"))[before:]
    assert [e.action for e in entries] == ["import", "create", "create"]
    assert all(e.actor_email == world.admin.email for e in entries)


def test_xlsx_systems(world):
    header = imports.COLUMNS["systems"]
    row = {
        "code": "SYS-X1", "name": "Cổng dịch vụ công", "owner_code": "MIN", "operator_code": "MIN-D1",
        "operational_status": "planned", "important_to_national_security": "có", "internet_facing": "x",
        "ip_ranges": "203.0.113.7/24; 2001:db8::/32", "domains": "Dichvucong.Example.VN",
        "products": "cpe:2.3:a:nginx:nginx:1.24.0:*:*:*:*:*:*:*", "proposed_level": 1,
        **{f"criteria_{k}": v for k, v in LEVEL1.items()},
        "layer3_status": "in_place", "layer3_assessed_on": "15/03/2026", "layer3_assessor": "Công ty ĐG",
        "layer4_connected_on": dt.datetime(2026, 1, 2),
    }
    second = {"code": "SYS-X2", "name": "Thư điện tử", "owner_code": "MIN-D1", "internet_facing": "0"}
    upload = xlsx_upload([header, [row.get(c) for c in header], [second.get(c) for c in header]])
    job = imports.start_import("systems", upload, acting_user=world.admin)
    assert job.status == ImportStatus.DONE, job.errors
    assert job.created_count == 2
    s = InformationSystem.objects.get(code="SYS-X1")
    assert s.owner == world.ministry and s.operator == world.department
    assert s.important_to_national_security and s.internet_facing
    assert s.ip_ranges == ["203.0.113.0/24", "2001:db8::/32"] and s.domains == ["dichvucong.example.vn"]
    assert s.products == ["cpe:2.3:a:nginx:nginx:1.24.0:*:*:*:*:*:*:*"]
    assert s.criteria == LEVEL1 and s.suggested_level == 1 and s.proposed_level == 1
    assert s.layer3_assessed_on == dt.date(2026, 3, 15) and s.layer4_connected_on == dt.date(2026, 1, 2)
    assert s.level_status == LevelStatus.DRAFT
    s2 = InformationSystem.objects.get(code="SYS-X2")
    assert s2.criteria == {} and not s2.internet_facing and s2.layer1_status == "missing"


def test_upsert_updates_existing_and_skips_unchanged(world, make_system):
    make_system(world.ministry, code="SYS-U1", name="Cũ")
    make_system(world.ministry, code="SYS-U2", name="Giữ nguyên")
    text = "code,name,owner_code\nSYS-U1,Mới,MIN\nSYS-U2,Giữ nguyên,MIN\nSYS-U3,Thêm,MIN-D1\n"
    before = audit_len()
    job = imports.start_import("systems", csv_upload(text), acting_user=world.admin)
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.created_count, job.updated_count, job.unchanged_count) == (1, 1, 1)
    assert InformationSystem.objects.get(code="SYS-U1").name == "Mới"
    assert audit_len() == before + 3  # the job, one update, one create: nothing for the unchanged row


# --- All or nothing ------------------------------------------------------------------------


def test_one_bad_row_changes_nothing_and_is_reported(world, make_system):
    make_system(world.ministry, code="SYS-EXIST", name="Cũ")
    text = (
        "code,name,owner_code,ip_ranges,internet_facing,layer3_assessed_on,proposed_level\n"
        "SYS-G1,Tốt 1,MIN,10.0.0.0/8,1,,\n"                      # row 2: good
        "SYS-B1,Xấu 1,MIN,10.0.0.0/33,1,,\n"                     # row 3: bad CIDR
        "SYS-EXIST,Đổi tên,MIN,,0,,\n"                            # row 4: good update
        "SYS-B2,Xấu 2,NO-SUCH,,maybe,2026-13-45,7\n"             # row 5: four bad cells
        "SYS-G2,Tốt 2,MIN-D1,,không,01/02/2026,\n"                # row 6: good
    )
    orgs, systems = snapshot_all()
    before = audit_len()
    job = imports.start_import("systems", csv_upload(text), acting_user=world.admin)
    assert job.status == ImportStatus.REJECTED
    assert job.created_count == job.updated_count == 0
    reported = {(e["row"], e["field"]) for e in job.errors}
    # Row 5's cells are wrong, so its owner code is not looked up (it would be reported once the cells are fixed).
    assert reported == {(3, "ip_ranges"), (5, "internet_facing"), (5, "layer3_assessed_on"), (5, "proposed_level")}
    assert all(e["message"] for e in job.errors)
    assert [e["row"] for e in job.errors] == sorted(e["row"] for e in job.errors)
    assert snapshot_all() == (orgs, systems)
    assert audit_len() == before + 1  # only the job itself


def test_one_upload_reports_every_bad_cell_of_a_row(world):
    """A bad date and a bad address in one row are both reported at the first upload, not one per round."""
    text = ("code,name,owner_code,layer3_assessed_on,ip_ranges,domains\n"
            "SYS-B1,A,MIN,31/02/2025,999.1.1.1,not a domain\n")
    job = imports.start_import("systems", csv_upload(text), acting_user=world.admin)
    assert job.status == ImportStatus.REJECTED
    assert {e["field"] for e in job.errors if e["row"] == 2} == {"layer3_assessed_on", "ip_ranges", "domains"}
    assert any("999.1.1.1" in e["message"] for e in job.errors)
    assert not InformationSystem.objects.exists()


def test_reference_and_rule_errors_are_reported_per_row(world):
    text = (
        "code,name,owner_code,operational_status,criteria_system_kind\n"
        "SYS-R1,A,NO-SUCH,,\n"                   # row 2: unknown owner
        "SYS-R2,B,MIN,running,\n"                # row 3: not an operational status
        "SYS-R3,C,MIN,,internal_admin\n"         # row 4: criteria incomplete (other questions unanswered)
        "SYS-R4,D,MIN,,made_up\n"                # row 5: unknown answer
        "SYS-R5,E,MIN,,\n"                       # row 6: fine
        "SYS-R5,F,MIN,,\n"                       # row 7: same code twice
    )
    job = imports.start_import("systems", csv_upload(text), acting_user=world.admin)
    assert job.status == ImportStatus.REJECTED
    by_row = {}
    for e in job.errors:
        by_row.setdefault(e["row"], set()).add(e["field"])
    assert by_row == {2: {"owner_code"}, 3: {"operational_status"}, 4: {"criteria"},
                      5: {"criteria_system_kind"}, 7: {"code"}}
    assert not InformationSystem.objects.exists()


def test_row_referring_to_a_rejected_row_says_so(world):
    text = "code,name_vi,org_type,parent_code\nMIN-P,Cha,nonsense,MIN\nMIN-P-1,Con,agency,MIN-P\n"
    job = imports.start_import("organizations", csv_upload(text), acting_user=world.admin)
    assert job.status == ImportStatus.REJECTED
    assert [(e["row"], e["field"]) for e in job.errors] == [(2, "org_type"), (3, "parent_code")]
    assert "2" in job.errors[1]["message"]


def test_admin_cannot_import_into_another_organization(world, make_system):
    make_system(world.province, code="SYS-PROV")
    text = ("code,name,owner_code\n"
            "SYS-OK,Của bộ,MIN\n"
            "SYS-THEIRS,Của tỉnh,PROV\n"     # PROV is not visible to the ministry's admin
            "SYS-PROV,Ghi đè,MIN\n")         # an existing system of the province
    orgs, systems = snapshot_all()
    job = imports.start_import("systems", csv_upload(text), acting_user=world.admin)
    assert job.status == ImportStatus.REJECTED
    assert [(e["row"], e["field"]) for e in job.errors] == [(3, "owner_code"), (4, "code")]
    assert snapshot_all() == (orgs, systems)

    text = "code,name_vi,org_type,parent_code\nPROV-X,Xã X,commune,PROV\nTOP,Bộ,ministry,\n"
    job = imports.start_import("organizations", csv_upload(text), acting_user=world.admin)
    assert job.status == ImportStatus.REJECTED
    assert [(e["row"], e["field"]) for e in job.errors] == [(2, "parent_code"), (3, "parent_code")]
    assert not Organization.objects.filter(code__in=["PROV-X", "TOP"]).exists()


def test_roles_without_the_import_right_are_forbidden(world):
    text = "code,name,owner_code\nSYS-A,A,MIN\n"
    for who in ("analyst", "auditor", "trainee", "responder", "nobody"):
        with pytest.raises(Forbidden):
            imports.start_import("systems", csv_upload(text), acting_user=getattr(world, who))
    assert not ImportJob.objects.exists() and not InformationSystem.objects.exists()


# --- Unusable files ------------------------------------------------------------------------


@pytest.mark.parametrize("content,fragment", [
    (b"code,name,colour\nA,B,red\n", "colour"),                       # unknown column
    (b"code,name\nA,B\n", "owner_code"),                               # a required column missing
    (b"", "empty"),                                                    # empty file
    (b"\n\n  \n", "empty"),                                            # blank lines only
    (b"code,name,owner_code\n", "no data"),                            # header only
    (b"\x00\x01\x02\xff\xfe binary garbage \x00", "neither"),          # binary
    (b"\xff\xfecode,name", "neither"),                                 # not UTF-8
    (b"PK\x03\x04 not really a zip", "XLSX"),                          # broken XLSX
    (b"code,code,name,owner_code\nA,A,B,MIN\n", "more than once"),     # duplicate column
])
def test_unusable_files_are_refused_and_nothing_is_written(world, content, fragment):
    before = audit_len()
    with pytest.raises(Refused) as exc, translation.override("en"):  # the fragments are the English wording
        imports.start_import("systems", SimpleUploadedFile("f.csv", content), acting_user=world.admin)
    assert fragment.lower() in str(exc.value.message).lower()
    assert exc.value.status == 400
    assert not ImportJob.objects.exists() and not InformationSystem.objects.exists()
    assert audit_len() == before


def test_oversized_and_too_long_files_are_refused(world, settings):
    text = "code,name,owner_code\n" + "".join(f"SYS-{i},Hệ thống {i},MIN\n" for i in range(5))
    settings.KHIEN_MAX_UPLOAD_BYTES = 50
    with pytest.raises(Refused) as exc:
        imports.start_import("systems", csv_upload(text), acting_user=world.admin)
    assert exc.value.status == 413
    settings.KHIEN_MAX_UPLOAD_BYTES = 10**6
    settings.KHIEN_IMPORT_MAX_ROWS = 3
    with pytest.raises(Refused) as exc:
        imports.start_import("systems", csv_upload(text), acting_user=world.admin)
    assert "3" in exc.value.message
    assert not ImportJob.objects.exists() and not InformationSystem.objects.exists()


def test_unknown_kind_is_refused(world):
    with pytest.raises(Refused):
        imports.start_import("incidents", csv_upload("code\nA\n"), acting_user=world.admin)


def test_read_rows_keeps_spreadsheet_row_numbers(world):
    rows = imports.read_rows(csv_upload("code,name_vi,org_type\n\nA,B,agency\n\nC,D,agency\n"), "organizations")
    assert [(r[imports.ROW], r["code"]) for r in rows] == [(3, "A"), (5, "C")]


# --- Failures and progress -----------------------------------------------------------------


def test_unexpected_error_fails_the_job_and_rolls_back(world, monkeypatch, caplog):
    real = services.do_create_system
    calls = {"n": 0}

    def flaky(data, *, acting_user):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk on fire")
        return real(data, acting_user=acting_user)

    monkeypatch.setattr(services, "do_create_system", flaky)
    text = "code,name,owner_code\nSYS-1,A,MIN\nSYS-2,B,MIN\n"
    job = imports.start_import("systems", csv_upload(text), acting_user=world.admin)
    assert job.status == ImportStatus.FAILED
    assert "disk on fire" not in job.errors[0]["message"] and "Traceback" not in job.errors[0]["message"]
    assert not InformationSystem.objects.exists()
    assert "disk on fire" in caplog.text


def test_progress_is_reported(world, settings):
    settings.KHIEN_IMPORT_SYNC = True
    text = "code,name,owner_code\n" + "".join(f"SYS-{i:03},Hệ thống {i},MIN\n" for i in range(120))
    seen = []
    job = imports.import_file("systems", csv_upload(text), acting_user=world.admin,
                              progress=lambda done, total: seen.append((done, total)))
    assert job.status == ImportStatus.DONE and job.created_count == 120
    assert (50, 120) in seen and seen[-1] == (120, 120)
    assert job.processed_rows == job.total_rows == 120 and job.percent == 100



def test_background_import_runs_in_a_thread(flushable_audit_log, world, settings):
    settings.KHIEN_IMPORT_SYNC = False
    job = imports.start_import("organizations", csv_upload("code,name_vi,org_type,parent_code\nMIN-T,T,agency,MIN\n"),
                               acting_user=world.admin)
    for thread in threading.enumerate():
        if thread.name == f"import-{job.pk}":
            thread.join(timeout=30)
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.errors
    assert Organization.objects.get(code="MIN-T").parent == world.ministry


# --- Export and round trip -----------------------------------------------------------------


def _rich_world(world, make_system):
    sector = Sector.objects.first()
    services.do_update_organization(world.department, {"hotline": "+84 24 3943 0000", "head_name": "=SUM(A1)",
                                                       "province": Province.objects.first()},
                                    acting_user=world.admin, sectors=[sector])
    system = services.do_create_system(
        {"code": "SYS-RT", "name": "Hệ thống, có dấu phẩy; và chấm phẩy", "owner": world.ministry,
         "operator": world.department, "ip_ranges": ["10.0.0.0/8", "2001:db8::/32"], "domains": ["a.example.vn"],
         "products": ["cpe:2.3:a:vendor:product\\,x:1.0:*:*:*:*:*:*:*"], "criteria": LEVEL1, "proposed_level": 1,
         "internet_facing": True, "layer3_status": "in_place", "layer3_assessed_on": dt.date(2026, 2, 1),
         "purpose": "Dòng 1\nDòng 2"},
        acting_user=world.admin)
    make_system(world.department, code="SYS-PLAIN")
    make_system(world.province, code="SYS-HIDDEN")
    return system


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_import_round_trip(world, make_system, fmt):
    _rich_world(world, make_system)
    for kind, model in (("organizations", Organization), ("systems", InformationSystem)):
        content, content_type, filename = imports.export_file(kind, model.objects.visible_to(world.admin), fmt)
        assert filename.endswith("." + fmt)
        if fmt == "csv":
            assert content.startswith(b"\xef\xbb\xbf") and content_type.startswith("text/csv")
            assert b"SYS-HIDDEN" not in content and b"PROV" not in content
        state, before = snapshot_all(), audit_len()
        job = imports.start_import(kind, SimpleUploadedFile(filename, content), acting_user=world.admin)
        assert job.status == ImportStatus.DONE, job.errors
        assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, job.total_rows)
        assert snapshot_all() == state
        assert audit_len() == before + 1  # the job only


def test_an_export_reads_each_object_once_not_once_per_column(world, make_system, monkeypatch):
    # Each line used to rebuild its object's cells for each of its 32 columns: 2,000 systems took 12 s.
    for n in range(3):
        make_system(world.ministry, code=f"SYS-ONCE-{n}")
    made = []
    original = imports._system_cells

    def counted(system, criteria):
        made.append(system.code)
        return original(system, criteria)

    monkeypatch.setattr(imports, "_system_cells", counted)
    content, _t, _n = imports.export_file("systems", InformationSystem.objects.filter(code__startswith="SYS-ONCE"),
                                          "csv")
    assert sorted(made) == ["SYS-ONCE-0", "SYS-ONCE-1", "SYS-ONCE-2"]
    assert content.decode("utf-8-sig").count("SYS-ONCE-") == 3


def test_exported_file_recreates_the_data(world, make_system):
    _rich_world(world, make_system)
    content, _t, _n = imports.export_file("systems", InformationSystem.objects.filter(code="SYS-RT"), "csv")
    original = InformationSystem.objects.get(code="SYS-RT")
    services.do_delete_system(original, acting_user=world.admin)
    job = imports.start_import("systems", SimpleUploadedFile("s.csv", content), acting_user=world.admin)
    assert job.status == ImportStatus.DONE and job.created_count == 1, job.errors
    copy = InformationSystem.objects.get(code="SYS-RT")
    for field in ("name", "owner_id", "operator_id", "ip_ranges", "domains", "products", "criteria", "proposed_level",
                  "internet_facing", "layer3_status", "layer3_assessed_on", "purpose", "suggested_level"):
        assert getattr(copy, field) == getattr(original, field), field


def test_export_protects_against_formulas(world, make_system):
    _rich_world(world, make_system)
    content, _t, _n = imports.export_file("organizations", Organization.objects.filter(code="MIN-D1"), "csv")
    text = content.decode("utf-8-sig")
    assert "'=SUM(A1)" in text and "'+84 24" in text
    content, _t, _n = imports.export_file("organizations", Organization.objects.filter(code="MIN-D1"), "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    values = [c.value for c in sheet[2]]
    # XLSX cells are typed: the text is kept as it is, as text (no formula, no CSV apostrophe to read around).
    assert "=SUM(A1)" in values and any(str(v).startswith("+84 24") for v in values)
    assert all(c.data_type != "f" for c in sheet[2]) and not any(str(v).startswith("'") for v in values)
    # Re-imported, the XLSX gives back the same values.
    assert imports._cell_text("=SUM(A1)") == "=SUM(A1)"


def test_export_leaves_out_control_characters_a_worksheet_cannot_hold(world, make_system):
    """The API accepts a control character in a name; the XLSX export of everyone who sees it used to fail."""
    Organization.objects.filter(code="MIN").update(hotline="028\x07 1234")
    make_system(world.ministry, name="a\x01b\tc")
    content, _t, _n = imports.export_file("organizations", Organization.objects.filter(code="MIN"), "xlsx")
    assert "028 1234" in [c.value for c in openpyxl.load_workbook(io.BytesIO(content)).active[2]]
    content, _t, _n = imports.export_file("systems", InformationSystem.objects.filter(owner=world.ministry), "xlsx")
    assert "ab\tc" in [c.value for c in openpyxl.load_workbook(io.BytesIO(content)).active[2]]


def test_unknown_export_format_is_refused(world):
    with pytest.raises(Refused):
        imports.export_file("systems", InformationSystem.objects.all(), "pdf")


# --- Command line --------------------------------------------------------------------------


def test_cli_import_and_export(world, make_system, tmp_path):
    good = tmp_path / "orgs.csv"
    good.write_text("code,name_vi,org_type,parent_code\nMIN-CLI,Cục CLI,agency,MIN\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_data", "organizations", str(good), "--as", world.admin.email, stdout=out, stderr=err)
    assert "1 created" in out.getvalue() and "1/1 rows (100%)" in err.getvalue()
    assert Organization.objects.get(code="MIN-CLI").parent == world.ministry

    bad = tmp_path / "bad.csv"
    bad.write_text("code,name_vi,org_type,parent_code\nMIN-OK,Tốt,agency,MIN\nMIN-BAD,Xấu,martian,MIN\n",
                   encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("import_data", "organizations", str(bad), "--as", world.admin.email, stderr=err)
    assert exc.value.returncode == 1
    assert "row 3 [org_type]" in err.getvalue()
    assert not Organization.objects.filter(code="MIN-OK").exists()

    with pytest.raises(CommandError):
        call_command("import_data", "organizations", str(good), "--as", world.analyst.email, stderr=io.StringIO())
    with pytest.raises(CommandError):
        call_command("import_data", "organizations", str(tmp_path / "missing.csv"), "--as", world.admin.email)
    with pytest.raises(CommandError):
        call_command("import_data", "organizations", str(good), "--as", "ghost@test.vn")

    make_system(world.ministry, code="SYS-MIN")
    make_system(world.province, code="SYS-PROV")
    for fmt in ("csv", "xlsx"):
        target = tmp_path / f"systems.{fmt}"
        call_command("export_data", "systems", "--as", world.admin.email, "--format", fmt, "-o", str(target),
                     stderr=io.StringIO())
        rows = imports.read_rows(SimpleUploadedFile(target.name, target.read_bytes()), "systems")
        assert [r["code"] for r in rows] == ["SYS-MIN"]
        out = io.StringIO()
        call_command("import_data", "systems", str(target), "--as", world.admin.email, stdout=out,
                     stderr=io.StringIO())
        assert "0 created, 0 updated, 1 unchanged" in out.getvalue()


@pytest.mark.postgres
def test_progress_of_the_write_phase_is_visible_to_other_connections(flushable_audit_log, world, settings):
    """On PostgreSQL the page polling the job sees the write phase advance, though the rows are not committed yet."""
    from django.db import connections

    observer = connections.create_connection("default")
    seen = []

    def progress(done, total):
        with observer.cursor() as cur:
            cur.execute("SELECT status, processed_rows FROM registry_importjob")
            seen.extend(cur.fetchall())
            cur.execute("SELECT count(*) FROM registry_informationsystem")
            seen.append(("systems", cur.fetchone()[0]))

    text = "code,name,owner_code\n" + "".join(f"SYS-{i:03},Hệ thống {i},MIN\n" for i in range(160))
    try:
        job = imports.import_file("systems", csv_upload(text), acting_user=world.admin, progress=progress)
    finally:
        observer.close()
    assert job.status == ImportStatus.DONE
    assert (ImportStatus.WRITING, 50) in seen or (ImportStatus.WRITING, 100) in seen
    assert ("systems", 160) not in seen[:-1]  # nothing was visible before the commit


# --- Imports whose run stopped (the web process restarted) ----------------------------------


def _accepted_not_run(world, text, *, minutes_ago=10, attempts=1, status=ImportStatus.PENDING):
    """A job as `start_import` leaves it when the web process dies before its thread finishes: the file kept,
    nothing written, its last sign of life `minutes_ago`."""
    from django.utils import timezone

    job = imports._create_job("systems", csv_upload(text), "he-thong.csv", world.admin)
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, attempts=attempts, updated_at=timezone.now() - dt.timedelta(minutes=minutes_ago))
    return job


def test_an_interrupted_import_is_resumed_by_the_worker(world, settings):
    """Nothing accepted is lost: the worker runs again, from the kept file, an import whose run died; a job
    whose run is alive is left to it."""
    from django.utils import timezone

    from khien.core.jobs import discover, run_job

    settings.KHIEN_IMPORT_STALE_SECONDS = 60
    stale = _accepted_not_run(world, "code,name,owner_code\nSYS-R1,A,MIN\nSYS-R2,B,MIN\n",
                              status=ImportStatus.VALIDATING)
    alive = _accepted_not_run(world, "code,name,owner_code\nSYS-R3,C,MIN\n", minutes_ago=0)
    summary = run_job(discover()["registry.imports_resume"], timezone.now())
    assert summary == f"{stale.pk}: done"
    stale.refresh_from_db()
    assert (stale.status, stale.created_count, stale.attempts) == (ImportStatus.DONE, 2, 2)
    assert set(InformationSystem.objects.values_list("code", flat=True)) == {"SYS-R1", "SYS-R2"}
    assert AuditEntry.objects.filter(object_repr__contains="SYS-R1").exists()  # written through the services
    alive.refresh_from_db()
    assert (alive.status, alive.attempts) == (ImportStatus.PENDING, 1)
    # Run again: a finished job is not touched.
    assert run_job(discover()["registry.imports_resume"], timezone.now() + dt.timedelta(hours=1)) == \
        f"{alive.pk}: done"
    assert InformationSystem.objects.count() == 3


def test_an_import_interrupted_again_and_again_fails_and_changes_nothing(world, settings):
    from django.utils import timezone
    from django.utils.translation import gettext

    from khien.core import resumable

    settings.KHIEN_IMPORT_STALE_SECONDS = 60
    job = _accepted_not_run(world, "code,name,owner_code\nSYS-G1,A,MIN\n", attempts=resumable.MAX_RUNS,
                            status=ImportStatus.WRITING)
    assert imports.resume_stale_imports(timezone.now()) == [f"{job.pk}: given up"]
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and job.finished
    assert job.errors[0]["message"] == gettext(
        "The import was interrupted %(n)d times before it could finish; nothing was changed. "
        "Upload the file again.") % {"n": 3}
    assert not InformationSystem.objects.exists()
    assert imports.resume_stale_imports(timezone.now() + dt.timedelta(hours=1)) == []


def test_a_resumed_import_with_bad_rows_is_rejected_as_the_first_run_would(world, settings):
    from django.utils import timezone

    settings.KHIEN_IMPORT_STALE_SECONDS = 60
    job = _accepted_not_run(world, "code,name,owner_code\nSYS-B1,A,MIN\nSYS-B2,B,NOWHERE\n")
    imports.resume_stale_imports(timezone.now())
    job.refresh_from_db()
    assert job.status == ImportStatus.REJECTED and [e["row"] for e in job.errors] == [3]
    assert not InformationSystem.objects.exists()


def test_a_resumed_import_reports_in_the_language_of_whom_uploaded_it(world, settings):
    """The worker runs in the platform's language; the report is read by the person who uploaded the file."""
    from django.utils import timezone

    settings.KHIEN_IMPORT_STALE_SECONDS = 60
    with translation.override("en"):
        job = _accepted_not_run(world, "code,name,owner_code\nSYS-L1,A,NOWHERE\n")
    with translation.override("vi"):
        imports.resume_stale_imports(timezone.now())
    job.refresh_from_db()
    assert job.status == ImportStatus.REJECTED
    assert job.errors[0]["message"] == "No organization with code “NOWHERE” that you can see."


def test_the_progress_page_says_an_import_was_resumed(client, world, settings):
    from django.urls import reverse

    job = _accepted_not_run(world, "code,name,owner_code\nSYS-P1,A,MIN\n", attempts=2,
                            status=ImportStatus.VALIDATING)
    client.force_login(world.admin)
    page = client.get(reverse("registry:import_progress", args=[job.pk])).content.decode()
    with translation.override("vi"):
        assert translation.gettext("Resumed after the server was interrupted (run %(n)s of %(max)s).") % {
            "n": 2, "max": 3} in page


def test_two_workers_never_claim_the_same_import(world, settings):
    """`core.resumable.claim_stale`: a worker that read a job as stale does not claim it once another has."""
    from django.utils import timezone

    from khien.core import resumable

    first = _accepted_not_run(world, "code,name,owner_code\nSYS-W1,A,MIN\n")
    second = _accepted_not_run(world, "code,name,owner_code\nSYS-W2,B,MIN\n", minutes_ago=9)
    unfinished = ImportJob.objects.exclude(status__in=[ImportStatus.DONE]).order_by("created_at")
    now = timezone.now()
    worker_a = resumable.claim_stale(unfinished, alive_field="updated_at", stale_seconds=60, now=now)
    assert next(worker_a).pk == first.pk  # A read both as stale, claimed the first
    worker_b = resumable.claim_stale(unfinished, alive_field="updated_at", stale_seconds=60, now=now)
    assert [job.pk for job in worker_b] == [second.pk]  # B claims the second (the first is no longer stale)
    assert list(worker_a) == []  # A does not claim the second after B
    assert sorted(ImportJob.objects.values_list("attempts", flat=True)) == [2, 2]


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_run_holds_the_sqlite_lock_is_not_claimed(world, settings, caplog):
    """SQLite: an import writing its rows holds the database's lock and moves no sign of life; a worker that
    finds its job stale cannot claim it (the UPDATE is refused at once or after the wait) and leaves it."""
    from django.db import connection, connections
    from django.utils import timezone

    from khien.core import resumable

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's database lock")
    job = _accepted_not_run(world, "code,name,owner_code\nSYS-L1,A,MIN\n", status=ImportStatus.WRITING)
    writer = connections.create_connection("default")
    try:
        writer.set_autocommit(False)  # IMMEDIATE transactions: the lock is taken at the first statement
        with writer.cursor() as cursor:
            cursor.execute("UPDATE registry_organization SET hotline = hotline")
        connection.ensure_connection()
        connection.connection.execute("PRAGMA busy_timeout = 200")
        unfinished = ImportJob.objects.exclude(status=ImportStatus.DONE)
        caplog.set_level("INFO", logger="khien.core.resumable")
        assert list(resumable.claim_stale(unfinished, alive_field="updated_at", stale_seconds=60,
                                          now=timezone.now())) == []
    finally:
        writer.rollback()
        writer.close()
    job.refresh_from_db()
    assert job.attempts == 1 and "busy, left to its run" in caplog.text


# --- Bad input: workbooks that unpack into too much, dates, control characters, language --------------------


def workbook_with_strings(body: bytes, part="xl/sharedStrings.xml", rows=(("code", "name", "owner_code"),)):
    """A valid workbook (openpyxl's) with a shared strings part holding `body`, declared in [Content_Types].xml."""
    source = xlsx_upload(list(rows)).read()
    out = io.BytesIO()
    declared = (f'<Override PartName="/{part}" ContentType="application/vnd.openxmlformats-officedocument.'
                f'spreadsheetml.sharedStrings+xml"/></Types>').encode()
    with zipfile.ZipFile(io.BytesIO(source)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            data = zin.read(name)
            zout.writestr(name, data.replace(b"</Types>", declared) if name == "[Content_Types].xml" else data)
        zout.writestr(part, b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + body
                      + b"</sst>")
    return SimpleUploadedFile("bomb.xlsx", out.getvalue())


def test_a_zip_bomb_workbook_is_refused_before_it_is_read(world, api):
    """3 million shared strings in 130 KB: openpyxl took 30 s and 0.5 GB to read them, even read-only."""
    bomb = workbook_with_strings(b"<si><t>a</t></si>" * 3_000_000)
    assert len(bomb) < 200_000
    client = api(world.admin)
    before = audit_len()
    with pytest.raises(Refused) as exc:
        imports.start_import("systems", bomb, acting_user=world.admin)
    assert exc.value.code == "unpacks_too_large" and exc.value.status == 400
    bomb.seek(0)
    response = client.post("/api/registry/imports/", {"kind": "systems", "file": bomb}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "unpacks_too_large"
    assert not ImportJob.objects.exists() and not InformationSystem.objects.exists()
    assert audit_len() == before


def test_parts_read_whole_are_limited_whatever_their_name_or_compression(world, settings):
    settings.KHIEN_IMPORT_MAX_ROWS = 100  # parts other than worksheets: at most (100 + 1000) × 512 bytes
    unique = b"".join(b"<si><t>%x</t></si>" % i for i in range(60_000))  # ~1.1 MB, compresses only ~8 times
    for part in ("xl/sharedStrings.xml", "xl/strings.bin"):
        with pytest.raises(Refused) as exc:
            imports.read_rows(workbook_with_strings(unique, part=part), "systems")
        assert exc.value.code == "unpacks_too_large"
    # A worksheet may be larger (it is read as a stream), up to (100 + 1000) × 2 KB with the other parts.
    text = random.Random(0).randbytes(15_000).hex()  # 30,000 characters that hardly compress
    long_cells = [("code", "name", "owner_code")] + [(f"SYS-{i}", text, "MIN") for i in range(60)]
    assert len(imports.read_rows(xlsx_upload(long_cells), "systems")) == 60
    long_cells += [(f"SYS-X{i}", text, "MIN") for i in range(20)]
    with pytest.raises(Refused) as exc:
        imports.read_rows(xlsx_upload(long_cells), "systems")
    assert exc.value.code == "unpacks_too_large"


@pytest.mark.parametrize("parts", [{"hello.txt": b"not a workbook"}, {"[Content_Types].xml": b"<Types"},
                                   {"[Content_Types].xml": b"<Types><Override/></Types>"}])
def test_a_zip_that_is_not_a_workbook_is_refused_cleanly(world, parts):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    with pytest.raises(Refused) as exc:
        imports.read_rows(SimpleUploadedFile("x.xlsx", buffer.getvalue()), "systems")
    assert exc.value.code == "bad_file" and exc.value.status == 400


@pytest.mark.parametrize("column,value", [
    ("layer3_assessed_on", "0001-01-01"), ("layer3_assessed_on", "01/01/0001"), ("layer4_connected_on", "9999-12-31"),
    ("layer4_connected_on", "1969-12-31"),
])
def test_dates_outside_the_platforms_years_are_refused(world, column, value):
    text = f"code,name,owner_code,{column}\nSYS-1,A,MIN,{value}\n"
    job = imports.start_import("systems", csv_upload(text), acting_user=world.admin)
    assert job.status == ImportStatus.REJECTED and [e["field"] for e in job.errors] == [column]
    assert not InformationSystem.objects.exists()


def test_control_characters_in_cells_are_refused(world, make_system):
    make_system(world.ministry, code="SYS-1")
    before = snapshot_all()
    job = imports.start_import("systems", csv_upload("code,name,owner_code\nSYS-1,a\x07b\x1b,MIN\n"),
                               acting_user=world.admin)
    assert job.status == ImportStatus.REJECTED and [e["field"] for e in job.errors] == ["name"]
    text = "code,name_vi,org_type,parent_code,hotline\nMIN,Bộ\x1b[31m,ministry,,028\x07 1234\n"
    job = imports.start_import("organizations", csv_upload(text), acting_user=world.coordinator)
    assert job.status == ImportStatus.REJECTED
    assert sorted(e["field"] for e in job.errors) == ["hotline", "name_vi"]
    assert snapshot_all() == before
    ok = imports.start_import("systems", csv_upload('code,name,owner_code,purpose\nSYS-1,A,MIN,"x\ty\nz"\n'),
                              acting_user=world.admin)
    assert ok.status == ImportStatus.DONE, ok.errors  # tabs and line breaks are text


def test_a_background_import_reports_in_the_requesters_language(flushable_audit_log, world, settings):
    settings.KHIEN_IMPORT_SYNC = False
    with translation.override("en"):
        job = imports.start_import("organizations", csv_upload("code,name_vi,org_type,province_code\nMIN-T,T,agency,XX\n"),
                                   acting_user=world.admin)
    for thread in threading.enumerate():
        if thread.name == f"import-{job.pk}":
            thread.join(timeout=30)
    job.refresh_from_db()
    assert job.status == ImportStatus.REJECTED
    assert job.errors[0]["message"] == "Unknown province code “XX”."  # Vietnamese before: the thread's language


def test_cli_refuses_a_directory_and_an_unwritable_output(world, tmp_path):
    with pytest.raises(CommandError) as exc:
        call_command("import_data", "systems", str(tmp_path), "--as", world.admin.email, stderr=io.StringIO())
    assert str(tmp_path) in str(exc.value)
    with pytest.raises(CommandError):
        call_command("export_data", "systems", "--as", world.admin.email, "-o", str(tmp_path), stderr=io.StringIO())
    assert not ImportJob.objects.exists()


# --- Criteria answers: labels in the file, ids in the database ------------------------------------------------


def _option_labels(lang):
    """{question id: {option id: label in `lang`}} of the current framework, read from its data."""
    framework = levels.current_framework()
    return {q["id"]: {o["id"]: o[f"label_{lang}"] for o in q["options"]} for q in framework.data["questions"]}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_criteria_answers_are_exported_as_labels_and_import_back_unchanged(world, fmt, lang):
    system = services.do_create_system({"code": "SYS-CR", "name": "Tiêu chí", "owner": world.ministry,
                                        "criteria": LEVEL1, "proposed_level": 1}, acting_user=world.admin)
    with translation.override(lang):
        content, _t, name = imports.export_file("systems", InformationSystem.objects.filter(pk=system.pk), fmt)
    [row] = imports.read_rows(SimpleUploadedFile(name, content), "systems")
    labels = _option_labels(lang)
    # A reader sees the answers as words, not as the option ids stored.
    assert {qid: row[f"criteria_{qid}"] for qid in LEVEL1} == {qid: labels[qid][a] for qid, a in LEVEL1.items()}
    assert not set(LEVEL1.values()) & {row[f"criteria_{qid}"] for qid in LEVEL1}
    state, before = snapshot_all(), audit_len()
    with translation.override("vi" if lang == "en" else "en"):  # read back whatever the importer's language
        job = imports.start_import("systems", SimpleUploadedFile(name, content), acting_user=world.admin)
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 1)
    assert snapshot_all() == state and audit_len() == before + 1  # the job only
    # Deleted, the system comes back from the file with the same answers and suggestion.
    services.do_delete_system(system, acting_user=world.admin)
    job = imports.start_import("systems", SimpleUploadedFile(name, content), acting_user=world.admin)
    assert job.status == ImportStatus.DONE and job.created_count == 1, job.errors
    copy = InformationSystem.objects.get(code="SYS-CR")
    assert copy.criteria == LEVEL1 and copy.suggested_level == 1


def test_criteria_answers_are_read_as_labels_in_either_language_or_as_ids(world):
    import unicodedata

    vi, en = _option_labels("vi"), _option_labels("en")
    columns = [f"criteria_{qid}" for qid in LEVEL1]

    def line(code, cells):
        return f"{code},{code},MIN," + ",".join(f'"{c}"' for c in cells) + "\n"

    text = ("code,name,owner_code," + ",".join(columns) + "\n"
            + line("SYS-ID", LEVEL1.values())
            + line("SYS-EN", ["  " + en[q][a].upper() + " " for q, a in LEVEL1.items()])
            # Decomposed accents, as some systems save Vietnamese text.
            + line("SYS-VI", [unicodedata.normalize("NFD", vi[q][a]) for q, a in LEVEL1.items()]))
    job = imports.start_import("systems", csv_upload(text), acting_user=world.admin)
    assert job.status == ImportStatus.DONE, job.errors
    assert {s.code: s.criteria for s in InformationSystem.objects.all()} == {
        "SYS-ID": LEVEL1, "SYS-EN": LEVEL1, "SYS-VI": LEVEL1}

    # An answer that is neither an option nor its label is refused, naming the labels; nothing is written.
    bad = "code,name,owner_code,criteria_data_kind\nSYS-BAD,B,MIN,Thông tin tuyệt mật lắm\n"
    with translation.override("vi"):
        job = imports.start_import("systems", csv_upload(bad), acting_user=world.admin)
    assert job.status == ImportStatus.REJECTED
    [error] = job.errors
    assert error["field"] == "criteria_data_kind" and vi["data_kind"]["public"] in error["message"]
    assert not InformationSystem.objects.filter(code="SYS-BAD").exists()


# --- The unchanged rows of an import are counted -------------------------------------------------------------


def test_a_reimport_counts_and_shows_its_unchanged_rows(world, make_system, client, api, tmp_path):
    from django.urls import reverse

    make_system(world.ministry, code="SYS-SAME", name="Giữ nguyên")
    make_system(world.ministry, code="SYS-OLD", name="Cũ")
    text = "code,name,owner_code\nSYS-SAME,Giữ nguyên,MIN\nSYS-OLD,Mới,MIN\nSYS-NEW,Thêm,MIN\n"
    job = imports.start_import("systems", csv_upload(text), acting_user=world.admin)
    assert (job.status, job.created_count, job.updated_count, job.unchanged_count) == (ImportStatus.DONE, 1, 1, 1)
    # The same file again: every row is unchanged, and the summary says so.
    job = imports.start_import("systems", csv_upload(text), acting_user=world.admin)
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 3)

    client.force_login(world.admin)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("registry:import_job", args=[job.pk])).content.decode()
    summary = page.split('id="import-summary">', 1)[1].split("</p>", 1)[0]
    assert "0 created, 0 updated, 3 unchanged" in summary
    assert api(world.admin).get(f"/api/registry/imports/{job.pk}/").json()["unchanged_count"] == 3
    path = tmp_path / "he-thong.csv"
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    call_command("import_data", "systems", str(path), "--as", world.admin.email, stdout=out, stderr=io.StringIO())
    assert "0 created, 0 updated, 3 unchanged" in out.getvalue()
    # A rejected file counts nothing as unchanged (nothing was compared to the end).
    job = imports.start_import("systems", csv_upload(text + "SYS-X,X,NOWHERE\n"), acting_user=world.admin)
    assert job.status == ImportStatus.REJECTED and job.unchanged_count == 0


# --- Workbooks whose rows, cells or shared strings are more than an import reads ---------------------------------


MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def raw_workbook(sheet_data: bytes, dimension: str = "", name="raw.xlsx"):
    """A valid workbook (openpyxl's) whose first worksheet's XML is written here: `sheet_data` is the content of
    its <sheetData>, `dimension` the size it declares."""
    source = xlsx_upload([["x"]]).read()
    declared = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (f'<worksheet xmlns="{MAIN_NS}">{declared}<sheetData>').encode() + sheet_data + b"</sheetData></worksheet>"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for part in zin.namelist():
            zout.writestr(part, sheet if part == "xl/worksheets/sheet1.xml" else zin.read(part))
    return SimpleUploadedFile(name, out.getvalue())


def text_cells(number: int, values) -> bytes:
    cells = b"".join(b'<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>' % (col.encode(), number, value.encode())
                     for col, value in zip("ABCDEFGH", values))
    return b'<row r="%d">%s</row>' % (number, cells)


HEADER = text_cells(1, ["code", "name", "owner_code"])


def test_a_workbook_of_a_million_different_strings_is_refused_before_they_are_read(world, api):
    """1 million short shared strings fit in 20 MB and passed the size limits; openpyxl took 7–9 s to read them
    before the file was refused for having no data rows. A spreadsheet program keeps only the texts its cells
    use: far more texts than cells is refused at once, with nothing written."""
    unique = workbook_with_strings(b"".join(b"<si><t>%x</t></si>" % i for i in range(1_000_000)))
    assert len(unique) < 20 * 2**20
    client = api(world.admin)
    before = audit_len()
    with pytest.raises(Refused) as exc:
        imports.start_import("systems", unique, acting_user=world.admin)
    assert exc.value.code == "too_many_strings" and exc.value.status == 400
    unique.seek(0)
    response = client.post("/api/registry/imports/", {"kind": "systems", "file": unique},
                                     format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "too_many_strings"
    assert response.json()["detail"]
    assert not ImportJob.objects.exists() and not InformationSystem.objects.exists() and audit_len() == before


def test_shared_strings_that_cells_use_are_read(world):
    strings = b"".join(b"<si><t>%s</t></si>" % t for t in (b"code", b"name", b"owner_code", b"SYS-S1", b"MIN"))
    sheet = (b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>'
             b'<row r="2"><c r="A2" t="s"><v>3</v></c><c r="B2" t="s"><v>1</v></c><c r="C2" t="s"><v>4</v></c></row>')
    upload = raw_workbook(sheet)
    with_strings = workbook_with_strings(strings, rows=())  # the sst of the helper, the sheet of raw_workbook
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(with_strings.read())) as zs, zipfile.ZipFile(io.BytesIO(upload.read())) as zr, \
            zipfile.ZipFile(out, "w") as zout:
        for part in zs.namelist():
            zout.writestr(part, zr.read(part) if part == "xl/worksheets/sheet1.xml" else zs.read(part))
    [row] = imports.read_rows(SimpleUploadedFile("s.xlsx", out.getvalue()), "systems")
    assert (row["code"], row["name"], row["owner_code"]) == ("SYS-S1", "name", "MIN")


def test_a_sheet_with_more_rows_than_an_import_reads_is_refused(world, settings):
    settings.KHIEN_IMPORT_MAX_ROWS = 10  # an import reads at most 10 + 1,000 rows, blank or not
    # Rows in the file, counted before openpyxl reads any.
    blank_rows = b"".join(b'<row r="%d"/>' % n for n in range(2, 2200))
    with pytest.raises(Refused) as exc:
        imports.read_rows(raw_workbook(HEADER + blank_rows), "systems")
    assert exc.value.code == "too_many_rows" and "1010" in exc.value.message
    # A row numbered far below the others: openpyxl yielded every missing row (20,000,000 took 8 s, from 5 KB).
    far = text_cells(5_000_000, ["SYS-1", "A", "MIN"])
    with pytest.raises(Refused) as exc:
        imports.read_rows(raw_workbook(HEADER + far), "systems")
    assert exc.value.code == "too_many_rows"
    # Within the allowance, blank rows between the data are fine and the row numbers are the sheet's.
    rows = imports.read_rows(raw_workbook(HEADER + text_cells(900, ["SYS-1", "A", "MIN"])), "systems")
    assert [(r[imports.ROW], r["code"]) for r in rows] == [(900, "SYS-1")]


def test_a_sheet_with_more_cells_than_an_import_reads_is_refused(world, settings):
    settings.KHIEN_IMPORT_MAX_ROWS = 10  # at most (10 + 1,000) × 64 cells
    many = b"<row r=\"2\">" + b"<c/>" * 70_000 + b"</row>"
    with pytest.raises(Refused) as exc:
        imports.read_rows(raw_workbook(HEADER + many), "systems")
    assert exc.value.code == "too_many_cells"
    # One formatted empty cell far to the right of each row: every row became 16,384 cells wide.
    far_right = b"".join(text_cells(n, [f"SYS-{n}", "A", "MIN"])[:-6] + b'<c r="XFD%d" s="1"/></row>' % n
                         for n in range(2, 8))
    with pytest.raises(Refused) as exc:
        imports.read_rows(raw_workbook(HEADER + far_right), "systems")
    assert exc.value.code == "too_many_cells" and exc.value.status == 400


def test_the_size_a_sheet_declares_is_not_trusted(world, monkeypatch):
    """A sheet declaring A1:XFD1048576 made openpyxl pad every row to 16,384 cells (20,000 rows took 45 s, from
    150 KB): each row is now as wide as its last cell."""
    seen = []
    real = imports._cell_text
    monkeypatch.setattr(imports, "_cell_text", lambda value: seen.append(value) or real(value))
    rows = b"".join(text_cells(n, [f"SYS-{n}", "A", "MIN"]) for n in range(2, 5))
    result = imports.read_rows(raw_workbook(HEADER + rows, dimension="A1:XFD1048576"), "systems")
    assert [r["code"] for r in result] == ["SYS-2", "SYS-3", "SYS-4"]
    assert len(seen) == 12  # 4 rows of 3 cells, not of 16,384


def test_a_workbook_whose_compressed_data_is_damaged_is_refused_cleanly(world, api):
    """A damaged deflate stream raised zlib.error, which no one caught: the import page and the API answered 500."""
    source = bytearray(xlsx_upload([["code", "name", "owner_code"]]).read())
    with zipfile.ZipFile(io.BytesIO(bytes(source))) as archive:
        info = archive.getinfo("[Content_Types].xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 5, start + 40):
        source[i] ^= 0xFF
    with pytest.raises(Refused) as exc:
        imports.read_rows(SimpleUploadedFile("hong.xlsx", bytes(source)), "systems")
    assert exc.value.code == "bad_file"
    response = api(world.admin).post("/api/registry/imports/", {
        "kind": "systems", "file": SimpleUploadedFile("hong.xlsx", bytes(source))}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "bad_file"
    assert not ImportJob.objects.exists()
