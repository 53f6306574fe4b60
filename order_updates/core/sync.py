"""Recording the changes a shop makes to its own status field.

With ``ORDER_UPDATES["STATUS_FIELD"]`` set, status sync runs both ways:

- order_updates → shop: every status change order_updates makes writes the
  shop's value into that field, in the same transaction, with a queryset
  ``update()`` (:func:`order_updates.core.shop_field.write_shop_status`), which
  sends no ``post_save``: nothing comes back;
- shop → order_updates: when the shop changes the field itself (its dashboard,
  its code: ``post_save``; a queryset ``update()``: :func:`sync_from_shop`, which
  the shop calls), the change becomes a timeline event, with notifications.

No loop can start: a value that already means the order's current status
changes nothing on either side, and order_updates never writes a shop value that
already means the status it sets (a shop with two values for one status keeps
the one it chose).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import models
from django.db.models import F
from django.utils import timezone

from order_updates.core import validation
from order_updates.core.adapter import get_adapter
from order_updates.core.events import Actor, in_transaction, write_events
from order_updates.core.shop_field import pipeline_code, status_attname, status_field
from order_updates.core.status import load_orders, move, order_pks
from order_updates.exceptions import OrderUpdatesConfigurationError
from order_updates.models import OrderState

logger = logging.getLogger("order_updates.sync")

#: The actor of changes read from the shop's own status field.
ACTOR_SHOP = "shop"


def sync_from_shop(
    orders: models.QuerySet | Iterable[models.Model],
    *,
    actor: Actor = ACTOR_SHOP,
    message: str = "",
    note: str = "",
    notify: bool = True,
) -> list[Any]:
    """Record the changes the shop made to its own status field; return the
    primary keys of the orders that moved.

    For a shop that changes the field with a queryset ``update()`` (which sends
    no signal)::

        Order.objects.filter(pk__in=ids).update(state="sent")
        services.sync_from_shop(Order.objects.filter(pk__in=ids))

    Each tracked order whose field now means another status moves there: one
    ``status_changed`` event (actor ``"shop"`` unless given), notifications and
    ``order_status_changed`` as for :func:`~order_updates.services.set_status`,
    in one transaction. Bad arguments raise
    :class:`~order_updates.exceptions.InvalidInput` before anything is written.
    The shop already made the change, so the pipeline's
    transitions are not checked. Orders not tracked yet, and values that mean no
    pipeline status (logged as a warning), are left alone. Saves through the
    shop's model (its dashboard, ``order.save()``) need no call: order_updates
    receives them.
    """
    field = status_field()
    if not field:
        raise OrderUpdatesConfigurationError(
            "sync_from_shop() needs ORDER_UPDATES['STATUS_FIELD']: the name of "
            "your order's own status field."
        )
    actor, message, note, notify = validation.arguments(
        actor=actor, message=message, note=note, notify=notify
    )
    pks, instances = order_pks(orders)
    if not pks:
        return []
    model = get_adapter().get_order_model()

    def write() -> list[Any]:
        moved: dict[str, list[Any]] = {}
        states = {
            state.order_id: state
            for state in OrderState.objects.select_for_update()
            .filter(order_id__in=pks)
            .order_by("order_id")
        }
        if not states:
            return []
        values = dict(
            model._default_manager.filter(pk__in=list(states)).values_list("pk", field)
        )
        targets: dict[Any, str] = {}
        for pk, state in states.items():
            if pk not in values:
                continue
            code = pipeline_code(values[pk])
            if code is None:
                logger.warning(
                    "Order %s: its %s %r means no status of the pipeline; add it "
                    "to ORDER_UPDATES['STATUS_MAP'].",
                    pk,
                    field,
                    values[pk],
                )
            elif code != state.status:
                targets[pk] = code
        if not targets:
            return []
        load_orders(instances, targets)
        now = timezone.now()
        changes = []
        for pk, code in targets.items():
            order = instances[pk]
            state = states[pk]
            event = move(
                order,
                state,
                code,
                actor=actor,
                at=now,
                message=message,
                note=note,
                notify=notify,
                data={"shop_status": str(values[pk])},
                write_shop=False,
            )
            changes.append((order, [event]))
            moved.setdefault(code, []).append(state.pk)
        write_events(changes)
        for code, state_pks in moved.items():
            OrderState.objects.filter(pk__in=state_pks).update(
                status=code, status_changed_at=now, last_sequence=F("last_sequence") + 1
            )
        return list(targets)

    # A deadlock (with a transaction of the shop's that holds an order row, then
    # wants its state row) aborts the attempt: the whole change runs again.
    return in_transaction(write)


def record_shop_status(
    order: models.Model, value: Any, *, actor: Actor = ACTOR_SHOP
) -> bool:
    """Record that the shop set ``order``'s own status field to ``value``.

    For receivers of a shop's own signals (django-oscar's
    ``order_status_changed``). One query when ``value`` means the order's
    current status, or the order is not tracked; else :func:`sync_from_shop`.
    Returns whether the order moved.
    """
    current = (
        OrderState.objects.filter(order_id=order.pk)
        .values_list("status", flat=True)
        .first()
    )
    if current is None or current == pipeline_code(value):
        return False
    return bool(sync_from_shop([order], actor=actor))


def shop_order_saved(
    sender: type[models.Model],
    instance: models.Model,
    created: bool,
    raw: bool = False,
    update_fields: Any = None,
    **kwargs: Any,
) -> None:
    """``post_save`` receiver of the shop's order: a save that changed its
    status field (dashboard, shop code) is recorded (:func:`record_shop_status`).

    Costs one query when the status did not change, none when ``update_fields``
    leaves the field out; a new order is left to ``TRACK_NEW_ORDERS`` or the
    shop's ``start_tracking()`` call, which start in the status its field means.
    """
    field = status_field()
    if not field or created or raw:
        return
    attname = status_attname(type(instance), field)
    if update_fields is not None and not {field, attname} & set(update_fields):
        return
    record_shop_status(instance, getattr(instance, attname))
