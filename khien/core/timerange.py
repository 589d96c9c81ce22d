"""The dates the platform stores and compares: a date outside these years cannot be moved to UTC and back, or
have an hour added or taken away (year 0 and year 10000 do not exist), and no record of the platform is that
old or that far ahead. Filters refuse such dates with a message; telemetry sends such records to the dead
letters."""
MIN_YEAR, MAX_YEAR = 1900, 9998


def storable(value) -> bool:
    return MIN_YEAR <= value.year <= MAX_YEAR
