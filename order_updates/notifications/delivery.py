"""Delivering outbox rows: claim, render, send, retry, and the sweeper.

Every step is a conditional UPDATE on the row, so any number of workers on any
number of hosts may run these functions at once: a row is claimed by exactly one
of them, and a worker that dies mid-send loses its lease and the row goes back
to pending (at-least-once; where a provider takes an idempotency key, the row id
is passed so a repeat is recognised).
"""

from __future__ import annotations

import datetime
import logging
import random

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Case, F, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext

from order_updates import dispatch, signals
from order_updates.conf import app_settings
from order_updates.exceptions import OrderUpdatesError
from order_updates.models import Notification, NotificationState
from order_updates.notifications import quiet_hours
from order_updates.notifications.channels import get_channel
from order_updates.notifications.channels.base import (
    BaseChannel,
    ChannelError,
    RecipientGone,
)
from order_updates.notifications.preferences import (
    is_suppressed,
    preference_for_order,
    wants,
)
from order_updates.notifications.types import (
    CATEGORIES,
    get_notification_types,
    merchant_switches,
)

logger = logging.getLogger(__name__)

#: How long past its due time a pending row may wait for its own task before the
#: sweeper queues it again (a second task is harmless: the claim decides).
SWEEP_GRACE = datetime.timedelta(seconds=30)

#: Outcomes of :func:`deliver`.
SENT, FAILED, RETRY, POSTPONED, SKIPPED, NOT_CLAIMED = (
    "sent",
    "failed",
    "retry",
    "postponed",
    "skipped",
    "not claimed",
)


def claim(notification_id: int) -> bool:
    """Atomically take a due pending row for this worker (state "sending")."""
    now = timezone.now()
    lease = datetime.timedelta(seconds=app_settings.SENDING_LEASE_SECONDS)
    return bool(
        Notification.objects.filter(
            pk=notification_id,
            state=NotificationState.PENDING,
            next_attempt_at__lte=now,
        ).update(
            state=NotificationState.SENDING,
            attempts=F("attempts") + 1,
            lease_expires_at=now + lease,
            updated_at=now,
        )
    )


def deliver(notification_id: int) -> str:
    """Claim and send one notification; return what happened (see the constants)."""
    if not claim(notification_id):
        return NOT_CLAIMED
    notification = Notification.objects.select_related("event", "order").get(
        pk=notification_id
    )
    try:
        channel = get_channel(notification.channel)
        reason = _reason_not_to_send(notification, channel)
        if reason:
            _finish(notification, NotificationState.SKIPPED, reason=reason)
            return SKIPPED
        if is_suppressed(channel, notification.recipient):
            _finish(
                notification,
                NotificationState.SUPPRESSED,
                reason=gettext("Address suppressed after a bounce or complaint."),
            )
            return SKIPPED
        if channel.quiet_hours:
            zone = preference_for_order(notification.order).timezone
            resume = quiet_hours.postpone(timezone.now(), zone)
            if resume > timezone.now():
                _release(notification, resume, count_attempt=False)
                return POSTPONED
        with translation.override(notification.language or None):
            message = channel.build_message(notification, notification.order)
        Notification.objects.filter(pk=notification.pk).update(
            subject=message.subject, body_text=message.text, body_html=message.html
        )
        result = channel.send(message)
    except RecipientGone as exc:
        channel.forget_recipient(notification.recipient)
        return _fail(notification, exc)
    except ChannelError as exc:
        if exc.transient:
            return _retry_or_fail(notification, exc)
        return _fail(notification, exc)
    except (OrderUpdatesError, ImproperlyConfigured) as exc:
        # Template errors and set-up mistakes: retrying won't help; a merchant
        # fixes the cause and re-sends from the admin.
        return _fail(notification, exc)
    except Exception as exc:
        logger.exception("Unexpected error sending notification %s", notification.pk)
        return _retry_or_fail(notification, exc)
    now = timezone.now()
    # Delivery feedback may already have moved the row on (a fast provider): keep
    # its state then, but record what the provider said either way. A send that
    # outlived its lease was put back to pending by the sweeper: it went out,
    # so it is sent, and must not go out again.
    updated = Notification.objects.filter(pk=notification.pk).update(
        state=Case(
            When(
                state__in=[NotificationState.SENDING, NotificationState.PENDING],
                then=Value(NotificationState.SENT),
            ),
            default=F("state"),
        ),
        provider=result.provider[:50],
        provider_message_id=result.message_id[:255],
        sent_at=now,
        lease_expires_at=None,
        last_error="",
        updated_at=now,
    )
    if updated:
        notification.refresh_from_db()
        dispatch.send(
            signals.notification_sent,
            Notification,
            notification=notification,
            result=result,
        )
    return SENT


def backoff(attempts: int) -> float:
    """Seconds before retry number ``attempts``: exponential, capped, jittered."""
    base = app_settings.RETRY_BACKOFF_SECONDS * 2 ** max(0, attempts - 1)
    capped = min(base, app_settings.RETRY_BACKOFF_MAX_SECONDS)
    # Half fixed, half random: spreads out many rows that failed together.
    return capped / 2 + random.uniform(0, capped / 2)


def sweep() -> dict[str, int]:
    """Recover rows whose worker died, and queue due rows whose task was lost.

    Run it every minute (Celery beat, or cron with ``order_updates_sweep``).
    """
    from order_updates.notifications.outbox import enqueue

    now = timezone.now()
    lost_error = gettext("The worker sending it stopped (lease expired).")
    expired = list(
        Notification.objects.filter(
            state=NotificationState.SENDING, lease_expires_at__lt=now
        ).values_list("pk", "attempts")
    )
    failed_ids = [
        pk for pk, attempts in expired if attempts >= app_settings.MAX_ATTEMPTS
    ]
    recovered_ids = [
        pk for pk, attempts in expired if attempts < app_settings.MAX_ATTEMPTS
    ]
    still_sending = {"state": NotificationState.SENDING, "lease_expires_at__lt": now}
    failed = Notification.objects.filter(pk__in=failed_ids, **still_sending).update(
        state=NotificationState.FAILED,
        last_error=lost_error,
        lease_expires_at=None,
        updated_at=now,
    )
    recovered = Notification.objects.filter(
        pk__in=recovered_ids, **still_sending
    ).update(
        state=NotificationState.PENDING,
        next_attempt_at=now,
        last_error=lost_error,
        lease_expires_at=None,
        updated_at=now,
    )
    for notification in Notification.objects.filter(
        pk__in=failed_ids, state=NotificationState.FAILED, last_error=lost_error
    ):
        dispatch.send(
            signals.notification_failed,
            Notification,
            notification=notification,
            error=lost_error,
        )
    due = recovered_ids + list(
        Notification.objects.filter(
            state=NotificationState.PENDING, next_attempt_at__lte=now - SWEEP_GRACE
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[: app_settings.SWEEP_BATCH_SIZE]
    )
    if due:
        enqueue(due)
    return {"recovered": recovered, "failed": failed, "queued": len(due)}


# Internals ----------------------------------------------------------------------


def _reason_not_to_send(notification: Notification, channel: BaseChannel) -> str:
    """Why a claimed row should not go out after all ('' if it should)."""
    notification_type = get_notification_types().get(notification.type)
    if notification_type is None:
        return gettext("Notification type “%(type)s” no longer exists.") % {
            "type": notification.type
        }
    if not merchant_switches().get(notification.type, notification_type.enabled):
        return gettext("The shop switched off “%(type)s” notifications.") % {
            "type": notification_type.label
        }
    preference = preference_for_order(notification.order)
    if not wants(preference, notification_type.category, channel):
        category = CATEGORIES.get(
            notification_type.category, notification_type.category
        )
        return gettext("The customer no longer wants %(category)s by %(channel)s.") % {
            "category": str(category).lower(),
            "channel": notification.channel,
        }
    return ""


def _finish(notification: Notification, state: str, *, reason: str = "") -> None:
    Notification.objects.filter(
        pk=notification.pk, state=NotificationState.SENDING
    ).update(state=state, reason=reason[:255], lease_expires_at=None)


def _release(
    notification: Notification, when: datetime.datetime, *, count_attempt: bool
) -> None:
    """Put a claimed row back to pending, due at ``when``."""
    Notification.objects.filter(
        pk=notification.pk, state=NotificationState.SENDING
    ).update(
        state=NotificationState.PENDING,
        next_attempt_at=when,
        lease_expires_at=None,
        attempts=F("attempts") if count_attempt else F("attempts") - 1,
        updated_at=timezone.now(),
    )


def _retry_or_fail(notification: Notification, error: Exception) -> str:
    if notification.attempts >= app_settings.MAX_ATTEMPTS:
        return _fail(notification, error)
    delay = backoff(notification.attempts)
    when = timezone.now() + datetime.timedelta(seconds=delay)
    updated = Notification.objects.filter(
        pk=notification.pk, state=NotificationState.SENDING
    ).update(
        state=NotificationState.PENDING,
        next_attempt_at=when,
        last_error=_describe(error),
        lease_expires_at=None,
        updated_at=timezone.now(),
    )
    if updated:
        from order_updates.notifications.outbox import MAX_COUNTDOWN, enqueue

        if delay <= MAX_COUNTDOWN:
            enqueue([notification.pk], countdown=delay)
    return RETRY


def _fail(notification: Notification, error: Exception) -> str:
    message = _describe(error)
    updated = Notification.objects.filter(
        pk=notification.pk, state=NotificationState.SENDING
    ).update(
        state=NotificationState.FAILED,
        last_error=message,
        lease_expires_at=None,
        updated_at=timezone.now(),
    )
    if updated:
        notification.refresh_from_db()
        dispatch.send(
            signals.notification_failed,
            Notification,
            notification=notification,
            error=message,
        )
    return FAILED


def _describe(error: Exception) -> str:
    return "%s: %s" % (type(error).__name__, error)
