from django.core.management.base import BaseCommand

from khien.core.sealed import do_reseal_all


class Command(BaseCommand):
    help = ("Seal every stored secret (partner passwords and tokens) again under the current SECRET_KEY: after a "
            "key rotation, with the old key still in KHIEN_SECRET_KEY_FALLBACKS.")

    def handle(self, *args, **options):
        unreadable = 0
        for column, counts in do_reseal_all().items():
            self.stdout.write(f"{column}\tsealed {counts['sealed']}\tunreadable {counts['unreadable']}")
            unreadable += counts["unreadable"]
        if unreadable:
            self.stderr.write(f"{unreadable} value(s) open with no configured key: their owners must enter them "
                              "again (or put the old key back in KHIEN_SECRET_KEY_FALLBACKS and run this again).")
