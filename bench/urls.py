"""The test suite's URLs plus the page baseline (bench/pages.py)."""

from django.urls import path

from bench.baselineshop.views import my_orders_view
from tests.urls import urlpatterns as test_urlpatterns

urlpatterns = [
    *test_urlpatterns,
    path("baseline/orders/", my_orders_view, name="baseline_my_orders"),
]
