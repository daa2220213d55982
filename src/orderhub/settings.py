"""Settings from the environment.

DATABASE_URL selects the database: a SQLite file under ORDERHUB_DATA_DIR by default (the embedded
demo), PostgreSQL in production and in the test suite.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("ORDERHUB_DATA_DIR", Path.cwd() / "var"))

SECRET_KEY = os.environ.get("ORDERHUB_SECRET_KEY", "dev-insecure-change-me")
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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "orderhub.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "orderhub.core.middleware.LanguageMiddleware",
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
# server-side prepared statements for the multi-table write path (core/fastsql.py); 0 behind a
# pooler that cannot keep them
ORDERHUB_PREPARE_STATEMENTS = os.environ.get("ORDERHUB_PREPARE_STATEMENTS", "1") == "1"
ORDERHUB_INTAKE_MAX_FILE_BYTES = int(os.environ.get("ORDERHUB_INTAKE_MAX_FILE_BYTES", str(64 * 1024 * 1024)))
# the mailbox `orderhub intake poll-imap` reads purchase orders from
ORDERHUB_IMAP_HOST = os.environ.get("ORDERHUB_IMAP_HOST", "")
ORDERHUB_IMAP_PORT = int(os.environ.get("ORDERHUB_IMAP_PORT", "993"))
ORDERHUB_IMAP_USER = os.environ.get("ORDERHUB_IMAP_USER", "")
ORDERHUB_IMAP_PASSWORD = os.environ.get("ORDERHUB_IMAP_PASSWORD", "")
ORDERHUB_IMAP_MAILBOX = os.environ.get("ORDERHUB_IMAP_MAILBOX", "INBOX")
ORDERHUB_IMAP_SSL = os.environ.get("ORDERHUB_IMAP_SSL", "1") == "1"
