"""Filters of the API lists and pages: a date the database cannot hold, or a yes/no that is neither, is refused with
a message — never a 500, never silently ignored."""
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


def test_dates_are_read_as_vietnamese_people_write_them_on_the_pages(world, as_user, make_system):
    """dd/mm/yyyy (the pages' hint) filters like its ISO form; a date that is neither is refused with a message."""
    make_system(world.ministry)
    client = as_user(world.admin)
    listed = client.get("/systems/?updated_after=2026-01-01").content.decode()
    assert 'placeholder="dd/mm/yyyy"' in listed or 'placeholder="nn/tt/nnnn"' in listed
    for date in ("01/01/2026", "01/01/2026 08:30"):
        response = client.get(f"/systems/?updated_after={date}")
        assert response.status_code == 200 and response.content.decode().count("SYS-") == listed.count("SYS-")
    assert "SYS-" not in client.get("/systems/?updated_after=31/12/9000").content.decode()
    assert client.get("/api/registry/systems/?updated_after=13/13/2026").status_code == 400


def test_the_events_page_refuses_them_too_and_caps_its_page(world, as_user):
    client = as_user(world.analyst)
    response = client.get("/telemetry/events/?until=0001-01-01T00:00")
    assert response.status_code == 400 and 'id="event-errors"' in response.content.decode()
    assert client.get("/telemetry/events/?page=99999999999999999999999").status_code == 200



BOOLEAN_URLS = ["/api/registry/systems/?internet_facing={v}", "/api/registry/systems/?four_layers={v}",
                "/api/registry/organizations/?is_active={v}", "/api/telemetry/sources/?enabled={v}"]


@pytest.mark.parametrize("url", BOOLEAN_URLS)
def test_a_yes_no_filter_refuses_what_is_neither(world, api, make_system, url):
    """`?internet_facing=maybe` was taken as no filter at all: the whole list came back as if filtered."""
    make_system(world.ministry, internet_facing=False)
    client = api(world.coordinator)
    for value in ("maybe", "-1", "1.5e307", "null"):
        response = client.get(url.format(v=value))
        assert response.status_code == 400, (url, value)
        assert "Hãy dùng true hoặc false." in str(response.json())
    for value in ("true", "false", "TRUE", "1", "0", "yes", "no", ""):
        assert client.get(url.format(v=value)).status_code == 200, (url, value)


def test_yes_no_filters_filter_and_pages_show_the_refusal(world, api, as_user, make_system):
    facing, inside = make_system(world.ministry, internet_facing=True), make_system(world.ministry,
                                                                                  internet_facing=False)
    client = api(world.admin)
    listed = {s["code"] for s in client.get("/api/registry/systems/?internet_facing=true").json()["results"]}
    assert facing.code in listed and inside.code not in listed
    page = as_user(world.admin).get("/systems/?internet_facing=maybe")
    assert page.status_code == 200 and "Hãy dùng true hoặc false." in page.content.decode()
    # Left alone, the select reads "All" (Django's "Unknown" read as if systems of unknown exposure were asked for).
    page = as_user(world.admin).get("/systems/").content.decode()
    select = page[page.index('name="internet_facing"'):]
    select = select[:select.index("</select>")]
    assert '<option value="unknown" selected>Tất cả</option>' in select and "Chưa xác định" not in select


@pytest.mark.parametrize("url", ["/api/notifications/?unread={v}", "/api/telemetry/suppressions/?active={v}",
                                 "/api/intel/exchange/export/?all_versions={v}"])
def test_flags_read_by_the_views_follow_the_same_rule(world, api, url):
    client = api(world.analyst)
    assert client.get(url.format(v="maybe")).status_code == 400
    for value in ("true", "yes", "0", ""):
        assert client.get(url.format(v=value)).status_code == 200, (url, value)
