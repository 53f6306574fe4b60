"""Celery tasks. Your Celery app finds them with ``app.autodiscover_tasks()``.

Schedule :func:`sweep_outbox` every minute, and :func:`prune_outbox` daily, with
Celery beat::

    app.conf.beat_schedule = {
        "order-updates-sweep": {"task": "order_updates.sweep_outbox", "schedule": 60},
        "order-updates-prune": {
            "task": "order_updates.prune_outbox",
            "schedule": 24 * 60 * 60,
        },
        # Late, stuck and overdue alerts (each raised once): hourly is plenty.
        "order-updates-check-shipments": {
            "task": "order_updates.check_shipments",
            "schedule": 60 * 60,
        },
    }
"""

from collections import Counter

from celery import shared_task

from order_updates.carriers import monitoring
from order_updates.notifications import delivery, maintenance
from order_updates.webhooks import delivery as webhook_delivery


@shared_task(
    name="order_updates.deliver_notifications",
    # Acknowledge only after the work is done. reject_on_worker_lost gives the
    # message back at once when a prefork child process dies mid-task; when the
    # main worker process dies (or under another pool) the broker redelivers it
    # only when it notices. Either way the row being sent stays "sending" until
    # its lease expires, and sweep_outbox recovers it: the sweeper, not these
    # flags, is what guarantees that a killed worker loses nothing.
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def deliver_notifications(notification_ids: list[int]) -> dict[str, int]:
    """Deliver these notifications as one batch (claimed atomically first).

    A prefork child that dies mid-task has its message handed back
    (``reject_on_worker_lost``); otherwise, and for the rows it was sending,
    :func:`sweep_outbox` recovers the work once the lease expires.
    """
    return dict(Counter(delivery.deliver_batch(notification_ids).values()))


@shared_task(
    name="order_updates.deliver_webhooks",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def deliver_webhooks(delivery_ids: list[int]) -> dict[str, int]:
    """Post these outbound webhook deliveries (claimed atomically first), with
    the same guarantees as :func:`deliver_notifications`.
    """
    return dict(Counter(webhook_delivery.deliver_batch(delivery_ids).values()))


@shared_task(name="order_updates.sweep_outbox", ignore_result=True)
def sweep_outbox() -> dict[str, int]:
    """Recover notifications and webhook deliveries whose worker died or whose
    task was lost (the notifications' counts; the webhooks' are logged)."""
    result = delivery.sweep()
    webhook_delivery.sweep()
    return result


@shared_task(name="order_updates.prune_outbox", ignore_result=True)
def prune_outbox() -> dict[str, int]:
    """Empty old message bodies and delete old notifications and webhook
    deliveries (daily is plenty)."""
    result = maintenance.prune()
    return {
        "bodies_cleared": result.bodies_cleared,
        "rows_deleted": result.rows_deleted,
        "webhook_deliveries_deleted": webhook_delivery.prune(),
    }


@shared_task(name="order_updates.check_shipments", ignore_result=True)
def check_shipments() -> dict[str, int]:
    """Raise the late, stuck and overdue alerts due (idempotent: run it hourly)."""
    return monitoring.check_all().as_dict()
