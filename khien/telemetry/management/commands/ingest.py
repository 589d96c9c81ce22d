"""`khien ingest FILE --source NAME`: replay a file of alerts (NDJSON, a JSON array, or CEF lines)."""
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from khien.core.errors import Refused
from khien.telemetry import conf, services
from khien.telemetry.batches import file_batches
from khien.telemetry.management.commands.telemetry import Progress
from khien.telemetry.models import AlertSource


class Command(BaseCommand):
    help = "Ingest a file of alerts as one source (NDJSON, a JSON array, or CEF lines; '-' reads stdin)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--source", required=True, help="name of the alert source")
        parser.add_argument("--batch", type=int, default=20000,
                            help="records per batch, one transaction each (at most KHIEN_INGEST_FILE_MAX_BATCH)")
        parser.add_argument("--quiet", action="store_true", help="no progress on stderr")

    def handle(self, *args, file, source, batch, quiet, **options):
        src = AlertSource.objects.select_related("organization").filter(name=source).first()
        if src is None:
            raise CommandError(f"no alert source named {source!r} (see `khien telemetry sources`)")
        if not src.enabled:
            raise CommandError(f"source {source!r} is disabled")
        limit = conf.get("KHIEN_INGEST_FILE_MAX_BATCH")
        size = max(1, min(batch, limit))
        try:
            stream = sys.stdin.buffer if file == "-" else open(file, "rb")
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        started = time.monotonic()
        # Rewritten in place on a terminal, one line per batch in a log file (`Progress`).
        progress = Progress(self.stderr)

        def show(totals):
            done = totals.accepted + totals.duplicates + totals.rejected
            rate = done / max(time.monotonic() - started, 1e-6)
            progress.show(f"{done:,} records  accepted {totals.accepted:,}  duplicates "
                          f"{totals.duplicates:,}  rejected {totals.rejected:,}  ({rate:,.0f}/s)")

        try:
            with stream, progress:
                # Parsing of the next batch overlaps the writing of the previous one (services.ingest_stream).
                totals = services.ingest_stream(((src, records) for records in file_batches(stream, size)),
                                                max_batch=limit, progress=None if quiet else show)
        except Refused as exc:
            raise CommandError(str(exc.message)) from None
        self.stdout.write(f"accepted {totals.accepted} duplicates {totals.duplicates} rejected {totals.rejected}")
