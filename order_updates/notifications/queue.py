"""Publishing outbox rows to the workers: Celery messages sent by task name.

Only :mod:`order_updates.tasks` defines tasks; this module sends their messages
by name, so the outbox and the delivery code never import the task module. A
message that cannot be published loses nothing: the rows stay pending in the
database and the sweeper publishes them again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import current_app

logger = logging.getLogger(__name__)

#: The task that delivers notification rows (see order_updates.tasks).
DELIVER_TASK = "order_updates.deliver_notifications"
#: Notification ids per Celery task message.
TASK_CHUNK = 50
#: Rows due later than this wait for the sweeper instead of a delayed task, since
#: brokers redeliver long-delayed messages (Redis' visibility timeout is 1 hour).
MAX_COUNTDOWN = 15 * 60


def publish(ids: Sequence[int], countdown: float = 0) -> bool:
    """Ask the workers to deliver these notifications; False if the broker refused.

    A refusal loses nothing: the rows stay pending and the sweeper queues them.
    """
    ids = list(ids)
    try:
        for start in range(0, len(ids), TASK_CHUNK):
            current_app.send_task(
                DELIVER_TASK,
                args=[ids[start : start + TASK_CHUNK]],
                countdown=max(0, countdown) or None,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.2},
            )
    except Exception:
        logger.warning(
            "Could not queue %d notification(s); the sweeper will retry them.",
            len(ids),
            exc_info=True,
        )
        return False
    return True
