"""The benchmark's peer shop (bench/oscarpeer): its workload, built on Oscar's
own models as bench/data.py builds the plain shop's."""

from collections import Counter
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from oscar.core.loading import get_model

from bench.data import CUSTOMERS
from bench.oscarpeer import data

Order = get_model("order", "Order")
Line = get_model("order", "Line")
LinePrice = get_model("order", "LinePrice")


@pytest.fixture
def shop(db):
    return data.seed()


def test_the_workload_is_orders_of_3_lines_from_200_customers(shop):
    numbers = data.build_orders(shop, 450, "T")
    assert numbers == ["T-%d" % index for index in range(1, 451)]
    customers = get_user_model().objects.filter(is_staff=False)
    assert customers.count() == CUSTOMERS == 200
    assert get_user_model().objects.filter(is_staff=True).count() == 1
    orders = Order.objects.select_related("shipping_address__country", "user")
    assert orders.count() == 450
    assert Counter(Line.objects.values_list("order_id", flat=True)) == {
        order.pk: 3 for order in orders
    }
    assert len({order.user_id for order in orders}) == 200
    assert LinePrice.objects.count() == 3 * 450
    for order in orders:
        assert order.status == data.STATUS
        assert order.available_statuses() == ("Shipped", "Cancelled")
        assert order.shipping_address.country.iso_3166_1_a2 == "DE"
        assert order.user.email
        lines = list(order.lines.all())
        assert all(line.num_allocated == line.quantity for line in lines)
        assert sum(line.line_price_incl_tax for line in lines) + Decimal("4.90") == (
            order.total_incl_tax
        )


def test_the_lines_are_the_plain_shops_products(shop):
    from bench.data import LINES

    data.build_orders(shop, 5, "T")
    titles = set(Line.objects.values_list("title", flat=True))
    assert titles == {title for title, _ in LINES}
    assert all(line.product and line.stockrecord for line in Line.objects.all())


def test_seeding_twice_is_harmless(shop):
    again = data.seed()
    assert [r.pk for r in again.stockrecords] == [r.pk for r in shop.stockrecords]
    assert again.shipping_event_type == shop.shipping_event_type
