"""Roles a user holds in an organization, and what each role may do.

This table is the one place that says who may do what; `khien.core.scoping`
turns it into querysets. Domain actions (submit a level, approve it, …) are
listed here too so that a reviewer sees every right in one screen.
"""
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    NATIONAL_COORDINATOR = "national_coordinator", _("National coordinator")
    ORG_ADMIN = "org_admin", _("Organization administrator")
    ORG_ANALYST = "org_analyst", _("Organization analyst")
    RESPONDER = "responder", _("Responder")
    AUDITOR = "auditor", _("Auditor")
    TRAINEE = "trainee", _("Trainee")


class Action:
    VIEW = "view"
    ADD = "add"
    CHANGE = "change"
    DELETE = "delete"
    SUBMIT_LEVEL = "submit_level"      # send a security-level dossier for appraisal
    APPRAISE_LEVEL = "appraise_level"  # give the appraisal opinion
    APPROVE_LEVEL = "approve_level"    # approve or return a level (see level framework for who)
    MANAGE_MEMBERS = "manage_members"  # add users and tokens to an organization
    IMPORT = "import"                  # bulk import from CSV/XLSX


ALL_ACTIONS = frozenset(v for k, v in vars(Action).items() if k.isupper())

# Rights a role gives over its organization's subtree.
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.NATIONAL_COORDINATOR: ALL_ACTIONS,
    Role.ORG_ADMIN: frozenset({
        Action.VIEW, Action.ADD, Action.CHANGE, Action.DELETE, Action.SUBMIT_LEVEL,
        Action.APPRAISE_LEVEL, Action.APPROVE_LEVEL, Action.MANAGE_MEMBERS, Action.IMPORT,
    }),
    Role.ORG_ANALYST: frozenset({Action.VIEW, Action.ADD, Action.CHANGE, Action.SUBMIT_LEVEL}),
    Role.RESPONDER: frozenset({Action.VIEW}),
    Role.AUDITOR: frozenset({Action.VIEW}),
    Role.TRAINEE: frozenset({Action.VIEW}),
}

# Roles whose holders must sign in with a second factor.
ROLES_REQUIRING_TOTP = frozenset({Role.NATIONAL_COORDINATOR})
