"""tests.urls with order_updates' pages under ``i18n_patterns`` (``/de/…``)."""

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("anymail/", include("anymail.urls")),
    path("tracking-webhooks/", include("order_updates.carriers.urls")),
    path("api/order-updates/", include("order_updates.api.urls")),
    *i18n_patterns(path("order-updates/", include("order_updates.urls"))),
]
