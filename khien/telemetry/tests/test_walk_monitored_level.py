"""The level-3+ systems of national monitoring are listed at the level they are held to — approved, else proposed
(`registry.models.level_at_least_q`) — on the sources page and in the API: a system proposed at level 4 and not yet
approved showed an empty level there."""
import pytest
from django.urls import reverse

from khien.registry.models import LevelStatus

pytestmark = pytest.mark.django_db


def test_a_proposed_level_is_shown_and_given_as_the_level_it_is_held_to(world, make_system, as_user, api):
    proposed = make_system(world.ministry, proposed_level=4, level_status=LevelStatus.SUBMITTED,
                           operational_status="in_operation")
    approved = make_system(world.ministry, approved_level=3, proposed_level=3, level_status=LevelStatus.APPROVED,
                           operational_status="in_operation")
    page = as_user(world.admin).get(reverse("telemetry:sources") + "?monitoring=no_source").content.decode()
    table = page[page.index('id="monitoring-table"'):]
    table = table[:table.index("</table>")]
    assert table.index(proposed.code) < table.index(approved.code)  # the higher level first
    assert '<td class="num" data-label="Cấp độ">4 <span class="muted small">(đề xuất)</span></td>' in table
    rows = {r["code"]: r for r in api(world.admin).get("/api/telemetry/monitoring/").json()["results"]}
    assert (rows[proposed.code]["level"], rows[proposed.code]["approved_level"]) == (4, None)
    assert (rows[approved.code]["level"], rows[approved.code]["approved_level"]) == (3, 3)
