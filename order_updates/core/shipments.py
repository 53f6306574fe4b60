"""Shipments: recording a parcel sent for an order, and the status move with it."""

from __future__ import annotations

from datetime import datetime

from django.db import models, transaction
from django.utils import timezone

from order_updates import signals
from order_updates.core.events import (
    Actor,
    actor_fields,
    build_event,
    lock_state,
    send_after_commit,
    start_event,
    write_events,
)
from order_updates.core.status import move
from order_updates.models import EventKind, Shipment
from order_updates.pipeline import get_pipeline


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
        shipment_event = build_event(
            state,
            kind=EventKind.SHIPMENT_ADDED,
            actor=actor_fields(actor),
            at=now,
            message="" if move_too else message,
            note=note,
            notify=notify and not move_too,
            data={
                "shipment": shipment.pk,
                "carrier": carrier,
                "tracking_number": tracking_number,
                "tracking_url": tracking_url,
            },
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
