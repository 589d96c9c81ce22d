"""Synthetic records: every format parses into the observables the simulator meant; the command."""
import datetime as dt
import json
import random

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from khien.telemetry import simulate
from khien.telemetry.models import Event
from khien.telemetry.services import PARSERS

SHA256 = "a" * 64


@pytest.mark.parametrize("fmt", ["wazuh", "suricata", "ecs", "cef"])
@pytest.mark.parametrize("kind,value,field", [
    ("ipv4", "45.77.10.20", "dst_ip"), ("domain", "cdn.evil-update.top", "domain"),
    ("url", "https://evil-update.top/payload.bin", "url"), ("sha256", SHA256, "file_sha256"),
])
def test_campaign_records_carry_the_value_in_every_format(fmt, kind, value, field):
    rng = random.Random(1)
    when = timezone.now().replace(microsecond=0)
    spec = simulate.campaign_spec(rng, when, 3, "host-01", kind, value)
    raw = simulate.WRITERS[fmt](spec, rng)
    decoded = raw.decode() if fmt == "cef" else json.loads(raw)
    event = PARSERS[fmt](decoded)
    assert str(event[field]).lower() == value.lower()
    assert abs((event["time"] - when).total_seconds()) < 1
    assert event["rule_id"] and event["rule_name"]


@pytest.mark.parametrize("fmt", ["wazuh", "suricata", "ecs", "cef"])
def test_noise_parses_and_stays_below_the_rule_campaign_threshold(fmt):
    rng = random.Random(2)
    for i in range(50):
        spec = simulate.noise_spec(rng, timezone.now() - dt.timedelta(minutes=i), 1, "h")
        raw = simulate.WRITERS[fmt](spec, rng)
        event = PARSERS[fmt](raw.decode() if fmt == "cef" else json.loads(raw))
        assert event["severity"] < 8
    wave = simulate.wave_spec(rng, timezone.now(), 1, "h")
    raw = simulate.WRITERS[fmt](wave, rng)
    event = PARSERS[fmt](raw.decode() if fmt == "cef" else json.loads(raw))
    assert event["severity"] >= 8 and event["rule_id"] == simulate.WAVE_RULE[0]


def test_simulate_command_streams_through_ingestion(world, make_source):
    make_source(world.ministry, "wazuh", name="demo-min-wazuh")
    make_source(world.province, "cef", name="demo-prov-cef")
    call_command("simulate", "--once", "--rate", "20", "--interval", "1", "--seed", "3")
    assert Event.objects.count() == 20
    assert set(Event.objects.values_list("source__format", flat=True)) == {"wazuh", "cef"}


def test_simulate_refuses_bad_arguments_and_needs_demo_sources(world, make_source):
    with pytest.raises(CommandError):
        call_command("simulate", "--once", "--rate", "0")
    make_source(world.ministry, "wazuh", name="not-a-demo-source")
    with pytest.raises(CommandError):
        call_command("simulate", "--once")
    assert not Event.objects.exists()


def test_disconnected_sources_are_stable():
    names = [f"demo-org{i}-wazuh" for i in range(80)]
    silent = [n for n in names if simulate.is_disconnected(n)]
    assert 0 < len(silent) < 30 and silent == [n for n in names if simulate.is_disconnected(n)]


def test_the_demo_accounts_organizations_are_hit_by_a_campaign(world, make_source):
    """Signing in as the demo analyst (UBND-79) shows indicator hits on its own dashboard, whatever the seed."""
    from khien.conftest import _org
    from khien.registry.demo import ACCOUNTS
    from khien.registry.models import Role

    analyst_code = next(a.org_code for a in ACCOUNTS if a.role == Role.ORG_ANALYST)
    signed_in = _org(analyst_code, world.province.org_type)
    make_source(signed_in, "cef", name=f"demo-{analyst_code.lower()}-cef")
    for i in range(30):  # enough organizations that random groups of 3–6 often leave one out
        make_source(_org(f"ORG{i}", world.province.org_type), "wazuh", name=f"demo-org{i}-wazuh")
    sources = simulate.demo_sources()
    for seed in range(20):
        simulator = simulate.Simulator(sources, seed=seed)
        assert simulator.values, "the intel demo's campaign values"
        assert any(signed_in.pk in group for group in simulator.groups), seed
