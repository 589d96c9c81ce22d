"""Federation: a local collection subscribed to a remote TAXII 2.1 collection, pulled on a schedule.

Changed only through `khien.intel.federation` (do_create_subscription, do_update_subscription,
do_delete_subscription, do_pull). The secret (`password`: a password for HTTP basic
authentication, or a bearer token) is stored to be able to pull, but never shown back,
never written to the audit log (`audit.snapshot` skips fields named "password") and never logged;
the database holds it sealed (`khien.core.sealed`).
"""
import uuid

from django.core.validators import MaxLengthValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from khien.core.sealed import SealedTextField

MAX_SECRET_LENGTH = 1000  # characters of a partner's password or token


class FeedAuth(models.TextChoices):
    NONE = "none", _("No authentication")
    BASIC = "basic", _("User name and password")
    TOKEN = "token", _("Token (Authorization: Token …)")
    BEARER = "bearer", _("Bearer token (Authorization: Bearer …)")


class FeedStatus(models.TextChoices):
    NEVER = "never", _("Never pulled")
    OK = "ok", _("Succeeded")
    PARTIAL = "partial", _("Partly succeeded")
    ERROR = "error", _("Failed")


subscription_name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]{0,62}$",
    _("Use 1–63 lowercase letters, digits, dashes or underscores, starting with a letter or digit."),
)


class FeedSubscription(models.Model):
    """A subscription of a local collection to a remote TAXII 2.1 collection."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=63, unique=True, validators=[subscription_name_validator])
    collection = models.ForeignKey("intel.Collection", on_delete=models.CASCADE, related_name="subscriptions",
                                   verbose_name=_("local collection"))
    api_root_url = models.URLField(_("remote API root URL"), max_length=500)
    remote_collection_id = models.CharField(_("remote collection id"), max_length=200)
    auth_kind = models.CharField(_("authentication"), max_length=10, choices=FeedAuth.choices,
                                 default=FeedAuth.NONE)
    username = models.CharField(_("user name"), max_length=200, blank=True)
    # A password (basic) or a token (token). Never shown back, never audited, never logged; sealed in the
    # database (core.sealed: encrypted under a key derived from SECRET_KEY).
    password = SealedTextField(_("password or token"), blank=True, validators=[MaxLengthValidator(MAX_SECRET_LENGTH)])
    verify_tls = models.BooleanField(_("verify the TLS certificate"), default=True)
    interval_minutes = models.PositiveIntegerField(_("interval (minutes)"), default=60,
                                                   validators=[MinValueValidator(1)])
    enabled = models.BooleanField(_("enabled"), default=True)
    # High-water mark: the remote's X-TAXII-Date-Added-Last of the last page imported.
    added_after = models.DateTimeField(_("pulled up to (remote date added)"), null=True, blank=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    last_status = models.CharField(_("last status"), max_length=10, choices=FeedStatus.choices,
                                   default=FeedStatus.NEVER)
    last_error = models.TextField(_("last error"), blank=True)
    last_count = models.PositiveIntegerField(_("objects received in the last run"), default=0)
    total_count = models.PositiveBigIntegerField(_("objects received in total"), default=0)
    created_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("feed subscription")
        verbose_name_plural = _("feed subscriptions")

    def __str__(self):
        return self.name
