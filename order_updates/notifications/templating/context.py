"""The data notification templates receive, and sample data for previews.

Templates get plain data only (strings, numbers, booleans, nil, datetimes, lists
and dicts of those): never model instances, settings or anything with methods.
:data:`CONTEXT_KEYS` lists every key; docs/templates.rst describes them, and
validation refuses variables outside it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from order_updates.carriers.registry import carrier_name, tracking_link
from order_updates.conf import app_settings
from order_updates.core.adapter import DefaultOrderAdapter, get_adapter, plain
from order_updates.core.progress import UPCOMING, get_progress
from order_updates.exceptions import OrderUpdatesConfigurationError
from order_updates.models import (
    Notification,
    NotificationState,
    OrderEvent,
    OrderState,
    Shipment,
    TrackingStatus,
)
from order_updates.notifications import links as links_module
from order_updates.notifications.templating.sources import message_language
from order_updates.notifications.types import get_notification_types, type_for_event
from order_updates.pipeline import get_pipeline

if TYPE_CHECKING:
    from django.db.models import Model

    from order_updates.notifications.channels.base import BaseChannel


@dataclass(frozen=True)
class Key:
    """A root variable of the context: a mapping, or a list of mappings."""

    keys: frozenset[str]
    is_list: bool = False


SHIPMENT_KEYS = frozenset(
    {
        "carrier",
        "carrier_name",
        "tracking_number",
        "tracking_url",
        "shipped_at",
        "delivered_at",
        "tracking_status",
        "tracking_status_label",
        "estimated_delivery_from",
        "estimated_delivery_to",
        "items",
    }
)

#: Every variable templates receive: root → its keys (validation checks these).
CONTEXT_KEYS: dict[str, Key] = {
    "shop": Key(frozenset({"name", "logo_url", "url"})),
    "customer": Key(frozenset({"name", "email"})),
    "order": Key(
        frozenset(
            {
                "number",
                "status",
                "status_label",
                "status_description",
                "stage",
                "stage_label",
                "stages",
                "items",
                "subtotal",
                "shipping",
                "discount",
                "tax",
                "tax_included",
                "total",
                "currency",
                "shipping_address",
                "created",
            }
        )
    ),
    "event": Key(
        frozenset(
            {
                "kind",
                "message",
                "earlier_messages",
                "from_status",
                "from_status_label",
                "to_status",
                "to_status_label",
                "created_at",
            }
        )
    ),
    "shipments": Key(SHIPMENT_KEYS, is_list=True),
    "shipment": Key(SHIPMENT_KEYS),
    "notification": Key(
        frozenset({"type", "type_label", "category", "channel", "language"})
    ),
    "links": Key(
        frozenset(
            {"order", "tracking", "track", "primary", "preferences", "unsubscribe"}
        )
    ),
}

#: The order's figures besides its total (the adapter's ``get_summary``).
SUMMARY_KEYS = ("subtotal", "shipping", "discount", "tax")


def _text(value: Any) -> str:
    return "" if value is None else str.__str__(str(value))


# Pieces ------------------------------------------------------------------------------


def shop_context() -> dict[str, Any]:
    """``shop``: from ORDER_UPDATES' SHOP_NAME, SHOP_LOGO_URL and SITE_URL."""
    url = app_settings.SITE_URL or ""
    name = app_settings.SHOP_NAME or urlsplit(url).hostname or ""
    return {
        "name": _text(name),
        "logo_url": _text(app_settings.SHOP_LOGO_URL),
        "url": _text(url),
    }


def status_context(code: str) -> dict[str, Any]:
    """The ``order`` keys about its status and progress (in the active language)."""
    pipeline = get_pipeline()
    status = pipeline.statuses.get(code) if code else None
    progress = get_progress(code, pipeline=pipeline) if code else None
    stages = [
        {
            "code": stage.code,
            "label": _text(stage.label),
            "done": progress is not None and progress.steps[index].state != UPCOMING,
            "current": progress is not None and progress.steps[index].is_current,
        }
        for index, stage in enumerate(pipeline.stages)
    ]
    current = progress.current_step if progress is not None else None
    return {
        "status": code or "",
        "status_label": _text(status.label) if status else (code or ""),
        "status_description": _text(status.description) if status else "",
        "stage": (status.stage if status else None) or "",
        "stage_label": _text(current.label) if current is not None else "",
        "stages": stages,
    }


def _status_label(code: str) -> str:
    status = get_pipeline().statuses.get(code) if code else None
    return _text(status.label) if status else (code or "")


def event_context(
    event: OrderEvent | None,
    zone: datetime.tzinfo,
    replaced: Sequence[tuple[str, datetime.datetime]] = (),
) -> dict[str, Any]:
    """``event``: what happened (empty values when there is no event), and the
    ``replaced`` messages (text, time) of the messages this one superseded.
    """
    earlier = [
        {"message": _text(message), "created_at": plain(created_at, zone)}
        for message, created_at in replaced
    ]
    if event is None:
        return {
            "kind": "",
            "message": "",
            "earlier_messages": earlier,
            "from_status": "",
            "from_status_label": "",
            "to_status": "",
            "to_status_label": "",
            "created_at": None,
        }
    return {
        "kind": event.kind,
        "message": _text(event.message),
        "earlier_messages": earlier,
        "from_status": event.from_status,
        "from_status_label": _status_label(event.from_status),
        "to_status": event.to_status,
        "to_status_label": _status_label(event.to_status),
        "created_at": plain(event.created_at, zone),
    }


def shipment_items(
    shipment: Any, line_names: dict[str, str] | None
) -> list[dict[str, Any]]:
    """The order lines in ``shipment`` as ``[{name, quantity}]``, named by
    ``line_names`` (the adapter's ``get_line_names()``); empty when the parcel
    carries the whole order.
    """
    names = line_names or {}
    items = []
    for item in getattr(shipment, "items", None) or []:
        key = str(item.get("line"))
        items.append(
            {
                "name": _text(names.get(key) or key),
                "quantity": int(item.get("quantity") or 0),
            }
        )
    return items


def shipment_context(
    shipment: Any,
    zone: datetime.tzinfo,
    line_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One shipment as plain data; its ``items`` named by ``line_names``."""
    status = getattr(shipment, "tracking_status", "") or ""
    return {
        "carrier": _text(shipment.carrier),
        "carrier_name": carrier_name(
            shipment.carrier, getattr(shipment, "carrier_name", "")
        ),
        "tracking_number": _text(shipment.tracking_number),
        "tracking_url": _text(
            tracking_link(
                shipment.carrier, shipment.tracking_number, shipment.tracking_url
            )
        ),
        "shipped_at": plain(shipment.shipped_at, zone),
        "delivered_at": plain(getattr(shipment, "delivered_at", None), zone),
        "tracking_status": _text(status),
        "tracking_status_label": _text(TrackingStatus(status).label) if status else "",
        "estimated_delivery_from": getattr(shipment, "estimated_delivery_from", None),
        "estimated_delivery_to": getattr(shipment, "estimated_delivery_to", None),
        "items": shipment_items(shipment, line_names),
    }


def notification_context(type_code: str, channel: str, language: str) -> dict[str, Any]:
    """``notification``: which message this is."""
    notification_type = get_notification_types().get(type_code)
    return {
        "type": type_code,
        "type_label": _text(notification_type.label)
        if notification_type
        else type_code,
        "category": notification_type.category if notification_type else "",
        "channel": channel,
        "language": language,
    }


def primary_link(category: str, tracking: str, order_url: str, track: str = "") -> str:
    """Where a click, the email's button and an SMS lead.

    For shipping notifications the order's signed tracking page (``track``, which
    links on to the carrier) or else the carrier's own page; for the others the
    shop's order page, else the tracking page, else ''.
    """
    if category == "shipping" and (track or tracking):
        return track or tracking
    return order_url or track or ""


def track_link(order_pk: Any, link_version: int | None) -> str:
    """The absolute, signed link to the order's public tracking page ('' for an
    untracked order, which has no such page).
    """
    if link_version is None:
        return ""
    try:
        return links_module.absolute_url(
            links_module.tracking_path(order_pk, link_version)
        )
    except NoReverseMatch as exc:
        raise OrderUpdatesConfigurationError(
            "Notification links need order_updates' URLs: include "
            '"order_updates.urls" in your URLconf (%s).' % exc
        ) from exc


def order_url(order: Model, adapter: DefaultOrderAdapter) -> str:
    """The adapter's ``get_order_url(order)`` if it has one; a path made absolute."""
    method = getattr(adapter, "get_order_url", None)
    url = _text(method(order) if callable(method) else "")
    if url.startswith("/") and app_settings.SITE_URL:
        url = links_module.absolute_url(url)
    return url


def _preference_links(notification: Notification) -> dict[str, str]:
    try:
        return {
            "preferences": links_module.preferences_url(notification),
            "unsubscribe": links_module.unsubscribe_url(notification),
        }
    except NoReverseMatch as exc:
        raise OrderUpdatesConfigurationError(
            "Notification links need order_updates' URLs: include "
            '"order_updates.urls" in your URLconf (%s).' % exc
        ) from exc


# The context -------------------------------------------------------------------------


class ContextLoader:
    """Builds the template contexts of many orders' notifications with a constant
    number of queries: the orders' statuses and shipments are read once, up front.

    The orders themselves come from the caller (the delivery worker loads a
    batch's orders through the adapter's queryset, lines prefetched).
    """

    def __init__(self, orders: Iterable[Model]) -> None:
        pks = [order.pk for order in orders]
        self.statuses: dict[Any, str] = {}
        self.link_versions: dict[Any, int] = {}
        for pk, status, version in OrderState.objects.filter(
            order_id__in=pks
        ).values_list("order_id", "status", "tracking_link_version"):
            self.statuses[pk] = status
            self.link_versions[pk] = version
        self.shipments: dict[Any, list[Shipment]] = {pk: [] for pk in pks}
        for row in Shipment.objects.filter(order_id__in=pks).order_by(
            "created_at", "pk"
        ):
            self.shipments[row.order_id].append(row)
        self.adapter = get_adapter()
        # (type, channel, customer's language) → the language messages use.
        self.languages: dict[tuple[str, str, str], str] = {}

    def context(
        self,
        order: Model,
        *,
        type_code: str,
        channel: str,
        language: str,
        event: OrderEvent | None,
        zone: datetime.tzinfo,
        preference_links: dict[str, str],
        replaced: Sequence[tuple[str, datetime.datetime]] = (),
    ) -> dict[str, Any]:
        """The full template context for ``order``, in ``language`` and ``zone``;
        ``replaced``: the messages (text, time) this one carries for the older
        messages it superseded (:func:`replaced_messages`).
        """
        adapter = self.adapter
        with translation.override(language), timezone.override(zone):
            data = adapter.get_notification_context(order)
            shipment_rows = self.shipments.get(order.pk, [])
            # Parcels' items name the order's lines (prefetched: no query).
            line_names = (
                adapter.get_line_names(order)
                if any(row.items for row in shipment_rows)
                else None
            )
            shipments = [
                shipment_context(row, zone, line_names) for row in shipment_rows
            ]
            # The shipment an event is about (shipment_added…), else the latest.
            shipment = shipments[-1] if shipments else None
            about = (event.data or {}).get("shipment") if event is not None else None
            for row, item in zip(shipment_rows, shipments, strict=True):
                if row.pk == about:
                    shipment = item
            notification = notification_context(type_code, channel, language)
            tracking = shipment["tracking_url"] if shipment else ""
            order_link = order_url(order, adapter)
            track = track_link(order.pk, self.link_versions.get(order.pk))
            return {
                "shop": shop_context(),
                "customer": {
                    "name": _text(data.get("customer_name")),
                    "email": _text(data.get("email")),
                },
                "order": {
                    "number": _text(data.get("number")),
                    **status_context(self.statuses.get(order.pk) or ""),
                    "items": plain(data.get("items") or [], zone),
                    **{key: plain(data.get(key), zone) for key in SUMMARY_KEYS},
                    "tax_included": data.get("tax_included", True) is not False,
                    "total": plain(data.get("total"), zone),
                    "currency": _text(data.get("currency")),
                    "shipping_address": _text(data.get("shipping_address")),
                    "created": plain(data.get("created"), zone),
                },
                "event": event_context(event, zone, replaced),
                "shipments": shipments,
                "shipment": shipment,
                "notification": notification,
                "links": {
                    "order": order_link,
                    "tracking": tracking,
                    "track": track,
                    "primary": primary_link(
                        notification["category"], tracking, order_link, track
                    ),
                    "preferences": preference_links.get("preferences", ""),
                    "unsubscribe": preference_links.get("unsubscribe", ""),
                },
            }

    def for_notification(
        self,
        notification: Notification,
        order: Model,
        zone: datetime.tzinfo,
        channel: BaseChannel | None = None,
        replaced: Sequence[tuple[str, datetime.datetime]] = (),
    ) -> dict[str, Any]:
        """The context of an outbox row, in the given zone and the language the
        message is written in, one of the shop's ``LANGUAGES``: the customer's if
        the row's type has templates in it for ``channel`` (the row's channel
        object; its name when not given), else the shop's, else English
        (:func:`.sources.message_language`). Its links carry that language's
        ``i18n_patterns`` prefix. ``replaced``: the row's :func:`replaced_messages`.

        Raises :class:`~order_updates.exceptions.OrderUpdatesConfigurationError`
        when links cannot be built (no ``SITE_URL``, order_updates' URLs not
        included).
        """
        requested = notification.language or self.adapter.get_language(order)
        key = (notification.type, notification.channel, requested)
        if key not in self.languages:
            self.languages[key] = message_language(
                notification.type,
                channel if channel is not None else notification.channel,
                requested,
            )
        language = self.languages[key]
        with translation.override(language):
            links = _preference_links(notification)
        return self.context(
            order,
            type_code=notification.type,
            channel=notification.channel,
            language=language,
            event=notification.event,
            zone=zone,
            preference_links=links,
            replaced=replaced,
        )


def build_context(
    notification: Notification,
    order: Model,
    zone: datetime.tzinfo | None = None,
    channel: BaseChannel | None = None,
) -> dict[str, Any]:
    """The context for ``notification``: in its language, dates in ``zone``.

    ``zone`` defaults to the shop's ``TIME_ZONE``; the delivery worker passes the
    customer's (:func:`~order_updates.notifications.preferences.customer_zone`).
    """
    zone = zone or timezone.get_default_timezone()
    replaced = replaced_messages([notification]).get(notification.pk, [])
    return ContextLoader([order]).for_notification(
        notification, order, zone, channel, replaced
    )


def replaced_messages(
    notifications: Sequence[Notification],
    superseded: Mapping[int, int] | None = None,
) -> dict[int, list[tuple[str, datetime.datetime]]]:
    """For each of ``notifications``, the messages the shop wrote to the customer
    (text, time; oldest first) with the older messages it superseded before they
    went out, directly or through messages it superseded in turn (see
    ``COALESCE_SECONDS``): it carries them, so that none is lost. One query.

    ``superseded``: those of ``notifications`` (their events loaded) that a
    newer one supersedes but that are not marked so yet (pk → the newer pk).
    """
    superseded = superseded or {}
    ours = {
        row.pk
        for row in notifications
        if row.pk is not None and row.pk not in superseded
    }
    if not ours:
        return {}
    replaced = Notification.objects.filter(
        order_id__in={row.order_id for row in notifications},
        channel__in={row.channel for row in notifications},
        state=NotificationState.SKIPPED,
        superseded_by__isnull=False,
        pk__lt=max(row.pk for row in notifications if row.pk is not None),
    ).values_list(
        "pk", "superseded_by", "event__message", "event__created_at", "event__sequence"
    )
    by_pk = {
        pk: (winner, message, created_at, sequence)
        for pk, winner, message, created_at, sequence in replaced
    }
    for row in notifications:
        if row.pk in superseded:
            event = row.event
            by_pk[row.pk] = (
                superseded[row.pk],
                event.message,
                event.created_at,
                event.sequence,
            )
    found: dict[int, list[tuple[int, str, datetime.datetime]]] = {}
    for pk, (winner, message, created_at, sequence) in by_pk.items():
        if not message:
            continue
        seen = {pk}
        # Follow the chain to the message that went (or goes) out instead.
        while winner in by_pk and winner not in ours and winner not in seen:
            seen.add(winner)
            winner = by_pk[winner][0]
        if winner in ours:
            found.setdefault(winner, []).append((sequence, message, created_at))
    return {
        pk: [(message, created_at) for _seq, message, created_at in sorted(items)]
        for pk, items in found.items()
    }


def preview_context(
    order: Model,
    type_code: str,
    channel: str,
    language: str,
    zone: datetime.tzinfo | None = None,
) -> dict[str, Any]:
    """The context a real order would give, for a preview: the order's latest
    customer-visible event of those that send ``type_code`` (its message, its
    shipment), or none (a "shipped" preview must not show a later delay's
    message).

    The preference and unsubscribe links are the sample data's
    (:func:`sample_preference_links`), which change nobody's preferences; the
    tracking link is the order's own (it only shows the order).
    """
    zone = zone or timezone.get_default_timezone()
    events = OrderEvent.objects.filter(order_id=order.pk).order_by("-sequence")
    # Switched on here: a merchant previews a type before turning it on.
    switched_on = {type_code: True}
    event = next(
        (
            item
            for item in events[:200]
            if item.is_public
            and getattr(type_for_event(item, switched_on), "code", None) == type_code
        ),
        None,
    )
    return ContextLoader([order]).context(
        order,
        type_code=type_code,
        channel=channel,
        language=language,
        event=event,
        zone=zone,
        # Never the customer's own links: a preview is shown to staff and a test
        # send mails it to them, and a click on "Unsubscribe" there must not
        # change the customer's preferences.
        preference_links=sample_preference_links(),
    )


# Sample data -------------------------------------------------------------------------

#: The status an order is typically in when each notification type is sent.
SAMPLE_STATUSES = {
    "order_received": "placed",
    "order_confirmed": "confirmed",
    "order_processing": "processing",
    "shipped": "shipped",
    "shipping_update": "shipped",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "delayed": "shipped",
    "delivery_exception": "shipped",
    "on_hold": "on_hold",
    "cancelled": "cancelled",
    "refunded": "refunded",
    "returned": "returned",
    "note_added": "processing",
}

#: The event kind that typically triggers each type (status changes otherwise).
SAMPLE_EVENT_KINDS = {
    "order_received": "tracking_started",
    "shipping_update": "shipment_added",
    "delayed": "delivery_delayed",
    "delivery_exception": "delivery_exception",
    "note_added": "note",
}

SAMPLE_MESSAGES = {
    "note_added": "Good news: your engraving is done and looks great. We'll ship "
    "your order tomorrow.",
    "delayed": "The carrier reports a delay in the regional sorting center.",
    "delivery_exception": "The carrier could not deliver your parcel because no "
    "one was home. They will try again on the next working day.",
}


def sample_status(type_code: str) -> str:
    """The order status the sample data of ``type_code`` shows by default."""
    pipeline = get_pipeline()
    status = SAMPLE_STATUSES.get(type_code, pipeline.initial)
    return status if status in pipeline.statuses else pipeline.initial


def sample_context(
    type_code: str, channel: str, status: str | None = None
) -> dict[str, Any]:
    """Realistic made-up data for ``type_code``, for previews and validation.

    ``status`` is the order's status (default: the one the type is typically
    sent in); ``"partially_shipped"`` gives a parcel that carries part of the
    order. Labels come out in the active language.
    """
    pipeline = get_pipeline()
    if status not in pipeline.statuses:
        status = sample_status(type_code)
    now = timezone.localtime()
    created = now - datetime.timedelta(days=3)
    site = (app_settings.SITE_URL or "https://shop.example.com").rstrip("/")
    shop = shop_context()
    shop["name"] = shop["name"] or "Example Shop"
    shop["url"] = shop["url"] or site
    notification = notification_context(
        type_code, channel, translation.get_language() or settings.LANGUAGE_CODE
    )
    shipments: list[dict[str, Any]] = []
    if notification["category"] == "shipping" or status in ("delivered", "returned"):
        shipments.append(
            {
                "carrier": "ups",
                "carrier_name": "UPS",
                "tracking_number": "1Z999AA10123456784",
                "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
                "shipped_at": now - datetime.timedelta(days=1),
                "delivered_at": now if status == "delivered" else None,
                "tracking_status": "delivered"
                if status == "delivered"
                else "in_transit",
                "tracking_status_label": _text(
                    TrackingStatus.DELIVERED.label
                    if status == "delivered"
                    else TrackingStatus.IN_TRANSIT.label
                ),
                "estimated_delivery_from": (now + datetime.timedelta(days=1)).date(),
                "estimated_delivery_to": (now + datetime.timedelta(days=2)).date(),
                # A partial parcel: the tea, one of the two mugs.
                "items": [
                    {"name": "Loose-leaf green tea", "quantity": 1},
                    {"name": "Ceramic mug", "quantity": 1},
                ]
                if status == "partially_shipped"
                else [],
            }
        )
    shipment = shipments[-1] if shipments else None
    kind = SAMPLE_EVENT_KINDS.get(type_code, "status_changed")
    from_status = "" if kind != "status_changed" else "processing"
    event = {
        "kind": kind,
        "message": SAMPLE_MESSAGES.get(type_code, ""),
        "earlier_messages": [],
        "from_status": from_status,
        "from_status_label": _status_label(from_status),
        "to_status": status if kind == "status_changed" else "",
        "to_status_label": _status_label(status) if kind == "status_changed" else "",
        "created_at": now,
    }
    # Links as long as the real ones, where the shop mounted the pages (an SMS
    # preview counts its parts with them), and the order's own page only when
    # the adapter has one.
    order_link = ""
    if type(get_adapter()).get_order_url is not DefaultOrderAdapter.get_order_url:
        order_link = "%s/orders/1001/" % site
    tracking = shipment["tracking_url"] if shipment else ""
    track = site + _sample_path("tracking", _sample_token())
    return {
        "shop": shop,
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "order": {
            "number": "1001",
            **status_context(status),
            "items": [
                {
                    "name": "Ceramic mug",
                    "quantity": 2,
                    "unit_price": "12.00",
                    "line_total": "24.00",
                    "price": "12.00",
                    "sku": "MUG-1",
                },
                {
                    "name": "Loose-leaf green tea",
                    "quantity": 1,
                    "unit_price": "8.50",
                    "line_total": "8.50",
                    "price": "8.50",
                    "sku": "TEA-7",
                },
            ],
            "subtotal": "32.50",
            "shipping": "4.90",
            "discount": "5.00",
            "tax": "5.40",
            "tax_included": True,
            "total": "32.40",
            "currency": "EUR",
            "shipping_address": "Ada Lovelace\n12 St James's Square\nLondon SW1Y 4JH",
            "created": created,
        },
        "event": event,
        "shipments": shipments,
        "shipment": shipment,
        "notification": notification,
        "links": {
            "order": order_link,
            "tracking": tracking,
            "track": track,
            "primary": primary_link(
                notification["category"], tracking, order_link, track
            ),
            **sample_preference_links(),
        },
    }


def sample_preference_links() -> dict[str, str]:
    """``links.preferences`` and ``links.unsubscribe`` that name no one, for
    previews and test sends: their token, "sample…", is refused by the pages, so
    a click changes nobody's preferences.
    """
    site = (app_settings.SITE_URL or "https://shop.example.com").rstrip("/")
    token = _sample_token()
    return {
        "preferences": site + _sample_path("preferences", token),
        "unsubscribe": site + _sample_path("unsubscribe", token),
    }


def _sample_token() -> str:
    # "sample", as long as a real signed token (which changes every second), so
    # that an SMS preview counts real lengths.
    return "sample".ljust(len(links_module.make_tracking_token(1001)), "0")


def _sample_path(name: str, token: str) -> str:
    """The path of page ``order_updates:<name>`` for ``token`` (under
    /order-updates/ if the shop has not included order_updates' URLs)."""
    try:
        return reverse("order_updates:%s" % name, args=[token])
    except NoReverseMatch:
        page = "track" if name == "tracking" else name
        return "/order-updates/%s/%s/" % (page, token)
