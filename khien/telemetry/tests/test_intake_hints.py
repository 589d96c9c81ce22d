"""The first test a SOC operator makes usually sends Wazuh's alerts.json (one record a line) as application/json,
or joins its lines with `curl -d`: the answer says what to change, in the operator's language, and stores nothing
it cannot read."""
import pytest

from khien.telemetry.models import DeadLetter, Event

from .conftest import sample_lines
from .test_walk_soc_intake import INTAKE, client_of

pytestmark = pytest.mark.django_db


def test_ndjson_sent_as_a_json_array_is_refused_with_the_content_type_to_use(make_source):
    _source, key = make_source(format="wazuh")
    body = b"\n".join(sample_lines("wazuh_alerts.ndjson")[:3])
    response = client_of(key, HTTP_ACCEPT_LANGUAGE="vi").generic("POST", INTAKE, body, content_type="application/json")
    assert response.status_code == 400
    assert "application/x-ndjson" in response.json()["detail"] and "mỗi dòng" in response.json()["detail"]
    assert not Event.objects.exists() and not DeadLetter.objects.exists()
    # The same lines with the right type are accepted.
    response = client_of(key).generic("POST", INTAKE, body, content_type="application/x-ndjson")
    assert response.status_code == 202 and response.json()["accepted"] == 3


def test_a_body_that_is_simply_broken_json_keeps_the_plain_message(make_source):
    _source, key = make_source(format="wazuh")
    response = client_of(key, HTTP_ACCEPT_LANGUAGE="en").generic("POST", INTAKE, b'[{"rule": ',
                                                                 content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"] == "The body is not valid JSON."


def test_records_joined_on_one_line_are_rejected_with_a_hint_to_keep_the_line_breaks(make_source, client):
    _source, key = make_source(format="wazuh")
    first, second = sample_lines("wazuh_alerts.ndjson")[:2]
    response = client_of(key).generic("POST", INTAKE, first + second, content_type="application/x-ndjson")
    assert response.status_code == 202 and response.json()["accepted"] == 0 and response.json()["rejected"] == 1
    letter = DeadLetter.objects.get()
    assert letter.reason == f"several records on one line (char {len(first)})"
    from django.utils import translation

    from khien.telemetry.parsers import reason_text
    with translation.override("vi"):
        said = str(reason_text(letter.reason))
    assert f"ký tự thứ {len(first) + 1}" in said and "--data-binary" in said


def test_a_personal_token_sent_to_the_intake_is_named_as_such(make_source):
    from rest_framework.test import APIClient

    make_source(format="wazuh")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token khn_" + "x" * 43, HTTP_ACCEPT_LANGUAGE="vi")
    response = client.post(INTAKE, [{"rule": {"id": "1"}}], format="json")
    assert response.status_code == 401
    assert "khs_" in response.json()["detail"] and "cá nhân" in response.json()["detail"]
    # Any other wrong key keeps the answer that tells nothing.
    client.credentials(HTTP_AUTHORIZATION="Token khs_" + "x" * 43, HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(INTAKE, [{"rule": {"id": "1"}}], format="json")
    assert response.status_code == 401 and response.json()["detail"] == "Invalid source key."
    assert not Event.objects.exists()


@pytest.mark.parametrize("header", ["Token", "Token two words"])
def test_a_malformed_authorization_header_says_the_form_expected(make_source, header):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header, HTTP_ACCEPT_LANGUAGE="vi")
    response = client.post(INTAKE, [{"rule": {"id": "1"}}], format="json")
    assert response.status_code == 401
    assert "Token <" in response.json()["detail"] and "Authorization" in response.json()["detail"]
