from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from order_updates.admin import OrderEventInline, ShipmentInline
from order_updates.pipeline import get_pipeline

from .models import Order, OrderLine, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "price", "active"]
    list_filter = ["active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    autocomplete_fields = ["product"]


class StatusFilter(admin.SimpleListFilter):
    """Filter by order_updates status, with the pipeline's labels."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return get_pipeline().choices()

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(order_updates_state__status=self.value())
        return queryset


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "shipping_name",
        "email",
        "total_display",
        "placed_at",
        "current_status",
    ]
    list_filter = [StatusFilter, "language", "placed_at"]
    list_select_related = ["order_updates_state"]
    search_fields = ["number", "email", "shipping_name"]
    date_hierarchy = "placed_at"
    raw_id_fields = ["customer"]
    # The lines are the shop's; the shipments and timeline come from order_updates.
    inlines = [OrderLineInline, ShipmentInline, OrderEventInline]

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, order):
        return "%s %s" % (order.total, order.currency)

    @admin.display(description=_("status"), ordering="order_updates_state__status")
    def current_status(self, order):
        state = getattr(order, "order_updates_state", None)
        if state is None:
            return "-"
        return state.status_info.label if state.status_info else state.status
