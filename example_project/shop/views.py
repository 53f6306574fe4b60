"""The demo shop's pages: catalogue, cart, checkout, the order page."""

import datetime

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import access
from .cart import Cart
from .forms import CheckoutForm
from .models import Order, Product
from .orders import place_order

#: How long after checkout the order page still thanks the customer.
JUST_PLACED = datetime.timedelta(days=1)


def product_list(request):
    products = Product.objects.filter(active=True)
    return render(request, "shop/product_list.html", {"products": products})


@require_POST
def cart_add(request, product_id):
    product = get_object_or_404(Product, pk=product_id, active=True)
    Cart(request).add(product)
    messages.success(
        request, _("%(product)s was added to your cart.") % {"product": product.name}
    )
    return redirect("shop:product_list")


def cart_detail(request):
    cart = Cart(request)
    if request.method == "POST":
        for product_id in list(cart.data):
            try:
                quantity = int(request.POST.get("quantity-%s" % product_id, ""))
            except ValueError:
                continue
            cart.set(product_id, quantity)
        return redirect("shop:cart")
    return render(
        request, "shop/cart.html", {"lines": cart.lines(), "total": cart.total()}
    )


def checkout(request):
    cart = Cart(request)
    lines = cart.lines()
    if not lines:
        messages.info(request, _("Your cart is empty."))
        return redirect("shop:product_list")
    user = request.user if request.user.is_authenticated else None
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if form.is_valid():
            fields = dict(form.cleaned_data)
            sms_consent = fields.pop("sms_updates")
            order = place_order(
                [(product, quantity) for product, quantity, _total in lines],
                customer=user,
                language=(translation.get_language() or "en").split("-")[0],
                sms_consent=sms_consent,
                **fields,
            )
            cart.clear()
            access.remember(request, order)
            return redirect("shop:order_confirmation", number=order.number)
    else:
        initial = {"shipping_country": "DE"}
        if user is not None:
            initial.update(email=user.email, shipping_name=user.get_full_name())
        form = CheckoutForm(initial=initial)
    return render(
        request,
        "shop/checkout.html",
        {"form": form, "lines": lines, "total": cart.total()},
    )


def order_confirmation(request, number):
    order = get_object_or_404(
        Order.objects.select_related(
            "customer", "order_updates_state"
        ).prefetch_related("lines"),
        number=number,
    )
    if not _may_see(request, order):
        if order.customer_id and not request.user.is_authenticated:
            # A customer following a link from a message: log in first.
            return redirect_to_login(request.get_full_path())
        raise Http404
    # "Thank you!" greets a new order, not one delivered weeks ago.
    is_new = timezone.now() - order.placed_at < JUST_PLACED
    return render(
        request, "shop/order_confirmation.html", {"order": order, "is_new": is_new}
    )


def _may_see(request, order):
    """Staff, the order's customer, the browser that placed it, a guest's link."""
    if request.user.is_authenticated and (
        request.user.is_staff or order.customer_id == request.user.pk
    ):
        return True
    if access.remembered(request, order):
        return True
    if order.customer_id is None and access.check_order_key(
        order, request.GET.get("key")
    ):
        access.remember(request, order)
        return True
    return False


def my_orders(request):
    """The shop's old address of "my orders": order_updates' page now."""
    return redirect("order_updates:my_orders", permanent=True)
