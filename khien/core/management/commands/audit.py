from django.core.management.base import BaseCommand, CommandError

from khien.core import audit


class Command(BaseCommand):
    help = "Audit log tools. `khien audit verify` checks the hash chain and exits 1 on any tampering."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify"])
        parser.add_argument("--expect-head", help="head hash written down earlier: also detects a truncated tail")

    def handle(self, *args, **options):
        result = audit.verify()
        for problem in result.problems:
            self.stderr.write(self.style.ERROR(problem))
        expected = options.get("expect_head")
        if expected and expected not in (result.head_hash,):
            from khien.core.models import AuditEntry

            if not AuditEntry.objects.filter(hash=expected).exists():
                result.problems.append("the expected head is no longer in the log (entries removed)")
                self.stderr.write(self.style.ERROR(result.problems[-1]))
        if result.problems:
            raise CommandError(f"audit log: {len(result.problems)} problem(s) in {result.checked} entries")
        self.stdout.write(self.style.SUCCESS(
            f"audit log intact: {result.checked} entries, head #{result.head_seq} {result.head_hash}"))
