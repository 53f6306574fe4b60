"""What the customer pages show, loaded with a fixed number of queries.

Pages and template tags never walk relations in templates: they receive the
plain objects built here (:class:`OrderSummary`, :class:`OrderDetail`,
:class:`TimelineEntry`), read in a few set-based queries whatever the number of
orders, lines, events and shipments.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.translation import gettext_lazy as _

from order_updates.carriers.registry import carrier_name
from order_updates.core.adapter import get_adapter
from order_updates.core.progress import Progress, completed_codes, get_order_progress
from order_updates.models import EventKind, OrderEvent, OrderState, Shipment
from order_updates.pipeline import Status, get_pipeline

if TYPE_CHECKING:
    from django.db.models import Model
    from django_stubs_ext import StrOrPromise

#: The open/completed filter of "my orders": its values and labels.
ORDER_FILTERS: dict[str, StrOrPromise] = {
    "": _("All orders"),
    "open": _("Open"),
    "completed": _("Completed"),
}


@dataclass(frozen=True)
class TimelineEntry:
    """One customer-visible event, in words."""

    kind: str
    at: datetime.datetime
    title: StrOrPromise
    message: str = ""
    #: The status the order moved to (status changes only).
    status: Status | None = None
    #: Something went wrong (a delay, a failed delivery attempt…).
    problem: bool = False


@dataclass(frozen=True)
class ShipmentInfo:
    """One parcel as customers see it."""

    carrier: str
    carrier_name: str
    tracking_number: str
    tracking_url: str
    shipped_at: datetime.datetime | None
    #: The row itself, for an overridden ``shipment.html`` that shows more.
    model: Shipment | None = None

    @classmethod
    def from_model(cls, shipment: Shipment) -> ShipmentInfo:
        return cls(
            carrier=shipment.carrier,
            carrier_name=carrier_name(shipment.carrier, shipment.carrier_name),
            tracking_number=shipment.tracking_number,
            tracking_url=shipment.tracking_url,
            shipped_at=shipment.shipped_at,
            model=shipment,
        )


@dataclass
class OrderSummary:
    """An order as a line of "my orders"."""

    order: Model
    number: str
    created: Any
    total: Any
    currency: str
    #: None for an order whose tracking has not started.
    progress: Progress | None
    latest: TimelineEntry | None


@dataclass
class OrderDetail:
    """Everything the order page and the tracking page show of one order."""

    order: Model
    number: str
    created: Any
    progress: Progress | None
    #: Customer-visible events, newest first.
    timeline: list[TimelineEntry]
    shipments: list[ShipmentInfo]
    #: A delivery problem newer than the latest status change: the customer may
    #: have something to do (rearrange delivery, check the address).
    attention: TimelineEntry | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    #: (label, amount) rows between the lines and the total, as the emails show
    #: them: the subtotal only when something is added or taken off.
    summary_rows: list[tuple[Any, Any]] = field(default_factory=list)
    total: Any = None
    #: The tax already in the total ("including tax"), or None.
    tax_included: Any = None
    currency: str = ""


# Events in words ---------------------------------------------------------------------


def timeline_entry(event: OrderEvent) -> TimelineEntry:
    """What a customer reads for ``event`` (a public one)."""
    pipeline = get_pipeline()
    kind = event.kind
    if kind in (EventKind.STATUS_CHANGED, EventKind.TRACKING_STARTED):
        status = pipeline.get_or_retired(event.to_status)
        return TimelineEntry(
            kind=kind,
            at=event.created_at,
            title=status.label,
            message=event.message or str(status.description),
            status=status,
        )
    if kind == EventKind.SHIPMENT_ADDED:
        data = event.data or {}
        carrier = carrier_name(
            str(data.get("carrier") or ""), str(data.get("carrier_name") or "")
        )
        return TimelineEntry(
            kind=kind,
            at=event.created_at,
            title=_("Parcel handed to %(carrier)s") % {"carrier": carrier}
            if carrier
            else _("Parcel sent"),
            message=event.message,
        )
    if kind == EventKind.DELIVERY_DELAYED:
        return TimelineEntry(
            kind=kind,
            at=event.created_at,
            title=_("Delivery delayed"),
            message=event.message,
            problem=True,
        )
    if kind == EventKind.DELIVERY_EXCEPTION:
        return TimelineEntry(
            kind=kind,
            at=event.created_at,
            title=_("Delivery problem"),
            message=event.message,
            problem=True,
        )
    return TimelineEntry(
        kind=kind,
        at=event.created_at,
        title=_("Message from us"),
        message=event.message,
    )


def _progress(status_code: str | None, events: Sequence[OrderEvent] = ()) -> Any:
    if status_code is None:
        return None
    return get_order_progress(status_code, events)


def _state(order: Model) -> OrderState | None:
    try:
        return order.order_updates_state  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        return None


def _status_code(order: Model) -> str | None:
    state = _state(order)
    return state.status if state is not None else None


def link_version(order: Model) -> int | None:
    """The order's tracking link version (None if untracked); joined, no query."""
    state = _state(order)
    return state.tracking_link_version if state is not None else None


# "My orders" -------------------------------------------------------------------------


def customer_orders(user: Any, status_filter: str = "") -> QuerySet:
    """The orders ``user`` may see, newest first, their state row joined.

    ``status_filter`` is "" (all), "open" or "completed" (:data:`ORDER_FILTERS`).
    """
    adapter = get_adapter()
    visible = adapter.get_orders_for_user(user)
    orders = (
        adapter.get_queryset()
        .filter(pk__in=visible.values("pk"))
        .select_related("order_updates_state")
    )
    completed = completed_codes()
    if status_filter == "completed":
        orders = orders.filter(order_updates_state__status__in=completed)
    elif status_filter == "open":
        orders = orders.exclude(order_updates_state__status__in=completed)
    created = adapter.order_fields.get("created")
    ordering = ["-%s" % created] if isinstance(created, str) and created else []
    return orders.order_by(*ordering, "-pk")


def summaries(orders: Iterable[Model]) -> list[OrderSummary]:
    """One :class:`OrderSummary` per order (state rows joined): one query more,
    for the latest customer-visible event of every order.
    """
    adapter = get_adapter()
    orders = list(orders)
    latest_sequence = (
        OrderEvent.objects.public()
        .filter(order=OuterRef("order"))
        .order_by("-sequence")
        .values("sequence")[:1]
    )
    latest = {
        event.order_id: event
        for event in OrderEvent.objects.filter(
            order_id__in=[order.pk for order in orders],
            sequence=Subquery(latest_sequence),
        )
    }
    result = []
    for order in orders:
        event = latest.get(order.pk)
        result.append(
            OrderSummary(
                order=order,
                number=adapter.get_number(order),
                created=adapter.field(order, "created"),
                total=adapter.field(order, "total"),
                currency=adapter.field(order, "currency") or "",
                progress=_progress(_status_code(order)),
                latest=timeline_entry(event) if event is not None else None,
            )
        )
    return result


# One order ---------------------------------------------------------------------------


def order_detail(order: Model, *, items: bool = True) -> OrderDetail:
    """The order page's data: two queries (events, shipments) when ``order`` was
    loaded with its state row joined (and its lines prefetched, for ``items``).
    """
    adapter = get_adapter()
    events = list(OrderEvent.objects.public().filter(order_id=order.pk))
    shipments = [
        ShipmentInfo.from_model(row)
        for row in Shipment.objects.filter(order_id=order.pk).order_by(
            "created_at", "pk"
        )
    ]
    status_events = [e for e in events if e.to_status]
    timeline = [timeline_entry(event) for event in reversed(events)]
    attention = None
    last_status_at = status_events[-1].sequence if status_events else 0
    for event in reversed(events):
        if event.sequence < last_status_at:
            break
        if event.kind == EventKind.DELIVERY_EXCEPTION:
            attention = timeline_entry(event)
            break
    return OrderDetail(
        order=order,
        number=adapter.get_number(order),
        created=adapter.field(order, "created"),
        progress=_progress(_status_code(order), status_events),
        timeline=timeline,
        shipments=shipments,
        attention=attention,
        currency=(adapter.field(order, "currency") or "") if items else "",
        **(_figures(adapter, order) if items else {}),
    )


def _figures(adapter: Any, order: Model) -> dict[str, Any]:
    """The lines and the summary of ``order``, adding up as in the emails."""
    lines = adapter.get_items(order)
    summary = adapter.get_summary(order, lines)
    tax, included = summary["tax"], summary["tax_included"]
    rows = [
        (_("Shipping"), summary["shipping"]),
        (_("Discount"), -Decimal(summary["discount"]) if summary["discount"] else None),
        (_("Tax"), tax if not included else None),
    ]
    rows = [(label, amount) for label, amount in rows if amount]
    if rows and summary["subtotal"] is not None:
        rows.insert(0, (_("Subtotal"), summary["subtotal"]))
    return {
        "items": lines,
        "summary_rows": rows,
        "total": adapter.field(order, "total"),
        "tax_included": tax if included and tax else None,
    }


# For the template tags on a shop's own pages ----------------------------------------


def order_progress(order: Model) -> Progress | None:
    """The order's place on the bar (None if untracked); one query for the state
    row unless joined, one for its status changes when off the path.
    """
    code = _status_code(order)
    if code is None:
        return None
    status = get_pipeline().get_or_retired(code)
    events: list[OrderEvent] = []
    if not status.stage:
        events = list(
            OrderEvent.objects.filter(order_id=order.pk).exclude(to_status="")
        )
    return _progress(code, events)


def order_timeline(order: Model) -> list[TimelineEntry]:
    """The order's customer-visible events, newest first (one query)."""
    events = OrderEvent.objects.public().filter(order_id=order.pk)
    return [timeline_entry(event) for event in events.order_by("-sequence")]


def order_shipments(order: Model) -> list[ShipmentInfo]:
    """The order's parcels, oldest first (one query)."""
    rows = Shipment.objects.filter(order_id=order.pk).order_by("created_at", "pk")
    return [ShipmentInfo.from_model(row) for row in rows]
