"""Delivering outbox rows: claim, lease, render, send, retry, and the sweeper.

A worker task gets up to 50 notification ids and handles them as one batch:

1. **claim** the due pending rows among them in one statement, stamping each with
   a fresh *claim token* and a lease (``SENDING_LEASE_SECONDS``);
2. **load** what the batch needs once: orders (lines prefetched), customers'
   preferences, merchant switches, suppressed addresses, newer messages,
   statuses and shipments, templates;
3. **decide** per row: skip (type off, customer opted out, superseded by a newer
   message), suppress, postpone (quiet hours, an older message still in flight),
   or render;
4. **send** each channel's messages together (one SMTP connection for the
   emails), a few at a time, marking each group in one statement;
5. **finish** the others (retry with back-off, fail, skip…) in one statement per
   outcome.

Every update after the claim requires the claim token (fencing): a worker whose
lease was taken over cannot overwrite what the next one does, so one send is
counted once. A lease keeper renews the lease while the batch takes long, so a
slow but living worker keeps its rows. Any number of workers on any number of
hosts may run this at once. At the provider boundary the guarantee is
at-least-once: a worker killed (or stalled past its lease) after the provider
accepted a message but before its group was marked has that message sent again
(at most one group per batch; see docs/guarantees.rst).
"""

from __future__ import annotations

import datetime
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Case, F, Model, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from order_updates import signals
from order_updates.conf import app_settings
from order_updates.core.adapter import get_adapter
from order_updates.core.events import send_signal
from order_updates.exceptions import ChannelError, OrderUpdatesError, RecipientGone
from order_updates.models import Notification, NotificationState, SweeperRun
from order_updates.notifications import failures, queue, quiet_hours
from order_updates.notifications.channels import get_channel
from order_updates.notifications.channels.base import BaseChannel
from order_updates.notifications.preferences import (
    preferences_for_orders,
    suppressed_keys,
    wants,
)
from order_updates.notifications.templating.context import (
    ContextLoader,
    replaced_messages,
)
from order_updates.notifications.templating.rendering import render_sources
from order_updates.notifications.templating.sources import get_sources
from order_updates.notifications.types import (
    CATEGORIES,
    get_notification_types,
    merchant_switches,
)

logger = logging.getLogger(__name__)

#: How long past its due time a pending row may wait for its own task before the
#: sweeper queues it again (a second task is harmless: the claim decides).
SWEEP_GRACE = datetime.timedelta(seconds=30)
#: Messages sent between two records of what was sent. A worker killed between a
#: provider's "accepted" and the record sends at most this many again.
SEND_GROUP = 10
#: How long a message waits when an older one to the same recipient is still
#: being sent, so the two never overtake each other.
IN_FLIGHT_WAIT = datetime.timedelta(seconds=5)

#: Outcomes of :func:`deliver`. ``LEASE_LOST``: this worker was stalled past its
#: lease and another one took the row over; what this worker did (a send
#: included) is not recorded, the other worker's outcome is.
SENT, FAILED, RETRY, POSTPONED, SKIPPED, NOT_CLAIMED, LEASE_LOST = (
    "sent",
    "failed",
    "retry",
    "postponed",
    "skipped",
    "not claimed",
    "lease lost",
)

#: States a newer message must not be in for it to supersede an older one: a
#: newer message that will never arrive does not make the older one stale.
NOT_SUPERSEDING = [
    NotificationState.FAILED,
    NotificationState.SKIPPED,
    NotificationState.SUPPRESSED,
    NotificationState.BOUNCED,
]


# Claiming ---------------------------------------------------------------------------


def claim(
    ids: int | Iterable[int], token: uuid.UUID | None = None
) -> list[Notification]:
    """Atomically take the due pending rows among ``ids`` for this worker.

    One statement stamps them "sending" with ``token`` (a new one if not given)
    and a lease; they are returned with their events, oldest first. Rows another
    worker holds, or that are not due, are left alone (on PostgreSQL without
    waiting for locks: ``SKIP LOCKED``).
    """
    token = token or uuid.uuid4()
    return list(claim_rows(Notification, ids, token).select_related("event"))


def claim_rows(
    model: type[Model], ids: int | Iterable[int], token: uuid.UUID
) -> QuerySet:
    """:func:`claim` for any outbox table, oldest first (an empty queryset
    when none was claimed).

    ``model`` has the outbox columns: ``state``, ``attempts``,
    ``next_attempt_at``, ``lease_expires_at``, ``claim_token``, ``last_error``
    and ``updated_at``, with the states of :class:`NotificationState` (outbound
    webhooks' deliveries are such a table).
    """
    ids = [ids] if isinstance(ids, int) else list(ids)
    now = timezone.now()
    manager = model._default_manager
    due = manager.filter(
        pk__in=ids, state=NotificationState.PENDING, next_attempt_at__lte=now
    )
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            due = manager.filter(
                pk__in=due.select_for_update(skip_locked=True).values("pk")
            )
        claimed = due.update(
            state=NotificationState.SENDING,
            attempts=F("attempts") + 1,
            lease_expires_at=now + _lease(),
            claim_token=token,
            updated_at=now,
        )
    if not claimed:
        return manager.none()
    return manager.filter(pk__in=ids, claim_token=token).order_by("pk")


class LeaseKeeper:
    """Renews the lease of a batch's rows while the worker still works on them.

    A thread renews every third of ``SENDING_LEASE_SECONDS``, only for the rows
    still "sending" under this claim token. If a row's lease was lost meanwhile
    (the worker was stalled longer than the lease and the sweeper took the row
    back), :attr:`lost` turns True and the worker sends nothing more.

    ``model``: the outbox table (see :func:`claim_rows`).
    """

    def __init__(
        self, token: uuid.UUID, pks: Iterable[int], model: type[Model] = Notification
    ) -> None:
        self.model = model
        self.token = token
        self.pks = set(pks)
        self.lost = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LeaseKeeper:
        self._thread = threading.Thread(
            target=self._run, name="order_updates-lease", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def done(self, pks: Iterable[int]) -> None:
        """These rows are finished: stop renewing them."""
        with self._lock:
            self.pks.difference_update(pks)

    def _run(self) -> None:
        interval = _lease().total_seconds() / 3
        try:
            while not self._stop.wait(interval):
                self.renew()
        finally:
            # This thread's own database connection.
            connection.close()

    def renew(self) -> None:
        """Extend the lease of the rows still held (one statement)."""
        with self._lock:
            pks = list(self.pks)
        if not pks:
            return
        renewed = self.model._default_manager.filter(
            pk__in=pks, claim_token=self.token, state=NotificationState.SENDING
        ).update(lease_expires_at=timezone.now() + _lease())
        if renewed < len(pks):
            with self._lock:
                still = self.pks
                if len(still) > renewed:
                    logger.warning(
                        "A worker lost the lease of %d notification(s); it sends "
                        "none of them.",
                        len(still) - renewed,
                    )
                    self.lost = True


# Delivering -------------------------------------------------------------------------


def deliver(notification_id: int) -> str:
    """Claim and send one notification; return what happened (see the constants)."""
    return deliver_batch([notification_id])[notification_id]


def deliver_batch(ids: Sequence[int]) -> dict[int, str]:
    """Claim and send these notifications as one batch; each one's outcome."""
    outcomes = dict.fromkeys(ids, NOT_CLAIMED)
    token = uuid.uuid4()
    rows = claim(ids, token)
    if rows:
        with LeaseKeeper(token, [row.pk for row in rows]) as lease:
            outcomes.update(_Batch(rows, token, lease).run())
    return outcomes


class _Batch:
    """One worker task's claimed rows, and everything needed to send them."""

    def __init__(
        self, rows: list[Notification], token: uuid.UUID, lease: LeaseKeeper
    ) -> None:
        self.rows = rows
        self.token = token
        self.lease = lease
        self.now = timezone.now()
        self.outcomes: dict[int, str] = {}
        # pk -> field values, per final state (one statement each).
        self.finished: dict[str, dict[int, dict[str, Any]]] = {}
        self.retries: list[tuple[int, datetime.datetime]] = []
        self.failures: list[tuple[Notification, str]] = []
        #: Each row's channel (configured by the row's channel name).
        self.channels: dict[int, BaseChannel] = {}
        #: Addresses found at send time for rows queued without one.
        self.found_recipients: dict[int, str] = {}
        #: Rows superseded by a newer message: pk -> the newer one's pk.
        self.superseded: dict[int, int] = {}

    def run(self) -> dict[int, str]:
        adapter = get_adapter()
        orders = adapter.get_message_queryset().in_bulk(
            {row.order_id for row in self.rows}
        )
        for row in self.rows:
            row.order = orders[row.order_id]
        self.preferences = preferences_for_orders(orders.values())
        to_send = self._decide()
        if to_send:
            self._render_and_send(to_send, list(orders.values()))
        self._finish()
        return self.outcomes

    # Deciding -----------------------------------------------------------------------

    def _decide(self) -> list[Notification]:
        """Rows that go out now; the others get their outcome."""
        types = get_notification_types()
        switches = merchant_switches()
        rows = []
        for row in self.rows:
            try:
                self.channels[row.pk] = get_channel(row.channel)
            except ImproperlyConfigured as exc:  # the channel left the settings
                self._failed_attempt(row, exc)
                continue
            preference = self.preferences[row.order_id]
            if row.recipient or self._find_recipient(row, preference):
                rows.append(row)
        suppressed = suppressed_keys(
            (self.channels[row.pk], row.recipient) for row in rows
        )
        newer, in_flight, waiting = self._others()
        survivors = []
        for row in rows:
            channel = self.channels[row.pk]
            notification_type = types.get(row.type)
            preference = self.preferences[row.order_id]
            if notification_type is None:
                self._skip(
                    row,
                    gettext("Notification type “%(type)s” no longer exists.")
                    % {"type": row.type},
                )
            elif not switches.get(row.type, notification_type.enabled):
                self._skip(
                    row,
                    gettext("The shop switched off “%(type)s” notifications.")
                    % {"type": notification_type.label},
                )
            elif not wants(preference, notification_type.category, channel):
                category = CATEGORIES.get(
                    notification_type.category, notification_type.category
                )
                self._skip(
                    row,
                    gettext("The customer no longer wants %(category)s by %(channel)s.")
                    % {"category": str(category).lower(), "channel": channel.label},
                )
            elif (row.channel, row.recipient) in suppressed:
                self._finish_as(
                    row,
                    NotificationState.SUPPRESSED,
                    SKIPPED,
                    reason=gettext("Address suppressed after a bounce or complaint."),
                )
            elif (
                notification_type.coalesce
                and row.pk in newer
                # Staff sent it again: they asked for this message, not the newest.
                and row.resent_at is None
            ):
                # The newer one carries this one's message (replaced_messages).
                self.superseded[row.pk] = newer[row.pk]
                self._finish_as(
                    row,
                    NotificationState.SKIPPED,
                    SKIPPED,
                    reason=gettext("Superseded by a newer update (#%(id)s).")
                    % {"id": newer[row.pk]},
                    superseded_by=newer[row.pk],
                )
            elif row.pk in in_flight:
                # An older message to the same recipient is on its way: wait, so
                # the two never overtake each other.
                self._postpone(row, self.now + IN_FLIGHT_WAIT)
            elif not self._outside_quiet_hours(row, channel, preference):
                continue
            else:
                survivors.append(row)
        self._take_over(survivors, waiting, types)
        return survivors

    def _take_over(
        self,
        rows: list[Notification],
        waiting: dict[int, list[int]],
        types: dict[str, Any],
    ) -> None:
        """Older messages of a coalescing type still pending for the recipients
        of the coalescing ``rows`` about to go out (one failed while a newer one
        was written, and waits for its retry): the newest of ``rows`` supersedes
        them now and carries their messages, rather than letting them be skipped
        after it went out.
        """
        taken: dict[int, dict[str, Any]] = {}
        for row in sorted(rows, key=lambda row: row.pk):
            notification_type = types.get(row.type)
            if notification_type is None or not notification_type.coalesce:
                continue
            for pk in waiting.get(row.pk, []):
                taken[pk] = {
                    "reason": gettext("Superseded by a newer update (#%(id)s).")
                    % {"id": row.pk},
                    "superseded_by": row.pk,
                }
        if taken:
            Notification.objects.filter(state=NotificationState.PENDING).update_each(
                taken, state=NotificationState.SKIPPED, updated_at=timezone.now()
            )

    def _find_recipient(self, row: Notification, preference: Any) -> bool:
        """Find the address of a row queued without one (finding it failed then,
        and a merchant re-sent it); False if there is still none.
        """
        try:
            found = self.channels[row.pk].recipients(
                row.order, get_adapter(), preference
            )
        except Exception as exc:
            self._failed_attempt(row, exc)
            return False
        if not found:
            self._skip(row, gettext("There is no address to send it to."))
            return False
        row.recipient = found[0]
        self.found_recipients[row.pk] = row.recipient
        return True

    def _others(self) -> tuple[dict[int, int], set[int], dict[int, list[int]]]:
        """Among other rows to the same recipients (one query): for each of ours,
        the newer coalescing message that supersedes it, whether an older one is
        still being sent by another worker, and the older coalescing ones still
        pending (see :meth:`_take_over`).
        """
        coalescing = [
            code for code, item in get_notification_types().items() if item.coalesce
        ]
        ours = {row.pk for row in self.rows}
        first = min(ours)
        others = (
            Notification.objects.filter(
                order_id__in={row.order_id for row in self.rows},
                channel__in={row.channel for row in self.rows},
            )
            .filter(
                Q(pk__gt=first, type__in=coalescing) & ~Q(state__in=NOT_SUPERSEDING)
                | Q(pk__lt=max(ours), state=NotificationState.SENDING)
                | Q(
                    pk__lt=max(ours),
                    state=NotificationState.PENDING,
                    type__in=coalescing,
                    resent_at__isnull=True,  # staff sent it again: it goes itself
                )
            )
            .exclude(pk__in=ours)
            .values_list("pk", "order_id", "channel", "recipient", "state", "type")
        )
        newer: dict[int, int] = {}
        in_flight: set[int] = set()
        waiting: dict[int, list[int]] = {}
        by_key: dict[tuple[Any, str, str], list[Notification]] = {}
        for row in self.rows:
            by_key.setdefault((row.order_id, row.channel, row.recipient), []).append(
                row
            )
        for pk, order_id, channel, recipient, state, type_code in others:
            for row in by_key.get((order_id, channel, recipient), []):
                if pk > row.pk and type_code in coalescing:
                    newer[row.pk] = max(newer.get(row.pk, 0), pk)
                elif pk < row.pk and state == NotificationState.SENDING:
                    in_flight.add(row.pk)
                elif (
                    pk < row.pk
                    and state == NotificationState.PENDING
                    and type_code in coalescing
                ):
                    waiting.setdefault(row.pk, []).append(pk)
        # Within the batch too: only the newest of a recipient's messages goes.
        for rows in by_key.values():
            for older in rows[:-1]:
                if older.type in coalescing and rows[-1].type in coalescing:
                    newer[older.pk] = max(newer.get(older.pk, 0), rows[-1].pk)
        return newer, in_flight, waiting

    def _outside_quiet_hours(
        self, row: Notification, channel: BaseChannel, preference: Any
    ) -> bool:
        """False (and the row postponed) inside the customer's quiet hours."""
        if not channel.quiet_hours:
            return True
        resume = quiet_hours.postpone(self.now, preference.timezone)
        if resume <= self.now:
            return True
        self._postpone(row, resume)
        return False

    # Rendering and sending ----------------------------------------------------------

    def _render_and_send(self, rows: list[Notification], orders: list[Any]) -> None:
        contexts = ContextLoader(orders)
        replaced = replaced_messages(self.rows, self.superseded)
        sources: dict[tuple[str, str, str], Any] = {}
        by_channel: dict[str, list[tuple[Notification, Any]]] = {}
        for row in rows:
            channel = self.channels[row.pk]
            try:
                zone = quiet_hours.get_zone(self.preferences[row.order_id].timezone)
                context = contexts.for_notification(
                    row, row.order, zone, channel, replaced.get(row.pk, [])
                )
                language = context["notification"]["language"]
                key = (row.type, channel.name, language)
                if key not in sources:
                    sources[key] = get_sources(row.type, channel, language)
                rendered = render_sources(
                    row.type, channel, language, sources[key], context
                )
                # The language it is written in (not saved: the row keeps the
                # customer's), for the email's List-Unsubscribe header.
                row.language = language
                message = channel.build_message(row, row.order, rendered)
            except Exception as exc:
                self._failed_attempt(row, exc)
                continue
            row.subject, row.body_text, row.body_html = (
                message.subject,
                message.text,
                message.html,
            )
            by_channel.setdefault(row.channel, []).append((row, message))
        for name, pairs in by_channel.items():
            channel = get_channel(name)
            for start in range(0, len(pairs), SEND_GROUP):
                group = pairs[start : start + SEND_GROUP]
                if self.lease.lost:
                    # The rows are someone else's now: send nothing more.
                    for row in rows:
                        self.outcomes.setdefault(row.pk, LEASE_LOST)
                    return
                try:
                    results = channel.send_batch([message for _row, message in group])
                except Exception as exc:
                    results = [exc] * len(group)
                sent = []
                for (row, _message), result in zip(group, results, strict=True):
                    if isinstance(result, Exception):
                        if isinstance(result, RecipientGone):
                            channel.forget_recipient(row.recipient)
                        self._failed_attempt(row, result)
                    else:
                        sent.append((row, result))
                self._mark_sent(sent)

    def _mark_sent(self, sent: list[tuple[Notification, Any]]) -> None:
        """Record a group of sent messages in one statement, then announce them."""
        if not sent:
            return
        now = timezone.now()
        values = {
            row.pk: {
                **(
                    {"recipient": row.recipient}
                    if row.pk in self.found_recipients
                    else {}
                ),
                "provider": result.provider[:50],
                "provider_message_id": result.message_id[:255],
                "subject": row.subject,
                "body_text": row.body_text,
                "body_html": row.body_html,
            }
            for row, result in sent
        }
        # Delivery feedback may already have moved a row on (a fast provider):
        # keep its state then. A row the sweeper put back to pending under our
        # token went out: it is sent, even if staff cancelled it meanwhile
        # (cancel() keeps the token for this). A row claimed by another worker
        # since (a new token) is not touched: that worker's send is counted.
        updated = Notification.objects.filter(claim_token=self.token).update_each(
            values,
            state=Case(
                When(
                    state__in=[
                        NotificationState.SENDING,
                        NotificationState.PENDING,
                        NotificationState.SKIPPED,
                    ],
                    then=Value(NotificationState.SENT),
                ),
                default=F("state"),
            ),
            sent_at=now,
            lease_expires_at=None,
            last_error="",
            updated_at=now,
        )
        self.lease.done(values)
        # Rows whose token changed were claimed by another worker; the rest,
        # ours, are sent (or moved on by feedback).
        taken = self._not_recorded(values, updated)
        if taken:
            # The lease ran out while this worker was stalled (it is shared by
            # the whole batch): stop at this group, whatever the keeper saw yet.
            self.lease.lost = True
        for row, result in sent:
            if row.pk in taken:
                logger.warning(
                    "Notification %s went out after this worker had lost it to "
                    "another one (stalled past its lease): the provider got it "
                    "twice; the other worker's send is the one recorded.",
                    row.pk,
                )
                self.outcomes[row.pk] = LEASE_LOST
                continue
            self.outcomes[row.pk] = SENT
            row.state = NotificationState.SENT
            row.sent_at = now
            row.provider = result.provider[:50]
            row.provider_message_id = result.message_id[:255]
            send_signal(
                signals.notification_sent, Notification, notification=row, result=result
            )

    # Outcomes ------------------------------------------------------------------------

    def _skip(self, row: Notification, reason: str) -> None:
        self._finish_as(row, NotificationState.SKIPPED, SKIPPED, reason=reason)

    def _finish_as(
        self, row: Notification, state: str, outcome: str, **values: Any
    ) -> None:
        if "reason" in values:
            values["reason"] = values["reason"][:255]
        self.finished.setdefault(state, {})[row.pk] = values
        self.outcomes[row.pk] = outcome

    def _postpone(self, row: Notification, when: datetime.datetime) -> None:
        """Back to pending until ``when``, without counting an attempt."""
        self._finish_as(
            row,
            NotificationState.PENDING,
            POSTPONED,
            next_attempt_at=when,
            attempts=max(0, row.attempts - 1),
        )

    def _failed_attempt(self, row: Notification, error: Exception) -> None:
        """Retry later, or fail for good: by the error and the attempts left."""
        message = _describe(error)
        if isinstance(error, ChannelError):
            retry = error.transient
        elif isinstance(error, (OrderUpdatesError, ImproperlyConfigured)):
            # Template errors and set-up mistakes: retrying won't help; a merchant
            # fixes the cause and re-sends from the admin.
            retry = False
        else:
            logger.error(
                "Unexpected error sending notification %s",
                row.pk,
                exc_info=error,
            )
            retry = True
        if retry and row.attempts < app_settings.MAX_ATTEMPTS:
            when = self.now + datetime.timedelta(seconds=backoff(row.attempts))
            self._finish_as(
                row,
                NotificationState.PENDING,
                RETRY,
                next_attempt_at=when,
                last_error=message,
            )
            self.retries.append((row.pk, when))
        else:
            self._finish_as(row, NotificationState.FAILED, FAILED, last_error=message)
            self.failures.append((row, message))

    def _not_recorded(
        self, pks: Iterable[int], updated: int, **recorded: Any
    ) -> set[int]:
        """Among ``pks``, just written under our claim token with ``updated``
        rows changed, those whose outcome was not recorded: the sweeper or
        another worker took them over while this worker was stalled.

        ``recorded``: what a row we wrote looks like now, besides our token.
        """
        pks = set(pks)
        if updated == len(pks):
            return set()
        ours = Notification.objects.filter(
            pk__in=pks, claim_token=self.token, **recorded
        )
        return pks - set(ours.values_list("pk", flat=True))

    def _finish(self) -> None:
        """Write every outcome but "sent", one statement per state, in one
        transaction with what the failure consumers write (the failures'
        webhooks), so a worker that dies or a database error leaves both
        unwritten (the sweeper then takes the rows back); announce the failures
        once it has committed.
        """
        if not self.finished:
            return
        now = timezone.now()
        taken: set[int] = set()
        # Stop renewing these rows first: a renewal waiting for this
        # transaction's row locks would find them finished, and see a lost lease.
        for values in self.finished.values():
            self.lease.done(values)
        with transaction.atomic():
            for state, values in self.finished.items():
                common: dict[str, Any] = {"state": state, "updated_at": now}
                common["lease_expires_at"] = None
                updated = Notification.objects.filter(
                    claim_token=self.token, state=NotificationState.SENDING
                ).update_each(values, **common)
                taken |= self._not_recorded(values, updated, state=state)
            self.failures = [item for item in self.failures if item[0].pk not in taken]
            for row, message in self.failures:
                row.state = NotificationState.FAILED
                row.last_error = message
            failures.consume_failures(self.failures)
        for pk in taken:
            self.outcomes[pk] = LEASE_LOST
        self.retries = [item for item in self.retries if item[0] not in taken]
        failures.announce_failures(self.failures)
        if self.retries:
            queue.publish_due(self.retries)


# Retrying and re-sending ------------------------------------------------------------


def backoff(attempts: int) -> float:
    """Seconds before retry number ``attempts``: exponential, capped, jittered."""
    base = app_settings.RETRY_BACKOFF_SECONDS * 2 ** max(0, attempts - 1)
    capped = min(base, app_settings.RETRY_BACKOFF_MAX_SECONDS)
    # Half fixed, half random: spreads out many rows that failed together.
    return capped / 2 + random.uniform(0, capped / 2)


def resend(notification: Notification) -> bool:
    """Send a failed, bounced, suppressed or skipped notification again, now.

    The row is marked (``resent_at``) so that a newer update does not supersede
    it: staff asked for this message, so it goes out even after a newer one.
    Everything else is checked again as for any message (the type switched off,
    the customer's preferences, a suppressed address).

    Returns False if it is pending, sending or was sent fine meanwhile.
    """
    now = timezone.now()
    done = Notification.objects.filter(
        pk=notification.pk,
        state__in=[
            NotificationState.FAILED,
            NotificationState.BOUNCED,
            NotificationState.SUPPRESSED,
            NotificationState.SKIPPED,
        ],
    ).update(
        state=NotificationState.PENDING,
        attempts=0,
        next_attempt_at=now,
        lease_expires_at=None,
        reason="",
        superseded_by=None,
        resent_at=now,
        updated_at=now,
    )
    if done:
        queue.publish_after_commit([(notification.pk, now)])
    return bool(done)


def cancel(notification: Notification, user: Any = None) -> bool:
    """Cancel a pending notification: it is skipped and never sent.

    One conditional statement, like the claim: it wins over a worker only while
    the row is pending, and returns False if the row is being sent or has moved
    on. The claim token is kept: should a worker that lost its lease (and whose
    row the sweeper put back to pending) still have sent the message, its record
    of the send wins, and the row shows as sent, as it was.
    """
    who = ""
    if user is not None and getattr(user, "pk", None) is not None:
        who = user.get_username()
    reason = (
        gettext("Cancelled by %(user)s.") % {"user": who}
        if who
        else gettext("Cancelled by staff.")
    )
    now = timezone.now()
    return bool(
        Notification.objects.filter(
            pk=notification.pk, state=NotificationState.PENDING
        ).update(
            state=NotificationState.SKIPPED,
            reason=reason[:255],
            lease_expires_at=None,
            updated_at=now,
        )
    )


# The sweeper ------------------------------------------------------------------------


def sweep(budget: float | None = None) -> dict[str, int]:
    """Recover rows whose worker died, and queue due rows whose task was lost.

    Run it every minute (Celery beat, or cron with ``order_updates_sweep``). It
    pages through every due row (``SWEEP_BATCH_SIZE`` at a time) until none is
    left or ``budget`` seconds (``SWEEP_TIME_BUDGET``) have passed, and stops
    early when the broker refuses. ``queued`` counts what the broker accepted.

    It holds no lock on the rows it queues: workers skip locked rows, so a
    worker quicker than the sweeper's commit would find nothing to claim. Two
    sweeps that overlap may queue a row twice; the claim lets one worker send it.
    """
    lost_error = gettext(LOST_LEASE)
    recorded: list[tuple[Notification, str]] = []

    def record_failed(rows: QuerySet) -> None:
        failed = [(row, lost_error) for row in rows]
        failures.consume_failures(failed)
        recorded.extend(failed)

    swept = sweep_rows(Notification, queue.DELIVER_TASK, budget, record_failed)
    # None when recording them rolled back (the next sweep tries again).
    committed = set(swept.failed)
    failures.announce_failures(
        (row, error) for row, error in recorded if row.pk in committed
    )
    SweeperRun.objects.update_or_create(
        pk=1,
        defaults={
            "finished_at": timezone.now(),
            "recovered": swept.recovered,
            "failed": len(swept.failed),
            "queued": swept.queued,
            "remaining": swept.remaining,
        },
    )
    return {
        "recovered": swept.recovered,
        "failed": len(swept.failed),
        "queued": swept.queued,
    }


#: The error of a row whose worker stopped renewing its lease.
LOST_LEASE = gettext_noop("The worker sending it stopped (lease expired).")


@dataclass
class Swept:
    """What one sweep of an outbox table did."""

    #: Rows whose lease ran out, back to pending.
    recovered: int
    #: Ids of rows whose lease ran out with no attempt left: failed now.
    failed: list[int]
    #: Due rows published (the broker accepted them).
    queued: int
    #: Due rows still waiting when the sweep stopped (0: it caught up).
    remaining: int


def sweep_rows(
    model: type[Model],
    task: str,
    budget: float | None = None,
    on_failed: Callable[[QuerySet], Any] | None = None,
) -> Swept:
    """:func:`sweep` for any outbox table (see :func:`claim_rows`), its rows
    published to ``task``.

    ``on_failed(rows)`` runs inside the transaction that fails the rows whose
    lease ran out with no attempt left, given those rows: what it writes
    commits with their failure, or neither does.
    """
    started = time.monotonic()
    budget = app_settings.SWEEP_TIME_BUDGET if budget is None else budget
    now = timezone.now()
    recovered, failed = _recover_expired(model, now, on_failed)
    queued = 0
    last: tuple[datetime.datetime, int] | None = None
    remaining = 0
    while True:
        page = _due_page(model, now - SWEEP_GRACE, after=last)
        if not page:
            break
        published = queue.publish([pk for pk, _due in page], task=task)
        queued += published
        last = (page[-1][1], page[-1][0])
        out_of_time = time.monotonic() - started > budget
        if published < len(page) or len(page) < app_settings.SWEEP_BATCH_SIZE:
            if published < len(page):
                remaining = _count_due(model, now - SWEEP_GRACE)
            break
        if out_of_time:
            remaining = _count_due(model, now - SWEEP_GRACE, after=last)
            break
    return Swept(recovered, failed, queued, remaining)


def _recover_expired(
    model: type[Model],
    now: datetime.datetime,
    on_failed: Callable[[QuerySet], Any] | None = None,
) -> tuple[int, list]:
    """Rows whose lease ran out: back to pending, or failed when out of attempts
    (their ids returned).

    The claim token stays: if the worker that held it was only slow, its record
    of the send still counts, and the row is not sent again.
    """
    lost_error = gettext(LOST_LEASE)
    manager = model._default_manager
    expired = manager.filter(state=NotificationState.SENDING, lease_expires_at__lt=now)
    failed_ids = list(
        expired.filter(attempts__gte=app_settings.MAX_ATTEMPTS).values_list(
            "pk", flat=True
        )
    )
    if failed_ids:
        failed_ids = _fail_expired(model, failed_ids, now, on_failed)
    recovered = expired.filter(attempts__lt=app_settings.MAX_ATTEMPTS).update(
        state=NotificationState.PENDING,
        next_attempt_at=now - SWEEP_GRACE,  # due at once: this sweep queues it
        last_error=lost_error,
        lease_expires_at=None,
        updated_at=now,
    )
    return recovered, failed_ids


def _fail_expired(
    model: type[Model],
    ids: list[int],
    now: datetime.datetime,
    on_failed: Callable[[QuerySet], Any] | None,
) -> list[int]:
    """Fail these rows whose lease ran out with no attempt left, in one
    transaction with ``on_failed``; return their ids.

    Should that transaction fail, it is logged and none is failed: they stay
    "sending" with their lease run out, for the next sweep to try again, and
    the rest of this sweep goes on.
    """
    lost_error = gettext(LOST_LEASE)
    manager = model._default_manager
    try:
        with transaction.atomic():
            manager.filter(
                pk__in=ids, state=NotificationState.SENDING, lease_expires_at__lt=now
            ).update(
                state=NotificationState.FAILED,
                last_error=lost_error,
                lease_expires_at=None,
                updated_at=now,
            )
            if on_failed is not None:
                # The rows this sweep failed (not those another one failed first).
                on_failed(
                    manager.filter(
                        pk__in=ids,
                        state=NotificationState.FAILED,
                        last_error=lost_error,
                        updated_at=now,
                    ).order_by("pk")
                )
    except Exception:
        logger.exception(
            "The sweeper could not record the failure of %d %s row(s) whose lease "
            "ran out; the next sweep tries again.",
            len(ids),
            model._meta.label,
        )
        return []
    return ids


def _due_rows(
    model: type[Model],
    due_before: datetime.datetime,
    after: tuple[datetime.datetime, int] | None = None,
) -> Any:
    """Pending rows due before ``due_before``, past a (due time, pk) position,
    oldest due first: the sweeper's paging order.
    """
    rows = model._default_manager.filter(
        state=NotificationState.PENDING, next_attempt_at__lte=due_before
    )
    if after is not None:
        due, pk = after
        rows = rows.filter(
            Q(next_attempt_at__gt=due) | Q(next_attempt_at=due, pk__gt=pk)
        )
    return rows.order_by("next_attempt_at", "pk")


def _due_page(
    model: type[Model],
    due_before: datetime.datetime,
    after: tuple[datetime.datetime, int] | None,
) -> list[tuple[int, datetime.datetime]]:
    """The next page of due pending rows."""
    rows = _due_rows(model, due_before, after).values_list("pk", "next_attempt_at")
    return list(rows[: app_settings.SWEEP_BATCH_SIZE])


def _count_due(
    model: type[Model],
    due_before: datetime.datetime,
    after: tuple[datetime.datetime, int] | None = None,
) -> int:
    return _due_rows(model, due_before, after).count()


# Helpers ------------------------------------------------------------------------------


def _lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=app_settings.SENDING_LEASE_SECONDS)


def _describe(error: Exception) -> str:
    return "%s: %s" % (type(error).__name__, error)
