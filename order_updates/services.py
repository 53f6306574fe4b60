"""The public API that changes orders: the one way to change state.

Each function runs in one transaction, locks the order's state row, validates,
appends timeline events, and sends signals only after the transaction commits, so a
rolled-back change sends nothing. Call them from checkout, views, tasks and the
shell alike::

    from order_updates import services

    services.start_tracking(order, actor=request.user)
    services.set_status(order, "shipped", actor=request.user, message="On its way!")
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from order_updates import dispatch, signals
from order_updates.conf import app_settings, get_order_model
from order_updates.core.adapter import get_adapter
from order_updates.core.pipeline import Status, get_pipeline
from order_updates.models import EventKind, OrderEvent, OrderState, Shipment
from order_updates.notifications.outbox import queue_notifications

#: Who made a change: a user, a label such as "system" or "carrier:ups", or None
#: (recorded as "system"). An anonymous ``request.user`` is recorded as "customer".
Actor = AbstractBaseUser | str | None

#: Actor labels order_updates itself writes.
ACTOR_SYSTEM = "system"
ACTOR_CUSTOMER = "customer"

__all__ = [
    "ACTOR_CUSTOMER",
    "ACTOR_SYSTEM",
    "Actor",
    "BulkResult",
    "add_delivery_feedback",
    "add_note",
    "add_shipment",
    "bulk_set_status",
    "get_status",
    "get_statuses",
    "report_delivery_issue",
    "set_status",
    "start_tracking",
    "track_existing_orders",
]


# Public API -------------------------------------------------------------------------


def start_tracking(
    order: models.Model,
    *,
    status: str | None = None,
    actor: Actor = None,
    message: str = "",
    note: str = "",
    notify: bool = True,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> OrderEvent:
    """Give a newly placed order its first status and timeline event.

    ``status`` defaults to the adapter's initial status (the pipeline's ``initial``).
    Calling it again for a tracked order changes nothing and returns the order's
    first event, so a retried checkout is harmless. ``at`` back-dates the event
    (an order imported with its real placing time); it defaults to now.
    """
    pipeline = get_pipeline()
    status = pipeline.get(status or get_adapter().get_initial_status(order)).code
    with transaction.atomic():
        state, started = _lock_state(
            order,
            status=status,
            actor=actor,
            message=message,
            note=note,
            notify=notify,
            data=data,
            at=at,
        )
        if started is None:
            return OrderEvent.objects.filter(order_id=order.pk).order_by("sequence")[0]
        state.save(update_fields=["last_sequence"])
        queue_notifications([(order, [started])])
    return started


def set_status(
    order: models.Model,
    status: str,
    *,
    actor: Actor = None,
    message: str = "",
    note: str = "",
    notify: bool = True,
    force: bool = False,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> OrderEvent | None:
    """Move ``order`` to ``status``; return the new event, or None if unchanged.

    ``message`` is shown to the customer, ``note`` only to staff. Raises
    :class:`~order_updates.exceptions.UnknownStatus` or
    :class:`~order_updates.exceptions.InvalidTransition`. Setting the current status
    again does nothing unless ``force=True``, which records it again (and notifies
    again). An untracked order starts being tracked first. ``at`` is when the
    change happened (a carrier scan's time, an import); it defaults to now.
    """
    pipeline = get_pipeline()
    pipeline.get(status)
    with transaction.atomic():
        state, _started = _lock_state(order, actor=actor, at=at)
        if state.status == status and not force:
            if _started is not None:
                state.save(update_fields=["last_sequence"])
            return None
        if state.status != status:
            pipeline.check_transition(state.status, status)
        event = _move(
            order,
            state,
            status,
            actor=actor,
            message=message,
            note=note,
            notify=notify,
            data=data,
            at=at,
        )
        state.save(update_fields=["status", "last_sequence", "status_changed_at"])
        queue_notifications([(order, [event])])
    return event


@dataclass
class BulkResult:
    """What :func:`bulk_set_status` did."""

    #: Primary keys of the orders that moved to the new status.
    changed: list[Any] = field(default_factory=list)
    #: Primary key → why that order was left alone.
    skipped: dict[Any, str] = field(default_factory=dict)
    #: The status-change events written, in the order of ``changed``.
    events: list[OrderEvent] = field(default_factory=list)
    #: Tracking-started events of orders that were not tracked before.
    started: list[OrderEvent] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changed)


def bulk_set_status(
    orders: models.QuerySet | Iterable[models.Model],
    status: str,
    *,
    actor: Actor = None,
    message: str = "",
    note: str = "",
    notify: bool = True,
) -> BulkResult:
    """Move many orders to ``status`` at once, set-based.

    Orders already in ``status``, or whose current status may not move to it, are
    skipped with a reason; the rest change in one transaction with a few
    statements per ``BULK_BATCH_SIZE`` orders. ``order_status_changed`` is sent for
    each changed order after commit.
    """
    pipeline = get_pipeline()
    target = pipeline.get(status)
    model = get_order_model()
    if isinstance(orders, models.QuerySet):
        if not issubclass(orders.model, model):
            raise TypeError(
                "Expected a queryset of %s (ORDER_UPDATES_ORDER_MODEL), got one of %s."
                % (model._meta.label, orders.model._meta.label)
            )
        instances: dict[Any, models.Model] = {}
        if orders.query.is_sliced:  # "the first 500": keep the slice as given
            pks = list(dict.fromkeys(orders.values_list("pk", flat=True)))
        else:
            pks = list(orders.order_by().values_list("pk", flat=True).distinct())
    else:
        instances = {_checked(order).pk: order for order in orders}
        pks = list(instances)
    # One global lock order: concurrent bulk changes over overlapping orders
    # then wait for each other instead of deadlocking.
    pks.sort()
    result = BulkResult()
    batch_size = app_settings.BULK_BATCH_SIZE
    bulk_id = uuid.uuid4().hex
    now = timezone.now()
    actor_fields = _actor_fields(actor)
    has_listeners = signals.order_status_changed.has_listeners(
        model
    ) or signals.order_tracking_started.has_listeners(model)
    with transaction.atomic():
        for start in range(0, len(pks), batch_size):
            batch = pks[start : start + batch_size]
            states = _lock_states(batch, instances, actor_fields, now)
            new_events: list[OrderEvent] = []
            # State rows to update, by what changes: moved (+1 event), moved from
            # untracked (2 events), untracked but left in place (1 event).
            moved_pks: list[Any] = []
            moved_fresh_pks: list[Any] = []
            fresh_pks: list[Any] = []
            for pk in batch:
                state = states.get(pk)
                if state is None:
                    result.skipped[pk] = gettext("Order does not exist.")
                    continue
                fresh = state.last_sequence == 0
                moved = False
                if fresh:
                    new_events.append(_started_event(state, actor_fields, now))
                if state.status == target.code:
                    result.skipped[pk] = gettext(
                        "The order is already in status “%(status)s”."
                    ) % {"status": target.label}
                elif not pipeline.can_transition(state.status, target.code):
                    result.skipped[pk] = gettext(
                        "An order in status “%(current)s” cannot move to “%(target)s”."
                    ) % {
                        "current": pipeline.get_or_retired(state.status).label,
                        "target": target.label,
                    }
                else:
                    state.last_sequence += 1
                    event = OrderEvent(
                        order_id=pk,
                        sequence=state.last_sequence,
                        kind=EventKind.STATUS_CHANGED,
                        from_status=state.status,
                        to_status=target.code,
                        message=message,
                        note=note,
                        notify=notify,
                        data={"bulk": bulk_id},
                        created_at=now,
                        **actor_fields,
                    )
                    new_events.append(event)
                    result.changed.append(pk)
                    result.events.append(event)
                    state.status = target.code
                    state.status_changed_at = now
                    moved = True
                if moved:
                    (moved_fresh_pks if fresh else moved_pks).append(state.pk)
                elif fresh:
                    fresh_pks.append(state.pk)
            OrderEvent.objects.bulk_create(new_events)
            # Every changed row gets the same values: a few plain UPDATEs, not
            # one CASE per row (bulk_update), which is slow for thousands.
            moved_to = {"status": target.code, "status_changed_at": now}
            OrderState.objects.filter(pk__in=moved_pks).update(
                last_sequence=F("last_sequence") + 1, **moved_to
            )
            OrderState.objects.filter(pk__in=moved_fresh_pks).update(
                last_sequence=2, **moved_to
            )
            OrderState.objects.filter(pk__in=fresh_pks).update(last_sequence=1)
            moved_events = []
            for event in new_events:
                if event.kind == EventKind.STATUS_CHANGED:
                    moved_events.append(event)
                else:
                    result.started.append(event)
            if new_events and (notify or has_listeners):
                _load_orders(instances, [event.order_id for event in new_events])
            if notify:
                queue_notifications(
                    [
                        (instances[event.order_id], [event])
                        for event in moved_events
                        if event.order_id in instances
                    ]
                )
        if has_listeners:
            # The same signals one set_status() per order would send.
            for event in result.started:
                _send_on_commit(
                    signals.order_tracking_started,
                    instances[event.order_id],
                    event=event,
                    status=event.to_status,
                    actor=actor,
                )
            for event in result.events:
                _send_on_commit(
                    signals.order_status_changed,
                    instances[event.order_id],
                    event=event,
                    old_status=event.from_status,
                    new_status=event.to_status,
                    actor=actor,
                    notify=notify,
                )
    return result


def add_note(
    order: models.Model,
    message: str,
    *,
    public: bool = True,
    actor: Actor = None,
    notify: bool = True,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> OrderEvent:
    """Add a note to the timeline: for the customer if ``public``, else staff only."""
    if not message or not message.strip():
        raise ValueError("A note needs a message.")
    with transaction.atomic():
        event = _record(
            order,
            kind=EventKind.NOTE,
            actor=actor,
            message=message if public else "",
            note="" if public else message,
            notify=notify and public,
            data=data,
            at=at,
        )
        _send_on_commit(
            signals.order_note_added, order, event=event, public=public, actor=actor
        )
    return event


def add_shipment(
    order: models.Model,
    *,
    carrier: str = "",
    tracking_number: str = "",
    tracking_url: str = "",
    shipped_at: datetime | None = None,
    actor: Actor = None,
    message: str = "",
    note: str = "",
    status: str | None = None,
    notify: bool = True,
    at: datetime | None = None,
) -> Shipment:
    """Record a shipment for ``order``; with ``status`` (e.g. "shipped") also move it.

    Raises :class:`~django.core.exceptions.ValidationError` for a bad link and the
    usual status errors if the move is not allowed; then nothing is saved. ``at``
    is when it happened (defaults to now; ``shipped_at`` defaults to it when the
    order moves).
    """
    pipeline = get_pipeline()
    if status is not None:
        pipeline.get(status)
    with transaction.atomic():
        state, _started = _lock_state(order, actor=actor, at=at)
        new_status = status if status != state.status else None
        move = new_status is not None
        if new_status is not None:
            pipeline.check_transition(state.status, new_status)
        now = at or timezone.now()
        shipment = Shipment(
            order_id=order.pk,
            carrier=carrier,
            tracking_number=tracking_number,
            tracking_url=tracking_url,
            shipped_at=shipped_at or (now if move else None),
            created_at=now,
        )
        shipment.full_clean(exclude=["order"])
        shipment.save()
        shipment_event = _append_event(
            state,
            kind=EventKind.SHIPMENT_ADDED,
            actor=actor,
            message="" if move else message,
            note=note,
            notify=notify and not move,
            data={
                "shipment": shipment.pk,
                "carrier": carrier,
                "tracking_number": tracking_number,
                "tracking_url": tracking_url,
            },
            at=shipment.created_at,
        )
        _send_on_commit(
            signals.shipment_added,
            order,
            shipment=shipment,
            event=shipment_event,
            actor=actor,
            notify=notify,
        )
        events = [shipment_event]
        if new_status is not None:
            events.append(
                _move(
                    order,
                    state,
                    new_status,
                    actor=actor,
                    message=message,
                    notify=notify,
                    data={"shipment": shipment.pk},
                    at=shipment.created_at,
                )
            )
        state.save(update_fields=["status", "last_sequence", "status_changed_at"])
        queue_notifications([(order, events)])
    return shipment


def add_delivery_feedback(
    order: models.Model,
    note: str,
    *,
    actor: Actor = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> OrderEvent:
    """Put a provider's report about a notification (a bounce, a complaint, an SMS
    sent instead) on the order's timeline, for staff only; it never notifies.
    """
    return _record(
        order,
        kind=EventKind.DELIVERY_FEEDBACK,
        actor=actor,
        note=note,
        notify=False,
        data=data,
        at=at,
    )


#: What :func:`report_delivery_issue` accepts, and the event kind each writes.
DELIVERY_ISSUES = {
    "delayed": EventKind.DELIVERY_DELAYED,
    "exception": EventKind.DELIVERY_EXCEPTION,
}


def report_delivery_issue(
    order: models.Model,
    issue: str,
    *,
    message: str = "",
    note: str = "",
    actor: Actor = None,
    notify: bool = True,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> OrderEvent:
    """Record that delivery is late (``"delayed"``) or went wrong (``"exception"``:
    a failed attempt, an address problem, a damaged parcel) without changing the
    status; the customer hears about it unless ``notify=False``.
    """
    if issue not in DELIVERY_ISSUES:
        raise ValueError(
            "issue must be one of %s, not %r." % (", ".join(DELIVERY_ISSUES), issue)
        )
    with transaction.atomic():
        event = _record(
            order,
            kind=DELIVERY_ISSUES[issue],
            actor=actor,
            message=message,
            note=note,
            notify=notify,
            data=data,
            at=at,
        )
        _send_on_commit(
            signals.delivery_issue_reported,
            order,
            event=event,
            issue=issue,
            actor=actor,
            notify=notify,
        )
    return event


def get_status(order: models.Model) -> Status | None:
    """The order's current pipeline status, or None if it is not tracked."""
    code = (
        OrderState.objects.filter(order_id=order.pk)
        .values_list("status", flat=True)
        .first()
    )
    if code is None:
        return None
    return get_pipeline().get_or_retired(code)


def get_statuses(orders: Iterable[models.Model]) -> dict[Any, Status]:
    """Current statuses of many orders in one query: ``{order pk: Status}``.

    Untracked orders are left out. For a queryset you render anyway,
    ``select_related("order_updates_state")`` and ``state.status_info`` also work.
    """
    pipeline = get_pipeline()
    pks = [order.pk for order in orders]
    rows = OrderState.objects.filter(order_id__in=pks).values_list("order_id", "status")
    return {pk: pipeline.get_or_retired(code) for pk, code in rows}


def track_existing_orders(
    orders: models.QuerySet | None = None,
    *,
    status: str | None = None,
    actor: Actor = "system",
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Start tracking every order that has no status yet; return how many.

    Works set-based in batches of ``batch_size`` (default ``BULK_BATCH_SIZE``), each
    batch in its own transaction, so a large back catalogue neither holds locks for
    long nor starts over after an interruption. ``status`` forces the initial
    status; by default the adapter picks it per order. ``progress(done, total)`` is
    called after each batch. Sends no signals: nothing new happened to these orders.
    """
    pipeline = get_pipeline()
    if status is not None:
        pipeline.get(status)
    adapter = get_adapter()
    model = get_order_model()
    queryset = orders if orders is not None else model._default_manager.all()
    queryset = queryset.filter(order_updates_state__isnull=True).order_by("pk")
    total = queryset.count()
    batch_size = batch_size or app_settings.BULK_BATCH_SIZE
    actor_fields = _actor_fields(actor)
    done = 0
    last_pk = None
    while True:
        page = queryset if last_pk is None else queryset.filter(pk__gt=last_pk)
        batch = list(page[:batch_size])
        if not batch:
            break
        last_pk = batch[-1].pk
        now = timezone.now()
        with transaction.atomic():
            OrderState.objects.bulk_create(
                [
                    OrderState(
                        order_id=order.pk,
                        status=pipeline.get(
                            status or adapter.get_initial_status(order)
                        ).code,
                        created_at=now,
                        status_changed_at=now,
                    )
                    for order in batch
                ],
                ignore_conflicts=True,
            )
            # Only rows nobody else has started (last_sequence 0) get a first event.
            fresh = list(
                OrderState.objects.select_for_update()
                .filter(order_id__in=[order.pk for order in batch], last_sequence=0)
                .order_by("order_id")
            )
            OrderEvent.objects.bulk_create(
                [_started_event(state, actor_fields, now) for state in fresh]
            )
            OrderState.objects.filter(pk__in=[state.pk for state in fresh]).update(
                last_sequence=1
            )
        done += len(fresh)
        if progress is not None:
            progress(done, total)
    return done


# Internals ----------------------------------------------------------------------------


def _checked(order: models.Model) -> models.Model:
    """``order`` if it is a saved instance of the configured order model."""
    model = get_order_model()
    if not isinstance(order, model):
        raise TypeError(
            "Expected a %s (ORDER_UPDATES_ORDER_MODEL), got %r."
            % (model._meta.label, order)
        )
    if order.pk is None:
        raise ValueError("Save the order before changing its status.")
    return order


def _actor_fields(actor: Actor) -> dict[str, Any]:
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


def _lock_state(
    order: models.Model,
    *,
    status: str | None = None,
    actor: Actor = None,
    at: datetime | None = None,
    **started_fields: Any,
) -> tuple[OrderState, OrderEvent | None]:
    """Lock the order's state row, creating it if the order is not tracked yet.

    Returns the row and the tracking-started event if this call wrote it. The
    caller saves the row (its ``last_sequence`` moved) before the transaction ends.
    """
    _checked(order)
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
    if state.last_sequence:
        return state, None
    # Only start_tracking() announces the start; a first change on an untracked
    # order notifies about the change itself.
    started_fields.setdefault("notify", False)
    event = _append_event(
        state,
        kind=EventKind.TRACKING_STARTED,
        to_status=state.status,
        actor=actor,
        at=at,
        **started_fields,
    )
    _send_on_commit(
        signals.order_tracking_started,
        order,
        event=event,
        status=state.status,
        actor=actor,
    )
    return state, event


def _lock_states(
    pks: list[Any],
    instances: dict[Any, models.Model],
    actor_fields: dict[str, Any],
    now: datetime,
) -> dict[Any, OrderState]:
    """Lock the state rows of ``pks`` (in pk order), creating missing ones."""
    states = {
        state.order_id: state
        for state in OrderState.objects.select_for_update()
        .filter(order_id__in=pks)
        .order_by("order_id")
    }
    missing = [pk for pk in pks if pk not in states]
    if missing:
        model = get_order_model()
        adapter = get_adapter()
        # Read from the database even when given instances: a deleted order must be
        # skipped, not break the foreign key at commit.
        found = model._default_manager.in_bulk(missing)
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


def _load_orders(instances: dict[Any, models.Model], pks: list[Any]) -> None:
    """Fill ``instances`` with the orders of ``pks`` it lacks, in one query."""
    missing = [pk for pk in pks if pk not in instances]
    if missing:
        instances.update(get_adapter().get_queryset().in_bulk(missing))


def _started_event(
    state: OrderState, actor_fields: dict[str, Any], now: datetime
) -> OrderEvent:
    """An unsaved tracking-started event for a fresh state row (sequence 1)."""
    state.last_sequence = 1
    return OrderEvent(
        order_id=state.order_id,
        sequence=1,
        kind=EventKind.TRACKING_STARTED,
        to_status=state.status,
        created_at=now,
        # Adopted or bulk-touched orders are not "just received": no message.
        notify=False,
        **actor_fields,
    )


def _record(
    order: models.Model, *, actor: Actor, at: datetime | None, **fields: Any
) -> OrderEvent:
    """Append one event that changes no status, and queue its notifications."""
    with transaction.atomic():
        state, _started = _lock_state(order, actor=actor, at=at)
        event = _append_event(state, actor=actor, at=at, **fields)
        state.save(update_fields=["last_sequence"])
        queue_notifications([(order, [event])])
    return event


def _move(
    order: models.Model, state: OrderState, status: str, **fields: Any
) -> OrderEvent:
    """Write a status change to ``status`` (already validated) on the locked
    ``state``, and announce it after commit; the caller saves ``state``.
    """
    old_status = state.status
    event = _append_event(
        state,
        kind=EventKind.STATUS_CHANGED,
        from_status=old_status,
        to_status=status,
        **fields,
    )
    state.status = status
    state.status_changed_at = event.created_at
    _send_on_commit(
        signals.order_status_changed,
        order,
        event=event,
        old_status=old_status,
        new_status=status,
        actor=fields.get("actor"),
        notify=fields.get("notify", True),
    )
    return event


def _append_event(
    state: OrderState,
    *,
    kind: str,
    actor: Actor,
    from_status: str = "",
    to_status: str = "",
    message: str = "",
    note: str = "",
    notify: bool = True,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> OrderEvent:
    """Write the order's next timeline event; ``state`` must be locked."""
    state.last_sequence += 1
    return OrderEvent.objects.create(
        order_id=state.order_id,
        sequence=state.last_sequence,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        message=message,
        note=note,
        notify=notify,
        data=data or {},
        created_at=at or timezone.now(),
        **_actor_fields(actor),
    )


def _send_on_commit(signal: Signal, order: models.Model, **kwargs: Any) -> None:
    """Send ``signal`` once the current transaction commits (never on rollback).

    The change is already committed then, so a failing receiver is logged and the
    other receivers still run. ``sender`` is always the configured order model
    (also for proxy instances), so ``connect(sender=Order)`` sees every change.
    """

    transaction.on_commit(
        lambda: dispatch.send(signal, get_order_model(), order=order, **kwargs)
    )
