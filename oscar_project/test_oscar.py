"""order_updates in a real django-oscar shop: its models, checkout, dashboard."""

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.core.checks import run_checks
from django.test import TestCase
from django.urls import reverse
from oscar.apps.checkout.utils import CheckoutSessionData
from oscar.apps.checkout.views import PaymentDetailsView
from oscar.core.loading import get_class, get_model

from order_updates import services
from order_updates.models import Notification, OrderEvent, Shipment
from order_updates.notifications import delivery
from order_updates.notifications.channels import get_channel
from order_updates.notifications.templating import preview
from tests.summary import adds_up, parse_summary

ShippingEventType = get_model("order", "ShippingEventType")
EventHandler = get_class("order.processing", "EventHandler")


def order_ids(messages):
    return [m.id for m in messages if m.id.startswith("order_updates")]


def test_the_documented_set_up_passes_the_checks(db):
    assert order_ids(run_checks()) == []


def test_an_oscar_status_without_a_pipeline_code_is_reported(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "STATUS_MAP": {"Pending": "placed"},
    }
    [warning] = [m for m in run_checks() if m.id == "order_updates.W030"]
    assert "'Being processed'" in warning.msg and "'Cancelled'" in warning.msg
    assert "STATUS_MAP" in warning.hint


def test_oscar_fields_mapped_to_the_wrong_kind_are_reported(db, settings):
    """The preset's fields (a user foreign key, DecimalField amounts, the
    DateTimeField date_placed) pass; a mapping of the wrong kind does not."""
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ORDER_FIELDS": {
            "user": "guest_email",
            "total": "number",
            "created": "total_incl_tax",
        },
        "STATUS_FIELD": "total_incl_tax",
        "STATUS_MAP": {},
    }
    assert sorted(order_ids(run_checks())) == [
        "order_updates.E023",
        "order_updates.E024",
        "order_updates.W024",
        "order_updates.W025",
    ]


def test_pointing_at_another_model_is_an_error(settings):
    settings.ORDER_UPDATES_ORDER_MODEL = "auth.User"
    assert "order_updates.E030" in order_ids(run_checks())


# Placing an order -------------------------------------------------------------------


def test_a_placed_order_is_tracked_in_the_status_oscar_gave_it(make_order):
    order = make_order()
    assert order.status == "Pending"
    assert services.get_status(order).code == "placed"
    assert list(
        OrderEvent.objects.filter(order_id=order.pk).values_list("kind", flat=True)
    ) == ["tracking_started"]


def checkout_view(view_class, rf, order, customer):
    """A checkout view as Oscar runs it right after placing ``order``."""
    from django.contrib.sessions.backends.db import SessionStore

    request = rf.post("/checkout/preview/")
    request.user = customer
    request.session = SessionStore()
    view = view_class()
    view.setup(request)
    view.checkout_session = CheckoutSessionData(request)
    return view


def test_preset_keeps_oscars_order_placed_email_and_ours_off(make_order, rf, customer):
    order = make_order()
    view = checkout_view(PaymentDetailsView, rf, order, customer)
    view.handle_successful_order(order)
    assert len(mail.outbox) == 1  # Oscar's own confirmation
    assert "order" in mail.outbox[0].subject.lower()
    assert not Notification.objects.filter(type="order_received").exists()


# Status, both ways --------------------------------------------------------------------


def change_status_in_dashboard(client, order, status):
    url = reverse("dashboard:order-detail", kwargs={"number": order.number})
    response = client.post(
        url, {"order_action": "change_order_status", "new_status": status}
    )
    assert response.status_code == 302, response.content[:500]
    order.refresh_from_db()
    assert order.status == status


def test_dashboard_status_change_notifies_the_customer_once(make_order, staff_client):
    order = make_order()
    with TestCase.captureOnCommitCallbacks(execute=False):
        change_status_in_dashboard(staff_client, order, "Being processed")
        change_status_in_dashboard(staff_client, order, "Shipped")
    assert services.get_status(order).code == "shipped"
    kinds = OrderEvent.objects.filter(order_id=order.pk).order_by("sequence")
    assert [(e.to_status, e.actor_label) for e in kinds] == [
        ("placed", "ada"),
        ("processing", "shop"),
        ("shipped", "shop"),
    ]
    rows = list(Notification.objects.filter(order_id=order.pk))
    assert [row.type for row in rows] == ["shipped"]
    delivery.deliver_batch([row.pk for row in rows])
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    assert "on its way" in mail.outbox[0].subject


def test_order_updates_changes_write_oscars_status(make_order, staff_client):
    order = make_order()
    services.set_status(order, "processing")
    order.refresh_from_db()
    assert order.status == "Being processed"
    # Oscar's dashboard carries on from there, and nothing is recorded twice.
    change_status_in_dashboard(staff_client, order, "Shipped")
    assert services.get_status(order).code == "shipped"
    assert OrderEvent.objects.filter(order_id=order.pk).count() == 3


def test_oscars_signal_alone_is_enough(make_order):
    from oscar.apps.order.signals import order_status_changed

    order = make_order()
    type(order).objects.filter(pk=order.pk).update(status="Cancelled")
    order.refresh_from_db()
    order_status_changed.send(
        sender=order, order=order, old_status="Pending", new_status="Cancelled"
    )
    assert services.get_status(order).code == "cancelled"


# Shipping events ---------------------------------------------------------------------


def test_a_shipping_event_in_the_dashboard_becomes_a_shipment(make_order, staff_client):
    order = make_order()
    services.set_status(order, "processing")
    event_type = ShippingEventType.objects.create(name="Shipped")
    assert event_type.code == "shipped"
    lines = list(order.lines.all())
    data = {
        "line_action": "create_shipping_event",
        "shipping_event_type": "shipped",
        "reference": "1Z999AA10123456784",
        "selected_line": [line.pk for line in lines],
    }
    for line in lines:
        data["selected_line_qty_%s" % line.pk] = line.quantity
    url = reverse("dashboard:order-detail", kwargs={"number": order.number})
    response = staff_client.post(url, data)
    assert response.status_code == 302
    [shipment] = Shipment.objects.filter(order_id=order.pk)
    assert shipment.tracking_number == "1Z999AA10123456784"
    # Oscar has no carrier field: the number's shape and check digit say UPS.
    assert shipment.carrier == "ups"
    assert services.get_status(order).code == "shipped"
    order.refresh_from_db()
    assert order.status == "Shipped"  # written back into Oscar's field


def ship_lines(order, lines, quantities, reference="1Z999AA10123456784"):
    """What Oscar's dashboard does for a "Shipped" event of these lines."""
    event_type, _ = ShippingEventType.objects.get_or_create(
        code="shipped", defaults={"name": "Shipped"}
    )
    EventHandler().handle_shipping_event(
        order, event_type, lines, quantities, reference=reference
    )


def test_a_shipping_event_of_some_lines_is_a_partial_shipment(make_order):
    """Oscar saves the event, then its lines: the parcel holds those lines, and
    the order is partially shipped; the rest completes it.
    """
    order = make_order()
    services.set_status(order, "processing")
    mugs, teapot = order.lines.order_by("pk")  # 2 mugs, 1 teapot
    ship_lines(order, [mugs, teapot], [1, 1])
    [shipment] = Shipment.objects.filter(order_id=order.pk)
    assert shipment.items == [
        {"line": str(mugs.pk), "quantity": 1},
        {"line": str(teapot.pk), "quantity": 1},
    ]
    assert services.get_status(order).code == "partially_shipped"
    # One message for the parcel (its second line added itself quietly).
    [partial] = Notification.objects.filter(state="pending", channel="email")
    assert partial.type == "shipped"
    ship_lines(order, [mugs], [1], reference="1Z999AA10123456795")
    assert services.get_status(order).code == "shipped"
    second = Shipment.objects.filter(order_id=order.pk).order_by("pk").last()
    assert second.items == [{"line": str(mugs.pk), "quantity": 1}]
    mail.outbox.clear()
    pending = Notification.objects.filter(state="pending", channel="email")
    delivery.deliver_batch(list(pending.values_list("pk", flat=True)))
    subjects = [message.subject for message in mail.outbox]
    # The customer hears of the partial parcel, then of the rest; nothing says
    # the whole order left with the first.
    assert len(subjects) == 1, subjects
    assert "part of your order" not in mail.outbox[0].body


@pytest.mark.parametrize(
    ("reference", "carrier"),
    [
        ("RB123456785GB", "royal_mail"),
        ("986578788855", ""),  # twelve digits: FedEx, Japan Post, GLS or DHL Paket
        ("left at the depot", ""),
    ],
)
def test_a_shipping_events_carrier_is_detected_only_when_certain(
    make_order, reference, carrier
):
    order = make_order()
    ship_lines(order, list(order.lines.all()), [2, 1], reference=reference)
    [shipment] = Shipment.objects.filter(order_id=order.pk)
    assert shipment.carrier == carrier


def test_other_shipping_event_types_are_not_shipments(make_order):
    order = make_order()
    event_type = ShippingEventType.objects.create(name="Returned")
    order.shipping_events.create(event_type=event_type, notes="RMA 12")
    assert not Shipment.objects.exists()


# What the customer reads -------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "de", "fr"])
@pytest.mark.parametrize("type_code", ["order_received", "shipped", "delivered"])
def test_the_summary_adds_up_in_every_language(make_order, language, type_code):
    order = make_order()
    rendered = preview(type_code, get_channel("email"), language, order=order)
    summary = parse_summary(rendered["text"], language)
    assert summary["lines"] == [Decimal("20.00"), Decimal("22.50")]  # 2 mugs
    assert summary["shipping"] == Decimal("4.90")
    assert summary["discount"] == Decimal("-5.00")
    assert summary["total"] == order.total_incl_tax == Decimal("42.40")
    assert adds_up(summary)
    assert "tax_included" not in summary  # Oscar's test prices carry no tax
    html = rendered["html"]
    assert '<html lang="%s">' % language in html
    assert "Ada Lovelace" in html  # the shipping address section


def test_the_customer_pages_sit_in_oscars_layout_with_one_heading(client, db):
    from order_updates.notifications.links import make_token

    token = make_token(email="ada@example.com", channel="email")
    url = reverse("order_updates:unsubscribe", args=[token])
    html = client.get(url).content.decode()
    assert 'id="content_inner"' in html  # Oscar's storefront layout
    assert re.findall(r"<h1[^>]*>", html) == ["<h1>"]
    assert "<h1></h1>" not in html


def test_the_admin_search_finds_orders_by_a_guests_or_an_accounts_email(
    make_order, rf, admin_user
):
    from django.contrib import admin

    from order_updates.admin import OrderUpdatesAdminMixin

    class OrderAdmin(OrderUpdatesAdminMixin, admin.ModelAdmin):
        pass

    Order = get_model("order", "Order")
    model_admin = OrderAdmin(Order, admin.AdminSite())
    guest = make_order(user=None, discount=False)
    guest.guest_email = "carol.guest@example.com"
    guest.save()
    account = make_order(discount=False)  # ada@example.com's account
    request = rf.get("/")
    request.user = admin_user
    fields = model_admin.get_search_fields(request)
    assert "guest_email" in fields and "user__email" in fields

    def found(term):
        orders, _duplicates = model_admin.get_search_results(
            request, Order.objects.all(), term
        )
        return set(orders)

    assert found("carol.guest") == {guest}
    assert found("ada@") == {account}
    assert found(account.number) == {account}
