from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ... import federation
from ...models_federation import FeedSubscription


class Command(BaseCommand):
    help = ("Federation subscriptions to remote TAXII 2.1 collections: `list` them, or `pull` one (by name) "
            "or all enabled ones (--all) now, whatever their interval. Secrets are never printed.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="list the subscriptions with their last run")
        pull = sub.add_parser("pull", help="pull subscriptions now")
        pull.add_argument("name", nargs="?", help="subscription name")
        pull.add_argument("--all", action="store_true", help="every enabled subscription")

    def handle(self, *args, action, **options):
        if action == "list":
            for s in FeedSubscription.objects.select_related("collection").order_by("name"):
                last = timezone.localtime(s.last_run_at).strftime("%Y-%m-%d %H:%M") if s.last_run_at else "-"
                self.stdout.write(
                    f"{s.name}\t{'enabled' if s.enabled else 'disabled'}\t{s.collection.alias}\t"
                    f"{s.api_root_url}collections/{s.remote_collection_id}/\tevery {s.interval_minutes} min\t"
                    f"last {last}: {s.last_status} ({s.last_count})\t{s.last_error}")
            return
        if options["all"] == bool(options["name"]):
            raise CommandError("give a subscription name or --all")
        if options["all"]:
            subs = list(FeedSubscription.objects.filter(enabled=True).order_by("name"))
        else:
            subs = list(FeedSubscription.objects.filter(name=options["name"]))
            if not subs:
                raise CommandError(f"no subscription named {options['name']}")
        failed = 0
        for s in subs:
            self.stdout.write(f"pulling {s.name} …")
            # Pulled now whatever its interval (do_pull does not look at it).
            s = federation.do_pull(s)
            failed += s.last_status != "ok"
            line = f"{s.name}: {s.last_status} ({s.last_count} objects)"
            self.stdout.write(line + (f" — {s.last_error}" if s.last_error else ""))
        if failed:
            raise CommandError(f"{failed} of {len(subs)} pulls failed")
