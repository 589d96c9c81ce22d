"""A collection's page in a real browser: the members form's organization list never widens the page.

Organization names are long ("CODE — Ủy ban nhân dân tỉnh …"): the <select> sized to its widest option made the
page 1544 px wide in a 1366 px window. Screenshots go to test-artifacts/screenshots/intel_collection_*.png.
"""
import pytest

from khien.registry.tests.test_browser import SCREENSHOTS, Watch, browser, login, pages_wider_than_the_screen  # noqa: F401

pytestmark = pytest.mark.browser


def test_collection_page_fits_the_window_with_long_organization_names(live_server, flushable_audit_log, world,
                                                                        browser):
    from khien.conftest import _org
    from khien.intel import services
    from khien.registry.models import Organization

    for n in range(3):
        org = _org(f"LONG-{n}", "enterprise")
        Organization.objects.filter(pk=org.pk).update(
            name_vi=f"Tổng công ty cổ phần dịch vụ kỹ thuật và truyền thông số quốc gia khu vực phía Bắc số {n} "
                    "(chi nhánh điều hành an toàn thông tin)")
    collection = services.do_create_collection({"title": "Nhóm chia sẻ", "owner": world.ministry, "kind": "group"},
                                               acting_user=world.admin)
    base = live_server.url
    url = f"/intel/collections/{collection.pk}/"
    for width in (1366, 1024, 390):
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="vi-VN",
                                      timezone_id="Asia/Ho_Chi_Minh")
        page = context.new_page()
        watch = Watch(page, base)
        login(page, base, world.admin)
        assert pages_wider_than_the_screen(page, base, [url]) == {}, width
        box = page.locator("#id_organization").bounding_box()
        assert box["x"] + box["width"] <= width, (width, box)
        page.screenshot(path=str(SCREENSHOTS / f"intel_collection_{width}.png"), full_page=True)
        assert watch.console_errors == [] and watch.external == []
        context.close()
