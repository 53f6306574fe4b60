from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from order_updates.admin import OrderUpdatesAdminMixin

from .models import Order, OrderLine, Product, Profile

User = get_user_model()


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False


admin.site.unregister(User)


@admin.register(User)
class ShopUserAdmin(UserAdmin):
    """Django's user admin, with the profile (the account's own phone number)."""

    inlines = [ProfileInline]


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


@admin.register(Order)
class OrderAdmin(OrderUpdatesAdminMixin, admin.ModelAdmin):
    """The shop's order admin; the mixin adds the status column and filter, the
    search by number and email, the bulk status action, and on the order's page
    its status, timeline, shipments and the buttons to change them.
    """

    list_display = [
        "number",
        "shipping_name",
        "email",
        "total_display",
        "placed_at",
    ]
    list_filter = ["language", "placed_at"]
    search_fields = ["number", "email", "shipping_name"]
    date_hierarchy = "placed_at"
    raw_id_fields = ["customer"]
    inlines = [OrderLineInline]

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, order):
        return "%s %s" % (order.total, order.currency)
