from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntelConfig(AppConfig):
    name = "khien.intel"
    label = "intel"
    verbose_name = _("Threat intelligence")

    def ready(self):
        from khien.core import worklist

        from . import worklist as waiting

        worklist.register(waiting.waiting_work)
