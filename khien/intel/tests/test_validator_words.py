"""stix2-validator's messages read in the user's language: a Vietnamese analyst whose file or TAXII submission is
refused reads why in Vietnamese, with the object's path and values as they were; English readers get the
validator's own words; a message whose wording is not known stays as the validator wrote it."""
import json

import pytest
from django.utils import translation

from khien.intel.models import StixObject
from khien.intel.validator_words import in_reader_language

from .conftest import envelope, indicator

pytestmark = pytest.mark.django_db

VI = {"HTTP_ACCEPT_LANGUAGE": "vi"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _refusals(api, user, collection, objects, language) -> list[str]:
    before = StixObject.objects.count()
    response = api(user).post(f"/api/intel/collections/{collection.pk}/objects/",
                              json.dumps({"bundle": envelope(objects)}), content_type="application/json", **language)
    assert response.status_code == 422, response.content
    assert StixObject.objects.count() == before  # nothing stored
    return [m for messages in response.json()["errors"].values() for m in messages]


def _bad_objects():
    missing = indicator("192.0.2.81")
    del missing["valid_from"]
    typed = {**indicator("192.0.2.82"), "confidence": 200, "revoked": "no"}
    backwards = {**indicator("192.0.2.83"), "created": "2026-02-01T00:00:00.000Z"}  # modified 2026-01-01
    badly_dated = {**indicator("192.0.2.84"), "valid_from": "06/12/2026"}
    return [missing, typed, backwards, badly_dated]


def test_a_vietnamese_analyst_reads_why_stix_objects_are_refused_in_vietnamese(api, sharing):
    messages = _refusals(api, sharing.world.analyst, sharing.collection, _bad_objects(), VI)
    text = "\n".join(messages)
    assert "thiếu thuộc tính bắt buộc 'valid_from'" in text
    assert "confidence: 200 lớn hơn giá trị tối đa 100" in text
    assert "revoked: 'no' không thuộc kiểu 'boolean'" in text
    assert "'modified' (2026-01-01T00:00:00.000Z) phải muộn hơn hoặc bằng 'created' (2026-02-01T00:00:00.000Z)" in text
    assert "valid_from: '06/12/2026' không phải một mốc thời gian" in text
    for english in ("is a required property", "is greater than the maximum", "is not of type", "must be later",
                    "does not match the timestamp format"):
        assert english not in text


def test_an_english_reader_gets_the_validators_own_words(api, sharing):
    text = "\n".join(_refusals(api, sharing.world.analyst, sharing.collection, _bad_objects(), EN))
    assert "'valid_from' is a required property" in text and "200 is greater than the maximum of 100" in text
    assert "must be later than or equal to 'created'" in text


@pytest.mark.parametrize("message", [
    # Wordings not in the table stay as written (a wrong translation would be worse than English).
    "ipv4-addr--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: 'Bad Prop' does not match any of the regexes: '^[a-z]$'",
    "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: {303} Both the name and description properties SHOULD be present.",
    "",
])
def test_unknown_wordings_are_left_as_the_validator_wrote_them(message):
    with translation.override("vi"):
        assert in_reader_language(message) == message


def test_the_object_id_and_property_path_are_kept_in_front():
    message = "report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: object_refs[0]: 'bad' does not match the id format " \
              "([object-type]--[UUID])"
    with translation.override("vi"):
        read = in_reader_language(message)
    assert read.startswith("report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: object_refs[0]: 'bad' ")
    assert "không phải id STIX" in read
