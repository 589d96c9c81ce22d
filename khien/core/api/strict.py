"""Serializers that refuse what they do not take.

DRF drops a field a serializer does not declare, and a read-only one, without a word: a client that sends
`severity` with a correction of a report, or `assignee` (for `owner`) with a new task, gets 200/201 and believes
the change was made. A write serializer with `StrictFieldsMixin` refuses (400, nothing written) every such field,
naming it, with where it is changed instead when the serializer says so (`strict_hints`).
"""
from collections.abc import Mapping

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

NOT_CHANGED_HERE = _("This cannot be changed here.")
UNKNOWN_FIELD = _("Unknown field: this request does not take it.")

# Keys a browser's form adds to what it sends (DRF's browsable API, a page posting to the API with a session).
IGNORED_KEYS = frozenset({"csrfmiddlewaretoken"})


class StrictFieldsMixin:
    """Refuse the fields of the request that the serializer does not write: {name: [why]} (400).

    A field of the serializer that is read-only, or (for a ModelSerializer, or with `strict_model`) a field of the
    model the serializer does not take, "cannot be changed here"; anything else is an unknown field.
    `strict_hints` ({name: message}) says instead where a field is changed (another endpoint). Put the mixin
    before the serializer class: `class TaskSerializer(StrictFieldsMixin, serializers.ModelSerializer)`."""

    strict_hints: dict = {}
    strict_model = None  # for a plain Serializer: the model whose other fields "cannot be changed here"

    def strict_refusals(self, data) -> dict[str, list[str]]:
        if not isinstance(data, Mapping):
            return {}
        writable = {name for name, field in self.fields.items() if not field.read_only}
        model = getattr(getattr(self, "Meta", None), "model", None) or self.strict_model
        known = set(self.fields) | ({f.name for f in model._meta.get_fields()} if model is not None else set())
        refused = {}
        for name in data:
            if name in writable or name in IGNORED_KEYS:
                continue
            hint = self.strict_hints.get(name)
            refused[name] = [str(hint or (NOT_CHANGED_HERE if name in known else UNKNOWN_FIELD))]
        return refused

    def to_internal_value(self, data):
        refused = self.strict_refusals(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if refused and isinstance(exc.detail, Mapping):
                raise serializers.ValidationError({**exc.detail, **refused}) from exc
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value
