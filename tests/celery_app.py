"""The Celery app the test suite and its workers use (like a shop's celery.py)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("order_updates_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["order_updates"])
