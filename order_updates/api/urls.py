"""The API's URLs; include them once, with the ``order_updates_api`` namespace::

path("api/order-updates/", include("order_updates.api.urls")),
"""

from django.urls import path

from order_updates.api import schema, views

app_name = "order_updates_api"

urlpatterns = [
    path("orders/", views.OrderListView.as_view(), name="orders"),
    path("orders/<path:number>/", views.OrderDetailView.as_view(), name="order"),
    path("me/preferences/", views.PreferencesView.as_view(), name="preferences"),
    path(
        "me/push-subscriptions/",
        views.PushSubscriptionsView.as_view(),
        name="push_subscriptions",
    ),
    path(
        "me/push-subscriptions/delete/",
        views.PushSubscriptionDeleteView.as_view(),
        name="push_subscription_delete",
    ),
    path(
        "staff/orders/status/",
        views.BulkStatusChangeView.as_view(),
        name="bulk_status",
    ),
    path(
        "staff/orders/<path:number>/status/",
        views.StatusChangeView.as_view(),
        name="status",
    ),
    path(
        "staff/orders/<path:number>/shipments/",
        views.ShipmentCreateView.as_view(),
        name="shipments",
    ),
    path(
        "staff/orders/<path:number>/notes/",
        views.NoteCreateView.as_view(),
        name="notes",
    ),
    path(
        "staff/orders/<path:number>/notifications/",
        views.NotificationListView.as_view(),
        name="notifications",
    ),
    path(
        "staff/notifications/<str:id>/resend/",
        views.NotificationResendView.as_view(),
        name="resend",
    ),
    path("schema/", schema.SchemaView.as_view(), name="schema"),
]
