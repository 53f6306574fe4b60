"""Settings for the test suite.

DATABASE_URL picks the database (SQLite in memory by default; the test command
also runs the suite on PostgreSQL). ORDER_UPDATES_TEST_SHOP picks which of two
differently shaped order models the app is pointed at.
"""

import os
from typing import Any

import dj_database_url

SECRET_KEY = "tests-only"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or "sqlite:///:memory:",
        conn_max_age=int(os.environ.get("TEST_CONN_MAX_AGE", 0)),
        conn_health_checks=True,
    )
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "phonenumber_field",
    "rest_framework",
    "rest_framework.authtoken",
    "order_updates",
    "tests.testapps.plainshop",
    "tests.testapps.customershop",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
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
            ]
        },
    }
]

# As in any shop: {% static %} in templates, and pytest-django's live_server
# (whose static files handler needs a STATIC_URL).
STATIC_URL = "/static/"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

TEST_SHOP = os.environ.get("ORDER_UPDATES_TEST_SHOP", "plainshop")

ORDER_UPDATES: dict[str, Any]

if TEST_SHOP == "plainshop":
    ORDER_UPDATES_ORDER_MODEL = "plainshop.Order"
    ORDER_UPDATES = {
        "ORDER_FIELDS": {
            "items": "lines",
            "created": "created_at",
            "shipping_address": ["number", "email"],
        },
    }
elif TEST_SHOP == "customershop":
    ORDER_UPDATES_ORDER_MODEL = "customershop.Purchase"
    ORDER_UPDATES = {
        "ORDER_FIELDS": {
            "number": "reference",
            "email": "customer__email",
            "user": "customer__user",
            "phone": "customer__phone",
            "language": "customer__preferred_language",
            "customer_name": "customer__full_name",
            "total": "amount",
            "currency": None,
            "created": "placed_at",
            "shipping": "shipping_fee",
            "shipping_address": "customer__address",
        },
        # Its lines (Purchase.items) know their total, not their unit price.
        "ITEM_FIELDS": {"quantity": "qty"},
    }
else:
    raise ValueError("ORDER_UPDATES_TEST_SHOP must be plainshop or customershop")

# --- Notifications ---------------------------------------------------------------
ORDER_UPDATES.update(
    {
        "SITE_URL": "https://shop.example.com",
        "SHOP_NAME": "Test Shop",
        "CHANNELS": {
            # A plain dotted path: no options.
            "email": "order_updates.notifications.channels.email.EmailChannel",
            "sms": {
                "BACKEND": "order_updates.notifications.channels.sms.SMSChannel",
                "OPTIONS": {
                    "provider": {
                        "BACKEND": (
                            "order_updates.notifications.channels.sms.test"
                            ".TestSMSProvider"
                        ),
                        "OPTIONS": {"sender": "+15005550006"},
                    },
                },
            },
        },
        # Deterministic by default; the tests of these features turn them on.
        "COALESCE_SECONDS": 0,
        "QUIET_HOURS": None,
    }
)
# Customer pages: the test shops have no base.html of their own.
ORDER_UPDATES["BASE_TEMPLATE"] = "order_updates/standalone.html"
DEFAULT_FROM_EMAIL = "Test Shop <shop@example.com>"
# A worker started by the tests (a separate process) writes mail here.
EMAIL_BACKEND = os.environ.get(
    "TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"
)
EMAIL_FILE_PATH = os.environ.get("TEST_EMAIL_FILE_PATH", "/tmp/order_updates_mail")

# Celery over the machine's Redis (database 15 is the tests' own). Tests that need
# a worker start a real one (tests/celery_worker.py); no eager mode.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 30}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = False
CELERY_TASK_DEFAULT_QUEUE = os.environ.get(
    "CELERY_TASK_DEFAULT_QUEUE", "order_updates_tests"
)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Worker processes started by the tests keep their database connection across
# tasks, as the deployment docs recommend (tests/celery_worker.py sets it).
CELERY_DB_REUSE_MAX = int(os.environ.get("TEST_DB_REUSE_MAX", 0)) or None
# Worker processes started by tests get fast retries through the environment.
ORDER_UPDATES["RETRY_BACKOFF_SECONDS"] = float(os.environ.get("TEST_RETRY_BACKOFF", 30))
ORDER_UPDATES["SENDING_LEASE_SECONDS"] = int(os.environ.get("TEST_LEASE_SECONDS", 300))

# --- Outbound webhooks ---------------------------------------------------------------
# The webhook tests post to a real HTTP server they start on loopback.
ORDER_UPDATES["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = True
ORDER_UPDATES["WEBHOOK_TIMEOUT"] = 5

# --- REST API ----------------------------------------------------------------------
# Customers log in with a session or a token (rest_framework.authtoken).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}
