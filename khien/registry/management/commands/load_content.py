from django.core.management.base import BaseCommand

from khien.registry import content


class Command(BaseCommand):
    help = "Load sectors, provinces and security-level frameworks from the content files (idempotent)."

    def handle(self, *args, **options):
        counts = content.load_all()
        self.stdout.write(", ".join(f"{k}: {v} new or changed" for k, v in counts.items()))
