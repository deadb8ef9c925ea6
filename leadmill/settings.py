"""Leadmill settings, read from environment variables.

Every variable is documented in docs/configuration.md. The defaults give the embedded mode:
SQLite in WAL mode and Huey on SQLite under ``LEADMILL_DATA_DIR``, email to a local outbox.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DATA_DIR = Path(env("LEADMILL_DATA_DIR", "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("LEADMILL_DEBUG", False)
TESTING = env_bool("LEADMILL_TESTING", False)


def _secret_key() -> str:
    """SECRET_KEY from the environment; in the embedded mode, one generated into the data dir."""
    if key := env("SECRET_KEY"):
        return key
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        from django.utils.crypto import get_random_string

        key_file.write_text(get_random_string(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# Old keys still accepted while links signed with them are out there (emails already sent).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
# The suppression list's hashing key, never rotated with SECRET_KEY (consent/selectors.py);
# unset: pinned in $LEADMILL_DATA_DIR/suppression_key, and `check --deploy` warns.
LEADMILL_SUPPRESSION_KEY = env("LEADMILL_SUPPRESSION_KEY")
LEADMILL_SUPPRESSION_KEY_FALLBACKS = env_list("LEADMILL_SUPPRESSION_KEY_FALLBACKS")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
BASE_URL = env("LEADMILL_BASE_URL", f"http://127.0.0.1:{env('PORT', '8000')}").rstrip("/")
WAGTAILADMIN_BASE_URL = BASE_URL

INSTALLED_APPS = [
    "leadmill.core",
    "leadmill.contacts",
    "leadmill.consent",
    "leadmill.messaging",
    "leadmill.tracking",
    "leadmill.capture",
    "leadmill.scoring",
    "leadmill.segments",
    "leadmill.nurture",
    "leadmill.sales",
    "leadmill.analytics",
    "leadmill.integrations",
    "leadmill.privacy",
    "leadmill.api",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.contrib.routable_page",
    "wagtail.contrib.simple_translation",  # "Translate" on pages and snippets (ADR 43)
    "wagtail.locales",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "huey.contrib.djhuey",
    "anymail",
    "axes",  # back-office sign-in throttling
    "csp",  # Content-Security-Policy (leadmill.core.csp)
    "ninja",  # serves the API docs' Swagger UI from static files, not a CDN
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

# The lean paths (leadmill/core/wsgi.py: form posts, tracking, static files) run a subset of
# these, in this order (core.wsgi.lean_middleware); a system check names any they miss.
MIDDLEWARE = [
    "leadmill.core.middleware.DatabaseUnavailableMiddleware",
    # ALLOWED_HOSTS, checked before anything else reads the host (CommonMiddleware checks it
    # too, later; the lean paths run without CommonMiddleware).
    "leadmill.core.middleware.AllowedHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "leadmill.core.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    # Last, as django-axes asks: it answers a locked-out sign-in with the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "leadmill.urls"
WSGI_APPLICATION = "leadmill.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
SQLITE_PATH = DATA_DIR / "leadmill.sqlite3"
DATABASE_URL = env("DATABASE_URL")
CONN_MAX_AGE = env_int("DB_CONN_MAX_AGE", 600)
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=CONN_MAX_AGE, conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            "CONN_MAX_AGE": CONN_MAX_AGE,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA busy_timeout=20000;"
                    "PRAGMA foreign_keys=ON;"
                ),
            },
        }
    }
if test_name := env("LEADMILL_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": test_name}
elif TESTING and not DATABASE_URL:
    # A file, not Django's shared in-memory database: there, a browser test's live server
    # and the test itself fail at once on a locked table instead of waiting as in production.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: counters shared by every process (rate limits) ---------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("LEADMILL_CACHE_PREFIX", "leadmill"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "leadmill_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# --- Background work (Huey) ----------------------------------------------------------------
HUEY_IMMEDIATE = env_bool("HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": env("HUEY_NAME", "leadmill"),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {
            "workers": env_int("HUEY_WORKERS", 6),
            "worker_type": "thread",
            # An idle consumer polls at most a second apart (Huey's default backs off to 10 s),
            # so a form post becomes a lead within about a second.
            "max_delay": 1.0,
            "verbose": False,  # warnings only: periodic tasks would log every minute
            # SIGTERM (what `leadmill run`, systemd and Docker send) lets running tasks finish,
            # for at most 15 s; Huey's default takes it as an immediate stop.
            "graceful_signal": "TERM",
            "shutdown_timeout": 15,
        },
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "leadmill",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        # No fsync per enqueue: what a task does is durable in the main database already
        # (received submissions, the outbox) and periodic tasks pick it up after a crash.
        "fsync": False,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {
            "workers": env_int("HUEY_WORKERS", 6),
            "worker_type": "thread",
            # An idle consumer polls at most a second apart (Huey's default backs off to 10 s),
            # so a form post becomes a lead within about a second.
            "max_delay": 1.0,
            "verbose": False,  # warnings only: periodic tasks would log every minute
            # SIGTERM (what `leadmill run`, systemd and Docker send) lets running tasks finish,
            # for at most 15 s; Huey's default takes it as an immediate stop.
            "graceful_signal": "TERM",
            "shutdown_timeout": 15,
        },
    }

# Wagtail's own internal tasks stay on django-tasks' immediate backend.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

# --- Email ---------------------------------------------------------------------------------
EMAIL_URL = env("EMAIL_URL")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Leadmill <leads@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if EMAIL_URL:
    from urllib.parse import unquote, urlparse

    _email = urlparse(EMAIL_URL)
    EMAIL_BACKEND = "leadmill.messaging.backends.SMTPEmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or 25
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_SSL = _email.scheme == "smtps"
    EMAIL_USE_TLS = _email.scheme == "submission" or "tls=1" in (_email.query or "")
elif env("EMAIL_HOST"):
    EMAIL_BACKEND = "leadmill.messaging.backends.SMTPEmailBackend"
    EMAIL_HOST = env("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
else:
    # The embedded default: every message is kept in the outbox the back office shows.
    EMAIL_BACKEND = "leadmill.messaging.backends.OutboxEmailBackend"
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
# Bounce and complaint webhooks of the email service provider, under /anymail/ (django-anymail).
# Basic-auth "user:password" the ESP must send; unset, a random one nobody knows refuses all.
ANYMAIL = {
    "WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET") or f"off:{os.urandom(24).hex()}",
}

# --- Contacts ------------------------------------------------------------------------------
LEADMILL_PHONE_REGION = env("LEADMILL_PHONE_REGION", "US")
LEADMILL_EMAIL_CHECK_DELIVERABILITY = env_bool("LEADMILL_EMAIL_CHECK_DELIVERABILITY", False)

# --- Capture -------------------------------------------------------------------------------
LEADMILL_FORM_MIN_SECONDS = env_int("LEADMILL_FORM_MIN_SECONDS", 3)
LEADMILL_FORM_MAX_SECONDS = env_int("LEADMILL_FORM_MAX_SECONDS", 86_400)
# Valid posts one render token may make in an hour without a proof-of-work (capture/proof.py).
LEADMILL_FORM_TOKEN_POSTS = env_int("LEADMILL_FORM_TOKEN_POSTS", 3)
# The proof-of-work's size: SHA-256 hashes a browser tries, at most (half of it on average).
LEADMILL_FORM_PROOF_MAX_NUMBER = env_int("LEADMILL_FORM_PROOF_MAX_NUMBER", 50_000)
# Processing attempts of a submission that fails with an error, retried with backoff.
LEADMILL_SUBMISSION_PROCESS_ATTEMPTS = env_int("LEADMILL_SUBMISSION_PROCESS_ATTEMPTS", 5)
# Drains of received submissions that may run at once on PostgreSQL (SQLite: always one).
LEADMILL_INTAKE_DRAINS = env_int("LEADMILL_INTAKE_DRAINS", 2)
LEADMILL_RATE_LIMIT_PER_IP = env_int("LEADMILL_RATE_LIMIT_PER_IP", 10)
LEADMILL_RATE_LIMIT_PER_FORM = env_int("LEADMILL_RATE_LIMIT_PER_FORM", 30_000)
LEADMILL_RATE_LIMIT_WINDOW = env_int("LEADMILL_RATE_LIMIT_WINDOW", 60)
# Requests each API key may make per window (0: no limit); beyond, 429 with Retry-After.
LEADMILL_API_RATE_LIMIT = env_int("LEADMILL_API_RATE_LIMIT", 600)
LEADMILL_API_RATE_WINDOW = env_int("LEADMILL_API_RATE_WINDOW", 60)
# A request holding an Idempotency-Key longer than this is taken as dead (its key is free).
LEADMILL_API_IDEMPOTENCY_IN_FLIGHT_S = env_int("LEADMILL_API_IDEMPOTENCY_IN_FLIGHT_S", 120)
LEADMILL_TRUNCATE_IP = env_bool("LEADMILL_TRUNCATE_IP", False)
# Forms are cached per process for this long: an edit reaches every process within it.
LEADMILL_FORM_CACHE_SECONDS = env_int("LEADMILL_FORM_CACHE_SECONDS", 5)
LEADMILL_DOWNLOAD_LINK_HOURS = env_int("LEADMILL_DOWNLOAD_LINK_HOURS", 72)
# Reminders of a webinar or event, emailed this many hours before it starts (comma-separated;
# empty: none). Only the nearest one due is sent; none to a person who registered after it.
LEADMILL_EVENT_REMINDER_HOURS = sorted(
    {int(hours) for hours in env_list("LEADMILL_EVENT_REMINDER_HOURS", "24,1") if int(hours) > 0}
)
LEADMILL_DOUBLE_OPT_IN_DAYS = env_int("LEADMILL_DOUBLE_OPT_IN_DAYS", 30)
LEADMILL_MAX_SUBMISSION_BYTES = env_int("LEADMILL_MAX_SUBMISSION_BYTES", 64 * 1024)
# Trust X-Forwarded-For from a reverse proxy for the client IP (only behind one).
LEADMILL_TRUST_X_FORWARDED_FOR = env_bool("LEADMILL_TRUST_X_FORWARDED_FOR", False)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)

# --- Analytics (docs/analytics.md) ---------------------------------------------------------
# Spend and revenue are reported in this one currency (ISO 4217); other rows are refused.
LEADMILL_REPORTING_CURRENCY = env("LEADMILL_REPORTING_CURRENCY", "USD").upper()
# The visitor-to-lead rate shown beside yours, in percent (Ruler Analytics' published average).
LEADMILL_REFERENCE_VISITOR_TO_LEAD_RATE = float(
    env("LEADMILL_REFERENCE_VISITOR_TO_LEAD_RATE", "2.9")
)
# Reports count the days the fill has not (today) from the raw rows; that count is kept this
# many seconds in the shared cache and the screens say as of when (ADR 61). 0: never kept.
LEADMILL_ANALYTICS_TAIL_SECONDS = env_int("LEADMILL_ANALYTICS_TAIL_SECONDS", 60)

# --- Tracking ------------------------------------------------------------------------------
LEADMILL_TRACKING_REQUIRE_CONSENT = env_bool("LEADMILL_TRACKING_REQUIRE_CONSENT", False)
LEADMILL_TRACKING_CONSENT_BANNER = env_bool("LEADMILL_TRACKING_CONSENT_BANNER", True)
LEADMILL_TRACKING_MAX_EVENTS = env_int("LEADMILL_TRACKING_MAX_EVENTS", 50)
LEADMILL_TRACKING_MAX_BODY_BYTES = env_int("LEADMILL_TRACKING_MAX_BODY_BYTES", 64 * 1024)
LEADMILL_TRACKING_RATE_LIMIT_PER_IP = env_int("LEADMILL_TRACKING_RATE_LIMIT_PER_IP", 300)
LEADMILL_TRACKING_MAX_PAGE_VIEWS_PER_SECOND = env_int(
    "LEADMILL_TRACKING_MAX_PAGE_VIEWS_PER_SECOND", 4
)
# PostgreSQL: event batches commit without waiting for the WAL flush unless this is on (ADR 10).
LEADMILL_TRACKING_SYNCHRONOUS_COMMIT = env_bool("LEADMILL_TRACKING_SYNCHRONOUS_COMMIT", False)
# The longest a collect request waits for its events' write (a lock, the statement, its turn
# in the process's queue) before it answers 503: one stuck write must not stall them all.
LEADMILL_INGEST_TIMEOUT_MS = env_int("LEADMILL_INGEST_TIMEOUT_MS", 5000)
LEADMILL_EVENT_RETENTION_DAYS = env_int("LEADMILL_EVENT_RETENTION_DAYS", 395)
# Delivered domain events (the outbox) are kept this many days for inspection (0 keeps all).
LEADMILL_OUTBOX_RETENTION_DAYS = env_int("LEADMILL_OUTBOX_RETENTION_DAYS", 7)
# A failing event handler is retried after this many seconds, doubling each time (at most
# 6 hours); after LEADMILL_EVENT_MAX_ATTEMPTS attempts its delivery is a dead letter.
LEADMILL_EVENT_RETRY_SECONDS = env_int("LEADMILL_EVENT_RETRY_SECONDS", 60)
LEADMILL_EVENT_MAX_ATTEMPTS = env_int("LEADMILL_EVENT_MAX_ATTEMPTS", 12)

# --- Scoring -------------------------------------------------------------------------------
# The weekly retrain runs when at least this many outcomes are new since the active model.
LEADMILL_SCORING_RETRAIN_MIN_OUTCOMES = env_int("LEADMILL_SCORING_RETRAIN_MIN_OUTCOMES", 50)

# --- Sales ---------------------------------------------------------------------------------
# Defaults for the back office's sales settings (which win when filled in).
LEADMILL_SALES_SLA_HOURS = env_int("LEADMILL_SALES_SLA_HOURS", 4)
LEADMILL_NEW_LEAD_ALERT_EMAIL = env("LEADMILL_NEW_LEAD_ALERT_EMAIL")

# --- Marketing email (nurture) ------------------------------------------------------------
LEADMILL_EMAIL_SENDER_ADDRESS = env("LEADMILL_EMAIL_SENDER_ADDRESS")
LEADMILL_EMAIL_UNSUBSCRIBE_MAILTO = env("LEADMILL_EMAIL_UNSUBSCRIBE_MAILTO")
LEADMILL_EMAIL_MAX_PER_HOUR = env_int("LEADMILL_EMAIL_MAX_PER_HOUR", 0)
# Let outgoing HTTP calls (webhook steps, leadmill/core/outgoing.py) reach loopback / private /
# link-local addresses (off: only globally reachable ones).
LEADMILL_WEBHOOK_ALLOW_PRIVATE = env_bool("LEADMILL_WEBHOOK_ALLOW_PRIVATE", False)
# Outgoing webhooks: threads sending at once per worker, one endpoint per thread.
LEADMILL_WEBHOOK_THREADS = env_int("LEADMILL_WEBHOOK_THREADS", 8)
# Outgoing webhooks: requests in flight to one endpoint at most, over every worker.
LEADMILL_WEBHOOK_ENDPOINT_CONCURRENCY = env_int("LEADMILL_WEBHOOK_ENDPOINT_CONCURRENCY", 2)
# Outgoing webhooks: how long a worker's claim on deliveries lasts (a killed worker's
# deliveries are sent by another after it).
LEADMILL_WEBHOOK_LEASE_SECONDS = env_int("LEADMILL_WEBHOOK_LEASE_SECONDS", 120)
LEADMILL_EMAIL_CLAIM_LEASE_SECONDS = env_int("LEADMILL_EMAIL_CLAIM_LEASE_SECONDS", 300)
LEADMILL_EMAIL_SCANNER_CLICK_SECONDS = env_int("LEADMILL_EMAIL_SCANNER_CLICK_SECONDS", 10)

# --- Files ---------------------------------------------------------------------------------
MEDIA_ROOT = str(DATA_DIR / "media")
MEDIA_URL = "/media/"
PRIVATE_MEDIA_ROOT = str(DATA_DIR / "private")
STATIC_ROOT = str(DATA_DIR / "static")
STATIC_URL = "/static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
    },
}
# Wagtail documents go through its serve view (and its collection privacy). Offer files
# are not Wagtail documents: they live in the "private" storage, behind signed links.
WAGTAILDOCS_SERVE_METHOD = "serve_view"

# --- Wagtail -------------------------------------------------------------------------------
WAGTAIL_SITE_NAME = env("LEADMILL_SITE_NAME", "Leadmill")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
# Pages, forms, offers and emails may be written in several languages (ADR 43): each
# translation is a row in its own locale; a visitor gets the one in their language.
WAGTAIL_I18N_ENABLED = True
WAGTAILADMIN_PERMITTED_LANGUAGES = [("en", "English"), ("pt-br", "Português (Brasil)")]
WAGTAIL_ENABLE_UPDATE_CHECK = False
WAGTAIL_ENABLE_WHATS_NEW_BANNER = False

# --- Internationalisation ------------------------------------------------------------------
LANGUAGE_CODE = env("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("pt-br", _("Brazilian Portuguese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The languages content (pages, forms, offers, emails) can be written in.
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Security ------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("LEADMILL_BEHIND_PROXY") else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
# Wagtail overrides this for its preview iframe only; a form's embeddable pages leave it
# out and name the sites that may frame them in the CSP (leadmill.core.csp).
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp; leadmill.core.csp, docs/adr/0014-content-security-policy.md).
# Public pages: our scripts only (files, or inline with the request's nonce); inline style
# attributes are allowed (a landing page's layout variables), style elements are not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# The back office (Wagtail's admin) is built with inline scripts and styles.
LEADMILL_CSP_BACK_OFFICE_PATHS = ("/admin/",)
LEADMILL_CSP_BACK_OFFICE = {
    "default-src": ["'self'"],
    "script-src": ["'self'", "'unsafe-inline'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "frame-src": ["'self'"],
    "worker-src": ["'self'", "blob:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'self'"],
}
# No avatar requests to gravatar.com from the back office (and no third party under the CSP).
WAGTAIL_GRAVATAR_PROVIDER_URL = None
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "wagtailadmin_login"

# --- Back-office sign-in throttling (django-axes) -------------------------------------------
# Refused before the password is checked: the axes backend comes first.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# After this many failed sign-ins in a row, for one account or from one address (each on
# its own), sign-in is refused for the cool-off time; each failure is recorded.
AXES_FAILURE_LIMIT = env_int("LEADMILL_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LEADMILL_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# The project's one client address (LEADMILL_TRUST_X_FORWARDED_FOR decides the header).
AXES_CLIENT_IP_CALLABLE = "leadmill.core.http.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "leadmill.core.views.login_locked_out"
# Axes' log lines name the account and address only masked (AXES_SENSITIVE_PARAMETERS).
AXES_VERBOSE = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Signed-link tokens (/d/<token>/, email links, opt-in) never reach a log line.
    "filters": {"secret_tokens": {"()": "leadmill.core.log_redaction.SecretTokenFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["secret_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django_tasks": {"level": "WARNING"},
        # The Huey consumer adds its own handler: do not print its lines twice.
        "huey": {"level": env("HUEY_LOG_LEVEL", "WARNING"), "propagate": False},
    },
}
