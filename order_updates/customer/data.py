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
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connections, router
from django.db.models import (
    Count,
    F,
    Max,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    TextChoices,
    Window,
)
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from order_updates.carriers.registry import carrier_name, tracking_link
from order_updates.core.adapter import DefaultOrderAdapter, get_adapter
from order_updates.core.progress import (
    Progress,
    completed_codes,
    get_order_progress,
    get_progress,
    reached_status,
)
from order_updates.core.reads import FixedRead, QuerysetRead, run_fixed_reads
from order_updates.core.tracking import estimate_words, status_words
from order_updates.models import (
    EventKind,
    NotificationPreference,
    OrderEvent,
    OrderState,
    Shipment,
    TrackingEvent,
)
from order_updates.models.tracking_status import (
    FINAL_STATUSES,
    PROBLEM_STATUSES,
    TrackingStatus,
    TrackingSubstatus,
)
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


class KeyLookups:
    """Django's templates look ``summary.number`` up as a key before trying an
    attribute: answering as a mapping spares them raising and catching an
    exception for each of a page's few hundred lookups (a tenth of the "my
    orders" template's time). Not a collection otherwise: not iterable.
    """

    __slots__ = ()
    __iter__ = None

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except (AttributeError, TypeError):  # TypeError: not a name (summary.0)
            raise KeyError(name) from None


@dataclass(frozen=True)
class TimelineEntry(KeyLookups):
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
class ScanInfo(KeyLookups):
    """One carrier scan as customers see it."""

    at: datetime.datetime
    location: str
    message: str
    #: The normalized status's label ("In transit").
    status: StrOrPromise


@dataclass(frozen=True)
class ShipmentInfo(KeyLookups):
    """One parcel as customers see it."""

    carrier: str
    #: The carrier's name: the registry's, translated, or as the shop typed it.
    carrier_name: str
    tracking_number: str
    #: The link to follow the parcel: the one given, else the carrier's page.
    tracking_url: str
    shipped_at: datetime.datetime | None
    #: The row itself, for an overridden ``shipment.html`` that shows more.
    model: Shipment | None = None
    #: Every tracking number of the parcel with its link: (number, url or '').
    tracking_numbers: tuple[tuple[str, str], ...] = ()
    #: The normalized tracking status's code and label, and the sub-status's.
    status: str = ""
    status_label: StrOrPromise = ""
    substatus_label: StrOrPromise = ""
    #: The carrier reported a failed attempt or a problem.
    problem: bool = False
    delivered_at: datetime.datetime | None = None
    #: The estimated delivery: a date (both the same) or a window.
    estimated_from: datetime.date | None = None
    estimated_to: datetime.date | None = None
    #: The lines in the parcel, (name, quantity); empty: the whole order, or
    #: not shown (the public tracking page).
    items: tuple[tuple[str, int], ...] = ()
    #: The carrier's scans, newest first.
    scans: tuple[ScanInfo, ...] = ()

    @property
    def estimated_window(self) -> bool:
        """The estimate is a window of days, not one date."""
        return bool(self.estimated_from and self.estimated_from != self.estimated_to)

    @classmethod
    def from_model(
        cls,
        shipment: Shipment,
        *,
        more_numbers: Sequence[str] = (),
        scans: Sequence[TrackingEvent] = (),
        line_names: dict[str, str] | None = None,
    ) -> ShipmentInfo:
        """``shipment`` in words, with its further numbers and scans (newest
        first) already loaded; its items named when ``line_names`` is given.
        """
        url = tracking_link(
            shipment.carrier, shipment.tracking_number, shipment.tracking_url
        )
        numbers = []
        if shipment.tracking_number:
            numbers.append((shipment.tracking_number, url))
        numbers.extend(
            (number, tracking_link(shipment.carrier, number)) for number in more_numbers
        )
        items: list[tuple[str, int]] = []
        if line_names is not None:
            for item in shipment.items or []:
                key = str(item.get("line"))
                items.append(
                    (line_names.get(key) or key, int(item.get("quantity") or 0))
                )
        return cls(
            carrier=shipment.carrier,
            carrier_name=carrier_name(shipment.carrier, shipment.carrier_name),
            tracking_number=shipment.tracking_number,
            tracking_url=url,
            shipped_at=shipment.shipped_at,
            model=shipment,
            tracking_numbers=tuple(numbers),
            status=shipment.tracking_status,
            status_label=_label(TrackingStatus, shipment.tracking_status),
            substatus_label=_label(TrackingSubstatus, shipment.tracking_substatus)
            if shipment.tracking_substatus
            else "",
            problem=shipment.tracking_status in PROBLEM_STATUSES,
            delivered_at=shipment.delivered_at,
            estimated_from=shipment.estimated_delivery_from,
            estimated_to=shipment.estimated_delivery_to,
            items=tuple(items),
            scans=tuple(
                ScanInfo(
                    at=scan.occurred_at,
                    location=scan.location,
                    message=scan.message,
                    status=_label(TrackingStatus, scan.status),
                )
                for scan in scans
            ),
        )


def _label(choices: type[TextChoices], value: str) -> str:
    """What ``get_FOO_display()`` says for ``value``, without the dict of all
    the field's choices it builds (translating every label) on each call.
    """
    try:
        return str(choices(value).label)
    except ValueError:
        return value


# The pages' reads of an order's own rows, their SQL compiled once (FixedRead).
_order_events = FixedRead(
    OrderEvent, lambda order_pk: OrderEvent.objects.filter(order_id=order_pk)
)
_order_shipments = FixedRead(
    Shipment,
    lambda order_pk: (
        Shipment.objects.filter(order_id=order_pk)
        .annotate(
            more_number=F("more_tracking_numbers__number"),
            more_pk=F("more_tracking_numbers__pk"),
        )
        .order_by("created_at", "pk", "more_pk")
    ),
)
_order_scans = FixedRead(
    TrackingEvent,
    lambda order_pk: TrackingEvent.objects.filter(shipment__order_id=order_pk).order_by(
        "-occurred_at", "-pk"
    ),
)


def load_shipments(
    order: Model, *, line_names: dict[str, str] | None = None
) -> list[ShipmentInfo]:
    """The order's parcels, oldest first, each with all its tracking numbers and
    scans: two reads whatever their number (the further numbers are joined to
    the shipments; the scans of all of them come in the other), one round trip
    where the database allows (:func:`~order_updates.core.reads.run_fixed_reads`).
    """
    rows, scans = run_fixed_reads(
        [(_order_shipments, (order.pk,)), (_order_scans, (order.pk,))]
    )
    return _shipment_infos(rows, scans, line_names)


def _shipment_infos(
    rows: list[Any],
    scan_rows: list[Any],
    line_names: dict[str, str] | None,
) -> list[ShipmentInfo]:
    shipments: dict[int, Shipment] = {}
    numbers: dict[int, list[str]] = {}
    for row in rows:
        shipments.setdefault(row.pk, row)
        if row.more_number and row.more_number != row.tracking_number:
            numbers.setdefault(row.pk, []).append(row.more_number)
    scans: dict[int, list[TrackingEvent]] = {}
    for scan in scan_rows:
        scans.setdefault(scan.shipment_id, []).append(scan)
    return [
        ShipmentInfo.from_model(
            shipment,
            more_numbers=numbers.get(pk, ()),
            scans=scans.get(pk, ()),
            line_names=line_names,
        )
        for pk, shipment in shipments.items()
    ]


@dataclass
class OrderSummary(KeyLookups):
    """An order as a line of "my orders"."""

    order: Model
    number: str
    created: Any
    total: Any
    currency: str
    #: None for an order whose tracking has not started.
    progress: Progress | None
    latest: TimelineEntry | None
    #: When the parcels still on their way should arrive: the earliest first day
    #: and the latest last day of their estimates (None when none is known).
    estimated_from: datetime.date | None = None
    estimated_to: datetime.date | None = None
    #: The order page's address ("my orders" sets it).
    url: str = ""
    #: "Order 1001", in the active language.
    heading: str = ""

    @property
    def estimated_window(self) -> bool:
        """The estimate is a window of days, not one date."""
        return bool(self.estimated_from and self.estimated_from != self.estimated_to)


@dataclass
class OrderDetail(KeyLookups):
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
    #: The time zone the customer chose, when asked for ("" if none).
    time_zone: str = ""


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
    if kind == EventKind.TRACKING_UPDATED:
        data = event.data or {}
        tracking = str(data.get("tracking_status") or "")
        return TimelineEntry(
            kind=kind,
            at=event.created_at,
            title=_("Parcel: %(status)s")
            % {"status": status_words(tracking, data.get("tracking_substatus"))},
            message=event.message,
            problem=tracking in PROBLEM_STATUSES,
        )
    if kind == EventKind.ESTIMATE_CHANGED:
        data = event.data or {}
        return TimelineEntry(
            kind=kind,
            at=event.created_at,
            title=_("New estimated delivery: %(estimate)s")
            % {"estimate": estimate_words(data.get("earliest"), data.get("latest"))},
            message=event.message,
            problem=bool(data.get("later")),
        )
    if kind == EventKind.SHIPMENT_UPDATED:
        return TimelineEntry(
            kind=kind,
            at=event.created_at,
            title=_("Parcel details updated"),
            message=event.message,
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
    """The orders ``user`` may see, newest first, with the relations the pages
    show joined but not their state rows, which :func:`summaries` reads beside
    its other reads (cheaper than a join in the shop's query, which Django
    compiles on every request).

    ``status_filter`` is "" (all), "open" or "completed" (:data:`ORDER_FILTERS`).
    """
    adapter = get_adapter()
    orders = adapter.get_page_queryset(adapter.get_orders_for_user(user))
    joined = orders.query.select_related
    if isinstance(joined, dict) and STATE in joined:
        others = [
            path
            for path in _related_paths(joined)
            if path != STATE and not path.startswith(STATE + "__")
        ]
        orders = orders.select_related(None).select_related(*others)
    completed = completed_codes()
    if status_filter == "completed":
        orders = orders.filter(order_updates_state__status__in=completed)
    elif status_filter == "open":
        orders = orders.exclude(order_updates_state__status__in=completed)
    return adapter.newest_first(orders)


#: The order's state row, as a relation of the shop's order model.
STATE = "order_updates_state"


def _related_paths(tree: dict[str, Any], prefix: str = "") -> list[str]:
    """The paths of a queryset's ``select_related`` tree ("a__b")."""
    paths = []
    for name, below in tree.items():
        paths += _related_paths(below, prefix + name + "__") if below else []
        paths.append(prefix + name)
    return paths


def orders_page(orders: QuerySet, number: Any, per_page: int) -> Page:
    """Page ``number`` of ``orders`` and how many there are in all, in one query
    (the count is a window over the rows, ``COUNT(*) OVER ()``), where
    :class:`~django.core.paginator.Paginator` would count them in a query first.

    Raises :class:`~django.core.paginator.PageNotAnInteger` or
    :class:`~django.core.paginator.EmptyPage` as ``Paginator.page()`` does.
    """
    paginator = Paginator(orders, per_page)
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise PageNotAnInteger(paginator.error_messages["invalid_page"]) from None
    if number < 1:
        raise EmptyPage(paginator.error_messages["min_page"])
    bottom = (number - 1) * per_page
    rows = list(
        orders.annotate(order_updates_count=Window(Count("*")))[
            bottom : bottom + per_page
        ]
    )
    if not rows and number > 1:
        raise EmptyPage(paginator.error_messages["no_results"])
    paginator.count = rows[0].order_updates_count if rows else 0
    return Page(rows, number, paginator)


def _latest_events_of(order_pks: list[Any]) -> QuerySet:
    # What timeline_entry() and reached_status() read, not the staff's fields.
    public = (
        OrderEvent.objects.public()
        .filter(order_id__in=order_pks)
        .only(*_LATEST_EVENT_FIELDS)
    )
    if connections[router.db_for_read(OrderEvent)].features.can_distinct_on_fields:
        # PostgreSQL: one pass over the orders' events, the newest of each kept
        # (DISTINCT ON), instead of a subquery run once per event.
        return public.order_by("order_id", "-sequence").distinct("order_id")
    latest_sequence = (
        OrderEvent.objects.public()
        .filter(order=OuterRef("order"))
        .order_by("-sequence")
        .values("sequence")[:1]
    )
    return OrderEvent.objects.filter(
        order_id__in=order_pks, sequence=Subquery(latest_sequence)
    ).only(*_LATEST_EVENT_FIELDS)


_LATEST_EVENT_FIELDS = (
    "order_id",
    "sequence",
    "kind",
    "from_status",
    "to_status",
    "message",
    "data",
    "created_at",
)


#: The latest customer-visible event of each order.
_latest_events = FixedRead(OrderEvent, _latest_events_of)


def _states_of(order_pks: list[Any]) -> QuerySet:
    # The parcels still on their way with an estimated delivery: when they
    # should arrive, the earliest first day and the latest last day.
    on_their_way = (
        Shipment.objects.filter(
            order_id=OuterRef("order_id"), estimated_delivery_to__isnull=False
        )
        .exclude(tracking_status__in=list(FINAL_STATUSES))
        .order_by()
        .values("order_id")
    )
    return OrderState.objects.filter(order_id__in=order_pks).annotate(
        order_updates_estimated_from=Subquery(
            on_their_way.annotate(day=Min("estimated_delivery_from")).values("day")
        ),
        order_updates_estimated_to=Subquery(
            on_their_way.annotate(day=Max("estimated_delivery_to")).values("day")
        ),
    )


#: The orders' state rows (their status), each with its parcels' estimate.
_states = FixedRead(OrderState, _states_of)

#: The logged-in customer's saved preference, for its time zone.
_customer_preference = FixedRead(
    NotificationPreference,
    lambda user_pk: NotificationPreference.objects.filter(user_id=user_pk).only(
        "pk", "timezone"
    )[:1],
)


def _time_zone(preferences: list[Any]) -> str:
    return (preferences[0].timezone or "") if preferences else ""


def summaries(
    orders: Iterable[Model], *, customer_pk: Any = None
) -> tuple[list[OrderSummary], str]:
    """One :class:`OrderSummary` per order, and the time zone the customer
    ``customer_pk`` chose ("" if none, or not asked for). Two reads (the
    orders' state rows with their parcels' estimated delivery, their latest
    customer-visible events) and the customer's preference: one round trip
    where the database allows.
    """
    adapter = get_adapter()
    orders = list(orders)
    pks = [order.pk for order in orders]
    reads: list[tuple[FixedRead, tuple[Any, ...]]] = []
    if pks:
        reads += [(_states, (pks,)), (_latest_events, (pks,))]
    if customer_pk is not None:
        reads.append((_customer_preference, (customer_pk,)))
    found = run_fixed_reads(reads)
    state_rows, latest_rows = found[:2] if pks else ([], [])
    time_zone = _time_zone(found[-1]) if customer_pk is not None else ""
    # Each order gets its state row (or none) as if joined: the pages, and
    # templates that read order.order_updates_state, make no query for it.
    states = {state.order_id: state for state in state_rows}
    state_relation = OrderState._meta.get_field("order").remote_field
    for order in orders:
        state_relation.set_cached_value(order, states.get(order.pk))
    latest = {event.order_id: event for event in latest_rows}
    # Orders in the same status (and, off the path, that came as far) share one
    # (immutable) Progress.
    statuses = get_pipeline().statuses
    progress: dict[tuple[str | None, str | None], Progress | None] = {}
    heading = gettext("Order %(number)s")  # translated once, not per order
    result = []
    for order in orders:
        event = latest.get(order.pk)
        code = _status_code(order)
        # Off the path (cancelled, on hold…): how far it came, as the order page
        # shows it; the change that left the path is usually its latest update.
        off_path = code in statuses and statuses[code].stage is None
        reached = reached_status([event]) if off_path and event is not None else None
        key = (code, reached)
        if key not in progress and code is not None:
            progress[key] = get_progress(code, reached=reached)
        state = states.get(order.pk)
        number = adapter.get_number(order)
        result.append(
            OrderSummary(
                order=order,
                number=number,
                heading=heading % {"number": number},
                created=adapter.field(order, "created"),
                total=adapter.field(order, "total"),
                currency=adapter.field(order, "currency") or "",
                progress=progress.get(key),
                latest=timeline_entry(event) if event is not None else None,
                estimated_from=getattr(state, "order_updates_estimated_from", None),
                estimated_to=getattr(state, "order_updates_estimated_to", None),
            )
        )
    return result, time_zone


# One order ---------------------------------------------------------------------------


def order_detail(
    order: Model, *, items: bool = True, customer_pk: Any = None
) -> OrderDetail:
    """The order page's data: three reads (events, shipments with their
    tracking numbers, scans), and the preference of the customer
    ``customer_pk`` for its time zone, and for ``items`` the order's lines
    unless prefetched (:func:`order_page_queryset`), in one round trip where
    the database allows, when ``order`` was loaded with its state row joined.
    Without ``items`` (the public tracking page) neither the order's lines nor
    the parcels' items are shown.
    """
    adapter = get_adapter()
    reads: list[tuple[FixedRead | QuerysetRead, tuple[Any, ...]]] = [
        (_order_events, (order.pk,)),
        (_order_shipments, (order.pk,)),
        (_order_scans, (order.pk,)),
    ]
    if customer_pk is not None:
        reads.append((_customer_preference, (customer_pk,)))
    lines = _unread_lines(adapter, order) if items else None
    if lines is not None:
        reads.append((QuerysetRead(lines[0]), ()))
    found = run_fixed_reads(reads)
    if lines is not None:
        _keep_lines(order, lines, found.pop())
    event_rows, shipment_rows, scan_rows, *preference = found
    # All of the order's events, the customer's picked here by the same rule
    # as ``public()``: a query without its two exclusions is cheaper to build,
    # and an order's staff-only events are few.
    events = [event for event in event_rows if event.is_public]
    shipments = _shipment_infos(
        shipment_rows,
        scan_rows,
        adapter.get_line_names(order) if items else None,
    )
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
        if event.kind == EventKind.TRACKING_UPDATED:
            # The carrier's newest word decides: a problem, or the parcel moved on.
            entry = timeline_entry(event)
            attention = entry if entry.problem else None
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
        time_zone=_time_zone(preference[0]) if preference else "",
        **(_figures(adapter, order) if items else {}),
    )


def order_page_queryset(orders: QuerySet) -> QuerySet:
    """``orders`` as the order page loads one: with its lines prefetched, unless
    :func:`order_detail` reads them itself, with its other reads (in the same
    round trip on PostgreSQL): when the adapter's ``items`` is a plain
    one-to-many relation, with no further relations to prefetch from the lines,
    and ``with_items()`` is the default adapter's.
    """
    adapter = get_adapter()
    return orders if _lines_path(adapter) else adapter.with_items(orders)


def _lines_path(adapter: Any) -> str | None:
    """The ``items`` relation when order_detail() reads the lines itself (see
    :func:`order_page_queryset`), else None."""
    if type(adapter).with_items is not DefaultOrderAdapter.with_items:
        return None  # the shop's own prefetching: leave it to with_items()
    lookups = adapter.item_lookups()
    if len(lookups) != 1:
        return None
    field = adapter.get_order_model()._meta.get_field(lookups[0])
    return lookups[0] if field.one_to_many else None


def _unread_lines(adapter: Any, order: Model) -> tuple[QuerySet, str] | None:
    """The queryset of ``order``'s lines and the name prefetch_related() keeps
    them under, when order_detail() is to read them (not already prefetched)."""
    path = _lines_path(adapter)
    if path is None:
        return None
    manager = getattr(order, path)
    cache_name = manager.field.remote_field.cache_name
    if cache_name in getattr(order, "_prefetched_objects_cache", {}):
        return None
    return manager.all(), cache_name


def _keep_lines(order: Model, lines: tuple[QuerySet, str], rows: list[Model]) -> None:
    # As prefetch_related() leaves them: the related manager's queryset, done.
    queryset, cache_name = lines
    queryset._result_cache = rows
    queryset._prefetch_done = True  # type: ignore[attr-defined]
    if not hasattr(order, "_prefetched_objects_cache"):
        order._prefetched_objects_cache = {}  # type: ignore[attr-defined]
    order._prefetched_objects_cache[cache_name] = queryset  # type: ignore[attr-defined]


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
    """The order's parcels, oldest first, with their items, numbers and scans
    (two queries, one more for the order's lines unless prefetched).
    """
    return load_shipments(order, line_names=get_adapter().get_line_names(order))
