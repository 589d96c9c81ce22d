"""`khien telemetry sources|add-source|rotate-key|reprocess|discard|publish|nats-config|prune|worker`: alert sources,
the dead letters and the JetStream ingestion worker."""
import datetime as dt
import logging
import os
import signal
import threading

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from khien.core.errors import Refused
from khien.core.notifications import platform_language
from khien.registry.models import Organization
from khien.telemetry import health, services
from khien.telemetry.models import DEFAULT_SOURCE_TIME_ZONE, AlertSource, SourceFormat


# The columns of `khien telemetry sources`, named on its first line (fixed words, as the status words).
SOURCE_COLUMNS = ("name", "format", "organization", "status", "last_event", "accepted", "rejected")
# The exit status of a command whose reader went away (`| head`): that of a Unix tool stopped by SIGPIPE.
CLOSED_PIPE_STATUS = 128 + signal.SIGPIPE


def closed_pipe(stdout) -> None:
    """Stop quietly when standard output's reader went away: no traceback, and nothing more written — what is
    still buffered goes nowhere (else the interpreter's own flush at exit fails again, and says so)."""
    stream = getattr(stdout, "_out", stdout)
    try:
        fileno = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's StringIO): nothing to silence
        fileno = None
    if fileno is not None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fileno)
        os.close(devnull)
    raise SystemExit(CLOSED_PIPE_STATUS)


def no_source_message(name: str) -> str:
    return _("No alert source named “%(name)s” (see `khien telemetry sources`).") % {"name": name}


class Command(BaseCommand):
    # --help is in English, as every command's; what the command says to people (its refusals, as the services'
    # own) is in the platform's language (LANGUAGE_CODE). What scripts read keeps one fixed form: the keys, the
    # tab-separated source lines and their status words (the API's), the "published N duplicates N" counts.
    help = ("Alert sources and the JetStream ingestion worker. Messages are in the platform's language "
            "(LANGUAGE_CODE).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("sources", help="list the sources: a header line, then one source a line, tab-separated: "
                                   "name, format, organization code, status (live, silent, rejecting: sends only "
                                   "refused records, never: never sent, disabled), last event (when it last sent a "
                                   "stored record, UTC, ISO 8601; - if never), accepted and rejected (records since "
                                   "it was registered)")
        add = sub.add_parser("add-source", help="register a source and print its key (shown once)")
        add.add_argument("name")
        add.add_argument("--format", required=True, choices=SourceFormat.values)
        add.add_argument("--organization", required=True, help="organization code")
        add.add_argument("--time-zone", default=DEFAULT_SOURCE_TIME_ZONE,
                         help="zone of the tool's clock, for record times written without one (an IANA name such "
                              f"as UTC; default {DEFAULT_SOURCE_TIME_ZONE})")
        rotate = sub.add_parser("rotate-key", help="give a source a new key and print it (shown once); the old key "
                                                   "is refused for records sent from now on")
        rotate.add_argument("name")
        publish = sub.add_parser("publish", help="publish a file of alerts to the JetStream stream (NDJSON, JSON array, CEF)")
        publish.add_argument("file")
        publish.add_argument("--source", required=True, help="name of the alert source")
        publish.add_argument("--key-file", default=None,
                             help="file holding the source's key (default: the KHIEN_SOURCE_KEY environment variable)")
        nats_config = sub.add_parser("nats-config", help="write the NATS server's users: one per enabled source "
                                                         "(publishes on its own subject only) and the workers' user")
        nats_config.add_argument("--worker-user", default="khien-worker", help="the workers' NATS user name")
        nats_config.add_argument("--worker-password-file", default=None,
                                 help="file holding the workers' password (default: KHIEN_NATS_WORKER_PASSWORD)")
        nats_config.add_argument("--output", default=None, help="file to write (default: standard output)")
        reprocess = sub.add_parser("reprocess", help="read a source's dead letters again with its current settings "
                                                     "(after correcting its format or time zone)")
        reprocess.add_argument("name")
        reprocess.add_argument("--quiet", action="store_true", help="no progress on stderr")
        discard = sub.add_parser("discard", help="delete all the dead letters of a source")
        discard.add_argument("name")
        prune = sub.add_parser("prune", help="delete events, alerts and dead letters older than a number of days "
                                             "(PostgreSQL: whole day partitions are dropped)")
        prune.add_argument("--days", type=int, default=None,
                           help="keep this many days (at least 1; default KHIEN_EVENT_RETENTION_DAYS)")
        prune.add_argument("--hourly", action="store_true", help="delete the hourly counts too (kept by default)")
        worker = sub.add_parser("worker", help="consume the JetStream stream of alerts into the database")
        worker.add_argument("--batch", type=int, default=None, help="messages per fetch (default KHIEN_INGEST_MAX_BATCH)")
        worker.add_argument("--durable", default=None, help="durable consumer name (default KHIEN_NATS_DURABLE)")
        worker.add_argument("--ack-wait", type=float, default=30.0, help="seconds before an unacknowledged batch is redelivered")
        worker.add_argument("--idle-exit", action="store_true", help="stop when the stream has nothing more")
        worker.add_argument("--quiet", action="store_true")

    def handle(self, *args, action, **options):
        try:
            with platform_language():
                getattr(self, "do_" + action.replace("-", "_"))(**options)
            self.stdout.flush()  # here, not at the interpreter's exit, where a closed pipe would print a traceback
        except BrokenPipeError:
            closed_pipe(self.stdout)

    def do_sources(self, **options):
        from django.utils import timezone

        now = timezone.now()
        sources = health.with_refusing(
            AlertSource.objects.select_related("organization").order_by("name")
            .only("name", "format", "enabled", "last_event_at", "accepted", "rejected", "organization__code"))
        self.stdout.write("\t".join(SOURCE_COLUMNS))
        for source in sources:
            # Name, format, organization first (scripts cut them), then what the sources page shows: the status by
            # its rule (`health.source_status`), the last event, the counters since the source was registered.
            last = (f"{source.last_event_at.astimezone(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
                    if source.last_event_at else "-")
            self.stdout.write(f"{source.name}\t{source.format}\t{source.organization.code}\t"
                              f"{health.source_status(source, now)}\t{last}\t{source.accepted}\t{source.rejected}")

    def do_add_source(self, name, format, organization, time_zone, **options):
        org = Organization.objects.filter(code=organization).first()
        if org is None:
            raise CommandError(_("No organization with code “%(code)s”.") % {"code": organization})
        try:
            # The operator at the console acts as the platform (acting_user=None), as `khien token` does.
            _source, key = services.do_create_source(org, name, format, time_zone=time_zone, acting_user=None)
        except (Refused, ValidationError) as exc:
            raise CommandError(getattr(exc, "message", None) or "; ".join(exc.messages)) from None
        self.stdout.write(key)

    def do_rotate_key(self, name, **options):
        self.stdout.write(services.do_rotate_source_key(self._source(name), acting_user=None))

    def _source(self, name) -> AlertSource:
        source = AlertSource.objects.filter(name=name).first()
        if source is None:
            raise CommandError(no_source_message(name))
        return source

    def do_reprocess(self, name, quiet, **options):
        progress = Progress(self.stderr)

        def show(done, total):
            progress.show(f"{done:,} / {total:,} dead letters read again")

        try:
            with progress:
                result = services.do_reprocess_dead_letters(self._source(name), acting_user=None,
                                                            progress=None if quiet else show)
        except Refused as exc:
            raise CommandError(str(exc.message)) from None
        self.stdout.write(f"stored {result.stored} duplicates {result.duplicates} still failing {result.failing} "
                          f"cut {result.cut}")

    def do_discard(self, name, **options):
        deleted = services.do_discard_dead_letters(self._source(name), acting_user=None)
        self.stdout.write(f"deleted {deleted} dead letters")

    def do_prune(self, days, hourly, **options):
        import datetime as dt

        from django.utils import timezone

        from khien.telemetry import conf

        if days is None:
            days = int(conf.get("KHIEN_EVENT_RETENTION_DAYS"))
        if days < 1:
            raise CommandError(_("--days must be at least 1."))
        result = services.do_prune(timezone.now() - dt.timedelta(days=days), acting_user=None, keep_hourly=not hourly)
        self.stdout.write(f"deleted events {result.events} alerts {result.alerts} hits {result.hits} "
                          f"dead letters {result.dead_letters} "
                          f"hourly {result.hourly}" + (f" partitions {len(result.partitions)}" if result.partitions else ""))

    def do_nats_config(self, worker_user, worker_password_file, output, **options):
        from khien.telemetry.nats_auth import authorization

        password = _secret(worker_password_file, "KHIEN_NATS_WORKER_PASSWORD")
        if len(password) < 16:
            raise CommandError(_("Give the workers' NATS password, at least 16 characters (--worker-password-file, "
                                 "or KHIEN_NATS_WORKER_PASSWORD); the workers connect with it in KHIEN_NATS_URL."))
        result = authorization(worker_user, password)
        if output:
            try:
                with open(output, "w", encoding="utf-8") as fh:
                    fh.write(result.text)
            except OSError as exc:
                raise CommandError(_("Cannot write %(file)s: %(reason)s.") % {"file": output,
                                                                               "reason": exc.strerror}) from None
        else:
            self.stdout.write(result.text, ending="")
        # A report for the operator's log, in one fixed form (as the counts lines).
        self.stderr.write(f"NATS users: {worker_user} (workers) and {len(result.sources)} sources")
        if result.skipped:
            self.stderr.write("skipped (key made before per-source NATS users; rotate it to give them one): "
                              + ", ".join(result.skipped))

    def do_publish(self, file, source, key_file, **options):
        from khien.telemetry.batches import file_batches
        from khien.telemetry.nats import JetStreamLink, ensure_stream, publish

        src = self._source(source)
        key = _secret(key_file, "KHIEN_SOURCE_KEY")
        if not key:
            raise CommandError(_("Give the key of source “%(name)s” (--key-file, or KHIEN_SOURCE_KEY): the worker "
                                 "stores only records that carry it.") % {"name": source})
        if not services.is_source_key(src, key):
            raise CommandError(_("This is not the key of source “%(name)s”.") % {"name": source})
        try:
            stream = open(file, "rb")
        except OSError as exc:
            raise CommandError(_("Cannot read %(file)s: %(reason)s.") % {"file": file, "reason": exc.strerror}) from None
        try:
            # As the source itself: where the NATS server has per-source users, it may publish on its subject only.
            link = JetStreamLink(user=src.name, password=key)
        except Exception as exc:
            stream.close()
            raise CommandError(_("NATS does not answer: %(error)s") % {"error": repr(exc)}) from None
        stored = duplicates = 0
        try:
            with link, stream:
                ensure_stream(link)
                for records in file_batches(stream, 5000):
                    result = publish(src, records, key=key, link=link)
                    stored, duplicates = stored + result.stored, duplicates + result.duplicates
        except Refused as exc:
            raise CommandError(str(exc.message)) from None
        self.stdout.write(f"published {stored} duplicates {duplicates}")

    def do_worker(self, batch, durable, ack_wait, idle_exit, quiet, **options):
        from khien.telemetry.nats import JetStreamLink, Worker

        stop = threading.Event()
        try:
            link = JetStreamLink()
        except Exception as exc:
            raise CommandError(_("NATS does not answer: %(error)s") % {"error": repr(exc)}) from None
        previous = {sig: signal.signal(sig, lambda *_a: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        shown = Progress(self.stderr)

        def progress(stats, total):
            if not quiet:
                shown.show(f"{total.messages:,} messages  accepted {total.accepted:,}  duplicates "
                           f"{total.duplicates:,}  rejected {total.rejected:,}  unknown source {total.unknown_source:,}  "
                           f"unauthorized {total.unauthorized:,}")

        try:
            with link, shown:
                worker = Worker(link, batch=batch, durable=durable, ack_wait=ack_wait)
                total = worker.run(stop=stop, idle_exit=idle_exit, on_batch=progress)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write(f"messages {total.messages} accepted {total.accepted} duplicates {total.duplicates} "
                          f"rejected {total.rejected} unauthorized {total.unauthorized}")


class Progress:
    """Progress on stderr. On a terminal, one line rewritten in place ("\\r"); anywhere else (a log file, a
    journal) one line per report, so that the log reads line by line. Used as a context: meanwhile a message
    logged (the worker's warnings) starts on a line of its own, and the progress line is ended at the exit."""

    def __init__(self, stream):
        self.stream = stream
        self.in_place = bool(getattr(stream, "isatty", lambda: False)())
        self.pending = False  # a progress line written in place, not ended yet

    def show(self, text: str) -> None:
        if self.in_place:
            self.stream.write(f"\r{text}", ending="")
            self.pending = True
        else:
            self.stream.write(text)
        self.stream.flush()

    def end_line(self) -> None:
        if self.pending:
            self.stream.write("")
            self.stream.flush()
            self.pending = False

    def filter(self, record) -> bool:  # a logging filter of the root's handlers: the message on a line of its own
        self.end_line()
        return True

    def __enter__(self):
        self.handlers = list(logging.getLogger().handlers)
        for handler in self.handlers:
            handler.addFilter(self)
        return self

    def __exit__(self, *exc):
        for handler in self.handlers:
            handler.removeFilter(self)
        self.end_line()
        return False


def _secret(path: str | None, variable: str) -> str:
    """A secret from a file or the environment, never from the command line (shell history, process list)."""
    import os

    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise CommandError(_("Cannot read %(file)s: %(reason)s.") % {"file": path, "reason": exc.strerror}) from None
    return os.environ.get(variable, "").strip()
