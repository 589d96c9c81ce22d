from django.core.management.base import BaseCommand, CommandError

from khien.incidents import services
from khien.incidents.models import Evidence, Incident


class Command(BaseCommand):
    help = ("Evidence tools. `khien evidence verify [--incident REF]` recomputes the SHA-256 of every evidence "
            "file and note (not of items kept elsewhere: the platform holds no copy) and exits 1 if any is changed or missing.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify"])
        parser.add_argument("--incident", metavar="REF", help="only the evidence of this incident (its reference number)")

    def handle(self, *args, **options):
        queryset = Evidence.objects.all()
        reference = options.get("incident")
        if reference:
            incident = Incident.objects.filter(reference=reference).first()
            if incident is None:
                raise CommandError(f"no incident {reference}")
            queryset = queryset.filter(incident=incident)
        result = services.verify_evidence(queryset)
        for evidence, problem in result.problems:
            self.stderr.write(self.style.ERROR(
                f"{evidence.incident.reference} evidence {evidence.pk} ({evidence}): {problem}"))
        if result.problems:
            raise CommandError(f"evidence: {len(result.problems)} problem(s) in {result.checked} item(s)")
        self.stdout.write(self.style.SUCCESS(f"evidence intact: {result.checked} item(s) checked"))
        if result.kept_elsewhere:
            self.stdout.write(f"{result.kept_elsewhere} item(s) kept elsewhere: not checked here (their holders check "
                              "them against the recorded SHA-256)")
