"""Settings of the order_updates demo shop.

A development-only configuration: DEBUG on, a fixed secret key, SQLite in
``example_project/var/`` (or ``DATABASE_URL`` when set). Do not deploy it.

Everything the demo writes lives in one folder, ``example_project/var/`` or
``DEMO_VAR_DIR``: the database, the Celery broker's messages, the emails, logs.
"""

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DEMO_VAR_DIR") or BASE_DIR / "var").resolve()

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
    return dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)


DATABASES = {
    "default": _database_from_env()
    or {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_SQLITE_PATH") or VAR_DIR / "db.sqlite3",
        # The web server and two worker processes write to one file: take the
        # write lock when a transaction starts, and wait for it rather than fail
        # with "database is locked".
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
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

# Each email is written to var/mail/ (one file per message) and printed, short, on
# the console of the process that sends it: the Celery worker.
EMAIL_BACKEND = "demo_site.mail.EmailBackend"
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = "Demo Shop <shop@example.com>"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "order_updates:my_orders"
LOGOUT_REDIRECT_URL = "shop:product_list"

PHONENUMBER_DEFAULT_REGION = "DE"

# order_updates integration -------------------------------------------------------

ORDER_UPDATES_ORDER_MODEL = "shop.Order"
ORDER_UPDATES = {
    # Adds the link to the shop's order page to messages (see shop/adapter.py).
    "ADAPTER": "shop.adapter.DemoOrderAdapter",
    # Links in messages point here: the address runserver serves.
    "SITE_URL": os.environ.get("DEMO_SITE_URL", "http://127.0.0.1:8000"),
    "SHOP_NAME": "Demo Shop",
    # order_updates' customer pages (my orders, tracking, lookup, preferences) wrap
    # themselves in the shop's layout; its blocks are "title" and "content".
    "BASE_TEMPLATE": "shop/base.html",
    # Each channel as in Django's STORAGES: its class, and the keyword arguments it
    # is built with (a dotted path alone: no options; email comes from
    # DEFAULT_FROM_EMAIL).
    "CHANNELS": {
        "email": "order_updates.notifications.channels.email.EmailChannel",
        # Texts go to customers who ticked "Text me delivery updates" at checkout
        # (and to alice, whom seed_demo signs up); the console provider prints them.
        "sms": {
            "BACKEND": "order_updates.notifications.channels.sms.SMSChannel",
            "OPTIONS": {
                "provider": {
                    "BACKEND": (
                        "order_updates.notifications.channels.sms.console"
                        ".ConsoleSMSProvider"
                    ),
                    "OPTIONS": {"sender": "DemoShop"},
                },
            },
        },
    },
    # Changes to an order within this window go out as one message (the default is
    # 30 s). 10 s keeps the demo snappy (the "order received" email arrives 10 s
    # after checkout) and still leaves time to see coalescing: confirm an order
    # within 10 s of placing it and one message tells the latest state.
    "COALESCE_SECONDS": 10,
    # No quiet hours (the default holds SMS from 21:00 to 08:00 in the customer's
    # time zone): someone trying the demo in the evening should see texts at once.
    "QUIET_HOURS": None,
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
        # The tracking lookup form accepts the postcode instead of the email.
        "shipping_postcode": "shipping_postcode",
        # The demo ships for free: no shipping charge to show.
        "shipping": None,
    },
    "ITEM_FIELDS": {
        "name": "product_name",
        "quantity": "quantity",
        "unit_price": "unit_price",
    },
    # A user's own phone number, on the shop's profile model (shop/models.py):
    # the template editor sends a staff member's test texts there.
    "USER_PHONE_FIELD": "profile__phone",
}


# Celery (demo_site/celery.py) --------------------------------------------------------

# The demo's broker needs no server: kombu's filesystem transport passes messages as
# files in var/broker/. Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run
# the same demo over Redis, as a production shop would.
# ("localhost" only spares a warning: the filesystem transport has no host.)
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://localhost//"


def filesystem_broker_options(var_dir):
    """Folders of the filesystem broker in ``var_dir``/broker/, created if missing."""
    broker = Path(var_dir) / "broker"
    options = {
        # Producers (runserver) write where the worker reads: one folder.
        "data_folder_in": str(broker / "queue"),
        "data_folder_out": str(broker / "queue"),
        "control_folder": str(broker / "control"),
        # Keep consumed messages, to look at what went through.
        "store_processed": True,
        "processed_folder": str(broker / "processed"),
    }
    for key in ("data_folder_in", "control_folder", "processed_folder"):
        Path(options[key]).mkdir(parents=True, exist_ok=True)
    return options


if CELERY_BROKER_URL.startswith("filesystem:"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# order_updates' tasks keep no results: no result backend needed.
CELERY_TASK_IGNORE_RESULT = True
# Workers keep their database connection across tasks (Celery's Django fix-up
# closes it around every task otherwise).
CELERY_DB_REUSE_MAX = 100
CELERY_TIMEZONE = TIME_ZONE
# Let the emails and texts the worker prints reach its console as they are, not
# as log records.
CELERY_WORKER_REDIRECT_STDOUTS = False
# The sweeper re-queues notifications whose task was lost; run it every minute.
CELERY_BEAT_SCHEDULE = {
    "order-updates-sweep": {"task": "order_updates.sweep_outbox", "schedule": 60.0},
    # Late, stuck and overdue orders, each reported once.
    "order-updates-check-shipments": {
        "task": "order_updates.check_shipments",
        "schedule": 3600.0,
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
