"""Template tags that put the customer pages' parts on a shop's own pages.

``{% load order_updates %}``, then one tag each, given the order (an instance
of the shop's order model)::

    {% order_status order %}      the status and what it means
    {% order_progress order %}    the progress stepper
    {% order_timeline order %}    the customer-visible updates, newest first
    {% order_shipments order %}   each parcel: carrier, tracking number, link

and the filters ``{{ amount|order_updates_money:currency }}``, the one money
format of the customer pages and the notifications, and
``{{ moment|order_updates_time:"DATE_FORMAT" }}``, a ``<time>`` element.

The pages themselves draw the status and the stepper of each order with
``{% order_updates_part "order_updates/customer/progress.html" progress=... %}``:
the template rendered with those values alone, once for each distinct set of
them on a page (ten orders on their way share one rendering).
"""

from __future__ import annotations

import datetime
import functools
import html
from typing import Any

from django import template
from django.template import Context, Engine
from django.utils import formats, translation
from django.utils.dateformat import DateFormat, TimeFormat, re_escaped, re_formatchars
from django.utils.safestring import SafeString

from order_updates.customer import data
from order_updates.notifications.templating.environment import money

register = template.Library()


@register.inclusion_tag("order_updates/customer/status.html")
def order_status(order: Any) -> dict[str, Any]:
    """The order's status label and description (one query, none if the state
    row was joined with ``select_related("order_updates_state")``)."""
    return {"progress": data.order_progress(order)}


@register.inclusion_tag("order_updates/customer/progress.html")
def order_progress(order: Any) -> dict[str, Any]:
    """The progress stepper: placed → … → delivered, or the off-path status."""
    return {"progress": data.order_progress(order)}


@register.inclusion_tag("order_updates/customer/timeline.html")
def order_timeline(order: Any) -> dict[str, Any]:
    """The customer-visible timeline, newest first."""
    return {"entries": data.order_timeline(order)}


@register.inclusion_tag("order_updates/customer/shipments.html")
def order_shipments(order: Any) -> dict[str, Any]:
    """The order's parcels."""
    return {"shipments": data.order_shipments(order)}


@register.simple_tag(takes_context=True)
def order_updates_part(context: Context, template_name: str, **values: Any) -> str:
    """``template_name`` rendered with ``values`` alone, as an inclusion tag
    renders its template; rendered once per page for each distinct ``values``
    (in the active language) and repeated from then on.
    """
    parts = context.render_context.get(_PARTS)
    if parts is None:
        parts = context.render_context[_PARTS] = {}
    try:
        key = (
            template_name,
            translation.get_language(),
            context.autoescape,
            tuple(sorted(values.items())),
        )
        rendered = parts.get(key)
    except TypeError:  # a value that cannot be a dict key: render it each time
        key, rendered = None, None
    if rendered is None:
        part = context.new(values)
        csrf_token = context.get("csrf_token")
        if csrf_token is not None:
            part["csrf_token"] = csrf_token
        engine = context.template.engine if context.template else Engine.get_default()
        rendered = engine.get_template(template_name).render(part)
        if key is not None:
            parts[key] = rendered
    return rendered


#: Where the rendered parts are kept in the template's render context.
_PARTS = "order_updates.parts"


@register.filter
def order_updates_money(amount: Any, currency: str = "") -> str:
    """``amount`` in ``currency``, in the active language: "€105.50",
    "105,50 €". The same format as the notifications' ``money`` filter.
    """
    return money(amount, currency)


@register.filter(expects_localtime=True)
def order_updates_time(moment: Any, format_name: str = "DATETIME_FORMAT") -> str:
    """``<time datetime="2026-11-02T10:00:00+01:00">Nov. 2, 2026, 10 a.m.</time>``:
    ``moment`` (a datetime, in the page's time zone, or a date) in the active
    language's ``format_name`` (``DATE_FORMAT``, ``DATETIME_FORMAT`` or a
    format string, as Django's ``date`` filter takes), with its ISO 8601 form
    for machines. One filter instead of ``date:'c'`` and ``date`` on the same
    value: pages show many of them.
    """
    if moment in (None, ""):
        return ""
    try:
        format_string = formats.get_format(format_name or "DATE_FORMAT")
        shown = _date_format(moment, format_string)
        machine = moment.isoformat()
    except (AttributeError, TypeError, ValueError):
        return ""  # as Django's date filter answers a value that is not a date
    # What format_html() gives for these two plain strings, without its lazy
    # wrappers (a page draws up to forty of them).
    return SafeString(
        '<time datetime="%s">%s</time>' % (html.escape(machine), html.escape(shown))
    )


def _date_format(moment: Any, format_string: str) -> str:
    """``formats.date_format(moment, ...)`` for the format string ``get_format()``
    gave: the same DateFormat methods, with the string split once, not per call.
    """
    parts, time_specifiers = _compile_date_format(str(format_string))
    if type(moment) is datetime.date and time_specifiers:
        raise TypeError(
            "The format for date objects may not contain time-related format "
            "specifiers (found '%s')." % time_specifiers[0]
        )
    formatter = DateFormat(moment)
    return "".join(
        [text if method is None else str(method(formatter)) for method, text in parts]
    )


@functools.lru_cache(maxsize=64)
def _compile_date_format(
    format_string: str,
) -> tuple[tuple[tuple[Any, str], ...], tuple[str, ...]]:
    """``format_string`` split as ``DateFormat.format()`` splits it: (method,
    '') per specifier and (None, text) per literal, and its time-only
    specifiers.
    """
    parts = []
    specifiers = []
    for index, piece in enumerate(re_formatchars.split(format_string)):
        if index % 2:
            parts.append((getattr(DateFormat, piece), ""))
            specifiers.append(piece)
        elif piece:
            parts.append((None, re_escaped.sub(r"\1", piece)))
    time_specifiers = tuple(s for s in specifiers if hasattr(TimeFormat, s))
    return tuple(parts), time_specifiers
