"""Users, API tokens and the append-only audit log."""
import hashlib
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("e-mail is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username):
        # Log-in by e-mail is case-insensitive.
        return self.get(email__iexact=username)


class EmailNotifications(models.TextChoices):
    ALL = "all", _("Every notification: the urgent ones at once, the others gathered in a digest")
    URGENT = "urgent", _("Only the urgent ones: the others stay in Khiên")


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(_("e-mail"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff"), default=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    # Set when an administrator created the account with an initial password.
    must_change_password = models.BooleanField(_("must change password"), default=False)
    # The language the person chose with the language switch (blank: the platform's): e-mails and notifications
    # built by background jobs are written in it, since a job cannot read the browser's cookie.
    language = models.CharField(_("language"), max_length=10, blank=True, default="")
    # Set when an administrator (or the operator) reset the person's two-step sign-in: whatever their role, their
    # next sign-in shows no page before they enrolled a new authenticator (cleared then).
    must_enrol_second_factor = models.BooleanField(_("must set up two-step sign-in again"), default=False)
    # Raised to end every session of the person at once (a reset second factor: a session opened with the lost phone
    # must not stay open): part of the session's authentication hash (`_get_session_auth_hash`).
    session_generation = models.PositiveIntegerField(_("times all sessions were ended"), default=0, editable=False)
    # What reaches the person by e-mail (`notifications.send_digests`); urgent notifications always do.
    email_notifications = models.CharField(_("e-mail notifications"), max_length=10,
                                           choices=EmailNotifications.choices, default=EmailNotifications.ALL)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]

    def __str__(self):
        return self.full_name or self.email

    def _get_session_auth_hash(self, secret=None):
        """Django's hash of the password, which a session keeps and must still match (a changed password ends the
        other sessions), with the session generation once raised: raising it ends every session of the person.
        Generation 0 gives Django's own hash, so sessions opened before this existed stay valid."""
        if not self.session_generation:
            return super()._get_session_auth_hash(secret=secret)
        from django.utils.crypto import salted_hmac

        return salted_hmac("khien.core.User.session", f"{self.password}:{self.session_generation}", secret=secret,
                           algorithm="sha256").hexdigest()

    @staticmethod
    def audit_value_label(name, value, values):
        """How the log reads the values the two-step sign-in reset records (`services.do_reset_second_factor`)."""
        if name == "second_factor":
            from django.utils.translation import pgettext

            return {"on": pgettext("two-step sign-in", "set up"),
                    "reset": pgettext("two-step sign-in", "reset: to be set up again at the next sign-in")}.get(value)
        return None


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A machine credential. Only its SHA-256 is stored; the key is shown once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user"))
    name = models.CharField(_("name"), max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("prefix"), max_length=12, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.user.email})"

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("the audit log is append-only")

    def delete(self):
        raise PermissionError("the audit log is append-only")

    def visible_to(self, user):
        """The one rule for who reads which entries (log page, entry page, API): the national coordinator reads
        the whole log; anyone else reads the entries filed under the organizations they may view (their own and
        their units: what was done there, by anyone) — sign-ins only where they may read the members — and every
        action of their own, wherever it is filed."""
        from django.apps import apps
        from django.db.models import Q

        from .scoping import is_national_coordinator

        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if is_national_coordinator(user):
            return self
        from khien.registry.services import member_reading_organization_ids

        Organization = apps.get_model("registry", "Organization")
        org_ids = [str(pk) for pk in Organization.objects.visible_to(user).values_list("pk", flat=True)]
        # A sign-in tells when and from where a person works: read, beyond the person, by those who may read the
        # organization's members (its administrators and auditors), not by every colleague.
        sign_in = Q(action="login")
        readers = member_reading_organization_ids(user)
        members = Q() if readers is None else Q(organization_id__in=readers)
        filed_here = Q(organization_id__in=org_ids)
        return self.filter((filed_here & ~sign_in) | (filed_here & members & sign_in) | Q(actor_id=str(user.pk)))


class AuditEntry(models.Model):
    """One write, chained to the previous one by SHA-256 (see core/audit.py).

    Actor and organization are copied as plain values rather than foreign keys
    so that deleting a user never rewrites the log.
    """

    seq = models.BigIntegerField(primary_key=True)
    at = models.DateTimeField(db_index=True)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    organization_id = models.CharField(max_length=64, blank=True, db_index=True)
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=100, db_index=True)
    object_id = models.CharField(max_length=100, db_index=True)
    object_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-seq"]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("the audit log is append-only")

    def __str__(self):
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class Notification(models.Model):
    """One message for one person: shown in the platform, and e-mailed (at once if urgent, else in a digest).

    Written only by `khien.core.notifications.notify` from inside the service whose change it announces,
    so it is rolled back with that change. Notifications are derived from audited changes and are not
    themselves audited (reading one is personal state, not a change to shared data).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications",
                                  verbose_name=_("recipient"))
    kind = models.CharField(_("kind"), max_length=60)
    # `title` and `body` as written, in the platform's language (e-mails, and notifications of callers that give
    # plain text); `texts` keeps those given as `core.texts.Text` untranslated, and the pages write them again in
    # each reader's language (`shown_title`, `shown_body`).
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("text"), blank=True)
    texts = models.JSONField(null=True, blank=True, editable=False)
    url = models.CharField(_("link"), max_length=500, blank=True)
    urgent = models.BooleanField(_("urgent"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="core_notif_unread"),
            models.Index(fields=["emailed_at", "created_at"], name="core_notif_mail_queue"),
        ]

    def __str__(self):
        return self.title

    def _shown(self, part: str, stored: str, limit: int | None = None) -> str:
        from .texts import render_data

        data = (self.texts or {}).get(part) if isinstance(self.texts, dict) else None
        if not isinstance(data, dict):
            return stored
        try:
            text = render_data(data)
        except (KeyError, ValueError, TypeError):  # not a text this version can write: as stored
            return stored
        return text[:limit] if limit else text

    @property
    def shown_title(self) -> str:
        """The title in the active language (as stored for a notification given plain text)."""
        return self._shown("title", self.title, 300)

    @property
    def shown_body(self) -> str:
        return self._shown("body", self.body)
