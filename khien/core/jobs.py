"""Periodic jobs: deadline checks, digests, federation pulls, correlation, retention.

An app declares its jobs in `<app>/jobs.py`:

    @periodic("incidents.deadlines", every=timedelta(minutes=5))
    def check_deadlines(now) -> str | None: ...

`khien worker` runs every due job in a loop (`make run` starts one beside the web
server); `khien worker --once` runs each job once and exits (cron, tests). A job
gets the current time and returns a short summary for the log. Jobs must be
idempotent: running one twice, or in two workers at once, changes nothing more
than running it once (each job guards its own writes, e.g. with "sent once" marks).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import importlib.util
import logging
import time
from collections.abc import Callable

from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Job:
    name: str
    every: dt.timedelta
    func: Callable
    last_run: dt.datetime | None = None

    def due(self, now: dt.datetime) -> bool:
        return self.last_run is None or now - self.last_run >= self.every


REGISTRY: dict[str, Job] = {}

# Modules besides `<app>.jobs` that declare jobs (a module per concern keeps jobs.py short).
EXTRA_JOB_MODULES = ("khien.core.notifications", "khien.telemetry.jobs_retention")


def periodic(name: str, *, every: dt.timedelta):
    """Register `func(now)` to run every `every` in the worker."""
    def register(func):
        REGISTRY[name] = Job(name=name, every=every, func=func)
        return func
    return register


def discover() -> dict[str, Job]:
    autodiscover_modules("jobs")
    for module in EXTRA_JOB_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return REGISTRY


def run_job(job: Job, now: dt.datetime | None = None) -> str:
    now = now or timezone.now()
    started = time.monotonic()
    job.last_run = now
    try:
        summary = job.func(now) or ""
    except Exception:  # one failing job must not stop the others; it is retried at its next turn
        log.exception("job %s failed", job.name)
        return "failed"
    log.info("job %s: %s (%.2f s)", job.name, summary, time.monotonic() - started)
    return summary


def run_due(now: dt.datetime | None = None, only: str | None = None, force: bool = False) -> dict[str, str]:
    now = now or timezone.now()
    results = {}
    for job in list(discover().values()):
        if only and job.name != only:
            continue
        if force or job.due(now):
            results[job.name] = run_job(job, now)
    return results
