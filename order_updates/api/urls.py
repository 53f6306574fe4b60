"""The API's URLs; include them once, with the ``order_updates_api`` namespace::

path("api/order-updates/", include("order_updates.api.urls")),
"""

from django.urls import path

from order_updates.api import customer, schema, staff

app_name = "order_updates_api"

urlpatterns = [
    path("orders/", customer.OrderListView.as_view(), name="orders"),
    path("orders/<path:number>/", customer.OrderDetailView.as_view(), name="order"),
    # Before tracking/<token>/: "lookup" is no token.
    path(
        "tracking/lookup/",
        customer.TrackingLookupView.as_view(),
        name="tracking_lookup",
    ),
    path("tracking/<str:token>/", customer.TrackingView.as_view(), name="tracking"),
    path("me/preferences/", customer.PreferencesView.as_view(), name="preferences"),
    path(
        "me/push-subscriptions/",
        customer.PushSubscriptionsView.as_view(),
        name="push_subscriptions",
    ),
    path(
        "me/push-subscriptions/delete/",
        customer.PushSubscriptionDeleteView.as_view(),
        name="push_subscription_delete",
    ),
    path(
        "staff/orders/status/",
        staff.BulkStatusChangeView.as_view(),
        name="bulk_status",
    ),
    path(
        "staff/orders/<path:number>/status/",
        staff.StatusChangeView.as_view(),
        name="status",
    ),
    path(
        "staff/orders/<path:number>/shipments/<str:id>/",
        staff.ShipmentUpdateView.as_view(),
        name="shipment",
    ),
    path(
        "staff/orders/<path:number>/shipments/",
        staff.ShipmentCreateView.as_view(),
        name="shipments",
    ),
    path(
        "staff/orders/<path:number>/tracking-links/revoke/",
        staff.TrackingLinksRevokeView.as_view(),
        name="revoke_tracking_links",
    ),
    path(
        "staff/orders/<path:number>/notes/",
        staff.NoteCreateView.as_view(),
        name="notes",
    ),
    path(
        "staff/orders/<path:number>/notifications/",
        staff.NotificationListView.as_view(),
        name="notifications",
    ),
    path(
        "staff/notifications/<str:id>/resend/",
        staff.NotificationResendView.as_view(),
        name="resend",
    ),
    path("schema/", schema.SchemaView.as_view(), name="schema"),
]
