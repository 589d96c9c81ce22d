import os
import sys

import orjson
from django.core.management.base import BaseCommand, CommandError

from khien.core.errors import Refused
from khien.core.models import User

from ...exchange import run
from ...exchange.common import ImportRejected
from ...models import Collection


def find_collection(ref):
    found = Collection.objects.filter(alias=ref).first()
    if found is None:
        try:
            found = Collection.objects.filter(pk=ref).first()
        except Exception:
            found = None
    if found is None:
        raise CommandError(f"no collection {ref}")
    return found


class Command(BaseCommand):
    help = ("Import a STIX 2.1 bundle, a MISP event JSON or a CSV of indicators into a collection, as the given "
            "user (same rights, validation and audit as the pages and the API: all or nothing).")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--format", required=True, choices=["stix", "misp", "csv"])
        parser.add_argument("--collection", required=True, help="collection alias or id")
        parser.add_argument("--user", required=True, help="e-mail of the importing user")

    def handle(self, *args, file, format, collection, user, **options):
        acting = User.objects.filter(email__iexact=user, is_active=True).first()
        if acting is None:
            raise CommandError(f"no active user with e-mail {user}")
        target = find_collection(collection)
        try:
            size = os.path.getsize(file)
            self.stderr.write(f"importing {file} ({size} bytes, {format}) into {target.alias} …")
            with open(file, "rb") as fh:
                report = run.import_file(format, target, fh, acting_user=acting, file_name=os.path.basename(file))
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}")
        except ImportRejected as exc:
            for r in exc.report.rejected:
                where = r["ref"] + (f" [{r['column']}]" if r["column"] else "")
                self.stderr.write(f"{where}: {r['message']}")
            raise CommandError(str(exc.message))
        except Refused as exc:
            raise CommandError(str(exc.message))
        self.stdout.write(orjson.dumps(report.as_dict()).decode())
        sys.stderr.flush()
