"""Every field the audit log can show has a label in the reader's language: a field without its own verbose_name
read as its English attribute name ("Tệp file", "user", "warning") on Vietnamese pages."""
from django.apps import apps

# Rows the platform keeps for itself and never writes to the audit log (or only as counts): their columns never
# reach a reader as fields.
INTERNAL = {
    "core.AuditEntry", "core.Notification", "incidents.IncidentCounter", "core.ApiToken.key_hash", "registry.LevelFramework", "registry.ImportJob",
    "intel.OrganizationIdentity", "intel.StixObject.data_text", "intel.StixRecipient", "intel.CollectionObject",
    "intel.IndicatorValue", "intel.TaxiiStatus", "telemetry.Event", "telemetry.HourlyCount",
    "telemetry.SourceHourlyCount", "telemetry.IndicatorHit", "telemetry.AlertSource.key_hash",
    "telemetry.AlertSource.previous_key_hash", "telemetry.AlertSource.nats_password_hash",
}


def test_every_field_a_reader_can_meet_has_a_translated_label():
    missing = []
    for app in ("core", "registry", "intel", "telemetry", "incidents"):
        for model in apps.get_app_config(app).get_models():
            name = f"{app}.{model.__name__}"
            if name in INTERNAL:
                continue
            for field in model._meta.concrete_fields:
                if field.name == "id" or f"{name}.{field.name}" in INTERNAL or field.name == "sha256":
                    continue
                if isinstance(field.verbose_name, str) and field.verbose_name == field.name.replace("_", " "):
                    missing.append(f"{name}.{field.name}")
            if isinstance(model._meta.verbose_name, str):
                missing.append(f"{name} (its own name)")
    assert missing == []
