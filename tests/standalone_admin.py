"""A URLconf whose admin uses the standalone order page (OrderUpdatesAdmin)
instead of the mixin: the shop's order admin is a plain ModelAdmin.
"""

from django.contrib import admin
from django.urls import include, path

from order_updates.admin import NotificationAdmin, OrderUpdatesAdmin
from order_updates.conf import get_order_model
from order_updates.models import Notification, OrderState

site = admin.AdminSite(name="admin")
site.register(get_order_model(), admin.ModelAdmin)
site.register(OrderState, OrderUpdatesAdmin)
site.register(Notification, NotificationAdmin)

urlpatterns = [
    path("admin/", site.urls),
    path("order-updates/", include("order_updates.urls")),
]
