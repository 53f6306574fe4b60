"""The Celery app the test suite and its workers use (like a shop's celery.py)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("order_updates_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["order_updates"])

if os.environ.get("TEST_SENT_LOG"):
    # A worker started by a test: count its "sent" signals where the test reads.
    from tests import sent_log

    sent_log.record_to(
        os.environ["TEST_SENT_LOG"], os.environ.get("TEST_WORKER_TAG", "")
    )
