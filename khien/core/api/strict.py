"""Serializers and lists that refuse what they do not take.

DRF drops a field a serializer does not declare, and a read-only one, without a word: a client that sends
`severity` with a correction of a report, or `assignee` (for `owner`) with a new task, gets 200/201 and believes
the change was made. A write serializer with `StrictFieldsMixin` refuses (400, nothing written) every such field,
naming it, with where it is changed instead when the serializer says so (`strict_hints`). Likewise a list
drops a query parameter it does not know, and an `ordering` it does not follow: a list view with
`StrictListMixin` refuses both (400), naming them and what it takes.
"""
from collections.abc import Mapping

from django.utils.translation import gettext, gettext_lazy as _
from rest_framework import generics, serializers

from khien.core.errors import Refused

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


# What a list takes besides its filters: the page and the order (`format` is accepted and has no effect).
LIST_PARAMETERS = ("limit", "offset", "ordering", "format")


def refuse_unknown_parameters(request, accepted) -> None:
    """400 (`unknown_parameter`) naming the query parameters of `request` that are not in `accepted`, and those
    that are: a misspelt filter is not to be read as no filter."""
    unknown = [name for name in request.query_params if name not in accepted]
    if unknown:
        raise Refused(gettext("Unknown query parameter: %(names)s. Accepted: %(accepted)s.")
                      % {"names": ", ".join(unknown), "accepted": ", ".join(accepted) or "—"},
                      code="unknown_parameter")


class StrictListMixin:
    """For a list view (before `generics.ListAPIView`, or a viewset's mixins): its query takes only its filters
    (`filterset_class`, or the set its `filterset_fields` make), the parameters it reads itself
    (`extra_parameters`) and LIST_PARAMETERS — `limit`/`offset` only when it pages, `ordering` only when it has
    `ordering_fields` (and its filter backends order). A misspelt parameter (`severity-min=9`) is a 400 naming it
    and the accepted ones, and an `ordering` by a field it does not order by is a 400 naming them, not the whole
    list as if it were filtered or sorted. An `ordering` is completed by the primary key (in the direction of its
    first field), so that rows equal on it keep one order from page to page.

    A viewset's other lists (`@action` GETs) call `check_query(request)`; the action's own `filterset_class`,
    `pagination_class`, `filter_backends` and `extra_parameters` (given to `@action`) decide what it takes."""

    extra_parameters: tuple = ()

    def _filterset_class(self):
        for backend in getattr(self, "filter_backends", ()):
            if hasattr(backend, "get_filterset_class"):
                if getattr(self, "filterset_class", None) is not None:
                    return self.filterset_class
                if getattr(self, "filterset_fields", None):
                    return backend().get_filterset_class(self, self.get_queryset())
        return None

    def _orders(self) -> bool:
        return bool(getattr(self, "ordering_fields", None)) and any(
            hasattr(backend, "get_ordering") for backend in getattr(self, "filter_backends", ()))

    def accepted_parameters(self) -> list[str]:
        filterset = self._filterset_class()
        names = [*(filterset.base_filters if filterset else ()), *self.extra_parameters, *LIST_PARAMETERS]
        if not self._orders():
            names.remove("ordering")
        if getattr(self, "pagination_class", None) is None:
            names = [name for name in names if name not in ("limit", "offset")]
        return list(dict.fromkeys(names))

    def check_query(self, request) -> None:
        refuse_unknown_parameters(request, self.accepted_parameters())
        ordering = request.query_params.get("ordering")
        if ordering:
            fields = list(self.ordering_fields)
            wrong = [term.strip() for term in ordering.split(",")
                     if term.strip().removeprefix("-") not in fields]
            if wrong:
                raise Refused(gettext("Cannot order by %(names)s. Order by: %(fields)s (a leading - for the reverse "
                                      "order).") % {"names": ", ".join(wrong), "fields": ", ".join(fields)},
                              code="unknown_ordering")

    def list(self, request, *args, **kwargs):
        self.check_query(request)
        return super().list(request, *args, **kwargs)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.request.query_params.get("ordering"):
            order = list(queryset.query.order_by)
            pk = queryset.model._meta.pk.name
            if order and not any(str(field).lstrip("-") in ("id", "pk", pk) for field in order):
                queryset = queryset.order_by(*order, "-pk" if str(order[0]).startswith("-") else "pk")
        return queryset


class StrictListView(StrictListMixin, generics.ListAPIView):
    pass
