"""Placing an order: the one function checkout and the demo data both use."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from order_updates import services
from order_updates.notifications.preferences import give_sms_consent, preference_for

from .models import Order, OrderLine


def place_order(
    lines,
    *,
    customer=None,
    actor=None,
    placed_at=None,
    sms_consent=False,
    notify=True,
    **fields,
):
    """Create an order with its lines and start tracking it, all or nothing.

    ``lines`` is an iterable of ``(product, quantity)``; ``fields`` are
    :class:`~shop.models.Order` fields (email, shipping_name, language...).
    ``actor`` defaults to the customer, or ``"customer"`` for a guest.
    ``sms_consent`` records that the customer wants text messages (checkout's
    "Text me delivery updates"), before the first one is queued. ``notify=False``
    places it without telling the customer (demo data).
    """
    with transaction.atomic():
        order = Order(
            number=Order.next_number(),
            customer=customer,
            placed_at=placed_at or timezone.now(),
            **fields,
        )
        order.save()
        order_lines = OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product=product,
                product_name=product.name,
                quantity=quantity,
                unit_price=product.price,
            )
            for product, quantity in lines
        )
        if not order_lines:
            raise ValueError("An order needs at least one line.")
        order.total = sum(
            (line.line_total for line in order_lines), start=Decimal("0.00")
        )
        order.save(update_fields=["total"])
        if sms_consent:
            give_sms_consent(preference_for(user=customer, email=order.email))
        # The one call order_updates asks of a checkout. It runs in this transaction,
        # so if anything above fails, the order is not tracked and nobody is told.
        services.start_tracking(
            order,
            actor=actor or customer or "customer",
            at=order.placed_at,
            notify=notify,
        )
    return order
