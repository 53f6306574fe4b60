"""Absolute links in messages, and the signed tokens in them.

A preference token names a customer (user id, or email for guests) and
optionally a channel; it is signed with Django's signing framework (salted, so
it is useless anywhere else) and expires after ``PREFERENCES_LINK_MAX_AGE``
seconds if that is set. Tracking tokens go into SMS too, so they are compact:
see :func:`make_tracking_token`.
"""

from __future__ import annotations

import binascii
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ObjectDoesNotExist
from django.core.signing import b62_decode, b62_encode, b64_decode, b64_encode
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

from order_updates.conf import app_settings
from order_updates.core.adapter import get_adapter
from order_updates.exceptions import OrderUpdatesConfigurationError

if TYPE_CHECKING:
    from order_updates.models import Notification

SALT = "order_updates.preferences"

#: Tokens are at most about 100 characters; anything much longer is refused unread.
MAX_TOKEN_LENGTH = 1000


@dataclass(frozen=True)
class PreferenceToken:
    """Whose preferences a link may change, and which channel it unsubscribes."""

    user_id: int | None = None
    email: str = ""
    channel: str = ""


def absolute_url(path: str) -> str:
    """``path`` on the shop's public site (``ORDER_UPDATES["SITE_URL"]``)."""
    site = app_settings.SITE_URL
    if not site:
        raise OrderUpdatesConfigurationError(
            "Links in notifications need ORDER_UPDATES['SITE_URL'], the shop's public "
            'address, e.g. "https://shop.example.com".'
        )
    return site.rstrip("/") + path


def make_token(
    *, user_id: int | None = None, email: str = "", channel: str = ""
) -> str:
    """A signed token for :class:`PreferenceToken`."""
    payload = {"u": user_id, "e": email.lower(), "c": channel}
    return signing.dumps(payload, salt=SALT, compress=True)


def read_token(token: str) -> PreferenceToken:
    """Check and decode a token; raise ``signing.BadSignature`` if invalid or old."""
    _check_length(token)
    payload = signing.loads(
        token, salt=SALT, max_age=app_settings.PREFERENCES_LINK_MAX_AGE
    )
    return PreferenceToken(
        user_id=payload.get("u"),
        email=payload.get("e") or "",
        channel=payload.get("c") or "",
    )


#: Push-subscription tokens are minted by the shop's own order page, where it
#: already decided the visitor may see the order; they say whose browser may
#: subscribe, so unlike preference links they are short-lived.
PUSH_SALT = "order_updates.push"
PUSH_TOKEN_MAX_AGE = 24 * 60 * 60


def make_push_token(*, user_id: int | None = None, email: str = "") -> str:
    """A token that lets this visitor subscribe a browser to ``email``'s updates.

    Preference and unsubscribe links are deliberately not accepted for this:
    they sit in every message, and a forwarded email must not let someone else
    receive the customer's updates.
    """
    payload = {"u": user_id, "e": email.strip().lower()}
    return signing.dumps(payload, salt=PUSH_SALT, compress=True)


def read_push_token(token: str) -> PreferenceToken:
    """Check and decode a push token; raise ``signing.BadSignature`` if bad or old."""
    _check_length(token)
    payload = signing.loads(token, salt=PUSH_SALT, max_age=PUSH_TOKEN_MAX_AGE)
    return PreferenceToken(user_id=payload.get("u"), email=payload.get("e") or "")


#: Tracking links open one order's public tracking page. They carry the order's
#: primary key and its ``tracking_link_version``; raising the version
#: (:func:`order_updates.services.revoke_tracking_links`) makes every link made
#: before useless.
TRACKING_SALT = "order_updates.tracking"


@dataclass(frozen=True)
class TrackingToken:
    """Which order a tracking link opens, and the link version it was made with."""

    order_pk: Any
    version: int


def make_tracking_token(order_pk: Any, version: int = 0) -> str:
    """A signed token for the tracking page of the order with this primary key:
    ``<order>.<version>.<time>.<signature>``, about 30 characters for a whole-number
    key, so that an SMS with its link fits one part (Django's ``signing.dumps``
    took 73).
    """
    value = "%s.%s.%s" % (_encode_pk(order_pk), b62_encode(version), _now_b62())
    return "%s.%s" % (value, _tracking_signature(value, settings.SECRET_KEY))


def read_tracking_token(token: str) -> TrackingToken:
    """Check and decode a tracking token; raise ``signing.BadSignature`` if it was
    tampered with or is older than ``TRACKING_LINK_MAX_AGE``.
    """
    _check_length(token)
    value, _, signature = token.rpartition(".")
    if not any(
        constant_time_compare(signature, _tracking_signature(value, key))
        for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    ):
        raise signing.BadSignature("Tracking token signature does not match.")
    try:
        pk, version, made = value.split(".")
        order_pk, version_number = _decode_pk(pk), b62_decode(version)
        age = time.time() - b62_decode(made)
    except (ValueError, IndexError, binascii.Error, UnicodeDecodeError):
        raise signing.BadSignature("Not a tracking token.") from None
    max_age = app_settings.TRACKING_LINK_MAX_AGE
    if max_age is not None and age > max_age:
        raise signing.SignatureExpired(
            "Tracking token age %d > %d seconds" % (age, max_age)
        )
    return TrackingToken(order_pk=order_pk, version=version_number)


def _tracking_signature(value: str, key: str | bytes) -> str:
    # HMAC-SHA256 cut to 96 bits, for short links: guessing one still takes
    # about 2**95 tries.
    digest = salted_hmac(TRACKING_SALT, value, key, algorithm="sha256").digest()
    return b64_encode(digest[:12]).decode()


def _now_b62() -> str:
    return b62_encode(int(time.time()))


def _encode_pk(pk: Any) -> str:
    """Whole numbers in base 62; UUIDs as their 16 bytes and any other key as its
    text, in URL-safe base 64 behind a marker character."""
    if isinstance(pk, int):
        return b62_encode(pk)
    if isinstance(pk, uuid.UUID):
        return "_" + b64_encode(pk.bytes).decode()
    return "~" + b64_encode(str(pk).encode()).decode()


def _decode_pk(text: str) -> Any:
    if text.startswith("_"):
        return uuid.UUID(bytes=b64_decode(text[1:].encode()))
    if text.startswith("~"):
        return b64_decode(text[1:].encode()).decode()
    return b62_decode(text)


def order_for_tracking_token(token: str) -> Any:
    """The order a tracking link opens, its state row joined; None when the link
    was tampered with, is older than ``TRACKING_LINK_MAX_AGE``, was revoked (made
    before the order's current ``tracking_link_version``), or its order is gone.
    The tracking page and the API's public tracking endpoint both ask this.
    """
    try:
        link = read_tracking_token(token)
        order = get_adapter().get_page_queryset().get(pk=link.order_pk)
    except (signing.BadSignature, ObjectDoesNotExist, ValueError, TypeError):
        return None
    state = getattr(order, "order_updates_state", None)
    if state is None or state.tracking_link_version != link.version:
        return None
    return order


def tracking_path(order_pk: Any, version: int = 0) -> str:
    """The path of the order's public tracking page (a fresh signed link)."""
    token = make_tracking_token(order_pk, version)
    return reverse("order_updates:tracking", args=[token])


def _check_length(token: object) -> None:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise signing.BadSignature(
            "Not a token: text of at most %d characters." % MAX_TOKEN_LENGTH
        )


def _token_for(notification: Notification, channel: str = "") -> str:
    # Kept on the row: its context and its email's List-Unsubscribe header both
    # need the same tokens, and signing is not free.
    tokens = notification.__dict__.setdefault("_order_updates_tokens", {})
    if channel not in tokens:
        order = notification.order
        adapter = get_adapter()
        user = adapter.get_user(order)
        # A customer with an account has the account's preferences; the address
        # the order's messages go to is carried too, for the pages to name.
        tokens[channel] = make_token(
            user_id=None if user is None else user.pk,
            email=adapter.get_email(order),
            channel=channel,
        )
    return tokens[channel]


def unsubscribe_url(notification: Notification) -> str:
    """One-click (RFC 8058) unsubscribe link from ``notification``'s channel."""
    token = _token_for(notification, channel=notification.channel)
    return absolute_url(reverse("order_updates:unsubscribe", args=[token]))


def preferences_url(notification: Notification) -> str:
    """Link to the page where the customer picks channels per category."""
    token = _token_for(notification)
    return absolute_url(reverse("order_updates:preferences", args=[token]))
