"""Date filters of every API list: a date the database cannot hold is refused with a message, never a 500."""
import pytest

URLS = ["/api/incidents/?detected_before={d}", "/api/registry/systems/?updated_after={d}",
        "/api/telemetry/hits/?since={d}", "/api/telemetry/events/?until={d}", "/api/telemetry/alert-groups/?since={d}",
        "/api/telemetry/dead-letters/?since={d}", "/api/telemetry/hourly/?until={d}"]


@pytest.mark.parametrize("url", URLS)
def test_dates_out_of_range_are_refused_with_a_message(world, api, url):
    client = api(world.coordinator)
    for date in ("0001-01-01T00:00", "9999-12-31T23:00:00-05:00", "1850-06-01T00:00:00Z"):
        response = client.get(url.format(d=date))
        assert response.status_code == 400, (url, date)
        assert "1970" in response.content.decode() and "9998" in response.content.decode()
    assert client.get(url.format(d="2026-12-01T00:00:00Z")).status_code == 200


def test_the_events_page_refuses_them_too_and_caps_its_page(world, as_user):
    client = as_user(world.analyst)
    response = client.get("/telemetry/events/?until=0001-01-01T00:00")
    assert response.status_code == 400 and 'id="event-errors"' in response.content.decode()
    assert client.get("/telemetry/events/?page=99999999999999999999999").status_code == 200

