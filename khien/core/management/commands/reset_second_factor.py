from django.core.management.base import BaseCommand, CommandError

from khien.core import services
from khien.core.models import User


class Command(BaseCommand):
    help = ("Reset a person's two-step sign-in (a lost phone) from the server, when no administrator can do it on "
            "the organization's page (the person is the organization's only administrator, or the national "
            "coordinator). They set it up again at their next sign-in. Audited as done by the operator.")

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"no account with the address {email}")
        removed = services.do_reset_second_factor(user, acting_user=None)
        if not removed:
            raise CommandError(f"{user.email} has not set up two-step sign-in: nothing to reset")
        self.stdout.write(f"two-step sign-in of {user.email} reset ({removed} device(s) removed); "
                          "they set it up again at their next sign-in")
