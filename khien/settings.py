"""Django settings for Khiên.

Everything that differs between a laptop, CI and production comes from the
environment (KHIEN_*), so the same code runs embedded (SQLite) and at scale
(PostgreSQL). See docs/operator-guide.md for every variable.
"""
from datetime import timedelta
from pathlib import Path
import os
import secrets

from django.utils.translation import gettext_lazy as _

from khien.formats import dates as _dates

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """A key from the environment, or one generated once and kept beside the database."""
    if os.environ.get("KHIEN_SECRET_KEY"):
        return os.environ["KHIEN_SECRET_KEY"]
    key_file = BASE_DIR / ".secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# Earlier secret keys, while a rotation is under way: sessions, signed links and sealed secrets made with them
# still open (`khien reseal` seals the secrets again under the new key; operator guide).
SECRET_KEY_FALLBACKS = [k for k in os.environ.get("KHIEN_SECRET_KEY_FALLBACKS", "").split(",") if k.strip()]
DEBUG = env_bool("KHIEN_DEBUG", False)
ALLOWED_HOSTS = [h for h in os.environ.get("KHIEN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("KHIEN_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "khien.core",
    "khien.registry",
    "khien.intel",
    "khien.incidents",
    "khien.telemetry",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "khien.core.compression.TextGZipMiddleware",  # above WhiteNoise, so that CSS and scripts are compressed too
    "whitenoise.middleware.WhiteNoiseMiddleware",  # serves CSS/JS/charts itself: no CDN, no web server needed
    "django.contrib.sessions.middleware.SessionMiddleware",
    "khien.core.middleware.VietnameseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "khien.core.middleware.RefusalLogMiddleware",  # a signed-in user's 403s and 404s on objects: khien.security
    "khien.core.middleware.RefuseNulMiddleware",
    "khien.core.middleware.SecondFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "khien.core.middleware.SecurityHeadersMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "khien.urls"
WSGI_APPLICATION = "khien.wsgi.application"
ASGI_APPLICATION = "khien.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "khien.core.context_processors.platform",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# SQLite by default (a fresh checkout needs no server); PostgreSQL in production
# and in the second half of the test run: KHIEN_DB=postgres plus KHIEN_PG_* vars.
if os.environ.get("KHIEN_DB", "sqlite") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("KHIEN_PG_NAME", "khien"),
            "USER": os.environ.get("KHIEN_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("KHIEN_PG_PASSWORD", ""),
            "HOST": os.environ.get("KHIEN_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("KHIEN_PG_PORT", "5432"),
            "CONN_MAX_AGE": 60,
            "TEST": {"NAME": os.environ.get("KHIEN_PG_TEST_NAME", "test_khien")},
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("KHIEN_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                # The page size applies when the file is created (before WAL is on); an existing database keeps
                # its own (operator guide: how to convert). Larger pages: fewer frames per commit (decision 0009).
                "init_command": f"PRAGMA page_size={int(os.environ.get('KHIEN_SQLITE_PAGE_SIZE', '16384'))}; "
                                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                                # Reads of a large store through the operating system's page cache (memory-mapped)
                                # rather than copied into SQLite's small cache: a national list's deep page on a
                                # million events read much faster. It only bounds what may be mapped.
                                f"PRAGMA mmap_size={int(os.environ.get('KHIEN_SQLITE_MMAP_MB', '1024')) * 1048576};",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "core:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Failed-login throttling (django-axes): 5 failures per account+address, 15 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("KHIEN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("KHIEN_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "core/lockout.html"
AXES_VERBOSE = False

OTP_TOTP_ISSUER = "Khiên"

# --- Sessions, cookies, headers ------------------------------------------------------
SECURE = env_bool("KHIEN_HTTPS", False)  # behind TLS in production
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 3600  # one working day
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if SECURE:
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy: nothing from any external origin, no inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Internationalisation ------------------------------------------------------------
LANGUAGE_CODE = "vi"
FORMAT_MODULE_PATH = ["khien.formats"]  # Vietnamese numbers grouped by thousands (14.479); dates typed day first
DATE_INPUT_FORMATS, DATETIME_INPUT_FORMATS = _dates.DATE_INPUT_FORMATS, _dates.DATETIME_INPUT_FORMATS  # any language
LANGUAGES = [("vi", _("Vietnamese")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"  # shown; stored in UTC
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_NAME = "khien_language"
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Static and uploaded files ------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True  # serve straight from the app folders; `collectstatic` is optional
MEDIA_ROOT = Path(os.environ.get("KHIEN_MEDIA_ROOT", BASE_DIR / "media"))
# The user guide served at /guide/ (khien/core/guide.py); default: docs/user-guide of the checkout.
GUIDE_DIR = os.environ.get("KHIEN_GUIDE_DIR") or None
MEDIA_URL = "/media/"  # never served directly: files go through permission-checked views
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("KHIEN_MAX_REQUEST_BYTES", str(20 * 1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
KHIEN_MAX_UPLOAD_BYTES = int(os.environ.get("KHIEN_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))
KHIEN_IMPORT_MAX_ROWS = int(os.environ.get("KHIEN_IMPORT_MAX_ROWS", "50000"))
# Work a web process accepted and runs in a thread (imports, large TAXII submissions) whose sign of life has
# not moved for this long is taken as cut off by a restart and run again by the worker (core/resumable.py).
KHIEN_IMPORT_STALE_SECONDS = float(os.environ.get("KHIEN_IMPORT_STALE_SECONDS", "300"))
KHIEN_TAXII_ASYNC_STALE_SECONDS = float(os.environ.get("KHIEN_TAXII_ASYNC_STALE_SECONDS", "300"))
# TAXII 2.1: largest accepted request body (also announced as the API root's max_content_length),
# and whether TLP:CLEAR intelligence is served to unauthenticated callers.
KHIEN_TAXII_MAX_CONTENT_LENGTH = int(os.environ.get("KHIEN_TAXII_MAX_CONTENT_LENGTH", str(10 * 1024 * 1024)))
KHIEN_PUBLIC_CLEAR_FEED = env_bool("KHIEN_PUBLIC_CLEAR_FEED", False)
# A TAXII submission with more objects is answered `pending` at once and stored in the background.
KHIEN_TAXII_ASYNC_THRESHOLD = int(os.environ.get("KHIEN_TAXII_ASYNC_THRESHOLD", "1000"))
# Largest intelligence file imported (STIX, MISP, CSV); most objects in one MISP export (built in memory).
KHIEN_INTEL_IMPORT_MAX_BYTES = int(os.environ.get("KHIEN_INTEL_IMPORT_MAX_BYTES", str(KHIEN_TAXII_MAX_CONTENT_LENGTH)))
KHIEN_INTEL_MISP_EXPORT_MAX_OBJECTS = int(os.environ.get("KHIEN_INTEL_MISP_EXPORT_MAX_OBJECTS", "20000"))
# Pulls from partners' TAXII servers: objects per page, HTTP timeout in seconds.
KHIEN_FEDERATION_PAGE_SIZE = int(os.environ.get("KHIEN_FEDERATION_PAGE_SIZE", "1000"))
KHIEN_FEDERATION_TIMEOUT = float(os.environ.get("KHIEN_FEDERATION_TIMEOUT", "30"))
# The DNS response-policy zone of the domain blocklist: its name and TTL.
KHIEN_RPZ_ZONE = os.environ.get("KHIEN_RPZ_ZONE", "rpz.khien.vn.")
KHIEN_RPZ_TTL = int(os.environ.get("KHIEN_RPZ_TTL", "300"))
# Incident deadlines: a reminder this many hours before; the check looks at incidents reported within these days.
KHIEN_INCIDENT_DEADLINE_LEAD_HOURS = float(os.environ.get("KHIEN_INCIDENT_DEADLINE_LEAD_HOURS", "2"))
KHIEN_INCIDENT_DEADLINE_LOOKBACK_DAYS = float(os.environ.get("KHIEN_INCIDENT_DEADLINE_LOOKBACK_DAYS", "90"))
# Fonts of the incident PDF reports (empty: the DejaVu fonts fetched with the other front-end assets).
KHIEN_PDF_FONT_DIR = os.environ.get("KHIEN_PDF_FONT_DIR", "")

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first, so an anonymous API call answers 401 with WWW-Authenticate: Token.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "khien.core.api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies bounded by DATA_UPLOAD_MAX_MEMORY_SIZE (413) and deep nesting refused (400) on every view.
    "DEFAULT_PARSER_CLASSES": [
        "khien.core.api.parsers.LimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "khien.core.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "khien.core.api.schema.PlatformAutoSchema",
    "EXCEPTION_HANDLER": "khien.core.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": "60/minute"},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # `?format=` is a filter of ours (sources by format), not DRF's switch of renderer (which answered 404).
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Khiên API",
    "DESCRIPTION": "API of the Khiên national cybersecurity coordination platform. "
    "Authenticate with `Authorization: Token <key>`: create a key on the [API tokens](/me/tokens/) page "
    "(user menu); the [user guide](/guide/) tells what each part of the platform does.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets shared by several fields get one name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "LayerStateEnum": "khien.registry.models.LayerState",
        "LevelStatusEnum": "khien.registry.models.LevelStatus",
        "ImportKindEnum": "khien.registry.models.ImportKind",
        "ProvinceKindEnum": [("city", "city"), ("province", "province")],
        # Without these the incident workflow's `status` collides with the registry's level workflow.
        "IncidentStatusEnum": "khien.incidents.models.Status",
        "TaskStatusEnum": "khien.incidents.models.TaskStatus",
        "TlpEnum": "khien.intel.models.Tlp",
        "SourceFormatEnum": "khien.telemetry.models.SourceFormat",
        "ObservableKindEnum": "khien.incidents.models.ObservableKind",
        "IndicatorKindEnum": "khien.intel.models.IndicatorKind",
        "AlertStatusEnum": "khien.telemetry.models.AlertStatus",
        # A warning's acknowledgement state collides with an evidence item's integrity `state`.
        "AckStateEnum": "khien.intel.models.AckState",
    },
}

# --- E-mail (notifications); console in the embedded default ----------------------------
EMAIL_BACKEND = os.environ.get("KHIEN_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("KHIEN_FROM_EMAIL", "khien@localhost")
EMAIL_FILE_PATH = os.environ.get("KHIEN_EMAIL_FILE_PATH", str(BASE_DIR / "outbox"))  # for the file backend
EMAIL_HOST = os.environ.get("KHIEN_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("KHIEN_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("KHIEN_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("KHIEN_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("KHIEN_EMAIL_TLS", False)
# Non-urgent notifications wait this long and go out as one digest e-mail per person.
KHIEN_NOTIFICATION_DIGEST_SECONDS = int(os.environ.get("KHIEN_NOTIFICATION_DIGEST_SECONDS", "300"))
# Address of the platform as users reach it, for links in e-mails (e.g. https://khien.example.gov.vn).
KHIEN_PUBLIC_URL = os.environ.get("KHIEN_PUBLIC_URL", "http://127.0.0.1:8000")
# A one-time link to choose a password (a new account, a forgotten password) works for three days.
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600
# "Forgot your password?": at most this many links per client address an hour (one per account per 10 minutes).
KHIEN_PASSWORD_LINK_CLIENT_LIMIT = int(os.environ.get("KHIEN_PASSWORD_LINK_CLIENT_LIMIT", "10"))

# --- Logging: never log secrets (tokens, passwords, TOTP codes) -----------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "khien.core.logging.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("KHIEN_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
