"""Keeping the outbox healthy: pruning old rows, and the health check.

Notification rows keep the full message they carried (subject, text, HTML), which
makes the log useful and the table large. :func:`prune` empties the bodies of old
rows and then deletes older rows, in batches; :func:`health` says whether
notifications are flowing, for monitoring.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext

from order_updates.conf import app_settings
from order_updates.models import Notification, NotificationState, SweeperRun

#: States a row never leaves by itself: safe to prune.
FINAL_STATES = [
    NotificationState.SENT,
    NotificationState.DELIVERED,
    NotificationState.FAILED,
    NotificationState.BOUNCED,
    NotificationState.SUPPRESSED,
    NotificationState.SKIPPED,
]


@dataclass
class PruneResult:
    """What :func:`prune` did (or, with ``dry_run``, would do)."""

    bodies_cleared: int = 0
    rows_deleted: int = 0


def prune(
    *,
    bodies_days: int | None = None,
    rows_days: int | None = None,
    batch_size: int = 1000,
    dry_run: bool = False,
) -> PruneResult:
    """Empty the message bodies of finished rows older than ``bodies_days`` and
    delete finished rows older than ``rows_days`` (with their delivery feedback).

    The defaults are ``PRUNE_BODIES_AFTER_DAYS`` and ``PRUNE_ROWS_AFTER_DAYS``;
    ``None`` there keeps them forever. Pending and sending rows are never
    touched. Works in batches of ``batch_size``, so no long lock is held.
    """
    bodies_days = _setting(bodies_days, "PRUNE_BODIES_AFTER_DAYS")
    rows_days = _setting(rows_days, "PRUNE_ROWS_AFTER_DAYS")
    now = timezone.now()
    result = PruneResult()
    finished = Notification.objects.filter(state__in=FINAL_STATES)
    if rows_days is not None:
        deleted_before = now - datetime.timedelta(days=rows_days)
        old = finished.filter(created_at__lt=deleted_before)
        # What is deleted needs no emptying (a dry run must count the same).
        finished = finished.filter(created_at__gte=deleted_before)
        if dry_run:
            result.rows_deleted = old.count()
        else:
            result.rows_deleted = _in_batches(old, batch_size, delete=True)
    if bodies_days is not None:
        with_body = finished.filter(
            created_at__lt=now - datetime.timedelta(days=bodies_days)
        ).exclude(subject="", body_text="", body_html="")
        if dry_run:
            result.bodies_cleared = with_body.count()
        else:
            result.bodies_cleared = _in_batches(with_body, batch_size, delete=False)
    return result


def _setting(value: int | None, name: str) -> int | None:
    value = getattr(app_settings, name) if value is None else value
    if value is not None and (not isinstance(value, int) or value < 0):
        raise ValueError(
            "%s must be a number of days (0 or more), or None; got %r." % (name, value)
        )
    return value


def _in_batches(rows, batch_size: int, *, delete: bool) -> int:
    done = 0
    while True:
        pks = list(rows.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return done
        batch = Notification.objects.filter(pk__in=pks)
        if delete:
            batch.delete()
        else:
            batch.update(subject="", body_text="", body_html="")
        done += len(pks)


@dataclass
class Health:
    """How the outbox is doing: :func:`health`'s answer."""

    #: Seconds the oldest due pending notification has waited (0: none waits).
    oldest_due_seconds: float
    #: Seconds since the sweeper last finished, or None if it never ran.
    sweeper_seconds: float | None
    #: Due notifications the last sweep could not get to (its time ran out).
    sweeper_remaining: int
    #: What is wrong, one sentence each; empty when healthy.
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ok" if self.ok else "failing",
            "oldest_due_seconds": round(self.oldest_due_seconds, 1),
            "sweeper_seconds": (
                None if self.sweeper_seconds is None else round(self.sweeper_seconds, 1)
            ),
            "sweeper_remaining": self.sweeper_remaining,
            "problems": self.problems,
        }


def health() -> Health:
    """Check that notifications flow: none waits too long past its due time
    (``HEALTH_MAX_DUE_SECONDS``), and the sweeper ran recently
    (``HEALTH_MAX_SWEEP_SECONDS``). Two queries.
    """
    now = timezone.now()
    oldest = Notification.objects.filter(
        state=NotificationState.PENDING, next_attempt_at__lte=now
    ).aggregate(oldest=Min("next_attempt_at"))["oldest"]
    waited = (now - oldest).total_seconds() if oldest else 0.0
    run = SweeperRun.objects.filter(pk=1).first()
    since_sweep = (now - run.finished_at).total_seconds() if run else None
    result = Health(
        oldest_due_seconds=waited,
        sweeper_seconds=since_sweep,
        sweeper_remaining=run.remaining if run else 0,
    )
    max_due = app_settings.HEALTH_MAX_DUE_SECONDS
    if waited > max_due:
        result.problems.append(
            gettext(
                "A notification has waited %(seconds)d s past its due time (limit "
                "%(limit)d s): are the workers running and reaching the broker?"
            )
            % {"seconds": waited, "limit": max_due}
        )
    max_sweep = app_settings.HEALTH_MAX_SWEEP_SECONDS
    if since_sweep is None:
        result.problems.append(
            gettext(
                "The sweeper has never run: schedule order_updates.sweep_outbox "
                "with Celery beat, or manage.py order_updates_sweep with cron."
            )
        )
    elif since_sweep > max_sweep:
        result.problems.append(
            gettext(
                "The sweeper last ran %(seconds)d s ago (limit %(limit)d s): is "
                "Celery beat (or the cron job) running?"
            )
            % {"seconds": since_sweep, "limit": max_sweep}
        )
    return result
