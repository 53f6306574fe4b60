"""Celery tasks. Your Celery app finds them with ``app.autodiscover_tasks()``.

Schedule :func:`sweep_outbox` every minute with Celery beat::

    app.conf.beat_schedule = {
        "order-updates-sweep": {"task": "order_updates.sweep_outbox", "schedule": 60},
    }
"""

from celery import shared_task

from order_updates.notifications import delivery


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
    """Deliver these notifications (each one claimed atomically first).

    A prefork child that dies mid-task has its message handed back
    (``reject_on_worker_lost``); otherwise, and for the row it was sending,
    :func:`sweep_outbox` recovers the work once the lease expires.
    """
    outcomes: dict[str, int] = {}
    for notification_id in notification_ids:
        outcome = delivery.deliver(notification_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@shared_task(name="order_updates.sweep_outbox", ignore_result=True)
def sweep_outbox() -> dict[str, int]:
    """Recover notifications whose worker died or whose task was lost."""
    return delivery.sweep()
