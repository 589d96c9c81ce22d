"""Organizations, their members, sectors, ISACs and information systems.

Invariants live here; every change goes through `services.py`.
"""
import datetime as dt
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from khien.core import resumable
from khien.core.roles import Role
from khien.core.scoping import OrgScopedQuerySet

from .validators import validate_cpes, validate_domains, validate_ip_ranges, validate_phone

code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$",
    _("Use 1–40 letters, digits, dots, dashes or underscores, starting with a letter or digit."),
)


class BilingualNameMixin(models.Model):
    """Vietnamese and English names; `name` follows the active language."""

    name_vi = models.CharField(_("name (Vietnamese)"), max_length=300)
    name_en = models.CharField(_("name (English)"), max_length=300, blank=True)

    class Meta:
        abstract = True

    @property
    def name(self) -> str:
        if (get_language() or "vi").startswith("en") and self.name_en:
            return self.name_en
        return self.name_vi

    def __str__(self):
        return self.name


class Sector(BilingualNameMixin):
    code = models.CharField(_("code"), max_length=40, unique=True, validators=[code_validator])
    description = models.TextField(_("description"), blank=True)
    sort_order = models.PositiveIntegerField(_("display order"), default=100)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("sector")
        verbose_name_plural = _("sectors")


class Province(BilingualNameMixin):
    """A provincial-level unit (34 since the 2025 reorganisation)."""

    code = models.CharField(_("code"), max_length=10, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=[("city", _("Centrally-run city")), ("province", _("Province"))])
    region = models.CharField(_("region"), max_length=20, choices=[("north", _("North")), ("central", _("Central")), ("south", _("South"))])

    class Meta:
        ordering = ["name_vi"]
        verbose_name = _("province")
        verbose_name_plural = _("provinces")


class OrgType(models.TextChoices):
    MINISTRY = "ministry", _("Ministry or ministerial-level agency")
    PROVINCE = "province", _("Provincial People's Committee")
    COMMUNE = "commune", _("Commune or ward People's Committee")
    AGENCY = "agency", _("Department or affiliated unit")
    POLITICAL = "political", _("Political-system body")
    SOE = "soe", _("State-owned enterprise")
    ENTERPRISE = "enterprise", _("Enterprise")
    RESPONDER = "responder", _("Incident-response company")
    TRAINING = "training", _("Training organization")


def ancestor_paths_of(path: str) -> list[str]:
    """The materialized paths of the line of the organization at `path`, from the root down to that organization."""
    segments = [part for part in path.split("/") if part]
    return ["/" + "/".join(segments[:k]) + "/" for k in range(1, len(segments) + 1)]


class OrganizationQuerySet(OrgScopedQuerySet):
    org_path_lookups = ("path",)

    def requiring_second_factor_over(self, paths):
        """The organizations that require two-step sign-in of the members of the organizations at `paths`: those among
        them, or above one of them, whose setting is on (an organization's requirement holds for its units). The one
        rule behind `core.twofactor.role_requires_second_factor` and the edit page's note."""
        lines = {ancestor for path in paths for ancestor in ancestor_paths_of(path)}
        return self.filter(path__in=lines, require_second_factor=True)

    def referable_by(self, user, keep=()):
        """The organizations `user` may name in a reference (a system's owner or operator, a parent, an ISAC's
        operator or members…): those they see, and those the object being edited refers to already (`keep`:
        organizations or their ids). Keeping a reference is not choosing it: an organization's own export names
        the outside operator of its systems and must import back. A code outside both is "not found", worded
        the same whether it exists or not (the form, the API and the import all look codes up here)."""
        visible = self.visible_to(user)
        keep_ids = [getattr(o, "pk", o) for o in keep if o]
        if not keep_ids:
            return visible
        return (visible | self.filter(pk__in=keep_ids)).distinct()


class Organization(BilingualNameMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(_("code"), max_length=40, unique=True, validators=[code_validator],
                            error_messages={"unique": _("This code is already used by another organization.")})
    org_type = models.CharField(_("type"), max_length=20, choices=OrgType.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("parent organization")
    )
    # "/<id>/<child id>/…/": the subtree of an organization is a prefix match (see core/scoping.py).
    path = models.CharField(_("place in the tree"), max_length=600, db_index=True, editable=False)
    province = models.ForeignKey(Province, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("province"))
    sectors = models.ManyToManyField(Sector, blank=True, related_name="organizations", verbose_name=_("sectors"))
    address = models.CharField(_("address"), max_length=300, blank=True)
    hotline = models.CharField(_("24/7 hotline"), max_length=40, blank=True, validators=[validate_phone])
    contact_email = models.EmailField(_("24/7 contact e-mail"), blank=True)
    duty_officer = models.CharField(_("duty officer"), max_length=200, blank=True)
    duty_officer_phone = models.CharField(_("duty officer phone"), max_length=40, blank=True, validators=[validate_phone])
    head_name = models.CharField(_("head of the cybersecurity unit"), max_length=200, blank=True)
    head_title = models.CharField(_("title of the head"), max_length=200, blank=True)
    head_email = models.EmailField(_("e-mail of the head"), blank=True)
    head_phone = models.CharField(_("phone of the head"), max_length=40, blank=True, validators=[validate_phone])
    is_active = models.BooleanField(_("active"), default=True)
    # Set by those who manage its members (`services.do_update_organization`); holds for its units too
    # (`OrganizationQuerySet.requiring_second_factor_over`).
    require_second_factor = models.BooleanField(
        _("require two-step sign-in of its members"), default=False,
        help_text=_("Its members, and those of its units, enter a code from an authenticator app at every sign-in."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def clean(self):
        if self.parent_id and self.parent_id == self.id:
            raise ValidationError({"parent": _("An organization cannot be its own parent.")})
        if self.parent_id and self.path and self.parent.path.startswith(self.path):
            raise ValidationError({"parent": _("The parent cannot be one of the organization's own units.")})

    def compute_path(self) -> str:
        prefix = self.parent.path if self.parent_id else "/"
        return f"{prefix}{self.id.hex}/"

    @property
    def depth(self) -> int:
        return self.path.count("/") - 1

    def ancestor_paths(self) -> list[str]:
        """The materialized paths of the organization's line, from the root down to the organization itself."""
        return ancestor_paths_of(self.path)


class Membership(models.Model):
    """A user's role in one organization (a user may belong to several)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships",
                             verbose_name=_("user"))
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships",
                                     verbose_name=_("organization"))
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="one_role_per_org")]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} @ {self.organization.code}"


class IsacQuerySet(OrgScopedQuerySet):
    org_path_lookups = ("operator__path", "members__path")

    def restrict(self, user, action="view"):
        return super().restrict(user, action).distinct()


class Isac(BilingualNameMixin):
    """A sector information-sharing community: its analysts work in the operator organization."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(_("code"), max_length=40, unique=True, validators=[code_validator],
                            error_messages={"unique": _("This code is already used by another ISAC.")})
    sector = models.ForeignKey(Sector, on_delete=models.PROTECT, null=True, blank=True, related_name="isacs", verbose_name=_("sector"))
    operator = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="operated_isacs", verbose_name=_("operating organization")
    )
    members = models.ManyToManyField(Organization, blank=True, related_name="isacs", verbose_name=_("member organizations"))
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = IsacQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("ISAC")
        verbose_name_plural = _("ISACs")


class LevelFramework(models.Model):
    """One version of the security-level criteria and requirements, loaded from a YAML file."""

    version = models.CharField(_("version"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=300)
    effective_from = models.DateField(_("effective from"))
    is_current = models.BooleanField(_("current"), default=False)
    data = models.JSONField()
    source_sha256 = models.CharField(max_length=64)
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-effective_from"]
        verbose_name = _("level framework")
        verbose_name_plural = _("level frameworks")

    def __str__(self):
        return f"{self.title} ({self.version})"


class LevelStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted for appraisal")
    APPRAISED = "appraised", _("Appraised")
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned")


class OperationalStatus(models.TextChoices):
    PLANNED = "planned", _("Planned / being built")
    IN_OPERATION = "in_operation", _("In operation")
    SUSPENDED = "suspended", _("Suspended")
    RETIRED = "retired", _("Retired")


class LayerState(models.TextChoices):
    MISSING = "missing", _("Missing")
    PARTIAL = "partial", _("Partial")
    IN_PLACE = "in_place", _("In place")


LEVEL_VALIDATORS = [MinValueValidator(1), MaxValueValidator(5)]


class InformationSystemQuerySet(OrgScopedQuerySet):
    # The owner's people may change a system; the operator's may only read it.
    org_path_lookups = ("owner__path", "operator__path")

    def all_layers_in_place(self, today: dt.date | None = None):
        return self.filter(four_layers_complete_q(today))


def level_approved_q() -> Q:
    """The system holds an approved security level: a decision approved one, and it stands while a revision of it
    is being prepared or appraised (the level status then tells the revision's state, not "approved").
    Mirror of `InformationSystem.has_approved_level`; the dashboard, the list filter and the four-layer gaps use it."""
    return Q(approved_level__isnull=False)


# The 4-layer model holds systems of level 3 and above to 24/7 monitoring and a connection to national monitoring.
MONITORED_LEVEL = 3


def level_at_least_q(level: int = MONITORED_LEVEL) -> Q:
    """The system's level is `level` or above, its level being the approved one, else the proposed one while none is
    approved (as for the assessment interval, `assessment_current_q`): a system proposed at level 4 is held to level
    4's rules from its proposal on, not only once a decision is signed. The one rule behind "level 3+ systems", on
    the home page (not declared connected to national monitoring) and the monitoring pages (no live source) alike.
    Mirror of `InformationSystem.effective_level`."""
    return Q(approved_level__gte=level) | Q(approved_level__isnull=True, proposed_level__gte=level)


def assessment_current_q(today: dt.date | None = None) -> Q:
    """The independent assessment (layer 3) is younger than the interval the system's level sets in its framework
    (`levels.assessment_months`; the approved level, else the proposed one). Mirror of
    `InformationSystem.assessment_current`."""
    from . import levels

    today = today or timezone.localdate()
    default_since = levels.months_before(today, levels.DEFAULT_ASSESSMENT_MONTHS)
    q = Q(approved_level__isnull=True, proposed_level__isnull=True) | Q(framework__isnull=True)
    q &= Q(layer3_assessed_on__gte=default_since)
    for framework in LevelFramework.objects.all():
        for level in range(1, 6):
            since = levels.months_before(today, levels.assessment_months(framework, level))
            of_level = Q(approved_level=level) | Q(approved_level__isnull=True, proposed_level=level)
            q |= Q(framework=framework) & of_level & Q(layer3_assessed_on__gte=since)
    return q


def four_layers_complete_q(today: dt.date | None = None) -> Q:
    """The 4-layer model holds: all four layers in place and the assessment within its level's interval.

    Mirror of `InformationSystem.four_layer_gaps()`; a test checks the two agree.
    """
    return Q(
        layer1_status=LayerState.IN_PLACE,
        layer2_status=LayerState.IN_PLACE,
        layer3_status=LayerState.IN_PLACE,
        layer4_status=LayerState.IN_PLACE,
    ) & assessment_current_q(today)


class InformationSystem(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(_("code"), max_length=40, unique=True, validators=[code_validator],
                            error_messages={"unique": _("This code is already used by another information system.")})
    name = models.CharField(_("name"), max_length=300)
    owner = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="systems", verbose_name=_("owner organization")
    )
    operator = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="operated_systems",
        verbose_name=_("operating organization"),
    )
    purpose = models.TextField(_("purpose"), blank=True)

    # Security level (cấp độ) and its approval.
    framework = models.ForeignKey(LevelFramework, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("criteria version"))
    criteria = models.JSONField(_("criteria answers"), default=dict, blank=True)
    suggested_level = models.PositiveSmallIntegerField(_("suggested level"), null=True, blank=True, validators=LEVEL_VALIDATORS)
    suggestion_reason = models.TextField(_("reason for the suggested level"), blank=True)
    proposed_level = models.PositiveSmallIntegerField(_("proposed level"), null=True, blank=True, validators=LEVEL_VALIDATORS)
    # Required while the proposal is a draft (or returned) whose level is below the suggested one: the appraiser reads it.
    level_justification = models.TextField(_("justification for a level below the suggested one"), blank=True)
    approved_level = models.PositiveSmallIntegerField(_("approved level"), null=True, blank=True, validators=LEVEL_VALIDATORS)
    level_status = models.CharField(_("level status"), max_length=20, choices=LevelStatus.choices, default=LevelStatus.DRAFT, db_index=True)
    appraisal_opinion = models.TextField(_("appraisal opinion"), blank=True)
    decision_number = models.CharField(_("decision number"), max_length=60, blank=True)
    decision_date = models.DateField(_("decision date"), null=True, blank=True)

    operational_status = models.CharField(
        _("operational status"), max_length=20, choices=OperationalStatus.choices, default=OperationalStatus.PLANNED
    )
    important_to_national_security = models.BooleanField(_("important to national security"), default=False)
    internet_facing = models.BooleanField(_("Internet-facing"), default=False)

    # What later modules target warnings and alerts with.
    ip_ranges = models.JSONField(_("IP ranges"), default=list, blank=True, validators=[validate_ip_ranges])
    domains = models.JSONField(_("domains"), default=list, blank=True, validators=[validate_domains])
    products = models.JSONField(_("products (CPE)"), default=list, blank=True, validators=[validate_cpes])

    # The 4-layer model.
    layer1_status = models.CharField(_("layer 1: on-site force"), max_length=10, choices=LayerState.choices, default=LayerState.MISSING)
    layer1_evidence = models.TextField(_("layer 1 evidence"), blank=True)
    layer2_status = models.CharField(_("layer 2: 24/7 monitoring"), max_length=10, choices=LayerState.choices, default=LayerState.MISSING)
    layer2_provider = models.CharField(_("monitoring provider (SOC)"), max_length=200, blank=True)
    layer2_evidence = models.TextField(_("layer 2 evidence"), blank=True)
    layer3_status = models.CharField(_("layer 3: independent assessment"), max_length=10, choices=LayerState.choices, default=LayerState.MISSING)
    layer3_assessed_on = models.DateField(_("date of the last independent assessment"), null=True, blank=True)
    layer3_assessor = models.CharField(_("assessor"), max_length=200, blank=True)
    layer3_evidence = models.TextField(_("layer 3 evidence"), blank=True)
    layer4_status = models.CharField(_("layer 4: connection to national monitoring"), max_length=10, choices=LayerState.choices, default=LayerState.MISSING)
    layer4_connected_on = models.DateField(_("connected to national monitoring on"), null=True, blank=True)
    layer4_evidence = models.TextField(_("layer 4 evidence"), blank=True)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = InformationSystemQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("information system")
        verbose_name_plural = _("information systems")
        indexes = [models.Index(fields=["owner", "level_status"]), models.Index(fields=["approved_level"])]

    def __str__(self):
        return f"{self.code} — {self.name}"

    @classmethod
    def from_db(cls, db, field_names, values):
        system = super().from_db(db, field_names, values)
        # The status as stored, for the rule on putting a planned system in operation (`clean`).
        system._stored_operational_status = getattr(system, "operational_status", None)
        return system

    def clean(self):
        # Every broken rule at once: a form shows them all after one submission, not one per round.
        errors = {}
        # A planned system is put in operation only once its level is approved (plan 003: systems being built must
        # have their level approved before official operation). One registered as already in operation is accepted
        # without it: the plans ask to classify the systems in use (plan 004: 100 % of those in operation), so they
        # are registered as they are and the missing approval shows as a gap.
        if (self.operational_status == OperationalStatus.IN_OPERATION and self.approved_level is None
                and getattr(self, "_stored_operational_status", None) == OperationalStatus.PLANNED):
            errors["operational_status"] = _("A system cannot be put in operation before its security level is approved.")
        if self.layer3_status == LayerState.IN_PLACE and not self.layer3_assessed_on:
            errors["layer3_assessed_on"] = _("Give the date of the independent assessment.")
        # A date to come would hide a gap (an assessment "done" in 2099 never goes out of date).
        today = timezone.localdate()
        for field in ("layer3_assessed_on", "layer4_connected_on"):
            if getattr(self, field) and getattr(self, field) > today:
                errors[field] = _("This date is in the future.")
        if self.level_status in (LevelStatus.DRAFT, LevelStatus.RETURNED) and self.needs_level_justification():
            errors["level_justification"] = self.justification_message()
        if errors:
            raise ValidationError(errors)

    @property
    def suggestion_reason_text(self) -> str:
        """The reason for the suggested level in the reader's language (`levels.suggestion_reason`); the stored
        `suggestion_reason` is the text written at save time, kept as a fallback."""
        from . import levels

        return levels.suggestion_reason(self)

    def proposed_below_suggestion(self) -> bool:
        return bool(self.proposed_level and self.suggested_level and self.proposed_level < self.suggested_level)

    def needs_level_justification(self) -> bool:
        """A level proposed below the one the criteria suggest must say why (checked on save and on submit)."""
        return self.proposed_below_suggestion() and not (self.level_justification or "").strip()

    def justification_message(self) -> str:
        return _("You propose level %(proposed)s, below the level %(suggested)s the criteria suggest: explain why "
                 "in the justification.") % {"proposed": self.proposed_level, "suggested": self.suggested_level}

    @property
    def has_approved_level(self) -> bool:
        """See `level_approved_q`."""
        return self.approved_level is not None

    @property
    def effective_level(self) -> int | None:
        """The level the system is held to: the approved one, else the proposed one (see `level_at_least_q`)."""
        return self.approved_level if self.approved_level is not None else self.proposed_level

    @property
    def held_to_national_monitoring(self) -> bool:
        """A level-3+ system (`level_at_least_q`): the 4-layer model asks it to be connected to national monitoring."""
        return (self.effective_level or 0) >= MONITORED_LEVEL

    @property
    def under_revision(self) -> bool:
        """An approved level stands while a new proposal is on its way (started with the "revise" step)."""
        return self.has_approved_level and self.level_status != LevelStatus.APPROVED

    @property
    def connected_to_national_monitoring(self) -> bool:
        return self.layer4_status == LayerState.IN_PLACE

    def four_layer_gaps(self, today: dt.date | None = None) -> list[str]:
        """Gap codes shown on the page and in the API (see `four_layers_complete_q`)."""
        today = today or timezone.localdate()
        gaps = []
        if not self.has_approved_level:
            gaps.append("level_unapproved")
        for n in (1, 2, 3, 4):
            if getattr(self, f"layer{n}_status") != LayerState.IN_PLACE:
                gaps.append(f"layer{n}_missing")
        if not self.assessment_current(today):
            gaps.append("assessment_outdated")
        return gaps

    def assessment_months(self) -> int:
        """Every how many months this system's level asks for an independent assessment."""
        from . import levels

        level = self.approved_level if self.approved_level is not None else self.proposed_level
        return levels.assessment_months(self.framework if self.framework_id else None, level)

    def assessment_current(self, today: dt.date | None = None) -> bool:
        """See `assessment_current_q`."""
        from . import levels

        today = today or timezone.localdate()
        return (self.layer3_assessed_on is not None
                and self.layer3_assessed_on >= levels.months_before(today, self.assessment_months()))


GAP_LABELS = {
    "level_unapproved": _("Security level not approved"),
    "layer1_missing": _("No on-site cybersecurity force (layer 1)"),
    "layer2_missing": _("No 24/7 monitoring (layer 2)"),
    "layer3_missing": _("No independent assessment (layer 3)"),
    "layer4_missing": _("Not connected to national monitoring (layer 4)"),
    "assessment_outdated": _("Independent assessment missing or older than the interval its level sets"),
}


class LevelAction(models.TextChoices):
    """The steps of the approval workflow (`services.TRANSITIONS`), as the history names them once taken."""

    SUBMIT = "submit", _("Submitted")
    APPRAISE = "appraise", _("Appraised")
    APPROVE = "approve", _("Approved")
    RETURN = "return", _("Returned")
    REVISE = "revise", _("Revision started")


class LevelEvent(models.Model):
    """One step of the level approval workflow: who did what, when.

    Every field a reader sees has a label and every code its choices: the system's history, the API and the audit
    log's entry for an event show words, not codes."""

    system = models.ForeignKey(InformationSystem, on_delete=models.CASCADE, related_name="level_events",
                               verbose_name=_("information system"))
    action = models.CharField(_("action"), max_length=20, choices=LevelAction.choices)
    from_status = models.CharField(_("level status before"), max_length=20, choices=LevelStatus.choices)
    to_status = models.CharField(_("level status after"), max_length=20, choices=LevelStatus.choices)
    level = models.PositiveSmallIntegerField(_("level"), null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                              verbose_name=_("user"))
    actor_email = models.CharField(_("e-mail"), max_length=254)
    at = models.DateTimeField(_("time"), default=timezone.now)
    note = models.TextField(_("note"), blank=True)
    decision_number = models.CharField(_("decision number"), max_length=60, blank=True)
    decision_date = models.DateField(_("decision date"), null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("level event")
        verbose_name_plural = _("level events")

    def __str__(self):
        # Language-neutral (the audit log keeps this text as written): the system, named by its id, which the log
        # pages show as the system's name to those who may see it.
        return str(self.system_id)


def dossier_upload_to(instance, filename):
    return f"dossiers/{instance.system_id}/{uuid.uuid4().hex}"


class DossierFile(models.Model):
    """A file of the level dossier (hồ sơ đề xuất cấp độ); stored with its SHA-256."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    system = models.ForeignKey(InformationSystem, on_delete=models.CASCADE, related_name="dossier_files",
                               verbose_name=_("information system"))
    file = models.FileField(_("stored file"), upload_to=dossier_upload_to)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField("SHA-256", max_length=64)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                                    verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        ordering = ["uploaded_at"]
        verbose_name = _("dossier file")
        verbose_name_plural = _("dossier files")

    def __str__(self):
        return self.original_name


class ImportKind(models.TextChoices):
    ORGANIZATIONS = "organizations", _("Organizations")
    SYSTEMS = "systems", _("Information systems")


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    VALIDATING = "validating", _("Checking rows")
    WRITING = "writing", _("Saving")
    DONE = "done", _("Done")
    REJECTED = "rejected", _("Rejected: nothing was changed")
    FAILED = "failed", _("Failed: nothing was changed")


FINISHED_IMPORT_STATUSES = (ImportStatus.DONE, ImportStatus.REJECTED, ImportStatus.FAILED)


def import_upload_to(instance, filename):
    return f"imports/{instance.id.hex}"


class ImportJob(models.Model):
    """One uploaded CSV/XLSX file being imported; all rows or none are written.

    The page polls it to show progress; `errors` is the per-row report. The run moves `updated_at` as it
    goes: a job whose run stopped (the web process restarted) is run again from its file by the worker
    (`imports.resume_stale_imports`, `core.resumable`).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=20, choices=ImportKind.choices)
    file = models.FileField(upload_to=import_upload_to)
    original_name = models.CharField(_("file name"), max_length=255)
    status = models.CharField(_("status"), max_length=20, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)  # rows that matched what is stored: nothing written
    errors = models.JSONField(default=list, blank=True)  # [{"row": 3, "field": "code", "message": "…"}]
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)  # the run's last sign of life
    attempts = models.PositiveSmallIntegerField(default=1)  # runs started: the first, then the worker's
    # The requester's language, so that a run the worker resumes reports in it as the first run would have.
    language = models.CharField(max_length=10, default=settings.LANGUAGE_CODE)
    max_runs = resumable.MAX_RUNS

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} — {self.original_name}"

    @property
    def percent(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_IMPORT_STATUSES
