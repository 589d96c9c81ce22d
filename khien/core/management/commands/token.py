from django.core.management.base import BaseCommand, CommandError

from khien.core import services
from khien.core.models import User


class Command(BaseCommand):
    help = "Print a new API token for the user with this e-mail (the key is shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="command line")

    def handle(self, *args, email, name, **options):
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user with e-mail {email}")
        _token, key = services.do_create_api_token(user, acting_user=None, name=name)
        self.stdout.write(key)
