"""Settings of the order_updates demo shop.

A development-only configuration: DEBUG on, a fixed secret key, SQLite in
``example_project/var/`` (or ``DATABASE_URL`` when set). Do not deploy it.
"""

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "demo-only-not-secret-0123456789abcdefghijklmnopqrstuvwxyz"
)
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "phonenumber_field",
    "order_updates",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.context_processors.cart",
            ],
        },
    },
]


def _database_from_env():
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    try:
        import dj_database_url
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return dj_database_url.parse(url, conn_max_age=0)


DATABASES = {
    "default": _database_from_env()
    or {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_SQLITE_PATH") or VAR_DIR / "db.sqlite3",
    }
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = []  # the demo logins are alice/alice and bob/bob

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("de", _("German")), ("fr", _("French"))]
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "Demo Shop <shop@example.com>"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "shop:my_orders"
LOGOUT_REDIRECT_URL = "shop:product_list"

PHONENUMBER_DEFAULT_REGION = "DE"

# order_updates integration -------------------------------------------------------

ORDER_UPDATES_ORDER_MODEL = "shop.Order"
ORDER_UPDATES = {
    # The shop's field names differ from order_updates' conventional ones on purpose
    # (the user is "customer", the items are "lines"...): the default adapter is told
    # where to look.
    "ORDER_FIELDS": {
        "number": "number",
        "email": "email",
        "user": "customer",
        "phone": "phone",
        "language": "language",
        "customer_name": "shipping_name",
        "total": "total",
        "currency": "currency",
        "items": "lines",
        "created": "placed_at",
        # One path per address line.
        "shipping_address": [
            "shipping_name",
            "shipping_line1",
            "shipping_postcode",
            "shipping_city",
            "shipping_country",
        ],
    },
    "ITEM_FIELDS": {
        "name": "product_name",
        "quantity": "quantity",
        "price": "unit_price",
    },
}
