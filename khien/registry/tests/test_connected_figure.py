"""The "connected to national monitoring" figure counts the level-3+ systems in operation, one rule for the home
page (declared layer 4) and the monitoring dashboard (live sources), each scoped to what the reader may see."""
import pytest
from django.urls import reverse

from khien.registry import stats
from khien.registry.models import InformationSystem, LayerState, OperationalStatus
from khien.telemetry import health, services
from khien.telemetry.tests.conftest import make_source, sample_lines  # noqa: F401 (fixture)
from khien.telemetry.views import dashboard_data

pytestmark = pytest.mark.django_db

IN_OPERATION = OperationalStatus.IN_OPERATION


@pytest.fixture
def fleet(world, make_system, make_source):  # noqa: F811
    """The ministry's tree: systems of level 3+ in each operational state, approved or only proposed."""
    s = {
        # In operation: counted.
        "approved_connected": make_system(world.ministry, approved_level=3, operational_status=IN_OPERATION,
                                          layer4_status=LayerState.IN_PLACE),
        "approved_missing": make_system(world.department, approved_level=4, operational_status=IN_OPERATION),
        "proposed_missing": make_system(world.ministry, proposed_level=3, operational_status=IN_OPERATION),
        # Not running: left out, whatever their level and layer 4.
        "planned": make_system(world.ministry, proposed_level=4, operational_status=OperationalStatus.PLANNED),
        "suspended": make_system(world.ministry, approved_level=3, operational_status=OperationalStatus.SUSPENDED),
        "retired": make_system(world.department, approved_level=5, operational_status=OperationalStatus.RETIRED,
                               layer4_status=LayerState.IN_PLACE),
        # Below level 3: not held to the rule.
        "low": make_system(world.ministry, approved_level=2, operational_status=IN_OPERATION),
        # Another tree: the ministry does not see it.
        "other": make_system(world.province, approved_level=3, operational_status=IN_OPERATION),
    }
    live, _k = make_source(org=world.ministry, format="wazuh")
    services.do_set_source_systems(live, [s["approved_connected"], s["planned"]], acting_user=world.admin)
    services.ingest_batch(live, sample_lines("wazuh_alerts.ndjson"))
    return s


def test_the_rule_counts_only_level_3_systems_in_operation(fleet):
    held = set(InformationSystem.objects.filter(stats.held_to_national_monitoring_q()).values_list("code", flat=True))
    assert held == {fleet[k].code for k in ("approved_connected", "approved_missing", "proposed_missing", "other")}


def test_the_home_page_says_x_of_y_declared_connected(world, fleet, as_user):
    layer4 = stats.dashboard(world.admin)["kpis"]["layer4"]
    assert layer4 == {"total": 3, "connected": 1, "not_connected": 2, "share": 33,
                      "approved_level": 2, "proposed_level": 1}
    assert stats.dashboard(world.admin)["kpis"]["high_level_unconnected"] == 2
    client = as_user(world.admin)
    client.cookies["khien_language"] = "en"
    page = client.get(reverse("registry:dashboard")).content.decode()
    tile = page[page.index('id="kpi-layer4"'):]
    tile = tile[:tile.index("</section>")]
    assert "1 / 3" in tile and "33%" in tile and "in operation" in tile
    assert "With an approved level 3+: 2" in tile and "only a proposed level" in tile
    # Another province sees its own system only; nobody sees nothing.
    assert stats.dashboard(world.other_admin)["kpis"]["layer4"]["total"] == 1
    assert stats.dashboard(world.nobody)["kpis"]["layer4"] == {"total": 0, "connected": 0, "not_connected": 0,
                                                               "share": 0, "approved_level": 0, "proposed_level": 0}


def test_the_monitoring_dashboard_counts_the_same_systems_by_their_live_sources(world, fleet, as_user):
    data = dashboard_data(world.admin)
    # The planned system's source sends, but a system not running is not counted; the retired one neither.
    assert data["connection"] == {"total": 3, "connected": 1, "not_connected": 2, "share": 33,
                                  "approved_level": 2, "proposed_level": 1}
    assert data["kpis"]["systems_disconnected"] == 2
    assert {s.code for s in health.monitored_systems(world.admin)} == {
        fleet[k].code for k in ("approved_connected", "approved_missing", "proposed_missing")}
    assert dashboard_data(world.other_admin)["connection"]["total"] == 1
    client = as_user(world.admin)
    client.cookies["khien_language"] = "en"
    page = client.get(reverse("telemetry:dashboard")).content.decode()
    tile = page[page.index('id="kpi-connected"'):]
    tile = tile[:tile.index("</a>")]
    assert '<span data-figure="connection.connected">1</span> / <span data-figure="connection.total">3</span>' in tile
    assert "in operation" in tile and '<span data-figure="connection.share">33</span>%' in tile
    note = page[page.index('id="kpi-held-note"'):]
    assert '<span data-figure="connection.proposed_level">1</span>' in note[:note.index("</p>")]
    # The tile's list holds the same systems as its count.
    listed = client.get(data["kpi_links"]["systems_disconnected"].split("#")[0]).content.decode()
    assert fleet["approved_missing"].code in listed and fleet["proposed_missing"].code in listed
    assert fleet["retired"].code not in listed and fleet["suspended"].code not in listed
