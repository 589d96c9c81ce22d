"""A device whose clock was never set counts from 0: a CEF `rt=0` (or `rt=1000`) is epoch time, refused by the
time window with the reason that says so ("time before 2000-01-01"), as the monitoring guide says — not an
unreadable `invalid rt: 0` that hides the cause."""
import datetime as dt

import pytest

from khien.telemetry import parsers, services

pytestmark = pytest.mark.django_db

UTC = dt.timezone.utc
HEAD = "CEF:0|Fortinet|FortiGate|7.2|0419016384|IPS: Log4j RCE attempt|5|src=10.0.0.5 "


@pytest.mark.parametrize("field, value, expected", [
    ("rt", "0", dt.datetime(1970, 1, 1, tzinfo=UTC)),
    ("rt", "1000", dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)),  # CEF's rt is in milliseconds
    ("end", "86400000", dt.datetime(1970, 1, 2, tzinfo=UTC)),
])
def test_a_small_epoch_value_is_read_as_epoch(field, value, expected):
    assert parsers.parse_cef(HEAD + f"{field}={value}")["time"] == expected


def test_it_is_refused_as_a_clock_never_set(world, make_source):
    source, _key = make_source(world.ministry, "cef")
    batch = services.prepare_batch(source, [HEAD + "rt=0", HEAD + "rt=1000",
                                            HEAD + "rt=1795315928010"])  # the last one is a good record
    reasons = sorted(letter.reason for letter in batch.dead.values())
    assert reasons == ["time before 2000-01-01: 1970-01-01T00:00:00+00:00",
                       "time before 2000-01-01: 1970-01-01T00:00:01+00:00"]
    assert len(batch.events) == 1


@pytest.mark.parametrize("value, reason", [
    ("yesterday", "invalid rt: yesterday"),
    ("12x", "invalid rt: 12x"),
    ("123456789012345678", "invalid rt: 123456789012345678"),  # too many digits for any epoch time
])
def test_other_values_are_still_invalid(value, reason):
    with pytest.raises(parsers.ParseError) as info:
        parsers.parse_cef(HEAD + f"rt={value}")
    assert info.value.reason == reason
