from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntelConfig(AppConfig):
    name = "khien.intel"
    label = "intel"
    verbose_name = _("Threat intelligence")

    def ready(self):
        from khien.core import audit, worklist

        from . import services_versions
        from . import worklist as waiting

        worklist.register(waiting.waiting_work)
        # The audit texts of revocations and corrections, read in the reader's language (once: ready may run again).
        audit.STORED_TEXTS.extend(t for t in services_versions.STORED_TEXTS if t not in audit.STORED_TEXTS)
