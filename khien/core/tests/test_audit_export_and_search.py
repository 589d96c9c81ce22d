"""The audit log page: its entries downloaded as CSV (what the filters select, as the page scopes them), a search that
ignores diacritics and case ("nguyen van moi" finds what "Nguyễn Văn Mới" finds), and a date filter whose refusal
shows the format its placeholder shows."""
import csv
import html
import io
import re
import unicodedata

import pytest
from django.conf import settings
from django.http import StreamingHttpResponse
from django.urls import reverse

from khien.core import audit
from khien.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _listed(client, **params) -> set[int]:
    response = client.get(reverse("core:audit"), params)
    assert response.status_code == 200, response.content[:500]
    return {e.seq for e in response.context["page"]}


def _new_member(world):
    from khien.registry import services

    return services.do_add_member(world.ministry, "moi@min.test.vn", "org_analyst", acting_user=world.admin,
                                  full_name="Nguyễn Văn Mới")


# --- search without diacritics -----------------------------------------------------------------------------

def test_search_ignores_diacritics_and_case(client, world, api, make_system):
    _new_member(world)
    # written decomposed (letters, then their marks), as some keyboards and file names give it
    system = make_system(world.ministry, name=unicodedata.normalize("NFD", "Cổng dịch vụ công trực tuyến"))
    audit.record(audit.Act.CREATE, system, actor=world.analyst)
    client.force_login(world.admin)
    exact = _listed(client, q="Nguyễn Văn Mới")
    assert len(exact) >= 2  # the account and the membership at least
    for words in ("nguyen van moi", "NGUYEN VAN MOI", "Nguyen Văn moi", "nguyễn  văn   mới"):
        assert _listed(client, q=words) == exact, words
        seqs = {r["seq"] for r in api(world.admin).get("/api/audit/", {"q": words, "limit": 500}).json()["results"]}
        assert seqs == exact, words
    # the stored text of an entry (a system's name), the name of a person who acted, a name the page shows
    service = AuditEntry.objects.filter(object_type="registry.informationsystem", object_id=str(system.pk))
    assert set(service.values_list("seq", flat=True)) <= _listed(client, q="cong dich vu cong")
    assert set(service.values_list("seq", flat=True)) <= _listed(client, q="Cổng dịch vụ công")
    world.analyst.full_name = "Trần Thị Đào"
    world.analyst.save()
    assert set(service.values_list("seq", flat=True)) <= _listed(client, q="tran thi dao")
    assert set(service.values_list("seq", flat=True)) <= _listed(client, actor="TRAN THI DAO")
    assert not _listed(client, q="nguyen van cu")


def test_a_search_without_diacritics_tells_nothing_of_another_organization(client, world):
    from khien.registry import services

    services.do_add_member(world.province, "moi@prov.test.vn", "org_analyst", acting_user=world.other_admin,
                           full_name="Lê Văn Tỉnh")
    client.force_login(world.admin)
    assert not _listed(client, q="le van tinh") and not _listed(client, q="Lê Văn Tỉnh")
    client.force_login(world.other_admin)
    assert _listed(client, q="le van tinh") == _listed(client, q="Lê Văn Tỉnh") != set()


# --- the CSV export ----------------------------------------------------------------------------------------

def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)  # streamed, not built whole in memory
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="khien-audit-')
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())  # Excel reads the Vietnamese right
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_page_links_to_the_export_of_what_its_filters_select(client, world):
    _new_member(world)
    client.force_login(world.admin)
    page = html.unescape(client.get(reverse("core:audit"), {"q": "nguyen van moi", "page": "1"}).content.decode())
    link = re.search(r'href="(/audit/export/\?[^"]*)"', page)
    assert link, "no export link"
    assert "q=nguyen+van+moi" in link.group(1) and "page=" not in link.group(1)


def test_the_export_holds_the_entries_the_filters_select_in_the_readers_language(client, world):
    _new_member(world)
    client.force_login(world.admin)
    shown = _listed(client, q="nguyen van moi")
    rows = _csv(client.get(reverse("core:audit_export"), {"q": "nguyen van moi"}))
    assert rows[0] == ["#", "Thời điểm", "Ai", "Thao tác", "Loại", "Đối tượng", "Tổ chức", "prev_hash", "hash"]
    assert {int(r[0]) for r in rows[1:]} == shown
    member = next(r for r in rows[1:] if "Nguyễn Văn Mới" in r[5])
    assert member[2] == world.admin.email and member[6] == world.ministry.name
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", member[1])
    # in English for an English reader
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    rows = _csv(client.get(reverse("core:audit_export"), {"q": "nguyen van moi"}))
    assert rows[0] == ["#", "When", "Who", "Action", "Kind", "Object", "Organization", "prev_hash", "hash"]


def test_the_export_never_holds_another_organizations_entries(client, world):
    from khien.registry import services

    services.do_add_member(world.province, "moi@prov.test.vn", "org_analyst", acting_user=world.other_admin,
                           full_name="Lê Văn Tỉnh")
    _new_member(world)
    theirs = set(AuditEntry.objects.filter(organization_id=str(world.province.pk)).values_list("seq", flat=True))
    theirs |= set(AuditEntry.objects.filter(actor_id=str(world.other_admin.pk)).values_list("seq", flat=True))
    assert theirs
    client.force_login(world.admin)
    for params in ({}, {"q": "le van tinh"}, {"actor": world.other_admin.email}, {"organization_id": str(world.province.pk)}):
        rows = _csv(client.get(reverse("core:audit_export"), params))
        seqs = {int(r[0]) for r in rows[1:]}
        assert not seqs & theirs, params
        assert "Lê Văn Tỉnh" not in str(rows) and world.other_admin.email not in str(rows)
    shown = _listed(client)
    every = {int(r[0]) for r in _csv(client.get(reverse("core:audit_export")))[1:]}
    assert every == set(AuditEntry.objects.visible_to(world.admin).filter(seq__in=every).values_list("seq", flat=True))
    assert shown == every  # no filter: the whole log as the page lists it


def test_the_export_is_recorded_and_bad_filters_are_refused_as_on_the_page(client, world):
    client.force_login(world.admin)
    before = AuditEntry.objects.count()
    _csv(client.get(reverse("core:audit_export"), {"action": "create"}))
    export = AuditEntry.objects.order_by("-seq").first()
    assert AuditEntry.objects.count() == before + 1
    assert export.action == audit.Act.EXPORT and export.object_type == "core.auditentry"
    assert export.actor_id == str(world.admin.pk) and export.after["filters"] == {"action": ["create"]}
    assert audit.verify().ok
    refused = client.get(reverse("core:audit_export"), {"since": "hôm qua"})
    assert refused.status_code == 400 and not isinstance(refused, StreamingHttpResponse)
    # the page says what is wrong; filtering again from it lists entries (the form goes to the page, not the file)
    page = refused.content.decode()
    assert 'action="/audit/"' in page and 'href="/audit/">' in page
    assert AuditEntry.objects.count() == before + 1  # a refused export is no export
    assert client.get(reverse("core:audit_export")).status_code == 200
    client.logout()
    assert client.get(reverse("core:audit_export")).status_code == 302  # to the sign-in page


# --- the date filter ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["vi", "en"])
def test_a_wrong_date_is_refused_in_the_format_its_placeholder_shows(client, world, language):
    client.force_login(world.admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    refused = client.get(reverse("core:audit"), {"since": "hôm qua"})
    page = html.unescape(refused.content.decode())
    assert refused.status_code == 400
    placeholder = re.search(r'name="since"[^>]*placeholder="([^"]+)"|placeholder="([^"]+)"[^>]*name="since"', page)
    placeholder = placeholder.group(1) or placeholder.group(2)
    error = page[page.index('class="errorlist wide"'):]
    error = error[:error.index("</div>")]
    assert placeholder in error, (placeholder, error)  # "nn/tt/nnnn" on both
