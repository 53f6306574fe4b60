"""URLs of the inbound tracking webhooks; include them where providers can reach::

    path("tracking-webhooks/", include("order_updates.carriers.urls")),

One URL per provider module (no lookup by a configured name).
"""

from django.urls import path

from order_updates.carriers.webhooks.aftership import AfterShipTrackingWebhookView
from order_updates.carriers.webhooks.easypost import EasyPostTrackingWebhookView
from order_updates.carriers.webhooks.generic import GenericTrackingWebhookView

app_name = "order_updates_tracking"

urlpatterns = [
    path("generic/", GenericTrackingWebhookView.as_view(), name="generic"),
    path("aftership/", AfterShipTrackingWebhookView.as_view(), name="aftership"),
    path("easypost/", EasyPostTrackingWebhookView.as_view(), name="easypost"),
]
