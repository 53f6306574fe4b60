"""Settings for the test suite.

DATABASE_URL picks the database (SQLite in memory by default; the test command
also runs the suite on PostgreSQL). ORDER_UPDATES_TEST_SHOP picks which of two
differently shaped order models the app is pointed at.
"""

import os

import dj_database_url

SECRET_KEY = "tests-only"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "sqlite:///:memory:"), conn_max_age=0
    )
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "phonenumber_field",
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

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

TEST_SHOP = os.environ.get("ORDER_UPDATES_TEST_SHOP", "plainshop")

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
        },
    }
else:
    raise ValueError("ORDER_UPDATES_TEST_SHOP must be plainshop or customershop")
