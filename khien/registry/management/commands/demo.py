import importlib
import importlib.util

from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings
from django.utils import timezone

from khien.core.models import Notification
from khien.registry import demo
from khien.registry.models import Organization


# Each app that has demo content exposes `build(seed) -> dict of counts`, run after the country
# exists and in this order (intelligence first: incidents and telemetry refer to its indicators).
LATER_DEMO_MODULES = ("khien.intel.demo", "khien.incidents.demo", "khien.telemetry.demo")


class Command(BaseCommand):
    help = (
        "Build the synthetic demo country (organizations, ISACs, ~2,000 information systems, one account per role) "
        "and print the demo accounts. Deterministic; all names, numbers and addresses are invented."
    )

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="do nothing if any organization exists")
        parser.add_argument("--accounts", action="store_true", help="only print the demo accounts table")
        parser.add_argument("--no-accounts", action="store_true", help="do not print the accounts table after building")
        parser.add_argument("--systems", type=int, default=2000, help="number of information systems (default 2000)")
        parser.add_argument("--seed", type=int, default=demo.SEED, help="random seed (default %(default)s)")

    def handle(self, *args, if_empty=False, accounts=False, no_accounts=False, systems=2000, seed=demo.SEED, **options):
        if accounts:
            self.stdout.write(demo.accounts_table())
            return
        if Organization.objects.exists():
            if if_empty:
                self.stdout.write("Organizations already exist: demo data not loaded (--if-empty).")
                return
            raise CommandError("The database already has organizations; the demo needs an empty registry "
                               "(use --if-empty to skip silently, or a fresh database).")
        if systems < 0:
            raise CommandError("--systems must be 0 or more")
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            self._build(systems, seed, no_accounts)

    def _build(self, systems, seed, no_accounts):
        result = demo.build(systems, seed=seed)
        counts = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo country built in {result.seconds:.1f} s — {counts}"))
        for module_name in LATER_DEMO_MODULES:
            if importlib.util.find_spec(module_name) is None:
                continue
            counts = importlib.import_module(module_name).build(seed=seed)
            summary = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items())
            self.stdout.write(self.style.SUCCESS(f"{module_name}: {summary}"))
        # Synthetic people get no e-mail: whatever the demo notified counts as sent, now and for the worker.
        Notification.objects.filter(emailed_at__isnull=True).update(emailed_at=timezone.now())
        if not no_accounts:
            self.stdout.write(demo.accounts_table())
