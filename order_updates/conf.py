"""Settings for order_updates, read from one ``ORDER_UPDATES`` dict.

Access them as attributes of :data:`app_settings`::

    from order_updates.conf import app_settings
    app_settings.TRACK_NEW_ORDERS

Values are resolved lazily and cached; the cache is dropped whenever Django's
``setting_changed`` signal reports a change (``override_settings`` in tests).
The order model is a top-level setting of its own, ``ORDER_UPDATES_ORDER_MODEL``,
because migrations must read it the way they read ``AUTH_USER_MODEL``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from order_updates.exceptions import OrderUpdatesConfigurationError

ORDER_MODEL_SETTING = "ORDER_UPDATES_ORDER_MODEL"

DEFAULTS: dict[str, Any] = {
    # Dotted path of the adapter class: the one place that knows the shop's order model.
    "ADAPTER": "order_updates.core.adapter.DefaultOrderAdapter",
    # None for the default pipeline; or a dict (see pipeline.Pipeline.from_config),
    # a Pipeline instance, or a dotted path to either.
    "PIPELINE": None,
    # Start tracking every order row the shop creates (post_save), so checkout code
    # need not call services.start_tracking() itself.
    "TRACK_NEW_ORDERS": False,
    # Where the default adapter finds things on the order; "__" follows relations.
    "ORDER_FIELDS": {},
    # Where the default adapter finds things on an order line.
    "ITEM_FIELDS": {},
    # Rows per statement in set-based bulk operations.
    "BULK_BATCH_SIZE": 1000,
    # The longest customer message or staff note (characters) a service accepts.
    "MAX_MESSAGE_LENGTH": 5000,
    # --- Notifications -------------------------------------------------------------
    # Channel name -> dotted path of its class (order_updates.notifications.channels).
    "CHANNELS": {"email": "order_updates.notifications.channels.email.EmailChannel"},
    # Per notification type overrides: {"order_processing": {"enabled": True}}.
    "NOTIFICATION_TYPES": {},
    # Timeline event -> notification type; "status:<code>" keys for status changes.
    # Merged over notification_types.DEFAULT_EVENT_NOTIFICATIONS; None unmaps one.
    "EVENT_NOTIFICATIONS": {},
    # Changes to one order within this many seconds send one message (0: off).
    "COALESCE_SECONDS": 30,
    # Local (customer) time window in which SMS and push wait; None turns it off.
    "QUIET_HOURS": ("21:00", "08:00"),
    "QUIET_HOURS_CHANNELS": ("sms", "push"),
    # Delivery attempts before a notification is marked failed.
    "MAX_ATTEMPTS": 6,
    # Retry n waits about RETRY_BACKOFF_SECONDS * 2**(n-1), with jitter, capped.
    "RETRY_BACKOFF_SECONDS": 30,
    "RETRY_BACKOFF_MAX_SECONDS": 3600,
    # A worker holds the rows it sends for this long, renewing the lease while it
    # works; a worker that stops renewing is presumed dead and its rows go back.
    "SENDING_LEASE_SECONDS": 60,
    # Seconds the caller's thread waits for the broker when publishing after a
    # commit; on a timeout the rows wait for the sweeper instead.
    "PUBLISH_TIMEOUT": 1.0,
    # Rows the sweeper queues per statement, and the seconds one sweep may run:
    # it pages through every due row until none is left or the budget is spent.
    "SWEEP_BATCH_SIZE": 500,
    "SWEEP_TIME_BUDGET": 45,
    # Absolute base URL for links in messages, e.g. "https://shop.example.com".
    "SITE_URL": None,
    "SHOP_NAME": "",
    "SHOP_LOGO_URL": "",
    # Email: from address (default DEFAULT_FROM_EMAIL), Reply-To list, and on
    # Django 6.1+ the MAILERS alias to send with (None: the default mailer).
    "EMAIL_FROM": None,
    "EMAIL_REPLY_TO": [],
    "EMAIL_MAILER": None,
    # SMS: the provider class and its sender (number or alphanumeric id).
    "SMS_PROVIDER": (
        "order_updates.notifications.channels.sms.console.ConsoleSMSProvider"
    ),
    "SMS_FROM": "",
    "TWILIO_ACCOUNT_SID": "",
    "TWILIO_AUTH_TOKEN": "",
    "TWILIO_MESSAGING_SERVICE_SID": "",
    # Web push (pip install "django-order-updates[push]").
    "WEBPUSH_VAPID_PUBLIC_KEY": "",
    "WEBPUSH_VAPID_PRIVATE_KEY": "",
    "WEBPUSH_VAPID_SUBJECT": "",
    "WEBPUSH_TTL": 86400,
    # Host names (and their subdomains) of the browsers' push services; a
    # subscription elsewhere is refused, since workers POST to it.
    "WEBPUSH_HOSTS": [
        "fcm.googleapis.com",  # Chrome, Edge, Opera, Samsung Internet
        "android.googleapis.com",
        "push.services.mozilla.com",  # Firefox
        "notify.windows.com",  # legacy Edge (WNS)
        "push.apple.com",  # Safari
    ],
    # Signed unsubscribe/preferences links stay valid this long (None: forever).
    "PREFERENCES_LINK_MAX_AGE": None,
}

# Settings whose string values are dotted paths to import.
IMPORT_STRINGS = ("ADAPTER", "PIPELINE", "SMS_PROVIDER")


class AppSettings:
    """Lazy view of ``settings.ORDER_UPDATES`` merged over :data:`DEFAULTS`."""

    def __init__(self, defaults: dict[str, Any], import_strings: tuple[str, ...]):
        self.defaults = defaults
        self.import_strings = import_strings
        self._cached: set[str] = set()

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, "ORDER_UPDATES", None) or {}
        if not isinstance(value, dict):
            raise OrderUpdatesConfigurationError(
                "settings.ORDER_UPDATES must be a dict, not %s." % type(value).__name__
            )
        return value

    def __getattr__(self, name: str) -> Any:
        if name not in self.defaults:
            raise AttributeError("Invalid order_updates setting: %r" % name)
        value = self.user_settings.get(name, self.defaults[name])
        if name in self.import_strings and isinstance(value, str):
            try:
                value = import_string(value)
            except ImportError as exc:
                raise OrderUpdatesConfigurationError(
                    "Could not import %r for setting ORDER_UPDATES[%r]: %s"
                    % (value, name, exc)
                ) from exc
        self._cached.add(name)
        setattr(self, name, value)
        return value

    def reload(self) -> None:
        """Forget cached values, so the next access reads settings again."""
        for name in self._cached:
            self.__dict__.pop(name, None)
        self._cached.clear()


app_settings = AppSettings(DEFAULTS, IMPORT_STRINGS)


def get_order_model_label() -> str:
    """Return ``settings.ORDER_UPDATES_ORDER_MODEL``, or raise naming the setting."""
    label = getattr(settings, ORDER_MODEL_SETTING, None)
    if not label:
        raise OrderUpdatesConfigurationError(
            "order_updates needs to know your order model: set %s = "
            '"app_label.ModelName" in your settings (for example "shop.Order").'
            % ORDER_MODEL_SETTING
        )
    return label


def get_order_model():
    """Return the shop's order model class named by ``ORDER_UPDATES_ORDER_MODEL``."""
    label = get_order_model_label()
    try:
        return apps.get_model(label, require_ready=False)
    except ValueError as exc:
        raise OrderUpdatesConfigurationError(
            '%s must be of the form "app_label.ModelName", not %r.'
            % (ORDER_MODEL_SETTING, label)
        ) from exc
    except LookupError as exc:
        raise OrderUpdatesConfigurationError(
            "%s refers to model %r, which is not installed."
            % (ORDER_MODEL_SETTING, label)
        ) from exc


#: Callables run when order_updates' settings change: each module that caches an
#: object built from settings appends its cache's ``cache_clear`` here.
RELOAD_HOOKS: list[Callable[[], None]] = []


def _reload_settings(*, setting: str, **kwargs: Any) -> None:
    if setting in ("ORDER_UPDATES", ORDER_MODEL_SETTING):
        app_settings.reload()
        # Objects built from settings (pipeline, adapter, channels…) drop too.
        for hook in RELOAD_HOOKS:
            hook()


setting_changed.connect(_reload_settings)
