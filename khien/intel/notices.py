"""Who is told what about shared intelligence: the organizations named as recipients of TLP:RED versions.

TLP:RED is seen only by its producer and the organizations it names (`tlp.py`): a recipient that is not told does
not know to look. `red_shared` — called by `services._store` inside the submission's transaction, so by every path
that names recipients (the pages' forms, the REST API, file imports, the commands, corrections and revocations of a
RED indicator) — tells each organization newly named once per submission, not once per object: its administrators
and analysts, in each reader's language (`notifications.Text`, decision 0015). The notice names the producer and
counts the objects; it carries nothing of their content (a name, a value): notices are e-mailed too, and RED stays
in the platform — the link leads to what the reader may see.
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import ngettext_lazy

from khien.core import notifications
from khien.core.roles import Role
from khien.registry.models import Organization

from .models import Tlp

# The members of a recipient organization who act on intelligence (those who may add and change things there).
RECIPIENT_ROLES = (Role.ORG_ADMIN, Role.ORG_ANALYST)


def _url(stix_ids: set[str], producer_id) -> str:
    """One object: its page; several: the search of the producer's TLP:RED objects (the reader sees those named to
    its organization)."""
    if len(stix_ids) == 1:
        return reverse("intel:object", args=[next(iter(stix_ids))])
    query = {"tlp": Tlp.RED, **({"producer": str(producer_id)} if producer_id else {})}
    return "{}?{}".format(reverse("intel:search"), urlencode(query))


def red_shared(named: dict, *, producer_id) -> int:
    """Tell the organizations of `named` ({organization id: (ids of the objects it is newly a recipient of, ids of
    objects it had received and that have a new version)}) that `producer_id` shared TLP:RED intelligence with
    them; the producer's own organization is not told. Organizations told the same are told at once. Returns the
    notifications written."""
    producer = Organization.objects.filter(pk=producer_id).first() if producer_id else None
    who = notifications.ByLanguage.name_of(producer) if producer is not None else "Khiên"
    groups: dict = {}  # {(new ids, updated ids): [organization ids]}
    for org_id, (new, updated) in named.items():
        if org_id != producer_id and (new or updated):
            groups.setdefault((frozenset(new), frozenset(updated)), []).append(org_id)
    written = 0
    for (new, updated), org_ids in groups.items():
        n_new, n_updated = len(new), len(updated - new)
        versions = notifications.Text(ngettext_lazy(
            "%(producer)s published a new version of %(n)d TLP:RED object shared with your organization.",
            "%(producer)s published new versions of %(n)d TLP:RED objects shared with your organization.",
            n_updated), {"producer": who, "n": n_updated}) if n_updated else None
        if n_new:
            title = notifications.Text(ngettext_lazy(
                "%(producer)s shared %(n)d TLP:RED object with your organization",
                "%(producer)s shared %(n)d TLP:RED objects with your organization", n_new),
                {"producer": who, "n": n_new})
        else:
            title, versions = versions, None
        body = notifications.lines(versions, notifications.Text(_l(
            "TLP:RED: only your organization and the others named may see it; share it with nobody else. Read it "
            "in Khiên.")))
        written += notifications.notify(Organization.objects.filter(pk__in=org_ids, is_active=True),
                                        roles=RECIPIENT_ROLES, kind="intel.red_shared", title=title, body=body,
                                        url=_url(set(new) | set(updated), producer_id))
    return written
