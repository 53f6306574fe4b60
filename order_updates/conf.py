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

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from order_updates.exceptions import InvalidOption, OrderUpdatesConfigurationError

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
    # True: the order's and lines' amounts are stored in the currency's minor
    # unit (cents: 2740 for 27.40); the default adapter converts them.
    "AMOUNTS_IN_MINOR_UNITS": False,
    # Where the default adapter finds a user's own phone number, a path from the
    # user ("phone", "profile__phone"; "__" follows relations). The template
    # editor sends SMS tests there. None: users have none.
    "USER_PHONE_FIELD": None,
    # Rows per statement in set-based bulk operations.
    "BULK_BATCH_SIZE": 1000,
    # The longest customer message or staff note (characters) a service accepts.
    "MAX_MESSAGE_LENGTH": 5000,
    # --- Notifications -------------------------------------------------------------
    # Channel name -> its class and options, in the shape of Django's STORAGES:
    # {"BACKEND": "dotted.path.Class", "OPTIONS": {...}} (or just the dotted path).
    # See order_updates.notifications.channels and each channel's options.
    "CHANNELS": {
        "email": {"BACKEND": "order_updates.notifications.channels.email.EmailChannel"}
    },
    # Per notification type overrides: {"order_processing": {"enabled": True}}.
    "NOTIFICATION_TYPES": {},
    # Timeline event -> notification type; "status:<code>" keys for status changes.
    # Merged over notification_types.DEFAULT_EVENT_NOTIFICATIONS; None unmaps one.
    "EVENT_NOTIFICATIONS": {},
    # Seconds a message waits, so that quick changes to one order send one message
    # (0: at once). A newer message replaces an unsent one whatever this says.
    "COALESCE_SECONDS": 30,
    # Local (customer) time window in which channels with quiet hours (SMS and
    # push by default) wait; None turns it off.
    "QUIET_HOURS": ("21:00", "08:00"),
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
    # Signed unsubscribe/preferences links stay valid this long (None: forever).
    "PREFERENCES_LINK_MAX_AGE": None,
    # CPU time one render of a notification template part may take; a template
    # that needs more fails (its notification is marked failed, not retried).
    "TEMPLATE_RENDER_BUDGET_MS": 300,
    # --- Customer pages (order_updates.customer) ---------------------------------
    # The template the pages' base (order_updates/base.html) extends: the shop's own
    # layout, which must have the blocks "title" and "content". Shops without one
    # use "order_updates/standalone.html".
    "BASE_TEMPLATE": "base.html",
    # Orders per page of "my orders".
    "MY_ORDERS_PAGE_SIZE": 10,
    # Signed tracking links in messages stay valid this long (seconds; None: forever).
    "TRACKING_LINK_MAX_AGE": 90 * 24 * 60 * 60,
    # The lookup form (order number + email or postcode): attempts allowed per
    # client IP address and per order number within LOOKUP_WINDOW_SECONDS, counted
    # in the cache named LOOKUP_CACHE (an alias of settings.CACHES).
    "LOOKUP_MAX_ATTEMPTS_PER_IP": 20,
    "LOOKUP_MAX_ATTEMPTS_PER_ORDER": 5,
    "LOOKUP_WINDOW_SECONDS": 15 * 60,
    "LOOKUP_CACHE": "default",
    # --- Operations --------------------------------------------------------------
    # Days after which order_updates_prune empties finished notifications' bodies,
    # and deletes finished notifications (None: keep them).
    "PRUNE_BODIES_AFTER_DAYS": 90,
    "PRUNE_ROWS_AFTER_DAYS": 365,
    # The health check fails when a due notification waited longer than this, or
    # the sweeper has not run for this long (seconds).
    "HEALTH_MAX_DUE_SECONDS": 600,
    "HEALTH_MAX_SWEEP_SECONDS": 300,
    # A secret that lets monitoring read the health view (Authorization: Bearer
    # <token>); without it, only staff users may.
    "HEALTH_TOKEN": None,
    # --- Status sync with the shop's own status field (docs/status-sync.rst) ------
    # The name of a field of the shop's order holding its own status (None: the
    # shop has none). order_updates writes it with each change it makes, and
    # records the changes the shop makes to it.
    "STATUS_FIELD": None,
    # The shop's values of STATUS_FIELD → pipeline codes, e.g. {"new": "placed",
    # "sent": "shipped"}. Empty: the shop's values are the pipeline's codes.
    "STATUS_MAP": {},
    # --- Carriers and tracking (order_updates.carriers) ---------------------------
    # Carrier code -> fields to add a carrier or override a built-in one (name,
    # tracking_url, patterns, transit_days, stuck_after_days); None removes one.
    "CARRIERS": {},
    # Transit days (a number or a (fastest, slowest) pair) for carriers and
    # services without their own transit_days; None: no default estimate.
    "DEFAULT_TRANSIT_DAYS": None,
    # Days without a carrier scan after which a shipment is reported stuck (staff
    # only), unless its carrier says otherwise.
    "STUCK_AFTER_DAYS": 5,
    # Status code -> days an order may stay in it, or {"days": n, "message": "..."}
    # (e.g. {"processing": 2}; none by default)
    # to also tell the customer; longer stays are reported once per stay.
    "STATUS_TIME_LIMITS": {},
    # Inbound tracking webhooks: provider -> {"SECRETS": [...]} (several for
    # rotation). A provider without an entry answers 404.
    "TRACKING_WEBHOOKS": {},
    # Largest webhook body accepted (bytes); a bigger one gets 413.
    "TRACKING_WEBHOOK_MAX_BYTES": 1_000_000,
    # Our own signed format: seconds a signature's timestamp may be off.
    "TRACKING_WEBHOOK_TOLERANCE_SECONDS": 300,
    # --- REST API and outbound webhooks (order_updates.api, order_updates.webhooks)
    # Requests per user (or per address, without a login) that the API's
    # customer and staff endpoints accept, in DRF's rate format; None: no limit.
    "API_THROTTLE_RATES": {"customer": "120/min", "staff": "600/min"},
    # Orders one bulk status change of the API accepts.
    "API_BULK_MAX_ORDERS": 5000,
    # Seconds a webhook endpoint has to answer.
    "WEBHOOK_TIMEOUT": 10,
    # Failed attempts in a row after which an endpoint is switched off (None: never).
    "WEBHOOK_DISABLE_AFTER_FAILURES": 20,
    # Let webhooks go to private, loopback and link-local addresses (tests,
    # intranets). Off, they go only to addresses on the internet.
    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": False,
}

# Settings whose string values are dotted paths to import.
IMPORT_STRINGS = ("ADAPTER", "PIPELINE")

#: Where settings that once were keys of ORDER_UPDATES went (for check E005's hint).
MOVED_SETTINGS = {
    "EMAIL_FROM": "the email channel's option 'from_email'",
    "EMAIL_REPLY_TO": "the email channel's option 'reply_to'",
    "EMAIL_MAILER": "the email channel's option 'mailer'",
    "SMS_PROVIDER": "the SMS channel's option 'provider'",
    "SMS_FROM": "the 'sender' option of the SMS channel's provider",
    "TWILIO_ACCOUNT_SID": "the Twilio provider's option 'account_sid'",
    "TWILIO_AUTH_TOKEN": "the Twilio provider's option 'auth_token'",
    "TWILIO_MESSAGING_SERVICE_SID": (
        "the Twilio provider's option 'messaging_service_sid'"
    ),
    "WEBPUSH_VAPID_PUBLIC_KEY": "the push channel's option 'vapid_public_key'",
    "WEBPUSH_VAPID_PRIVATE_KEY": "the push channel's option 'vapid_private_key'",
    "WEBPUSH_VAPID_SUBJECT": "the push channel's option 'vapid_subject'",
    "WEBPUSH_TTL": "the push channel's option 'ttl'",
    "WEBPUSH_HOSTS": "the push channel's option 'hosts'",
    "QUIET_HOURS_CHANNELS": "each channel's option 'quiet_hours'",
}


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
            value = perform_import(value, setting_name(name))
        self._cached.add(name)
        setattr(self, name, value)
        return value

    def reload(self) -> None:
        """Forget cached values, so the next access reads settings again."""
        for name in self._cached:
            self.__dict__.pop(name, None)
        self._cached.clear()


app_settings = AppSettings(DEFAULTS, IMPORT_STRINGS)


# Pluggable parts ------------------------------------------------------------------


def setting_name(*keys: Any) -> str:
    """How errors name a key: ``ORDER_UPDATES['CHANNELS']['sms']['OPTIONS']``."""
    return "ORDER_UPDATES" + "".join("[%r]" % (key,) for key in keys)


def perform_import(value: Any, name: str) -> Any:
    """Import the dotted paths in ``value``, the setting whose key is ``name``.

    Like the ``IMPORT_STRINGS`` of Django REST framework's settings: a string is
    imported; a list or tuple item by item; a dict in the shape of Django's
    ``STORAGES`` (``{"BACKEND": ..., "OPTIONS": {...}}``) has its ``BACKEND``
    imported, while its options are left to the part they configure. Anything
    else (a class, ``None``) comes back as it is. An import error names the exact
    key, e.g. ``ORDER_UPDATES['CHANNELS']['sms']['BACKEND']``.
    """
    if isinstance(value, str):
        try:
            return import_string(value)
        except ImportError as exc:
            raise OrderUpdatesConfigurationError(
                "%s: could not import %r: %s" % (name, value, exc)
            ) from exc
    if isinstance(value, (list, tuple)):
        return [
            perform_import(item, "%s[%d]" % (name, index))
            for index, item in enumerate(value)
        ]
    if isinstance(value, dict) and "BACKEND" in value:
        return {
            **value,
            "BACKEND": perform_import(value["BACKEND"], "%s['BACKEND']" % name),
        }
    return value


@dataclass(frozen=True)
class Component:
    """A pluggable class and the options it is built with, read from a setting."""

    backend: type
    #: Keyword arguments of ``backend``.
    options: dict[str, Any]
    #: The key it was read from, e.g. ``ORDER_UPDATES['CHANNELS']['sms']``.
    name: str

    def option_name(self, option: str) -> str:
        """The key of one option: ``ORDER_UPDATES[...]['OPTIONS']['sender']``."""
        return "%s['OPTIONS'][%r]" % (self.name, option)

    def build(self, *args: Any) -> Any:
        """``backend(*args, **options)``; a bad option value names its key."""
        try:
            return self.backend(*args, **self.options)
        except InvalidOption as exc:
            raise OrderUpdatesConfigurationError(
                "%s %s" % (self.option_name(exc.option), exc.problem)
            ) from exc


def load_component(
    value: Any, name: str, *, base: type | None = None, args: tuple = ()
) -> Component:
    """Read the setting of a pluggable part (a channel, an SMS provider).

    ``value`` is given the way Django's ``STORAGES`` gives a storage:
    ``{"BACKEND": "dotted.path.Class", "OPTIONS": {...}}``; a dotted path or a
    class alone means no options. The class must derive from ``base``, and take
    the options as keyword arguments after the positional ``args`` it will be
    built with. Nothing is built yet; every error names the key to fix.
    """
    shape = "{'BACKEND': 'dotted.path.Class', 'OPTIONS': {...}}"
    options: Any = {}
    backend_name = name
    if isinstance(value, dict):
        unknown = sorted(map(str, set(value) - {"BACKEND", "OPTIONS"}))
        if unknown:
            raise OrderUpdatesConfigurationError(
                "%s has unknown keys (%s): give %s." % (name, ", ".join(unknown), shape)
            )
        if "BACKEND" not in value:
            raise OrderUpdatesConfigurationError(
                "%s['BACKEND'] is missing: give %s." % (name, shape)
            )
        options = value.get("OPTIONS") or {}
        if not isinstance(options, dict) or not all(
            isinstance(k, str) for k in options
        ):
            raise OrderUpdatesConfigurationError(
                "%s['OPTIONS'] must be a dict of keyword arguments, not %r."
                % (name, options)
            )
        backend_name = "%s['BACKEND']" % name
        value = value["BACKEND"]
    elif not isinstance(value, (str, type)):
        raise OrderUpdatesConfigurationError(
            "%s must be a dotted path, a class, or %s; not %r." % (name, shape, value)
        )
    backend = perform_import(value, backend_name)
    if not isinstance(backend, type) or (base and not issubclass(backend, base)):
        expected = (
            "a subclass of %s.%s" % (base.__module__, base.__qualname__)
            if base
            else "a class"
        )
        raise OrderUpdatesConfigurationError(
            "%s must name %s; %r is not." % (backend_name, expected, backend)
        )
    component = Component(backend=backend, options=dict(options), name=name)
    _check_signature(component, args)
    return component


def _check_signature(component: Component, args: tuple) -> None:
    """Raise naming an option the class does not take, or needs and lacks."""
    label = component.backend.__qualname__
    known, required = _keyword_parameters(component.backend, len(args))
    if known is not None:
        for option in component.options:
            if option not in known:
                raise OrderUpdatesConfigurationError(
                    "%s is not an option of %s (its options: %s)."
                    % (component.option_name(option), label, ", ".join(known) or "none")
                )
    for option in required:
        if option not in component.options:
            raise OrderUpdatesConfigurationError(
                "%s is missing: %s needs it." % (component.option_name(option), label)
            )


def _keyword_parameters(cls: type, positional: int) -> tuple[list[str] | None, list]:
    """The keyword arguments ``cls`` takes after ``positional`` arguments, and
    those without a default. None for "any": an ``__init__`` that takes
    ``**kwargs`` and passes them up is followed up the class hierarchy.
    """
    known: list[str] = []
    required: list[str] = []
    first = True
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:
            return known, required
        try:
            parameters = list(inspect.signature(init).parameters.values())[1:]
        except (TypeError, ValueError):  # not introspectable: let it decide
            return None, required
        ordered = [
            p
            for p in parameters
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        taken = {p.name for p in ordered[:positional]}
        for p in parameters:
            if p.name in taken or p.kind not in (
                p.POSITIONAL_OR_KEYWORD,
                p.KEYWORD_ONLY,
            ):
                continue
            if p.name not in known:
                known.append(p.name)
            if p.default is p.empty and first:
                required.append(p.name)
        first = False
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return known, required
    return None, required


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
