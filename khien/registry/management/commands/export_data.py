"""`khien export_data organizations|systems --as EMAIL --format csv|xlsx -o FILE`: what that user may see."""
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from khien.core.errors import Refused
from khien.core.models import User
from khien.registry import imports
from khien.registry.models import ImportKind, InformationSystem, Organization


class Command(BaseCommand):
    help = "Export the organizations or information systems a user may see, as CSV or XLSX (re-importable)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=ImportKind.values)
        parser.add_argument("--as", dest="email", required=True, help="e-mail of the user whose view is exported")
        parser.add_argument("--format", dest="fmt", choices=["csv", "xlsx"], default="csv")
        parser.add_argument("-o", "--output", required=True, help="file to write, or - for standard output")

    def handle(self, *args, kind, email, fmt, output, **options):
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user with e-mail {email}")
        model = Organization if kind == ImportKind.ORGANIZATIONS else InformationSystem
        try:
            content, _type, _name = imports.export_file(kind, model.objects.visible_to(user), fmt)
        except Refused as exc:
            raise CommandError(str(exc.message))
        if output == "-":
            sys.stdout.buffer.write(content)
            return
        try:
            Path(output).write_bytes(content)
        except OSError as exc:  # a directory, a missing folder, a file we may not write
            raise CommandError(f"cannot write {exc.filename or output}: {exc.strerror or exc}")
        self.stderr.write(f"wrote {output} ({len(content)} bytes)")
