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


# What an API fuzzer found answering 500: each is a 400 (or 413) now, on every view, and nothing is written.

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("path", ["/api/notifications/read/", "/api/telemetry/alert-groups/triage/",
                                  "/api/intel/subscriptions/", "/api/telemetry/sources/"])
def test_json_nested_too_deeply_is_a_400_on_every_view(world, api, path):
    answer = api(world.coordinator).post(path, data=DEEP, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 400, (path, answer.status_code)
    assert "nested too deeply" in answer.json()["detail"]


def test_a_json_body_over_the_upload_limit_is_refused_before_it_is_read(world, api, settings):
    from khien.core.models import Notification

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    Notification.objects.create(recipient=world.analyst, kind="test", title="x")
    body = b'{"all": true, "pad": "' + b"A" * 20_000 + b'"}'
    answer = api(world.analyst).post("/api/notifications/read/", data=body, content_type="application/json",
                                     HTTP_ACCEPT_LANGUAGE="vi")
    assert answer.status_code == 413 and answer.json()["code"] == "too_large"
    assert Notification.objects.filter(read_at__isnull=True).count() == 1  # nothing marked


@pytest.mark.parametrize("path,field", [("/api/incidents/", "tlp"), ("/api/registry/organizations/", "org_type")])
def test_a_lone_surrogate_quoted_in_an_error_is_written_not_a_500(world, api, path, field):
    from khien.incidents.models import Incident

    organizations = Organization.objects.count()
    body = ('{"%s": "\\ud800", "title": "x", "code": "X-1", "name_vi": "x"}' % field).encode()  # half a character
    answer = api(world.admin).post(path, data=body, content_type="application/json")
    assert answer.status_code == 400
    assert field in answer.json() and "\ufffd" in str(answer.json()[field])
    assert not Incident.objects.exists() and Organization.objects.count() == organizations


@pytest.mark.parametrize("path", ["/api/registry/sectors/a%00b/", "/api/intel/objects/?type=a%00b",
                                  "/api/telemetry/sources/a%00b/", "/taxii2/a%00b/", "/registry/organizations/?q=a%00b"])
def test_a_nul_character_in_the_address_is_a_400(world, api, path):
    answer = api(world.analyst).get(path)
    assert answer.status_code == 400, (path, answer.status_code)


def test_a_nul_character_in_a_code_looked_up_is_a_400_and_writes_nothing(world, api):
    from khien.incidents.models import Incident

    body = {"title": "x", "organization": "a\u0000b", "systems": ["a\u0000b"], "category": "malicious-code",
            "severity": "high", "tlp": "amber", "description": "x"}
    answer = api(world.analyst).post("/api/incidents/", data=body, format="json")
    assert answer.status_code == 400, answer.content
    assert not Incident.objects.exists()
