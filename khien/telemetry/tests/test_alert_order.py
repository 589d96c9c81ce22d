"""The alert queue's order (`services.newest_alerts_first`): the national coordinator's queue is led by the hour of
the last sighting, which its (seen_hour, key) index gives, so a page of a million alerts does not sort them all;
an organization's keeps the plain order. Both read the alerts newest first, the same order."""
import datetime as dt

import pytest
from django.db import connection

from khien.telemetry import services
from khien.telemetry.models import Alert
from khien.telemetry.tests.test_matching import ecs

pytestmark = pytest.mark.django_db

T = dt.datetime(2026, 12, 1, 3, 59, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def alerts(world, make_source):
    source = make_source(world.ministry, "ecs")[0]
    # Across an hour's edge and within one hour, out of order: the hour and then the minute decide.
    offsets = [0, 90, 30, 3600 * 5, 45, -600]
    services.ingest_batch(source, [ecs(f"198.51.100.{n + 10}", rule=f"r{n}", when=T + dt.timedelta(seconds=s))
                                   for n, s in enumerate(offsets)])
    return [f"r{n}" for n, _s in sorted(enumerate(offsets), key=lambda pair: -pair[1])]


def test_the_coordinator_and_an_organization_read_the_same_alerts_newest_first(world, alerts, as_user):
    for user in (world.coordinator, world.analyst):
        ordered = services.newest_alerts_first(Alert.objects.visible_to(user), user)
        assert [a.rule_id for a in ordered] == alerts
    client = as_user(world.analyst)
    listed = client.get("/api/telemetry/alert-groups/").json()["results"]
    assert [a["rule_id"] for a in listed] == alerts


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query plan")
def test_the_national_queue_reads_its_page_from_the_index_without_sorting_every_alert(world, alerts):
    queryset = services.newest_alerts_first(Alert.objects.visible_to(world.coordinator), world.coordinator)
    sql, params = queryset.values_list("pk", flat=True)[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        plan = " ".join(row[-1] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())
    # Walked in the index's order; only alerts of the same hour are sorted among themselves ("right part").
    assert "USING INDEX telemetry_alert_hour_key" in plan and "TEMP B-TREE FOR ORDER BY" not in plan, plan
