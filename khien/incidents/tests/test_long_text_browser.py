"""Text someone typed without spaces (a pasted URL or hash as a task title, a long incident title) wraps inside its
cell: the incident page, the task list and the incident list never grow wider than the screen (a 300-character task
title made the incident page 3,600 px wide)."""
import pytest
from django.urls import reverse

from khien.incidents import services
from khien.registry.tests.test_browser import SCREENSHOTS, browser, login, pages_wider_than_the_screen  # noqa: F401

pytestmark = pytest.mark.browser

UNBROKEN = "http://c2.example.invalid/" + "a" * 250


def test_unbroken_text_wraps_inside_its_cell(live_server, flushable_audit_log, world, browser, report):
    incident = report(title="Mã độc " + "x" * 250)
    services.do_add_task(incident, {"title": UNBROKEN}, acting_user=world.analyst)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    page = context.new_page()
    login(page, base, world.analyst)
    wider = pages_wider_than_the_screen(page, base, (
        reverse("incidents:incident_detail", args=[incident.pk]), reverse("incidents:incident_list"),
        reverse("incidents:task_list")))
    page.goto(base + reverse("incidents:incident_detail", args=[incident.pk]))
    page.screenshot(path=str(SCREENSHOTS / "incident_long_task_title.png"), full_page=True)
    assert UNBROKEN in page.content()
    assert not wider, f"pages wider than the screen: {wider}"
    context.close()
