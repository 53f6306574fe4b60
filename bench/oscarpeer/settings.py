"""Settings of the peer shop: django-oscar 4 as its docs set it up, without
order_updates.

Like bench.settings: email goes to the benchmark's SMTP sink at
``BENCH_SMTP_PORT`` (or to ``BENCH_EMAIL_BACKEND``), the database connection
persists, ``DEBUG`` is off. The database is ``BENCH_PEER_DATABASE_URL``.
"""

import os

import dj_database_url
from oscar import INSTALLED_APPS as OSCAR_APPS
from oscar.defaults import *  # noqa: F403 (Oscar's settings, as its docs say)

SECRET_KEY = "bench-peer-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
ROOT_URLCONF = "bench.oscarpeer.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SITE_ID = 1
STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("BENCH_PEER_DATABASE_URL") or "sqlite://:memory:"
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = None

# bench.oscarpeer first: its templates are the "shipped" email's.
INSTALLED_APPS = ["bench.oscarpeer", *OSCAR_APPS]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oscar.apps.search.context_processors.search_form",
                "oscar.apps.checkout.context_processors.checkout",
                "oscar.apps.communication.notifications.context_processors.notifications",
                "oscar.core.context_processors.metadata",
            ]
        },
    }
]

HAYSTACK_CONNECTIONS = {
    "default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}
}

EMAIL_BACKEND = os.environ.get(
    "BENCH_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ.get("BENCH_SMTP_PORT", "2525"))
EMAIL_TIMEOUT = 30
EMAIL_FILE_PATH = os.environ.get(
    "BENCH_EMAIL_FILE_PATH", "/tmp/order_updates_bench_mail"
)
DEFAULT_FROM_EMAIL = "Oscar Shop <shop@example.com>"
OSCAR_FROM_EMAIL = DEFAULT_FROM_EMAIL
OSCAR_SHOP_NAME = "Oscar Shop"
OSCAR_DEFAULT_CURRENCY = "EUR"

# The shop's status pipeline (as oscar_project's); orders wait in
# "Being processed" and the merchant moves them to "Shipped".
OSCAR_INITIAL_ORDER_STATUS = "Pending"
OSCAR_INITIAL_LINE_STATUS = "Pending"
OSCAR_ORDER_STATUS_PIPELINE = {
    "Pending": ("Being processed", "Cancelled"),
    "Being processed": ("Shipped", "Cancelled"),
    "Shipped": ("Complete",),
    "Complete": (),
    "Cancelled": (),
}
