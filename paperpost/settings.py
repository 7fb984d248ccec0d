"""Paperpost settings: one module, read from environment variables.

Every default is the embedded mode that `make run` uses on a fresh machine: SQLite in
var/, tasks run in-process, emails written to var/outbox/. Production sets DATABASE_URL,
REDIS_URL, EMAIL_HOST, SECRET_KEY and SITE_URL (see README.md and docker-compose.yml).

The sections follow README.md's settings, group by group, in its order; Django's own wiring
(apps, middleware, templates, static files) comes last. Importing this module writes
nothing: the embedded mode's var/ directory and secret key are made by
paperpost.embedded.prepare(), which manage.py and the WSGI/ASGI entry points call first
(and paperpost.testing, the pytest plugin that gives a test session a var/ of its own).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from . import esp
from .embedded import read_secret_key, var_dir

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: use one of 1/0, true/false, yes/no, on/off")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a whole number") from None


def envfloat(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a number") from None


def envrate(name: str, default: str) -> str:
    """A rate as "count/seconds", e.g. "10/600"."""
    value = os.environ.get(name) or default
    count, _, seconds = value.partition("/")
    if not (count.strip().isdigit() and seconds.strip().isdigit() and int(seconds) > 0):
        raise ImproperlyConfigured(f"{name}={value!r}: expected count/seconds, e.g. 10/600")
    return value


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Where the embedded mode keeps its files: the SQLite database, the outbox, the file cache,
# static files and the secret key (PAPERPOST_VAR_DIR, default var/).
VAR_DIR = var_dir()

# --- Services: DATABASE_URL, DB_CONN_MAX_AGE, REDIS_URL ---------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'paperpost.sqlite3'}"
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 0))
except Exception as exc:  # dj_database_url raises several types for bad URLs
    raise ImproperlyConfigured(f"DATABASE_URL={DATABASE_URL!r}: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; the timeout makes a second
    # writer wait instead of failing with "database is locked".
    _db["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# The tests' database: a file in the session's var/ on SQLite (the Celery workers the
# integration tests start must see it), its own database on PostgreSQL.
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["TEST"] = {"NAME": str(VAR_DIR / "test-paperpost.sqlite3")}
else:
    _db.setdefault("TEST", {})["NAME"] = os.environ.get("TEST_DATABASE_NAME", "test_paperpost")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Celery's broker and the cache; unset, tasks run in-process and the cache is files.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "paperpost",
        }
    }
else:
    # A file cache (not locmem), shared by the web processes of one machine.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Email: EMAIL_*, DEFAULT_FROM_EMAIL ------------------------------------------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 30)
# With no SMTP host, every message becomes an .eml file in var/outbox/ (paperpost.mail).
EMAIL_BACKEND = "paperpost.mail.SMTPBackend" if EMAIL_HOST else "paperpost.mail.OutboxBackend"
# Or an ESP's HTTP API through django-anymail (paperpost.esp): EMAIL_ESP=postmark, amazon_ses,
# mailgun, sendgrid, brevo, ... with its credentials as ANYMAIL_<SETTING> variables, e.g.
# ANYMAIL_POSTMARK_SERVER_TOKEN. ESP_BATCH_SIZE messages go in one request where the ESP's API
# takes different messages at once (Postmark: up to 500).
EMAIL_ESP = os.environ.get("EMAIL_ESP", "").strip().lower()
if EMAIL_ESP:
    EMAIL_BACKEND = esp.backend_for(EMAIL_ESP)
ESP_BATCH_SIZE = envint("ESP_BATCH_SIZE", 100)
OUTBOX_DIR = VAR_DIR / "outbox"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Paperpost <digest@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- The site: SITE_URL, PORT, SECRET_KEY, DEBUG, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS, LIST_ID --------
# Absolute links (emails, List-Unsubscribe, feeds, canonical, robots) use SITE_URL. Unset, it
# is the address `make run` serves on, port included (PORT=8080 make run links to 8080).
PORT = envint("PORT", 8000)
SITE_URL = (os.environ.get("SITE_URL") or f"http://127.0.0.1:{PORT}").rstrip("/")
_site = urlsplit(SITE_URL)
if _site.scheme not in {"http", "https"} or not _site.hostname:
    raise ImproperlyConfigured(f"SITE_URL={SITE_URL!r}: expected an absolute http(s) URL")
SITE_HOST = _site.hostname
# Production must set SECRET_KEY; the embedded mode keeps one stable key in var/ so that
# signed links in emails already sent keep working across restarts.
SECRET_KEY = os.environ.get("SECRET_KEY") or read_secret_key(VAR_DIR)
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", f"{SITE_HOST},127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", f"{_site.scheme}://{_site.netloc}")
# List-Id identifies the list to mail clients and filters (RFC 2919).
LIST_ID = os.environ.get("LIST_ID", f"Paperpost daily papers <digest.{SITE_HOST}>")

# --- Digests and delivery: DIGEST_*, DELIVERY_* ----------------------------------------------------
DIGEST_MAX_PAPERS_DEFAULT = envint("DIGEST_MAX_PAPERS", 10)
DIGEST_ABSTRACT_CHARS = envint("DIGEST_ABSTRACT_CHARS", 420)
DIGEST_CHUNK_SIZE = envint("DIGEST_CHUNK_SIZE", 200)
DELIVERY_RATE_LIMIT = envfloat("DELIVERY_RATE_LIMIT", 0.0)  # messages/second, all workers; 0 = no limit
DELIVERY_MAX_ATTEMPTS = envint("DELIVERY_MAX_ATTEMPTS", 5)
DELIVERY_RETRY_BASE_SECONDS = envfloat("DELIVERY_RETRY_BASE_SECONDS", 30.0)
DELIVERY_RETRY_MAX_SECONDS = envfloat("DELIVERY_RETRY_MAX_SECONDS", 900.0)
# A claim with no progress for this long belongs to a dead worker (longer than one message
# can take: connect + EHLO + DATA, each bounded by EMAIL_TIMEOUT).
DELIVERY_STUCK_SECONDS = envint("DELIVERY_STUCK_SECONDS", 300)
DELIVERY_REQUEUE_SECONDS = envint("DELIVERY_REQUEUE_SECONDS", 120)
DELIVERY_SWEEP_SECONDS = envint("DELIVERY_SWEEP_SECONDS", 60)
# Each subscriber gets a digest at their own hour in their own zone (subscribers.schedule);
# these fill in what they left empty. Beat queues the rows that came due every
# DELIVERY_DUE_SECONDS (zones with :30 and :45 offsets make some hours due at the half hour).
DIGEST_SEND_HOUR = envint("DIGEST_SEND_HOUR", 7)
if not 0 <= DIGEST_SEND_HOUR <= 23:
    raise ImproperlyConfigured(f"DIGEST_SEND_HOUR={DIGEST_SEND_HOUR}: expected an hour from 0 to 23")
DIGEST_TIME_ZONE = os.environ.get("DIGEST_TIME_ZONE") or os.environ.get("TIME_ZONE") or "UTC"
try:
    ZoneInfo(DIGEST_TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"DIGEST_TIME_ZONE={DIGEST_TIME_ZONE!r}: expected a zone name such as Europe/Paris") from None
DELIVERY_DUE_SECONDS = envint("DELIVERY_DUE_SECONDS", 60)

# The dense encoder (digest/matching/dense.py) that stands in for the corpus-fitted LSA: a
# folder holding all-MiniLM-L6-v2, its files checked against the official SHA-256. By
# default the one `make model` installs (`make run` and `make test` do) when it is there;
# empty: LSA only. On the devset's two newest reader sets it lifts P@5 from 0.73/0.80 to
# 0.84/0.86 (benchmarks/README.md). Each paper is embedded once, at ingest, and its vector
# kept in the database (digest.TextVector; `manage.py embed_papers` for older papers).
_BUNDLED_MODEL = BASE_DIR / "models" / "all-MiniLM-L6-v2"
MATCH_EMBEDDING_MODEL = os.environ.get(
    "MATCH_EMBEDDING_MODEL", str(_BUNDLED_MODEL) if (_BUNDLED_MODEL / "model.safetensors").is_file() else "")

# --- Matching and ranking: MATCH_*, RANKING_*, LEARNING_*, SENT_LEDGER_DAYS (docs/ranking.md) ------
MATCH_WEIGHTS = {
    "title": envfloat("MATCH_TITLE_WEIGHT", 3.0),
    "abstract": envfloat("MATCH_ABSTRACT_WEIGHT", 1.0),
    "category": envfloat("MATCH_CATEGORY_WEIGHT", 0.3),
    "author": envfloat("MATCH_AUTHOR_WEIGHT", 1.5),
    "about": envfloat("MATCH_ABOUT_WEIGHT", 1.0),
    "like": envfloat("MATCH_LIKE_WEIGHT", 0.4),
    "learned": envfloat("MATCH_LEARNED_WEIGHT", 0.8),
    "floor_strict": envfloat("MATCH_FLOOR_STRICT", 1.1),
    "floor_balanced": envfloat("MATCH_FLOOR_BALANCED", 0.7),
    "floor_broad": envfloat("MATCH_FLOOR_BROAD", 0.35),
    "similarity_min": envfloat("MATCH_SIMILARITY_MIN", 0.15),
    "order_closeness": envfloat("MATCH_ORDER_CLOSENESS", 0.2),
    "order_category": envfloat("MATCH_ORDER_CATEGORY", 1.0),
    "keyword_sense_keep": envfloat("MATCH_KEYWORD_SENSE_KEEP", 0.0),
    "closeness_disagreement": envfloat("MATCH_CLOSENESS_DISAGREEMENT", 0.1),
    "signal": envfloat("MATCH_SIGNAL_WEIGHT", 0.1),
    "upvote_scale": envfloat("MATCH_UPVOTE_SCALE", 100.0),
    "featured": envfloat("MATCH_FEATURED_BONUS", 0.1),
}
# The corpus statistics (IDF, acronyms, semantic layer) are fitted on the papers stored in
# the last RANKING_WINDOW_DAYS days, again every RANKING_REFIT_HOURS hours (digest/corpus.py).
RANKING_WINDOW_DAYS = envint("RANKING_WINDOW_DAYS", 60)
RANKING_REFIT_HOURS = envint("RANKING_REFIT_HOURS", 24)
# Learning from feedback (subscribers/learning.py): a retrain waits this long after the last
# feedback (a burst trains once); beat retrains everyone with new labels every night.
LEARNING_RETRAIN_DELAY_SECONDS = envint("LEARNING_RETRAIN_DELAY_SECONDS", 60)
# Days a sent paper stays in the ledger that keeps it from reaching the same subscriber again
# (weekly digests, re-featured papers); older rows are pruned daily. 0 keeps them forever.
SENT_LEDGER_DAYS = envint("SENT_LEDGER_DAYS", 180)

# --- Ingest: INGEST_* ----------------------------------------------------------------------------
# arXiv "replace" announcements update the paper; with this on they also join that day's batch.
INGEST_REPLACEMENTS_JOIN_BATCH = envbool("INGEST_REPLACEMENTS_JOIN_BATCH", False)
# Fetching sources: hosts exempt from the public-address check (comma-separated; for
# tests and intranet mirrors), a timeout and a size cap on bodies.
INGEST_ALLOWED_HOSTS = envlist("INGEST_ALLOWED_HOSTS", "")
INGEST_TIMEOUT = envfloat("INGEST_TIMEOUT", 30.0)
INGEST_MAX_BYTES = envint("INGEST_MAX_BYTES", 20_000_000)
INGEST_BEAT_SECONDS = envint("INGEST_BEAT_SECONDS", 300)

# --- Celery: CELERY_VISIBILITY_TIMEOUT, CELERY_UNACKED_* (and the one beat schedule) ----------------
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
# Without a broker, tasks run in-process when queued (embedded mode and unit tests).
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
# Delivery safety: a task is acknowledged only after it finished, and a task whose worker
# died is redelivered. Rows claimed by a dead worker are recovered by the sweep.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "subscribers.tasks.*": {"queue": "mail"},
    "digest.tasks.*": {"queue": "ingest"},
}
# Longer than the longest task (a chunk of deliveries), so Redis does not hand an
# unacknowledged task to a second worker while the first still runs it.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600),
    # How often a worker looks for unacknowledged tasks past the visibility timeout (kombu's
    # default is every 10 s x 10 calls); the fault tests shorten it.
    "unacked_restore_interval": envint("CELERY_UNACKED_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": envint("CELERY_UNACKED_RESTORE_THROTTLE", 10),
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Publishing to a broker that is down fails fast; the sweep queues what was not queued.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BEAT_SCHEDULE = {
    "ingest-due-sources": {"task": "digest.tasks.ingest_due_sources", "schedule": INGEST_BEAT_SECONDS},
    "send-scheduled-batches": {"task": "subscribers.tasks.send_scheduled", "schedule": 60},
    "delivery-sweep": {"task": "subscribers.tasks.sweep", "schedule": DELIVERY_SWEEP_SECONDS},
    "send-due-deliveries": {"task": "subscribers.tasks.send_due", "schedule": DELIVERY_DUE_SECONDS},
    "prune-sent-ledger": {"task": "subscribers.tasks.prune_ledger", "schedule": 24 * 3600},
    "prune-sign-in-requests": {"task": "community.tasks.prune_sign_in_requests", "schedule": 3600},
    "refit-ranking": {"task": "digest.tasks.refit_ranking", "schedule": RANKING_REFIT_HOURS * 3600},
    "retrain-learned-models": {"task": "subscribers.tasks.retrain_due", "schedule": 24 * 3600},
}

# --- Subscriptions: SUBSCRIBE_RATE_PER_IP, CONFIRM_*, EMAIL_CHANGE_RATE_PER_SUBSCRIBER, ANYMAIL_* ---
# Subscribe-form posts allowed per client IP ("count/seconds"); past it the form answers 429.
SUBSCRIBE_RATE_PER_IP = envrate("SUBSCRIBE_RATE_PER_IP", "10/600")
# At most one confirmation (or "manage your subscription") email per address per this many seconds.
CONFIRM_EMAIL_INTERVAL = envint("CONFIRM_EMAIL_INTERVAL", 3600)
CONFIRM_MAX_AGE_DAYS = envint("CONFIRM_MAX_AGE_DAYS", 7)
# Address-change confirmations one subscriber may ask for ("count/seconds"): a manage link
# must not become a way to mail strangers.
EMAIL_CHANGE_RATE_PER_SUBSCRIBER = envrate("EMAIL_CHANGE_RATE_PER_SUBSCRIBER", "3/86400")
SUBSCRIBE_FORM_VERSION = "web form v1"

# django-anymail: bounce and complaint webhooks from an ESP (POST /anymail/<esp>/tracking/).
# Without a secret the routes are not mounted at all (web/urls.py): anymail would
# otherwise accept anyone's fake bounce and cut that address off the list.
ANYMAIL = {
    **esp.anymail_settings(os.environ),
    "WEBHOOK_SECRET": os.environ.get("ANYMAIL_WEBHOOK_SECRET", "") or None,
}
if ANYMAIL["WEBHOOK_SECRET"] and ":" not in ANYMAIL["WEBHOOK_SECRET"]:
    raise ImproperlyConfigured("ANYMAIL_WEBHOOK_SECRET: expected user:password (HTTP basic auth for the ESP webhooks)")

# --- Public pages: PAGE_CACHE_SECONDS, PAGE_VERSION_MEMO_SECONDS, ARXIV_API_URL, THUMBNAIL_HOSTS ----
# Rendered pages and feeds are cached per content version (a publish or a curator's edit makes
# a new version), so this only bounds how long an unused version lingers.
PAGE_CACHE_SECONDS = envint("PAGE_CACHE_SECONDS", 600)
# How long a web process reuses the content version it last read from the cache before
# asking again: other processes see a publish at most this late. 0 asks on every request.
PAGE_VERSION_MEMO_SECONDS = envfloat("PAGE_VERSION_MEMO_SECONDS", 1.0)
# Where "add a paper by arXiv id" in the admin fetches from (through the ingest guards).
ARXIV_API_URL = os.environ.get("ARXIV_API_URL", "https://export.arxiv.org/api/query")
# Preview images of papers (Hugging Face's thumbnails) load from these hosts only; empty, no
# thumbnails are shown (readers' browsers then fetch nothing from other sites).
THUMBNAIL_HOSTS = envlist("THUMBNAIL_HOSTS", "cdn-thumbnails.huggingface.co")

# --- Community: SIGN_IN_*, VOTE_*, SUBMI*, COMMENT_*, UPVOTE_LINK_MAX_AGE_DAYS, TRENDING_*, API_* -----
# Sign-in links expire after this many minutes and work once.
SIGN_IN_MAX_AGE_MINUTES = envint("SIGN_IN_MAX_AGE_MINUTES", 15)
# Sign-in form posts per IP (past it: 429), and sign-in emails per address.
SIGN_IN_RATE_PER_IP = envrate("SIGN_IN_RATE_PER_IP", "10/600")
SIGN_IN_RATE_PER_ADDRESS = envrate("SIGN_IN_RATE_PER_ADDRESS", "3/900")
VOTE_RATE_PER_PERSON = envrate("VOTE_RATE_PER_PERSON", "60/60")
VOTE_RATE_PER_IP = envrate("VOTE_RATE_PER_IP", "300/60")
SUBMIT_RATE_PER_IP = envrate("SUBMIT_RATE_PER_IP", "20/3600")
# Submissions per person per day, and how recent a submitted paper must be.
SUBMISSIONS_PER_DAY = envint("SUBMISSIONS_PER_DAY", 5)
SUBMISSION_MAX_AGE_DAYS = envint("SUBMISSION_MAX_AGE_DAYS", 14)
COMMENT_RATE_PER_PERSON = envrate("COMMENT_RATE_PER_PERSON", "5/60")
COMMENT_RATE_PER_IP = envrate("COMMENT_RATE_PER_IP", "30/600")
COMMENT_MAX_CHARS = envint("COMMENT_MAX_CHARS", 5000)
# "Upvote" links in digest emails work without signing in for this many days.
UPVOTE_LINK_MAX_AGE_DAYS = envint("UPVOTE_LINK_MAX_AGE_DAYS", 30)
# Trending: papers of the last TRENDING_DAYS days, score = points / (hours + 2) ** TRENDING_GRAVITY.
TRENDING_DAYS = envint("TRENDING_DAYS", 7)
TRENDING_GRAVITY = envfloat("TRENDING_GRAVITY", 1.5)
API_PAGE_SIZE = envint("API_PAGE_SIZE", 50)
LOGIN_URL = "/login/"

# --- Operations and security: LOG_LEVEL, TIME_ZONE, BEHIND_PROXY, SECURE_*, ADMIN_LOGIN_* ------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        name: {"level": LOG_LEVEL, "propagate": True}
        for name in ("paperpost", "digest", "subscribers", "web", "community", "celery")
    },
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
_https = _site.scheme == "https"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_PROXY", False) else None
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", _https and not DEBUG)
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000 if _https and not DEBUG else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp) on every response: scripts, styles, images, fonts and
# connections from our own origin only; no inline script or style anywhere, no plugins, no
# <base> rewriting, no framing, forms post only to us. The one exception is the admin's
# email preview, whose sandboxed iframe shows the email's own inline styles (web/admin.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *(f"https://{host}" for host in THUMBNAIL_HOSTS)],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# Admin sign-in throttling (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT failures from one IP,
# or for one username from anywhere, sign-ins are refused (429) for ADMIN_LOGIN_COOLOFF_MINUTES,
# the right password included. Lockouts are listed, and can be lifted, in the admin under
# "Axes"; `manage.py axes_reset` lifts them all.
AXES_FAILURE_LIMIT = envint("ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=envint("ADMIN_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "paperpost.ratelimit.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "paperpost.lockout.lockout_response"
AXES_VERBOSE = False

# --- Django's wiring (no environment) ----------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
    "anymail",
    "axes",
    "csp",
    # The layers, bottom up (docs/architecture.md): the core, papers, people, the site.
    "paperpost",
    "digest",
    "subscribers",
    "web",
    "community",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out sign-in before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "web.urls"
WSGI_APPLICATION = "paperpost.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "paperpost.context_processors.site",
            ],
        },
    },
]

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
