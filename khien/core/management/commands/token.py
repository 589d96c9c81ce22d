import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from khien.core import services
from khien.core.models import User


class Command(BaseCommand):
    help = "Print a new API token for the user with this e-mail (the key is shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default=None,
                            help="a name unique among the user's active tokens (default: “command line N”)")
        parser.add_argument("--days", type=int, default=None,
                            help="the token stops working after this many days (default: no end date)")

    def handle(self, *args, email, name, days, **options):
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user with e-mail {email}")
        expires_at = None if days is None else timezone.now() + dt.timedelta(days=days)
        if name is None:  # each run its own name: the token list and the audit log tell them apart
            taken = {n.lower() for n in services.usable_tokens(user).values_list("name", flat=True)}
            name = next(f"command line {n}" for n in range(1, len(taken) + 2) if f"command line {n}" not in taken)
        try:
            _token, key = services.do_create_api_token(user, acting_user=None, name=name, expires_at=expires_at)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(key)
