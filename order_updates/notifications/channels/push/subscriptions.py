"""Collecting the browsers' Web Push subscriptions that the push channel sends to.

A browser subscribes with ``PushManager.subscribe()`` and hands the page a
``PushSubscription``; its ``toJSON()`` (an endpoint URL and two keys) is what
:func:`parse_subscription` checks and :func:`save_subscription` stores for a
customer: a user account, or an email address for guests. The views in
:mod:`order_updates.notifications.channels.push.views` are the HTTP side; a
shop with its own API can call these functions directly.

Nothing here needs the ``push`` extra: the keys are checked in plain Python.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from order_updates.core.validation import clean_text
from order_updates.exceptions import InvalidPushSubscription
from order_updates.models import PushSubscription
from order_updates.notifications.channels import get_channels
from order_updates.notifications.channels.push.channel import (
    DEFAULT_HOSTS,
    WebPushChannel,
)

if TYPE_CHECKING:
    from order_updates.notifications.channels.push.channel import WebPushChannel

__all__ = [
    "MAX_SUBSCRIPTIONS_PER_CUSTOMER",
    "SubscriptionInfo",
    "allowed_hosts",
    "parse_subscription",
    "public_key",
    "remove_subscription",
    "save_subscription",
]

#: A customer keeps at most this many browsers; subscribing one more drops the
#: least recently used. It bounds how many requests one update fans out to.
MAX_SUBSCRIPTIONS_PER_CUSTOMER = 20

_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")

# NIST P-256 (RFC 5903 / SEC 2): y² = x³ - 3x + b over GF(p).
_P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
_P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B


@dataclass(frozen=True)
class SubscriptionInfo:
    """A checked subscription: the push service URL and the browser's keys.

    The keys are base64url without padding, as browsers give them.
    """

    endpoint: str
    p256dh: str
    auth: str


def public_key() -> str:
    """The VAPID application server key browsers subscribe with, or ``""``.

    The ``vapid_public_key`` option of the configured
    :class:`~order_updates.notifications.channels.push.WebPushChannel` (the first,
    if there are several); ``""`` if no push channel has one. Collecting
    subscriptions nothing would send to helps nobody.
    """
    for channel in _push_channels():
        if channel.vapid_public_key:
            return channel.vapid_public_key
    return ""


def allowed_hosts() -> tuple[str, ...]:
    """The push services' host names an endpoint may be on.

    The ``hosts`` options of the configured push channels; without one, the
    channel's default list of the browsers' push services.
    """

    channels = _push_channels()
    if not channels:
        return DEFAULT_HOSTS
    return tuple(dict.fromkeys(host for channel in channels for host in channel.hosts))


def _push_channels() -> list[WebPushChannel]:

    try:
        channels = get_channels()
    except ImproperlyConfigured:
        return []  # reported by the system checks, not here
    return [
        channel for channel in channels.values() if isinstance(channel, WebPushChannel)
    ]


def parse_subscription(data: Any) -> SubscriptionInfo:
    """Check a browser's ``PushSubscription.toJSON()``.

    Raises :class:`~order_updates.exceptions.InvalidPushSubscription` naming the
    field that is wrong.
    """
    if not isinstance(data, dict):
        raise InvalidPushSubscription(
            "", _("Send the subscription as a JSON object (PushSubscription.toJSON()).")
        )
    endpoint = _check_endpoint(data.get("endpoint"))
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise InvalidPushSubscription(
            "keys.p256dh", _("keys.p256dh is missing: send keys.p256dh and keys.auth.")
        )
    p256dh = _decode_key("keys.p256dh", keys.get("p256dh"))
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise InvalidPushSubscription(
            "keys.p256dh",
            _("keys.p256dh must be an uncompressed P-256 public key (65 bytes)."),
        )
    if not _on_p256(p256dh):
        raise InvalidPushSubscription(
            "keys.p256dh", _("keys.p256dh is not a point on the P-256 curve.")
        )
    auth = _decode_key("keys.auth", keys.get("auth"))
    if len(auth) != 16:
        raise InvalidPushSubscription(
            "keys.auth", _("keys.auth must be a 16-byte secret.")
        )
    return SubscriptionInfo(
        endpoint=endpoint, p256dh=_encode(p256dh), auth=_encode(auth)
    )


def _check_endpoint(value: Any) -> str:
    max_length = PushSubscription._meta.get_field("endpoint").max_length
    if not isinstance(value, str) or not value:
        raise InvalidPushSubscription("endpoint", _("endpoint is missing."))
    if max_length is not None and len(value) > max_length:
        raise InvalidPushSubscription(
            "endpoint",
            _("endpoint is too long (at most %(max)d characters).")
            % {"max": max_length},
        )
    # Push services hand out plain ASCII URLs; this also keeps out NUL
    # characters and lone surrogates, which the database cannot store.
    if not _printable_ascii(value):
        raise InvalidPushSubscription("endpoint", _("endpoint must be an https: URL."))
    try:
        URLValidator(schemes=["https"])(value)
    except ValidationError:
        raise InvalidPushSubscription(
            "endpoint", _("endpoint must be an https: URL.")
        ) from None
    host = (urlsplit(value).hostname or "").lower()
    # Workers POST to this URL, so only the browsers' push services are allowed:
    # anything else would let a visitor point the workers at the shop's own
    # network (addresses, "localhost", internal names that resolve privately).
    allowed = allowed_hosts()
    if _is_ip_address(host) or not any(
        host == suffix or host.endswith("." + suffix) for suffix in allowed
    ):
        raise InvalidPushSubscription(
            "endpoint", _("endpoint must be on a browser's push service.")
        )
    return value


def _printable_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _decode_key(field: str, value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise InvalidPushSubscription(
            field, _("%(field)s is missing.") % {"field": field}
        )
    if not _BASE64URL.match(value):
        raise InvalidPushSubscription(
            field, _("%(field)s must be base64url-encoded.") % {"field": field}
        )
    unpadded = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError):
        raise InvalidPushSubscription(
            field, _("%(field)s must be base64url-encoded.") % {"field": field}
        ) from None


def _on_p256(point: bytes) -> bool:
    x = int.from_bytes(point[1:33], "big")
    y = int.from_bytes(point[33:65], "big")
    if x >= _P256_P or y >= _P256_P:
        return False
    return (y * y - (x * x * x - 3 * x + _P256_B)) % _P256_P == 0


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _owner_filter(user: Any, email: str) -> Q:
    if user is not None:
        return Q(user=user)
    return Q(user__isnull=True, email=_normalize_email(user, email))


def _normalize_email(user: Any, email: str) -> str:
    email = (email or "").strip().lower()
    if user is None and not email:
        raise ValueError("A push subscription belongs to a user or an email address.")
    return email


def save_subscription(
    info: SubscriptionInfo,
    *,
    user: Any = None,
    email: str = "",
    user_agent: str = "",
) -> tuple[PushSubscription, bool]:
    """Store ``info`` for a user, or for a guest's email; return (row, created).

    An endpoint is one browser's subscription, so a known endpoint is updated and
    moves to this customer (the browser now belongs to whoever subscribed it
    last). Beyond :data:`MAX_SUBSCRIPTIONS_PER_CUSTOMER`, the customer's least
    recently used subscriptions are deleted.
    """
    email = "" if user is not None else _normalize_email(user, email)
    max_length = PushSubscription._meta.get_field("user_agent").max_length or 255
    with transaction.atomic():
        subscription, created = PushSubscription.objects.update_or_create(
            endpoint=info.endpoint,
            defaults={
                "user": user,
                "email": email,
                "p256dh": info.p256dh,
                "auth": info.auth,
                "user_agent": clean_text(user_agent, max_length),
            },
        )
        stale = (
            PushSubscription.objects.filter(_owner_filter(user, email))
            .exclude(pk=subscription.pk)
            .order_by(Coalesce("last_used_at", "created_at").desc(), "-pk")
            .values_list("pk", flat=True)[MAX_SUBSCRIPTIONS_PER_CUSTOMER - 1 :]
        )
        stale_ids = list(stale)
        if stale_ids:
            PushSubscription.objects.filter(pk__in=stale_ids).delete()
    return subscription, created


def remove_subscription(endpoint: str, *, user: Any = None, email: str = "") -> bool:
    """Delete the customer's subscription with this endpoint; False if none.

    Only the given customer's: an endpoint of someone else's stays. An endpoint
    that could never have been stored (NUL characters, not ASCII) is no one's.
    """
    if not isinstance(endpoint, str) or not _printable_ascii(endpoint):
        return False
    deleted, _rows = PushSubscription.objects.filter(
        _owner_filter(user, email), endpoint=endpoint
    ).delete()
    return bool(deleted)
