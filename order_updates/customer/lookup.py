"""Finding an order from what a guest knows, without telling strangers anything.

The lookup form asks for the order number and the order's email address (or its
delivery postcode, when the adapter ``has_postcode()``). :func:`find_order`
gives the same answer, after the same work, whether the order does not exist or
the second field does not match; and :class:`LookupRateLimit` caps attempts per
client address and per order number in Django's cache, so numbers cannot be
tried out in bulk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.cache import caches
from django.utils.crypto import constant_time_compare

from order_updates.conf import app_settings
from order_updates.core.adapter import get_adapter

if TYPE_CHECKING:
    from django.db.models import Model
    from django.http import HttpRequest

#: Compared against when no order has the number, so both paths do the same work.
_NO_ORDER = "\x00no order\x00"


def normalize_email(value: str) -> str:
    return (value or "").strip().casefold()


def normalize_postcode(value: str) -> str:
    """ "sw1y 4jh", "SW1Y4JH " → "SW1Y4JH": spaces and case do not matter."""
    return "".join((value or "").split()).casefold()


def find_order(number: str, secret: str) -> Model | None:
    """The tracked order with ``number`` (any case) whose email address or
    delivery postcode (when the adapter ``has_postcode()``) is ``secret`` (any
    case), else None.
    """
    adapter = get_adapter()
    with_postcode = adapter.has_postcode()
    order = adapter.find_order(number)
    # An untracked order has no tracking page: as good as none.
    found = (
        order is not None and getattr(order, "order_updates_state", None) is not None
    )
    email = postcode = _NO_ORDER
    if order is not None and found:
        email = normalize_email(adapter.get_email(order)) or _NO_ORDER
        if with_postcode:
            postcode = normalize_postcode(adapter.get_postcode(order)) or _NO_ORDER
    # Both comparisons always run, in constant time: no early answer.
    email_matches = constant_time_compare(email, normalize_email(secret))
    postcode_matches = constant_time_compare(postcode, normalize_postcode(secret))
    if found and (email_matches or postcode_matches):
        return order
    return None


@dataclass(frozen=True)
class LimitResult:
    """Whether an attempt may go ahead, and when the client may try again."""

    allowed: bool
    retry_after: int


class LookupRateLimit:
    """Attempts per client address and per order number, counted in the cache
    ``LOOKUP_CACHE`` over fixed windows of ``LOOKUP_WINDOW_SECONDS``.

    The client's address is ``REMOTE_ADDR``: behind a proxy, a middleware must
    set it from the forwarded header (docs/customer_pages.rst).
    """

    key_prefix = "order_updates:lookup"

    def __init__(self) -> None:
        self.cache = caches[app_settings.LOOKUP_CACHE]
        self.window = int(app_settings.LOOKUP_WINDOW_SECONDS)

    def client_address(self, request: HttpRequest) -> str:
        """The address attempts are counted against."""
        return request.META.get("REMOTE_ADDR") or "unknown"

    def _key(self, kind: str, value: str) -> str:
        digest = hashlib.sha256(value.encode()).hexdigest()[:32]
        return "%s:%s:%s" % (self.key_prefix, kind, digest)

    def _count(self, key: str) -> int:
        self.cache.add(key, 0, timeout=self.window)
        try:
            return self.cache.incr(key)
        except ValueError:  # expired between add() and incr()
            self.cache.add(key, 1, timeout=self.window)
            return 1

    def hit(self, request: HttpRequest, number: str) -> LimitResult:
        """Count one attempt; refused when either count is over its limit."""
        counts: list[tuple[int, Any]] = [
            (
                self._count(self._key("ip", self.client_address(request))),
                app_settings.LOOKUP_MAX_ATTEMPTS_PER_IP,
            ),
            (
                self._count(self._key("order", normalize_postcode(number))),
                app_settings.LOOKUP_MAX_ATTEMPTS_PER_ORDER,
            ),
        ]
        allowed = all(count <= limit for count, limit in counts)
        return LimitResult(allowed=allowed, retry_after=0 if allowed else self.window)
