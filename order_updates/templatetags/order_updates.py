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
them (ten orders on their way share one rendering), and kept for the next pages.
"""

from __future__ import annotations

import datetime
import functools
import html
import threading
from collections import OrderedDict
from typing import Any
from weakref import WeakKeyDictionary

from django import template
from django.template import Context, Engine, Template
from django.template.defaulttags import NowNode
from django.template.loader_tags import ExtendsNode, IncludeNode
from django.utils import formats, timezone, translation
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
    renders its template.

    What it renders depends on ``values``, the language, the time zone and the
    template alone, so the result is kept (per process, the last
    :data:`KEPT_PARTS` of them) and repeated for the same values: a page of ten
    orders on their way renders their stepper once, and the next page not at
    all. A template that can differ from one request to the next is rendered
    each time: one with ``{% csrf_token %}`` (it gets the page's token), a
    ``csrf_token`` variable, ``{% now %}``, or an ``{% include %}`` or
    ``{% extends %}`` (whose template is not looked into).
    """
    page = context.render_context.get(_PAGE)
    if page is None:
        page = context.render_context[_PAGE] = {}
    try:
        # Within a page the same values are the same objects: a cheap lookup
        # before the process-wide one, which compares values.
        values_key = (
            template_name,
            tuple(sorted(values.items())),
            translation.get_language(),
            timezone.get_current_timezone_name(),
            context.autoescape,
        )
        rendered = page.get(values_key)
    except TypeError:  # a value that cannot be a dict key: render it each time
        values_key, rendered = None, None
    if rendered is not None:
        return rendered
    part_template = page.get(template_name)
    if part_template is None:
        engine = context.template.engine if context.template else Engine.get_default()
        part_template = page[template_name] = engine.get_template(template_name)
    key = None
    if values_key is not None and _can_keep(part_template):
        key = (part_template, *values_key[1:], context.use_l10n, context.use_tz)
        rendered = kept_parts.get(key)
    if rendered is None:
        part = context.new(values)
        if key is None:
            csrf_token = context.get("csrf_token")
            if csrf_token is not None:
                part["csrf_token"] = csrf_token
        rendered = part_template.render(part)
        if key is not None:
            kept_parts.put(key, rendered)
    if values_key is not None:
        page[values_key] = rendered
    return rendered


#: How many rendered parts a process keeps (the least recently used go first).
KEPT_PARTS = 256

#: Where a page keeps its parts and their templates, in its render context.
_PAGE = "order_updates.parts"


class _KeptParts:
    """The rendered parts, least recently used first; safe across threads."""

    def __init__(self, size: int):
        self.size = size
        self._parts: OrderedDict[Any, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> str | None:
        with self._lock:
            rendered = self._parts.get(key)
            if rendered is not None:
                self._parts.move_to_end(key)
            return rendered

    def put(self, key: Any, rendered: str) -> None:
        with self._lock:
            self._parts[key] = rendered
            if len(self._parts) > self.size:
                self._parts.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._parts.clear()


#: The parts rendered in this process (``kept_parts.clear()`` forgets them).
kept_parts = _KeptParts(KEPT_PARTS)


def _can_keep(part_template: Template) -> bool:
    """Whether ``part_template``'s output depends on its values alone (see
    :func:`order_updates_part`); worked out once per template."""
    try:
        return _keepable[part_template]
    except KeyError:
        pass
    # Any mention of csrf_token (the tag, a variable, an argument) counts.
    varies = "csrf_token" in (part_template.source or "") or any(
        part_template.nodelist.get_nodes_by_type(node_type)
        for node_type in (NowNode, IncludeNode, ExtendsNode)
    )
    _keepable[part_template] = not varies
    return not varies


#: Templates (compiled) and whether their rendered parts can be kept.
_keepable: WeakKeyDictionary[Template, bool] = WeakKeyDictionary()


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
