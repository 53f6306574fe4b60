"""A django-oscar 4 shop with order_updates, set up as docs/oscar.rst says."""

import os

import dj_database_url
from oscar import INSTALLED_APPS as OSCAR_APPS
from oscar.defaults import *  # noqa: F403 (Oscar's settings, as its docs say)

from order_updates.contrib.oscar import PRESET

SECRET_KEY = "oscar-tests-only"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
ROOT_URLCONF = "oscar_shop.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SITE_ID = 1
STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or "sqlite://:memory:"
    )
}

INSTALLED_APPS = [
    *OSCAR_APPS,
    "order_updates",
    "order_updates.contrib.oscar",
]

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

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = "Oscar Shop <shop@example.com>"
OSCAR_FROM_EMAIL = DEFAULT_FROM_EMAIL
OSCAR_DEFAULT_CURRENCY = "GBP"

# The shop's own status pipeline.
OSCAR_INITIAL_ORDER_STATUS = "Pending"
OSCAR_INITIAL_LINE_STATUS = "Pending"
OSCAR_ORDER_STATUS_PIPELINE = {
    "Pending": ("Being processed", "Cancelled"),
    "Being processed": ("Shipped", "Cancelled"),
    "Shipped": ("Complete",),
    "Complete": (),
    "Cancelled": (),
}

# order_updates follows Oscar's order model, read by the preset's adapter.
ORDER_UPDATES_ORDER_MODEL = "order.Order"
ORDER_UPDATES = {
    **PRESET,
    "SITE_URL": "https://oscar.example.com",
    "SHOP_NAME": "Oscar Shop",
    # Each status of OSCAR_ORDER_STATUS_PIPELINE → a pipeline code.
    "STATUS_MAP": {
        "Pending": "placed",
        "Being processed": "processing",
        "Shipped": "shipped",
        "Complete": "delivered",
        "Cancelled": "cancelled",
    },
    # Tests run the delivery of messages themselves (no worker, no delays).
    "COALESCE_SECONDS": 0,
    "QUIET_HOURS": None,
}
# Publishing to the broker after commit happens in no test here; a short timeout
# keeps an accidental one quick.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
