"""khien simulate: stream synthetic SOC alerts from the demo sources (for a living demo)."""
from django.core.management.base import BaseCommand, CommandError

from khien.telemetry import simulate


class Command(BaseCommand):
    help = ("Stream realistic synthetic Wazuh/Suricata/ECS/CEF alerts from the demo organizations' sources through "
            "the real ingestion path, including multi-organization campaigns that hit demo indicators.")

    def add_arguments(self, parser):
        parser.add_argument("--rate", type=float, default=20.0, help="records per second (default %(default)s)")
        parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: never)")
        parser.add_argument("--once", action="store_true", help="send one batch and stop")
        parser.add_argument("--seed", type=int, default=None, help="random seed (default: the clock)")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between batches (default %(default)s)")

    def handle(self, *args, rate, duration, once, seed, interval, **options):
        if rate <= 0 or rate > 100_000:
            raise CommandError("--rate must be between 0 and 100000 records per second.")
        if interval <= 0:
            raise CommandError("--interval must be positive.")
        if duration is not None and duration < 0:
            raise CommandError("--duration must be positive.")
        try:
            sent = simulate.run(rate=rate, duration=duration, once=once, seed=seed, batch_seconds=interval,
                                out=self.stdout.write)
        except KeyboardInterrupt:
            return
        if not sent and not simulate.demo_sources():
            raise CommandError("No demo source: run `khien demo` first.")
