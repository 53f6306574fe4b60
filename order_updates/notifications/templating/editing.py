"""Merchant templates: validation, saving with revisions, revert, preview."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from liquid.exceptions import LiquidError, ResourceLimitError, TemplateNotFoundError

from order_updates.exceptions import (
    TemplateError,
    TemplateValidationError,
)
from order_updates.models import NotificationTemplate
from order_updates.notifications.templating.context import (
    CONTEXT_KEYS,
    preview_context,
    sample_context,
)
from order_updates.notifications.templating.environment import get_environment
from order_updates.notifications.templating.exploring import explore
from order_updates.notifications.templating.rendering import (
    describe_liquid_error,
    render_part,
    render_sources,
)
from order_updates.notifications.templating.sources import (
    CODE_PATTERN,
    PART_FIELDS,
    TemplateSource,
    channel_parts,
    file_sources,
    get_sources,
    language_candidates,
    normalize_language,
)
from order_updates.notifications.types import get_notification_types

if TYPE_CHECKING:
    from django.db.models import Model

    from order_updates.models import NotificationTemplate, NotificationTemplateRevision
    from order_updates.notifications.channels.base import BaseChannel

#: Properties Liquid gives every list, mapping and string.
SPECIAL_PROPERTIES = frozenset({"size", "first", "last"})


def _suggest(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return close[0] if close else ""


def _line(span: Any, text: str) -> str:
    try:
        return _("line %d") % span.line_col(text)[0]
    except ValueError:
        return ""


def _with_line(line: str, message: str) -> str:
    return "%s: %s" % (line, message) if line else message


def _variable_error(segments: list[Any]) -> str | None:
    """What is wrong with a variable path, or None if it is known."""
    root = segments[0]
    if not isinstance(root, str):
        return None
    if root not in CONTEXT_KEYS:
        message = _("unknown variable '%s'.") % root
        suggestion = _suggest(root, CONTEXT_KEYS.keys())
        if suggestion:
            message += " " + _("Did you mean '%s'?") % suggestion
        return message
    key = CONTEXT_KEYS[root]
    if len(segments) < 2 or not isinstance(segments[1], str):
        return None
    first = segments[1]
    if key.is_list:
        if first in SPECIAL_PROPERTIES:
            if first == "size" or len(segments) < 3:
                return None
            item_key = segments[2]
            if (
                not isinstance(item_key, str)
                or item_key in key.keys | SPECIAL_PROPERTIES
            ):
                return None
            path, known, prefix = item_key, key.keys, "%s.%s." % (root, first)
        else:
            message = _("'%s' is a list: use %s.first, %s.last, %s[0] or a for loop.")
            return message % (root, root, root, root)
    elif first in key.keys | SPECIAL_PROPERTIES:
        return None
    else:
        path, known, prefix = first, key.keys, root + "."
    message = _("unknown variable '%s'.") % (prefix + path)
    suggestion = _suggest(path, known)
    if suggestion:
        message += " " + _("Did you mean '%s'?") % (prefix + suggestion)
    return message


def check_source(
    part: str, text: str, type_code: str, channel: BaseChannel
) -> list[str]:
    """Problems with one part's template text; an empty list if it is fine."""
    environment = get_environment(html=part == "html")
    name = "<%s>" % PART_FIELDS[part]
    if len(text) > environment.source_limit:
        return [
            _("The template has %(count)d characters; at most %(limit)d are allowed.")
            % {"count": len(text), "limit": environment.source_limit}
        ]
    try:
        template = environment.from_string(text, name=name)
    except LiquidError as exc:
        return [describe_liquid_error(exc, text)]
    errors: list[str] = []
    try:
        analysis = template.analyze(include_partials=True)
    except TemplateNotFoundError as exc:
        errors.append(describe_liquid_error(exc))
        analysis = template.analyze(include_partials=False)
    except LiquidError as exc:
        errors.append(describe_liquid_error(exc, text))
        analysis = template.analyze(include_partials=False)
    for variables in analysis.globals.values():
        for variable in variables:
            if variable.span.template_name != name:
                continue  # in a partial of ours
            problem = _variable_error(variable.segments)
            if problem:
                errors.append(_with_line(_line(variable.span, text), problem))
    for filter_name, spans in analysis.filters.items():
        if filter_name in environment.filters:
            continue
        message = _("unknown filter '%s'.") % filter_name
        suggestion = _suggest(filter_name, environment.filters.keys())
        if suggestion:
            message += " " + _("Did you mean '%s'?") % suggestion
        for span in spans:
            if span.template_name == name:
                errors.append(_with_line(_line(span, text), message))
    if errors:
        return list(dict.fromkeys(errors))
    context = sample_context(type_code, channel.name)
    try:
        render_part(
            channel, TemplateSource(part, text, name), context, _("sample data")
        )
    except TemplateError as exc:
        cause = exc.__cause__
        if isinstance(cause, LiquidError):
            detail = describe_liquid_error(cause, text)
        else:
            detail = str(exc)
        return [_("Fails with sample data: %s") % detail]
    # Sample data takes one path through the template; other orders may take
    # others. Whatever work some path needs must fit the limits too.
    try:
        explore(text, context, html=part == "html")
    except ResourceLimitError as exc:
        detail = describe_liquid_error(exc, text)
    except (MemoryError, RecursionError) as exc:
        detail = type(exc).__name__
    else:
        return errors
    return [_("Does too much work when other branches are taken: %s") % detail]


def validate_template(
    type: str,
    channel: BaseChannel,
    *,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
) -> dict[str, list[str]]:
    """Check a merchant's template: ``{field: [problems]}``, empty if it is fine.

    Checks syntax (with line numbers), variables against the documented context
    (suggesting the closest known name), filters, and a render against sample
    data. Parts the channel doesn't use are ignored; a blank part is fine (the
    default file is used for it).
    """
    errors: dict[str, list[str]] = {}
    if not CODE_PATTERN.match(channel.name):
        return {"__all__": [_("Invalid channel %r.") % (channel.name,)]}
    types = get_notification_types()
    if type not in types:
        message = _("Unknown notification type %r.") % (type,)
        suggestion = _suggest(str(type), types.keys())
        if suggestion:
            message += " " + _("Did you mean '%s'?") % suggestion
        return {"__all__": [message]}
    values = {"subject": subject, "body_text": body_text, "body_html": body_html}
    with translation.override(translation.get_language() or settings.LANGUAGE_CODE):
        for part in channel_parts(channel):
            field = PART_FIELDS[part]
            text = values[field] or ""
            if not text.strip():
                continue
            problems = check_source(part, text, type, channel)
            if problems:
                errors[field] = problems
    return errors


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "pk", None) is not None else None


def _write(
    template: NotificationTemplate,
    *,
    subject: str,
    body_text: str,
    body_html: str,
    active: bool,
    user: Any,
    comment: str,
) -> NotificationTemplate:
    template.subject = subject
    template.body_text = body_text
    template.body_html = body_html
    template.active = active
    template.updated_at = timezone.now()
    template.updated_by = _user_or_none(user)
    template.save()
    template.revisions.create(
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        active=active,
        comment=comment[:255],
        created_at=template.updated_at,
        created_by=_user_or_none(user),
    )
    return template


def save_template(
    type: str,
    channel: BaseChannel,
    language: str,
    *,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
    user: Any = None,
    comment: str = "",
) -> NotificationTemplate:
    """Validate and save a merchant's template (active), adding a revision.

    The template is stored for the channel's configured name. Raises
    :class:`TemplateValidationError` with ``errors`` (field → problems).
    """

    language = normalize_language(language)
    errors = validate_template(
        type, channel, subject=subject, body_text=body_text, body_html=body_html
    )
    if not language_candidates(language):
        errors.setdefault("__all__", []).append(
            _("Invalid language code %r.") % (language,)
        )
    used = [PART_FIELDS[part] for part in channel_parts(channel)]
    values = {"subject": subject, "body_text": body_text, "body_html": body_html}
    if not errors and not any(values[field].strip() for field in used):
        errors["__all__"] = [
            _("Write at least one part. To use the default template, revert to it.")
        ]
    if errors:
        raise TemplateValidationError(errors)
    with transaction.atomic():
        template, _created = (
            NotificationTemplate.objects.select_for_update().get_or_create(
                type=type, channel=channel.name, language=language
            )
        )
        return _write(
            template,
            subject=subject,
            body_text=body_text,
            body_html=body_html,
            active=True,
            user=user,
            comment=comment,
        )


def restore_revision(
    revision: NotificationTemplateRevision, channel: BaseChannel, user: Any = None
) -> NotificationTemplate:
    """Make ``revision`` the current state of its template, adding a revision.

    ``channel`` is the configured channel the template is for (by its name). A
    revision that recorded a revert restores the default (inactive) state.
    Raises :class:`TemplateValidationError` if the revision no longer validates
    (the pipeline or context changed since).
    """

    template = revision.template
    if channel.name != template.channel:
        raise ValueError(
            "Revision #%s is of a %r template, not %r."
            % (revision.pk, template.channel, channel.name)
        )
    if revision.active:
        errors = validate_template(
            template.type,
            channel,
            subject=revision.subject,
            body_text=revision.body_text,
            body_html=revision.body_html,
        )
        if errors:
            raise TemplateValidationError(errors)
    with transaction.atomic():
        template = NotificationTemplate.objects.select_for_update().get(pk=template.pk)
        return _write(
            template,
            subject=revision.subject,
            body_text=revision.body_text,
            body_html=revision.body_html,
            active=revision.active,
            user=user,
            comment=_("Restored revision #%s") % revision.pk,
        )


def revert_to_default(
    type: str,
    channel: BaseChannel,
    language: str,
    user: Any = None,
) -> NotificationTemplate | None:
    """Go back to the default file: deactivate the merchant's template.

    Its text is kept, and a revision (``active=False``) records the revert, so it
    can be restored. Returns the template, or None if there was none.
    """

    with transaction.atomic():
        template = (
            NotificationTemplate.objects.select_for_update()
            .filter(
                type=type,
                channel=channel.name,
                language=normalize_language(language),
            )
            .first()
        )
        if template is None or not template.active:
            return template
        return _write(
            template,
            subject=template.subject,
            body_text=template.body_text,
            body_html=template.body_html,
            active=False,
            user=user,
            comment=_("Reverted to the default template"),
        )


def preview(
    type: str,
    channel: BaseChannel,
    language: str,
    *,
    subject: str | None = None,
    body_text: str | None = None,
    body_html: str | None = None,
    order: Model | None = None,
    sample_status: str | None = None,
) -> dict[str, str]:
    """Render a template as the customer would get it, without saving anything.

    A part given as None uses the current template (the merchant's or the
    default), a blank part the default file. With ``order``, renders with that
    order's data (its latest customer-visible event that sends type); else
    with sample data of an order in ``sample_status`` (default: the status the
    type is typically sent in; "partially_shipped" shows a parcel with part of
    the order).
    Raises :class:`TemplateError` if rendering fails.
    """
    language = normalize_language(language) or settings.LANGUAGE_CODE
    sources = get_sources(type, channel, language)
    defaults = file_sources(type, channel, language)
    given = {"subject": subject, "body_text": body_text, "body_html": body_html}
    for part in channel_parts(channel):
        value = given[PART_FIELDS[part]]
        if value is None:
            continue
        if value.strip():
            sources[part] = TemplateSource(part, value, "preview")
        elif part in defaults:
            sources[part] = defaults[part]
        else:
            sources.pop(part, None)
    if order is not None:
        context = preview_context(order, type, channel.name, language)
    else:
        with translation.override(language):
            context = sample_context(type, channel.name, status=sample_status)
    return render_sources(type, channel, language, sources, context)
