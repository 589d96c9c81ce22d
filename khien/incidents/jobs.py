"""Periodic jobs of the incidents app (run by `khien worker`, see khien/core/jobs.py)."""
import datetime as dt

from khien.core.jobs import periodic

from . import notices


@periodic("incidents.deadlines", every=dt.timedelta(minutes=5))
def check_deadlines(now) -> str:
    """Deadlines due soon or missed: notify once, escalate missed ones to the national coordinator."""
    counts = notices.check_deadlines(now)
    return ", ".join(f"{key} {value}" for key, value in counts.items())
