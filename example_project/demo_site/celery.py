"""The demo shop's Celery app, set up the way a Django shop sets up its own.

Start a worker (with the beat scheduler inside it, which runs order_updates'
sweeper every minute) from ``example_project/``::

    celery -A demo_site worker -B --pool=solo -l info

``make demo`` does this for you (``scripts/run-demo``). Settings prefixed
``CELERY_`` in ``demo_site/settings.py`` configure it: by default a broker that
needs no server (kombu's filesystem transport, in ``var/broker/``).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")

app = Celery("demo_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Finds order_updates.tasks (and any shop app's tasks.py).
app.autodiscover_tasks()
