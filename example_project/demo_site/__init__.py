# Load the Celery app whenever Django starts, so that tasks queued by the shop
# (order_updates' notifications) go to the demo's broker.
from .celery import app as celery_app

__all__ = ["celery_app"]
