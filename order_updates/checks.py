"""System checks: report a broken set-up at start-up, each with a hint to fix it."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured

from order_updates.conf import (
    DEFAULTS,
    MOVED_SETTINGS,
    ORDER_MODEL_SETTING,
    app_settings,
    setting_name,
)
from order_updates.core.adapter import (
    DEFAULT_ITEM_FIELDS,
    DEFAULT_ORDER_FIELDS,
    DefaultOrderAdapter,
    path_exists,
)
from order_updates.notifications.channels import get_channel, get_channels
from order_updates.notifications.channels.email import EmailChannel
from order_updates.notifications.channels.test import TestChannel
from order_updates.pipeline import build_pipeline


def check_order_model(app_configs=None, **kwargs) -> list:
    """E001: the setting is missing or malformed; E002: the model is not installed."""
    label = getattr(settings, ORDER_MODEL_SETTING, None)
    if not label or not isinstance(label, str) or label.count(".") != 1:
        return [
            Error(
                "%s is missing or not of the form 'app_label.ModelName' (it is %r)."
                % (ORDER_MODEL_SETTING, label),
                hint='Point it at your order model, e.g. %s = "shop.Order".'
                % ORDER_MODEL_SETTING,
                id="order_updates.E001",
            )
        ]
    try:
        apps.get_model(label)
    except LookupError:
        return [
            Error(
                "%s refers to %r, which is not an installed model."
                % (ORDER_MODEL_SETTING, label),
                hint="Check the spelling, and that the app holding it is in "
                "INSTALLED_APPS.",
                id="order_updates.E002",
            )
        ]
    return []


def check_settings(app_configs=None, **kwargs) -> list:
    """E005: ORDER_UPDATES is not a dict or has a key order_updates doesn't know."""
    value = getattr(settings, "ORDER_UPDATES", None) or {}
    if not isinstance(value, dict):
        return [
            Error(
                "settings.ORDER_UPDATES must be a dict, not %s." % type(value).__name__,
                hint="ORDER_UPDATES = {'ADAPTER': ..., 'PIPELINE': ...}",
                id="order_updates.E005",
            )
        ]
    unknown = sorted(set(value) - set(DEFAULTS))
    if unknown:
        moved = [
            "%s is now %s" % (key, MOVED_SETTINGS[key])
            for key in unknown
            if key in MOVED_SETTINGS
        ]
        hint = "Known keys: %s. Check for typos." % ", ".join(DEFAULTS)
        if moved:
            hint = (
                "Channel settings are options of their channel in "
                "ORDER_UPDATES['CHANNELS'] (see the Channels page of the docs): %s. %s"
                % ("; ".join(moved), hint)
            )
        return [
            Error(
                "settings.ORDER_UPDATES has unknown keys: %s." % ", ".join(unknown),
                hint=hint,
                id="order_updates.E005",
            )
        ]
    return []


def check_adapter(app_configs=None, **kwargs) -> list:
    """E003: the adapter cannot be imported or built; E006: a field path is wrong."""

    for setting, known in (
        ("ORDER_FIELDS", DEFAULT_ORDER_FIELDS),
        ("ITEM_FIELDS", DEFAULT_ITEM_FIELDS),
    ):
        unknown = sorted(set(getattr(app_settings, setting)) - set(known))
        if unknown:
            return [
                Error(
                    "ORDER_UPDATES[%r] has unknown keys: %s."
                    % (setting, ", ".join(unknown)),
                    hint="Known keys: %s. Check for typos." % ", ".join(known),
                    id="order_updates.E006",
                )
            ]
    if check_order_model():
        return []  # the adapter needs the order model; E001/E002 say what to fix
    try:
        adapter_class = app_settings.ADAPTER
        adapter = adapter_class()
    except (ImproperlyConfigured, ImportError, TypeError) as exc:
        return [
            Error(
                "The order_updates adapter could not be loaded: %s" % exc,
                hint="Set ORDER_UPDATES['ADAPTER'] to the dotted path of a class, "
                "e.g. 'shop.adapters.OrderAdapter' (a subclass of "
                "order_updates.core.adapter.DefaultOrderAdapter).",
                id="order_updates.E003",
            )
        ]
    if not isinstance(adapter, DefaultOrderAdapter):
        return []
    model = apps.get_model(getattr(settings, ORDER_MODEL_SETTING))
    errors = []
    # Only what the shop configured: a conventional name its model lacks is
    # simply "not available" (see DefaultOrderAdapter).
    for name, value in app_settings.ORDER_FIELDS.items():
        paths = value if isinstance(value, (list, tuple)) else [value]
        for path in paths:
            if not path or path_exists(model, path):
                continue
            errors.append(
                Error(
                    "ORDER_UPDATES['ORDER_FIELDS'][%r] names %r, which %s does "
                    "not have." % (name, path, model._meta.label),
                    hint="Map it to a field of your order model ('__' follows "
                    "relations), or set it to None if your orders have no %s." % name,
                    id="order_updates.E006",
                )
            )
    return errors


def check_channels(app_configs=None, **kwargs) -> list:
    """E007: a channel cannot be built from its settings, or reports a problem;
    E008: no SITE_URL.
    """

    hint_settings = (
        "ORDER_UPDATES['CHANNELS'] maps each name to {'BACKEND': 'dotted.path.Class', "
        "'OPTIONS': {...}} (or just the dotted path), e.g. {'email': {'BACKEND': "
        "'order_updates.notifications.channels.email.EmailChannel', 'OPTIONS': "
        "{'from_email': 'Shop <orders@shop.example.com>'}}}; the Channels page of "
        "the docs lists each channel's options."
    )
    hint_problem = (
        "Set what it names; the Channels page of the docs lists each channel's options."
    )
    channels = app_settings.CHANNELS
    if not isinstance(channels, dict):
        return [
            Error(
                "%s must be a dict, not %s."
                % (setting_name("CHANNELS"), type(channels).__name__),
                hint=hint_settings,
                id="order_updates.E007",
            )
        ]
    errors = []
    for name in channels:
        try:
            channel = get_channel(name)
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), hint=hint_settings, id="order_updates.E007"))
            continue
        try:
            problems = channel.check()
        except ImproperlyConfigured as exc:
            problems = [str(exc)]
        for problem in problems:
            errors.append(
                Error(
                    "Channel %r: %s" % (name, problem),
                    hint=hint_problem,
                    id="order_updates.E007",
                )
            )
    if channels and not app_settings.SITE_URL:
        errors.append(
            Error(
                "Notifications need ORDER_UPDATES['SITE_URL'] for their links.",
                hint="Set it to the shop's public address, e.g. "
                '"https://shop.example.com".',
                id="order_updates.E008",
            )
        )
    return errors


def check_email_timeout(app_configs=None, **kwargs) -> list[CheckMessage]:
    """W002: an email channel sends over SMTP without a timeout."""
    from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

    try:
        channels = get_channels()
    except ImproperlyConfigured:
        return []  # E007 says what to fix
    warnings: list[CheckMessage] = []
    for name, channel in channels.items():
        # The test channel stands in for email but never connects to a server.
        if not isinstance(channel, EmailChannel) or isinstance(channel, TestChannel):
            continue
        try:
            connection = channel.get_connection()
        except ImproperlyConfigured:
            continue  # E007 says what to fix
        if isinstance(connection, SMTPBackend) and connection.timeout is None:
            warnings.append(
                Warning(
                    "Channel %r sends over SMTP without a timeout: a server that "
                    "stops answering holds the worker, and every notification of "
                    "its batch, for good (its lease keeps being renewed)." % name,
                    hint="Set EMAIL_TIMEOUT (or the mailer's timeout), e.g. 30.",
                    id="order_updates.W002",
                )
            )
    return warnings


def check_template_budget(app_configs=None, **kwargs) -> list[CheckMessage]:
    """E009: TEMPLATE_RENDER_BUDGET_MS is not a positive number."""
    value = app_settings.TEMPLATE_RENDER_BUDGET_MS
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return []
    return [
        Error(
            "ORDER_UPDATES['TEMPLATE_RENDER_BUDGET_MS'] must be a positive number "
            "of milliseconds, not %r." % (value,),
            hint="Remove it to use the default (%s), or set a number such as 300."
            % DEFAULTS["TEMPLATE_RENDER_BUDGET_MS"],
            id="order_updates.E009",
        )
    ]


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def check_api_and_webhooks(app_configs=None, **kwargs) -> list[CheckMessage]:
    """E020: a setting of the REST API or of outbound webhooks is malformed."""
    errors: list[CheckMessage] = []
    rates = app_settings.API_THROTTLE_RATES
    bad_rates = not isinstance(rates, dict) or any(
        scope not in ("customer", "staff")
        or not (
            rate is None
            or (
                isinstance(rate, str)
                and rate.count("/") == 1
                and rate.split("/")[0].isdigit()
                and rate.split("/")[1][:1] in ("s", "m", "h", "d")
            )
        )
        for scope, rate in (rates.items() if isinstance(rates, dict) else [])
    )
    if bad_rates:
        errors.append(
            Error(
                "%s must map 'customer' and 'staff' to rates such as '120/min' "
                "(or None), not %r." % (setting_name("API_THROTTLE_RATES"), rates),
                hint="A rate is '<number>/<sec|min|hour|day>'.",
                id="order_updates.E020",
            )
        )
    for key, allow_none in [
        ("API_BULK_MAX_ORDERS", False),
        ("WEBHOOK_DISABLE_AFTER_FAILURES", True),
    ]:
        value = getattr(app_settings, key)
        if not (_is_count(value) or (allow_none and value is None)):
            errors.append(
                Error(
                    "%s must be a positive whole number%s, not %r."
                    % (setting_name(key), " or None" if allow_none else "", value),
                    hint="Remove it to use the default (%s)." % DEFAULTS[key],
                    id="order_updates.E020",
                )
            )
    timeout = app_settings.WEBHOOK_TIMEOUT
    if not (
        isinstance(timeout, (int, float))
        and not isinstance(timeout, bool)
        and timeout > 0
    ):
        errors.append(
            Error(
                "%s must be a positive number of seconds, not %r."
                % (setting_name("WEBHOOK_TIMEOUT"), timeout),
                hint="Remove it to use the default (%s)." % DEFAULTS["WEBHOOK_TIMEOUT"],
                id="order_updates.E020",
            )
        )
    if not isinstance(app_settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES, bool):
        errors.append(
            Error(
                "%s must be True or False."
                % setting_name("WEBHOOK_ALLOW_PRIVATE_ADDRESSES"),
                hint="Remove it to refuse private addresses (the default).",
                id="order_updates.E020",
            )
        )
    return errors


def check_pipeline(app_configs=None, **kwargs) -> list:
    """E004: the pipeline is broken; W001: a status can never be reached."""

    hint = (
        "Fix ORDER_UPDATES['PIPELINE'] (see the 'Statuses and pipeline' docs), or "
        "remove it to use the default pipeline."
    )
    try:
        pipeline = build_pipeline(app_settings.PIPELINE)
    except (ImproperlyConfigured, KeyError, TypeError, ValueError) as exc:
        return [Error(str(exc), hint=hint, id="order_updates.E004")]
    errors: list[CheckMessage] = [
        Error("Pipeline: %s" % problem, hint=hint, id="order_updates.E004")
        for problem in pipeline.validate()
    ]
    if not errors:
        unreachable = pipeline.unreachable()
        if unreachable:
            errors.append(
                Warning(
                    "Pipeline: no transition leads to %s from the initial status %r."
                    % (", ".join(unreachable), pipeline.initial),
                    hint="Add a transition to each of them, or remove them.",
                    id="order_updates.W001",
                )
            )
    return errors


#: Registered in ``AppConfig.ready()``.
ALL_CHECKS = [
    check_settings,
    check_order_model,
    check_adapter,
    check_pipeline,
    check_channels,
    check_email_timeout,
    check_template_budget,
    check_api_and_webhooks,
]
