"""An exported workbook is ready to read: header in bold, frozen while scrolling, with filter buttons, named sheet."""

import io

import openpyxl

from khien.registry import imports
from khien.registry.models import InformationSystem


def test_the_systems_workbook_opens_ready_to_sort(world, make_system):
    make_system(world.ministry, code="SYS-SHEET", name="Cổng dịch vụ công")
    content, _type, _name = imports.export_file("systems", InformationSystem.objects.filter(code="SYS-SHEET"), "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet.title == "Hệ thống thông tin"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref.startswith("A1:")
    assert all(cell.font.b for cell in sheet[1]) and not any(cell.font.b for cell in sheet[2])
    assert sheet["A1"].value == "code" and sheet["A2"].value == "SYS-SHEET"  # still the import template's columns
    assert sheet.column_dimensions["B"].width >= 12
    # It still imports back unchanged: test_imports.test_export_import_round_trip.
