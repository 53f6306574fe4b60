"""Alerts the periodic checks raise: a late shipment, a stuck one, an order too
long in its status. Each is written at most once per occasion (per estimate
revision, per silence of the carrier, per stay in a status), so running a check
twice changes nothing.

The checks that find the candidates live in :mod:`order_updates.carriers.monitoring`.
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.translation import gettext

from order_updates import signals
from order_updates.core.events import (
    ACTOR_SYSTEM,
    actor_fields,
    build_event,
    in_transaction,
    lock_state,
    send_after_commit,
    write_events,
)
from order_updates.models import (
    DeliveryEstimate,
    EventKind,
    OrderEvent,
    OrderState,
    Shipment,
)
from order_updates.models.tracking_status import FINAL_STATUSES


def report_late_shipment(
    shipment: Shipment, *, today: datetime.date | None = None, message: str = ""
) -> OrderEvent | None:
    """Record that ``shipment`` is past its estimated delivery and not delivered:
    a "delivery delayed" event that tells the customer. Once per estimate
    revision; None when there is nothing (more) to report.
    """
    now = timezone.now()
    today = today or timezone.localdate(now)
    order, shipment_pk = shipment.order, shipment.pk

    def write() -> OrderEvent | None:
        state = lock_state(order, at=now)
        shipment = Shipment.objects.select_for_update().get(pk=shipment_pk)
        revision = (
            DeliveryEstimate.objects.filter(shipment=shipment)
            .order_by("-created_at", "-pk")
            .values_list("pk", flat=True)
            .first()
        )
        if (
            revision is None
            or shipment.tracking_status in FINAL_STATUSES
            or shipment.estimated_delivery_to is None
            or shipment.estimated_delivery_to >= today
            or shipment.late_reported_for == revision
        ):
            return None
        event = build_event(
            state,
            kind=EventKind.DELIVERY_DELAYED,
            actor=actor_fields(ACTOR_SYSTEM),
            at=now,
            message=message,
            data={
                "shipment": shipment.pk,
                "estimate": revision,
                "estimated_delivery": shipment.estimated_delivery_to,
                "reason": "late",
            },
        )
        shipment.late_reported_for = revision
        shipment.save(update_fields=["late_reported_for"])
        write_events([(shipment.order, [event])])
        state.save(update_fields=["last_sequence"])
        send_after_commit(
            signals.delivery_issue_reported,
            shipment.order,
            event=event,
            issue="delayed",
            actor=ACTOR_SYSTEM,
            notify=True,
        )
        return event

    return in_transaction(write)


def report_stuck_shipment(shipment: Shipment, *, days: int) -> OrderEvent | None:
    """Record, for staff only, that ``shipment`` had no scan for ``days`` days.
    Once per silence (a new scan starts a new one); None when already reported
    or no longer stuck.
    """
    now = timezone.now()
    order, shipment_pk = shipment.order, shipment.pk

    def write() -> OrderEvent | None:
        state = lock_state(order, at=now)
        shipment = Shipment.objects.select_for_update().get(pk=shipment_pk)
        since = shipment.last_scan_at or shipment.shipped_at
        if (
            since is None
            or shipment.tracking_status in FINAL_STATUSES
            or since > now - datetime.timedelta(days=days)
            or shipment.stuck_reported_for == since
        ):
            return None
        event = build_event(
            state,
            kind=EventKind.SHIPMENT_STUCK,
            actor=actor_fields(ACTOR_SYSTEM),
            at=now,
            note=gettext(
                "No carrier scan for %(days)d days (shipment %(shipment)s, last "
                "news %(since)s)."
            )
            % {"days": (now - since).days, "shipment": shipment, "since": since},
            notify=False,
            data={"shipment": shipment.pk, "since": since, "days": days},
        )
        shipment.stuck_reported_for = since
        shipment.save(update_fields=["stuck_reported_for"])
        write_events([(shipment.order, [event])])
        state.save(update_fields=["last_sequence"])
        send_after_commit(
            signals.shipment_stuck,
            shipment.order,
            shipment=shipment,
            event=event,
            days=(now - since).days,
        )
        return event

    return in_transaction(write)


def report_overdue_status(
    state: OrderState, *, days: int | float, message: str = ""
) -> OrderEvent | None:
    """Record that the order of ``state`` has been in its status longer than
    ``days``: an internal alert, and with ``message`` an update the customer
    receives. Once per stay in a status; None when already reported or moved on.
    """
    now = timezone.now()
    order = state.order
    status = state.status

    def write() -> OrderEvent | None:
        state = lock_state(order, at=now)
        if (
            state.status != status
            or state.status_changed_at > now - datetime.timedelta(days=days)
            or state.overdue_reported_for == state.status_changed_at
        ):
            return None
        waited = (now - state.status_changed_at).days
        event = build_event(
            state,
            kind=EventKind.STATUS_OVERDUE,
            actor=actor_fields(ACTOR_SYSTEM),
            at=now,
            from_status=state.status,
            message=message,
            note=gettext("In status %(status)s for %(days)d days.")
            % {"status": state.status, "days": waited},
            notify=bool(message),
            data={"status": state.status, "since": state.status_changed_at},
        )
        state.overdue_reported_for = state.status_changed_at
        write_events([(order, [event])])
        state.save(update_fields=["last_sequence", "overdue_reported_for"])
        send_after_commit(
            signals.status_overdue,
            order,
            event=event,
            status=state.status,
            days=waited,
        )
        return event

    return in_transaction(write)
