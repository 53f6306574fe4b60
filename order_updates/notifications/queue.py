"""Publishing outbox rows to the workers: Celery messages sent by task name.

Only :mod:`order_updates.tasks` defines tasks; this module sends their messages
by name, so the outbox and the delivery code never import the task module.

Publishing never holds up the caller for long and never loses anything: it uses
a connection of its own with a short timeout (``PUBLISH_TIMEOUT``) and no
retries, and a message that cannot be published leaves its rows pending in the
database, where the sweeper finds them. Everything one transaction queued is
published together, once, after it commits.
"""

from __future__ import annotations

import datetime
import logging
import math
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone

from order_updates.conf import app_settings

logger = logging.getLogger(__name__)

#: The task that delivers notification rows (see order_updates.tasks).
DELIVER_TASK = "order_updates.deliver_notifications"
#: Notification ids per Celery task message.
TASK_CHUNK = 50
#: Rows due later than this wait for the sweeper instead of a delayed task, since
#: brokers redeliver long-delayed messages (Redis' visibility timeout is 1 hour).
MAX_COUNTDOWN = 15 * 60

_local = threading.local()


def publish(ids: Sequence[int], countdown: float = 0, task: str = DELIVER_TASK) -> int:
    """Ask the workers to deliver these notifications; return how many were
    published (0 when the broker refused or did not answer in time).

    A refusal loses nothing: the rows stay pending and the sweeper queues them.
    ``task`` names the task that delivers them: another outbox's rows (outbound
    webhooks) go to their own.
    """
    ids = list(ids)
    if current_app.conf.task_always_eager:
        return _run_eagerly(ids, task)
    published = 0
    try:
        connection = _connection()
        for start in range(0, len(ids), TASK_CHUNK):
            chunk = ids[start : start + TASK_CHUNK]
            current_app.send_task(
                task,
                args=[chunk],
                countdown=max(0, countdown) or None,
                connection=connection,
                retry=False,
            )
            published += len(chunk)
    except Exception:
        _drop_connection()
        logger.warning(
            "Could not queue %d notification(s); the sweeper will retry them.",
            len(ids) - published,
            exc_info=True,
        )
    return published


def _run_eagerly(ids: list[int], task_name: str) -> int:
    """With ``CELERY_TASK_ALWAYS_EAGER`` (a shop's tests), deliver at once, in
    this process: Celery's eager mode does not apply to tasks sent by name. Rows
    not due yet (coalescing, quiet hours) stay pending.
    """
    task = current_app.tasks.get(task_name)
    if task is None:
        # Outside a worker, the app's task modules are imported on demand.
        current_app.loader.import_default_modules()
        task = current_app.tasks.get(task_name)
    if task is None:
        logger.warning(
            "CELERY_TASK_ALWAYS_EAGER is on but %s is not registered: add "
            "app.autodiscover_tasks() to your Celery app. The notifications stay "
            "pending.",
            task_name,
        )
        return 0
    for start in range(0, len(ids), TASK_CHUNK):
        task.apply(args=[ids[start : start + TASK_CHUNK]], throw=True)
    return len(ids)


def publish_due(
    rows: Iterable[tuple[int, datetime.datetime]], task: str = DELIVER_TASK
) -> int:
    """Publish ``(id, due time)`` pairs, each with the countdown it needs now.

    Rows due beyond :data:`MAX_COUNTDOWN` are left to the sweeper. Returns how
    many were published.
    """
    now = timezone.now()
    by_countdown: dict[int, list[int]] = {}
    for pk, due in rows:
        wait = (due - now).total_seconds()
        if wait <= MAX_COUNTDOWN:
            # Rounded up: a task that arrives before its row is due finds nothing
            # to claim, and the row would wait for the sweeper.
            by_countdown.setdefault(max(0, math.ceil(wait)), []).append(pk)
    published = 0
    for countdown, ids in sorted(by_countdown.items()):
        done = publish(ids, countdown=countdown, task=task)
        published += done
        if done < len(ids):
            break  # the broker is away: don't wait for it once per group
    return published


def publish_after_commit(
    rows: Iterable[tuple[int, datetime.datetime]], task: str = DELIVER_TASK
) -> None:
    """Publish ``(id, due time)`` pairs once the current transaction commits.

    Every call within one transaction adds to one batch: the first of its
    callbacks to run after the commit publishes the whole batch (one round of
    messages per commit, not per change; the others find nothing left). Each
    call registers a callback of its own, so one survives whichever savepoint
    is rolled back. Rows of a rolled-back savepoint may be published too: their
    ids no longer exist, and the worker finds nothing to claim.
    """
    connection = transaction.get_connection()
    if not hasattr(_local, "pending"):
        _local.pending = {}
    pending = _local.pending.get(task)
    # This transaction's batch if one of its callbacks is still waiting (equal,
    # not identical: each ``pending.flush`` is a new bound method); else the
    # batch of a transaction that committed or rolled back: start a new one.
    if pending is None or not (
        connection.in_atomic_block
        and any(
            callback == pending.flush
            for _savepoints, callback, _robust in connection.run_on_commit
        )
    ):
        pending = _PendingPublish(task)
        _local.pending[task] = pending
    pending.rows.extend(rows)
    transaction.on_commit(pending.flush, robust=True)


class _PendingPublish:
    """The rows one transaction queued, published by :meth:`flush` after commit."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.rows: list[tuple[int, datetime.datetime]] = []

    def flush(self) -> None:
        pending = getattr(_local, "pending", {})
        if pending.get(self.task) is self:
            del pending[self.task]
        rows, self.rows = self.rows, []
        if rows:
            # A row queued twice in the transaction needs one message, the
            # earliest.
            due: dict[int, datetime.datetime] = {}
            for pk, at in rows:
                due[pk] = min(at, due[pk]) if pk in due else at
            publish_due(list(due.items()), task=self.task)


def _connection() -> Any:
    """This thread's broker connection for publishing, with short timeouts."""
    connection = getattr(_local, "connection", None)
    if connection is None:
        timeout = app_settings.PUBLISH_TIMEOUT
        options = dict(current_app.conf.broker_transport_options or {})
        # No reconnection loop in the caller's thread: one try, then the sweeper.
        options.update(max_retries=0)
        scheme = (current_app.conf.broker_url or "").split("://", 1)[0]
        if scheme.startswith(("redis", "rediss", "sentinel")):
            options.update(socket_timeout=timeout, socket_connect_timeout=timeout)
        elif scheme in ("amqp", "amqps", "pyamqp"):
            options.update(read_timeout=timeout, write_timeout=timeout)
        connection = current_app.connection_for_write(
            connect_timeout=timeout, transport_options=options
        )
        _local.connection = connection
    return connection


def _drop_connection() -> None:
    connection = getattr(_local, "connection", None)
    _local.connection = None
    if connection is not None:
        try:
            connection.release()
        except Exception:  # a dead broker may fail even this; nothing to keep
            logger.debug("Releasing a failed broker connection failed.", exc_info=True)
