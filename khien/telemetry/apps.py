from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TelemetryConfig(AppConfig):
    name = "khien.telemetry"
    label = "telemetry"
    verbose_name = _("SOC telemetry")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from khien.core import worklist

        from . import correlation, triage

        worklist.register(triage.waiting_work)
        worklist.register(correlation.waiting_work)
