"""Early warnings: warning-listed values asked and marked, named indicators' values in the e-mail and on the page
once per value, and what the recipient's own monitoring already saw (its own data only)."""
import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone, translation

from khien.intel import services, services_warnings, warning_sightings
from khien.intel.models import Collection, CollectionKind, EarlyWarning, Tlp

from .conftest import indicator
from .test_views import html, signed_in
from .test_warnings import land  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"



def _contact_mail(org):
    org.refresh_from_db()
    return next(m for m in mail.outbox if m.to == [org.contact_email]).body


def _issue(user, **kwargs):
    data = {"title": "Chiến dịch mã độc", "summary": "Synthetic test warning", "severity": "high",
            **kwargs.pop("data", {})}
    return services_warnings.do_issue_warning(data, acting_user=user, **kwargs)


def _hash_indicators(land, tlp_red_too=False):
    """Four indicators of the coordinator's, three carrying the same SHA-256 under different names."""
    w = land.world
    coll = Collection.objects.create(title="National", kind=CollectionKind.NATIONAL, owner=w.ncsc)
    objs = [indicator(SHA, name=name, tlp=Tlp.GREEN, pattern=f"[file:hashes.'SHA-256' = '{SHA}']")
            for name in ("Loader", "Loader (dropper)", "Wave sample")]
    objs.append(indicator("http://wave.example/x", kind="url", name="Download URL", tlp=Tlp.GREEN))
    if tlp_red_too:
        objs.append(indicator("c" * 64, name="Secret sample", tlp=Tlp.RED,
                              pattern=f"[file:hashes.'SHA-256' = '{'c' * 64}']"))
    services.do_add_objects(coll, objs, acting_user=w.coordinator)
    return [o["id"] for o in objs]


def test_the_warning_form_asks_before_sending_a_warning_listed_value(client, land):
    c = signed_in(client, land.world.coordinator)
    post = {"title": "Cảnh báo", "severity": "high", "tlp": "amber", "values": "8.8.8.8\n45.33.1.2",
            "organizations": [str(land.world.ministry.pk)]}
    with translation.override("en"):
        response = c.post(reverse("intel:warning_create"), post)
    assert response.status_code == 400 and not EarlyWarning.objects.exists()
    assert 'id="warninglisted-confirm"' in html(response) and "8.8.8.8" in html(response)
    response = c.post(reverse("intel:warning_create"), {**post, "confirm_warninglisted": "on"})
    assert response.status_code == 302 and EarlyWarning.objects.count() == 1
    # a value on no list is not asked about
    response = c.post(reverse("intel:warning_create"), {**post, "values": "45.33.1.3"})
    assert response.status_code == 302 and EarlyWarning.objects.count() == 2


def test_the_e_mail_marks_warning_listed_values(land, django_capture_on_commit_callbacks):
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        _issue(land.world.coordinator, organizations=[land.world.ministry],
               data={"values": ["8.8.8.8", "45.33.10.1"], "tlp": "amber"})
    body = _contact_mail(land.world.ministry)
    line = next(line for line in body.splitlines() if "8.8.8.8" in line)
    assert "check before blocking" in line or "kiểm tra trước khi chặn" in line
    assert "  - 45.33.10.1\n" in body  # not marked


def test_the_e_mail_lists_the_values_of_the_named_indicators(land, django_capture_on_commit_callbacks):
    ids = _hash_indicators(land, tlp_red_too=True)
    with django_capture_on_commit_callbacks(execute=True):
        _issue(land.world.coordinator, organizations=[land.world.ministry],
               data={"indicator_refs": ids, "tlp": "amber"})
    body = _contact_mail(land.world.ministry)
    assert body.count(SHA) == 1 and "http://wave.example/x" in body
    assert "c" * 64 not in body  # a TLP:RED indicator stays in the platform


def test_a_red_warning_e_mail_holds_no_indicator_value(land, django_capture_on_commit_callbacks):
    ids = _hash_indicators(land)
    with django_capture_on_commit_callbacks(execute=True):
        _issue(land.world.coordinator, organizations=[land.world.ministry], data={"indicator_refs": ids, "tlp": "red"})
    body = _contact_mail(land.world.ministry)
    assert SHA not in body and "TLP:RED" in body


def test_the_warning_page_shows_each_indicator_value_once(client, land):
    ids = _hash_indicators(land)
    warning = _issue(land.world.coordinator, organizations=[land.world.ministry], data={"indicator_refs": ids})
    page = html(signed_in(client, land.world.admin).get(reverse("intel:warning_detail", args=[warning.pk])))
    block = page[page.index('id="warning-indicators"'):]
    block = block[:block.index("</ul>")]
    assert block.count(SHA) == 1
    assert all(name in block for name in ("Loader", "Loader (dropper)", "Wave sample", "Download URL"))


def _hit(org, source, value, when, n):
    from khien.telemetry.models import IndicatorHit

    return IndicatorHit.objects.create(event_id=f"ev-{org.code}-{n}", organization=org, source=source, indicator_pk=1,
                                       indicator_id="indicator--x", kind="domain", value=value, field="domain",
                                       time=when)


def test_the_target_sees_what_its_own_monitoring_saw_and_nothing_of_others(client, land):
    from khien.telemetry import services as telemetry

    w = land.world
    now = timezone.now().replace(microsecond=0)
    min_source, _ = telemetry.do_create_source(w.ministry, "wazuh-min", "wazuh", acting_user=w.coordinator)
    prov_source, _ = telemetry.do_create_source(w.province, "wazuh-prov", "wazuh", acting_user=w.coordinator)
    dept_source, _ = telemetry.do_create_source(w.department, "wazuh-d1", "wazuh", acting_user=w.coordinator)
    for n in range(3):
        _hit(w.ministry, min_source, "wave.example", now - dt.timedelta(hours=n + 1), n)
    for n in range(5):
        _hit(w.province, prov_source, "wave.example", now - dt.timedelta(minutes=n), n)
    _hit(w.department, dept_source, "wave.example", now, 9)  # a unit of MIN: not MIN's own monitoring
    _hit(w.ministry, min_source, "unrelated.example", now, 10)
    warning = _issue(w.coordinator, organizations=[w.ministry, w.province], data={"values": ["wave.example"]})

    seen = warning_sightings.seen_by_my_organizations(w.admin, warning, ["wave.example"])
    assert [(s.organization.code, s.count) for s in seen] == [("MIN", 3)]
    assert seen[0].last == now - dt.timedelta(hours=1)
    assert [(s.organization.code, s.count) for s in
            warning_sightings.seen_by_my_organizations(w.other_admin, warning, ["wave.example"])] == [("PROV", 5)]
    # not a target (the coordinator, the unit D1): nothing shown, although the coordinator sees all telemetry
    assert warning_sightings.seen_by_my_organizations(w.coordinator, warning, ["wave.example"]) == []
    assert warning_sightings.seen_by_my_organizations(w.dept_analyst, warning, ["wave.example"]) == []

    with translation.override("en"):
        page = html(signed_in(client, w.admin).get(reverse("intel:warning_detail", args=[warning.pk]),
                                                    HTTP_ACCEPT_LANGUAGE="en"))
    assert 'id="seen-MIN"' in page and 'id="seen-PROV"' not in page
    assert "observable=wave.example" in page and "organization=MIN" in page
    page = html(signed_in(client, w.coordinator).get(reverse("intel:warning_detail", args=[warning.pk])))
    assert 'id="seen-' not in page
