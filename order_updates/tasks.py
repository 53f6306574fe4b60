"""Celery tasks. Your Celery app finds them with ``app.autodiscover_tasks()``.

Schedule :func:`sweep_outbox` every minute with Celery beat::

    app.conf.beat_schedule = {
        "order-updates-sweep": {"task": "order_updates.sweep_outbox", "schedule": 60},
    }
"""

from collections import Counter

from celery import shared_task

from order_updates.notifications import delivery


@shared_task(
    name="order_updates.deliver_notifications",
    # Acknowledge only after the work is done, and give the message back if the
    # worker process dies: a killed worker loses nothing.
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def deliver_notifications(notification_ids: list[int]) -> dict[str, int]:
    """Deliver these notifications as one batch (claimed atomically first)."""
    return dict(Counter(delivery.deliver_batch(notification_ids).values()))


@shared_task(name="order_updates.sweep_outbox", ignore_result=True)
def sweep_outbox() -> dict[str, int]:
    """Recover notifications whose worker died or whose task was lost."""
    return delivery.sweep()
