from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("order-updates/", include("order_updates.urls")),
    path("anymail/", include("anymail.urls")),
    path("tracking-webhooks/", include("order_updates.carriers.urls")),
    path("api/order-updates/", include("order_updates.api.urls")),
]
