"""Work the web process accepted and runs in one of its threads, run again by the worker if that process died.

Large TAXII submissions and registry imports answer at once and do the work in a thread of the web process.
Their row keeps what the work needs (the submitted objects, the uploaded file), a time that the running work
moves as it goes (its sign of life), and how many runs were started. Each run is all-or-nothing, so a run
that died stored nothing. When the sign of life is older than the caller's limit the process is taken to be
dead, and `claim_stale` hands the row to exactly one worker to run again (the worker's job decides, from the
number of runs, whether to run it again or give up).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from django.db import OperationalError
from django.db.models import F, Model, QuerySet
from django.utils import timezone

log = logging.getLogger(__name__)

MAX_RUNS = 3  # runs of one piece of work: the web process's, then at most two by the worker


def claim_stale(running: QuerySet, *, alive_field: str, stale_seconds: float, now: dt.datetime) -> Iterator[Model]:
    """Yield, one at a time, the rows of `running` (the work not finished) whose `alive_field` is older than
    `stale_seconds`, each claimed by this caller: its sign of life set to now and its `attempts` counted, by a
    conditional UPDATE on the sign of life read, so that two workers never claim the same row. The row yielded
    is read again after the claim (`attempts` includes this run)."""
    limit = now - dt.timedelta(seconds=stale_seconds)
    stale = running.filter(**{f"{alive_field}__lt": limit}).values_list("pk", alive_field)
    for pk, seen in list(stale):
        try:
            claimed = running.filter(pk=pk, **{alive_field: seen}).update(
                **{alive_field: timezone.now(), "attempts": F("attempts") + 1})
        except OperationalError:  # SQLite: its run is alive and writing (it holds the lock); not stale after all
            log.info("%s %s: busy, left to its run", running.model._meta.label, pk)
            continue
        if claimed:  # else another worker claimed it, or its run moved meanwhile
            yield running.model.objects.get(pk=pk)
