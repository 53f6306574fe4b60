"""Rendering notification templates into the parts a channel sends."""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING, Any

import css_inline
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from liquid.exceptions import LiquidError, LiquidSyntaxError

from order_updates.exceptions import TemplateError
from order_updates.notifications.templating.context import build_context
from order_updates.notifications.templating.environment import get_environment
from order_updates.notifications.templating.sources import (
    OPTIONAL_PARTS,
    PART_SUFFIXES,
    TemplateSource,
    channel_parts,
    get_sources,
)

if TYPE_CHECKING:
    from django.db.models import Model

    from order_updates.models import Notification
    from order_updates.notifications.channels.base import BaseChannel

PART_NAMES = {"subject": "subject", "text": "text", "html": "HTML"}

# Media queries can't be inlined: keep them in a <style> block. Never fetch a
# stylesheet a template links to (the server would request any URL it names).
_inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)

_SPACES = re.compile(r"\s+")
_TRAILING_SPACES = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")


def inline_css(html: str) -> str:
    """Move the CSS of ``<style>`` blocks into ``style`` attributes (email clients)."""
    try:
        return _inliner.inline(html)
    except css_inline.InlineError as exc:
        raise TemplateError("Could not inline the email's CSS: %s" % exc) from exc


def describe_liquid_error(exc: LiquidError, source: str | None = None) -> str:
    """A Liquid error as one line: "line 3: unknown filter 'upcse'".

    With the template's ``source``, an error inside a partial (the layout…) says so.
    """
    message = str(exc.message if exc.message is not None else type(exc).__name__)
    context = exc.context()
    if context is None:
        if source is not None and isinstance(exc, LiquidSyntaxError):
            # Unclosed blocks are noticed at the end of the template.
            return "line %d (end of the template): %s" % (
                source.count("\n") + 1,
                message,
            )
        return message
    where = "line %d" % context[0]
    if source is not None and exc.token is not None and exc.token.source != source:
        where = "%s of an included partial" % where
    return "%s: %s" % (where, message)


def _clean(channel: BaseChannel, part: str, output: str) -> str:
    if part == "subject" or (part == "text" and channel.short_text):
        return _SPACES.sub(" ", output).strip()
    if part == "text":
        output = _TRAILING_SPACES.sub("", output.replace("\r\n", "\n"))
        return _BLANK_LINES.sub("\n\n", output).strip()
    return inline_css(output) if output.strip() else ""


def render_part(
    channel: BaseChannel, source: TemplateSource, context: dict[str, Any], label: str
) -> str:
    """Render one part; raise :class:`TemplateError` saying what failed and where."""
    environment = get_environment(html=source.part == "html")
    try:
        template = environment.parse_cached(source.text, source.origin)
        output = template.render(**context)
    except LiquidError as exc:
        raise TemplateError(
            "Could not render the %s of %s (%s): %s"
            % (
                PART_NAMES[source.part],
                label,
                source.origin,
                describe_liquid_error(exc, source.text),
            )
        ) from exc
    except ImproperlyConfigured:
        raise
    except Exception as exc:  # a filter choking on odd data is a template failure
        raise TemplateError(
            "Could not render the %s of %s (%s): %s: %s"
            % (PART_NAMES[source.part], label, source.origin, type(exc).__name__, exc)
        ) from exc
    return _clean(channel, source.part, output)


def render_sources(
    type_code: str,
    channel: BaseChannel,
    language: str,
    sources: dict[str, TemplateSource],
    context: dict[str, Any],
) -> dict[str, str]:
    """Render the given part sources in ``language``: ``{part: output, "url": …}``."""
    label = "the %s %s notification" % (type_code, channel.name)
    rendered: dict[str, str] = {}
    with translation.override(language or settings.LANGUAGE_CODE):
        for part in channel_parts(channel):
            source = sources.get(part)
            if source is None:
                if part in OPTIONAL_PARTS:
                    rendered[part] = ""
                    continue
                raise TemplateError(
                    "There is no %s template for %s: add the file "
                    "order_updates/notifications/%s/%s%s to your templates, or "
                    "save a merchant template for it (save_template)."
                    % (
                        PART_NAMES[part],
                        label,
                        channel.name,
                        type_code,
                        PART_SUFFIXES[part],
                    )
                )
            rendered[part] = render_part(channel, source, context, label)
    rendered["url"] = str((context.get("links") or {}).get("primary") or "")
    return rendered


def render(
    type: str,
    channel: BaseChannel,
    language: str,
    context: dict[str, Any],
) -> dict[str, str]:
    """Render notification ``type`` for ``channel`` (a channel object) in ``language``.

    Returns the channel's ``parts`` (email: subject, text, html; SMS: text; push:
    subject and text) and ``url``, the link a click or an SMS should open.
    Templates are looked up as :mod:`order_updates.notifications.templating.sources`
    describes.
    Raises :class:`TemplateError` if one is missing or fails.
    """
    sources = get_sources(type, channel, language)
    return render_sources(type, channel, language, sources, context)


def render_notification(
    notification: Notification,
    order: Model,
    channel: BaseChannel,
    zone: datetime.tzinfo | None = None,
) -> dict[str, str]:
    """Render ``notification`` about ``order`` for ``channel``, in the language
    :func:`~order_updates.notifications.templating.sources.message_language`
    picks for it, dates in ``zone`` (the shop's ``TIME_ZONE`` unless given; the
    worker passes the customer's).

    Sets ``notification.language`` to that language (not saved), so that what
    is made for the message afterwards (the email's ``List-Unsubscribe``
    header) is in it too.
    """
    context = build_context(notification, order, zone, channel)
    language = context["notification"]["language"]
    notification.language = language
    return render(notification.type, channel, language, context)
