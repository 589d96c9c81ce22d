from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from khien.core.notifications import platform_language
from khien.incidents import services
from khien.incidents.models import Evidence, Incident


class Command(BaseCommand):
    # --help is in English, as every command's; what it reports is in the platform's language (LANGUAGE_CODE), as
    # the problems it names are written by the same rule as the pages' (`evidence.integrity`).
    help = ("Evidence tools. `khien evidence verify [--incident REF]` recomputes the SHA-256 of every evidence "
            "file and note (not of items kept elsewhere: the platform holds no copy) and exits 1 if any is changed or "
            "missing. It only reads: the per-item \"Verify integrity\" action of the incident page records a check "
            "in the chain of custody. Its report is in the platform's language (LANGUAGE_CODE).")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify"])
        parser.add_argument("--incident", metavar="REF", help="only the evidence of this incident (its reference number)")

    def handle(self, *args, **options):
        with platform_language():
            self._verify(options.get("incident"))

    def _verify(self, reference):
        queryset = Evidence.objects.all()
        if reference:
            incident = Incident.objects.filter(reference=reference).first()
            if incident is None:
                raise CommandError(_("No incident %(reference)s.") % {"reference": reference})
            queryset = queryset.filter(incident=incident)
        result = services.verify_evidence(queryset)
        for evidence, problem in result.problems:
            self.stderr.write(self.style.ERROR(_("%(reference)s evidence %(id)s (%(name)s): %(problem)s") % {
                "reference": evidence.incident.reference, "id": evidence.pk, "name": evidence, "problem": problem}))
        if result.problems:
            raise CommandError(ngettext("Evidence: %(problems)s problem in %(checked)s item(s) checked.",
                                        "Evidence: %(problems)s problems in %(checked)s item(s) checked.",
                                        len(result.problems)) % {"problems": len(result.problems),
                                                                 "checked": result.checked})
        self.stdout.write(self.style.SUCCESS(
            ngettext("Evidence intact: %(n)s item checked.", "Evidence intact: %(n)s items checked.",
                     result.checked) % {"n": result.checked}))
        if result.kept_elsewhere:
            self.stdout.write(ngettext(
                "%(n)s item kept elsewhere: not checked here (its holder checks it against the recorded SHA-256).",
                "%(n)s items kept elsewhere: not checked here (their holders check them against the recorded "
                "SHA-256).", result.kept_elsewhere) % {"n": result.kept_elsewhere})
