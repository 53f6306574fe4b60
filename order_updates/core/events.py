"""Writing timeline events: who acted, locking the order's state row, the one
builder of unsaved events, and what runs once events are written.

Every service writes events the same way: lock the order's :class:`OrderState`
row, build the next events with :func:`build_event` (which numbers them), insert
them in one statement with :func:`write_events`, which hands them to the
registered event consumers inside the same transaction (the notification outbox
is one), and send signals with :func:`send_after_commit`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import OperationalError, models, transaction
from django.dispatch import Signal
from django.utils import timezone

from order_updates import signals
from order_updates.conf import get_order_model
from order_updates.core import validation
from order_updates.core.adapter import get_adapter
from order_updates.models import EventKind, OrderEvent, OrderState

logger = logging.getLogger("order_updates.signals")
bulk_logger = logging.getLogger(__name__)

#: Who made a change: a user, a label such as "system" or "carrier:ups", or None
#: (recorded as "system"). An anonymous ``request.user`` is recorded as "customer".
Actor = AbstractBaseUser | str | None

#: Actor labels order_updates itself writes.
ACTOR_SYSTEM = "system"
ACTOR_CUSTOMER = "customer"

#: (order, its new events) pairs, as event consumers receive them.
Changes = Sequence[tuple[models.Model, Sequence[OrderEvent]]]
#: What a consumer returns is ignored (the outbox returns the rows it wrote).
EventConsumer = Callable[[Changes], object]

_consumers: list[EventConsumer] = []


def actor_fields(actor: Actor) -> dict[str, Any]:
    """The event columns that record who acted."""
    if actor is None:
        return {"actor_user": None, "actor_label": ACTOR_SYSTEM}
    if isinstance(actor, str):
        return {"actor_user": None, "actor_label": actor[:150]}
    if not getattr(actor, "is_authenticated", False):
        # request.user of a guest checkout: the customer acted, without an account.
        return {"actor_user": None, "actor_label": ACTOR_CUSTOMER}
    # The name is kept too, so the timeline still says who it was after the
    # account is deleted.
    return {"actor_user": actor, "actor_label": actor.get_username()[:150]}


def checked_order(order: models.Model) -> models.Model:
    """``order`` if it is a saved instance of the configured order model."""
    return validation.order(order)


# The state row ------------------------------------------------------------------------


def lock_state(
    order: models.Model, *, status: str | None = None, at: datetime | None = None
) -> OrderState:
    """Lock the order's state row (``SELECT … FOR UPDATE``), creating it if the
    order is not tracked yet (in ``status``, else the adapter's initial status).

    A new row has ``last_sequence == 0``: the caller writes its tracking-started
    event first (:func:`build_event`).
    """
    checked_order(order)
    state = OrderState.objects.select_for_update().filter(order_id=order.pk).first()
    if state is None:
        initial = status or get_adapter().get_initial_status(order)
        now = at or timezone.now()
        # get_or_create survives a concurrent insert: it re-reads on IntegrityError.
        OrderState.objects.get_or_create(
            order_id=order.pk,
            defaults={"status": initial, "created_at": now, "status_changed_at": now},
        )
        state = OrderState.objects.select_for_update().get(order_id=order.pk)
    return state


def lock_states(
    pks: list[Any], instances: dict[Any, models.Model], now: datetime
) -> dict[Any, OrderState]:
    """Lock the state rows of ``pks`` (in pk order), creating missing ones.

    Orders that no longer exist get no row (and are missing from the result).
    """
    states = {
        state.order_id: state
        for state in OrderState.objects.select_for_update()
        .filter(order_id__in=pks)
        .order_by("order_id")
    }
    missing = [pk for pk in pks if pk not in states]
    if missing:
        adapter = get_adapter()
        # Read from the database even when given instances: a deleted order must be
        # skipped, not break the foreign key at commit.
        found = get_order_model()._default_manager.in_bulk(missing)
        found.update((pk, instances[pk]) for pk in found if pk in instances)
        OrderState.objects.bulk_create(
            [
                OrderState(
                    order_id=pk,
                    status=adapter.get_initial_status(order),
                    created_at=now,
                    status_changed_at=now,
                )
                for pk, order in found.items()
            ],
            ignore_conflicts=True,
        )
        states.update(
            (state.order_id, state)
            for state in OrderState.objects.select_for_update()
            .filter(order_id__in=list(found))
            .order_by("order_id")
        )
    return states


#: How many times in all a change runs when PostgreSQL breaks deadlocks.
DEADLOCK_ATTEMPTS = 3


def in_transaction(write: Callable[[], _Result]) -> _Result:
    """``write()`` in a transaction (``transaction.atomic()``), run again when
    PostgreSQL aborted it to break a deadlock, up to :data:`DEADLOCK_ATTEMPTS`
    times in all.

    A bulk change locks the state rows that exist (in order), then creates and
    locks the missing ones: two bulk changes running into orders that other
    changes are just starting to track can each end up holding a row the other
    waits for, and PostgreSQL aborts one of the transactions waiting in that
    circle, a bulk change's or a single change's queued behind it. Nothing of
    an aborted attempt remains (Django drops its ``on_commit`` callbacks), so
    the services run it again. Inside the caller's own transaction there is
    nothing to run again: the error reaches the caller, as any database error
    does.
    """
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return write()
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return write()
        except OperationalError as error:
            if attempt == DEADLOCK_ATTEMPTS or not _is_deadlock(error):
                raise
            bulk_logger.info(
                "A change was chosen to break a deadlock; running it again "
                "(attempt %d of %d).",
                attempt + 1,
                DEADLOCK_ATTEMPTS,
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _is_deadlock(error: OperationalError) -> bool:
    # SQLSTATE 40P01, deadlock_detected: psycopg 3 (sqlstate), psycopg 2 (pgcode).
    cause = error.__cause__
    return "40P01" in (getattr(cause, "sqlstate", None), getattr(cause, "pgcode", None))


_Result = TypeVar("_Result")


# Events -------------------------------------------------------------------------------


def build_event(
    state: OrderState,
    *,
    kind: str,
    actor: dict[str, Any],
    at: datetime,
    from_status: str = "",
    to_status: str = "",
    message: str = "",
    note: str = "",
    notify: bool = True,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """The order's next timeline event, unsaved; advances ``state.last_sequence``.

    ``actor`` is :func:`actor_fields`' result (computed once for a bulk change).
    The single and the bulk services both build their events here; the caller
    inserts them with :func:`write_events` and saves ``state``.
    """
    state.last_sequence += 1
    return OrderEvent(
        order_id=state.order_id,
        sequence=state.last_sequence,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        message=message,
        note=note,
        notify=notify,
        data=data or {},
        created_at=at,
        **actor,
    )


def start_event(
    order: models.Model,
    state: OrderState,
    *,
    actor: Actor,
    at: datetime,
    message: str = "",
    note: str = "",
    notify: bool = False,
    data: dict[str, Any] | None = None,
) -> OrderEvent | None:
    """The tracking-started event of a state row that has none yet, else None.

    Announced by ``order_tracking_started`` after commit. Only start_tracking()
    notifies about it; a first change on an untracked order notifies about the
    change itself (hence ``notify=False`` by default).
    """
    if state.last_sequence:
        return None
    event = build_event(
        state,
        kind=EventKind.TRACKING_STARTED,
        to_status=state.status,
        actor=actor_fields(actor),
        at=at,
        message=message,
        note=note,
        notify=notify,
        data=data,
    )
    send_after_commit(
        signals.order_tracking_started,
        order,
        event=event,
        status=state.status,
        actor=actor,
    )
    return event


def write_events(changes: Changes) -> None:
    """Insert the events of ``changes`` in one statement, then run the consumers.

    Must run inside the transaction that locked the orders' state rows. The
    consumers (the notification outbox…) run in that same transaction, so what
    they write commits or rolls back with the change.
    """
    events = [event for _order, order_events in changes for event in order_events]
    if not events:
        return
    OrderEvent.objects.bulk_create(events)
    for consumer in _consumers:
        consumer(changes)


def register_consumer(consumer: EventConsumer) -> None:
    """Have ``consumer(changes)`` run inside the transaction of every write.

    ``changes`` are (order, its new events) pairs. order_updates' notification
    outbox registers itself in ``AppConfig.ready()``. Registering twice is a no-op.
    """
    if consumer not in _consumers:
        _consumers.append(consumer)


def has_consumers() -> bool:
    """Whether anything consumes written events (so orders must be loaded)."""
    return bool(_consumers)


# Signals ------------------------------------------------------------------------------


def send_signal(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """``signal.send_robust(...)``, logging each receiver that raised.

    order_updates' signals go out after the change is committed (or the message
    sent): raising from a receiver could only lose work that already happened, so
    every receiver runs, and one that fails is logged with its traceback.
    """
    for receiver, response in signal.send_robust(sender=sender, **kwargs):
        if isinstance(response, Exception):
            logger.error(
                "Receiver %r of an order_updates signal failed.",
                receiver,
                exc_info=response,
            )


def send_after_commit(signal: Signal, order: models.Model, **kwargs: Any) -> None:
    """Send ``signal`` about ``order`` once the current transaction commits.

    Never on rollback. ``sender`` is always the configured order model (also for
    proxy instances), so ``connect(sender=Order)`` sees every change.
    """
    if not signal.receivers:
        return  # nobody listens: a bulk change need not queue thousands of calls
    transaction.on_commit(
        lambda: send_signal(signal, get_order_model(), order=order, **kwargs)
    )
