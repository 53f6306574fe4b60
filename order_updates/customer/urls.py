"""URLs of the customer pages, included by ``order_updates.urls`` (namespace
``order_updates``): ``my_orders``, ``order``, ``lookup`` and ``tracking``.
"""

from django.urls import path

from order_updates.customer import views

urlpatterns = [
    path("orders/", views.my_orders_view, name="my_orders"),
    # Any text, "/" included: shops number orders "2026/000123" (as the API does).
    path("orders/<path:number>/", views.order_view, name="order"),
    path("track/", views.lookup_view, name="lookup"),
    path("track/<str:token>/", views.tracking_view, name="tracking"),
]
