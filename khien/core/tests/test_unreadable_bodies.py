"""A body the API cannot read is a 400 in the user's language, saying where (DRF's own text is Python's, in English)."""
import pytest

from khien.registry.models import Organization

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("body,content_type,vi,en", [
    (b'{"name": "x", ', "application/json", "không phải JSON hợp lệ (dòng 1, cột 15)",
     "not valid JSON (line 1, column 15)"),
    (b'{\n  "name": \'x\'}', "application/json", "(dòng 2, cột 11)", "(line 2, column 11)"),
    (b'{"name": "\xff\xfe"}', "application/json", "không phải văn bản UTF-8", "not UTF-8 text"),
    (b"--x\r\nContent-Disposition: form-data; name=\"" + b"a" * 5000, "multipart/form-data; boundary=x",
     "Không đọc được dữ liệu biểu mẫu", "form data could not be read"),
])
def test_an_unreadable_body_is_a_clear_400(world, api, body, content_type, vi, en):
    client = api(world.admin)
    before = Organization.objects.count()
    for language, expected in (("vi", vi), ("en", en)):
        answer = client.post("/api/registry/organizations/", data=body, content_type=content_type,
                             HTTP_ACCEPT_LANGUAGE=language)
        assert answer.status_code == 400
        detail = answer.json()["detail"]
        assert expected in detail and "Expecting" not in detail and "codec" not in detail, detail
    assert Organization.objects.count() == before
