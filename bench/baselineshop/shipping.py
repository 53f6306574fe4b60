"""How a shop without order_updates marks an order shipped and emails the customer.

The usual hand-written view code: in one transaction, update the shop's own
status and tracking columns, render the email with Django templates (subject,
text and HTML with the order's lines, totals and the tracking link: the same
content as order_updates' "shipped" email) and send it synchronously with
:class:`~django.core.mail.EmailMultiAlternatives` through ``EMAIL_BACKEND``.

It is a generous baseline: no row lock, no timeline, no outbox, no preference
or suppression check, no signed links, and its HTML is written with inline
styles instead of having CSS inlined at send time.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from bench.baselineshop.models import ShopOrderStatus

STAGES = ("Ordered", "Preparing", "On its way", "Out for delivery", "Delivered")
CARRIERS = {"ups": "UPS", "dhl": "DHL", "fedex": "FedEx"}


def ship(order, *, carrier: str, tracking_number: str, tracking_url: str) -> None:
    """Mark ``order`` shipped and send the "shipped" email, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        ShopOrderStatus.objects.filter(order_id=order.pk).update(
            status="shipped",
            carrier=carrier,
            tracking_number=tracking_number,
            tracking_url=tracking_url,
            shipped_at=now,
        )
        build_email(
            order,
            carrier=carrier,
            tracking_number=tracking_number,
            tracking_url=tracking_url,
            shipped_at=now,
        ).send()


def build_email(
    order, *, carrier: str, tracking_number: str, tracking_url: str, shipped_at
) -> EmailMultiAlternatives:
    """The rendered "shipped" email of ``order``."""
    context = _context(
        order,
        {
            "carrier_name": CARRIERS.get(carrier, carrier),
            "tracking_number": tracking_number,
            "tracking_url": tracking_url,
            "shipped_at": shipped_at,
        },
    )
    subject = render_to_string("baselineshop/shipped_subject.txt", context)
    email = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string("baselineshop/shipped_body.txt", context),
        to=[order.email],
    )
    email.attach_alternative(
        render_to_string("baselineshop/shipped_body.html", context), "text/html"
    )
    return email


def _context(order, shipment: dict[str, Any]) -> dict[str, Any]:
    site = settings.ORDER_UPDATES["SITE_URL"]
    user = order.user
    current = STAGES.index("On its way")
    return {
        "order": order,
        "customer_name": user.get_full_name() if user else "",
        "lines": [
            {
                "name": line.name,
                "quantity": line.quantity,
                "total": line.price * line.quantity,
            }
            for line in order.lines.all()
        ],
        "shipment": shipment,
        "stages": [
            {"label": label, "done": index <= current, "current": index == current}
            for index, label in enumerate(STAGES)
        ],
        "shop_name": settings.ORDER_UPDATES["SHOP_NAME"],
        "shop_url": site,
        "order_url": "%s/account/orders/%s/" % (site, order.number),
    }
