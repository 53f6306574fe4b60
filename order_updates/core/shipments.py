"""Shipments: recording a parcel sent for an order, and the status move with it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from order_updates import signals
from order_updates.conf import app_settings, get_order_model
from order_updates.core.events import (
    Actor,
    actor_fields,
    build_event,
    checked_order,
    lock_state,
    lock_states,
    send_after_commit,
    start_event,
    write_events,
)
from order_updates.core.status import load_orders, move, skip_reason
from order_updates.models import EventKind, OrderState, Shipment
from order_updates.pipeline import get_pipeline

#: The shipment fields a caller gives (add_shipment's keyword arguments).
SHIPMENT_FIELDS = ("carrier", "tracking_number", "tracking_url", "shipped_at")


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
    now = at or timezone.now()
    with transaction.atomic():
        state = lock_state(order, at=now)
        started = start_event(order, state, actor=actor, at=now)
        new_status = status if status != state.status else None
        move_too = new_status is not None
        if new_status is not None:
            pipeline.check_transition(state.status, new_status)
        shipment = Shipment(
            order_id=order.pk,
            carrier=carrier,
            tracking_number=tracking_number,
            tracking_url=tracking_url,
            shipped_at=shipped_at or (now if move_too else None),
            created_at=now,
        )
        shipment.full_clean(exclude=["order"])
        shipment.save()
        # With a status move, the move's message tells the customer; the shipment
        # event itself then notifies nobody (one message, not two).
        shipment_event = _shipment_event(
            state,
            shipment,
            actor=actor_fields(actor),
            at=now,
            message="" if move_too else message,
            note=note,
            notify=notify and not move_too,
        )
        send_after_commit(
            signals.shipment_added,
            order,
            shipment=shipment,
            event=shipment_event,
            actor=actor,
            notify=notify,
        )
        events = [started] if started else []
        events.append(shipment_event)
        if new_status is not None:
            events.append(
                move(
                    order,
                    state,
                    new_status,
                    actor=actor,
                    at=now,
                    message=message,
                    notify=notify,
                    data={"shipment": shipment.pk},
                )
            )
        write_events([(order, events)])
        state.save(update_fields=["status", "last_sequence", "status_changed_at"])
    return shipment


def _shipment_event(
    state: OrderState, shipment: Shipment, **fields: Any
) -> models.Model:
    """The unsaved shipment-added event of ``shipment`` (saved, with its pk)."""
    return build_event(
        state,
        kind=EventKind.SHIPMENT_ADDED,
        data={
            "shipment": shipment.pk,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url,
        },
        **fields,
    )


@dataclass
class BulkShipmentResult:
    """What :func:`bulk_add_shipments` did."""

    #: The shipments created, in the order of the orders' primary keys.
    shipments: list[Shipment] = field(default_factory=list)
    #: Primary keys of the orders that moved to the new status.
    changed: list[Any] = field(default_factory=list)
    #: Primary key → why that order got no shipment.
    skipped: dict[Any, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.shipments)


def bulk_add_shipments(
    shipments: Iterable[tuple[models.Model | Any, Mapping[str, Any]]],
    *,
    status: str | None = None,
    actor: Actor = None,
    message: str = "",
    note: str = "",
    notify: bool = True,
) -> BulkShipmentResult:
    """Record a shipment for each of many orders at once, set-based; with
    ``status`` (e.g. "shipped") also move each order, as :func:`add_shipment` does.

    ``shipments`` are ``(order, fields)`` pairs: an order instance or primary
    key, and a dict of :data:`SHIPMENT_FIELDS` (carrier, tracking_number,
    tracking_url, shipped_at), e.g. a whole shipping wave read from the
    warehouse's file. One shipment per order per call. An order that may not move
    to ``status``, whose fields are invalid, or that does not exist is skipped
    with a reason and gets nothing; the others are written in one transaction
    with a few statements per ``BULK_BATCH_SIZE`` orders, notify as
    :func:`add_shipment` does, and get the same signals after commit.
    """
    pipeline = get_pipeline()
    target = pipeline.get(status) if status is not None else None
    fields_by_pk, instances = _shipments_by_pk(shipments)
    pks = sorted(fields_by_pk)
    result = BulkShipmentResult()
    now = timezone.now()
    actor_row = actor_fields(actor)
    bulk = uuid.uuid4().hex
    with transaction.atomic():
        for start in range(0, len(pks), app_settings.BULK_BATCH_SIZE):
            batch = pks[start : start + app_settings.BULK_BATCH_SIZE]
            states = lock_states(batch, instances, now)
            load_orders(instances, states)
            new: dict[Any, Shipment] = {}
            for pk in batch:
                state = states.get(pk)
                if state is None:
                    reason = gettext("Order does not exist.")
                elif target is not None and state.status != target.code:
                    reason = skip_reason(pipeline, state.status, target)
                else:
                    reason = ""
                if not reason:
                    shipment = _new_shipment(pk, fields_by_pk[pk], now, target, state)
                    try:
                        shipment.full_clean(exclude=["order"])
                    except ValidationError as exc:
                        reason = " ".join(exc.messages)
                    else:
                        new[pk] = shipment
                if reason:
                    result.skipped[pk] = reason
            Shipment.objects.bulk_create(list(new.values()))
            changes = []
            # State rows grouped by (events added, moved): a few plain UPDATEs.
            updates: dict[tuple[int, bool], list[Any]] = {}
            for pk, state in states.items():
                order = instances[pk]
                first_sequence = state.last_sequence
                started = start_event(order, state, actor=actor, at=now)
                events = [started] if started else []
                shipment = new.get(pk)
                moves = False
                if shipment is not None:
                    assert state is not None
                    moves = target is not None and state.status != target.code
                    events.append(
                        _shipment_event(
                            state,
                            shipment,
                            actor=actor_row,
                            at=now,
                            message="" if moves else message,
                            note=note,
                            notify=notify and not moves,
                        )
                    )
                    send_after_commit(
                        signals.shipment_added,
                        order,
                        shipment=shipment,
                        event=events[-1],
                        actor=actor,
                        notify=notify,
                    )
                    if moves:
                        assert target is not None
                        events.append(
                            move(
                                order,
                                state,
                                target.code,
                                actor=actor,
                                at=now,
                                message=message,
                                notify=notify,
                                data={"bulk": bulk, "shipment": shipment.pk},
                            )
                        )
                        result.changed.append(pk)
                    result.shipments.append(shipment)
                if events:
                    changes.append((order, events))
                    added = state.last_sequence - first_sequence
                    updates.setdefault((added, moves), []).append(state.pk)
            write_events(changes)
            for (added, moves), state_pks in updates.items():
                values: dict[str, Any] = {"last_sequence": F("last_sequence") + added}
                if moves:
                    assert target is not None
                    values.update(status=target.code, status_changed_at=now)
                OrderState.objects.filter(pk__in=state_pks).update(**values)
    return result


def _shipments_by_pk(
    shipments: Iterable[tuple[models.Model | Any, Mapping[str, Any]]],
) -> tuple[dict[Any, Mapping[str, Any]], dict[Any, models.Model]]:
    """Each order's shipment fields by primary key, and the order instances given."""
    model = get_order_model()
    fields_by_pk: dict[Any, Mapping[str, Any]] = {}
    instances: dict[Any, models.Model] = {}
    for order, fields in shipments:
        if isinstance(order, models.Model):
            pk = checked_order(order).pk
            instances[pk] = order
        else:
            pk = model._meta.pk.to_python(order)
        if pk in fields_by_pk:
            raise ValueError("Order %r appears twice: one shipment per order." % pk)
        unknown = set(fields) - set(SHIPMENT_FIELDS)
        if unknown:
            raise TypeError(
                "Unknown shipment fields %s; known: %s."
                % (", ".join(sorted(unknown)), ", ".join(SHIPMENT_FIELDS))
            )
        fields_by_pk[pk] = fields
    return fields_by_pk, instances


def _new_shipment(
    pk: Any,
    fields: Mapping[str, Any],
    now: datetime,
    target: Any,
    state: OrderState | None,
) -> Shipment:
    """The unsaved shipment of one order of a bulk call."""
    moves = target is not None and state is not None and state.status != target.code
    return Shipment(
        order_id=pk,
        carrier=fields.get("carrier") or "",
        tracking_number=fields.get("tracking_number") or "",
        tracking_url=fields.get("tracking_url") or "",
        shipped_at=fields.get("shipped_at") or (now if moves else None),
        created_at=now,
    )
