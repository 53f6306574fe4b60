"""Status changes: start tracking, set a status (one order or thousands), read it.

Each change runs in one transaction that locks the order's state row, checks the
pipeline, writes the timeline events (:mod:`order_updates.core.events`) and
sends signals only after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from order_updates import signals
from order_updates.conf import app_settings, get_order_model
from order_updates.core import validation
from order_updates.core.adapter import get_adapter
from order_updates.core.events import (
    Actor,
    actor_fields,
    build_event,
    checked_order,
    in_transaction,
    lock_state,
    lock_states,
    send_after_commit,
    start_event,
    write_events,
)
from order_updates.core.shop_field import write_shop_status
from order_updates.exceptions import InvalidInputType
from order_updates.models import EventKind, OrderEvent, OrderState
from order_updates.pipeline import Status, get_pipeline


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
    (an order imported with its real placing time); it defaults to now. Bad
    arguments raise :class:`~order_updates.exceptions.InvalidInput` before
    anything is written (see :mod:`order_updates.core.validation`).
    """
    order, actor, message, note, notify, data, at = validation.arguments(
        order=order,
        actor=actor,
        message=message,
        note=note,
        notify=notify,
        data=data,
        at=at,
    )
    if status is None:
        status = get_adapter().get_initial_status(order)
    status = validation.status(status).code
    at = at or timezone.now()

    def write() -> OrderEvent:
        state = lock_state(order, status=status, at=at)
        started = start_event(
            order,
            state,
            actor=actor,
            at=at,
            message=message,
            note=note,
            notify=notify,
            data=data,
        )
        if started is None:
            return OrderEvent.objects.filter(order_id=order.pk).order_by("sequence")[0]
        write_events([(order, [started])])
        state.save(update_fields=["last_sequence"])
        write_shop_status([order], [order.pk], state.status)
        return started

    return in_transaction(write)


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
    change happened (a carrier scan's time, an import); it defaults to now. Bad
    arguments raise :class:`~order_updates.exceptions.InvalidInput` before
    anything is written.
    """
    pipeline = get_pipeline()
    status = validation.status(status).code
    order, actor, message, note, notify, force, data, at = validation.arguments(
        order=order,
        actor=actor,
        message=message,
        note=note,
        notify=notify,
        force=force,
        data=data,
        at=at,
    )
    at = at or timezone.now()

    def write() -> OrderEvent | None:
        state = lock_state(order, at=at)
        started = start_event(order, state, actor=actor, at=at)
        events = [started] if started else []
        event = None
        if state.status != status or force:
            if state.status != status:
                pipeline.check_transition(state.status, status)
            event = move(
                order,
                state,
                status,
                actor=actor,
                at=at,
                message=message,
                note=note,
                notify=notify,
                data=data,
            )
            events.append(event)
        if events:
            write_events([(order, events)])
            state.save(update_fields=["status", "last_sequence", "status_changed_at"])
        return event

    return in_transaction(write)


def move(
    order: models.Model,
    state: OrderState,
    status: str,
    *,
    actor: Actor,
    at: datetime,
    message: str = "",
    note: str = "",
    notify: bool = True,
    data: dict[str, Any] | None = None,
    write_shop: bool = True,
) -> OrderEvent:
    """Build the change of the locked ``state`` to ``status`` (already validated)
    and announce it after commit; the caller writes the event and saves ``state``.

    Writes the shop's own status field (``STATUS_FIELD``) unless ``write_shop``
    is False (the change came from that field).
    """
    old_status = state.status
    event = build_event(
        state,
        kind=EventKind.STATUS_CHANGED,
        actor=actor_fields(actor),
        at=at,
        from_status=old_status,
        to_status=status,
        message=message,
        note=note,
        notify=notify,
        data=data,
    )
    state.status = status
    state.status_changed_at = at
    if write_shop:
        write_shop_status([order], [order.pk], status)
    send_after_commit(
        signals.order_status_changed,
        order,
        event=event,
        old_status=old_status,
        new_status=status,
        actor=actor,
        notify=notify,
    )
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


def order_pks(
    orders: models.QuerySet | Iterable[models.Model],
) -> tuple[list[Any], dict[Any, models.Model]]:
    """The sorted primary keys of ``orders`` and the instances given (by pk).

    A queryset is read as pks only (its instances are loaded later, in bulk,
    if needed); a sliced one keeps its slice. One global lock order (sorted pks)
    makes concurrent bulk changes over overlapping orders wait for each other
    instead of deadlocking.
    """
    if isinstance(orders, models.QuerySet):
        validation.order_queryset(orders)
        instances: dict[Any, models.Model] = {}
        if orders.query.is_sliced:  # "the first 500": keep the slice as given
            pks = list(dict.fromkeys(orders.values_list("pk", flat=True)))
        else:
            pks = list(orders.order_by().values_list("pk", flat=True).distinct())
    else:
        if not isinstance(orders, Iterable) or isinstance(orders, (str, bytes)):
            raise InvalidInputType(
                "orders",
                gettext("orders must be a queryset or a list of orders, not %s.")
                % type(orders).__name__,
            )
        instances = {checked_order(order).pk: order for order in orders}
        pks = list(instances)
    pks.sort()
    return pks, instances


def load_orders(instances: dict[Any, models.Model], pks: Iterable[Any]) -> None:
    """Fill ``instances`` with the orders of ``pks`` it lacks, in one query."""
    missing = [pk for pk in pks if pk not in instances]
    if missing:
        instances.update(get_adapter().get_queryset().in_bulk(missing))


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
    each changed order after commit. Bad arguments raise
    :class:`~order_updates.exceptions.InvalidInput` before anything is written.
    """
    pipeline = get_pipeline()
    target = validation.status(status)
    actor, message, note, notify = validation.arguments(
        actor=actor, message=message, note=note, notify=notify
    )
    model = get_order_model()
    pks, instances = order_pks(orders)

    def write() -> BulkResult:
        result = BulkResult()
        batch_size = app_settings.BULK_BATCH_SIZE
        data = {"bulk": uuid.uuid4().hex}
        now = timezone.now()
        actor_row = actor_fields(actor)
        has_listeners = signals.order_status_changed.has_listeners(
            model
        ) or signals.order_tracking_started.has_listeners(model)
        for start in range(0, len(pks), batch_size):
            batch = pks[start : start + batch_size]
            states = lock_states(batch, instances, now)
            changes: dict[Any, list[OrderEvent]] = {}
            # State rows to update, by what changes: moved (+1 event), moved from
            # untracked (2 events), untracked but left in place (1 event).
            moved_pks: list[Any] = []
            moved_fresh_pks: list[Any] = []
            fresh_pks: list[Any] = []
            batch_changed: list[Any] = []
            for pk in batch:
                state = states.get(pk)
                if state is None:
                    result.skipped[pk] = gettext("Order does not exist.")
                    continue
                fresh = state.last_sequence == 0
                events = changes.setdefault(pk, [])
                if fresh:
                    # Bulk-touched orders are not "just received": no message.
                    events.append(
                        build_event(
                            state,
                            kind=EventKind.TRACKING_STARTED,
                            to_status=state.status,
                            actor=actor_row,
                            at=now,
                            notify=False,
                        )
                    )
                    result.started.append(events[-1])
                reason = skip_reason(pipeline, state.status, target)
                if reason:
                    result.skipped[pk] = reason
                    if fresh:
                        fresh_pks.append(state.pk)
                    continue
                event = build_event(
                    state,
                    kind=EventKind.STATUS_CHANGED,
                    actor=actor_row,
                    at=now,
                    from_status=state.status,
                    to_status=target.code,
                    message=message,
                    note=note,
                    notify=notify,
                    data=data,
                )
                events.append(event)
                result.changed.append(pk)
                batch_changed.append(pk)
                result.events.append(event)
                (moved_fresh_pks if fresh else moved_pks).append(state.pk)
            written = {pk: events for pk, events in changes.items() if events}
            load_orders(instances, written)
            write_events([(instances[pk], events) for pk, events in written.items()])
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
            # The shop's own status field follows, set-based too.
            write_shop_status(
                [instances[pk] for pk in batch_changed], batch_changed, target.code
            )
        if has_listeners:
            # The same signals one set_status() per order would send.
            for event in result.started:
                send_after_commit(
                    signals.order_tracking_started,
                    instances[event.order_id],
                    event=event,
                    status=event.to_status,
                    actor=actor,
                )
            for event in result.events:
                send_after_commit(
                    signals.order_status_changed,
                    instances[event.order_id],
                    event=event,
                    old_status=event.from_status,
                    new_status=event.to_status,
                    actor=actor,
                    notify=notify,
                )
        return result

    return in_transaction(write)


def skip_reason(pipeline: Any, current: str, target: Status) -> str:
    """Why an order in ``current`` is left alone by a bulk move ('' if it moves)."""
    if current == target.code:
        return gettext("The order is already in status “%(status)s”.") % {
            "status": target.label
        }
    if not pipeline.can_transition(current, target.code):
        return gettext(
            "An order in status “%(current)s” cannot move to “%(target)s”."
        ) % {
            "current": pipeline.get_or_retired(current).label,
            "target": target.label,
        }
    return ""


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


def revoke_tracking_links(order: models.Model) -> int:
    """Make every signed tracking link of ``order`` made so far lead nowhere (404).

    Links are signed with the order's ``tracking_link_version``, which this
    raises: links made from now on work. Returns the new version (0 for an
    untracked order, which has no tracking page and so no links to revoke).
    """
    order = checked_order(order)
    with transaction.atomic():
        updated = OrderState.objects.filter(order_id=order.pk).update(
            tracking_link_version=F("tracking_link_version") + 1
        )
        if not updated:
            return 0
        return OrderState.objects.values_list("tracking_link_version", flat=True).get(
            order_id=order.pk
        )


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
    called after each batch. Sends no signals and notifies nobody: nothing new
    happened to these orders. Bad arguments raise
    :class:`~order_updates.exceptions.InvalidInput` before anything is written.
    """
    if status is not None:
        status = validation.status(status).code
    if orders is not None:
        validation.order_queryset(orders)
    (actor,) = validation.arguments(actor=actor)
    batch_size = validation.positive_int(batch_size, "batch_size")
    if progress is not None and not callable(progress):
        raise InvalidInputType(
            "progress",
            gettext("progress must be a function (done, total), not %s.")
            % type(progress).__name__,
        )
    queryset = (
        orders if orders is not None else get_order_model()._default_manager.all()
    )
    queryset = queryset.filter(order_updates_state__isnull=True).order_by("pk")
    total = queryset.count()
    batch_size = batch_size or app_settings.BULK_BATCH_SIZE
    actor_row = actor_fields(actor)
    done = 0
    last_pk = None
    while True:
        page = queryset if last_pk is None else queryset.filter(pk__gt=last_pk)
        batch = list(page[:batch_size])
        if not batch:
            break
        last_pk = batch[-1].pk
        # Each batch runs again if a deadlock aborts it (the shop's checkout
        # holding an order row while it starts tracking it, say).
        done += in_transaction(partial(_track_batch, batch, status, actor_row))
        if progress is not None:
            progress(done, total)
    return done


def _track_batch(
    batch: list[models.Model], status: str | None, actor_row: dict[str, Any]
) -> int:
    """Start tracking the untracked orders of ``batch``; return how many."""
    pipeline = get_pipeline()
    adapter = get_adapter()
    now = timezone.now()
    OrderState.objects.bulk_create(
        [
            OrderState(
                order_id=order.pk,
                status=pipeline.get(status or adapter.get_initial_status(order)).code,
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
    # Straight to the table: adopted orders are not news to anyone.
    OrderEvent.objects.bulk_create(
        [
            build_event(
                state,
                kind=EventKind.TRACKING_STARTED,
                to_status=state.status,
                actor=actor_row,
                at=now,
                notify=False,
            )
            for state in fresh
        ]
    )
    OrderState.objects.filter(pk__in=[state.pk for state in fresh]).update(
        last_sequence=1
    )
    return len(fresh)


def track_new_order(
    sender: type[models.Model],
    instance: models.Model,
    created: bool,
    raw: bool = False,
    **kwargs: Any,
) -> None:
    """``post_save`` receiver: with ``TRACK_NEW_ORDERS``, start tracking each
    order row the shop creates (connected in ``AppConfig.ready()``).
    """
    # raw: loaddata is restoring rows, not placing orders.
    if created and not raw and app_settings.TRACK_NEW_ORDERS:
        start_tracking(instance, actor="system")
