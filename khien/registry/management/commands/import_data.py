"""`khien import_data organizations|systems FILE --as EMAIL`: import a CSV/XLSX file, all rows or none."""
from django.core.management.base import BaseCommand, CommandError

from khien.core.errors import Refused
from khien.core.models import User
from khien.registry import imports
from khien.registry.models import ImportKind, ImportStatus


class Command(BaseCommand):
    help = "Import organizations or information systems from a CSV or XLSX file, as a given user (all rows or none)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=ImportKind.values)
        parser.add_argument("file")
        parser.add_argument("--as", dest="email", required=True, help="e-mail of the user the import acts as")

    def handle(self, *args, kind, file, email, **options):
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user with e-mail {email}")

        def progress(done, total):
            percent = int(100 * done / total) if total else 100
            self.stderr.write(f"\r{done}/{total} rows ({percent}%)", ending="")
            self.stderr.flush()

        try:
            job = imports.import_file(kind, file, acting_user=user, progress=progress)
        except FileNotFoundError:
            raise CommandError(f"no such file: {file}")
        except OSError as exc:  # a directory, a file we may not read
            raise CommandError(f"cannot read {exc.filename or file}: {exc.strerror or exc}")
        except Refused as exc:
            raise CommandError(str(exc.message))
        self.stderr.write("")
        if job.status == ImportStatus.DONE:
            self.stdout.write(f"done: {job.created_count} created, {job.updated_count} updated, "
                              f"{job.unchanged_count} unchanged")
            return
        for error in job.errors:
            field = f" [{error['field']}]" if error["field"] else ""
            self.stderr.write(f"row {error['row']}{field}: {error['message']}")
        raise CommandError(f"{job.get_status_display()} ({len(job.errors)} errors)")
