"""The events page as a SOC operator pages through it: the pager says which events the page shows."""
import datetime as dt
import re

import pytest
from django.utils import timezone

from khien.telemetry import services, views
from khien.telemetry.tests.test_matching import ecs

pytestmark = pytest.mark.django_db


def pager(page: str) -> str:
    found = re.search(r'<nav class="pagination"[^>]*>(.*?)</nav>', page, re.DOTALL)
    assert found, "no pager"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found[1])).strip()


def test_the_pager_names_the_events_of_each_page(world, make_source, as_user, monkeypatch):
    monkeypatch.setattr(views, "EVENTS_PER_PAGE", 3)
    source, _key = make_source(world.ministry, "ecs")
    now = timezone.now()
    services.ingest_batch(source, [ecs(f"198.51.100.{n + 10}", rule=f"r{n}", when=now - dt.timedelta(minutes=n + 1))
                                   for n in range(7)])
    client = as_user(world.analyst)
    assert "Sự kiện 1–3, mới nhất trước" in pager(client.get("/telemetry/events/").content.decode())
    assert "Sự kiện 4–6, mới nhất trước" in pager(client.get("/telemetry/events/?page=2").content.decode())
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    last = pager(client.get("/telemetry/events/?page=3").content.decode())
    assert "Events 7–7, newest first" in last and "Older" not in last


def test_page_numbers_are_grouped_as_the_reader_writes_them(world, make_source, as_user, monkeypatch):
    monkeypatch.setattr(views, "EVENTS_PER_PAGE", 1000)
    source, _key = make_source(world.ministry, "ecs")
    now = timezone.now()
    services.ingest_batch(source, [ecs(f"198.51.{n // 200}.{n % 200 + 1}", rule=f"r{n}",
                                       when=now - dt.timedelta(seconds=n + 60)) for n in range(1002)])
    client = as_user(world.analyst)
    assert "Sự kiện 1.001–1.002, mới nhất trước" in pager(client.get("/telemetry/events/?page=2").content.decode())
