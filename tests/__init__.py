# Like a shop's project package: load the Celery app so tasks publish through it.
from .celery_app import app as celery_app

__all__ = ["celery_app"]
