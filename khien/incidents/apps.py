from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# OpenAPI enum names for this app's choice sets (the registry's are in settings.SPECTACULAR_SETTINGS);
# without them `status`, `from_status` and `to_status` collide with the registry's level workflow.
# TODO: move these into settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] with the other apps'.
ENUM_NAME_OVERRIDES = {
    "IncidentStatusEnum": "khien.incidents.models.Status",
    "TaskStatusEnum": "khien.incidents.models.TaskStatus",
}


class IncidentsConfig(AppConfig):
    name = "khien.incidents"
    label = "incidents"
    verbose_name = _("Incidents")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.conf import settings

        overrides = settings.SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {})
        for name, choices in ENUM_NAME_OVERRIDES.items():
            overrides.setdefault(name, choices)
