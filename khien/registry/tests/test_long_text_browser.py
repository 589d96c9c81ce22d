"""A dossier file name of hundreds of characters without a space wraps inside its cell: the system page stays as
wide as the screen at 1366 px (a 404-character name made it 2,360 px wide)."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from khien.registry import services
from khien.registry.tests.test_browser import SCREENSHOTS, browser, login, pages_wider_than_the_screen  # noqa: F401

pytestmark = pytest.mark.browser

LONG_NAME = "ho-so-de-xuat-cap-do-" + "x" * 379 + ".pdf"  # 404 characters, as in the walkthrough


def test_a_long_dossier_file_name_wraps_inside_the_system_page(live_server, flushable_audit_log, world, browser):
    system = services.do_create_system({"code": "SYS-LONG", "name": "Hệ thống " + "y" * 200, "owner": world.ministry},
                                       acting_user=world.admin)
    services.do_add_dossier_file(system, SimpleUploadedFile(LONG_NAME, b"%PDF-1.4"), acting_user=world.admin)
    services.do_add_dossier_file(system, SimpleUploadedFile("a" * 120 + ".txt", b"van ban"), acting_user=world.admin)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    page = context.new_page()
    login(page, base, world.admin)
    wider = pages_wider_than_the_screen(page, base, [reverse("registry:system_detail", args=[system.pk])])
    page.screenshot(path=str(SCREENSHOTS / "system_long_dossier_name.png"), full_page=True)
    assert not wider, f"pages wider than the screen: {wider}"
    assert page.locator("#dossier td.wrap-long").count() == 2
    context.close()
