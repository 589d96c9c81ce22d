"""A rule name or a URL without spaces (a SOC tool's rule named with underscores, a payload's URL) wraps inside its
cell: the alerts list, an alert's page, the events search and a source's dead letters never grow wider than a
1366 px screen."""
import json

import pytest
from django.urls import reverse

from khien.registry.tests.test_browser import SCREENSHOTS, browser, login, pages_wider_than_the_screen  # noqa: F401
from khien.telemetry import services
from khien.telemetry.models import Alert

from .test_matching import ecs

pytestmark = pytest.mark.browser

RULE = "ET_MALWARE_" + "Possible_Cobalt_Strike_Beacon_Observed_" * 6
URL = "http://c2.example.invalid/" + "a" * 250 + "?q=" + "b" * 120


def test_long_rule_names_and_urls_wrap_inside_their_cells(live_server, flushable_audit_log, world, browser,
                                                            make_source):
    source, _key = make_source(world.ministry, "ecs")
    record = json.loads(ecs("203.0.113.7", url=URL, rule="r1"))
    record["rule"]["name"] = RULE
    record["observer"] = {"name": "sensor-" + "x" * 150}
    services.ingest_batch(source, [json.dumps(record).encode(), b'{"broken": "' + b"z" * 600])
    alert = Alert.objects.get()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    page = context.new_page()
    login(page, base, world.admin)
    wider = pages_wider_than_the_screen(page, base, (
        reverse("telemetry:alerts"), reverse("telemetry:alert", args=[alert.pk]), reverse("telemetry:events"),
        reverse("telemetry:source_dead_letters", args=[source.name])))
    page.goto(base + reverse("telemetry:events"))
    page.screenshot(path=str(SCREENSHOTS / "telemetry_long_rule_events.png"), full_page=True)
    assert RULE in page.content()
    page.goto(base + reverse("telemetry:alerts"))
    page.screenshot(path=str(SCREENSHOTS / "telemetry_long_rule_alerts.png"), full_page=True)
    assert RULE in page.content()
    assert not wider, f"pages wider than the screen: {wider}"
    context.close()
