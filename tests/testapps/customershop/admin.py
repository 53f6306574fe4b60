from django.conf import settings
from django.contrib import admin

from order_updates.admin import OrderUpdatesAdminMixin

from .models import Purchase


class PurchaseAdmin(OrderUpdatesAdminMixin, admin.ModelAdmin):
    """The shop's own order admin, with order_updates added in one line."""


# Both test shops are installed; only the one order_updates points at has the
# timeline to show.
if getattr(settings, "ORDER_UPDATES_ORDER_MODEL", None) == "customershop.Purchase":
    admin.site.register(Purchase, PurchaseAdmin)
