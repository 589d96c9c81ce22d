import orjson
from django.core.management.base import BaseCommand, CommandError

from khien.core.errors import Refused
from khien.core.models import User
from khien.registry.models import Organization

from ... import services
from ...models import Collection


class Command(BaseCommand):
    help = ("Add the objects of a STIX 2.1 bundle file to a collection, as the given user "
            "(same validation, rights and audit as TAXII: every object valid, or nothing stored).")

    def add_arguments(self, parser):
        parser.add_argument("file", help="STIX 2.1 bundle (JSON)")
        parser.add_argument("--collection", required=True, help="collection alias or id")
        parser.add_argument("--user", required=True, help="e-mail of the submitting user")
        parser.add_argument("--recipient", action="append", default=[],
                            help="organization code named as recipient of the TLP:RED objects (repeatable)")

    def handle(self, *args, file, collection, user, recipient, **options):
        acting = User.objects.filter(email__iexact=user, is_active=True).first()
        if acting is None:
            raise CommandError(f"no active user with e-mail {user}")
        target = Collection.objects.filter(alias=collection).first()
        if target is None:
            try:
                target = Collection.objects.filter(pk=collection).first()
            except Exception:
                target = None
        if target is None:
            raise CommandError(f"no collection {collection}")
        recipients = list(Organization.objects.filter(code__in=recipient))
        missing = set(recipient) - {o.code for o in recipients}
        if missing:
            raise CommandError(f"unknown organization codes: {', '.join(sorted(missing))}")
        try:
            with open(file, "rb") as fh:
                payload = orjson.loads(fh.read())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}")
        try:
            result = services.do_add_objects(target, payload, acting_user=acting, recipients=recipients)
        except services.InvalidStix as exc:
            for key, messages in exc.errors.items():
                for message in messages:
                    self.stderr.write(f"{key}: {message}")
            raise CommandError(str(exc.message))
        except Refused as exc:
            raise CommandError(str(exc.message))
        self.stdout.write(orjson.dumps({
            "total": result.total, "created": result.created, "existing": result.existing,
            "added_to_collection": result.added_to_collection}).decode())
