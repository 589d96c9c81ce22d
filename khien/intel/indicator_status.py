"""When an indicator version is in force, and when it acts (blocks, matches): the one place of these rules.

- status: a version is *revoked* (`revoked`), else *expired* (`valid_until` past), else *not yet valid*
  (`valid_from` in the future), else *active*. Objects without a validity window are active unless revoked.
- acting: an active indicator acts on the perimeter (blocklists, `khien.intel.blocklists`) and on telemetry
  (`khien.telemetry.matcher`) unless it is *benign* — STIX `indicator_types` holding "benign": a known-good
  value shared so that it is recognised, never blocked nor alerted on. `StixObject.benign` keeps that flag as a
  column (set by `services._row_for`) so that neither the blocklist query nor the matcher build over a million
  versions reads the JSON.
- exports (`stix_export.Selection.active_only`, on by default) keep the versions whose newest version is active;
  a MISP export of inactive or benign indicators gives their attributes `to_ids: false`.
"""
from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import pgettext_lazy

ACTIVE, EXPIRED, REVOKED, NOT_YET_VALID = "active", "expired", "revoked", "not_yet_valid"
STATUS_CHOICES = [(ACTIVE, pgettext_lazy("indicator status", "Active")),
                  (EXPIRED, pgettext_lazy("indicator status", "Expired")),
                  (REVOKED, pgettext_lazy("indicator status", "Revoked")),
                  (NOT_YET_VALID, pgettext_lazy("indicator status", "Not yet valid"))]
STATUSES = [value for value, _label in STATUS_CHOICES]
BENIGN = "benign"


def is_benign(obj: dict) -> bool:
    """Does a STIX object say it is known-good (`indicator_types` holding "benign")?"""
    types = obj.get("indicator_types") if isinstance(obj, dict) else None
    return isinstance(types, list) and any(isinstance(t, str) and t.strip().lower() == BENIGN for t in types)


def active_q(at: dt.datetime, prefix: str = "") -> Q:
    """The condition on StixObject rows in force at `at`: not revoked, within their validity window."""
    return (Q(**{f"{prefix}revoked": False})
            & (Q(**{f"{prefix}valid_from__isnull": True}) | Q(**{f"{prefix}valid_from__lte": at}))
            & (Q(**{f"{prefix}valid_until__isnull": True}) | Q(**{f"{prefix}valid_until__gt": at})))


def acting_q(at: dt.datetime) -> Q:
    """The condition on indicator versions that block and match at `at`: active and not benign."""
    return active_q(at) & Q(benign=False)


def status_q(status: str, at: dt.datetime) -> Q:
    """The condition on StixObject rows of one status (see the module docstring) at `at`."""
    if status == ACTIVE:
        return active_q(at)
    if status == REVOKED:
        return Q(revoked=True)
    if status == EXPIRED:
        return Q(revoked=False, valid_until__lte=at)
    if status == NOT_YET_VALID:
        return Q(revoked=False, valid_from__gt=at) & (Q(valid_until__isnull=True) | Q(valid_until__gt=at))
    raise ValueError(status)


def current_status_q(status: str, at: dt.datetime) -> Q:
    """The condition on StixObject rows that are the latest stored version of their object and of `status`:
    an object's status is its latest version's (an older, still active version of a revoked indicator is not
    "active")."""
    from .models import StixObject

    newer = StixObject.objects.filter(stix_id=OuterRef("stix_id"), modified__gt=OuterRef("modified"))
    return status_q(status, at) & ~Exists(newer)


def status_of(row, at: dt.datetime) -> str:
    """The status of one StixObject row (or anything with revoked / valid_from / valid_until) at `at`."""
    if row.revoked:
        return REVOKED
    if row.valid_until is not None and row.valid_until <= at:
        return EXPIRED
    if row.valid_from is not None and row.valid_from > at:
        return NOT_YET_VALID
    return ACTIVE


def acts(revoked: bool, benign: bool, valid_until, at: dt.datetime) -> bool:
    """Whether an indicator version may block or match now, `valid_from` aside (the matcher checks that when
    a value hits, so a cached matcher starts matching an indicator published ahead of its time on time)."""
    return not revoked and not benign and (valid_until is None or valid_until > at)
