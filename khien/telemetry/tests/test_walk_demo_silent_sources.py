"""The demo's silent sources stay silent under `khien simulate` (started by `make run`): the "Silent" tab lists
the sources that stopped hours ago and the level-3+ systems they alone watch show as disconnected."""
from django.utils import timezone

from khien.telemetry import demo, health, simulate
from khien.telemetry.models import AlertSource

from .test_demo import country  # noqa: F401 (the fixture: the demo country and its intelligence)


def test_the_stopped_sources_stay_silent_when_the_simulator_runs(country):  # noqa: F811
    demo.build(seed=7)
    # The organizations of the demo accounts the guides sign in with have sources (the guides' examples).
    assert {"UBND-79", "BTC", "NCSC"} <= set(AlertSource.objects.filter(name__startswith="demo-")
                                             .values_list("organization__code", flat=True))
    demo_sources = list(AlertSource.objects.filter(name__startswith=simulate.DEMO_PREFIX))
    stopped = {s.pk: s.last_event_at for s in demo_sources if health.source_status(s) == "silent"}
    assert stopped, "sources that stopped sending hours ago"

    # `make run` starts `khien simulate`: many records, so that every sending source gets some.
    assert simulate.run(rate=500, once=True, seed=3, batch_seconds=1) == 500

    now = timezone.now()
    after = {s.pk: s for s in AlertSource.objects.filter(pk__in=stopped)}
    assert {pk: s.last_event_at for pk, s in after.items()} == stopped
    assert all(health.source_status(s, now) == "silent" for s in after.values())
    assert any(health.source_status(s, now) == "live" for s in AlertSource.objects.filter(name__startswith="demo-"))
    # A level-3+ system watched only by a stopped source: disconnected, with the time its source last sent.
    systems = {system for s in after.values() for system in s.systems.all()
               if not system.alert_sources.exclude(pk__in=stopped).filter(enabled=True).exists()}
    assert systems, "a system disconnected by a source that fell silent"
    state = health.monitoring_of_systems([s.pk for s in systems], now)
    assert {state[s.pk][0] for s in systems} == {health.Monitoring.DISCONNECTED}
    assert all(state[s.pk][1] is not None for s in systems)


def test_the_stopped_sources_are_stable_and_few():
    names = [f"demo-org{i}-{fmt}" for i in range(60) for fmt in ("wazuh", "cef")]
    stopped = [n for n in names if simulate.stopped_hours_ago(n) is not None]
    assert 0 < len(stopped) < len(names) // 8
    assert all(3 <= simulate.stopped_hours_ago(n) <= 12 for n in stopped)
    assert not any(simulate.is_disconnected(n) for n in stopped)
    sources_names = {s for s in names if not simulate.is_disconnected(s)}
    assert stopped == [n for n in names if n in sources_names and simulate.stopped_hours_ago(n)]
