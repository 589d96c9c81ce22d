"""`makemessages` that also extracts the forms' lazy strings, written with the alias `_l` (`gettext_lazy as _l`)."""
from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = makemessages.Command.xgettext_options + ["--keyword=_l"]
