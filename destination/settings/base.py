"""Settings shared by every mode; each value that differs between machines comes from the environment.

Defaults give an embedded setup (SQLite, a filesystem Celery broker) so the product runs on a
fresh machine with no server; ``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch to PostgreSQL and
Redis.
"""

import datetime
import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from destination.settings.site_url import site_url_from_addr

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("APP_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# A development key: production.py refuses to start without DJANGO_SECRET_KEY.
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "dev-only-0r4z9-not-secret-k3y-for-local-use-only-7d1c2e9b5a"
)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "destination",
    "partners",
    "content",
    "bookings",
    "portal",
    "newsletters",
    # Wagtail (wagtail_localize.locales replaces wagtail.locales, as its docs require)
    "wagtail_localize",
    "wagtail_localize.locales",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.contrib.sitemaps",
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
    # allauth
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # Others
    "django_celery_beat",
    "phonenumber_field",
    "django_countries",
    "django_htmx",
    # Django
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.postgres",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "destination.middleware.ContentSecurityPolicyMiddleware",  # Django's, per-path policies
    "destination.middleware.PrivatePagesMiddleware",  # Cache-Control: private, no-store
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "content.middleware.LocaleMiddleware",  # Django's, without redirecting 404s to /en/
    "destination.middleware.InputSanityMiddleware",  # 400 on NUL/control characters, 413
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "destination.middleware.AccountLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "partners.mfa.MfaRequiredMiddleware",  # second factor for steward managers and operators
    "django_htmx.middleware.HtmxMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

# Request bodies read into memory (JSON, form fields; not uploaded files) above this size are
# refused with 413 by InputSanityMiddleware. Django's default, 2.5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(2_621_440)))
# Paths InputSanityMiddleware passes through: signed provider payloads their view validates.
INPUT_CHECK_EXEMPT_PATHS = ["/stripe/webhook/"]

# Pages with personal data get "Cache-Control: private, no-store" (PrivatePagesMiddleware).
PRIVATE_URL_NAMESPACES = ["portal", "bookings_desk", "offers", "gdpr", "admin"]
PRIVATE_URL_NAMES = [
    "bookings:my-bookings",
    "bookings:booking-detail",
    "bookings:manage",
    "bookings:booking-cancel",
    "bookings:booking-paid",
    "bookings:booking-status",
    "bookings:booking-pay",
    "bookings:booking-payment-cancelled",
]
PRIVATE_PATH_PREFIXES = ["/accounts/", "/cms/", "/django-admin/"]

# Content-Security-Policy (Django's own middleware). Scripts: this origin and the per-response
# nonce only (the templates' few inline scripts carry {{ csp_nonce }}; no inline handlers).
# Styles allow inline: the templates set brand colours in <style> and style attributes, and
# htmx and Wagtail's admin insert styles. Stripe Checkout is reached by a redirect after a form
# post, which form-action governs. Images: any HTTPS source (Wagtail's avatars, embeds).
# CSP_REPORT_ONLY=true sends the same policy as Content-Security-Policy-Report-Only instead.
_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "blob:", "https:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-src": [
        CSP.SELF,
        *env_list(
            "CSP_FRAME_SRC",
            "https://www.youtube-nocookie.com,https://www.youtube.com,https://player.vimeo.com",
        ),
    ],
    "frame-ancestors": [CSP.SELF],
    "form-action": [CSP.SELF, "https://checkout.stripe.com"],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
SECURE_CSP_REPORT_ONLY = _CSP if env_bool("CSP_REPORT_ONLY", False) else {}
SECURE_CSP = {} if SECURE_CSP_REPORT_ONLY else _CSP
# Wagtail 8's page explorer and editor still run inline scripts: its admin (staff only, behind
# sign-in and CSRF) allows them, without a nonce (a nonce would make browsers ignore it).
SECURE_CSP_BY_PATH = {
    "/cms/": {**SECURE_CSP, "script-src": [CSP.SELF, CSP.UNSAFE_INLINE]} if SECURE_CSP else {}
}

ROOT_URLCONF = "destination.urls"
WSGI_APPLICATION = "destination.wsgi.application"
ASGI_APPLICATION = "destination.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            # Django's default loaders (cached, files, apps) plus journey emails, whose
            # MJML lives in the database (newsletters.journey_content).
            "loaders": [
                (
                    "django.template.loaders.cached.Loader",
                    [
                        "django.template.loaders.filesystem.Loader",
                        "django.template.loaders.app_directories.Loader",
                        "newsletters.journey_content.Loader",
                    ],
                )
            ],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "wagtail.contrib.settings.context_processors.settings",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and the Celery worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The covering indexes on bookings (INCLUDE columns, for the segment queries on PostgreSQL)
    # are plain indexes on SQLite; Django says so once per index at every command. Expected.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "destination.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"

# allauth: staff sign in with their email address; accounts are created by partner managers.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_RATE_LIMITS = {"login_failed": "5/5m/ip,5/5m/key"}
# Reverse proxies in front of the app that append to X-Forwarded-For (0: none, REMOTE_ADDR is the
# client). Read by destination.http.client_ip (newsletter limits and consent proofs) and by
# allauth's sign-in limits, so both count the same address.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
ACCOUNT_ADAPTER = "destination.auth.AccountAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = os.environ.get("MFA_TOTP_ISSUER", "Destination CRM")
MFA_RECOVERY_CODE_COUNT = 10
# Staff who can act beyond their own partner (tourist office managers, is_staff/superusers) must
# set up TOTP once MFA_GRACE_DAYS have passed since the later of their account's creation and
# MFA_REQUIRED_SINCE (partners.mfa). Others get a notice.
MFA_REQUIRED_ROLES = env_bool("MFA_REQUIRED_ROLES", True)
MFA_GRACE_DAYS = int(os.environ.get("MFA_GRACE_DAYS", "7"))
MFA_REQUIRED_SINCE = datetime.datetime.fromisoformat(
    os.environ.get("MFA_REQUIRED_SINCE", "2026-12-02T00:00:00+00:00")
)
MFA_GUARDED_PATH_PREFIXES = ["/portal/", "/cms/", "/django-admin/", "/gdpr/"]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "hello@destination.example")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The cache (rate limits, short-lived lookups): Redis when CACHE_URL says so, else per process.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# Celery: a filesystem broker needs no server (a real worker still runs); Redis in production.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "polling_interval": 0.1,
    }
    if not CELERY_RESULT_BACKEND:
        CELERY_RESULT_BACKEND = f"file://{_broker_dir / 'results'}"
    # kombu's filesystem transport and file result backend expect their folders to exist.
    for _folder in ("queue", "processed", "control", "results"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "guest-retention": {
        "task": "destination.tasks.guest_retention_sweep_task",
        "schedule": 60 * 60 * 24,
    },
    # Wagtail publishes pages with a go-live date (and unpublishes expired ones) only when
    # `publish_scheduled` runs: every five minutes is the granularity editors can rely on.
    "content-publish-scheduled": {
        "task": "content.tasks.publish_scheduled_pages_task",
        "schedule": 60 * 5,
    },
    "content-newsletter-signups-expire": {
        "task": "content.tasks.newsletter_signups_expire_task",
        "schedule": 60 * 60,
    },
    # Bookings: release card holds whose 15 minutes ran out; request, remind and flag balances.
    "bookings-expire-holds": {"task": "bookings.tasks.booking_holds_expire_task", "schedule": 60},
    "bookings-balances": {"task": "bookings.tasks.booking_balances_task", "schedule": 60 * 60},
    # Newsletters: the safety net of the send-on-commit task (due and retried messages) and
    # the sweep that marks messages claimed by a dead worker as in doubt.
    "newsletters-dispatch": {
        "task": "newsletters.tasks.messages_dispatch_task",
        "schedule": int(os.environ.get("NEWSLETTER_DISPATCH_SECONDS", "30")),
    },
    # The bookings outbox consumer (journeys, booking emails): the safety net of the task
    # enqueued on each event's commit; and the journeys' due steps (no Celery ETA).
    "newsletters-outbox": {
        "task": "newsletters.tasks.booking_events_consume_task",
        "schedule": int(os.environ.get("NEWSLETTER_OUTBOX_SECONDS", "5")),
    },
    "newsletters-journeys": {
        "task": "newsletters.tasks.journeys_tick_task",
        "schedule": int(os.environ.get("NEWSLETTER_JOURNEYS_SECONDS", "60")),
    },
    # Newsletters: start the scheduled campaigns that are due (their time is in the row).
    "newsletters-campaigns-start": {
        "task": "newsletters.tasks.campaigns_start_due_task",
        "schedule": 60,
    },
    # Tracking: settle clicks past the burst window (final verdict, then real contact).
    "newsletters-tracking-settle": {
        "task": "newsletters.tasks.tracking_hits_settle_task",
        "schedule": int(os.environ.get("NEWSLETTER_TRACKING_SETTLE_SECONDS", "10")),
    },
}

# The base of every absolute link when its own setting is unset: the address bin/demo serves on
# (DEMO_ADDR), "http://localhost:8000" by default (destination/settings/site_url.py).
SITE_URL_DEFAULT = site_url_from_addr(os.environ.get("DEMO_ADDR"))

# Newsletters: every email to a guest (docs/newsletters.md describes each setting).
# Absolute base of the links in emails (unsubscribe, preferences): HTTPS in production.
NEWSLETTER_SITE_URL = os.environ.get("NEWSLETTER_SITE_URL", SITE_URL_DEFAULT)
# Another backend for guest email than EMAIL_BACKEND (e.g. an anymail ESP); empty: EMAIL_BACKEND.
NEWSLETTER_EMAIL_BACKEND = os.environ.get("NEWSLETTER_EMAIL_BACKEND", "")
# With an anymail backend, ask the provider not to track (our own pixel and redirector do):
# false for a provider that cannot switch it per message (then switch it off in its dashboard).
NEWSLETTER_ESP_TRACKING_OFF = env_bool("NEWSLETTER_ESP_TRACKING_OFF", True)
# The Celery queue of the send tasks (a dedicated email worker); empty: the default queue.
NEWSLETTER_CELERY_QUEUE = os.environ.get("NEWSLETTER_CELERY_QUEUE", "")
# Most marketing emails a guest gets per rolling window, whatever partner or journey sends.
NEWSLETTER_FREQUENCY_CAP = int(os.environ.get("NEWSLETTER_FREQUENCY_CAP", "3"))
NEWSLETTER_FREQUENCY_WINDOW_DAYS = int(os.environ.get("NEWSLETTER_FREQUENCY_WINDOW_DAYS", "7"))
# Marketing waits outside these hours, in the destination's time zone ("21-8": 21:00 to 08:00).
NEWSLETTER_QUIET_HOURS = os.environ.get("NEWSLETTER_QUIET_HOURS", "21-8")
# Most messages handed to the backend per second, across workers sharing the cache; 0: no limit.
NEWSLETTER_RATE_PER_SECOND = int(os.environ.get("NEWSLETTER_RATE_PER_SECOND", "50"))
# A message claimed this long ago without an answer is in doubt (never resent automatically).
NEWSLETTER_SENDING_TIMEOUT_SECONDS = int(
    os.environ.get("NEWSLETTER_SENDING_TIMEOUT_SECONDS", str(15 * 60))
)
# Tries on transient errors (4xx, connection refused) before FAILED; the backoff doubles.
NEWSLETTER_MAX_ATTEMPTS = int(os.environ.get("NEWSLETTER_MAX_ATTEMPTS", "5"))
NEWSLETTER_RETRY_BASE_SECONDS = int(os.environ.get("NEWSLETTER_RETRY_BASE_SECONDS", "60"))
# The mailto of List-Unsubscribe (empty: the HTTPS one-click URL only) and the List-Id domain.
NEWSLETTER_UNSUBSCRIBE_MAILTO = os.environ.get("NEWSLETTER_UNSUBSCRIBE_MAILTO", "")
NEWSLETTER_LIST_ID_DOMAIN = os.environ.get("NEWSLETTER_LIST_ID_DOMAIN", "lists.destination.example")
# Tracking (docs/newsletters-tracking.md): the public origin of the pixel and redirector links
# (/t/o/..., /t/c/...); a click is settled (final verdict, then real contact)
# this long after it came, past the burst window; a booking within this many days after a
# human click is attributed to the campaign or journey in its reports.
NEWSLETTER_TRACKING_BASE_URL = os.environ.get("NEWSLETTER_TRACKING_BASE_URL") or NEWSLETTER_SITE_URL
NEWSLETTER_TRACKING_SETTLE_SECONDS = int(os.environ.get("NEWSLETTER_TRACKING_SETTLE_SECONDS", "10"))
NEWSLETTER_ATTRIBUTION_DAYS = int(os.environ.get("NEWSLETTER_ATTRIBUTION_DAYS", "30"))
# How long the preference centre link of an email works, counted from the email's creation.
NEWSLETTER_PREFERENCES_DAYS = int(os.environ.get("NEWSLETTER_PREFERENCES_DAYS", "365"))

# Bookings and payments: card payments through Stripe when a secret key is set, else on site.
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
BOOKING_HOLD_MINUTES = int(os.environ.get("BOOKING_HOLD_MINUTES", "15"))
# Absolute base of links in booking emails ("manage my booking", balance payment page).
BOOKING_SITE_URL = os.environ.get("BOOKING_SITE_URL", SITE_URL_DEFAULT)

# GDPR: guests with no real contact and no active consent for this long are anonymised.
GUEST_RETENTION_DAYS = int(os.environ.get("GUEST_RETENTION_DAYS", str(3 * 365)))
# Phone numbers typed without a country code are read in this region (ISO 3166 alpha-2).
PHONENUMBER_DEFAULT_REGION = os.environ.get("PHONENUMBER_DEFAULT_REGION", "FR")
PHONENUMBER_DB_FORMAT = "E164"

WAGTAIL_SITE_NAME = os.environ.get("WAGTAIL_SITE_NAME", "Destination")
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", SITE_URL_DEFAULT)
# No Gravatar in the admin: it would send a hash of each staff email to a third party (and the
# Content-Security-Policy does not allow it).
WAGTAIL_GRAVATAR_PROVIDER_URL = None
# Nor a call to releases.wagtail.org from each editor's browser: upgrades are ours to plan.
WAGTAIL_ENABLE_UPDATE_CHECK = False
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
# Translated page trees (wagtail-localize): one tree per content language.
WAGTAIL_I18N_ENABLED = True
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
