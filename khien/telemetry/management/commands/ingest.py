"""`khien ingest FILE --source NAME`: replay a file of alerts (NDJSON, a JSON array, or CEF lines)."""
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from khien.core.errors import Refused
from khien.core.notifications import platform_language
from khien.telemetry import conf, services
from khien.telemetry.batches import file_batches
from khien.telemetry.management.commands.telemetry import Progress, no_source_message
from khien.telemetry.models import AlertSource

# Exit codes (documented in --help and in the telemetry guide, "Replaying a file"). 1 is Django's for any
# CommandError; 2 is argparse's for a wrong command line.
EXIT_ALL_REJECTED = 3


class Command(BaseCommand):
    # --help is in English, as every command's; what the command says to people is in the platform's language
    # (LANGUAGE_CODE), as the pages and the services' refusals are. The counts lines keep one fixed form for scripts.
    help = ("Ingest a file of alerts as one source (NDJSON, a JSON array, or CEF lines; '-' reads stdin). "
            "Prints 'accepted N duplicates N rejected N'; records that cannot be read are kept as the source's "
            "dead letters. Exit status: 0 when every record was stored or was already stored, and also when some "
            "were rejected (said on stderr); 1 when nothing was read: no such source, source disabled, file "
            "unreadable or not valid JSON, or a file with no record at all; 2 for a wrong command line; 3 when "
            "every record was rejected (the source's format is probably wrong). Messages are in the platform's "
            "language (LANGUAGE_CODE).")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--source", required=True, help="name of the alert source")
        parser.add_argument("--batch", type=int, default=20000,
                            help="records per batch, one transaction each (at most KHIEN_INGEST_FILE_MAX_BATCH)")
        parser.add_argument("--quiet", action="store_true", help="no progress on stderr")

    def handle(self, *args, **options):
        with platform_language():
            self._ingest(**options)

    def _ingest(self, *, file, source, batch, quiet, **options):
        src = AlertSource.objects.select_related("organization").filter(name=source).first()
        if src is None:
            raise CommandError(no_source_message(source))
        if not src.enabled:
            raise CommandError(_("Source “%(name)s” is disabled: its records are refused. Enable it again on its "
                                 "page (Settings, “Enabled”) to replay this file.") % {"name": source})
        limit = conf.get("KHIEN_INGEST_FILE_MAX_BATCH")
        size = max(1, min(batch, limit))
        try:
            stream = sys.stdin.buffer if file == "-" else open(file, "rb")
        except OSError as exc:
            raise CommandError(_("Cannot read %(file)s: %(reason)s.") % {"file": file, "reason": exc.strerror}) from None
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
        read = totals.accepted + totals.duplicates + totals.rejected
        if not read:
            # As the HTTP intake answers an empty body (400): a file holding nothing is a mistake, not "0 accepted".
            raise CommandError(_("%(file)s holds no record (empty, blank lines only, or an empty JSON array): "
                                 "nothing was stored.") % {"file": "stdin" if file == "-" else file})
        self.stdout.write(f"accepted {totals.accepted} duplicates {totals.duplicates} rejected {totals.rejected}")
        if not totals.rejected:
            return
        if totals.rejected == read:
            raise CommandError(ngettext(
                "The only record could not be read: nothing was stored. It is kept as a dead letter of source "
                "“%(name)s” with the reason (its page, “Latest dead letters”): check the source's format "
                "(%(format)s).",
                "None of the %(n)s records could be read: nothing was stored. They are kept as dead letters of "
                "source “%(name)s” with the reason (its page, “Latest dead letters”): check the source's format "
                "(%(format)s).", read) % {"n": read, "name": src.name, "format": src.get_format_display()},
                returncode=EXIT_ALL_REJECTED)
        self.stderr.write(ngettext(
            "%(rejected)s of %(n)s records could not be read: kept as a dead letter of source “%(name)s” with the "
            "reason (its page, “Latest dead letters”).",
            "%(rejected)s of %(n)s records could not be read: kept as dead letters of source “%(name)s” with the "
            "reason (its page, “Latest dead letters”).", totals.rejected)
            % {"rejected": totals.rejected, "n": read, "name": src.name})
