import sys

from django.core.management.base import BaseCommand, CommandError

from khien.core.errors import Refused
from khien.core.models import User

from ...exchange import run, stix_export


class Command(BaseCommand):
    help = ("Export what the given user may see (TLP) as a STIX 2.1 bundle, one MISP event or CSV of "
            "indicators, to a file or standard output. Audited like every export.")

    def add_arguments(self, parser):
        parser.add_argument("--format", default="stix", choices=["stix", "misp", "csv"])
        parser.add_argument("--user", required=True, help="e-mail of the user the export is for")
        parser.add_argument("--collection", default="", help="collection alias or id (default: all visible)")
        parser.add_argument("--type", default="", help="STIX types, comma-separated")
        parser.add_argument("--tlp", default="", help="TLP levels, comma-separated")
        parser.add_argument("--added-since", default="", help="date or ISO 8601 date and time")
        parser.add_argument("--id", action="append", default=[], help="STIX id (repeatable)")
        parser.add_argument("--all-versions", action="store_true")
        parser.add_argument("--include-inactive", action="store_true",
                            help="also revoked, expired and not yet valid objects (default: active ones only, as the "
                                 "export page and API)")
        parser.add_argument("--output", "-o", default="-", help="file (default: standard output)")

    def handle(self, *args, **o):
        acting = User.objects.filter(email__iexact=o["user"], is_active=True).first()
        if acting is None:
            raise CommandError(f"no active user with e-mail {o['user']}")
        try:
            sel = stix_export.parse_selection(acting, collection=o["collection"] or None, types=o["type"],
                                              tlp_levels=o["tlp"], added_since=o["added_since"], ids=o["id"],
                                              all_versions=o["all_versions"],
                                              active_only=not o["include_inactive"])
            _content_type, _name, body = run.export(o["format"], acting, sel)
            out = sys.stdout.buffer if o["output"] == "-" else open(o["output"], "wb")
            written = 0
            try:
                for chunk in body:
                    out.write(chunk)
                    written += len(chunk)
            finally:
                if out is not sys.stdout.buffer:
                    out.close()
                else:
                    out.flush()
        except Refused as exc:
            raise CommandError(str(exc.message))
        except OSError as exc:
            raise CommandError(f"cannot write {o['output']}: {exc}")
        self.stderr.write(f"exported {written} bytes ({o['format']})")
