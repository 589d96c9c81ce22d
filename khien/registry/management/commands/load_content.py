from django.core.management.base import BaseCommand

from khien.incidents import content as incident_content
from khien.registry import content


class Command(BaseCommand):
    help = "Load sectors, provinces, security-level frameworks, the incident taxonomy, reporting policy and standard tasks from the content files (idempotent)."

    def handle(self, *args, **options):
        counts = content.load_all()
        counts.update(incident_content.load_all())
        self.stdout.write(", ".join(f"{k}: {v} new or changed" for k, v in counts.items()))
