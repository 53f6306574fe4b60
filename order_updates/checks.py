"""System checks: report a broken set-up at start-up, each with a hint to fix it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import (
    FieldDoesNotExist,
    ImproperlyConfigured,
    ValidationError,
)
from django.db import models

from order_updates.carriers.monitoring import status_time_limits
from order_updates.carriers.registry import default_transit_window, get_carriers
from order_updates.conf import (
    DEFAULTS,
    MOVED_SETTINGS,
    ORDER_MODEL_SETTING,
    app_settings,
    setting_name,
)
from order_updates.core.adapter import (
    ALTERNATIVE_ITEM_FIELDS,
    ALTERNATIVE_ORDER_FIELDS,
    DEFAULT_ITEM_FIELDS,
    DEFAULT_ORDER_FIELDS,
    SUMMARY_ORDER_FIELDS,
    DefaultOrderAdapter,
    path_exists,
)
from order_updates.exceptions import OrderUpdatesConfigurationError
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
    E008: no SITE_URL, or one that is not an absolute http(s) address.
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
    site = app_settings.SITE_URL
    if channels and not site:
        errors.append(
            Error(
                "Notifications need ORDER_UPDATES['SITE_URL'] for their links.",
                hint="Set it to the shop's public address, e.g. "
                '"https://shop.example.com".',
                id="order_updates.E008",
            )
        )
    elif site and not _is_site_url(site):
        errors.append(
            Error(
                "ORDER_UPDATES['SITE_URL'] is %r, which is not an absolute http(s) "
                "address: links in messages would read %r." % (site, _link_on(site)),
                hint="Give the scheme and the host, e.g. "
                '"https://shop.example.com" (a path after the host is kept: '
                '"https://example.com/shop").',
                id="order_updates.E008",
            )
        )
    return errors


def _is_site_url(value: object) -> bool:
    """Whether links built as ``value.rstrip("/") + path`` are absolute http(s)
    URLs: a scheme, a host, no query or fragment that the path would follow.
    """
    if not isinstance(value, str) or value != value.strip() or " " in value:
        return False
    try:
        parts = urlsplit(value)
        port = parts.port  # ValueError for a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and port != 0
        and bool(parts.hostname)
        and not parts.query
        and not parts.fragment
    )


def _link_on(site: object) -> str:
    """What a tracking link on ``site`` would look like (links.absolute_url)."""
    return "%s/order-updates/track/..." % str(site).rstrip("/")


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
    """E050: a setting of the REST API or of outbound webhooks is malformed."""
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
                id="order_updates.E050",
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
                    id="order_updates.E050",
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
                id="order_updates.E050",
            )
        )
    if not isinstance(app_settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES, bool):
        errors.append(
            Error(
                "%s must be True or False."
                % setting_name("WEBHOOK_ALLOW_PRIVATE_ADDRESSES"),
                hint="Remove it to refuse private addresses (the default).",
                id="order_updates.E050",
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


# Customer pages ----------------------------------------------------------------------

#: Settings of the customer pages that must be whole numbers above zero (the
#: link age may also be None: links that never expire).
_POSITIVE_CUSTOMER_SETTINGS = (
    "MY_ORDERS_PAGE_SIZE",
    "LOOKUP_MAX_ATTEMPTS_PER_IP",
    "LOOKUP_MAX_ATTEMPTS_PER_ORDER",
    "LOOKUP_WINDOW_SECONDS",
    "TRACKING_LINK_MAX_AGE",
)


#: The blocks the pages fill, and what the layout loses without them.
_PAGE_BLOCKS = {
    "order_updates_content": (Error, "order_updates.E025", "every page is blank"),
    "order_updates_title": (Warning, "order_updates.W028", "no page has a title"),
}


def _pages_base_template() -> Any:
    """``order_updates/base.html`` (the shop's override or the package's) as a
    Django template; None when it cannot be loaded or is another engine's."""
    from django.template import TemplateDoesNotExist, TemplateSyntaxError
    from django.template.loader import get_template

    try:
        return getattr(get_template("order_updates/base.html"), "template", None)
    except (TemplateDoesNotExist, TemplateSyntaxError):
        return None


def _extended_name(template: Any, base_name: str) -> Any:
    """What ``template``'s ``{% extends %}`` names when ``BASE_TEMPLATE`` is
    ``base_name`` (a name, or a template object); None without one."""
    from django.template import Context
    from django.template.loader_tags import ExtendsNode

    nodes = template.nodelist.get_nodes_by_type(ExtendsNode)
    if not nodes:
        return None
    context = Context({"order_updates_base_template": base_name})
    context.template = template  # for a variable that does not resolve
    return nodes[0].parent_name.resolve(context)


def _check_page_blocks(base_name: str) -> list[CheckMessage]:
    """E025/W028: ``order_updates/base.html`` (the package's or the shop's own)
    fills blocks its layout does not have. Django drops such blocks without a
    word, so every customer page, unsubscribe included, would answer 200 and
    show only the shop's header and footer.
    """
    from django.template import TemplateDoesNotExist, TemplateSyntaxError
    from django.template.loader import get_template
    from django.template.loader_tags import BlockNode

    def layout_of(template: Any) -> Any:
        """The template ``template`` extends: None if none, ``unknown`` if this
        check cannot tell (a variable, another engine)."""
        try:
            parent = _extended_name(template, base_name)
            if parent is None:
                return None
            if not parent:
                return unknown  # a variable this check does not have
            found = get_template(parent) if isinstance(parent, str) else parent
        except (TemplateDoesNotExist, TemplateSyntaxError, TypeError, OSError):
            return unknown
        return getattr(found, "template", None) or unknown  # None: another engine

    unknown = object()

    # None: missing (only if the package's templates are), or another engine's.
    pages_base = _pages_base_template()
    if pages_base is None:
        return []
    # An override of order_updates/base.html that never defines the blocks the
    # pages fill (say, "title" and "content" instead) drops the pages' text.
    defined = {n.name for n in pages_base.nodelist.get_nodes_by_type(BlockNode)}
    missing = [
        kind(
            "order_updates/base.html (%s) has no block %r, the block every "
            "customer page fills: %s, the preferences and unsubscribe pages "
            "included." % (pages_base.origin.name, page_block, loss),
            hint="In your order_updates/base.html, put {%% block %s %%}"
            "{%% endblock %%} inside your layout's block; see 'Setting them up' "
            "in the customer pages docs." % page_block,
            id=check_id,
        )
        for page_block, (kind, check_id, loss) in _PAGE_BLOCKS.items()
        if page_block not in defined
    ]
    if missing:
        return missing
    layout = layout_of(pages_base)
    if layout is None or layout is unknown:
        return []
    offered: set[str] = set()
    template, depth = layout, 0
    while template is not None and template is not unknown and depth < 20:
        offered.update(n.name for n in template.nodelist.get_nodes_by_type(BlockNode))
        template, depth = layout_of(template), depth + 1  # the layout's parents
    if template is not None:
        return []  # a parent this check cannot follow: say nothing, not guess
    messages: list[CheckMessage] = []
    for block in pages_base.nodelist.get_nodes_by_type(BlockNode):
        inner = {n.name for n in block.nodelist.get_nodes_by_type(BlockNode)}
        for page_block, (kind, check_id, loss) in _PAGE_BLOCKS.items():
            if page_block not in inner or block.name in offered:
                continue
            messages.append(
                kind(
                    "order_updates/base.html (%s) fills the block %r, which its "
                    "layout %s does not have: %s (Django drops such blocks "
                    "without an error), the preferences and unsubscribe pages "
                    "included."
                    % (
                        pages_base.origin.name,
                        block.name,
                        layout.origin.template_name,
                        loss,
                    ),
                    hint="Override order_updates/base.html in your templates to "
                    "fill your layout's own blocks (its blocks: %s); see "
                    "'Setting them up' in the customer pages docs. Or set "
                    "ORDER_UPDATES['BASE_TEMPLATE'] to "
                    "'order_updates/standalone.html'."
                    % (", ".join(sorted(offered)) or "none"),
                    id=check_id,
                )
            )
    return messages


def _uses_base_template() -> bool:
    """Whether ``order_updates/base.html`` extends ``BASE_TEMPLATE``: the
    package's does; a shop's own override may extend its layout by name instead,
    and then ``BASE_TEMPLATE`` need not exist. True when this cannot be told."""
    marker = "order_updates.checks:BASE_TEMPLATE"
    template = _pages_base_template()
    if template is None:
        return True  # missing, or another engine
    try:
        # None (no {% extends %}): a whole page of its own.
        return _extended_name(template, marker) == marker
    except Exception:  # a filter of the shop's that needs more: check as before
        return True


def check_customer_pages(app_configs=None, **kwargs) -> list[CheckMessage]:
    """E012: the base template cannot be loaded; E025/W028: the pages' blocks are
    not in it; E013: a bad number or cache."""
    from django.template import TemplateDoesNotExist, TemplateSyntaxError
    from django.template.loader import get_template

    errors: list[CheckMessage] = []
    name = app_settings.BASE_TEMPLATE
    try:
        if _uses_base_template():
            get_template(name)
    except (TemplateDoesNotExist, TemplateSyntaxError, TypeError) as exc:
        errors.append(
            Error(
                "ORDER_UPDATES['BASE_TEMPLATE'] is %r, which cannot be loaded (%s): "
                "the customer pages (tracking, lookup, preferences, unsubscribe) "
                "would fail." % (name, exc.__class__.__name__),
                hint="Name your shop's base template (with blocks 'title' and "
                "'content'), or use 'order_updates/standalone.html'.",
                id="order_updates.E012",
            )
        )
    else:
        errors.extend(_check_page_blocks(name))
    for key in _POSITIVE_CUSTOMER_SETTINGS:
        value = getattr(app_settings, key)
        if value is None and key == "TRACKING_LINK_MAX_AGE":
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            errors.append(
                Error(
                    "%s must be a whole number above zero, not %r."
                    % (setting_name(key), value),
                    hint="Remove it to use the default (%r)." % DEFAULTS[key],
                    id="order_updates.E013",
                )
            )
    if app_settings.LOOKUP_CACHE not in settings.CACHES:
        errors.append(
            Error(
                "ORDER_UPDATES['LOOKUP_CACHE'] is %r, which is not in settings.CACHES."
                % (app_settings.LOOKUP_CACHE,),
                hint="Name one of your caches (%s); the lookup form counts attempts "
                "there. Use a cache all your web processes share (Redis, "
                "Memcached, the database)." % ", ".join(settings.CACHES),
                id="order_updates.E013",
            )
        )
    return errors


# Field mapping and status sync (issue 11) ---------------------------------------------


def _conventional_names(
    name: str, defaults: dict, alternatives: dict[str, tuple[str, ...]]
) -> str:
    names = [path for path in (defaults.get(name), *alternatives.get(name, ())) if path]
    return "%s (tried: %s)" % (name, ", ".join(names) or "none")


def _default_adapter() -> DefaultOrderAdapter | None:
    """The configured adapter if it reads fields by name, else None."""
    if check_order_model():
        return None
    try:
        adapter = app_settings.ADAPTER()
    except (ImproperlyConfigured, ImportError, TypeError):
        return None  # E003 says what to fix
    return adapter if isinstance(adapter, DefaultOrderAdapter) else None


def check_message_fields(app_configs=None, **kwargs) -> list[CheckMessage]:
    """W020: what messages show (items, total, address, shipping, email) cannot
    be found; W029: nor can the customer's account;
    W021: an order line's name, quantity or price cannot be found; W022:
    ``ITEM_FIELDS["price"]`` is ambiguous; E006 for a wrong item field path.
    """
    adapter = _default_adapter()
    if adapter is None:
        return []
    model = adapter.get_order_model()
    label = model._meta.label
    configured = {**adapter.order_fields_preset, **app_settings.ORDER_FIELDS}
    messages: list[CheckMessage] = []
    # A key set to None says "my orders have none": no warning for it.
    missing = [
        name
        # The shipping charge too: without it a summary does not add up.
        for name in (*SUMMARY_ORDER_FIELDS, "shipping")
        if name not in configured and not adapter.order_fields.get(name)
    ]
    if (
        "email" not in configured
        and not adapter.order_fields.get("email")
        and not adapter.order_fields.get("user")
    ):
        missing.append("email")
    if missing:
        messages.append(
            Warning(
                "order_updates cannot find the %s of %s orders: messages would "
                "leave them out." % (", ".join(missing), label),
                hint="Map them in ORDER_UPDATES['ORDER_FIELDS'] to fields of %s "
                "('__' follows relations; shipping_address may be a list of paths, "
                "one per line), or set a key to None if your orders have none. "
                "Conventional names: %s."
                % (
                    label,
                    "; ".join(
                        _conventional_names(
                            name, DEFAULT_ORDER_FIELDS, ALTERNATIVE_ORDER_FIELDS
                        )
                        for name in missing
                    ),
                ),
                id="order_updates.W020",
            )
        )
    if "user" not in configured and not adapter.order_fields.get("user"):
        messages.append(
            Warning(
                "order_updates cannot find the customer's account (user) of %s "
                'orders: "my orders" would be empty for every customer, their '
                "order pages and the API's customer endpoints would find none." % label,
                hint="Map 'user' in ORDER_UPDATES['ORDER_FIELDS'] to the relation "
                "to the user model ('__' follows relations, e.g. 'customer__user'), "
                "or set it to None if your customers have no accounts.",
                id="order_updates.W029",
            )
        )
    items = {**adapter.item_fields_preset, **app_settings.ITEM_FIELDS}
    if items.get("price"):
        messages.append(
            Warning(
                "ORDER_UPDATES['ITEM_FIELDS']['price'] (%r) is read as the price of "
                "one unit, which messages multiply by the quantity." % items["price"],
                hint="Rename the key to 'unit_price' if %r is the price of one unit, "
                "or to 'line_total' if it is the price of the whole line."
                % items["price"],
                id="order_updates.W022",
            )
        )
    item_model = adapter.item_model
    if item_model is None:
        return messages
    item_label = item_model._meta.label
    for name, path in items.items():
        if path and not path_exists(item_model, path):
            messages.append(
                Error(
                    "ORDER_UPDATES['ITEM_FIELDS'][%r] names %r, which %s does not "
                    "have." % (name, path, item_label),
                    hint="Map it to a field of %s ('__' follows relations), or set "
                    "it to None if your order lines have no %s." % (item_label, name),
                    id="order_updates.E006",
                )
            )
    fields = adapter.item_fields
    lacking = [
        name
        for name in ("name", "quantity")
        if name not in items and not fields.get(name)
    ]
    if not any(fields.get(name) for name in ("unit_price", "line_total")) and not (
        {"unit_price", "line_total", "price"} & set(items)
    ):
        lacking.append("unit_price or line_total")
    if lacking:
        messages.append(
            Warning(
                "order_updates cannot find the %s of %s lines: messages would "
                "leave them out." % (", ".join(lacking), item_label),
                hint="Map them in ORDER_UPDATES['ITEM_FIELDS'] to fields of %s: "
                "'unit_price' is the price of one unit, 'line_total' the price of "
                "the whole line (give either; the other is derived from the "
                "quantity). Conventional names: %s."
                % (
                    item_label,
                    "; ".join(
                        _conventional_names(
                            name, DEFAULT_ITEM_FIELDS, ALTERNATIVE_ITEM_FIELDS
                        )
                        for name in ("name", "quantity", "unit_price", "line_total")
                    ),
                ),
                id="order_updates.W021",
            )
        )
    return messages


#: ORDER_FIELDS keys read as amounts of money, and as dates.
AMOUNT_ORDER_FIELDS = ("total", "subtotal", "shipping", "discount", "tax")
DATE_ORDER_FIELDS = ("created",)

_AMOUNT_FIELD_CLASSES = (models.DecimalField, models.IntegerField, models.FloatField)


def _final_field(model: type[models.Model], path: str) -> Any:
    """The model field (or relation) that ``a__b__c`` ends in, or None when it
    ends in something else (a property, a method) or is no path of ``model``.
    """
    parts = path.split("__")
    field: Any = None
    for part in parts:
        if field is not None:
            if field.related_model is None or isinstance(field.related_model, str):
                return None
            model = field.related_model
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
    return field


def _value_field(field: Any) -> Any:
    """What a field holds: a GeneratedField holds its output field's kind."""
    generated = getattr(models, "GeneratedField", None)
    if generated is not None and isinstance(field, generated):
        return field.output_field
    return field


def _may_hold_amount(field: Any) -> bool:
    """A number field (any subclass: money fields are DecimalFields), or a
    relation (to an object with an ``amount``, perhaps: not checked).
    """
    return field.is_relation or isinstance(_value_field(field), _AMOUNT_FIELD_CLASSES)


def _holds_whole_numbers(field: Any) -> bool:
    return not field.is_relation and isinstance(
        _value_field(field), models.IntegerField
    )


def _holds_fractions(field: Any) -> bool:
    """A DecimalField with decimal places, or a FloatField: units, not cents."""
    value = None if field.is_relation else _value_field(field)
    if isinstance(value, models.DecimalField):
        return bool(value.decimal_places)
    return isinstance(value, models.FloatField)


def _amount_kind(where: str, field: Any, label: str) -> CheckMessage | None:
    """W027: an amount in a whole-number field, perhaps in cents, read as
    units: 2740 would be shown as 2,740.00, not 27.40. W032: the opposite, with
    ``AMOUNTS_IN_MINOR_UNITS``: 27.40 in a decimal field shown as 0.27."""
    setting = setting_name("AMOUNTS_IN_MINOR_UNITS")
    if app_settings.AMOUNTS_IN_MINOR_UNITS is True:
        if not _holds_fractions(field):
            return None
        return Warning(
            "%s, %s of %s, holds fractions, but %s says amounts are in minor units "
            "(cents): 27.40 would be shown as 0.27."
            % (where, _describe(field), label, setting),
            hint="Remove %s if your amounts are in units of the currency. If this "
            "field does hold cents, add 'order_updates.W032' to "
            "SILENCED_SYSTEM_CHECKS." % setting,
            id="order_updates.W032",
        )
    if not _holds_whole_numbers(field):
        return None
    return Warning(
        "%s, %s of %s: amounts are read in units of the currency, so if it "
        "holds cents, 2740 is shown as 2,740.00 instead of 27.40."
        % (where, _describe(field), label),
        hint="If your amounts are in cents (minor units), set %s = True. If it "
        "holds whole units, add 'order_updates.W027' to SILENCED_SYSTEM_CHECKS."
        % setting,
        id="order_updates.W027",
    )


def _may_hold_date(field: Any) -> bool:
    """A DateField or DateTimeField (or subclass), or a relation (not checked)."""
    return field.is_relation or isinstance(_value_field(field), models.DateField)


def _mapped_as(
    adapter: DefaultOrderAdapter, name: str, path: str, *, lines: bool = False
) -> str:
    """Where the path of ORDER_FIELDS[name] (ITEM_FIELDS[name] for ``lines``)
    comes from, for messages."""
    setting, preset, whose = "ORDER_FIELDS", adapter.order_fields_preset, "order"
    configured = set(app_settings.ORDER_FIELDS)
    if lines:
        setting, preset, whose = "ITEM_FIELDS", adapter.item_fields_preset, "line"
        configured = set(app_settings.ITEM_FIELDS)
        if "price" in configured:  # the older name of unit_price
            configured.add("unit_price")
    if name in configured:
        return "ORDER_UPDATES[%r][%r] names %r" % (setting, name, path)
    if name in preset:
        return "%s.%s_fields_preset[%r] names %r" % (
            type(adapter).__name__,
            "item" if lines else "order",
            name,
            path,
        )
    return "The %s's %r is read from %r (its conventional name)" % (whose, name, path)


def check_field_kinds(app_configs=None, **kwargs) -> list[CheckMessage]:
    """E023: ORDER_FIELDS["user"] is no relation to the user model; W024: an
    amount (total, subtotal…) is not a number field; W025: ``created`` is not a
    date field; W026: a line's price or quantity is not a number field; W027:
    an amount is a whole-number field (cents?); W032: with
    ``AMOUNTS_IN_MINOR_UNITS``, an amount field holds fractions. Paths ending in
    a property or method are not checked. E026: that setting is not a bool.
    """
    if not isinstance(app_settings.AMOUNTS_IN_MINOR_UNITS, bool):
        return [
            Error(
                "%s must be True or False, not %r."
                % (
                    setting_name("AMOUNTS_IN_MINOR_UNITS"),
                    app_settings.AMOUNTS_IN_MINOR_UNITS,
                ),
                hint="True when your amounts are stored in cents (minor units).",
                id="order_updates.E026",
            )
        ]
    adapter = _default_adapter()
    if adapter is None:
        return []
    model = adapter.get_order_model()
    label = model._meta.label
    try:
        user_model: Any = get_user_model()
    except ImproperlyConfigured:
        user_model = None  # Django's own checks report AUTH_USER_MODEL
    messages: list[CheckMessage] = []
    for name, path in adapter.order_fields.items():
        if not isinstance(path, str) or not path:
            continue  # None: not available; a list: address lines
        field = _final_field(model, path)
        if field is None:
            continue  # a property or method (or missing: E006)
        where = _mapped_as(adapter, name, path)
        if name == "user" and user_model is not None:
            target = field.related_model
            if field.is_relation and (target is None or isinstance(target, str)):
                continue  # a generic relation: cannot be checked
            to_user = (
                field.is_relation
                and (field.many_to_one or field.one_to_one)
                and target._meta.concrete_model is user_model._meta.concrete_model
            )
            if not to_user:
                messages.append(
                    Error(
                        "%s, %s of %s, not a relation to one %s: every message "
                        "would fail (the customer's preference links are made "
                        "from the user)."
                        % (where, _describe(field), label, user_model._meta.label),
                        hint="Map 'user' to the foreign key (or one-to-one field) "
                        "to %s, following relations with '__' (e.g. "
                        "'customer__user'); or set it to None for orders without "
                        "user accounts (the email is then read from 'email')."
                        % user_model._meta.label,
                        id="order_updates.E023",
                    )
                )
        elif name in AMOUNT_ORDER_FIELDS:
            if kind := _amount_kind(where, field, label):
                messages.append(kind)
            if _may_hold_amount(field):
                continue
            messages.append(
                Warning(
                    "%s, %s of %s, not a number: messages and order pages would "
                    "show its text as the %s." % (where, _describe(field), label, name),
                    hint="Map %r to the DecimalField (or other number field) that "
                    "holds it, or set it to None if your orders have none." % name,
                    id="order_updates.W024",
                )
            )
        elif name in DATE_ORDER_FIELDS:
            if _may_hold_date(field):
                continue
            messages.append(
                Warning(
                    "%s, %s of %s, not a date: messages and order pages would "
                    "leave the date out." % (where, _describe(field), label),
                    hint="Map %r to the DateTimeField (or DateField) that holds "
                    "it, e.g. 'created_at', or set it to None." % name,
                    id="order_updates.W025",
                )
            )
    return messages + _item_field_kinds(adapter)


#: Line fields that must be numbers: the line prices and the quantity.
NUMBER_ITEM_FIELDS = ("unit_price", "line_total", "quantity")


def _item_field_kinds(adapter: DefaultOrderAdapter) -> list[CheckMessage]:
    """W026: a line's price or quantity is not a number field."""
    item_model = adapter.item_model
    if item_model is None:
        return []  # lines that are no relation: nothing to look at
    messages: list[CheckMessage] = []
    for name in NUMBER_ITEM_FIELDS:
        path = adapter.item_fields.get(name)
        if not isinstance(path, str) or not path:
            continue
        field = _final_field(item_model, path)
        if field is None:
            continue
        where = _mapped_as(adapter, name, path, lines=True)
        if name != "quantity" and (
            kind := _amount_kind(where, field, item_model._meta.label)
        ):
            messages.append(kind)
        if _may_hold_amount(field):
            continue
        messages.append(
            Warning(
                "%s, %s of %s, not a number: the lines of messages and order "
                "pages would show it as text, and their sums would be wrong or "
                "left out." % (where, _describe(field), item_model._meta.label),
                hint="Map %r in ORDER_UPDATES['ITEM_FIELDS'] to the number field "
                "of %s that holds it, or set it to None."
                % (name, item_model._meta.label),
                id="order_updates.W026",
            )
        )
    return messages


def _describe(field: Any) -> str:
    """``"a CharField"``, ``"a ManyToManyField to shop.Tag"``: for messages."""
    kind = type(_value_field(field)).__name__
    article = "an" if kind[:1] in "AEIOU" else "a"
    target = field.related_model if field.is_relation else None
    if target is not None and not isinstance(target, str):
        return "%s %s to %s" % (article, kind, target._meta.label)
    return "%s %s" % (article, kind)


def check_status_sync(app_configs=None, **kwargs) -> list[CheckMessage]:
    """E020: STATUS_FIELD is not a field of the order; E021: STATUS_MAP is not a
    dict of pipeline codes; E024: the field cannot hold the values written into
    it; W023: a choice of the field means no status.
    """
    field_name = app_settings.STATUS_FIELD
    mapping = app_settings.STATUS_MAP
    if not field_name and not mapping:
        return []
    if check_order_model():
        return []
    model = apps.get_model(getattr(settings, ORDER_MODEL_SETTING))
    label = model._meta.label
    if not field_name:
        return [
            Error(
                "ORDER_UPDATES['STATUS_MAP'] is set but STATUS_FIELD is not.",
                hint="Set ORDER_UPDATES['STATUS_FIELD'] to the name of the field of "
                "%s that holds your own status, or remove STATUS_MAP." % label,
                id="order_updates.E020",
            )
        ]
    try:
        field = model._meta.get_field(field_name)
    except FieldDoesNotExist:
        field = None
    if field is None or not getattr(field, "concrete", False) or field.is_relation:
        return [
            Error(
                "ORDER_UPDATES['STATUS_FIELD'] is %r, which is not a field of %s."
                % (field_name, label),
                hint="Name the (non-relation) model field of %s that holds your own "
                "status, e.g. 'status'; or remove STATUS_FIELD if it has none." % label,
                id="order_updates.E020",
            )
        ]
    try:
        pipeline = build_pipeline(app_settings.PIPELINE)
    except (ImproperlyConfigured, KeyError, TypeError, ValueError):
        return []  # E004 says what to fix
    codes = ", ".join(pipeline.statuses)
    if not isinstance(mapping, dict):
        return [
            Error(
                "ORDER_UPDATES['STATUS_MAP'] must be a dict, not %s."
                % type(mapping).__name__,
                hint="Map each value of %s.%s to a pipeline code, e.g. "
                "{'new': 'placed', 'sent': 'shipped'}." % (label, field_name),
                id="order_updates.E021",
            )
        ]
    unknown = sorted(
        "%r: %r" % (value, code)
        for value, code in mapping.items()
        if code not in pipeline.statuses
    )
    if unknown:
        return [
            Error(
                "ORDER_UPDATES['STATUS_MAP'] maps to codes that are not statuses of "
                "the pipeline: %s." % ", ".join(unknown),
                hint="Map each value to one of: %s." % codes,
                id="order_updates.E021",
            )
        ]
    meaning = mapping or {code: code for code in pipeline.statuses}
    unfit = _values_the_field_cannot_hold(field, meaning)
    if unfit:
        return [
            Error(
                "ORDER_UPDATES['STATUS_FIELD'] is %r, %s of %s, which cannot hold "
                "%s: each status change writes such a value into it, and would "
                "fail." % (field_name, _describe(field), label, unfit),
                hint="Name the field of %s that holds your own status (usually a "
                "CharField). If it holds other values (numbers…), map each of them "
                "to a pipeline code in STATUS_MAP, e.g. {1: 'placed'}." % label,
                id="order_updates.E024",
            )
        ]
    choices = [value for value, _label in field.flatchoices] if field.choices else []
    unmapped = [value for value in choices if value not in meaning]
    if unmapped:
        return [
            Warning(
                "%s.%s can be %s, which ORDER_UPDATES['STATUS_MAP'] does not map: "
                "an order set to one of these is not followed."
                % (label, field_name, ", ".join(map(repr, unmapped))),
                hint="Map each of them to one of: %s." % codes,
                id="order_updates.W023",
            )
        ]
    return []


def _values_the_field_cannot_hold(field: models.Field, values: Any) -> str:
    """The first of the shop values that ``field`` rejects, with the reason
    (``"'shipped' (“shipped” value must be a decimal number.)"``), or ''.
    """
    for value in values:
        try:
            field.run_validators(field.to_python(value))
        except ValidationError as exc:
            return "%r (%s)" % (value, " ".join(exc.messages))
    return ""


def check_user_phone_field(app_configs=None, **kwargs) -> list[CheckMessage]:
    """E022: USER_PHONE_FIELD is not a path from the user model."""
    path = app_settings.USER_PHONE_FIELD
    if path is None:
        return []
    try:
        user_model = get_user_model()
    except ImproperlyConfigured:
        return []  # Django's own checks report AUTH_USER_MODEL
    label = user_model._meta.label
    if isinstance(path, str) and path and path_exists(user_model, path):
        return []
    return [
        Error(
            "ORDER_UPDATES['USER_PHONE_FIELD'] is %r, which is not a path from %s."
            % (path, label),
            hint="Name the field of %s that holds a user's own phone number ('__' "
            "follows relations, e.g. 'profile__phone'; the last part may be a "
            "property), or remove the setting if your users have none." % label,
            id="order_updates.E022",
        )
    ]


# Carriers and tracking ---------------------------------------------------------------

#: The providers of order_updates.carriers.webhooks, by their TRACKING_WEBHOOKS key.
TRACKING_WEBHOOK_PROVIDERS = ("generic", "aftership", "easypost")


def check_carriers(app_configs=None, **kwargs) -> list[CheckMessage]:
    """E040: CARRIERS is wrong; E041: a tracking webhook is misconfigured;
    E042: STATUS_TIME_LIMITS is wrong; E043: DEFAULT_TRANSIT_DAYS or
    STUCK_AFTER_DAYS is wrong; W040: a webhook entry names no built-in
    provider (a typo, or a provider of the shop's own).
    """
    errors: list[CheckMessage] = []
    try:
        get_carriers.cache_clear()
        get_carriers()
    except ImproperlyConfigured as exc:
        errors.append(
            Error(
                str(exc),
                hint="See 'Shipments and carriers' in the docs for a carrier's fields.",
                id="order_updates.E040",
            )
        )
    stuck = app_settings.STUCK_AFTER_DAYS
    try:
        default_transit_window()
        if isinstance(stuck, bool) or not isinstance(stuck, int) or stuck < 1:
            raise OrderUpdatesConfigurationError(
                "%s must be a whole number of days, at least 1, not %r."
                % (setting_name("STUCK_AFTER_DAYS"), stuck)
            )
    except ImproperlyConfigured as exc:
        errors.append(
            Error(
                str(exc),
                hint="For example DEFAULT_TRANSIT_DAYS = [2, 4] and "
                "STUCK_AFTER_DAYS = 5.",
                id="order_updates.E043",
            )
        )
    webhooks = app_settings.TRACKING_WEBHOOKS
    if not isinstance(webhooks, dict):
        webhooks = {"?": webhooks}
    for provider, config in webhooks.items():
        name = setting_name("TRACKING_WEBHOOKS", provider)
        secrets = config.get("SECRETS") if isinstance(config, dict) else None
        if provider not in TRACKING_WEBHOOK_PROVIDERS:
            errors.append(
                Warning(
                    "%s: order_updates has no tracking webhook provider %r."
                    % (name, provider),
                    hint="Built in: %s. For a provider of your own, silence "
                    "order_updates.W040." % ", ".join(TRACKING_WEBHOOK_PROVIDERS),
                    id="order_updates.W040",
                )
            )
        if (
            not isinstance(secrets, (list, tuple))
            or not secrets
            or not all(isinstance(secret, str) and secret for secret in secrets)
        ):
            problem = "%s['SECRETS'] must be a non-empty list of secrets." % name
        else:
            continue
        errors.append(
            Error(
                problem,
                hint="Give {'SECRETS': ['...']}: the provider's webhook secret "
                "(two while you rotate them).",
                id="order_updates.E041",
            )
        )
    try:
        limits = status_time_limits()
    except ImproperlyConfigured as exc:
        limits = {}
        errors.append(
            Error(
                str(exc),
                hint="For example {'processing': 2} or {'processing': {'days': 2, "
                "'message': True}}.",
                id="order_updates.E042",
            )
        )
    try:
        pipeline = build_pipeline(app_settings.PIPELINE)
    except (ImproperlyConfigured, KeyError, TypeError, ValueError):
        return errors  # E004 reports it
    for status in limits:
        if status not in pipeline:
            errors.append(
                Error(
                    "%s: %r is not a status of the pipeline."
                    % (setting_name("STATUS_TIME_LIMITS"), status),
                    hint="Use one of: %s." % ", ".join(pipeline.statuses),
                    id="order_updates.E042",
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
    check_customer_pages,
    check_message_fields,
    check_field_kinds,
    check_status_sync,
    check_user_phone_field,
    check_carriers,
    check_api_and_webhooks,
]
