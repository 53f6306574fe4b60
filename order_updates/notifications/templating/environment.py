"""The Liquid sandbox notification templates run in.

Merchants write these templates (``NotificationTemplate`` rows), so they are
untrusted code. Liquid itself has no attribute access, no Python calls and no
imports; on top of that :class:`NotificationEnvironment` sets resource limits,
bounds the work of ranges and filters and gives each render a time budget (see
:mod:`~order_updates.notifications.templating.limits`), and its only loader
serves order_updates' partials (``email/_layout.html``…): ``{% include %}``,
``{% render %}`` and ``{% extends %}`` cannot read any other file.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import format_currency, format_decimal
from django.utils import formats
from django.utils.dateparse import parse_datetime
from django.utils.translation import get_language, to_locale
from liquid import BoundTemplate, Environment, Mode, Undefined
from liquid.ast import BlockNode
from liquid.exceptions import TemplateNotFoundError
from liquid.extra import BlockTag
from liquid.loader import BaseLoader, TemplateSource
from liquid.undefined import is_undefined

from order_updates.conf import app_settings
from order_updates.exceptions import OrderUpdatesConfigurationError
from order_updates.notifications.templating.inheritance import ExtendsOnceTag
from order_updates.notifications.templating.limits import (
    DirectBlockNode,
    LimitedCaseTag,
    LimitedTemplate,
    check_template,
    limit_filter,
)
from order_updates.notifications.templating.sources import read_template_file

#: Names ``{% include %}``, ``{% render %}`` and ``{% extends %}`` may load:
#: partials of order_updates' notification templates, such as
#: ``email/_layout.html``. They start with "_" so they never clash with a type.
PARTIAL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,19}/_[a-z0-9_]{1,50}\.(?:html|txt)$")


class PartialLoader(BaseLoader):
    """Loads order_updates' partials, and nothing else.

    A partial is looked up like a notification template file (a shop's file at
    ``order_updates/notifications/<name>`` wins over the package's), in the
    active language first.
    """

    def get_source(
        self,
        env: Environment,
        template_name: str,
        *,
        context: Any = None,
        **kwargs: object,
    ) -> TemplateSource:
        """The partial's raw text; TemplateNotFoundError for any other name."""
        if not isinstance(template_name, str) or not PARTIAL_NAME.match(template_name):
            raise TemplateNotFoundError(
                "%r can't be included: only order_updates partials such as "
                "'email/_layout.html' can." % (template_name,)
            )
        found = read_template_file(template_name, get_language() or "")
        if found is None:
            raise TemplateNotFoundError("%r: no such partial." % template_name)
        return TemplateSource(found[0], template_name, None)

    def load(
        self,
        env: Environment,
        name: str,
        *,
        globals: Any = None,
        context: Any = None,
        **kwargs: object,
    ) -> BoundTemplate:
        """Parse the partial, reusing a parsed copy of the same text."""
        source = self.get_source(env, name, context=context, **kwargs)
        return env.parse_cached(source.text, name)  # type: ignore[attr-defined]


# Filters ---------------------------------------------------------------------------


def _locale() -> str:
    return to_locale(get_language() or "en")


def money(value: Any, currency: Any = "") -> str:
    """``{{ order.total | money: order.currency }}`` → "€42.50", in the language.

    Without a currency the amount is shown with two decimals. Values that are not
    numbers (or are NaN or infinite) come out unchanged; nil comes out empty.
    """
    if value is None or is_undefined(value) or value == "":
        return ""
    try:
        amount = decimal.Decimal(str(value))
    except (decimal.InvalidOperation, ValueError):
        return str(value)
    if not amount.is_finite():  # "NaN", "Infinity": not an amount either
        return str(value)
    currency = "" if currency is None or is_undefined(currency) else str(currency)
    try:
        return _format_money(amount, currency.upper(), _locale())
    except (ValueError, LookupError):
        return ("%s %s" % (amount, currency)).strip()


# Babel takes about 0.15 ms per amount; an email shows several, and prices,
# shipping costs and totals repeat across a shop's orders. Equal amounts format
# alike (the currency's digits decide the decimals), so 89.0 and 89.00 may share.
@lru_cache(maxsize=4096)
def _format_money(amount: decimal.Decimal, currency: str, locale: str) -> str:
    if currency:
        return format_currency(amount, currency, locale=locale)
    return format_decimal(amount, format="#,##0.00", locale=locale)


def format_date(value: Any, format_name: Any = "DATE_FORMAT") -> str:
    """``{{ order.created | format_date }}`` → "March 3, 2026" in the language.

    The argument is a Django format name (``DATE_FORMAT``, ``DATETIME_FORMAT``,
    ``SHORT_DATE_FORMAT``, ``SHORT_DATETIME_FORMAT``, ``TIME_FORMAT``…) or a
    Django date format string (``"j M Y, H:i"``). Times are already in the
    customer's time zone.
    """
    if value is None or is_undefined(value) or value == "":
        return ""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            return value
        value = parsed
    if not isinstance(value, (datetime.date, datetime.time)):
        return str(value)
    if format_name is None or is_undefined(format_name) or format_name == "":
        format_name = "DATE_FORMAT"
    # Django formats a time too (DateFormat extends TimeFormat); the stub omits it.
    return formats.date_format(value, str(format_name))  # type: ignore[arg-type]


# The environment -------------------------------------------------------------------


class NotificationEnvironment(Environment):
    """Liquid for notification templates: limits, partials only, our filters.

    One instance escapes HTML (for the email HTML part), one does not (subjects,
    text, SMS, push). Every filter, ours and any added later with
    :meth:`add_filter`, runs within the limits below and the render's budget
    (:mod:`~order_updates.notifications.templating.limits`).
    """

    template_class = LimitedTemplate

    #: Nested blocks ({% if %} in {% for %}…) allowed in one template.
    block_nesting_limit = 20
    #: Nested scopes: loops, partials, the layout. Recursive includes stop here.
    context_depth_limit = 20
    #: Loop iterations per render, nested loops multiplied.
    loop_iteration_limit = 10_000
    #: Characters one part may produce (Gmail clips HTML mail at about 100 kB).
    output_stream_limit = 512 * 1024
    #: Size of the values ``{% assign %}`` and ``{% capture %}`` may hold.
    local_namespace_limit = 256 * 1024
    #: Items in a range, or in a list a filter takes or makes (``uniq`` compares
    #: every pair: 2,000 items take tens of milliseconds).
    sequence_limit = 2_000
    #: Characters of a text a filter takes or makes.
    string_limit = 256 * 1024
    #: Digits of a number a filter makes.
    number_digits_limit = 30
    #: Characters of a merchant's template, per part (checked by validation).
    source_limit = 100_000

    def __init__(self, *, autoescape: bool, undefined: type[Undefined] = Undefined):
        super().__init__(
            autoescape=autoescape,
            undefined=undefined,
            loader=PartialLoader(),
            tolerance=Mode.STRICT,
            strict_filters=True,
        )
        self.parse_cached = lru_cache(maxsize=512)(self._parse_named)

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        """The standard tags and filters, ``extends``/``block``, and ours."""
        super().setup_tags_and_filters(extra=False)
        self.add_tag(ExtendsOnceTag)
        self.add_tag(BlockTag)
        self.add_tag(LimitedCaseTag)
        self.add_filter("money", money)
        self.add_filter("format_date", format_date)

    def add_filter(self, name: str, func: Any) -> None:
        """Register filter ``name``, wrapped in the limits and the budget."""
        if not getattr(func, "limited", False):
            func = limit_filter(name, func, self)
        super().add_filter(name, func)

    def from_string(self, source: str, *args: Any, **kwargs: Any) -> BoundTemplate:
        """Parse ``source``, refusing written-out ranges and loops that are too big.

        Raises a Liquid error (with the line) for a syntax error or a limit.
        """
        template = super().from_string(source, *args, **kwargs)
        self.check_template(template)
        return template

    def check_template(self, template: BoundTemplate) -> None:
        """Check and arm a parsed template (see :func:`.limits.check_template`)."""
        check_template(template, swap={BlockNode: DirectBlockNode})

    def render_budget_ms(self) -> float:
        """The CPU time one render may take (``TEMPLATE_RENDER_BUDGET_MS``)."""
        value = app_settings.TEMPLATE_RENDER_BUDGET_MS
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not value > 0
        ):
            raise OrderUpdatesConfigurationError(
                "ORDER_UPDATES['TEMPLATE_RENDER_BUDGET_MS'] must be a positive "
                "number of milliseconds, not %r." % (value,)
            )
        return value

    def _parse_named(self, source: str, name: str) -> BoundTemplate:
        return self.from_string(source, name=name, path=Path(name))


_environments: dict[bool, NotificationEnvironment] = {}


def get_environment(html: bool) -> NotificationEnvironment:
    """The shared environment for HTML parts (autoescaped) or text parts."""
    if html not in _environments:
        _environments[html] = NotificationEnvironment(autoescape=html)
    return _environments[html]


@contextmanager
def strict_undefined() -> Iterator[None]:
    """Make any undefined variable an error while in this block (for tests).

    Rendering normally shows an unknown variable as nothing; with this, the
    shop's own tests can prove their template files use only known variables.
    """
    from liquid import StrictUndefined

    saved = dict(_environments)
    _environments.clear()
    for html in (False, True):
        _environments[html] = NotificationEnvironment(
            autoescape=html, undefined=StrictUndefined
        )
    try:
        yield
    finally:
        _environments.clear()
        _environments.update(saved)
