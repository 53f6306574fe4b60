from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # The unsubscribe and preferences pages that notifications link to.
    path("order-updates/", include("order_updates.urls")),
    path("", include("shop.urls")),
]
