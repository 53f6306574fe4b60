"""Read-only admin views of the status, timeline and shipments.

Changes go through :mod:`order_updates.services`, never through raw row edits, so
these pages only show. Shops add :class:`OrderEventInline` and
:class:`ShipmentInline` to their own order admin to see the timeline in place.
"""

from django.contrib import admin

from .models import OrderEvent, OrderState, Shipment


class ReadOnlyAdminMixin:
    """Shows rows without letting anyone add, change or delete them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The order's timeline, for the shop's own order admin."""

    model = OrderEvent
    extra = 0
    fields = [
        "sequence",
        "created_at",
        "kind",
        "from_status",
        "to_status",
        "actor_user",
        "actor_label",
        "message",
        "note",
    ]
    readonly_fields = fields
    ordering = ["-sequence"]


class ShipmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The order's shipments, for the shop's own order admin."""

    model = Shipment
    extra = 0
    fields = ["carrier", "tracking_number", "tracking_url", "shipped_at", "created_at"]
    readonly_fields = fields


@admin.register(OrderState)
class OrderStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["order", "status", "status_changed_at", "created_at"]
    list_filter = ["status"]
    list_select_related = ["order"]
    date_hierarchy = "status_changed_at"


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "order",
        "sequence",
        "kind",
        "from_status",
        "to_status",
        "actor_display",
        "created_at",
    ]
    list_filter = ["kind", "to_status"]
    list_select_related = ["order", "actor_user"]
    date_hierarchy = "created_at"


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["order", "carrier", "tracking_number", "shipped_at"]
    list_filter = ["carrier"]
    search_fields = ["tracking_number"]
    list_select_related = ["order"]
