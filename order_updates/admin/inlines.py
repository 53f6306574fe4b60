"""Read-only admin inlines of the timeline and shipments for the shop's order admin.

Changes go through :mod:`order_updates.services`, never through raw row edits, so
these inlines only show. They are deliberately not registered as admin pages of
their own: Django's admin asks every registered admin for permission before an
order is deleted, and a read-only page would then forbid deleting orders.
"""

from django.contrib import admin

from order_updates.models import OrderEvent, Shipment


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
    fields = readonly_fields = (
        "sequence",
        "created_at",
        "kind",
        "from_status",
        "to_status",
        "actor_user",
        "actor_label",
        "message",
        "note",
    )
    ordering = ["-sequence"]


class ShipmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The order's shipments, for the shop's own order admin."""

    model = Shipment
    extra = 0
    fields = readonly_fields = (
        "carrier",
        "tracking_number",
        "tracking_url",
        "shipped_at",
        "created_at",
    )
