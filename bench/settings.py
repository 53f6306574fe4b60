"""Settings for the benchmarks: the test suite's (tests/settings.py) plus the
few things a benchmark needs.

* ``bench.baselineshop``: the baseline shop's own status columns and its email
  templates (what a shop without order_updates writes and sends itself).
* Email goes to the local SMTP sink (bench/smtp_sink.py) at ``BENCH_SMTP_PORT``,
  for the baseline and the workers alike; ``BENCH_EMAIL_BACKEND`` may name
  another backend (the file-based one) for both.
* The demo shop's middleware stack, for the page benchmark (bench/pages.py).
* Persistent database connections for this process, and for the workers
  ``CELERY_DB_REUSE_MAX`` (Celery's Django fix-up closes connections around
  every task otherwise), as docs/deployment.rst recommends.

Coalescing and quiet hours are off (tests/settings.py already says so; repeated
here because the measurements depend on it).
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, INSTALLED_APPS, ORDER_UPDATES

INSTALLED_APPS = [*INSTALLED_APPS, "bench.baselineshop"]

DATABASES["default"]["CONN_MAX_AGE"] = None
CELERY_DB_REUSE_MAX = 100

EMAIL_BACKEND = os.environ.get(
    "BENCH_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ.get("BENCH_SMTP_PORT", "2525"))
EMAIL_TIMEOUT = 30
EMAIL_FILE_PATH = os.environ.get(
    "BENCH_EMAIL_FILE_PATH", "/tmp/order_updates_bench_mail"
)

ORDER_UPDATES = {**ORDER_UPDATES, "COALESCE_SECONDS": 0, "QUIET_HOURS": None}

ROOT_URLCONF = "bench.urls"

# The page benchmark's requests go through a shop's whole middleware stack: the
# demo shop's (Django's default project stack and LocaleMiddleware), not the
# test suite's three.
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
ALLOWED_HOSTS = ["testserver"]  # the test client's host (CommonMiddleware checks it)
