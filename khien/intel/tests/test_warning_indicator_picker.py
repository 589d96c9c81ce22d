"""The early-warning form's stored-indicator picker: found by a value or by words of the name (only what the user may
see, at most `MAX_RESULTS`, revoked ones left out), ticked into the warning, listed with kind, value, name and TLP;
without JavaScript "Search" sends the form back with boxes to tick; an id that is no indicator the user may see is
named in the error; the JSON endpoint answers bad input with a 400 and a signed-out caller with a 401."""
import pytest
from django.urls import reverse
from django.utils import translation

from khien.intel import indicator_picker, services, services_versions
from khien.intel.models import EarlyWarning, Tlp

from .conftest import indicator
from .test_views import html, signed_in
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
PICK = "intel:indicator_pick"


@pytest.fixture
def feed(land):
    """The ministry's feed: a C2 address and a domain (TLP:GREEN, the coordinator sees them), a hash, a URL on the
    domain, a TLP:RED indicator with the same name words (the coordinator does not see it), a revoked one."""
    w = land.world
    coll = services.do_create_collection({"title": "Ministry feed", "owner": w.ministry}, acting_user=w.admin)
    f = type("Feed", (), {})()
    f.c2 = indicator("45.33.77.1", tlp=Tlp.GREEN, name="Máy chủ điều khiển LockBit")
    f.domain = indicator("evil-update.vn", kind="domain-name", tlp=Tlp.GREEN, name="Tên miền phát tán")
    f.url = indicator("https://evil-update.vn/a.exe", kind="url", tlp=Tlp.GREEN, name="Tải mã độc")
    f.sha = indicator(SHA, tlp=Tlp.CLEAR, name="Tệp LockBit", pattern=f"[file:hashes.'SHA-256' = '{SHA}']")
    f.hidden = indicator("45.33.77.2", tlp=Tlp.RED, name="Máy chủ điều khiển LockBit bí mật")
    f.revoked = indicator("45.33.77.3", tlp=Tlp.GREEN, name="Máy chủ điều khiển LockBit cũ")
    services.do_add_objects(coll, [f.c2, f.domain, f.url, f.sha, f.revoked], acting_user=w.analyst)
    services.do_add_objects(coll, [f.hidden], acting_user=w.analyst, recipients=[w.ministry])
    services_versions.do_revoke_object(f.revoked["id"], acting_user=w.analyst)
    f.coll = coll
    return f


def _ids(response):
    return [r["id"] for r in response.json()["results"]]


def _post(land, **extra):
    data = {"title": "Máy chủ điều khiển LockBit", "summary": "", "severity": "high", "tlp": "amber",
            "values": "", "organizations": [str(land.world.ministry.pk)], "auto_match": "on"}
    data.update(extra)
    return data


def test_found_by_value_and_by_words_of_the_name_only_what_the_user_sees(client, land, feed):
    c = signed_in(client, land.world.coordinator)
    url = reverse(PICK)
    assert _ids(c.get(url, {"q": "45.33.77.1"})) == [feed.c2["id"]]
    assert _ids(c.get(url, {"q": SHA.upper()})) == [feed.sha["id"]]
    # A domain: its indicator first, then the URL on it.
    assert _ids(c.get(url, {"q": "evil-update.vn"})) == [feed.domain["id"], feed.url["id"]]
    # Words of the name, in any order, any case: the RED one (not shared with the coordinator) and the revoked one
    # are not offered.
    response = c.get(url, {"q": "lockbit  điều"})
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    assert _ids(response) == [feed.c2["id"]]
    assert _ids(c.get(url, {"q": "45.33.77.2"})) == []
    row = c.get(url, {"q": "45.33.77.1"}).json()["results"][0]
    assert row == {"id": feed.c2["id"], "kind": "ipv4", "kind_label": row["kind_label"], "value": "45.33.77.1",
                   "more": 0, "name": "Máy chủ điều khiển LockBit", "tlp": "green", "tlp_label": "TLP:GREEN"}
    # Who the RED one is shared with finds it.
    c = signed_in(client, land.world.analyst)
    assert feed.hidden["id"] in _ids(c.get(url, {"q": "LockBit bí mật"}))


def test_results_are_capped(client, land, feed):
    w = land.world
    services.do_add_objects(feed.coll, [indicator(f"45.34.0.{n}", tlp=Tlp.GREEN, name=f"Quét cổng {n}")
                                        for n in range(indicator_picker.MAX_RESULTS + 5)], acting_user=w.analyst)
    body = signed_in(client, w.coordinator).get(reverse(PICK), {"q": "quét cổng"}).json()
    assert len(body["results"]) == indicator_picker.MAX_RESULTS and body["more"] is True


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": " a "}, {"q": "x" * 201}])
def test_bad_searches_are_400_and_say_why(client, land, params):
    c = signed_in(client, land.world.coordinator)
    with translation.override("en"):
        response = c.get(reverse(PICK), params)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(("Gõ ít nhất 2 ký tự", "Chỉ gõ tối đa 200 ký tự"))  # vi first


def test_the_endpoint_wants_a_signed_in_user_and_a_get(client, land, feed):
    response = client.get(reverse(PICK), {"q": "lockbit"})
    assert response.status_code == 401 and "results" not in response.json()
    c = signed_in(client, land.world.coordinator)
    assert c.post(reverse(PICK), {"q": "lockbit"}).status_code == 405


def test_ticked_and_pasted_indicators_are_named_by_the_warning(client, land, feed):
    c = signed_in(client, land.world.coordinator)
    response = c.post(reverse("intel:warning_create"),
                      _post(land, indicators=[feed.c2["id"], feed.domain["id"]], indicator_refs=feed.sha["id"]))
    assert response.status_code == 302, response.context["form"].errors
    warning = EarlyWarning.objects.get()
    assert warning.indicator_refs == [feed.c2["id"], feed.domain["id"], feed.sha["id"]]


def test_the_form_offers_the_picker_and_keeps_the_paste_box(client, land):
    body = html(signed_in(client, land.world.coordinator).get(reverse("intel:warning_create")))
    assert 'data-indicator-picker' in body and f'data-url="{reverse(PICK)}"' in body
    assert 'name="indicator_q"' in body and 'name="indicator_search"' in body
    assert 'name="indicator_refs"' in body and "indicator-picker.js" in body
    # "Search" is the form's first button: Enter in a field searches, it does not send the warning.
    assert body.index('name="indicator_search"') < body.index('type="submit">')


def test_search_without_javascript_offers_boxes_and_sends_nothing(client, land, feed):
    c = signed_in(client, land.world.coordinator)
    with translation.override("en"):
        response = c.post(reverse("intel:warning_create"),
                          _post(land, title="", indicators=[feed.c2["id"]], indicator_search="1", indicator_q="LockBit"))
    assert response.status_code == 200 and not EarlyWarning.objects.exists()
    assert not response.context["form"].errors  # the form is not done: no title yet is no error yet
    body = html(response)
    found = [p.id for p in response.context["found"]["results"]]
    assert found == [feed.sha["id"]]  # the chosen one is not offered again, nor the hidden or revoked ones
    assert f'name="indicators" value="{feed.sha["id"]}">' in body  # a box to tick
    assert f'name="indicators" value="{feed.c2["id"]}" checked>' in body  # still chosen
    # the chosen one with its kind, value, name and TLP
    chosen = body[body.index('id="indicator-chosen"'):]
    for text in ("IPv4", "45.33.77.1", "Máy chủ điều khiển LockBit", "TLP:GREEN"):
        assert text in chosen[:chosen.index("</fieldset>")]
    # ticked, then sent: the warning names both
    response = c.post(reverse("intel:warning_create"), _post(land, indicators=[feed.c2["id"], feed.sha["id"]]))
    assert response.status_code == 302
    assert EarlyWarning.objects.get().indicator_refs == [feed.c2["id"], feed.sha["id"]]


def test_a_search_too_short_without_javascript_is_400_and_says_so(client, land):
    c = signed_in(client, land.world.coordinator)
    with translation.override("en"):
        response = c.post(reverse("intel:warning_create"), _post(land, indicator_search="1", indicator_q="a"))
    assert response.status_code == 400 and not EarlyWarning.objects.exists()
    assert "Gõ ít nhất 2 ký tự" in html(response)
    # Enter in another field with nothing typed in the search box: the form back as it was, no problem said
    response = c.post(reverse("intel:warning_create"), _post(land, title="", indicator_search="1", indicator_q=""))
    assert response.status_code == 200 and not response.context["form"].errors


def test_pasted_ids_join_the_chosen_when_the_form_comes_back(client, land, feed):
    c = signed_in(client, land.world.coordinator)
    response = c.post(reverse("intel:warning_create"),
                      _post(land, indicator_refs=f"{feed.domain['id']}\nindicator--nope", preview="1"))
    form = response.context["form"]
    assert [p.id for p in response.context["chosen_indicators"]] == [feed.domain["id"]]
    assert form["indicator_refs"].value() == "indicator--nope"  # the box keeps only the one with a problem
    assert "evil-update.vn" in html(response)


def test_each_id_that_is_no_indicator_the_user_may_see_is_named(client, land, feed):
    c = signed_in(client, land.world.coordinator)
    unknown = "indicator--00000000-0000-4000-8000-000000000000"
    with translation.override("en"):
        response = c.post(reverse("intel:warning_create"), _post(
            land, indicator_refs=f"{feed.c2['id']}\n{unknown}\n{feed.hidden['id']}\nreport--abc",
            indicators=[feed.sha["id"], feed.hidden["id"]]))
        assert response.status_code == 400 and not EarlyWarning.objects.exists()
        errors = response.context["form"].errors
    pasted = " ".join(errors["indicator_refs"])
    # the unknown one and the one not shared with the user: the same words (which is which is not said)
    assert unknown in pasted and feed.hidden["id"] in pasted and "Không có chỉ báo nào bạn được xem" in pasted
    assert "“report--abc”" in pasted and "Không phải mã chỉ báo" in pasted
    assert feed.c2["id"] not in pasted
    ticked = " ".join(errors["indicators"])
    assert feed.hidden["id"] in ticked and feed.sha["id"] not in ticked
    body = html(response)
    assert unknown in body and "report--abc" in body
