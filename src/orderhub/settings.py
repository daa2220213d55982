"""Settings from the environment.

DATABASE_URL selects the database: a SQLite file under ORDERHUB_DATA_DIR by default (the embedded
demo), PostgreSQL in production and in the test suite.
"""

import os
from pathlib import Path

import dj_database_url

from orderhub.core.keys import is_production, load_key

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("ORDERHUB_DATA_DIR", Path.cwd() / "var"))

# ORDERHUB_ENV=production: keys must come from the environment (see orderhub.core.keys);
# elsewhere (demo, development, tests) missing keys are made once under DATA_DIR/keys.
ORDERHUB_PRODUCTION = is_production()
SECRET_KEY = load_key("secret", "ORDERHUB_SECRET_KEY", DATA_DIR)
# the key of the audit chain's MAC (never stored in the database)
ORDERHUB_AUDIT_KEY = load_key("audit", "ORDERHUB_AUDIT_KEY", DATA_DIR)
# the key that encrypts secrets stored in the database (channel secrets, endpoint tokens)
ORDERHUB_ENCRYPTION_KEY = load_key("encryption", "ORDERHUB_ENCRYPTION_KEY", DATA_DIR)
DEBUG = os.environ.get("ORDERHUB_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("ORDERHUB_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "orderhub.core",
    "orderhub.catalog",
    "orderhub.inventory",
    "orderhub.workflow",
    "orderhub.orders",
    "orderhub.web",
    "orderhub.intake",
    "orderhub.notify",
    "orderhub.rules",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "orderhub.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "orderhub.core.middleware.LanguageMiddleware",
    "orderhub.core.middleware.RefuseNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and os.environ.get(
        "ORDERHUB_ALLOW_TRUNCATE") == "1":
    # Test runs only: lets the test database be emptied between tests despite the
    # append-only triggers (which still refuse UPDATE and DELETE).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c orderhub.allow_truncate=on"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
# "sync": a webhook is parsed before it is answered; "queue": stored and answered 202 at once,
# parsed by `orderhub intake process-pending --loop`.
ORDERHUB_INTAKE_WEBHOOK_MODE = os.environ.get("ORDERHUB_INTAKE_WEBHOOK_MODE", "sync")
# server-side prepared statements for the multi-table write path (core/fastsql.py); 0 behind a
# pooler that cannot keep them
ORDERHUB_PREPARE_STATEMENTS = os.environ.get("ORDERHUB_PREPARE_STATEMENTS", "1") == "1"
ORDERHUB_PIPELINE = os.environ.get("ORDERHUB_PIPELINE", "1") == "1"
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
# users of the roles, endpoints and templates are cached per process this long (saves here clear it)
ORDERHUB_NOTIFY_CACHE_SECONDS = float(os.environ.get("ORDERHUB_NOTIFY_CACHE_SECONDS", "10"))
# rules engine: how often a process checks whether rules were saved elsewhere (seconds)
ORDERHUB_RULES_RELOAD_SECONDS = float(os.environ.get("ORDERHUB_RULES_RELOAD_SECONDS", "2"))
