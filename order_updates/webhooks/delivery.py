"""Delivering webhook rows with the notification engine's machinery.

A webhook delivery is a row of an outbox table of its own
(:class:`~order_updates.models.WebhookDelivery`), not a notification: it has no
customer, template, preference or quiet hours. What the two share is the
engine's claim (fencing token and lease), lease keeper, back-off, publishing
and sweeper, called here with this table (``claim_rows``, ``LeaseKeeper``,
``backoff``, ``sweep_rows`` of :mod:`order_updates.notifications.delivery`).

Each attempt is logged (:class:`~order_updates.models.WebhookAttempt`); a 2xx
answer delivers, anything else is retried with back-off up to
``MAX_ATTEMPTS``, and an endpoint that fails ``WEBHOOK_DISABLE_AFTER_FAILURES``
times in a row is switched off.
"""

from __future__ import annotations

import datetime
import http.client
import logging
import time
import uuid
from collections.abc import Sequence

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from order_updates.conf import app_settings
from order_updates.exceptions import UnsafeWebhookTarget
from order_updates.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
)
from order_updates.notifications import delivery as engine
from order_updates.notifications import queue
from order_updates.webhooks import sending, signing
from order_updates.webhooks.events import DELIVER_TASK

logger = logging.getLogger(__name__)

#: Outcomes of :func:`deliver_batch`, as the notification engine names them.
SENT, RETRY, FAILED, NOT_CLAIMED, LEASE_LOST = (
    engine.SENT,
    engine.RETRY,
    engine.FAILED,
    engine.NOT_CLAIMED,
    engine.LEASE_LOST,
)


def deliver_batch(ids: Sequence[int]) -> dict[int, str]:
    """Claim and post these deliveries; each one's outcome."""
    outcomes = dict.fromkeys(ids, NOT_CLAIMED)
    token = uuid.uuid4()
    rows = list(
        engine.claim_rows(WebhookDelivery, ids, token).select_related("endpoint")
    )
    if not rows:
        return outcomes
    with engine.LeaseKeeper(token, [row.pk for row in rows], WebhookDelivery) as lease:
        for row in rows:
            if lease.lost:
                outcomes[row.pk] = LEASE_LOST
                continue
            outcomes[row.pk] = _deliver(row, token)
            lease.done([row.pk])
    return outcomes


def _deliver(row: WebhookDelivery, token: uuid.UUID) -> str:
    endpoint = row.endpoint
    if not endpoint.active:
        return _finish(
            row,
            token,
            WebhookDeliveryState.FAILED,
            last_error=gettext("The endpoint is disabled."),
        )
    body = row.body.encode()
    started_at = timezone.now()
    headers = signing.headers(
        endpoint.secret, str(row.event_id), int(time.time()), body
    )
    attempt = WebhookAttempt(delivery=row, started_at=started_at, url=endpoint.url)
    clock = time.monotonic()
    try:
        answer = sending.post(
            endpoint.url, body, headers, timeout=app_settings.WEBHOOK_TIMEOUT
        )
    except (UnsafeWebhookTarget, OSError, http.client.HTTPException) as exc:
        attempt.error = "%s: %s" % (type(exc).__name__, exc)
        attempt.duration_ms = int((time.monotonic() - clock) * 1000)
        error = attempt.error
    else:
        attempt.status_code = answer.status
        attempt.response = answer.body
        attempt.duration_ms = answer.duration_ms
        error = gettext("The endpoint answered HTTP %(status)s.") % {
            "status": answer.status
        }
    attempt.save()
    if attempt.ok:
        WebhookEndpoint.objects.filter(
            pk=endpoint.pk, consecutive_failures__gt=0
        ).update(consecutive_failures=0)
        return _finish(
            row,
            token,
            WebhookDeliveryState.SENT,
            delivered_at=timezone.now(),
            last_error="",
        )
    _count_failure(endpoint)
    if row.attempts < app_settings.MAX_ATTEMPTS:
        when = timezone.now() + datetime.timedelta(seconds=engine.backoff(row.attempts))
        outcome = _finish(
            row,
            token,
            WebhookDeliveryState.PENDING,
            next_attempt_at=when,
            last_error=error,
        )
        if outcome == RETRY:
            queue.publish_due([(row.pk, when)], task=DELIVER_TASK)
        return outcome
    return _finish(row, token, WebhookDeliveryState.FAILED, last_error=error)


_OUTCOMES: dict[str, str] = {
    WebhookDeliveryState.SENT: SENT,
    WebhookDeliveryState.PENDING: RETRY,
    WebhookDeliveryState.FAILED: FAILED,
}


def _finish(row: WebhookDelivery, token: uuid.UUID, state: str, **values) -> str:
    """Record the outcome, fenced by the claim token (a row the sweeper gave to
    another worker meanwhile is that worker's to record)."""
    updated = WebhookDelivery.objects.filter(
        pk=row.pk, claim_token=token, state=WebhookDeliveryState.SENDING
    ).update(
        state=state,
        lease_expires_at=None,
        updated_at=timezone.now(),
        **values,
    )
    return _OUTCOMES[state] if updated else LEASE_LOST


def _count_failure(endpoint: WebhookEndpoint) -> None:
    """One more failure in a row; switch the endpoint off at the limit."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    limit = app_settings.WEBHOOK_DISABLE_AFTER_FAILURES
    if limit is None:
        return
    disabled = WebhookEndpoint.objects.filter(
        pk=endpoint.pk, active=True, consecutive_failures__gte=limit
    ).update(
        active=False,
        disabled_at=timezone.now(),
        disabled_reason=(
            gettext("Switched off after %(count)d failed attempts in a row.")
            % {"count": limit}
        )[:255],
    )
    if disabled:
        logger.warning(
            "Webhook endpoint %s (%s) was switched off after %d failed attempts "
            "in a row.",
            endpoint.pk,
            endpoint.url,
            limit,
        )


def resend(deliveries: Sequence[WebhookDelivery]) -> int:
    """Post these deliveries again (failed or delivered ones), with the same
    event id; return how many were queued. Pending and sending ones are left.
    """
    now = timezone.now()
    pks = list(
        WebhookDelivery.objects.filter(
            pk__in=[delivery.pk for delivery in deliveries],
            state__in=[WebhookDeliveryState.FAILED, WebhookDeliveryState.SENT],
        ).values_list("pk", flat=True)
    )
    done = WebhookDelivery.objects.filter(
        pk__in=pks,
        state__in=[WebhookDeliveryState.FAILED, WebhookDeliveryState.SENT],
    ).update(
        state=WebhookDeliveryState.PENDING,
        attempts=0,
        next_attempt_at=now,
        lease_expires_at=None,
        updated_at=now,
    )
    if done:
        queue.publish_after_commit([(pk, now) for pk in pks], task=DELIVER_TASK)
    return done


def sweep(budget: float | None = None) -> dict[str, int]:
    """:func:`order_updates.notifications.delivery.sweep` for webhook deliveries."""
    swept = engine.sweep_rows(WebhookDelivery, DELIVER_TASK, budget)
    return {
        "recovered": swept.recovered,
        "failed": len(swept.failed),
        "queued": swept.queued,
    }


def prune(
    rows_days: int | None = None, batch_size: int = 1000, *, dry_run: bool = False
) -> int:
    """Delete delivered and failed deliveries (with their attempts) older than
    ``rows_days`` (default ``PRUNE_ROWS_AFTER_DAYS``; None keeps them), in
    batches; return how many were deleted (with ``dry_run``: would be). Waiting
    ones are never touched.
    """
    days = app_settings.PRUNE_ROWS_AFTER_DAYS if rows_days is None else rows_days
    if days is None:
        return 0
    old = WebhookDelivery.objects.filter(
        state__in=[WebhookDeliveryState.SENT, WebhookDeliveryState.FAILED],
        created_at__lt=timezone.now() - datetime.timedelta(days=days),
    )
    if dry_run:
        return old.count()
    deleted = 0
    while True:
        pks = list(old.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted
        WebhookDelivery.objects.filter(pk__in=pks).delete()
        deleted += len(pks)
