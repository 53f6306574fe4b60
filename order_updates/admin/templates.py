"""The notification templates screen: overview with the merchant switches, editor.

Everything is written through :mod:`order_updates.notifications.templating`
(validation, revisions, preview), :mod:`order_updates.notifications.proofs`
(test sends) and the :class:`~order_updates.models.NotificationTypeSetting`
switches, never by raw edits of the rows. The parts an editor offers come from
the channel's class (``parts``), never from the channel's name.

Rendered templates are never shown in the admin's own page: the preview is a
document of its own, served with ``Content-Security-Policy: sandbox`` and shown
in an ``<iframe sandbox>`` without any allowance, so no script of a template
runs, and its document has no origin at all.
"""

from __future__ import annotations

import datetime
import difflib
from typing import Any

from django import forms
from django.conf import global_settings, settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language_info, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from order_updates.core.adapter import get_adapter
from order_updates.exceptions import (
    ChannelError,
    NoTestAddress,
    TemplateError,
    TemplateValidationError,
)
from order_updates.models import (
    NotificationTemplate,
    NotificationTemplateRevision,
    NotificationTypeSetting,
)
from order_updates.notifications.channels import get_channels
from order_updates.notifications.proofs import send_proof
from order_updates.notifications.templating import (
    CONTEXT_KEYS,
    preview,
    restore_revision,
    revert_to_default,
    sample_context,
    save_template,
)
from order_updates.notifications.templating.context import sample_status
from order_updates.notifications.templating.sources import (
    FIELD_PARTS,
    PART_FIELDS,
    channel_parts,
    file_sources,
    language_candidates,
    normalize_language,
    shop_language,
)
from order_updates.notifications.types import get_notification_types
from order_updates.pipeline import get_pipeline

#: The CSP of a rendered template: a sandbox of its own, even opened directly.
SANDBOX_POLICY = "sandbox"

PART_LABELS = {
    "subject": gettext_lazy("Subject"),
    "text": gettext_lazy("Text"),
    "html": gettext_lazy("HTML"),
}


def part_label(channel: Any, part: str) -> str:
    """A part's name for merchants, by what the channel's class says of it."""
    if part == "subject" and channel.short_text:
        return _("Title")
    if part == "text" and channel.short_text:
        return _("Message")
    return str(PART_LABELS[part])


def configured_languages() -> list[tuple[str, str]]:
    """The shop's languages (``LANGUAGES``), as template language codes.

    A project that kept Django's list of every language gets just
    ``LANGUAGE_CODE`` (as that list has it: ``en`` for Django's ``en-us``): a
    hundred languages nobody writes in would bury the ones that matter.
    """
    configured = settings.LANGUAGES
    if configured is global_settings.LANGUAGES:
        code = shop_language(settings.LANGUAGE_CODE)
        configured = [(code, language_info_name(code))]
    languages = []
    for code, name in configured:
        normalized = normalize_language(code)
        if language_candidates(normalized):
            languages.append((normalized, str(name)))
    return list(dict(languages).items())


def language_info_name(code: str) -> str:
    """Django's name of a language ("German"), or its code."""
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return code


def language_name(code: str) -> str:
    """The language's name for people ("German"), or its code."""
    for candidate, name in configured_languages():
        if candidate == code:
            return name
    return language_info_name(code)


def sample_value(value: Any) -> str:
    """A short rendering of a sample value, beside the variable's name."""
    if isinstance(value, list):
        return _("a list of %d") % len(value)
    if isinstance(value, dict):
        return ""
    if isinstance(value, datetime.datetime):
        return date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if isinstance(value, bool):
        return "true" if value else "false"  # as Liquid writes it, not Python
    text = "" if value is None else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def variables(type_code: str, channel_name: str) -> list[dict[str, Any]]:
    """The documented variables, each with its value in the sample data."""
    sample = sample_context(type_code, channel_name)
    groups = []
    for root in CONTEXT_KEYS:
        key = CONTEXT_KEYS[root]
        data = sample.get(root)
        if key.is_list:
            item = data[0] if data else {}
            rows = [
                ("%s[0].%s" % (root, name), sample_value(item.get(name)))
                for name in sorted(key.keys)
            ]
        else:
            data = data or {}
            rows = [
                ("%s.%s" % (root, name), sample_value(data.get(name)))
                for name in sorted(key.keys)
            ]
        groups.append({"root": root, "is_list": key.is_list, "rows": rows})
    return groups


class TemplateForm(forms.Form):
    """The parts a channel's class renders, and a comment for the history."""

    comment = forms.CharField(
        label=gettext_lazy("Comment"),
        required=False,
        max_length=255,
        help_text=gettext_lazy("What changed, for the revision history."),
    )

    def __init__(self, *args: Any, channel: Any, defaults: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        fields: dict[str, forms.Field] = {}
        for part in channel_parts(channel):
            field_name = PART_FIELDS[part]
            single_line = part == "subject"
            has_default = field_name in defaults
            fields[field_name] = forms.CharField(
                label=part_label(channel, part),
                required=False,
                strip=False,
                widget=forms.Textarea(
                    attrs={
                        "rows": 2 if single_line else (18 if part == "html" else 8),
                        "class": "ou-code",
                        "spellcheck": "false",
                    }
                ),
                help_text=(
                    _("Blank: the default is used for this part.")
                    if has_default
                    else _("There is no default for this part: blank leaves it out.")
                ),
            )
        fields["comment"] = self.fields.pop("comment")
        self.fields.update(fields)

    def template_values(self) -> dict[str, str]:
        """The submitted parts (cleaned), as ``save_template`` takes them."""
        return {
            name: self.cleaned_data.get(name, "")
            for name in PART_FIELDS.values()
            if name in self.fields
        }


def diff_lines(old: str, new: str) -> list[tuple[str, str]]:
    """A unified diff as ``(kind, line)``: kind is "add", "remove", "hunk" or ""."""
    lines = []
    for line in difflib.unified_diff(
        old.splitlines(), new.splitlines(), lineterm="", n=2
    ):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "remove", "@": "hunk"}.get(line[:1], "")
        lines.append((kind, line))
    return lines


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(admin.ModelAdmin):
    """Notification templates per type × channel × language, and the type switches.

    Model permissions decide: ``view_notificationtemplate`` shows the screens and
    previews; ``change_notificationtemplate`` saves, restores, reverts and sends
    tests; ``change_notificationtypesetting`` turns types on and off.
    """

    def has_add_permission(self, request: Any) -> bool:
        # Templates are made by saving in the editor.
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        # "Revert to the default" keeps the history; nothing is deleted.
        return False

    def has_switch_permission(self, request: Any) -> bool:
        """Whether the user may turn notification types on and off."""
        opts = NotificationTypeSetting._meta
        return request.user.has_perm("%s.change_%s" % (opts.app_label, opts.model_name))

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path(
                "edit/<slug:type_code>/<slug:channel_name>/<str:language>/",
                wrap(self.editor_view),
                name="%s_%s_editor" % info,
            ),
            path(
                "edit/<slug:type_code>/<slug:channel_name>/<str:language>/preview/",
                wrap(self.preview_view),
                name="%s_%s_preview" % info,
            ),
            path(
                "revision/<int:revision_id>/",
                wrap(self.revision_view),
                name="%s_%s_revision" % info,
            ),
            path(
                "switch/",
                wrap(require_POST(self.switch_view)),
                name="%s_%s_switch" % info,
            ),
            *super().get_urls(),
        ]

    # The overview ------------------------------------------------------------------

    def changelist_view(self, request: Any, extra_context: Any = None) -> Any:
        """Every type × channel for a language: overridden or default, and the
        type's switch.
        """
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        languages = configured_languages()
        overridden = {
            (row.type, row.channel, row.language): row
            for row in NotificationTemplate.objects.filter(active=True).select_related(
                "updated_by"
            )
        }
        counts: dict[str, int] = {}
        for _type, _channel, code in overridden:
            counts[code] = counts.get(code, 0) + 1
        known = {code for code, _name in languages}
        languages += [
            (code, language_info_name(code))
            for code in sorted(counts)
            if code not in known
        ]
        language = normalize_language(request.GET.get("language", ""))
        if language not in dict(languages):
            language = shop_language(settings.LANGUAGE_CODE)
            if language not in dict(languages):
                languages.insert(0, (language, language_name(language)))
        channels = get_channels()
        switches = dict(NotificationTypeSetting.objects.values_list("type", "enabled"))
        rows = []
        for code, notification_type in get_notification_types().items():
            cells = []
            for name, channel in channels.items():
                template = overridden.get((code, name, language))
                cells.append(
                    {
                        "channel": channel,
                        "template": template,
                        "url": reverse(
                            "admin:order_updates_notificationtemplate_editor",
                            args=[code, name, language],
                        ),
                    }
                )
            rows.append(
                {
                    "type": notification_type,
                    "enabled": switches.get(code, notification_type.enabled),
                    "default_enabled": notification_type.enabled,
                    "cells": cells,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Notification templates"),
            "subtitle": None,
            "languages": [
                {
                    "code": code,
                    "name": name,
                    "count": counts.get(code, 0),
                    "current": code == language,
                }
                for code, name in languages
            ],
            "language": language,
            "language_name": language_name(language),
            "channels": list(channels.values()),
            "rows": rows,
            "can_switch": self.has_switch_permission(request),
            "switch_url": reverse("admin:order_updates_notificationtemplate_switch"),
            **(extra_context or {}),
        }
        return TemplateResponse(
            request, "admin/order_updates/notificationtemplate/overview.html", context
        )

    def switch_view(self, request: Any) -> Any:
        """Turn one notification type on or off (POST)."""
        if not self.has_switch_permission(request):
            raise PermissionDenied
        type_code = request.POST.get("type", "")
        notification_type = get_notification_types().get(type_code)
        if notification_type is None or request.POST.get("enabled") not in ("0", "1"):
            messages.error(request, _("Unknown notification type or switch."))
        else:
            enabled = request.POST["enabled"] == "1"
            NotificationTypeSetting.objects.update_or_create(
                type=type_code,
                defaults={"enabled": enabled, "updated_by": request.user},
            )
            message = (
                _("“%(type)s” notifications are on.")
                if enabled
                else _("“%(type)s” notifications are off: none will be sent.")
            )
            messages.success(request, message % {"type": notification_type.label})
        back = reverse("admin:order_updates_notificationtemplate_changelist")
        language = normalize_language(request.POST.get("language", ""))
        if language_candidates(language):
            back += "?language=%s" % language
        return HttpResponseRedirect(back)

    def change_view(
        self, request: Any, object_id: str, form_url: str = "", extra_context=None
    ) -> Any:
        """A template's own page is its editor."""
        template = get_object_or_404(NotificationTemplate, pk=object_id)
        return HttpResponseRedirect(self.editor_url(template))

    @staticmethod
    def editor_url(template: NotificationTemplate) -> str:
        return reverse(
            "admin:order_updates_notificationtemplate_editor",
            args=[template.type, template.channel, template.language],
        )

    # The editor --------------------------------------------------------------------

    def _resolve(self, type_code: str, channel_name: str, language: str) -> tuple:
        notification_type = get_notification_types().get(type_code)
        channel = get_channels().get(channel_name)
        language = normalize_language(language)
        if notification_type is None or channel is None:
            raise Http404(_("No such notification type or channel."))
        if not language_candidates(language):
            raise Http404(_("Invalid language code."))
        return notification_type, channel, language

    def _sample_status(self, request: Any, type_code: str) -> str:
        """The status of the sample order the merchant chose (the type's usual
        one if none, or one the pipeline does not have)."""
        chosen = request.POST.get("preview_status", "")
        return chosen if chosen in get_pipeline().statuses else sample_status(type_code)

    def _preview_order(self, request: Any) -> tuple[Any, str]:
        """The order a preview or test send uses (by number), or None; an error."""
        number = (request.POST.get("preview_order") or "").strip()
        if not number:
            return None, ""
        adapter = get_adapter()
        opts = adapter.get_order_model()._meta
        if not any(
            request.user.has_perm(
                "%s.%s_%s" % (opts.app_label, action, opts.model_name)
            )
            for action in ("view", "change")
        ):
            # An order's data is the customer's: only for staff who may see orders.
            return None, _("You may not view orders: preview with sample data.")
        # As typed, else ignoring case (as from an email or a support ticket).
        order = adapter.get_order_by_number(number) or adapter.find_order(number)
        if order is None:
            return None, _("There is no order %(number)s.") % {"number": number}
        return order, ""

    def editor_view(
        self, request: Any, type_code: str, channel_name: str, language: str
    ) -> Any:
        """Edit, save, test-send, restore and revert one type × channel × language."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        notification_type, channel, language = self._resolve(
            type_code, channel_name, language
        )
        can_edit = self.has_change_permission(request)
        template = NotificationTemplate.objects.filter(
            type=type_code, channel=channel.name, language=language
        ).first()
        defaults = {
            PART_FIELDS[part]: source.text
            for part, source in file_sources(type_code, channel, language).items()
        }
        if template is not None and template.active:
            initial = {
                field: getattr(template, field)
                for field in PART_FIELDS.values()
                if FIELD_PARTS[field] in channel.parts
            }
        else:
            initial = dict(defaults)
        here = request.get_full_path()
        order_error = ""
        form = TemplateForm(channel=channel, defaults=defaults, initial=initial)
        if request.method == "POST":
            if not can_edit:
                raise PermissionDenied
            form = TemplateForm(request.POST, channel=channel, defaults=defaults)
            if "_revert" in request.POST:
                reverted = revert_to_default(
                    type_code, channel, language, user=request.user
                )
                if reverted is not None:
                    messages.success(
                        request, _("Reverted: the default template is used again.")
                    )
                return HttpResponseRedirect(here)
            if "_restore" in request.POST:
                revision = get_object_or_404(
                    NotificationTemplateRevision,
                    pk=request.POST["_restore"],
                    template__type=type_code,
                    template__channel=channel.name,
                    template__language=language,
                )
                try:
                    restore_revision(revision, channel, user=request.user)
                except TemplateValidationError as exc:
                    messages.error(
                        request,
                        _("Revision #%(id)s no longer validates: %(errors)s")
                        % {
                            "id": revision.pk,
                            "errors": " ".join(
                                " ".join(problems) for problems in exc.errors.values()
                            ),
                        },
                    )
                else:
                    messages.success(
                        request, _("Revision #%(id)s restored.") % {"id": revision.pk}
                    )
                return HttpResponseRedirect(here)
            if form.is_valid() and "_send_test" in request.POST:
                order, order_error = self._preview_order(request)
                if not order_error:
                    try:
                        sent = send_proof(
                            type_code,
                            channel,
                            language,
                            request.user,
                            order=order,
                            sample_status=self._sample_status(request, type_code),
                            **form.template_values(),
                        )
                    except (NoTestAddress, TemplateError, ChannelError) as exc:
                        messages.error(request, _("The test was not sent: %s") % exc)
                    else:
                        messages.success(
                            request,
                            _("Test sent to %(addresses)s.")
                            % {"addresses": ", ".join(address for address, _r in sent)},
                        )
            elif form.is_valid():
                try:
                    save_template(
                        type_code,
                        channel,
                        language,
                        user=request.user,
                        comment=form.cleaned_data["comment"],
                        **form.template_values(),
                    )
                except TemplateValidationError as exc:
                    for field, problems in exc.errors.items():
                        target = field if field in form.fields else None
                        for problem in problems:
                            form.add_error(target, problem)
                    messages.error(request, _("Not saved: please correct the errors."))
                else:
                    messages.success(
                        request,
                        _("Saved: %(type)s by %(channel)s in %(language)s now uses it.")
                        % {
                            "type": notification_type.label,
                            "channel": channel.label,
                            "language": language_name(language),
                        },
                    )
                    return HttpResponseRedirect(here)
        revisions = list(
            NotificationTemplateRevision.objects.filter(
                template__type=type_code,
                template__channel=channel.name,
                template__language=language,
            ).select_related("created_by")[:50]
        )
        staff_addresses = channel.staff_recipients(request.user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("%(type)s by %(channel)s, %(language)s")
            % {
                "type": notification_type.label,
                "channel": channel.label,
                "language": language_name(language),
            },
            "subtitle": None,
            "notification_type": notification_type,
            "channel": channel,
            "language": language,
            "template": template,
            "overridden": template is not None and template.active,
            "form": form,
            "can_edit": can_edit,
            "revisions": revisions,
            "variables": variables(type_code, channel.name),
            "preview_url": reverse(
                "admin:order_updates_notificationtemplate_preview",
                args=[type_code, channel.name, language],
            ),
            "overview_url": "%s?language=%s"
            % (
                reverse("admin:order_updates_notificationtemplate_changelist"),
                language,
            ),
            "staff_addresses": staff_addresses,
            "staff_recipients_hint": (
                "" if staff_addresses else channel.staff_recipients_hint(request.user)
            ),
            "preview_order": request.POST.get("preview_order", ""),
            "order_error": order_error,
            "sample_statuses": [
                (status.code, status.label) for status in get_pipeline()
            ],
            "sample_status": self._sample_status(request, type_code),
            "counts_segments": channel.segments("") is not None,
        }
        return TemplateResponse(
            request, "admin/order_updates/notificationtemplate/editor.html", context
        )

    @xframe_options_sameorigin
    def preview_view(
        self, request: Any, type_code: str, channel_name: str, language: str
    ) -> Any:
        """The rendered template, as a document of its own for the sandboxed frame.

        POST: the editor's unsaved text; GET: what is in use now. Framed only by
        the admin's own pages, and sandboxed by its CSP even when opened alone.
        """
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        _type, channel, language = self._resolve(type_code, channel_name, language)
        values: dict[str, Any] = {}
        order, error = None, ""
        if request.method == "POST":
            form = TemplateForm(request.POST, channel=channel, defaults={})
            if form.is_valid():
                values = form.template_values()
            order, error = self._preview_order(request)
        rendered: dict[str, str] = {}
        if not error:
            try:
                rendered = preview(
                    type_code,
                    channel,
                    language,
                    order=order,
                    sample_status=self._sample_status(request, type_code),
                    **values,
                )
            except TemplateError as exc:
                error = str(exc)
        parts = []
        for part in channel_parts(channel):
            if part == "html":
                continue
            text = rendered.get(part, "")
            if part == "text":
                text = channel.complete_text(text, rendered.get("url", ""))
            segments = channel.segments(text) if part == "text" else None
            parts.append(
                {
                    "label": part_label(channel, part),
                    "text": text,
                    "segments": segments,
                    "characters": len(text),
                }
            )
        context = {
            "title": _("Preview"),
            "error": error,
            "parts": parts,
            "html": rendered.get("html", ""),
            "has_html": "html" in channel.parts,
            "url": rendered.get("url", ""),
            "order": order,
            "order_number": get_adapter().get_number(order) if order else "",
        }
        response = TemplateResponse(
            request, "admin/order_updates/notificationtemplate/preview.html", context
        )
        response["Content-Security-Policy"] = SANDBOX_POLICY
        response["Referrer-Policy"] = "no-referrer"
        return response

    def revision_view(self, request: Any, revision_id: int) -> Any:
        """One revision, and what it changed against the one before it."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        revision = get_object_or_404(
            NotificationTemplateRevision.objects.select_related(
                "template", "created_by"
            ),
            pk=revision_id,
        )
        template = revision.template
        previous = (
            NotificationTemplateRevision.objects.filter(
                template=template, pk__lt=revision.pk
            )
            .order_by("-pk")
            .first()
        )
        channel = get_channels().get(template.channel)
        parts = [
            part
            for part in PART_FIELDS
            if channel is None or part in channel_parts(channel)
        ]
        changes = []
        for part in parts:
            field = PART_FIELDS[part]
            old = getattr(previous, field) if previous else ""
            new = getattr(revision, field)
            lines = diff_lines(old, new)
            changes.append(
                {
                    "label": (
                        part_label(channel, part) if channel else PART_LABELS[part]
                    ),
                    "lines": lines,
                    "changed": bool(lines),
                }
            )
        notification_type = get_notification_types().get(template.type)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Revision #%(id)s") % {"id": revision.pk},
            "subtitle": None,
            "revision": revision,
            "previous": previous,
            "changes": changes,
            "template": template,
            "editor_title": _("%(type)s by %(channel)s, %(language)s")
            % {
                "type": notification_type.label if notification_type else template.type,
                "channel": channel.label if channel else template.channel,
                "language": language_name(template.language),
            },
            "editor_url": self.editor_url(template),
            "can_edit": self.has_change_permission(request) and channel is not None,
        }
        return TemplateResponse(
            request, "admin/order_updates/notificationtemplate/revision.html", context
        )
