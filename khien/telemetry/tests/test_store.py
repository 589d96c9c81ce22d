"""Rows written by the raw batch insert read back through the ORM exactly like rows written by bulk_create."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from khien.telemetry import services, store
from khien.telemetry.models import Event, utc_day

pytestmark = pytest.mark.django_db


def test_insert_rows_matches_bulk_create(make_source):
    source, _ = make_source(format="ecs")
    values = {
        "source_id": source.id, "organization_id": source.organization_id, "alert_id": None,
        "time": dt.datetime(2026, 11, 24, 21, 3, 11, 482000, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")),
        "ingested_at": dt.datetime(2026, 11, 24, 14, 5, tzinfo=dt.timezone.utc), "kind": "alert", "category": "web",
        "severity": 7, "observer": "sensor ✓", "src_ip": "2001:db8::1", "src_port": 443, "dst_ip": "192.0.2.1",
        "dst_port": None, "domain": "bad.example", "url": "https://bad.example/ä?q='\"", "file_md5": "",
        "file_sha1": "", "file_sha256": "a" * 64, "rule_id": "r1", "rule_name": "Tên luật",
        "raw": {"nested": {"list": [1, 2.5, None, True]}, "text": "đ"},
    }
    values["day"] = utc_day(values["time"])  # ingestion writes it; the ORM computes it (EventDayField)
    store.insert_rows(Event, ("id",) + tuple(values), [("a" * 64,) + tuple(values.values())])
    Event.objects.bulk_create([Event(id="b" * 64, **dict(values, day=None))])  # the ORM fills the day in
    store.insert_rows(Event, ("id",) + tuple(values), [("a" * 64,) + tuple(values.values())])  # conflict: skipped
    fast, orm = Event.objects.get(id="a" * 64), Event.objects.get(id="b" * 64)
    for field in Event._meta.concrete_fields:
        if field.name != "id":
            assert getattr(fast, field.attname) == getattr(orm, field.attname), field.name
    assert Event.objects.filter(time=values["time"]).count() == 2
    assert Event.objects.filter(src_ip="2001:db8::1").count() == 2
    assert fast.raw == orm.raw == values["raw"]  # the record comes back as the JSON it was
    # A CEF line is stored as a JSON string, as the ORM would.
    store.insert_rows(Event, ("id",) + tuple(values), [("c" * 64,) + tuple(dict(values, raw="CEF:0|a").values())])
    assert Event.objects.get(id="c" * 64).raw == "CEF:0|a"
    assert services.EVENT_COLUMNS[0] == "id"
