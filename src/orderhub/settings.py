"""Settings from the environment.

DATABASE_URL selects the database: a SQLite file under ORDERHUB_DATA_DIR by default (the embedded
demo), PostgreSQL in production and in the test suite.
"""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url

from orderhub.core.keys import is_production, load_key

BASE_DIR = Path(__file__).resolve().parent


def _default_data_dir() -> Path:
    """Where the embedded database, keys and uploads live when ORDERHUB_DATA_DIR is not set:
    the checkout's var/ for a source checkout (``make demo``), whatever folder a command is
    run from, so a command run elsewhere never starts a second, empty database there;
    ~/.orderhub for an installed package."""
    checkout = BASE_DIR.parents[1]
    if (checkout / "pyproject.toml").exists():
        return checkout / "var"
    return Path.home() / ".orderhub"


DATA_DIR = Path(os.environ.get("ORDERHUB_DATA_DIR") or _default_data_dir())

# ORDERHUB_ENV=production: keys must come from the environment (see orderhub.core.keys);
# elsewhere (demo, development, tests) missing keys are made once under DATA_DIR/keys.
ORDERHUB_PRODUCTION = is_production()
SECRET_KEY = load_key("secret", "ORDERHUB_SECRET_KEY", DATA_DIR)
# the key of the audit chain's MAC (never stored in the database)
ORDERHUB_AUDIT_KEY = load_key("audit", "ORDERHUB_AUDIT_KEY", DATA_DIR)
# earlier audit keys, comma-separated: events and checkpoints they sealed still verify
ORDERHUB_AUDIT_RETIRED_KEYS = [k.strip() for k in os.environ.get("ORDERHUB_AUDIT_RETIRED_KEYS", "").split(",")
                               if k.strip()]
# signed checkpoints of the audit chains' heads, outside the database (orderhub.core.checkpoints)
ORDERHUB_AUDIT_CHECKPOINT_DIR = Path(os.environ.get("ORDERHUB_AUDIT_CHECKPOINT_DIR",
                                                    DATA_DIR / "audit-checkpoints"))
ORDERHUB_AUDIT_CHECKPOINT_SECONDS = float(os.environ.get("ORDERHUB_AUDIT_CHECKPOINT_SECONDS", "600"))
ORDERHUB_AUDIT_CHECKPOINT_KEEP = int(os.environ.get("ORDERHUB_AUDIT_CHECKPOINT_KEEP", "48"))
# the key that encrypts secrets stored in the database (channel secrets, endpoint tokens)
ORDERHUB_ENCRYPTION_KEY = load_key("encryption", "ORDERHUB_ENCRYPTION_KEY", DATA_DIR)
# earlier encryption keys, comma-separated: what they encrypted still decrypts (core.crypto)
ORDERHUB_ENCRYPTION_KEYS_RETIRED = [k for k in os.environ.get("ORDERHUB_ENCRYPTION_KEYS_RETIRED", "").split(",")
                                    if k.strip()]
DEBUG = os.environ.get("ORDERHUB_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("ORDERHUB_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "orderhub.core.admin_config.AdminConfig",  # django.contrib.admin, read-only, superusers only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "csp",
    "axes",
    "orderhub.core",
    "orderhub.catalog",
    "orderhub.inventory",
    "orderhub.workflow",
    "orderhub.purchasing",
    "orderhub.orders",
    "orderhub.web",
    "orderhub.intake",
    "orderhub.notify",
    "orderhub.rules",
    "orderhub.floor",
    "orderhub.shipping",
    "orderhub.planning",
    "orderhub.portal",
    "orderhub.finance",
    "orderhub.kpis",
    "orderhub.demo",  # the loaddemo command
]

MIDDLEWARE = [
    "orderhub.observability.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "orderhub.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "orderhub.core.middleware.LanguageMiddleware",
    "orderhub.core.middleware.RefuseNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "orderhub.core.ratelimit.RateLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "orderhub.urls"
WSGI_APPLICATION = "orderhub.wsgi.application"

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
                "django.template.context_processors.i18n",
                "orderhub.web.context.workspace",
            ]
        },
    }
]

_default_db = f"sqlite:///{DATA_DIR / 'orderhub.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _default_db),
        conn_max_age=int(os.environ.get("ORDERHUB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the embedded demo read while it writes; the timeout waits for the writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql") and \
        os.environ.get("ORDERHUB_PG_JIT", "0") != "1":
    # No JIT compilation: the app's statements are short (a batch move's are a few ms), but the
    # planner's cost estimates of some (generic plans, statistics from smaller tables) pass
    # jit_above_cost as the tables grow, and compiling then costs ~35 ms at every execution (JIT
    # code is not cached with a prepared statement): at 58,000 open orders the three lock
    # statements of a 100-order batch's moves took 115 ms with JIT, 37 ms without (issue 20).
    # ORDERHUB_PG_JIT=1 leaves the server's setting.
    _opts = DATABASES["default"].setdefault("OPTIONS", {})
    _opts["options"] = f"{_opts.get('options', '')} -c jit=off".strip()

# PostgreSQL: DATABASE_URL is the application's role, which owns no table and may only SELECT and
# INSERT audit events, snapshots and raw payloads; the tables belong to the owner role of
# ORDERHUB_OWNER_DATABASE_URL, which only `orderhub migrate` reads (it migrates as the owner and
# grants the app its rights). Set that only where migrations run, never on web or worker
# processes. See orderhub.core.dbroles and `orderhub db init-roles`.

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: a locked-out username+address is refused before its password is checked
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Demo and tests create many users; a cheap hasher is selected there through the environment.
if os.environ.get("ORDERHUB_FAST_PASSWORD_HASHER") == "1":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("ORDERHUB_TIME_ZONE", "Asia/Shanghai")
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it even before collectstatic
MEDIA_URL = "media/"
MEDIA_ROOT = DATA_DIR / "media"

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"

# A JSON body larger than this is refused with 413 before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("ORDERHUB_MAX_BODY_BYTES", str(2 * 1024 * 1024)))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ORDERHUB_LOG_LEVEL", "WARNING")},
}

# OrderHub's own settings
ORDERHUB_ORDER_NUMBER_PREFIX = os.environ.get("ORDERHUB_ORDER_NUMBER_PREFIX", "SO")
ORDERHUB_DEFAULT_WORKFLOW = os.environ.get("ORDERHUB_DEFAULT_WORKFLOW", "T1")
# The roles that approve purchase requests (a purchaser raises them): comma-separated role codes.
# Given to those roles' permissions by `core.roles` (applied by `roles_sync`).
ORDERHUB_PURCHASE_APPROVER_ROLES = [r.strip() for r in os.environ.get(
    "ORDERHUB_PURCHASE_APPROVER_ROLES", "planning_supervisor,manager").split(",") if r.strip()]
# the stages at which an order is released to production and holds line capacity (planning)
ORDERHUB_PLANNING_STAGES = [s.strip() for s in os.environ.get(
    "ORDERHUB_PLANNING_STAGES", "scheduled,materials_ready,machining").split(",") if s.strip()]
# "sync": a webhook is parsed before it is answered; "queue": stored and answered 202 at once,
# parsed by `orderhub intake process-pending --loop`.
ORDERHUB_INTAKE_WEBHOOK_MODE = os.environ.get("ORDERHUB_INTAKE_WEBHOOK_MODE", "sync")
# server-side prepared statements for the multi-table write path (core/fastsql.py); 0 behind a
# pooler that cannot keep them
ORDERHUB_PREPARE_STATEMENTS = os.environ.get("ORDERHUB_PREPARE_STATEMENTS", "1") == "1"
ORDERHUB_PIPELINE = os.environ.get("ORDERHUB_PIPELINE", "1") == "1"
# which twin of each persistence function runs on PostgreSQL (core/fastsql.py): "fast" (the
# prepared multi-table statements) or "orm" (their plain ORM twins, as on SQLite); the parity
# suite (tests/orders/test_parity.py) proves both write the same rows
ORDERHUB_SQL_PATH = os.environ.get("ORDERHUB_SQL_PATH", "fast").strip().lower()
if ORDERHUB_SQL_PATH not in ("fast", "orm"):
    raise ValueError(f"ORDERHUB_SQL_PATH must be fast or orm, not {ORDERHUB_SQL_PATH!r}")
# an upload page's import of a file this large or larger (accept valid rows, PostgreSQL) is split
# into chunks: the web process's thread imports them from the start and, when the rest would take
# it longer than ORDERHUB_IMPORT_PROCESS_FROM_SECONDS, starts a process of its own, `orderhub intake
# run`, whose this many forked workers take the rest (intake/services/background.py). The process
# takes about 2 s to start on a 2-core machine (its 2 workers then import about twice as fast as
# the thread): it saves time only on a file the thread alone would take longer than that for.
# ORDERHUB_IMPORT_WORKERS=1 keeps every page import in the web process
ORDERHUB_IMPORT_WORKERS = max(1, int(os.environ.get("ORDERHUB_IMPORT_WORKERS", "2")))
ORDERHUB_IMPORT_PROCESS_FROM_BYTES = int(os.environ.get("ORDERHUB_IMPORT_PROCESS_FROM_BYTES", str(256 * 1024)))
ORDERHUB_IMPORT_PROCESS_FROM_SECONDS = float(os.environ.get("ORDERHUB_IMPORT_PROCESS_FROM_SECONDS", "2"))
# a running import without progress for this long, and (PostgreSQL) with no process holding its
# liveness lock, has lost its processes: its page offers to resume it (a chunk of 500 rows takes
# well under a second)
ORDERHUB_IMPORT_STALLED_SECONDS = int(os.environ.get("ORDERHUB_IMPORT_STALLED_SECONDS", "120"))
# PostgreSQL: a stalled import no process imports any more is resumed by the job runner, at most
# this many times a job (then a person decides); 0: only a person resumes
ORDERHUB_IMPORT_AUTO_RESUMES = int(os.environ.get("ORDERHUB_IMPORT_AUTO_RESUMES", "3"))
ORDERHUB_INTAKE_MAX_FILE_BYTES = int(os.environ.get("ORDERHUB_INTAKE_MAX_FILE_BYTES", str(64 * 1024 * 1024)))
# Hostile files are refused before they are parsed (intake/readers.py, intake/ocr.py): what an
# xlsx may expand to (sum of its members, also enforced while inflating), the compression ratio
# of any member above 1 MiB, rows and columns of a sheet or CSV, pixels of an image (Pillow's
# decompression-bomb limit is set to it) and pages of a PDF.
ORDERHUB_INTAKE_MAX_UNZIPPED_BYTES = int(os.environ.get("ORDERHUB_INTAKE_MAX_UNZIPPED_BYTES",
                                                        str(256 * 1024 * 1024)))
ORDERHUB_INTAKE_MAX_ZIP_RATIO = int(os.environ.get("ORDERHUB_INTAKE_MAX_ZIP_RATIO", "100"))
ORDERHUB_INTAKE_MAX_ROWS = int(os.environ.get("ORDERHUB_INTAKE_MAX_ROWS", "200000"))
ORDERHUB_INTAKE_MAX_COLUMNS = int(os.environ.get("ORDERHUB_INTAKE_MAX_COLUMNS", "500"))
ORDERHUB_INTAKE_MAX_IMAGE_PIXELS = int(os.environ.get("ORDERHUB_INTAKE_MAX_IMAGE_PIXELS", "60000000"))
ORDERHUB_INTAKE_MAX_PDF_PAGES = int(os.environ.get("ORDERHUB_INTAKE_MAX_PDF_PAGES", "20"))
# a legacy .xls (BIFF) is not compressed, but xlrd holds the whole sheet as Python objects
# (measured: a 16 MB sheet of 65,000 rows × 12 cells, +68 MiB RSS, 15 s): capped on its own
ORDERHUB_INTAKE_MAX_XLS_BYTES = int(os.environ.get("ORDERHUB_INTAKE_MAX_XLS_BYTES", str(16 * 1024 * 1024)))
# the mailbox `orderhub intake poll-imap` reads purchase orders from
ORDERHUB_IMAP_HOST = os.environ.get("ORDERHUB_IMAP_HOST", "")
ORDERHUB_IMAP_PORT = int(os.environ.get("ORDERHUB_IMAP_PORT", "993"))
ORDERHUB_IMAP_USER = os.environ.get("ORDERHUB_IMAP_USER", "")
ORDERHUB_IMAP_PASSWORD = os.environ.get("ORDERHUB_IMAP_PASSWORD", "")
ORDERHUB_IMAP_MAILBOX = os.environ.get("ORDERHUB_IMAP_MAILBOX", "INBOX")
ORDERHUB_IMAP_SSL = os.environ.get("ORDERHUB_IMAP_SSL", "1") == "1"

# Background jobs (orderhub.celery, orderhub.notify). Production: Celery with Redis
# (`orderhub worker`, `orderhub beat`) and ORDERHUB_JOBS=celery on the web processes so a commit
# wakes a worker at once; the demo: ORDERHUB_JOBS=embedded (a thread in `orderhub serve`).
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
ORDERHUB_JOBS = os.environ.get("ORDERHUB_JOBS", "embedded")  # celery | embedded
# notifications: personal channels used when a user has no preference; attempts before a
# message becomes a dead letter; first retry delay (doubles each attempt, capped)
ORDERHUB_NOTIFY_DEFAULT_CHANNELS = os.environ.get("ORDERHUB_NOTIFY_DEFAULT_CHANNELS", "inapp,email").split(",")
ORDERHUB_NOTIFY_MAX_ATTEMPTS = int(os.environ.get("ORDERHUB_NOTIFY_MAX_ATTEMPTS", "8"))
ORDERHUB_NOTIFY_RETRY_SECONDS = float(os.environ.get("ORDERHUB_NOTIFY_RETRY_SECONDS", "30"))
ORDERHUB_NOTIFY_FROM_EMAIL = os.environ.get("ORDERHUB_NOTIFY_FROM_EMAIL", "orderhub@localhost")
# a message being sent is re-claimed by another worker after this many seconds (a dead worker)
ORDERHUB_NOTIFY_LEASE_SECONDS = float(os.environ.get("ORDERHUB_NOTIFY_LEASE_SECONDS", "120"))
ORDERHUB_BASE_URL = os.environ.get("ORDERHUB_BASE_URL", "http://127.0.0.1:8000")
# the CJK font printed documents embed (installed from npm by `make assets`, not a system font)
ORDERHUB_PDF_FONT_DIR = Path(os.environ.get("ORDERHUB_PDF_FONT_DIR",
                                            str(Path(__file__).resolve().parent / "web" / "static" / "vendor" / "fonts")))
# users of the roles, endpoints and templates are cached per process this long (saves here clear it)
ORDERHUB_NOTIFY_CACHE_SECONDS = float(os.environ.get("ORDERHUB_NOTIFY_CACHE_SECONDS", "10"))
# this many orders (not red) entering one stage in one change are told in one message per owner
ORDERHUB_NOTIFY_DIGEST_FROM = int(os.environ.get("ORDERHUB_NOTIFY_DIGEST_FROM", "20"))
# rules engine: how often a process checks whether rules were saved elsewhere (seconds)
ORDERHUB_RULES_RELOAD_SECONDS = float(os.environ.get("ORDERHUB_RULES_RELOAD_SECONDS", "2"))

# --------------------------------------------------------------------------- the edge
# Caches: rate limits (orderhub.core.ratelimit) and the board's shared render must be shared by
# every web process of an installation, so Redis whenever there is more than one process
# (production, ORDERHUB_JOBS=celery); the embedded demo keeps them in its one process.
# A board's index (counts and card keys) is computed at most this often per (board, filters,
# scope), whatever the rate of changes; a change reaches an open board within about this long
# plus the poll interval (web.views.board).
ORDERHUB_BOARD_INDEX_SECONDS = float(os.environ.get("ORDERHUB_BOARD_INDEX_SECONDS", "0.5"))
ORDERHUB_CACHE_URL = os.environ.get("ORDERHUB_CACHE_URL", "")
CACHES: dict[str, dict[str, Any]]
if ORDERHUB_CACHE_URL or ORDERHUB_JOBS == "celery" or ORDERHUB_PRODUCTION:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": ORDERHUB_CACHE_URL or REDIS_URL, "KEY_PREFIX": "orderhub"}}
else:
    # The board caches each card and column it renders (web.views.board): a few hundred entries
    # per open board, past Django's default of 300, where the cache would evict at random and
    # re-render on every poll.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                          "LOCATION": "orderhub", "OPTIONS": {"MAX_ENTRIES": 20000}}}

# Per client address ("count/seconds"; "0" turns one off). See orderhub.core.ratelimit.
ORDERHUB_RATE_LIMITS = {
    # login form posts (web and admin); each costs ~1 s of CPU for the password hash
    "login": os.environ.get("ORDERHUB_RATE_LOGIN", "20/60"),
    # intake webhooks, accepted or not (a marketplace pushes from few addresses: keep it high)
    "intake_webhook": os.environ.get("ORDERHUB_RATE_INTAKE_WEBHOOK", "12000/60"),
    # refused intake requests (bad signature, unknown channel, wrong quick-order link): over
    # this, every request of that address to those doors is answered 429 until the window ends
    "intake_refused": os.environ.get("ORDERHUB_RATE_INTAKE_REFUSED", "30/600"),
    # quick-order posts (a customer's phone)
    "quick_order": os.environ.get("ORDERHUB_RATE_QUICK_ORDER", "30/60"),
    # API requests with a bearer token that names no live token (revoked, mistyped, guessed)
    "api_token_refused": os.environ.get("ORDERHUB_RATE_API_TOKEN_REFUSED", "30/600"),
    # customer portal one-time codes: asked for, per client address and per e-mail/mobile asked
    # for; codes typed, per client address (each code also dies after 5 wrong tries)
    "portal_code_ip": os.environ.get("ORDERHUB_RATE_PORTAL_CODE_IP", "20/3600"),
    "portal_code_contact": os.environ.get("ORDERHUB_RATE_PORTAL_CODE_CONTACT", "5/3600"),
    "portal_verify_ip": os.environ.get("ORDERHUB_RATE_PORTAL_VERIFY_IP", "30/600"),
}
# Customer portal: session length, tracking links' validity, and (demo only, `orderhub demo`
# sets it) one-time codes shown on the sign-in page. Never set it in production.
ORDERHUB_PORTAL_SESSION_DAYS = int(os.environ.get("ORDERHUB_PORTAL_SESSION_DAYS", "14"))
ORDERHUB_TRACK_LINK_DAYS = int(os.environ.get("ORDERHUB_TRACK_LINK_DAYS", "60"))
ORDERHUB_PORTAL_SHOW_CODES = os.environ.get("ORDERHUB_PORTAL_SHOW_CODES", "0") == "1"
# Refused intake requests (logged without their body): kept this many days, at most this many rows
ORDERHUB_REFUSED_KEEP_DAYS = int(os.environ.get("ORDERHUB_REFUSED_KEEP_DAYS", "30"))
ORDERHUB_REFUSED_MAX_ROWS = int(os.environ.get("ORDERHUB_REFUSED_MAX_ROWS", "100000"))
# Reverse proxies in front that append to X-Forwarded-For (nginx: proxy_add_x_forwarded_for);
# the client address is taken from there, never from what the client itself sent.
ORDERHUB_BEHIND_PROXY = os.environ.get("ORDERHUB_BEHIND_PROXY", "0") == "1"
ORDERHUB_PROXY_COUNT = int(os.environ.get("ORDERHUB_PROXY_COUNT", "1" if ORDERHUB_BEHIND_PROXY else "0"))

# Login lockout (django-axes): 5 failures for one username from one address lock that pair
# for 15 minutes; an administrator can unlock a user on the users page.
AXES_FAILURE_LIMIT = int(os.environ.get("ORDERHUB_LOGIN_FAILURES", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("ORDERHUB_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "orderhub.web.views.home.locked_out"
AXES_CLIENT_IP_CALLABLE = "orderhub.core.client.client_ip"
AXES_DISABLE_ACCESS_LOG = True  # successful logins are not logged in a table that only grows
AXES_ENABLE_ADMIN = False  # the admin is read-only; lockouts are seen and lifted on the users page
AXES_VERBOSE = True

# HTTPS (ORDERHUB_HTTPS=1, the default in production): HSTS, Secure cookies, redirect to https.
# Behind a TLS-terminating proxy set ORDERHUB_BEHIND_PROXY=1: the proxy must set
# X-Forwarded-Proto (and overwrite one a client sent).
ORDERHUB_HTTPS = os.environ.get("ORDERHUB_HTTPS", "1" if ORDERHUB_PRODUCTION else "0") == "1"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # pages carry the token in the markup; no script needs the cookie
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if ORDERHUB_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if ORDERHUB_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = os.environ.get("ORDERHUB_SSL_REDIRECT", "1") == "1"
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer's probe may come over plain HTTP
    SECURE_HSTS_SECONDS = int(os.environ.get("ORDERHUB_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("ORDERHUB_HSTS_INCLUDE_SUBDOMAINS", "1") == "1"
    SECURE_HSTS_PRELOAD = os.environ.get("ORDERHUB_HSTS_PRELOAD", "0") == "1"
SILENCED_SYSTEM_CHECKS = [
    # security.W021 (SECURE_HSTS_PRELOAD off): asking browsers to hard-code HTTPS for the whole
    # domain is a commitment only the domain's owner can make; ORDERHUB_HSTS_PRELOAD=1 sets it.
    "security.W021",
]

# Content-Security-Policy on every response (django-csp): scripts and styles only from our own
# static files, nothing inline, no eval; Swagger at /api/docs works under it as it is (React sets
# styles through the CSSOM, which the policy allows). Downloads carry their own stricter policy
# (orderhub.core.downloads).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # Tabler's icons are data: SVGs in its stylesheet
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# health and metrics (orderhub.observability): /healthz calls the job runner stale when no
# periodic job finished for this long; /metrics answers only `Authorization: Bearer <token>`
# with this token (unset: /metrics is off)
ORDERHUB_HEALTH_STALE_SECONDS = float(os.environ.get("ORDERHUB_HEALTH_STALE_SECONDS", "30"))
ORDERHUB_METRICS_TOKEN = os.environ.get("ORDERHUB_METRICS_TOKEN", "")
