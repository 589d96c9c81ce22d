"""The incidents' search: the reference, title and report texts without regard to case or Vietnamese diacritics
(people type "tong tien" for "tống tiền"), and an observable's value; on the page and the API alike, inside what
the user may see only."""
import pytest

from khien.incidents.models import Incident


@pytest.fixture
def incidents(world, report):
    ransom = report(title="Mã độc tống tiền mã hóa máy chủ", description="Nhóm LockBit để lại thư đòi tiền chuộc.",
                    observables=[("ipv4", "185.220.101.45"), ("domain", "Lockbit-Support.example")])
    phishing = report(title="Thư giả mạo ngân hàng", description="Đường dẫn tới trang đăng nhập giả.")
    other = report(org=world.province, user=world.other_admin, title="Mã độc tống tiền tại tỉnh",
                   description="LockBit", observables=[("ipv4", "185.220.101.45")])
    return ransom, phishing, other


@pytest.mark.parametrize("query", ["tong tien", "TỐNG TIỀN", "lockbit", "đòi tiền chuộc", "doi tien chuoc",
                                   "185.220.101.45", "lockbit-support.example", "LOCKBIT-SUPPORT.EXAMPLE"])
def test_the_search_finds_by_words_without_diacritics_and_by_observable(world, incidents, as_user, api, query):
    ransom, phishing, other = incidents
    page = as_user(world.analyst).get("/incidents/", {"q": query})
    found = {row["incident"].reference for row in page.context["rows"]}
    assert ransom.reference in found and phishing.reference not in found
    assert other.reference not in found  # another organization's, though it matches
    answer = api(world.analyst).get("/api/incidents/", {"q": query}).json()
    assert {row["reference"] for row in answer["results"]} == found


def test_the_observable_filter_is_exact_and_scoped(world, incidents, api):
    ransom, _phishing, other = incidents
    mine = api(world.analyst).get("/api/incidents/", {"observable": "185.220.101.45"}).json()
    assert [row["reference"] for row in mine["results"]] == [ransom.reference]
    theirs = api(world.other_admin).get("/api/incidents/", {"observable": "185.220.101.45"}).json()
    assert [row["reference"] for row in theirs["results"]] == [other.reference]
    assert api(world.analyst).get("/api/incidents/", {"observable": "185.220.101"}).json()["count"] == 0


def test_the_search_text_follows_the_final_report(world, incidents, as_user):
    ransom, _phishing, _other = incidents
    incident = Incident.objects.get(pk=ransom.pk)
    incident.root_cause = "Lỗ hổng VPN chưa vá"
    incident.save(update_fields=["root_cause"])
    page = as_user(world.analyst).get("/incidents/", {"q": "lo hong vpn"})
    assert [row["incident"].reference for row in page.context["rows"]] == [ransom.reference]
