"""Shipments: recording a parcel sent for an order, and the status move with it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from order_updates import signals
from order_updates.conf import app_settings
from order_updates.core import validation
from order_updates.core.adapter import get_adapter
from order_updates.core.events import (
    Actor,
    actor_fields,
    build_event,
    in_transaction,
    lock_state,
    lock_states,
    send_after_commit,
    start_event,
    write_events,
)
from order_updates.core.shop_field import write_shop_status
from order_updates.core.status import load_orders, move, skip_reason
from order_updates.core.tracking import (
    checked_estimate,
    follow_shipments,
    revise_estimate,
)
from order_updates.exceptions import InvalidInput, InvalidInputType
from order_updates.models import (
    EstimateSource,
    EventKind,
    OrderEvent,
    OrderState,
    Shipment,
    ShipmentTrackingNumber,
)
from order_updates.pipeline import get_pipeline

#: The shipment fields a caller gives (add_shipment's keyword arguments).
SHIPMENT_FIELDS = validation.SHIPMENT_FIELDS


def add_shipment(
    order: models.Model,
    *,
    carrier: str = "",
    tracking_number: str = "",
    tracking_url: str = "",
    shipped_at: datetime | None = None,
    carrier_name: str = "",
    service: str = "",
    more_tracking_numbers: Iterable[str] | None = None,
    items: Iterable[Mapping[str, Any]] | None = None,
    estimated_delivery: date | tuple[date, date] | None = None,
    actor: Actor = None,
    message: str = "",
    note: str = "",
    status: str | None = None,
    notify: bool = True,
    at: datetime | None = None,
) -> Shipment:
    """Record a shipment for ``order``; with ``status`` (e.g. "shipped") also move it.

    ``carrier`` is a code of the carrier registry; for a carrier it does not
    know, leave it empty and give ``carrier_name`` (and ``tracking_url``).
    ``more_tracking_numbers`` are the further parcels' numbers; ``items`` the
    order lines in the parcel (``[{"line": key, "quantity": n}]``, keys from the
    adapter's ``get_line_quantities()``; none means the whole order).
    ``estimated_delivery`` is a date or an ``(earliest, latest)`` pair.

    Without ``status``, a shipment that has left (``shipped_at`` given) moves
    the order as its shipments imply: ``partially_shipped`` while lines remain,
    else ``shipped`` (see :func:`~order_updates.core.tracking.follow_shipments`).

    Raises :class:`~order_updates.exceptions.InvalidInput` for bad arguments (a
    bad link, a tracking number too long for its column…) and the usual status
    errors if the move is not allowed; then nothing is saved. ``at`` is when it
    happened (defaults to now; ``shipped_at`` defaults to it when the order
    moves).
    """
    pipeline = get_pipeline()
    if status is not None:
        status = validation.status(status).code
    fields = validation.shipment_fields(
        {
            "carrier": carrier,
            "tracking_number": tracking_number,
            "tracking_url": tracking_url,
            "carrier_name": carrier_name,
            "service": service,
            "shipped_at": shipped_at,
            "more_tracking_numbers": more_tracking_numbers,
        }
    )
    estimate = None
    if estimated_delivery is not None:
        if (
            isinstance(estimated_delivery, (tuple, list))
            and len(estimated_delivery) == 2
        ):
            estimate = checked_estimate(*estimated_delivery)
        else:
            estimate = checked_estimate(estimated_delivery)
    order, actor, message, note, notify, at = validation.arguments(
        order=order, actor=actor, message=message, note=note, notify=notify, at=at
    )
    now = at or timezone.now()
    # A transaction run again reads the items again: keep a one-shot
    # iterator's.
    items = validation.replayable(items)

    def write() -> Shipment:
        state = lock_state(order, at=now)
        started = start_event(order, state, actor=actor, at=now)
        new_status = status if status != state.status else None
        move_too = new_status is not None
        if new_status is not None:
            pipeline.check_transition(state.status, new_status)
        shipment = _new_shipment(order.pk, fields, now, moves=move_too)
        if items is not None:
            shipment.items = validation.shipment_items(
                items,
                get_adapter().get_line_quantities(order),
                shipped_lines(order),
            )
        shipment.save()
        _save_more_numbers([shipment], {shipment.pk: fields["more_tracking_numbers"]})
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
        if estimate is not None:
            revised = revise_estimate(
                state,
                shipment,
                estimate,
                EstimateSource.STAFF,
                actor=actor,
                at=now,
                notify=False,
            )
            if revised is not None:
                events.append(revised)
                shipment.save(
                    update_fields=[
                        "estimated_delivery_from",
                        "estimated_delivery_to",
                    ]
                )
        if status is None and shipment.shipped_at is not None:
            moves = follow_shipments(
                order, state, actor=actor, at=now, notify=notify, shipment=shipment
            )
            if moves:
                shipment_event.notify = False  # the status change tells the customer
                shipment_event.message = ""
                moves[-1].message = message
                events.extend(moves)
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

    return in_transaction(write)


#: What :func:`update_shipment` may change.
UPDATABLE_FIELDS = (
    "carrier",
    "carrier_name",
    "service",
    "tracking_number",
    "tracking_url",
    "shipped_at",
)


def update_shipment(
    shipment: Shipment,
    *,
    more_tracking_numbers: Iterable[str] | None = None,
    items: Iterable[Mapping[str, Any]] | None = None,
    actor: Actor = None,
    message: str = "",
    note: str = "",
    notify: bool = True,
    at: datetime | None = None,
    **changes: Any,
) -> OrderEvent | None:
    """Change a shipment's ``carrier``, ``carrier_name``, ``service``,
    ``tracking_number``, ``tracking_url`` or ``shipped_at`` (the keyword
    arguments given); return the ``shipment_updated`` event, or None when
    nothing changed.

    ``more_tracking_numbers`` replaces the further parcels' numbers (``[]``
    removes them) and ``items`` the order lines in the parcel (``[]``: the
    whole order), as :func:`add_shipment` takes them; None leaves them as
    they are.

    The customer hears of it (a shipping update) unless ``notify=False``. When
    ``shipped_at`` is set on a shipment that had none, or the items of one that
    has left change, the order follows its shipments as with
    :func:`add_shipment`, and a status change tells the customer instead. Bad
    values raise :class:`~order_updates.exceptions.InvalidInput` before
    anything is written.
    """
    if not isinstance(shipment, Shipment) or shipment.pk is None:
        raise InvalidInputType(
            "shipment",
            gettext("shipment must be a saved Shipment, not %s.")
            % validation.type_name(shipment),
        )
    unknown = sorted(set(changes) - set(UPDATABLE_FIELDS))
    if unknown:
        raise InvalidInputType(
            unknown[0],
            gettext("Unknown shipment fields %(unknown)s; known: %(known)s.")
            % {"unknown": ", ".join(unknown), "known": ", ".join(UPDATABLE_FIELDS)},
        )
    checked = validation.shipment_fields(
        {**changes, "more_tracking_numbers": more_tracking_numbers}
    )
    cleaned = {name: checked[name] for name in changes}
    if more_tracking_numbers is not None:
        cleaned["more_tracking_numbers"] = checked["more_tracking_numbers"]
    actor, message, note, notify, at = validation.arguments(
        actor=actor, message=message, note=note, notify=notify, at=at
    )
    order = shipment.order
    now = at or timezone.now()
    requested, shipment_pk = cleaned, shipment.pk
    items = validation.replayable(items)

    def write() -> OrderEvent | None:
        cleaned = dict(requested)
        state = lock_state(order, at=now)
        shipment = Shipment.objects.select_for_update().get(pk=shipment_pk)
        before = {
            name: getattr(shipment, name)
            for name in cleaned
            if name != "more_tracking_numbers"
        }
        if items is not None:
            # What the order's other shipments hold limits what this one may.
            cleaned["items"] = validation.shipment_items(
                items,
                get_adapter().get_line_quantities(order),
                shipped_lines(order, excluding=shipment.pk),
            )
            before["items"] = shipment.items or []
        if more_tracking_numbers is not None:
            main = cleaned.get("tracking_number", shipment.tracking_number)
            cleaned["more_tracking_numbers"] = [
                number for number in cleaned["more_tracking_numbers"] if number != main
            ]
            before["more_tracking_numbers"] = list(
                shipment.more_tracking_numbers.order_by("pk").values_list(
                    "number", flat=True
                )
            )
        changed = {
            name: value
            for name, value in cleaned.items()
            if _comparable(name, before[name]) != _comparable(name, value)
        }
        if not changed:
            return None
        left = before.get("shipped_at", shipment.shipped_at) is None and bool(
            changed.get("shipped_at")
        )
        # Items moved between parcels that have left: lines may now all be sent.
        regroup = "items" in changed and shipment.shipped_at is not None
        columns = [name for name in changed if name != "more_tracking_numbers"]
        for name in columns:
            setattr(shipment, name, changed[name])
        if columns:
            shipment.save(update_fields=columns)
        if "more_tracking_numbers" in changed:
            shipment.more_tracking_numbers.all().delete()
            _save_more_numbers(
                [shipment], {shipment.pk: changed["more_tracking_numbers"]}
            )
        started = start_event(order, state, actor=actor, at=now)
        event = build_event(
            state,
            kind=EventKind.SHIPMENT_UPDATED,
            actor=actor_fields(actor),
            at=now,
            message=message,
            note=note,
            notify=notify,
            data={
                "shipment": shipment.pk,
                # The shipment as it is now, for the timeline (as shipment_added).
                "carrier": shipment.carrier,
                "carrier_name": shipment.carrier_name,
                "tracking_number": shipment.tracking_number,
                "tracking_url": shipment.tracking_url,
                "changed": sorted(changed),
                "before": {name: before[name] for name in changed},
            },
        )
        events = [started, event] if started else [event]
        if left or regroup:
            moves = follow_shipments(
                order, state, actor=actor, at=now, notify=notify, shipment=shipment
            )
            if moves:
                event.notify = False  # the status change tells the customer
                event.message = ""
                moves[-1].message = message
                events.extend(moves)
        write_events([(order, events)])
        state.save(update_fields=["status", "last_sequence", "status_changed_at"])
        send_after_commit(
            signals.shipment_updated,
            order,
            shipment=shipment,
            event=event,
            changed={name: [before[name], value] for name, value in changed.items()},
            actor=actor,
            notify=notify,
        )
        return event

    return in_transaction(write)


def _shipment_event(state: OrderState, shipment: Shipment, **fields: Any) -> OrderEvent:
    """The unsaved shipment-added event of ``shipment`` (saved, with its pk)."""
    return build_event(
        state,
        kind=EventKind.SHIPMENT_ADDED,
        data={
            "shipment": shipment.pk,
            "carrier": shipment.carrier,
            "carrier_name": shipment.carrier_name,
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

    Fields are checked as :func:`add_shipment` checks them; a value that is
    wrong (a bad link, a tracking number too long) skips its order with the
    reason, a value of the wrong type (a number as a carrier) or a bad argument
    raises :class:`~order_updates.exceptions.InvalidInput` before anything is
    written.
    """
    target = validation.status(status) if status is not None else None
    actor, message, note, notify = validation.arguments(
        actor=actor, message=message, note=note, notify=notify
    )
    pipeline = get_pipeline()
    fields_by_pk, instances = _shipments_by_pk(shipments)
    pks = sorted(fields_by_pk)

    def write() -> BulkShipmentResult:
        result = BulkShipmentResult()
        now = timezone.now()
        actor_row = actor_fields(actor)
        bulk = uuid.uuid4().hex
        for start in range(0, len(pks), app_settings.BULK_BATCH_SIZE):
            batch = pks[start : start + app_settings.BULK_BATCH_SIZE]
            states = lock_states(batch, instances, now)
            load_orders(instances, states)
            new: dict[Any, Shipment] = {}
            for pk in batch:
                state = states.get(pk)
                fields = fields_by_pk[pk]
                if state is None:
                    result.skipped[pk] = gettext("Order does not exist.")
                    continue
                moves = target is not None and state.status != target.code
                reason = ""
                if moves and target is not None:
                    reason = skip_reason(pipeline, state.status, target)
                if not reason and isinstance(fields, InvalidInput):
                    reason = str(fields)
                if reason:
                    result.skipped[pk] = reason
                elif isinstance(fields, dict):
                    new[pk] = _new_shipment(pk, fields, now, moves=moves)
            Shipment.objects.bulk_create(list(new.values()))
            _save_more_numbers(
                list(new.values()),
                {
                    shipment.pk: fields_by_pk[pk]["more_tracking_numbers"]  # type: ignore[index]
                    for pk, shipment in new.items()
                },
            )
            changes = []
            moved: list[Any] = []
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
                                write_shop=False,  # for the whole batch, below
                            )
                        )
                        moved.append(pk)
                        result.changed.append(pk)
                    result.shipments.append(shipment)
                if events:
                    changes.append((order, events))
                    added = state.last_sequence - first_sequence
                    updates.setdefault((added, moves), []).append(state.pk)
            if target is not None:
                # The shop's own status field follows in one statement, not one
                # per order (as in bulk_set_status).
                write_shop_status([instances[pk] for pk in moved], moved, target.code)
            write_events(changes)
            for (added, moves), state_pks in updates.items():
                values: dict[str, Any] = {"last_sequence": F("last_sequence") + added}
                if moves:
                    assert target is not None
                    values.update(status=target.code, status_changed_at=now)
                OrderState.objects.filter(pk__in=state_pks).update(**values)
        return result

    return in_transaction(write)


def _shipments_by_pk(
    shipments: Iterable[tuple[models.Model | Any, Mapping[str, Any]]],
) -> tuple[dict[Any, dict[str, Any] | InvalidInput], dict[Any, models.Model]]:
    """Each order's checked shipment fields by primary key (or why they are
    wrong, which skips the order), and the order instances given.

    Raises :class:`~order_updates.exceptions.InvalidInput` for a call that is
    wrong as a whole: not (order, fields) pairs, an order twice, a field of the
    wrong type or unknown.
    """
    if not isinstance(shipments, Iterable) or isinstance(shipments, (str, Mapping)):
        raise InvalidInputType(
            "shipments",
            gettext("shipments must be a list of (order, fields) pairs, not %s.")
            % validation.type_name(shipments),
        )
    fields_by_pk: dict[Any, dict[str, Any] | InvalidInput] = {}
    instances: dict[Any, models.Model] = {}
    for index, item in enumerate(shipments):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise InvalidInputType(
                "shipments[%d]" % index,
                gettext(
                    "shipments[%(index)d] must be an (order, fields) pair, not "
                    "%(type)s."
                )
                % {"index": index, "type": validation.type_name(item)},
            )
        order, fields = item
        argument = "shipments[%d]" % index
        if isinstance(order, models.Model):
            pk = validation.order(order, argument).pk
            instances[pk] = order
        else:
            pk = validation.order_pk(order, argument)
        if pk in fields_by_pk:
            raise InvalidInput(
                argument,
                gettext("Order %(pk)r appears twice: one shipment per order.")
                % {"pk": pk},
            )
        try:
            fields_by_pk[pk] = validation.shipment_fields(fields, argument + ".")
        except InvalidInputType:
            raise
        except InvalidInput as exc:  # a bad value: this order is skipped
            fields_by_pk[pk] = exc
    return fields_by_pk, instances


def _comparable(name: str, value: Any) -> Any:
    """``value`` of the shipment field ``name`` as compared for a change: the
    items whatever their order."""
    if name == "items":
        return sorted((str(item["line"]), item["quantity"]) for item in value or [])
    return value


def shipped_lines(order: models.Model, excluding: Any = None) -> dict[str, int]:
    """Line key → quantity already in the order's shipments (but the one
    ``excluding`` names)."""
    shipped: dict[str, int] = {}
    for items in (
        Shipment.objects.filter(order_id=order.pk)
        .exclude(pk=excluding)
        .values_list("items", flat=True)
    ):
        for item in items or []:
            key = str(item.get("line"))
            shipped[key] = shipped.get(key, 0) + int(item.get("quantity") or 0)
    return shipped


def _save_more_numbers(
    shipments: list[Shipment], numbers: Mapping[Any, list[str]]
) -> None:
    """Insert the further tracking numbers of saved ``shipments`` (one statement)."""
    rows = [
        ShipmentTrackingNumber(shipment=shipment, number=number)
        for shipment in shipments
        for number in numbers.get(shipment.pk) or ()
        if number != shipment.tracking_number
    ]
    if rows:
        ShipmentTrackingNumber.objects.bulk_create(rows)


def _new_shipment(
    pk: Any, fields: Mapping[str, Any], now: datetime, *, moves: bool
) -> Shipment:
    """The unsaved shipment of one order, from checked fields."""
    return Shipment(
        order_id=pk,
        carrier=fields["carrier"],
        carrier_name=fields["carrier_name"],
        service=fields["service"],
        tracking_number=fields["tracking_number"],
        tracking_url=fields["tracking_url"],
        shipped_at=fields["shipped_at"] or (now if moves else None),
        created_at=now,
    )
