from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "khien.core"
    label = "core"
    verbose_name = _("Core")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals  # noqa: F401  (connects the sign-in audit)

        use_platform_fields_in_model_serializers()
        refuse_control_characters_in_forms()

        tune_garbage_collector()


def use_platform_fields_in_model_serializers() -> None:
    """Every ModelSerializer maps a model's DateTimeField and DateField to `core.api.fields.DateTimeField` and
    `DateField` (dates outside the platform's years refused with a message, not a 500) and its CharField and TextField to
    `core.api.fields.CharField` (no control characters): one place instead of a base class in every app."""
    from django.db import models
    from rest_framework import serializers

    from .api.fields import CharField, DateField, DateTimeField

    mapping = serializers.ModelSerializer.serializer_field_mapping
    mapping[models.DateTimeField] = DateTimeField
    mapping[models.DateField] = DateField
    mapping[models.CharField] = mapping[models.TextField] = CharField


def refuse_control_characters_in_forms() -> None:
    """Every form field of the pages that takes text refuses control characters, as the API's fields do: one rule,
    applied here once rather than form by form (fields with their own format, e-mail or URL, check that instead)."""
    from django import forms

    from .api.fields import no_control_characters

    if no_control_characters not in forms.CharField.default_validators:
        forms.CharField.default_validators = [*forms.CharField.default_validators, no_control_characters]


def tune_garbage_collector() -> None:
    """Fewer, later collections of the cyclic garbage collector (KHIEN_GC_THRESHOLDS, "0" keeps Python's).

    A TAXII page or an ingestion batch allocates tens of thousands of short-lived objects; with
    Python's default thresholds every few pages trigger a full collection of the whole heap, which
    made one page in ten take ~150 ms instead of ~25 ms (decision 0010). Objects that exist once the
    apps are loaded are frozen out of the collections; the young generations are collected less often.
    """
    import gc
    import os

    raw = os.environ.get("KHIEN_GC_THRESHOLDS", "20000,50,100")
    if raw.strip() == "0":
        return
    gc.freeze()
    gc.set_threshold(*(int(part) for part in raw.split(",")))
