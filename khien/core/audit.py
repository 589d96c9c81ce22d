"""The hash-chained audit log: one `record()` call per write, `verify()` to check it.

Each entry's hash covers its own content and the previous entry's hash, and
entries carry a gap-free sequence number; so altering, inserting or removing a
row anywhere before the head breaks the chain. `verify()` also returns the head
hash: an operator who writes it down (or ships it to another system) can detect
a truncated tail too.
"""
from __future__ import annotations

import datetime as dt
import decimal
import functools
import hashlib
import re
import uuid
import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import Q
from django.db.models.fields.files import FieldFile
from django.apps import apps
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import ngettext
from django.utils.translation import pgettext_lazy

from .models import AuditEntry

GENESIS = "0" * 64
OBJECT_REPR_MAX = 300  # AuditEntry.object_repr's length
_PG_LOCK_KEY = 0x4B4849454E  # "KHIEN": serializes writers of the chain on PostgreSQL


class Act:
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    LOGIN = "login"
    TRANSITION = "transition"
    IMPORT = "import"
    EXPORT = "export"  # a disclosure: who took what out of the platform
    TOKEN = "token"
    PASSWORD_LINK = "password_link"  # a one-time link to choose a password was e-mailed


# How the log page names what was done and to what (the log itself keeps the codes: stable for the hash chain).
ACTION_LABELS = {
    Act.CREATE: pgettext_lazy("audit action", "Created"), Act.UPDATE: pgettext_lazy("audit action", "Changed"),
    Act.DELETE: pgettext_lazy("audit action", "Deleted"), Act.LOGIN: pgettext_lazy("audit action", "Signed in"),
    Act.TRANSITION: pgettext_lazy("audit action", "Status changed"),
    Act.IMPORT: pgettext_lazy("audit action", "Imported"), Act.EXPORT: pgettext_lazy("audit action", "Exported"),
    Act.TOKEN: pgettext_lazy("audit action", "API token"),
    Act.PASSWORD_LINK: pgettext_lazy("audit action", "Password link sent"),
}
# Entries about something that is not one model row.
OBJECT_TYPE_LABELS = {
    "core.sealed": _l("sealed secrets"), "intel.exchange_export": _l("intelligence export"),
    "intel.exchange_import": _l("intelligence import"), "telemetry.retention": _l("telemetry retention"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


# Not a stored code: what the pages call an API token's change that set its revocation time (entry_action_label).
REVOKED = "revoked"


def action_choices() -> list[tuple[str, Any]]:
    """The actions a reader may filter the log by, named in the reader's language: the stored codes, and the
    revocations the pages name apart from other changes (`REVOKED`, right after "Changed")."""
    choices = []
    for code, label in ACTION_LABELS.items():
        if code == Act.TOKEN:
            continue
        choices.append((code, label))
        if code == Act.UPDATE:
            choices.append((REVOKED, REVOKED_LABEL))
    return choices


def revocations_q() -> Q:
    """The entries `entry_action_label` names revocations, as a query: an API token's change whose `after` has a
    revocation time and whose `before` had none."""
    before_unset = Q(before__isnull=True) | Q(before__revoked_at__isnull=True) | Q(before__revoked_at=None)
    return (Q(object_type="core.apitoken", action=Act.UPDATE, after__revoked_at__isnull=False)
            & ~Q(after__revoked_at=None) & ~Q(after__revoked_at="") & before_unset)


def filter_action(queryset, action: str):
    """Entries of one action as the pages name them: "Revoked" takes the revocations out of "Changed"."""
    if action == REVOKED:
        return queryset.filter(revocations_q())
    if action == Act.UPDATE:
        revocations = AuditEntry.objects.filter(revocations_q()).values("seq")
        return queryset.filter(action=Act.UPDATE).exclude(seq__in=revocations)
    return queryset.filter(action=action)


def object_type_label(object_type: str) -> str:
    """The kind of object an entry is about, in the reader's language: the model's name, or the code itself."""
    if object_type in OBJECT_TYPE_LABELS:
        return str(OBJECT_TYPE_LABELS[object_type])
    try:
        return str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return object_type


# --- How the log pages show an entry --------------------------------------------------------------------------
# Everything below derives what a reader sees from the stored fields; nothing here changes what is stored (and
# hashed). Entries written before a better wording existed read as well as new ones.

REVOKED_LABEL = pgettext_lazy("audit action", "API token revoked")  # the only revocation an entry of its own records
SECOND_FACTOR_RESET_LABEL = pgettext_lazy("audit action", "Two-step sign-in reset")
DEADLINE_NOTICE_LABEL = pgettext_lazy("audit action", "Deadline notice sent")
ESCALATED_LABEL = pgettext_lazy("audit action", "Escalated to the coordinator")
# What the platform's deadline check changes on an incident (`incidents.notices.check_deadlines`), nobody acting.
DEADLINE_FIELDS = {"deadline_notices", "escalated_at", "updated_at"}


def entry_action_label(entry: AuditEntry) -> str:
    """The action as a reader names it: an API token's change that set its revocation time is a revocation."""
    if (entry.object_type == "core.apitoken" and entry.action == Act.UPDATE
            and (entry.after or {}).get("revoked_at") and not (entry.before or {}).get("revoked_at")):
        return str(REVOKED_LABEL)
    if (entry.object_type == "core.user" and entry.action == Act.UPDATE
            and (entry.after or {}).get("second_factor") == "reset"):  # `services.do_reset_second_factor`
        return str(SECOND_FACTOR_RESET_LABEL)
    if entry.object_type == "incidents.incident" and entry.action == Act.UPDATE and not entry.actor_email:
        before, after = entry.before or {}, entry.after or {}
        changed = {key for key in set(before) | set(after) if before.get(key) != after.get(key)}
        if changed and changed <= DEADLINE_FIELDS:  # a deadline notice, not an edit: say which
            return str(ESCALATED_LABEL if "escalated_at" in changed else DEADLINE_NOTICE_LABEL)
    if entry.action == Act.TRANSITION:
        step = _status_step(entry)
        if step is not None:
            return _("%(action)s: %(before)s → %(after)s") % {"action": action_label(entry.action), **step}
    return action_label(entry.action)


def _status_step(entry: AuditEntry) -> dict | None:
    """The status a workflow step left and reached (a level proposal appraised, an incident resolved), by the labels
    of the model's status field: "Status changed" alone did not say which step it was."""
    before, after = entry.before, entry.after
    model = _model_of(entry.object_type)
    if model is None or not isinstance(before, dict) or not isinstance(after, dict):
        return None
    for field in model._meta.concrete_fields:
        if field.choices and field.name.endswith("status") and before.get(field.attname) != after.get(field.attname):
            old, new = before.get(field.attname), after.get(field.attname)
            return {"before": _field_display(field, old) or (old if old is not None else "—"),
                    "after": _field_display(field, new) or (new if new is not None else "—")}
    return None


# Texts other apps write in English into `object_repr` (hashed, so kept as written), read back in the
# reader's language: (object type, pattern of the stored text, the text to show from the pattern's groups).
def _stix_versions(m):
    n = int(m["n"])
    return ngettext("%(title)s: +%(n)s STIX version", "%(title)s: +%(n)s STIX versions", n) % {
        "title": m["title"], "n": n}


def _events_export(m):
    n = int(m["n"])
    return ngettext("%(fmt)s export: %(n)s event", "%(fmt)s export: %(n)s events", n) % {"fmt": m["fmt"], "n": n}


def _incidents_export(m):
    n = int(m["n"])
    return ngettext("%(fmt)s export: %(n)s incident", "%(fmt)s export: %(n)s incidents", n) % {
        "fmt": m["fmt"], "n": n}


def _entries_export(m):
    n = int(m["n"])
    return ngettext("%(fmt)s export: %(n)s audit entry", "%(fmt)s export: %(n)s audit entries", n) % {
        "fmt": m["fmt"], "n": n}


def _objects_export(m):
    n = int(m["n"])
    return ngettext("%(fmt)s export of %(n)s object", "%(fmt)s export of %(n)s objects", n) % {
        "fmt": m["fmt"], "n": n}


STORED_TEXTS: list[tuple[str, "re.Pattern[str]", Any]] = [
    ("intel.collection", re.compile(r"^(?P<title>.*): \+(?P<n>\d+) STIX versions$", re.S), _stix_versions),
    ("telemetry.event", re.compile(r"^(?P<fmt>\w+) export: (?P<n>\d+) events$"), _events_export),
    ("incidents.incident", re.compile(r"^(?P<fmt>\w+) export: (?P<n>\d+) incidents$"), _incidents_export),
    ("core.auditentry", re.compile(r"^(?P<fmt>\w+) export: (?P<n>\d+) entries$"), _entries_export),
    ("intel.exchange_export", re.compile(r"^(?P<fmt>\S+) export of (?P<n>\d+) objects$"), _objects_export),
    ("intel.exchange_import", re.compile(r"^(?P<fmt>\S+) import (?P<file>.*)$", re.S),
     lambda m: _("%(fmt)s import of %(file)s") % {"fmt": m["fmt"], "file": m["file"]}),
    ("telemetry.retention", re.compile(r"^telemetry older than (?P<when>\S+)$"),
     lambda m: _("telemetry older than %(when)s") % {"when": _local_time(m["when"])}),
    ("telemetry.deadletter", re.compile(r"^dead letters of (?P<source>.*)$", re.S),
     lambda m: _("dead letters of %(source)s") % {"source": m["source"]}),
    ("core.sealed", re.compile(r"^secrets sealed again under the current SECRET_KEY$"),
     lambda m: _("secrets sealed again under the current SECRET_KEY")),
]


def _local_time(iso: str) -> str:
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if timezone.is_aware(when):
        when = timezone.localtime(when)
    return when.strftime("%d/%m/%Y %H:%M")


UUID_RE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
# Objects named without a scope check: names that are public within the platform (the directory of
# organizations, the platform's users). Any other model is named only if the reader may see the object.
UNSCOPED_NAMES = {"registry.organization", "core.user"}


def _model_of(object_type: str):
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _references(entry: AuditEntry) -> dict[str, Any]:
    """The ids the entry's text shows, with the model each one refers to (from the object's foreign keys)."""
    ids = set(UUID_RE.findall(entry.object_repr or ""))
    model = _model_of(entry.object_type)
    if not ids or model is None:
        return {}
    found = {}
    data = {**(entry.before or {}), **(entry.after or {})}
    for field in model._meta.concrete_fields:
        if field.is_relation and field.related_model is not None:
            value = data.get(field.attname, data.get(field.name))  # a snapshot's attname, or a service's own key
            if isinstance(value, str) and value in ids:
                found[value] = field.related_model
    return found


def _nameable(model, user):
    """The objects of `model` the log may name to `user` (None: none): the one rule for the names the log pages
    show and the names its search matches."""
    queryset = model._default_manager.all()
    if model._meta.label_lower in UNSCOPED_NAMES:
        return queryset
    if not hasattr(queryset, "visible_to") or user is None:
        return None
    return queryset.visible_to(user)


def _names(wanted: dict, user) -> dict[str, str]:
    """id → the object's name, for the objects `user` may see (one query per model)."""
    by_model: dict[Any, set[str]] = {}
    for pk, model in wanted.items():
        by_model.setdefault(model, set()).add(pk)
    names = {}
    for model, pks in by_model.items():
        queryset = _nameable(model, user)
        if queryset is None:
            continue
        for obj in queryset.filter(pk__in=pks):
            names[str(obj.pk)] = str(obj)
    return names


# The fields an object's name is made of, where a model has them (a person's, an organization's, an incident's…).
NAME_FIELDS = ("name", "name_vi", "name_en", "title", "reference", "code", "full_name", "email", "original_name")
NAMED_IDS_LIMIT = 100  # a word common to many names matches the first ones; the stored text is searched as well


@functools.cache
def _named_models() -> dict[Any, tuple[str, ...]]:
    """The models whose ids an entry's text may show (the targets of the platform's foreign keys, with UUID keys:
    `UUID_RE`), with the fields their names are made of."""
    found = {}
    for model in apps.get_models():
        if not model.__module__.startswith("khien."):
            continue
        for field in model._meta.concrete_fields:
            target = field.related_model if field.is_relation else None
            if target is None or target in found or not isinstance(target._meta.pk, models.UUIDField):
                continue
            names = tuple(f.name for f in target._meta.concrete_fields
                          if f.name in NAME_FIELDS and isinstance(f, models.CharField))
            if names:
                found[target] = names
    return found


# --- Search: without regard to case or diacritics ----------------------------------------------------------
# People type "nguyen van moi" for "Nguyễn Văn Mới": the log's search compares texts as `texts.folded` writes them,
# in the database (the log is large: nothing is read into Python to be compared).

@functools.cache
def _fold_table() -> tuple[str, str]:
    """The letters with diacritics (Latin, Vietnamese's among them) and the plain letter `texts.folded` makes of
    each, for PostgreSQL's translate()."""
    from .texts import folded

    source, target = [], []
    for code in list(range(0xC0, 0x250)) + list(range(0x1E00, 0x1F00)):
        letter = chr(code)
        plain = folded(letter)
        if len(plain) == 1 and plain.isascii() and plain.isalpha() and plain != letter:
            source.append(letter)
            target.append(plain)
    return "".join(source), "".join(target)


def _folded_in_python(text):
    from .texts import folded

    if text is None:
        return None
    return " ".join(text.lower().split()) if text.isascii() else folded(text)


class Folded(models.Func):
    """A text column as `texts.folded` writes it (lower case, without diacritics, đ as d, spaces collapsed), computed
    by the database: PostgreSQL with its own functions, SQLite with `texts.folded` itself."""

    function = "khien_folded"
    output_field = models.CharField()

    def as_sqlite(self, compiler, connection, **extra):
        connection.ensure_connection()  # the function is the connection's own: given to each, as it is used
        connection.connection.create_function("khien_folded", 1, _folded_in_python, deterministic=True)
        return super().as_sql(compiler, connection, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        inner, params = compiler.compile(self.source_expressions[0])
        source, target = _fold_table()
        # combining marks out (a text written decomposed), runs of spaces as one, letters with diacritics plain
        sql = f"lower(translate(regexp_replace(regexp_replace({inner}, %s, '', 'g'), %s, ' ', 'g'), %s, %s))"
        return sql, (*params, "[\u0300-\u036f]", r"\s+", source, target)


def folded_contains(field: str, words: str) -> Q:
    """Entries (or rows) whose `field` contains `words`, both compared folded (`texts.folded`)."""
    from .texts import folded

    return Q(models.lookups.Contains(Folded(field), folded(words)))


def ids_named(words: str, user) -> list[str]:
    """The ids of the objects whose name contains `words` (without regard to case or diacritics) and that the log
    pages would name to `user` (`_nameable`): what a search by a name shown on the page (in place of a stored id)
    must look for. Objects the reader may not see are left out, so that a search cannot tell which hidden object
    bears a name."""
    from .texts import folded

    if not folded(words):
        return []
    ids: list[str] = []
    for model, fields in _named_models().items():
        queryset = _nameable(model, user)
        if queryset is None:
            continue
        q = Q()
        for name in fields:
            q |= folded_contains(name, words)
        for pk in queryset.filter(q).values_list("pk", flat=True).distinct()[:NAMED_IDS_LIMIT]:
            ids.append(str(pk))
            if len(ids) >= NAMED_IDS_LIMIT:
                return ids
    return ids


def _in_reader_language(entries: list[AuditEntry], user) -> dict[int, str]:
    """seq → the object's label in the reader's language, for entries whose stored text is the label of their
    object (still there, and one the reader may see: `_nameable`) as another language writes it: labels are stored
    as the person who acted read them ("Địa chỉ IPv4: …" for an English reader). A text that matches no language's
    label (an object renamed since) stays as stored: the log shows the name the object had."""
    by_model: dict[Any, dict[Any, list[AuditEntry]]] = {}
    for entry in entries:
        model = _model_of(entry.object_type)
        if model is None or not entry.object_id or not entry.object_repr:
            continue
        try:
            pk = model._meta.pk.to_python(entry.object_id)
        except (ValidationError, ValueError, TypeError):
            continue
        by_model.setdefault(model, {}).setdefault(pk, []).append(entry)
    others = [code for code, _name in settings.LANGUAGES if code != translation.get_language()]
    shown = {}
    for model, by_pk in by_model.items():
        queryset = _nameable(model, user)
        if queryset is None:
            continue
        # The labels of some objects name related ones (a membership: its person and organization): one join.
        related = [f.name for f in model._meta.concrete_fields if f.many_to_one and not f.null]
        for obj in queryset.select_related(*related).filter(pk__in=list(by_pk)):
            label = shortened(str(obj))
            for entry in by_pk.get(obj.pk, []):
                if entry.object_repr == label:
                    continue
                for language in others:
                    with translation.override(language):
                        other = str(obj)
                    if entry.object_repr in (shortened(other), other[:OBJECT_REPR_MAX]):  # as cut now, or before
                        shown[entry.seq] = label
                        break
    return shown


def describe(entries: Iterable[AuditEntry], user=None) -> list[AuditEntry]:
    """Give each entry what the pages show: `action_label`, `type_label` and `text` — the stored text in the
    reader's language (`STORED_TEXTS`, `_in_reader_language`), with the ids of referenced objects the reader may
    see replaced by their names."""
    entries = list(entries)
    wanted: dict[str, Any] = {}
    for entry in entries:
        wanted.update(_references(entry))
    names = _names(wanted, user) if wanted else {}
    relabelled = _in_reader_language(entries, user)
    for entry in entries:
        entry.action_label = entry_action_label(entry)
        entry.type_label = object_type_label(entry.object_type)
        text = relabelled.get(entry.seq, _cut_before_the_ellipsis(entry.object_repr))
        for object_type, pattern, render in STORED_TEXTS:
            if entry.object_type == object_type:
                match = pattern.match(text)
                if match:
                    text = str(render(match))
                    break
        entry.text = UUID_RE.sub(lambda m: names.get(m.group(0), m.group(0)), text)
    return entries


def organization_names(entries) -> dict[str, str]:
    """Names of the organizations the entries are filed under (the directory of organizations is not secret)."""
    Organization = apps.get_model("registry", "Organization")
    valid = []
    for value in {e.organization_id for e in entries if e.organization_id}:
        try:
            valid.append(uuid.UUID(value))
        except ValueError:
            pass
    return {str(o.pk): str(o) for o in Organization.objects.filter(pk__in=valid)}


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    return str(value)


# Labels of the keys that services write into an entry's before/after beside (or instead of) a model's fields: a
# count of dead letters discarded, the reason of a revocation, an export's format. A key not listed here and not a
# model field reads as itself, underscores as spaces.
KEY_LABELS = {
    "reason": pgettext_lazy("audit field", "Reason"), "count": pgettext_lazy("audit field", "Count"),
    "total": pgettext_lazy("audit field", "Total"), "total_count": pgettext_lazy("audit field", "Total"),
    "format": pgettext_lazy("audit field", "Format"), "filters": pgettext_lazy("audit field", "Filters"),
    "discarded": pgettext_lazy("audit field", "Discarded"), "reprocessed": pgettext_lazy("audit field", "Reprocessed"),
    "records": pgettext_lazy("audit field", "Records"), "revoked": pgettext_lazy("audit field", "Revoked"),
    "created": pgettext_lazy("audit field", "Created"), "existing": pgettext_lazy("audit field", "Already stored"),
    "received": pgettext_lazy("audit field", "Received"), "refused": pgettext_lazy("audit field", "Refused"),
    "recipients": pgettext_lazy("audit field", "Recipients"), "collection": pgettext_lazy("audit field", "Collection"),
    "status": pgettext_lazy("audit field", "Status"), "version": pgettext_lazy("audit field", "Version"),
    "file_name": pgettext_lazy("audit field", "File name"), "selection": pgettext_lazy("audit field", "Selection"),
    "reference": pgettext_lazy("audit field", "Reference"), "organization": pgettext_lazy("audit field", "Organization"),
    "warning": pgettext_lazy("audit field", "Warning"), "language": pgettext_lazy("audit field", "Language"),
    "ip": pgettext_lazy("audit field", "IP address"), "user": pgettext_lazy("audit field", "User"),
    "stix_id": pgettext_lazy("audit field", "STIX id"), "modified": pgettext_lazy("audit field", "Modified"),
    "matched_value": pgettext_lazy("audit field", "Matched value"),
    "failure_count": pgettext_lazy("audit field", "Failed"), "created_ids": pgettext_lazy("audit field", "Ids created"),
    "ids_truncated": pgettext_lazy("audit field", "Id list shortened"),
    "added_to_collection": pgettext_lazy("audit field", "Added to the collection"),
    "reminded_at": pgettext_lazy("audit field", "Reminded at"), "reminded": pgettext_lazy("audit field", "Reminded"),
    "sha256": pgettext_lazy("audit field", "SHA-256"), "confirmed": pgettext_lazy("audit field", "Confirmed"),
    "second_factor": pgettext_lazy("audit field", "Two-step sign-in"),
}


def _key_label(name: str, field) -> str:
    if field is not None:
        return capfirst(str(field.verbose_name))
    label = KEY_LABELS.get(name)
    return str(label) if label is not None else capfirst(name.replace("_", " "))


def _field_display(field, value: Any) -> str | None:
    """How a stored value reads for a person, from the model field it came from: a choice's label, a time in
    Vietnam time, yes/no; None when the raw value is as good (ids, free text)."""
    if value is None:
        return None
    if field is not None and field.choices and isinstance(value, (str, int)):
        label = dict(field.flatchoices).get(value)
        return str(label) if label is not None else None
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        return _local_time(value)
    if isinstance(value, bool) and (field is None or isinstance(field, models.BooleanField)):
        return str(_("yes") if value else _("no"))
    return None


def _raw_adds_to_reading(value: Any, field) -> bool:
    return not (isinstance(value, bool) or (isinstance(field, models.DateTimeField) and isinstance(value, str)))


def _readable(value: Any, field, names: dict) -> str | None:
    """The name of a referenced object the reader may see, else the value as a person reads it (or None)."""
    if isinstance(value, str) and value in names:
        return names[value]
    return _field_display(field, value)


def changes(entry: AuditEntry, user=None) -> list[dict]:
    """The entry's before/after as rows (field, before, after, whether it changed), with the name of each
    referenced object the reader may see next to its id."""
    before, after = entry.before, entry.after
    if not isinstance(before or {}, dict) or not isinstance(after or {}, dict):
        return [{"field": "", "before": _shown(before), "after": _shown(after), "in_before": before is not None,
                 "in_after": after is not None, "changed": before != after}]
    before, after = before or {}, after or {}
    model = _model_of(entry.object_type)
    wanted = {}
    if model is not None:
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is not None:
                for value in (before.get(field.attname), after.get(field.attname), before.get(field.name),
                              after.get(field.name)):
                    if isinstance(value, str) and UUID_RE.fullmatch(value):
                        wanted[value] = field.related_model
    names = _names(wanted, user) if wanted else {}
    # Each stored name (attname: owner_id) with its model field, for the label and the value a person reads.
    fields = {f.attname: f for f in model._meta.concrete_fields} if model is not None else {}
    # A service may write a relation under its name ("organization") rather than its attname ("organization_id").
    fields.update({f.name: f for f in model._meta.concrete_fields if f.is_relation and f.name not in fields}
                  if model is not None else {})
    fields.update({f.name: f for f in model._meta.many_to_many} if model is not None else {})
    # A model whose codes are labelled elsewhere than in field choices (an incident's severity, in its policy
    # version) names them itself: audit_value_label(field name, value, the whole before or after) -> label or None.
    model_label = getattr(model, "audit_value_label", None)

    def readable(name, values):
        value = values.get(name)
        if model_label is not None and value is not None:
            label = model_label(name, value, values)
            if label is not None:
                return str(label)
        return _readable(value, fields.get(name), names)

    rows = []
    for name in list(before) + [k for k in after if k not in before]:
        field = fields.get(name)
        rows.append({
            "field": name, "label": _key_label(name, field),
            "in_before": name in before, "in_after": name in after,
            "before": _shown(before.get(name)), "after": _shown(after.get(name)),
            "before_name": readable(name, before),
            "after_name": readable(name, after),
            # The stored value beside its reading, where it adds something (a code beside its label, an id beside
            # a name) — not a time in UTC beside the same time in Vietnam time, nor True beside "yes".
            "before_raw": _raw_adds_to_reading(before.get(name), field),
            "after_raw": _raw_adds_to_reading(after.get(name), field),
            "changed": bool(before) and bool(after) and before.get(name) != after.get(name),
        })
        if name == "password" and after.get(name) == "changed":  # the log never holds a password, only that it changed
            rows[-1]["after_name"] = str(_("changed"))
    return rows


ELLIPSIS = "…"
_TRAILING = " \t\n,;:.([{-–—/"  # left out before the ellipsis: "giám sát. (khai thác…", not "…sát. (…"


def shortened(text: str, limit: int = OBJECT_REPR_MAX) -> str:
    """`text` as the log stores an object's name: whole if it fits in `limit` characters, else cut at the last
    word that fits, ending with "…" (a word longer than half the limit is cut where the limit falls)."""
    if len(text) <= limit:
        return text
    cut = text[:limit - len(ELLIPSIS) + 1]  # one more: a cut right before a space keeps the whole word
    space = max(cut.rfind(" "), cut.rfind("\n"))
    cut = cut[:space] if space > limit // 2 else cut[:-1]
    return (cut.rstrip(_TRAILING) or cut) + ELLIPSIS


def _cut_before_the_ellipsis(stored: str) -> str:
    """An entry's stored name as the pages show it: names the log cut at the limit before it cut at a word (a
    full-length text without the "…") read as `shortened` writes them now; the stored text (hashed) is kept."""
    if len(stored) == OBJECT_REPR_MAX and not stored.endswith(ELLIPSIS):
        return shortened(stored, OBJECT_REPR_MAX - 1)
    return stored


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def snapshot(obj: models.Model) -> dict:
    """The object's stored fields (and many-to-many ids) as plain JSON values."""
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in {"password", "key_hash", "previous_key_hash", "nats_password_hash"}:
            continue  # secrets never enter the log
        data[field.attname] = _plain(getattr(obj, field.attname))
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            data[field.name] = sorted(str(pk) for pk in getattr(obj, field.name).values_list("pk", flat=True))
    return data


def _digest(fields: dict) -> str:
    return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict:
    return {
        "seq": entry.seq,
        "at": entry.at.astimezone(dt.timezone.utc).isoformat(),
        "actor_id": entry.actor_id,
        "actor_email": entry.actor_email,
        "organization_id": entry.organization_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "before": entry.before,
        "after": entry.after,
        "prev_hash": entry.prev_hash,
    }


def _lock_chain() -> tuple[int, str]:
    """Take the chain's write lock for this transaction; return the head (seq, hash)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
    # SQLite: transactions begin IMMEDIATE (settings), so the writer already holds the lock.
    head = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    return head if head else (0, GENESIS)


@dataclass
class Change:
    """One write to put in the log."""

    action: str
    obj: models.Model | None = None
    before: dict | None = None
    after: dict | None = None
    object_type: str = ""
    object_id: str = ""
    object_repr: str = ""
    organization_id: str = ""


def _org_id_of(obj: models.Model | None) -> str:
    if obj is None:
        return ""
    for attr in ("organization_id", "owner_id"):
        if getattr(obj, attr, None):
            return str(getattr(obj, attr))
    if obj._meta.label_lower == "registry.organization":
        return str(obj.pk)
    return ""


def record_many(changes: Iterable[Change], *, actor=None) -> list[AuditEntry]:
    """Append several changes in one go (bulk imports); must run inside the write's transaction."""
    changes = list(changes)
    if not changes:
        return []
    with transaction.atomic():
        seq, prev = _lock_chain()
        now = timezone.now()
        entries = []
        actor_id = str(actor.pk) if actor is not None and getattr(actor, "pk", None) else ""
        actor_email = getattr(actor, "email", "") if actor is not None else ""
        for change in changes:
            obj = change.obj
            seq += 1
            entry = AuditEntry(
                seq=seq,
                at=now,
                actor_id=actor_id,
                actor_email=actor_email or "",
                organization_id=change.organization_id or _org_id_of(obj),
                action=change.action,
                object_type=change.object_type or (obj._meta.label_lower if obj is not None else ""),
                object_id=change.object_id or (str(obj.pk) if obj is not None else ""),
                object_repr=shortened(change.object_repr or (str(obj) if obj is not None else "")),
                before=_plain(change.before),
                after=_plain(change.after),
                prev_hash=prev,
            )
            # Hash what the database will give back (JSON round-trip), not the Python objects.
            entry.before = orjson.loads(orjson.dumps(entry.before)) if entry.before is not None else None
            entry.after = orjson.loads(orjson.dumps(entry.after)) if entry.after is not None else None
            entry.hash = _digest(_hashed_fields(entry))
            prev = entry.hash
            entries.append(entry)
        AuditEntry.objects.bulk_create(entries, batch_size=500)
    return entries


def record(action: str, obj: models.Model | None = None, *, actor=None, before=None, after=None, **extra) -> AuditEntry:
    """Append one change. `before`/`after` default to nothing/the object's snapshot by action."""
    if after is None and obj is not None and action != Act.DELETE:
        after = snapshot(obj)
    return record_many([Change(action=action, obj=obj, before=before, after=after, **extra)], actor=actor)[0]


@dataclass
class Problem:
    """One thing wrong in the chain: `missing` (entries `seq`…`last` are not there), `unlinked` (entry `seq` does
    not follow entry `seq` - 1: its prev_hash is not that entry's hash) or `altered` (entry `seq`'s content does
    not match its hash)."""

    kind: str
    seq: int
    last: int = 0

    def __str__(self) -> str:  # the command's words (English, for logs and cron mail)
        if self.kind == "missing":
            return f"entries {self.seq}–{self.last} are missing"
        if self.kind == "unlinked":
            return f"entry {self.seq}: does not follow the previous entry (chain broken)"
        return f"entry {self.seq}: content altered (hash mismatch)"

    def text(self) -> str:
        """The problem in the reader's language, for the log page."""
        if self.kind == "missing":
            if self.last == self.seq:
                return _("Entry #%(seq)s is missing.") % {"seq": self.seq}
            return _("Entries #%(seq)s to #%(last)s are missing.") % {"seq": self.seq, "last": self.last}
        if self.kind == "unlinked":
            return _("Entry #%(seq)s does not follow entry #%(previous)s: its previous hash is not that entry's "
                     "hash.") % {"seq": self.seq, "previous": self.seq - 1}
        return _("Entry #%(seq)s: its content does not match its hash (altered).") % {"seq": self.seq}


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    problems: list[str]
    issues: list[Problem] = dataclasses.field(default_factory=list)  # the problems, each as a `Problem`
    links: int = 0  # links checked (entries whose previous entry was among those checked)
    whole_chain: bool = True
    limit: int = 0  # at most this many entries were checked (`verify_entries`); 0: no limit


def _result(issues: list[Problem], **rest) -> VerifyResult:
    return VerifyResult(ok=not issues, problems=[str(p) for p in issues], issues=issues, **rest)


def verify(batch_size: int = 5000) -> VerifyResult:
    """Walk the whole chain; report every altered, inserted or missing entry."""
    issues: list[Problem] = []
    expected_seq, prev = 1, GENESIS
    checked = 0
    last_seq = 0
    qs = AuditEntry.objects.order_by("seq")
    for entry in qs.iterator(chunk_size=batch_size):
        checked += 1
        if entry.seq != expected_seq:
            issues.append(Problem("missing", expected_seq, entry.seq - 1))
        if entry.prev_hash != prev:
            issues.append(Problem("unlinked", entry.seq))
        if _digest(_hashed_fields(entry)) != entry.hash:
            issues.append(Problem("altered", entry.seq))
        prev = entry.hash
        expected_seq = entry.seq + 1
        last_seq = entry.seq
    return _result(issues, checked=checked, head_seq=last_seq, head_hash=prev, links=max(checked - 1, 0))


def verify_entries(entries, limit: int) -> VerifyResult:
    """Check some entries (those a reader may see, as the log page's filters select them; the newest `limit` of
    them): that each one's hash matches its content, and that each one whose previous entry (by seq) is among them
    follows it (its prev_hash is that entry's hash). Entries between them that are not among them cannot be
    checked here: `verify` walks the whole chain."""
    issues: list[Problem] = []
    hashes: dict[int, str] = {}
    prev_hashes: dict[int, str] = {}
    checked = 0
    head_seq, head_hash = 0, ""
    for entry in entries.order_by("-seq")[:limit].iterator(chunk_size=5000):
        checked += 1
        if not head_seq:
            head_seq, head_hash = entry.seq, entry.hash
        if _digest(_hashed_fields(entry)) != entry.hash:
            issues.append(Problem("altered", entry.seq))
        hashes[entry.seq] = entry.hash
        prev_hashes[entry.seq] = entry.prev_hash
    links = 0
    for seq, prev_hash in prev_hashes.items():
        if seq - 1 in hashes:
            links += 1
            if prev_hash != hashes[seq - 1]:
                issues.append(Problem("unlinked", seq))
    issues.sort(key=lambda p: (p.seq, p.kind))
    return _result(issues, checked=checked, head_seq=head_seq, head_hash=head_hash, links=links, whole_chain=False,
                   limit=limit)


def record_export(user, *, object_type: str, noun: str, fmt: str, count: int, filters: dict) -> AuditEntry:
    """A list taken out of the platform (a disclosure): who, which format, how many rows of which kind
    (`object_type`, named `noun` in the entry), with which filters. One entry per export."""
    return record_many([Change(action=Act.EXPORT, object_type=object_type, object_id="list",
                               object_repr=f"{fmt.upper()} export: {count} {noun}",
                               after={"format": fmt, "count": count, "filters": filters})], actor=user)[0]
