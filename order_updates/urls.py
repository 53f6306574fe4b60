"""URLs of the customer pages (my orders, order, tracking, lookup, preferences,
unsubscribe) and of web push; include them with the ``order_updates`` namespace::

path("order-updates/", include("order_updates.urls")),
"""

from django.urls import include, path

from order_updates.notifications import views
from order_updates.notifications.channels.push import views as push_views

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
    # Customer pages: my orders, the order page, lookup and tracking.
    path("", include("order_updates.customer.urls")),
    # For monitoring (staff, or a bearer token): 200 or 503.
    path("health/", views.health_view, name="health"),
    # Web push: what order_updates/push_subscribe.html talks to.
    path(
        "push/service-worker.js",
        push_views.service_worker_view,
        name="push_service_worker",
    ),
    path("push/key/", push_views.public_key_view, name="push_key"),
    path(
        "push/subscriptions/",
        push_views.subscriptions_view,
        name="push_subscriptions",
    ),
    path(
        "push/subscriptions/delete/",
        push_views.delete_subscription_view,
        name="push_subscription_delete",
    ),
]
