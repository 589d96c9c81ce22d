"""Intelligence notifications (an early warning to its targets' members, a partner feed that stops pulling) read in
their reader's language, whoever or whatever triggered them: kept as texts (`core.texts.Text`), written again in
the reader's language on each page and API answer."""
import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from khien.core.models import Notification
from khien.core.roles import Role
from khien.intel import federation, services, services_warnings
from khien.intel.models_federation import FeedStatus
from khien.registry.models import Membership

pytestmark = pytest.mark.django_db


def _read(client, api, user, kind) -> dict:
    """The person's notification of `kind` as they read it: the notifications page in Vietnamese (the default),
    the API in each language, then the page after switching to English."""
    notice = Notification.objects.get(recipient=user, kind=kind)
    client.force_login(user)
    read = {"page_vi": client.get(reverse("core:notifications")).content.decode()}
    token_client = api(user)
    for language in ("vi", "en"):
        [item] = [n for n in token_client.get("/api/notifications/", HTTP_ACCEPT_LANGUAGE=language).json()["results"]
                  if n["id"] == str(notice.pk)]
        read[language] = (item["title"], item["body"])
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    read["page_en"] = client.get(reverse("core:notifications")).content.decode()
    read["stored"] = (notice.title, notice.body)
    return read


def _assert_reads(read, vi, en):
    """`vi` and `en`: (title, body) in each language."""
    assert read["vi"] == vi and read["en"] == en
    assert read["stored"] == vi  # stored (and e-mailed by default) in the platform's language
    for language, page, other in (("vi", read["page_vi"], en), ("en", read["page_en"], vi)):
        shown = dict(vi=vi, en=en)[language]
        assert escape(shown[0]) in page and escape(shown[1]) in page, language
        assert escape(other[0]) not in page, language


def test_an_early_warning_issued_in_english_reads_in_each_target_members_language(world, client, api):
    with translation.override("en"):  # the coordinator reads Khiên in English
        services_warnings.do_issue_warning(
            {"title": "Chiến dịch tấn công", "summary": "Synthetic test warning", "severity": "high"},
            acting_user=world.coordinator, organizations=[world.ministry], auto_match=False)
    _assert_reads(_read(client, api, world.admin, "intel.warning"),
                  ("Cảnh báo sớm (Cao, TLP:AMBER): Chiến dịch tấn công", "Phạm vi chia sẻ: TLP:AMBER.\nSynthetic test warning"),
                  ("Early warning (High, TLP:AMBER): Chiến dịch tấn công", "Sharing: TLP:AMBER.\nSynthetic test warning"))


def _min_subscription(world):
    collection = services.do_create_collection({"title": "MIN feed", "owner": world.ministry}, acting_user=world.admin)
    return federation.do_create_subscription(
        {"name": "partner", "collection": collection, "api_root_url": "http://127.0.0.1:9/taxii2/api/",
         "remote_collection_id": "c1", "interval_minutes": 30}, acting_user=world.admin)


def test_a_partner_feed_that_cannot_be_reached_reads_in_each_readers_language(world, client, api):
    sub = _min_subscription(world)
    with translation.override("en"):  # "Pull now" by someone reading in English: the record keeps their language
        sub = federation.do_pull(sub)
    assert sub.last_status == FeedStatus.ERROR and sub.last_error == "Cannot reach the remote server."
    _assert_reads(_read(client, api, world.admin, "intel.federation_failed"),
                  ("Không thể lấy dữ liệu từ nguồn TAXII của đối tác “partner”",
                   "Không thể kết nối tới máy chủ từ xa. Đăng ký nguồn này cung cấp dữ liệu cho bộ sưu tập "
                   "“MIN feed”; hệ thống sẽ thử lại theo chu kỳ đã đặt."),
                  ("Partner TAXII feed “partner” cannot be pulled",
                   "Cannot reach the remote server. The subscription feeds the collection “MIN feed”; it will be "
                   "tried again at its interval."))


def test_a_partner_feed_whose_creator_lost_the_right_to_write_reads_in_each_readers_language(world, client, api):
    sub = _min_subscription(world)
    Membership.objects.filter(user=world.admin, organization=world.ministry).update(role=Role.AUDITOR)
    sub = federation.do_pull(sub)
    assert sub.last_status == FeedStatus.ERROR and sub.last_error
    read = _read(client, api, world.admin, "intel.federation_failed")
    assert read["vi"][1].startswith("Người tạo đăng ký nguồn không còn quyền thêm đối tượng")
    assert read["en"] == ("Partner TAXII feed “partner” cannot be pulled",
                          "The subscription's creator may no longer add objects to the local collection; someone "
                          "who may should re-create the subscription. The subscription feeds the collection "
                          "“MIN feed”; it will be tried again at its interval.")
    assert escape(read["en"][1]) in read["page_en"] and escape(read["vi"][1]) in read["page_vi"]
