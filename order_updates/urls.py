"""URLs of the customer pages; include them with the ``order_updates`` namespace::

path("order-updates/", include("order_updates.urls")),
"""

from django.urls import path

from . import views

app_name = "order_updates"

urlpatterns = [
    path(
        "unsubscribe/<str:token>/",
        views.unsubscribe_view,
        name="unsubscribe",
    ),
    path(
        "preferences/<str:token>/",
        views.preferences_view,
        name="preferences",
    ),
]
