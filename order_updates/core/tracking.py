"""What carriers report: scan events, the shipment's normalized status, its
estimated delivery, and the order's status following its shipments.

The public functions are re-exported by :mod:`order_updates.services`.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from order_updates import signals
from order_updates.core import validation
from order_updates.core.adapter import get_adapter
from order_updates.core.events import (
    Actor,
    actor_fields,
    build_event,
    in_transaction,
    lock_state,
    send_after_commit,
    start_event,
    write_events,
)
from order_updates.core.status import move
from order_updates.exceptions import InvalidInput
from order_updates.models import (
    DeliveryEstimate,
    EstimateSource,
    EventKind,
    OrderEvent,
    OrderState,
    Shipment,
    TrackingEvent,
    TrackingStatus,
    TrackingSubstatus,
)
from order_updates.models.tracking_status import FINAL_STATUSES, PROBLEM_STATUSES
from order_updates.pipeline import get_pipeline

logger = logging.getLogger(__name__)

#: Tracking statuses that mean the parcel has left (the shipment is shipped).
MOVING_STATUSES = frozenset(TrackingStatus) - {
    TrackingStatus.PENDING,
    TrackingStatus.INFO_RECEIVED,
}

#: The order statuses that follow shipments, from least to most advanced.
FOLLOWING_STATUSES = ("partially_shipped", "shipped", "out_for_delivery", "delivered")


@dataclass(frozen=True)
class Scan:
    """One carrier scan, as a webhook provider (or staff) reports it.

    ``event_id`` is the provider's id of the scan if it has one; without it the
    scan's content identifies it, so a replayed scan is stored once.
    """

    occurred_at: datetime.datetime
    status: str
    substatus: str = ""
    location: str = ""
    raw_status: str = ""
    message: str = ""
    event_id: str = ""

    def dedupe_key(self) -> str:
        """The provider's id, else a hash of what the scan says."""
        if self.event_id:
            return ("id:" + self.event_id)[:100]
        content = json.dumps(
            [
                self.occurred_at.isoformat(),
                self.status,
                self.substatus,
                self.location,
                self.raw_status,
                self.message,
            ]
        )
        return "sha256:" + hashlib.sha256(content.encode()).hexdigest()


@dataclass(frozen=True)
class Estimate:
    """An estimated delivery: a date, or a window from ``earliest`` to ``latest``."""

    earliest: datetime.date
    latest: datetime.date


@dataclass
class TrackingResult:
    """What :func:`record_tracking_events` did."""

    shipment: Shipment
    #: The scans stored (replays and duplicates left out).
    added: list[TrackingEvent] = field(default_factory=list)
    #: The timeline events written (tracking update, estimate, status change).
    events: list[OrderEvent] = field(default_factory=list)

    @property
    def status_changed(self) -> bool:
        """Whether the shipment's normalized status changed."""
        return any(e.kind == EventKind.TRACKING_UPDATED for e in self.events)


# Finding shipments --------------------------------------------------------------------


def find_shipments(number: str, carrier: str = "") -> list[Shipment]:
    """The shipments with tracking number ``number`` (as their first number or a
    further one), newest first; those of ``carrier`` first when it is given
    (carriers recycle numbers, so a number can match several).
    """
    number = (number or "").strip()
    if not number or "\x00" in number:  # no column holds a NUL character
        return []
    found = list(
        Shipment.objects.filter(
            Q(tracking_number=number) | Q(more_tracking_numbers__number=number)
        )
        .distinct()
        .order_by("-created_at", "-pk")
    )
    if carrier:
        found.sort(key=lambda shipment: shipment.carrier != carrier)
    return found


# Recording scans ----------------------------------------------------------------------


def record_tracking_events(
    shipment: Shipment,
    scans: Sequence[Scan],
    *,
    source: str = "",
    estimate: Estimate | None = None,
    actor: Actor = None,
    notify: bool = True,
) -> TrackingResult:
    """Store carrier scans for ``shipment`` and move everything they imply.

    Scans already stored (same provider id, or same content) are skipped, so
    replays are harmless. The newest scan by time decides the shipment's
    normalized status, so scans arriving out of order are harmless too. When
    that status changes, one "tracking updated" event goes on the timeline
    (notifying the customer at most once per change, never once per scan), the
    shipment's shipped and delivered times are filled in, and the order's
    status follows its shipments (:func:`follow_shipments`). ``estimate``, the
    carrier's estimated delivery, is recorded as a revision when it differs.
    """
    if not isinstance(shipment, Shipment) or shipment.pk is None:
        raise InvalidInput("shipment", gettext("Expected a saved Shipment."))
    scans = [_checked_scan(scan, index) for index, scan in enumerate(scans)]
    actor, notify = validation.arguments(actor=actor, notify=notify)
    actor = actor or ("carrier:%s" % (shipment.carrier or source or "unknown"))[:150]
    source = validation.text(source, "source", max_length=50)
    order = shipment.order
    now = timezone.now()
    shipment_pk = shipment.pk

    def write() -> TrackingResult:
        state = lock_state(order, at=now)
        shipment = Shipment.objects.select_for_update().get(pk=shipment_pk)
        result = TrackingResult(shipment)
        keys = {scan.dedupe_key(): scan for scan in scans}
        known = set(
            TrackingEvent.objects.filter(
                shipment=shipment, dedupe_key__in=list(keys)
            ).values_list("dedupe_key", flat=True)
        )
        result.added = [
            TrackingEvent(
                shipment=shipment,
                occurred_at=scan.occurred_at,
                status=scan.status,
                substatus=scan.substatus,
                location=scan.location[:200],
                raw_status=scan.raw_status[:100],
                message=scan.message,
                source=source,
                dedupe_key=key,
                created_at=now,
            )
            for key, scan in keys.items()
            if key not in known
        ]
        TrackingEvent.objects.bulk_create(result.added)
        events: list[OrderEvent] = []
        started = start_event(order, state, actor=actor, at=now)
        if started:
            events.append(started)
        old_status = shipment.tracking_status
        changed = _apply_newest_scan(shipment, now) if result.added else False
        tracking_event = None
        if changed:
            tracking_event = build_event(
                state,
                kind=EventKind.TRACKING_UPDATED,
                actor=actor_fields(actor),
                at=now,
                # A new reason for the same status is recorded, not announced.
                notify=notify and shipment.tracking_status != old_status,
                data=_tracking_data(shipment, old_status),
            )
            events.append(tracking_event)
        if estimate is not None:
            revised = revise_estimate(
                state,
                shipment,
                estimate,
                EstimateSource.CARRIER,
                actor=actor,
                at=now,
                notify=notify,
            )
            if revised is not None:
                events.append(revised)
        if changed:
            moves = follow_shipments(
                order, state, actor=actor, at=now, notify=notify, shipment=shipment
            )
            # One message per change: a problem is told as a problem, anything
            # else by the order's status change.
            if shipment.tracking_status in PROBLEM_STATUSES:
                for moved in moves:
                    moved.notify = False
            elif any(moved.notify for moved in moves) and tracking_event is not None:
                tracking_event.notify = False
            events.extend(moves)
        if result.added or any(e.kind == EventKind.ESTIMATE_CHANGED for e in events):
            shipment.save()
        if events:
            write_events([(order, events)])
            state.save(update_fields=["status", "last_sequence", "status_changed_at"])
        result.events = [e for e in events if e is not started]
        if tracking_event is not None:
            send_after_commit(
                signals.tracking_updated,
                order,
                shipment=shipment,
                event=tracking_event,
                old_status=old_status,
                new_status=shipment.tracking_status,
                scans=result.added,
            )
        return result

    return in_transaction(write)


def _checked_scan(scan: Any, index: int) -> Scan:
    path = "scans[%d]" % index
    if not isinstance(scan, Scan):
        raise InvalidInput(path, gettext("%s must be a Scan.") % path)
    if scan.status not in TrackingStatus.values:
        raise InvalidInput(
            path,
            gettext("%(path)s: unknown tracking status %(status)r (known: %(known)s).")
            % {
                "path": path,
                "status": scan.status,
                "known": ", ".join(TrackingStatus.values),
            },
        )
    if scan.substatus and scan.substatus not in TrackingSubstatus.values:
        raise InvalidInput(
            path,
            gettext("%(path)s: unknown sub-status %(value)r (known: %(known)s).")
            % {
                "path": path,
                "value": scan.substatus,
                "known": ", ".join(TrackingSubstatus.values),
            },
        )
    texts: dict[str, Any] = {}
    for name in ("location", "raw_status", "message", "event_id"):
        if not isinstance(getattr(scan, name), str):
            raise InvalidInput(
                path,
                gettext("%(path)s.%(name)s must be a str, not %(type)s.")
                % {
                    "path": path,
                    "name": name,
                    "type": validation.type_name(getattr(scan, name)),
                },
            )
        # NUL characters removed (no column holds them); a lone surrogate refused.
        texts[name] = validation.text(getattr(scan, name), "%s.%s" % (path, name))
    when = validation.moment(scan.occurred_at, path + ".occurred_at")
    if when is None:
        raise InvalidInput(path, gettext("%s: the scan has no time.") % path)
    return replace(scan, **texts)


def _apply_newest_scan(shipment: Shipment, now: datetime.datetime) -> bool:
    """Set the shipment's status from its newest scan; whether the status changed."""
    newest = (
        TrackingEvent.objects.filter(shipment=shipment)
        .order_by("-occurred_at", "-pk")
        .first()
    )
    if newest is None:
        return False
    shipment.last_scan_at = newest.occurred_at
    changed = (newest.status, newest.substatus) != (
        shipment.tracking_status,
        shipment.tracking_substatus,
    )
    if changed:
        shipment.tracking_status = newest.status
        shipment.tracking_substatus = newest.substatus
        shipment.status_changed_at = now
    if newest.status in MOVING_STATUSES and shipment.shipped_at is None:
        first = (
            TrackingEvent.objects.filter(
                shipment=shipment, status__in=list(MOVING_STATUSES)
            )
            .order_by("occurred_at")
            .values_list("occurred_at", flat=True)
            .first()
        )
        shipment.shipped_at = first
    if newest.status == TrackingStatus.DELIVERED:
        shipment.delivered_at = newest.occurred_at
    elif changed:
        shipment.delivered_at = None
    return changed


def _tracking_data(shipment: Shipment, old_status: str) -> dict[str, Any]:
    return {
        "shipment": shipment.pk,
        "tracking_status": shipment.tracking_status,
        "tracking_substatus": shipment.tracking_substatus,
        "previous_tracking_status": old_status,
        "tracking_number": shipment.tracking_number,
        "carrier": shipment.carrier,
    }


# The order follows its shipments ------------------------------------------------------


def shipments_status(
    shipments: Iterable[Shipment], lines: dict[str, int] | None = None
) -> str | None:
    """The order status its shipments imply, or None while none has left.

    All shipments delivered (and nothing left to ship) → ``delivered``; any out
    for delivery → ``out_for_delivery``; otherwise ``partially_shipped`` while
    order lines remain unshipped (per the shipments' ``items``), else ``shipped``.
    """
    shipments = list(shipments)
    left = [
        s
        for s in shipments
        if s.shipped_at is not None or s.tracking_status in MOVING_STATUSES
    ]
    if not left:
        return None
    remaining = _remaining(shipments, lines or {})
    if not remaining and all(
        s.tracking_status == TrackingStatus.DELIVERED for s in shipments
    ):
        return "delivered"
    if any(s.tracking_status == TrackingStatus.OUT_FOR_DELIVERY for s in left):
        return "out_for_delivery"
    return "partially_shipped" if remaining else "shipped"


def _remaining(shipments: list[Shipment], lines: dict[str, int]) -> dict[str, int]:
    """Line key → quantity not in any shipment yet ({} when all is shipped)."""
    if not lines or any(not s.items for s in shipments):
        return {}  # no lines known, or a shipment carries the whole order
    remaining = dict(lines)
    for shipment in shipments:
        for item in shipment.items:
            key = str(item.get("line"))
            remaining[key] = remaining.get(key, 0) - int(item.get("quantity") or 0)
    return {key: n for key, n in remaining.items() if n > 0}


def follow_shipments(
    order: models.Model,
    state: OrderState,
    *,
    actor: Actor,
    at: datetime.datetime,
    notify: bool = True,
    shipment: Shipment | None = None,
) -> list[OrderEvent]:
    """Move the locked ``state`` to what its shipments imply, as far as the
    pipeline allows; return the unsaved status changes (the caller writes them).

    Where the pipeline has no direct transition (processing → out for delivery)
    the order passes through the statuses between (shipped), silently; only the
    last change notifies. A shop whose pipeline has no ``partially_shipped``
    status goes to ``shipped``. A move the pipeline refuses (the order was
    cancelled, or staff moved it on by hand) is left alone. A move backwards (a
    failed delivery attempt takes an order from out for delivery back to
    shipped) does not notify: the tracking update that caused it does.
    """
    shipments = list(Shipment.objects.filter(order_id=order.pk))
    if shipment is not None:  # the caller's copy has the unsaved changes
        shipments = [shipment if s.pk == shipment.pk else s for s in shipments]
    target = shipments_status(shipments, get_adapter().get_line_quantities(order))
    pipeline = get_pipeline()
    if target == "partially_shipped" and target not in pipeline:
        target = "shipped"
    if target is None or target == state.status or target not in pipeline:
        return []
    path = _path(pipeline, state.status, target)
    if not path:
        logger.info(
            "Order %s stays %s: its shipments say %s, which the pipeline does not "
            "allow from there.",
            order.pk,
            state.status,
            target,
        )
        return []
    forward = _rank(target) > _rank(state.status)
    data = {"shipment": shipment.pk} if shipment is not None else None
    return [
        move(
            order,
            state,
            status,
            actor=actor,
            at=at,
            notify=notify and forward and status == target,
            data=data,
        )
        for status in path
    ]


def _path(pipeline: Any, current: str, target: str) -> list[str]:
    """The statuses from ``current`` to ``target`` (excluded, included), through
    shipment-following statuses only: ``[target]`` when the pipeline allows the
    move directly, ``[]`` when no way exists.
    """
    if pipeline.can_transition(current, target):
        return [target]
    for middle in FOLLOWING_STATUSES:
        if (
            middle not in (current, target)
            and middle in pipeline
            and pipeline.can_transition(current, middle)
            and pipeline.can_transition(middle, target)
        ):
            return [middle, target]
    return []


def _rank(status: str) -> int:
    try:
        return FOLLOWING_STATUSES.index(status)
    except ValueError:
        return -1


# Estimates ----------------------------------------------------------------------------


def set_estimated_delivery(
    shipment: Shipment,
    earliest: datetime.date,
    latest: datetime.date | None = None,
    *,
    source: str = EstimateSource.STAFF,
    actor: Actor = None,
    message: str = "",
    notify: bool = True,
) -> OrderEvent | None:
    """Set ``shipment``'s estimated delivery: the date ``earliest``, or the window
    ``earliest``–``latest``. Returns the timeline event, or None when the
    estimate is unchanged.

    Each change is kept as a :class:`~order_updates.models.DeliveryEstimate`
    revision. When it moves later than the previous one the customer is told
    (the "delayed" notification), unless ``notify=False``.
    """
    if not isinstance(shipment, Shipment) or shipment.pk is None:
        raise InvalidInput("shipment", gettext("Expected a saved Shipment."))
    estimate = checked_estimate(earliest, latest)
    source = validation.choice(source, "source", EstimateSource.values)
    actor, message, notify = validation.arguments(
        actor=actor, message=message, notify=notify
    )
    order = shipment.order
    now = timezone.now()
    shipment_pk = shipment.pk

    def write() -> OrderEvent | None:
        state = lock_state(order, at=now)
        shipment = Shipment.objects.select_for_update().get(pk=shipment_pk)
        started = start_event(order, state, actor=actor, at=now)
        event = revise_estimate(
            state,
            shipment,
            estimate,
            source,
            actor=actor,
            at=now,
            notify=notify,
            message=message,
        )
        if event is None:
            return None
        shipment.save(
            update_fields=["estimated_delivery_from", "estimated_delivery_to"]
        )
        write_events([(order, [started, event] if started else [event])])
        state.save(update_fields=["last_sequence"])
        return event

    return in_transaction(write)


def checked_estimate(earliest: Any, latest: Any = None) -> Estimate:
    """An :class:`Estimate` from dates; raises InvalidInput for anything else."""
    for name, value in (("earliest", earliest), ("latest", latest)):
        if value is not None and (
            not isinstance(value, datetime.date) or isinstance(value, datetime.datetime)
        ):
            raise InvalidInput(
                name,
                gettext("%(name)s must be a date, not %(type)s.")
                % {"name": name, "type": validation.type_name(value)},
            )
    if earliest is None:
        raise InvalidInput("earliest", gettext("An estimate needs a date."))
    latest = latest or earliest
    if latest < earliest:
        raise InvalidInput(
            "latest", gettext("The latest date is before the earliest date.")
        )
    return Estimate(earliest, latest)


def revise_estimate(
    state: OrderState,
    shipment: Shipment,
    estimate: Estimate,
    source: str,
    *,
    actor: Actor,
    at: datetime.datetime,
    notify: bool,
    message: str = "",
) -> OrderEvent | None:
    """Record a new estimate revision of the locked shipment (the caller saves the
    shipment and writes the event); None when nothing changed.
    """
    previous = (shipment.estimated_delivery_from, shipment.estimated_delivery_to)
    if previous == (estimate.earliest, estimate.latest):
        return None
    revision = DeliveryEstimate.objects.create(
        shipment=shipment,
        earliest=estimate.earliest,
        latest=estimate.latest,
        source=source,
        created_at=at,
    )
    shipment.estimated_delivery_from = estimate.earliest
    shipment.estimated_delivery_to = estimate.latest
    # Later news about a parcel already delivered is no delay.
    later = (
        previous[1] is not None
        and estimate.latest > previous[1]
        and shipment.tracking_status not in FINAL_STATUSES
    )
    return build_event(
        state,
        kind=EventKind.ESTIMATE_CHANGED,
        actor=actor_fields(actor),
        at=at,
        message=message,
        notify=notify and later,
        data={
            "shipment": shipment.pk,
            "estimate": revision.pk,
            "earliest": estimate.earliest,
            "latest": estimate.latest,
            "previous_latest": previous[1],
            "source": source,
            "later": later,
        },
    )


def is_final(shipment: Shipment) -> bool:
    """Whether the shipment's journey is over (delivered, or no longer tracked)."""
    return shipment.tracking_status in FINAL_STATUSES


def status_words(status: Any, substatus: Any = "") -> str:
    """A normalized tracking status in words: "Delivery problem (Address
    problem)"; an unknown code as it is, '' for none.
    """
    label = str(_STATUS_LABELS.get(status, status or ""))
    if substatus:
        return "%s (%s)" % (label, _SUBSTATUS_LABELS.get(substatus, substatus))
    return label


# Built once: ``.choices`` makes a list of every member on each call, and the
# labels are lazy, so the active language still decides the words.
_STATUS_LABELS = dict(TrackingStatus.choices)
_SUBSTATUS_LABELS = dict(TrackingSubstatus.choices)


def estimate_words(earliest: Any, latest: Any = None) -> str:
    """An estimated delivery in words, from dates or the ISO dates events
    store: "Dec. 2, 2026", or "between Dec. 2, 2026 and Dec. 4, 2026".
    """
    try:
        first = (
            earliest
            if isinstance(earliest, datetime.date)
            else datetime.date.fromisoformat(str(earliest))
        )
        last = latest or first
        if not isinstance(last, datetime.date):
            last = datetime.date.fromisoformat(str(last))
    except ValueError:
        return ""
    if first == last:
        return date_format(last, "DATE_FORMAT")
    return gettext("between %(start)s and %(end)s") % {
        "start": date_format(first, "DATE_FORMAT"),
        "end": date_format(last, "DATE_FORMAT"),
    }
