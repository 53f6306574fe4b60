"""Orders in the admin: status, timeline, status changes, shipments and notes.

:class:`OrderUpdatesAdminMixin` goes into the shop's own ``OrderAdmin`` in one
line; :class:`OrderUpdatesAdmin` is a standalone "order statuses" page for shops
that prefer one. Every change goes through :mod:`order_updates.services` with the
staff member as the actor, so the timeline and the notifications follow.

Who may do what is decided by Django model permissions of order_updates' own
models (superusers have them all); without them the screens are read-only:

- change statuses (one order or in bulk): ``order_updates.change_orderstate``;
- add shipments: ``order_updates.add_shipment``; edit them:
  ``order_updates.change_shipment``;
- add notes: ``order_updates.add_orderevent``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import get_fields_from_path, unquote
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models, transaction
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from order_updates import services
from order_updates.admin.order_forms import (
    OTHER_CARRIER,
    BulkStatusForm,
    NoteForm,
    ShipmentForm,
    StatusChangeForm,
)
from order_updates.admin.order_preview import (
    last_sequence,
    preview_change,
    queued_after,
)
from order_updates.carriers.monitoring import late_shipments, stuck_shipments
from order_updates.carriers.registry import carrier_name
from order_updates.conf import get_order_model
from order_updates.core.adapter import get_adapter
from order_updates.core.progress import get_order_progress
from order_updates.core.shipments import UPDATABLE_FIELDS as SHIPMENT_FIELDS
from order_updates.core.status import skip_reason
from order_updates.core.tracking import estimate_words, status_words
from order_updates.exceptions import OrderUpdatesError
from order_updates.models import (
    EventKind,
    Notification,
    OrderEvent,
    OrderState,
    Shipment,
    TrackingEvent,
)
from order_updates.notifications.channels import get_channels
from order_updates.notifications.types import merchant_switches, type_for_event
from order_updates.pipeline import get_pipeline

#: The permission each kind of change needs (``app_label.codename``).
PERMISSIONS = {
    "status": "order_updates.change_orderstate",
    "add_shipment": "order_updates.add_shipment",
    "change_shipment": "order_updates.change_shipment",
    "note": "order_updates.add_orderevent",
}


def staff_member(request: HttpRequest) -> AbstractBaseUser:
    """The logged-in staff member: the actor of every change made here."""
    user = request.user
    if not isinstance(user, AbstractBaseUser):  # admin views require a login
        raise PermissionDenied
    return user


class StatusListFilter(admin.SimpleListFilter):
    """Filter by current status, with the pipeline's labels."""

    title = _("order status")
    parameter_name = "order_updates_status"

    def __init__(self, request, params, model, model_admin):
        self.lookup = model_admin.order_updates_lookup("status")
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return get_pipeline().choices()

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.lookup: self.value()})
        return queryset


class ShipmentProblemFilter(admin.SimpleListFilter):
    """Orders with a late shipment (past its estimated delivery) or a stuck one
    (no scan for the carrier's stuck days), as the periodic checks define them.
    """

    title = _("shipments")
    parameter_name = "order_updates_shipments"

    def __init__(self, request, params, model, model_admin):
        self.lookup = model_admin.order_updates_order_prefix + "pk__in"
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [
            ("late", _("Late: past the estimated delivery")),
            ("stuck", _("Stuck: no carrier scan for too long")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "late":
            shipments = late_shipments()
        elif self.value() == "stuck":
            shipments = stuck_shipments()
        else:
            return queryset
        return queryset.filter(**{self.lookup: shipments.values("order_id")})


class OrderUpdatesAdminMixin:
    """Adds order_updates to a ``ModelAdmin`` of the shop's order model.

    In the list: the current status (its label) with a filter, search by order
    number and customer email, and a bulk "set status" action. On the change
    page: the status, the timeline with the messages each event caused, the
    shipments, and buttons to change the status, add or edit a shipment and add
    a note, each as permissions allow.
    """

    #: The page that shows the status panel and the timeline; a shop with its own
    #: template includes ``admin/order_updates/order_panel.html`` and
    #: ``admin/order_updates/timeline.html`` in it instead.
    change_form_template: Any = "admin/order_updates/change_form.html"

    #: Where the state row is, seen from this admin's model (a lookup prefix).
    order_updates_state_prefix = "order_updates_state__"
    #: Where the order is, seen from this admin's model ('' for the order itself).
    order_updates_order_prefix = ""

    # Reaching the orders -----------------------------------------------------------

    def order_updates_lookup(self, name: str) -> str:
        """The lookup of the state row's field ``name`` from this admin's model."""
        return self.order_updates_state_prefix + name

    def get_order_updates_order(self, obj: models.Model) -> models.Model:
        """The order an object of this admin is about."""
        return obj

    def get_order_updates_orders(self, queryset: models.QuerySet) -> models.QuerySet:
        """The orders of a queryset of this admin's model."""
        return queryset

    # The list ----------------------------------------------------------------------

    @admin.display(description=_("status"))
    def order_updates_status(self, obj: models.Model) -> str:
        """The current status's label ('-' for an order not tracked yet)."""
        state = self._state_of(obj)
        return str(state.status_info.label) if state is not None else "-"

    @admin.display(description=_("status changed"))
    def order_updates_status_changed_at(self, obj: models.Model) -> Any:
        state = self._state_of(obj)
        return state.status_changed_at if state is not None else None

    def _state_of(self, obj: models.Model) -> OrderState | None:
        if isinstance(obj, OrderState):
            return obj
        try:
            return obj.order_updates_state  # type: ignore[attr-defined]
        except OrderState.DoesNotExist:
            return None

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))  # type: ignore[misc]
        if "order_updates_status" not in columns:
            columns.append("order_updates_status")
        return columns

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))  # type: ignore[misc]
        if StatusListFilter not in filters:
            filters.insert(0, StatusListFilter)
        if ShipmentProblemFilter not in filters:
            filters.insert(1, ShipmentProblemFilter)
        return filters

    def get_search_fields(self, request):
        fields = list(super().get_search_fields(request))  # type: ignore[misc]
        for lookup in self.order_updates_search_paths():
            if lookup not in fields:
                fields.append(lookup)
        return fields

    def order_updates_search_paths(self) -> list[str]:
        """The order number and customer email, as the adapter maps them.

        Only paths of database fields (a property cannot be searched); the
        email falls back to the customer account's email when the order has no
        email field of its own (or maps a property). An adapter's
        ``email_search_paths`` names the fields outright (Oscar's: the guest's
        address and the account's).
        """
        adapter = get_adapter()
        model = get_order_model()
        candidates = [adapter.order_fields.get("number") or "pk"]
        email = adapter.order_fields.get("email")
        user = adapter.order_fields.get("user")
        account_email = "%s__email" % user if isinstance(user, str) and user else ""
        paths = getattr(adapter, "email_search_paths", None)
        if paths:
            candidates.extend(paths)
        elif isinstance(email, str) and email and _is_field_path(model, email):
            candidates.append(email)
        else:
            candidates.append(account_email)
        found = []
        for candidate in candidates:
            if (
                candidate
                and isinstance(candidate, str)
                and _is_field_path(model, candidate)
            ):
                lookup = self.order_updates_order_prefix + candidate
                found.append("=" + lookup if candidate == "pk" else lookup)
        return found

    def get_queryset(self, request):
        queryset = super().get_queryset(request)  # type: ignore[misc]
        if self.order_updates_state_prefix:
            queryset = queryset.select_related(self.order_updates_state_prefix[:-2])
        return queryset

    # The bulk action ---------------------------------------------------------------

    def get_actions(self, request):
        actions = super().get_actions(request)  # type: ignore[misc]
        if self.actions is None or IS_POPUP_VAR in request.GET:  # type: ignore[attr-defined]
            return actions  # the admin turned actions off, or a popup
        if self.has_order_updates_status_permission(request):
            action = type(self).order_updates_set_status
            actions["order_updates_set_status"] = (
                action,
                "order_updates_set_status",
                action.short_description,  # type: ignore[attr-defined]
            )
        return actions

    @admin.action(description=_("Set the status of the selected orders"))
    def order_updates_set_status(
        self, request: HttpRequest, queryset: models.QuerySet
    ) -> HttpResponse | None:
        """Choose a status, review what will change and what not, confirm."""
        if not self.has_order_updates_status_permission(request):
            raise PermissionDenied
        orders = self.get_order_updates_orders(queryset)
        step = request.POST.get("order_updates_step", "")
        form = BulkStatusForm(request.POST if step else None)
        summary = None
        fingerprint = ""
        if step in ("review", "confirm") and form.is_valid():
            status = form.cleaned_data["status"]
            fingerprint = selection_fingerprint(orders)
            if step == "confirm" and (
                request.POST.get("order_updates_selection") != fingerprint
            ):
                # "Select all" runs the list's query again: orders placed since
                # the review, or changed by someone else, are not what the
                # merchant confirmed. Show the review again instead.
                self.message_user(  # type: ignore[attr-defined]
                    request,
                    _(
                        "The selected orders changed since your review (orders "
                        "were added, removed or changed status): nothing was "
                        "changed. Check the review below and confirm again."
                    ),
                    messages.ERROR,
                )
                step = "review"
            if step == "confirm":
                result = services.bulk_set_status(
                    orders,
                    status,
                    actor=staff_member(request),
                    message=form.cleaned_data["message"],
                    note=form.cleaned_data["note"],
                    notify=form.cleaned_data["notify"],
                )
                self._report_bulk(request, status, result)
                if (
                    result.changed
                    and form.cleaned_data["message"]
                    and form.cleaned_data["notify"]
                    and status_notification(status) is None
                ):
                    self.message_user(  # type: ignore[attr-defined]
                        request,
                        _(
                            "Your message to the customers shows on their order "
                            "pages, but no notification was sent with it: a change "
                            "to “%(status)s” sends none."
                        )
                        % {"status": get_pipeline().get(status).label},
                        messages.WARNING,
                    )
                return None
            summary = bulk_summary(orders, status)
        opts = self.model._meta  # type: ignore[attr-defined]
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": _("Set the status of the selected orders"),
            "opts": opts,
            "form": form,
            "summary": summary,
            "selected_count": orders.count() if summary is None else None,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "fingerprint": fingerprint,
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,  # type: ignore[attr-defined]
        }
        return TemplateResponse(
            request, "admin/order_updates/bulk_status.html", context
        )

    def _report_bulk(
        self, request: HttpRequest, status: str, result: services.BulkResult
    ) -> None:
        label = get_pipeline().get(status).label
        changed = len(result.changed)
        self.message_user(  # type: ignore[attr-defined]
            request,
            ngettext(
                "%(count)d order set to “%(status)s”.",
                "%(count)d orders set to “%(status)s”.",
                changed,
            )
            % {"count": changed, "status": label},
            messages.SUCCESS if changed else messages.WARNING,
        )
        if result.skipped:
            reasons = Counter(result.skipped.values())
            self.message_user(  # type: ignore[attr-defined]
                request,
                ngettext(
                    "%(count)d order left unchanged: %(reasons)s",
                    "%(count)d orders left unchanged: %(reasons)s",
                    len(result.skipped),
                )
                % {
                    "count": len(result.skipped),
                    "reasons": "; ".join(
                        "%s (%d)" % (reason, count)
                        for reason, count in reasons.most_common()
                    ),
                },
                messages.WARNING,
            )

    # Permissions -------------------------------------------------------------------

    def has_order_updates_status_permission(self, request, obj=None) -> bool:
        """May change statuses (``order_updates.change_orderstate``)."""
        return request.user.has_perm(PERMISSIONS["status"])

    def has_order_updates_add_shipment_permission(self, request, obj=None) -> bool:
        """May add shipments (``order_updates.add_shipment``)."""
        return request.user.has_perm(PERMISSIONS["add_shipment"])

    def has_order_updates_change_shipment_permission(self, request, obj=None) -> bool:
        """May edit shipments (``order_updates.change_shipment``)."""
        return request.user.has_perm(PERMISSIONS["change_shipment"])

    def has_order_updates_note_permission(self, request, obj=None) -> bool:
        """May add notes (``order_updates.add_orderevent``)."""
        return request.user.has_perm(PERMISSIONS["note"])

    # The change page ---------------------------------------------------------------

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None and not add:
            context["order_updates"] = self.order_updates_panel(request, obj)
        return super().render_change_form(  # type: ignore[misc]
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    def order_updates_panel(self, request: HttpRequest, obj: models.Model) -> dict:
        """What the change page shows: status, actions, shipments, timeline."""
        order = self.get_order_updates_order(obj)
        state = OrderState.objects.filter(order_id=order.pk).first()
        url = self._order_updates_url
        allowed = {
            "status": self.has_order_updates_status_permission(request, obj),
            "add_shipment": self.has_order_updates_add_shipment_permission(
                request, obj
            ),
            "change_shipment": self.has_order_updates_change_shipment_permission(
                request, obj
            ),
            "note": self.has_order_updates_note_permission(request, obj),
        }
        shipments = list(
            Shipment.objects.filter(order_id=order.pk).order_by("created_at", "pk")
        )
        latest_scans = newest_scans(shipments)
        for shipment in shipments:
            shipment.latest_scan = latest_scans.get(shipment.pk)  # type: ignore[attr-defined]
            shipment.carrier_label = carrier_name(  # type: ignore[attr-defined]
                shipment.carrier, shipment.carrier_name
            )
            shipment.edit_url = (  # type: ignore[attr-defined]
                url("change_shipment", obj, shipment.pk)
                if allowed["change_shipment"]
                else ""
            )
        entries = timeline(order, request)
        return {
            "state": state,
            "status": state.status_info if state is not None else None,
            "allowed": allowed,
            "status_url": url("status", obj) if allowed["status"] else "",
            "add_shipment_url": url("add_shipment", obj)
            if allowed["add_shipment"]
            else "",
            "add_note_url": url("add_note", obj) if allowed["note"] else "",
            "shipments": shipments,
            "timeline": entries,
            "progress": get_order_progress(
                state.status, [entry["event"] for entry in reversed(entries)]
            )
            if state is not None
            else None,
        }

    def _order_updates_url(self, name: str, obj: models.Model, *args: Any) -> str:
        opts = self.model._meta  # type: ignore[attr-defined]
        return reverse(
            "%s:%s_%s_order_updates_%s"
            % (self.admin_site.name, opts.app_label, opts.model_name, name),  # type: ignore[attr-defined]
            args=[obj.pk, *args],
        )

    def get_urls(self):
        opts = self.model._meta  # type: ignore[attr-defined]
        prefix = "%s_%s_order_updates_" % (opts.app_label, opts.model_name)
        wrap = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path(
                "<path:object_id>/order-updates/status/",
                wrap(self.order_updates_status_view),
                name=prefix + "status",
            ),
            path(
                "<path:object_id>/order-updates/shipments/add/",
                wrap(self.order_updates_shipment_view),
                name=prefix + "add_shipment",
            ),
            path(
                "<path:object_id>/order-updates/shipments/<int:shipment_id>/",
                wrap(self.order_updates_shipment_view),
                name=prefix + "change_shipment",
            ),
            path(
                "<path:object_id>/order-updates/notes/add/",
                wrap(self.order_updates_note_view),
                name=prefix + "add_note",
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    # The views ---------------------------------------------------------------------

    def _order_updates_object(
        self, request: HttpRequest, object_id: str, permission: str
    ) -> tuple[models.Model, models.Model]:
        """The admin's object and its order, if the user may see it and act."""
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None:
            raise Http404(_("This order does not exist."))
        if not self.has_view_or_change_permission(request, obj):  # type: ignore[attr-defined]
            raise PermissionDenied
        if not getattr(self, "has_order_updates_%s_permission" % permission)(
            request, obj
        ):
            raise PermissionDenied
        return obj, self.get_order_updates_order(obj)

    def _change_page(self, obj: models.Model) -> str:
        opts = self.model._meta  # type: ignore[attr-defined]
        return reverse(
            "%s:%s_%s_change" % (self.admin_site.name, opts.app_label, opts.model_name),  # type: ignore[attr-defined]
            args=[obj.pk],
        )

    def _render(
        self, request: HttpRequest, template: str, obj: models.Model, **context: Any
    ) -> TemplateResponse:
        opts = self.model._meta  # type: ignore[attr-defined]
        order = self.get_order_updates_order(obj)
        state = OrderState.objects.filter(order_id=order.pk).first()
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),  # type: ignore[attr-defined]
                "opts": opts,
                "original": obj,
                "order_number": get_adapter().get_number(order),
                "change_url": self._change_page(obj),
                "status": state.status_info if state is not None else None,
                "media": self.media,  # type: ignore[attr-defined]
                **context,
            },
        )

    def order_updates_status_view(
        self, request: HttpRequest, object_id: str
    ) -> HttpResponse:
        """Change one order's status: choose, preview what is sent, confirm."""
        obj, order = self._order_updates_object(request, object_id, "status")
        current = services.get_status(order)
        current_code = (
            current.code if current else get_adapter().get_initial_status(order)
        )
        posted = request.method == "POST" and "_edit" not in request.POST
        form = StatusChangeForm(
            request.POST if request.method == "POST" else None,
            current_status=current_code,
        )
        preview = None
        if posted and form.is_valid():
            data = form.cleaned_data

            def change():
                return services.set_status(
                    order,
                    data["status"],
                    actor=staff_member(request),
                    message=data["message"],
                    note=data["note"],
                    notify=data["notify"],
                )

            try:
                if "_confirm" in request.POST:
                    change()
                    self.message_user(  # type: ignore[attr-defined]
                        request,
                        _("The status is now “%(status)s”.")
                        % {"status": get_pipeline().get(data["status"]).label},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(self._change_page(obj))
                preview = preview_change(order, change)
            except OrderUpdatesError as exc:
                form.add_error(None, str(exc))
        return self._render(
            request,
            "admin/order_updates/status_form.html",
            obj,
            title=_("Change the status of order %(number)s")
            % {"number": get_adapter().get_number(order)},
            form=form,
            preview=preview,
            new_status=get_pipeline().get_or_retired(form.cleaned_data["status"])
            if preview is not None
            else None,
        )

    def order_updates_shipment_view(
        self, request: HttpRequest, object_id: str, shipment_id: int | None = None
    ) -> HttpResponse:
        """Add a shipment (its items, numbers, estimate; maybe moving the order
        on), or correct one; all or nothing, service errors shown on the form.
        """
        permission = "add_shipment" if shipment_id is None else "change_shipment"
        obj, order = self._order_updates_object(request, object_id, permission)
        shipment = None
        current_status = None
        initial: dict[str, Any] = {}
        lines: dict[str, tuple[str, int]] = {}
        if shipment_id is not None:
            shipment = get_object_or_404(
                Shipment.objects.prefetch_related("more_tracking_numbers"),
                pk=shipment_id,
                order_id=order.pk,
            )
            initial = shipment_initial(shipment)
        else:
            current = services.get_status(order)
            current_status = (
                current.code if current else get_adapter().get_initial_status(order)
            )
        lines = order_lines(order)
        form = ShipmentForm(
            request.POST if request.method == "POST" else None,
            initial=initial,
            current_status=current_status,
            lines=lines,
            adding=shipment is None,
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            common = {
                "actor": staff_member(request),
                "message": data["message"],
                "note": data["note"],
                "notify": data["notify"],
            }
            before = last_sequence(order)
            try:
                with transaction.atomic():
                    if shipment is None:
                        services.add_shipment(
                            order,
                            **form.shipment_fields(),
                            more_tracking_numbers=form.more_tracking_numbers(),
                            items=form.items(),
                            estimated_delivery=form.estimate(),
                            status=data["status"] or None,
                            **common,
                        )
                        done = _("The shipment was added.")
                    else:
                        event = services.update_shipment(
                            shipment,
                            **form.shipment_fields(),
                            more_tracking_numbers=form.more_tracking_numbers(),
                            items=form.items() or [],
                            **common,
                        )
                        estimate = form.estimate()
                        if estimate is not None and form.estimate_changed():
                            event = (
                                services.set_estimated_delivery(
                                    shipment,
                                    *estimate,
                                    actor=common["actor"],
                                    notify=data["notify"],
                                )
                                or event
                            )
                        done = (
                            _("The shipment was changed.")
                            if event
                            else _("Nothing was changed.")
                        )
            except OrderUpdatesError as exc:
                form.add_service_error(exc)
            else:
                self.message_user(request, done, messages.SUCCESS)  # type: ignore[attr-defined]
                if data["message"] and data["notify"]:
                    self._warn_if_unsent(request, order, before)
                return HttpResponseRedirect(self._change_page(obj))
        number = get_adapter().get_number(order)
        title = (
            _("Add a shipment to order %(number)s")
            if shipment is None
            else _("Change a shipment of order %(number)s")
        )
        return self._render(
            request,
            "admin/order_updates/shipment_form.html",
            obj,
            title=title % {"number": number},
            form=form,
            shipment=shipment,
        )

    def _warn_if_unsent(
        self, request: HttpRequest, order: models.Model, before: int
    ) -> None:
        """Say so when the customer's message went nowhere but the order page
        (the change sent no notification), so staff can reach them otherwise.
        """
        if not queued_after(order, before):
            self.message_user(  # type: ignore[attr-defined]
                request,
                _(
                    "Your message to the customer shows on their order page, but "
                    "no notification was sent with it: this notification type is "
                    "off, or the customer has no address or opted out on every "
                    "channel."
                ),
                messages.WARNING,
            )

    def order_updates_note_view(
        self, request: HttpRequest, object_id: str
    ) -> HttpResponse:
        """Add a note: for the customer (and maybe a message), or staff only."""
        obj, order = self._order_updates_object(request, object_id, "note")
        form = NoteForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            before = last_sequence(order)
            try:
                services.add_note(
                    order,
                    form.cleaned_data["text"],
                    public=form.public,
                    notify=form.cleaned_data["notify"],
                    actor=staff_member(request),
                )
            except OrderUpdatesError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(  # type: ignore[attr-defined]
                    request, _("The note was added."), messages.SUCCESS
                )
                if form.public and form.cleaned_data["notify"]:
                    self._warn_if_unsent(request, order, before)
                return HttpResponseRedirect(self._change_page(obj))
        return self._render(
            request,
            "admin/order_updates/note_form.html",
            obj,
            title=_("Add a note to order %(number)s")
            % {"number": get_adapter().get_number(order)},
            form=form,
        )


def _is_field_path(model: type[models.Model], path: str) -> bool:
    """Whether ``path`` leads through ``model``'s fields to a database column."""
    try:
        fields = get_fields_from_path(model, path)
    except (FieldDoesNotExist, admin.utils.NotRelationField):
        return False
    return bool(fields) and not fields[-1].is_relation


def selection_fingerprint(orders: models.QuerySet) -> str:
    """What a bulk review showed, in short: the orders and their statuses. The
    confirm step changes nothing when it differs."""
    rows = orders.order_by("pk").values_list("pk", "order_updates_state__status")
    digest = hashlib.sha256()
    for pk, status in rows.iterator(chunk_size=2000):
        digest.update(("%s\x00%s\x01" % (pk, status)).encode())
    return digest.hexdigest()[:32]


def shipment_initial(shipment: Shipment) -> dict[str, Any]:
    """The shipment form's initial values for ``shipment``."""
    initial = {name: getattr(shipment, name) for name in SHIPMENT_FIELDS}
    if not shipment.carrier and shipment.carrier_name:
        initial["carrier"] = OTHER_CARRIER
    initial["estimated_earliest"] = shipment.estimated_delivery_from
    initial["estimated_latest"] = shipment.estimated_delivery_to
    initial["more_tracking_numbers"] = "\n".join(
        number.number for number in shipment.more_tracking_numbers.all()
    )
    for item in shipment.items or []:
        initial[ShipmentForm.item_field(str(item["line"]))] = item["quantity"]
    return initial


def order_lines(order: models.Model) -> dict[str, tuple[str, int]]:
    """The order's lines for the shipment form: key → (name, quantity ordered)."""
    adapter = get_adapter()
    names = adapter.get_line_names(order)
    return {
        key: (names.get(key) or key, quantity)
        for key, quantity in adapter.get_line_quantities(order).items()
    }


def newest_scans(shipments: list[Shipment]) -> dict[int, TrackingEvent]:
    """Each shipment's newest scan by shipment pk, in one query."""
    if not shipments:
        return {}
    newest = (
        TrackingEvent.objects.filter(shipment=OuterRef("shipment"))
        .order_by("-occurred_at", "-pk")
        .values("pk")[:1]
    )
    scans = TrackingEvent.objects.filter(
        shipment_id__in=[shipment.pk for shipment in shipments],
        pk=Subquery(newest),
    )
    return {scan.shipment_id: scan for scan in scans}


#: Order numbers a bulk review shows per reason an order is left unchanged.
SKIPPED_NUMBERS_SHOWN = 10


def bulk_summary(orders: models.QuerySet, status: str) -> dict[str, Any]:
    """How many of ``orders`` a bulk move to ``status`` changes, and which it
    skips, why: counted by current status in one query (plus one for orders not
    tracked yet, whose starting status the adapter decides).
    """
    pipeline = get_pipeline()
    target = pipeline.get(status)
    by_status: Counter[str] = Counter()
    rows = (
        orders.order_by()
        .values_list("order_updates_state__status")
        .annotate(count=Count("pk"))
    )
    for code, count in rows:
        if code is not None:
            by_status[code] += count
    if any(code is None for code, _count in rows):
        adapter = get_adapter()
        untracked = orders.filter(order_updates_state__isnull=True).order_by()
        for order in untracked.iterator():
            by_status[adapter.get_initial_status(order)] += 1
    changing = 0
    skipped: Counter[str] = Counter()
    codes: dict[str, list[str]] = {}
    for code, count in by_status.items():
        reason = skip_reason(pipeline, code, target)
        if reason:
            skipped[reason] += count
            codes.setdefault(reason, []).append(code)
        else:
            changing += count
    # Which orders, not only how many: the first few of each reason (one query
    # per reason), so the merchant can find them.
    adapter = get_adapter()
    rows_skipped = []
    for reason, count in skipped.most_common():
        some = orders.filter(order_updates_state__status__in=codes[reason]).order_by(
            "pk"
        )[:SKIPPED_NUMBERS_SHOWN]
        numbers = [adapter.get_number(order) for order in some]
        rows_skipped.append((reason, count, numbers, count - len(numbers)))
    return {
        "status": target,
        "changing": changing,
        "skipped": rows_skipped,
        "skipped_count": sum(skipped.values()),
        "total": changing + sum(skipped.values()),
        "sends": status_notification(status),
    }


def status_notification(status: str) -> Any:
    """The notification type a change to ``status`` sends (the merchant's
    switches applied), or None when it sends none.
    """
    change = OrderEvent(kind=EventKind.STATUS_CHANGED, to_status=status)
    return type_for_event(change, merchant_switches())


def timeline(order: models.Model, request: HttpRequest) -> list[dict[str, Any]]:
    """The order's events, newest first, with labels, actor and the messages
    each caused (linked to the notification log where the user may see it).
    """
    pipeline = get_pipeline()
    channels = get_channels()
    may_see_log = request.user.has_perm("order_updates.view_notification") or (
        request.user.has_perm("order_updates.change_notification")
    )
    events = (
        OrderEvent.objects.filter(order_id=order.pk)
        .select_related("actor_user")
        .prefetch_related(
            Prefetch("notifications", queryset=Notification.objects.order_by("pk"))
        )
        .order_by("-sequence")
    )
    entries = []
    for event in events:
        sent = []
        for row in event.notifications.all():
            channel = channels.get(row.channel)
            link = ""
            if may_see_log:
                try:
                    link = reverse(
                        "admin:order_updates_notification_change", args=[row.pk]
                    )
                except NoReverseMatch:
                    link = ""
            sent.append(
                {
                    "channel": channel.label if channel else row.channel,
                    "recipient": row.recipient,
                    "state": row.get_state_display(),
                    "state_code": row.state,
                    "reason": row.reason or row.last_error,
                    "url": link,
                }
            )
        data = event.data or {}
        entries.append(
            {
                "event": event,
                "kind": event.get_kind_display(),
                "from_status": pipeline.get_or_retired(event.from_status).label
                if event.from_status
                else "",
                "to_status": pipeline.get_or_retired(event.to_status).label
                if event.to_status
                else "",
                "is_status": event.kind
                in (EventKind.STATUS_CHANGED, EventKind.TRACKING_STARTED),
                "carrier": carrier_name(data.get("carrier", ""))
                if event.kind in (EventKind.SHIPMENT_ADDED, EventKind.SHIPMENT_UPDATED)
                else "",
                "tracking_number": data.get("tracking_number", ""),
                "detail": event_detail(event),
                "actor": event.actor_display,
                "notifications": sent,
            }
        )
    return entries


def event_detail(event: OrderEvent) -> str:
    """What a carrier event says, in words: the tracking status it moved to, or
    the new estimated delivery ('' for other events).
    """
    data = event.data or {}
    if event.kind == EventKind.TRACKING_UPDATED:
        before = status_words(data.get("previous_tracking_status"))
        after = status_words(
            data.get("tracking_status"), data.get("tracking_substatus")
        )
        return "%s → %s" % (before, after) if before else after
    if event.kind == EventKind.ESTIMATE_CHANGED:
        return estimate_words(data.get("earliest"), data.get("latest"))
    if event.kind == EventKind.SHIPMENT_UPDATED and data.get("changed"):
        return _("Changed: %(fields)s") % {
            "fields": ", ".join(shipment_field_label(name) for name in data["changed"])
        }
    return ""


def shipment_field_label(name: str) -> str:
    """A shipment field's name for people ("tracking number"), as its form
    names it; the further tracking numbers, which are not a column, too."""
    if name == "more_tracking_numbers":
        return str(_("Further tracking numbers"))
    try:
        field = Shipment._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return capfirst(str(getattr(field, "verbose_name", name)))


class OrderUpdatesAdmin(OrderUpdatesAdminMixin, admin.ModelAdmin):
    """A standalone page of tracked orders, for shops that prefer it to the mixin.

    Register it for :class:`~order_updates.models.OrderState`::

        admin.site.register(OrderState, OrderUpdatesAdmin)

    Its rows are the orders' state rows, never edited directly: changes go
    through the same status, shipment and note screens as the mixin's.
    """

    order_updates_state_prefix = ""
    order_updates_order_prefix = "order__"
    list_display = ["order_number", "customer_email", "status_changed_at"]
    ordering = ["-status_changed_at"]
    fields = readonly_fields = ("order_link",)

    def get_order_updates_order(self, obj: models.Model) -> models.Model:
        return obj.order  # type: ignore[attr-defined]

    def get_order_updates_orders(self, queryset: models.QuerySet) -> models.QuerySet:
        return get_order_model()._default_manager.filter(
            pk__in=queryset.values("order_id")
        )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("order", queryset=get_adapter().get_queryset()))
        )

    @admin.display(description=_("order"))
    def order_number(self, obj: OrderState) -> str:
        return get_adapter().get_number(obj.order)

    @admin.display(description=_("customer email"))
    def customer_email(self, obj: OrderState) -> str:
        return get_adapter().get_email(obj.order)

    @admin.display(description=_("order"))
    def order_link(self, obj: OrderState) -> str:
        return get_adapter().get_number(obj.order)

    def has_add_permission(self, request):
        return False  # orders start being tracked through the services

    def has_change_permission(self, request, obj=None):
        return False  # the rows are changed through the services' screens only

    def has_delete_permission(self, request, obj=None):
        # Asked when an order is deleted (its state row goes with it): whoever may
        # delete orders may. The page itself never deletes a state row alone.
        opts = get_order_model()._meta
        return request.user.has_perm("%s.delete_%s" % (opts.app_label, opts.model_name))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        raise PermissionDenied

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_delete": False}
        return super().change_view(request, object_id, form_url, extra_context)
