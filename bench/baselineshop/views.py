"""The page baseline: what a shop's bare "my orders" view costs.

One query for the customer's orders (a page of them, newest first) and a
minimal template: no status, no timeline, no shipments. bench/pages.py
measures order_updates' customer pages against it, in the same run.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from order_updates.conf import app_settings
from tests.testapps.plainshop.models import Order


@login_required
def my_orders_view(request):
    orders = Order.objects.filter(user=request.user).order_by("-created_at", "-pk")[
        : app_settings.MY_ORDERS_PAGE_SIZE
    ]
    return render(request, "baselineshop/my_orders.html", {"orders": orders})
