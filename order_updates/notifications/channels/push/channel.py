"""Web Push to the customer's subscribed browsers, signed with the shop's VAPID key.

Needs the ``push`` extra: ``pip install "django-order-updates[push]"``
(pywebpush). A recipient is the id of a
:class:`~order_updates.models.PushSubscription`; one the push service reports as
gone (404/410) is deleted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

import requests
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from order_updates.exceptions import (
    ChannelError,
    InvalidOption,
    OrderUpdatesConfigurationError,
    PermanentChannelError,
    RecipientGone,
    TransientChannelError,
)
from order_updates.models import PushSubscription
from order_updates.notifications.channels.base import (
    BaseChannel,
    OutgoingMessage,
    SendResult,
)

if TYPE_CHECKING:
    from django.db.models import Model

    from order_updates.core.adapter import DefaultOrderAdapter
    from order_updates.models import NotificationPreference

MISSING_EXTRA = (
    'Web push needs pywebpush: pip install "django-order-updates[push]" (%s).'
)


def _import_pywebpush() -> Any:
    try:
        import pywebpush
    except ImportError as exc:
        raise OrderUpdatesConfigurationError(MISSING_EXTRA % exc) from exc
    return pywebpush


def load_vapid_key(value: str, option: str = "vapid_private_key") -> Any:
    """A ``py_vapid.Vapid`` from a PEM string, a key file, or a base64url key.

    ``option`` names the key in the error raised for a value that is none of them.
    """
    _import_pywebpush()
    from py_vapid import Vapid

    try:
        if "-----BEGIN" in value:
            return Vapid.from_pem(value.strip().encode())
        if os.path.isfile(value):
            return Vapid.from_file(value)
        return Vapid.from_string(value.strip())
    except Exception as exc:
        raise OrderUpdatesConfigurationError(
            "%s is not a usable VAPID private key (PEM, a key file, or base64url): %s"
            % (option, exc)
        ) from exc


def vapid_public_key(vapid: Any) -> str:
    """The base64url application server key browsers subscribe with."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


#: Host names (and their subdomains) of the browsers' push services.
DEFAULT_HOSTS = (
    "fcm.googleapis.com",  # Chrome, Edge, Opera, Samsung Internet
    "android.googleapis.com",
    "push.services.mozilla.com",  # Firefox
    "notify.windows.com",  # legacy Edge (WNS)
    "push.apple.com",  # Safari
)


class WebPushChannel(BaseChannel):
    """Web Push notifications (title, body, link) to subscribed browsers.

    Options: ``vapid_private_key`` (PEM text, a PEM file's path, or base64url),
    ``vapid_public_key`` (the application server key browsers subscribe with),
    ``vapid_subject`` (``mailto:`` or ``https:``), ``ttl`` (seconds a push service
    keeps an undelivered message), ``hosts`` (the push services' host names a
    subscription's endpoint may be on) and ``quiet_hours``.
    """

    parts = ("subject", "text")
    short_text = True
    label = _("browser notification")
    quiet_hours = True
    template_folder = "push"
    #: Push services accept about 4 KB of encrypted payload; stay well below.
    max_payload_bytes = 3000
    #: Seconds to wait for the push service.
    timeout = 10

    def __init__(
        self,
        name: str,
        *,
        vapid_private_key: str = "",
        vapid_public_key: str = "",
        vapid_subject: str = "",
        ttl: int = 86400,
        hosts: list[str] | tuple[str, ...] = DEFAULT_HOSTS,
        quiet_hours: bool | None = None,
    ):
        super().__init__(name, quiet_hours=quiet_hours)
        for option, value in (
            ("vapid_private_key", vapid_private_key),
            ("vapid_public_key", vapid_public_key),
            ("vapid_subject", vapid_subject),
        ):
            if not isinstance(value, str):
                raise InvalidOption(option, "must be a string, not %r." % (value,))
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0:
            raise InvalidOption("ttl", "must be a number of seconds, not %r." % (ttl,))
        if (
            isinstance(hosts, str)
            or not isinstance(hosts, (list, tuple))
            or not all(isinstance(host, str) and host.strip(".") for host in hosts)
        ):
            raise InvalidOption(
                "hosts", "must be a list of host names, like ['fcm.googleapis.com']."
            )
        self.vapid_private_key = vapid_private_key
        self.vapid_public_key = vapid_public_key.strip().rstrip("=")
        self.vapid_subject = vapid_subject
        self.ttl = ttl
        #: Lower-case, without leading dots: a name matches itself and subdomains.
        self.hosts = tuple(host.lower().strip().lstrip(".") for host in hosts)

    def recipients(
        self,
        order: Model,
        adapter: DefaultOrderAdapter,
        preference: NotificationPreference,
    ) -> list[str]:
        """Ids of the push subscriptions of the order's customer."""
        batch = self.recipients_for_orders([order], adapter, {order.pk: preference})
        return batch[order.pk]

    def recipients_for_orders(
        self,
        orders: list[Model],
        adapter: DefaultOrderAdapter,
        preferences: dict[Any, NotificationPreference],
    ) -> dict[Any, list[str]]:
        """Subscription ids per order, for the whole batch in one query."""
        from django.db.models import Q

        owners: dict[Any, tuple[str, Any] | None] = {}
        for order in orders:
            user = adapter.get_user(order)
            if user is not None:
                owners[order.pk] = ("user", user.pk)
            else:
                # Guests' subscriptions are stored under the lower-cased email.
                email = (adapter.get_email(order) or "").strip().lower()
                owners[order.pk] = ("email", email) if email else None
        keys = [owner for owner in owners.values() if owner]
        user_ids = {key for kind, key in keys if kind == "user"}
        emails = {key for kind, key in keys if kind == "email"}
        found: dict[tuple[str, Any], list[str]] = {}
        rows = (
            PushSubscription.objects.filter(
                Q(user_id__in=user_ids) | Q(user__isnull=True, email__in=emails)
            )
            .order_by("pk")
            .values_list("pk", "user_id", "email")
        )
        for pk, user_id, email in rows:
            key = ("user", user_id) if user_id else ("email", email)
            found.setdefault(key, []).append(str(pk))
        return {
            pk: found.get(owner, []) if owner else [] for pk, owner in owners.items()
        }

    def staff_recipients(self, user: Any) -> list[str]:
        """Ids of the browsers the staff member subscribed with their account."""
        if getattr(user, "pk", None) is None:
            return []
        return [
            str(pk)
            for pk in PushSubscription.objects.filter(user_id=user.pk)
            .order_by("pk")
            .values_list("pk", flat=True)
        ]

    def payload(self, message: OutgoingMessage) -> str:
        """The JSON the service worker receives: title, body, url, tag."""
        order = message.metadata.get("order_updates_order", "")
        data = {
            "title": message.subject,
            "body": message.text,
            "url": message.url,
            # One notification per order on the device: a newer one replaces it.
            "tag": "order-%s" % order if order else message.type,
        }
        encoded = json.dumps(data, ensure_ascii=False)
        while len(encoded.encode()) > self.max_payload_bytes and data["body"]:
            data["body"] = data["body"][: len(data["body"]) // 2].rstrip() + "…"
            if len(data["body"]) <= 1:
                data["body"] = ""
            encoded = json.dumps(data, ensure_ascii=False)
        return encoded

    def topic(self, message: OutgoingMessage) -> str:
        """RFC 8030 ``Topic``: an undelivered message about the order is replaced.

        So a retry after a lost answer, or a newer update for a browser that was
        offline, never shows twice. At most 32 URL-safe base64 characters.
        """
        key = message.metadata.get("order_updates_order") or str(
            message.notification_id
        )
        digest = hashlib.sha256(("order_updates:%s" % key).encode()).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()

    def send(self, message: OutgoingMessage) -> SendResult:
        """Encrypt and post the payload to the subscription's push service."""

        pywebpush = _import_pywebpush()
        from py_vapid import VapidException

        vapid = load_vapid_key(
            self._required("vapid_private_key"),
            self.option_name("vapid_private_key"),
        )
        subject = self._required("vapid_subject")
        try:
            subscription = PushSubscription.objects.get(pk=int(message.recipient))
        except (PushSubscription.DoesNotExist, ValueError):
            raise RecipientGone(
                "Push subscription %s no longer exists." % message.recipient
            ) from None
        try:
            response = pywebpush.webpush(
                subscription.as_webpush_info(),
                data=self.payload(message),
                vapid_private_key=vapid,
                # A fresh dict each time: webpush() writes "aud" and "exp" into it.
                vapid_claims={"sub": subject},
                ttl=self.ttl,
                timeout=self.timeout,
                headers={"Topic": self.topic(message), "Urgency": "normal"},
            )
        except pywebpush.WebPushException as exc:
            raise classify_error(exc) from exc
        except VapidException as exc:
            if "'sub'" in str(exc):
                raise OrderUpdatesConfigurationError(
                    '%s must be a "mailto:" address or an "https:" URL (it is %r).'
                    % (self.option_name("vapid_subject"), subject)
                ) from exc
            raise PermanentChannelError(
                "Cannot sign for this subscription: %s" % exc
            ) from exc
        except requests.RequestException as exc:
            raise TransientChannelError(
                "Could not reach the push service: %s" % exc
            ) from exc
        except ValueError as exc:
            # Undecodable p256dh/auth keys: this subscription can never work.
            raise PermanentChannelError(
                "Push subscription %s has invalid keys: %s" % (subscription.pk, exc)
            ) from exc
        PushSubscription.objects.filter(pk=subscription.pk).update(
            last_used_at=timezone.now()
        )
        return SendResult(
            provider="webpush", message_id=response.headers.get("Location", "")
        )

    def forget_recipient(self, recipient: str) -> None:
        """Delete a subscription the push service says is gone."""

        try:
            pk = int(recipient)
        except ValueError:
            return
        PushSubscription.objects.filter(pk=pk).delete()

    def check(self) -> list[str]:
        """Missing extra, missing or mismatched VAPID options."""
        try:
            _import_pywebpush()
        except OrderUpdatesConfigurationError as exc:
            return [str(exc)]
        problems = []
        private_key = self.vapid_private_key
        public_key = self.vapid_public_key
        subject = self.vapid_subject
        for option in ("vapid_private_key", "vapid_public_key"):
            if not getattr(self, option):
                problems.append(
                    "Web push needs %s (generate a key pair with `vapid --gen "
                    "--applicationServerKey`, from py-vapid)."
                    % self.option_name(option)
                )
        if not subject:
            problems.append(
                'Web push needs %s, a "mailto:" or "https:" contact for push '
                "services." % self.option_name("vapid_subject")
            )
        elif not subject.startswith(("mailto:", "https:")):
            problems.append(
                '%s must start with "mailto:" or "https:" (it is %r).'
                % (self.option_name("vapid_subject"), subject)
            )
        if private_key:
            try:
                vapid = load_vapid_key(
                    private_key, self.option_name("vapid_private_key")
                )
            except OrderUpdatesConfigurationError as exc:
                problems.append(str(exc))
            else:
                if public_key and public_key != vapid_public_key(vapid):
                    problems.append(
                        "%s is not the public half of the private key: browsers "
                        "would subscribe with a key the push services then reject."
                        % self.option_name("vapid_public_key")
                    )
        return problems

    def _required(self, option: str) -> str:
        value = getattr(self, option)
        if not value:
            raise OrderUpdatesConfigurationError(
                "Web push needs %s." % self.option_name(option)
            )
        return value


def classify_error(exc: Exception) -> ChannelError:
    """The channel error for a ``pywebpush.WebPushException``."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    text = getattr(exc, "message", None) or str(exc)
    if status in (404, 410):
        return RecipientGone(
            "The push service says the subscription is gone (%s)." % status,
            provider_response=response,
        )
    if status is not None and (status in (408, 429) or status >= 500):
        return TransientChannelError(text, provider_response=response)
    if status in (401, 403):
        text = (
            "%s (the push service rejected the VAPID signature: was the browser "
            "subscribed with another vapid_public_key?)" % text
        )
    return PermanentChannelError(text, provider_response=response)
