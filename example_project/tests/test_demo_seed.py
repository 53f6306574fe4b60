"""seed_demo: the documented data, each order with a valid timeline."""

import datetime
from collections import Counter
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from order_updates.core.adapter import get_adapter
from order_updates.models import (
    EventKind,
    Notification,
    OrderEvent,
    OrderState,
    Shipment,
)
from order_updates.notifications.preferences import preference_for
from order_updates.pipeline import get_pipeline

from shop.management.commands.seed_demo import PATHS, STATUS_PLAN
from shop.models import Order, OrderLine, Product

pytestmark = pytest.mark.django_db

#: The README's promise: 10 products, 36 orders, a third each for alice, bob, guests.
DOCUMENTED_STATUS_COUNTS = {
    "placed": 4,
    "confirmed": 4,
    "processing": 4,
    "partially_shipped": 1,
    "shipped": 4,
    "out_for_delivery": 3,
    "delivered": 7,
    "on_hold": 2,
    "cancelled": 3,
    "returned": 2,
    "refunded": 2,
}


def seed(*args):
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_creates_the_documented_data():
    output = seed()

    User = get_user_model()
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser and admin.check_password("admin")
    # The admin's own number (USER_PHONE_FIELD): test texts from the editor.
    assert get_adapter().get_user_phone(admin) == "+4915123456789"
    for name in ("alice", "bob"):
        user = User.objects.get(username=name)
        assert user.check_password(name) and user.email and not user.is_staff
    assert Product.objects.filter(active=True).count() == 10
    assert Order.objects.count() == 36
    assert OrderLine.objects.filter(order__isnull=False).count() >= 36

    customers = Counter(
        order.customer.username if order.customer else "guest"
        for order in Order.objects.select_related("customer")
    )
    assert customers == {"alice": 12, "bob": 12, "guest": 12}
    assert set(Order.objects.values_list("language", flat=True)) == {"en", "de", "fr"}
    alice_phones = {
        order.phone.as_e164
        for order in Order.objects.filter(customer__username="alice")
    }
    assert alice_phones == {"+493012345678"}

    month_ago = timezone.now() - datetime.timedelta(days=30)
    assert not Order.objects.filter(placed_at__lt=month_ago).exists()
    assert not Order.objects.filter(placed_at__gt=timezone.now()).exists()

    counts = Counter(OrderState.objects.values_list("status", flat=True))
    assert counts == DOCUMENTED_STATUS_COUNTS == STATUS_PLAN
    # Every status of the default pipeline is represented.
    assert set(counts) == set(get_pipeline().statuses)

    # History, not news: no message for any of it (the demo's worker would send).
    assert not Notification.objects.exists()
    # alice agreed to texts, so changes to her orders are texted too.
    assert preference_for(user=User.objects.get(username="alice")).sms_consent_at
    assert not preference_for(user=User.objects.get(username="bob")).sms_consent_at

    for status, count in DOCUMENTED_STATUS_COUNTS.items():
        assert "%-18s %3d" % (get_pipeline().get(status).label, count) in output
    assert "alice/alice" in output and "admin/admin" in output


def test_every_seeded_order_has_a_valid_timeline():
    seed()
    pipeline = get_pipeline()
    events_by_order = {}
    for event in OrderEvent.objects.order_by("order_id", "sequence"):
        events_by_order.setdefault(event.order_id, []).append(event)
    states = {state.order_id: state for state in OrderState.objects.all()}

    orders = list(Order.objects.select_related("customer"))
    assert len(orders) == 36
    for order in orders:
        state = states[order.pk]
        events = events_by_order[order.pk]
        assert [event.sequence for event in events] == list(
            range(1, len(events) + 1)
        ), order
        assert state.last_sequence == len(events)

        started = events[0]
        assert started.kind == EventKind.TRACKING_STARTED
        assert started.to_status == pipeline.initial
        if order.customer:
            assert started.actor_user == order.customer
        else:
            assert (started.actor_user, started.actor_label) == (None, "customer")

        current = pipeline.initial
        walked = []
        for event in events[1:]:
            assert event.kind != EventKind.TRACKING_STARTED
            if event.kind == EventKind.STATUS_CHANGED:
                assert event.from_status == current, (order, event)
                assert pipeline.can_transition(current, event.to_status), (order, event)
                current = event.to_status
                walked.append(current)
        assert current == state.status
        assert walked == PATHS[state.status]

        shipments = Shipment.objects.filter(order=order)
        if "shipped" in walked or "partially_shipped" in walked:
            shipment = shipments.get()
            assert shipment.carrier and shipment.tracking_number
            assert shipment.tracking_number in shipment.tracking_url
            shipment_events = [e for e in events if e.kind == EventKind.SHIPMENT_ADDED]
            assert [e.data["shipment"] for e in shipment_events] == [shipment.pk]
            if "partially_shipped" in walked:
                assert sum(item["quantity"] for item in shipment.items) == 1
        else:
            assert not shipments.exists()


def test_seed_is_idempotent_and_reset_starts_over():
    seed()

    output = seed()
    assert "nothing to do" in output
    assert Order.objects.count() == 36
    assert Product.objects.count() == 10
    assert OrderState.objects.count() == 36

    seed("--reset")
    assert get_user_model().objects.count() == 3
    assert Product.objects.count() == 10
    assert Order.objects.count() == 36
    assert OrderState.objects.count() == 36
    # The old orders' timelines went with them: only the new orders' events remain.
    assert OrderEvent.objects.count() == sum(
        OrderState.objects.values_list("last_sequence", flat=True)
    )
    assert Counter(OrderState.objects.values_list("status", flat=True)) == (
        DOCUMENTED_STATUS_COUNTS
    )


def test_seeded_shop_pages_work(client):
    seed()
    assert client.get("/").status_code == 200

    client.login(username="alice", password="alice")
    response = client.get("/orders/", follow=True)
    assert response.redirect_chain == [("/order-updates/orders/", 301)]
    assert response.status_code == 200
    # order_updates' "my orders", ten a page.
    pages = [response.text]
    while 'rel="next"' in pages[-1]:
        page = client.get("/order-updates/orders/", {"page": len(pages) + 1})
        assert page.status_code == 200
        pages.append(page.text)
    text = "".join(pages)
    own = Order.objects.filter(customer__username="alice")
    assert len(pages) == (own.count() + 9) // 10
    for order in own:
        assert order.number in text
    other = Order.objects.exclude(customer__username="alice").first()
    assert other.number not in text
    assert client.get(other.get_absolute_url()).status_code == 404
    assert client.get(own.first().get_absolute_url()).status_code == 200

    client.login(username="admin", password="admin")
    response = client.get("/admin/shop/order/")
    assert response.status_code == 200
    assert "Out for delivery" in response.text
    order = Order.objects.filter(order_updates_state__status="refunded").first()
    response = client.get("/admin/shop/order/%d/change/" % order.pk)
    assert response.status_code == 200
    assert "Parcel came back unopened." in response.text
