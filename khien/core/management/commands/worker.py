"""`khien worker`: run the periodic jobs (deadlines, digests, federation, correlation, retention)."""
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from khien.core import jobs


class Command(BaseCommand):
    help = "Run the platform's periodic jobs in a loop (or once with --once)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every job once, print what each did, and exit")
        parser.add_argument("--only", metavar="NAME", help="run only this job (see --list)")
        parser.add_argument("--list", action="store_true", help="list the jobs and their intervals")
        parser.add_argument("--tick", type=float, default=5.0, help="seconds between checks for due jobs (default 5)")

    def handle(self, *args, once=False, only=None, list=False, tick=5.0, **options):
        registry = jobs.discover()
        if only and only not in registry:
            raise CommandError(f"unknown job {only!r}; known: {', '.join(sorted(registry))}")
        if list:
            for job in sorted(registry.values(), key=lambda j: j.name):
                self.stdout.write(f"{job.name}\tevery {int(job.every.total_seconds())} s")
            return
        if once:
            for name, summary in jobs.run_due(only=only, force=True).items():
                self.stdout.write(f"{name}: {summary}")
            return
        self.stdout.write(f"Khiên worker: {len(registry)} jobs; Ctrl+C to stop.")
        try:
            while True:
                jobs.run_due(only=only)
                close_old_connections()  # a long-lived process: drop connections the database closed
                time.sleep(tick)
        except KeyboardInterrupt:
            pass
