"""The peer's database and data: a throwaway PostgreSQL database with Oscar
migrated, and the benchmark's workload as Oscar orders, created set-based and
untimed.

The workload is bench/data.py's: orders of 3 lines each (the same products and
prices), placed by 200 customers with accounts, waiting in "Being processed" to
be marked "Shipped". Each order is an Oscar ``Order`` with its own
``ShippingAddress``, 3 ``Line`` rows (product, stock record and partner, as
checkout writes them) and their ``LinePrice`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bench.data import CUSTOMERS, LINES, create_database

SHIPPING = Decimal("4.90")
STATUS = "Being processed"


def setup_django(server: str, database: str) -> None:
    """Create ``database`` afresh on ``server``, point Django at it and migrate
    (then :func:`seed` adds what every run shares)."""
    create_database(
        server, database, "bench.oscarpeer.settings", "BENCH_PEER_DATABASE_URL"
    )


@dataclass
class Shop:
    """What every run shares: the site, the catalogue, the event types."""

    country: Any
    partner: Any
    stockrecords: list[Any]
    shipping_event_type: Any


def seed() -> Shop:
    """The shop's site, country, partner, 5 products with stock records, the
    "Shipped" shipping event type and the ``ORDER_SHIPPED`` communication type."""
    from django.contrib.sites.models import Site
    from oscar.core.loading import get_model

    Country = get_model("address", "Country")
    Partner = get_model("partner", "Partner")
    StockRecord = get_model("partner", "StockRecord")
    Product = get_model("catalogue", "Product")
    ProductClass = get_model("catalogue", "ProductClass")
    ShippingEventType = get_model("order", "ShippingEventType")
    CommunicationEventType = get_model("communication", "CommunicationEventType")

    Site.objects.update_or_create(
        pk=1, defaults={"domain": "oscar.example.com", "name": "Oscar Shop"}
    )
    country, _ = Country.objects.get_or_create(
        iso_3166_1_a2="DE",
        defaults={
            "iso_3166_1_a3": "DEU",
            "printable_name": "Germany",
            "name": "Federal Republic of Germany",
            "is_shipping_country": True,
        },
    )
    partner, _ = Partner.objects.get_or_create(name="Tea Warehouse")
    product_class, _ = ProductClass.objects.get_or_create(
        name="Tea things", defaults={"track_stock": True}
    )
    stockrecords = []
    for index, (title, price) in enumerate(LINES):
        product, _ = Product.objects.get_or_create(
            title=title,
            defaults={
                "product_class": product_class,
                "upc": "TEA-%03d" % index,
                "structure": Product.STANDALONE,
            },
        )
        record, _ = StockRecord.objects.get_or_create(
            product=product,
            partner=partner,
            defaults={
                "partner_sku": "TEA-%03d" % index,
                "price": price,
                "price_currency": "EUR",
                "num_in_stock": 1_000_000,
                "num_allocated": 0,
            },
        )
        stockrecords.append(record)
    shipped, _ = ShippingEventType.objects.get_or_create(
        code="shipped", defaults={"name": "Shipped"}
    )
    CommunicationEventType.objects.get_or_create(
        code="ORDER_SHIPPED",
        defaults={
            "name": "Order shipped",
            "category": CommunicationEventType.ORDER_RELATED,
        },
    )
    return Shop(
        country=country,
        partner=partner,
        stockrecords=stockrecords,
        shipping_event_type=shipped,
    )


def reset_tables() -> None:
    """Empty the customers, the orders and what shipping them writes (the
    catalogue and the event types stay; ids keep counting up)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from oscar.core.loading import get_model

    tables = [
        get_user_model()._meta.db_table,
        get_model("order", "Order")._meta.db_table,
        get_model("order", "ShippingAddress")._meta.db_table,
        get_model("communication", "Email")._meta.db_table,
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE %s CASCADE"
            % ", ".join(connection.ops.quote_name(t) for t in tables)
        )


def build_orders(shop: Shop, count: int, tag: str) -> list[str]:
    """Create 200 customers, a merchant and ``count`` orders of 3 lines each,
    set-based; return the order numbers."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from oscar.core.loading import get_model

    Order = get_model("order", "Order")
    Line = get_model("order", "Line")
    LinePrice = get_model("order", "LinePrice")
    ShippingAddress = get_model("order", "ShippingAddress")

    user_model = get_user_model()
    customers = user_model.objects.bulk_create(
        [
            user_model(
                username="customer%d" % index,
                email="customer%d@example.com" % index,
                first_name="Customer",
                last_name=str(index),
                password="!",
            )
            for index in range(CUSTOMERS)
        ]
    )
    user_model.objects.create(
        username="merchant", email="merchant@example.com", is_staff=True
    )
    addresses = []
    for index in range(count):
        customer = customers[index % CUSTOMERS]
        address = ShippingAddress(
            first_name=customer.first_name,
            last_name=customer.last_name,
            line1="%d Teapot Lane" % (1 + index % 97),
            line4="Berlin",
            postcode="10115",
            country=shop.country,
        )
        address._update_search_text()  # what save() does; bulk_create doesn't
        addresses.append(address)
    ShippingAddress.objects.bulk_create(addresses, batch_size=1000)

    now = timezone.now()
    orders, lines = [], []
    for index, address in enumerate(addresses):
        customer = customers[index % CUSTOMERS]
        order_lines = []
        for offset in range(3):
            record = shop.stockrecords[(index + offset) % len(LINES)]
            _, price = LINES[(index + offset) % len(LINES)]
            quantity = 1 + (index + offset) % 3
            total = price * quantity
            order_lines.append(
                Line(
                    partner=shop.partner,
                    partner_name=shop.partner.name,
                    partner_sku=record.partner_sku,
                    stockrecord=record,
                    product_id=record.product_id,
                    title=LINES[(index + offset) % len(LINES)][0],
                    upc=record.partner_sku,
                    quantity=quantity,
                    line_price_incl_tax=total,
                    line_price_excl_tax=total,
                    line_price_before_discounts_incl_tax=total,
                    line_price_before_discounts_excl_tax=total,
                    unit_price_incl_tax=price,
                    unit_price_excl_tax=price,
                    status="Pending",
                    num_allocated=quantity,
                )
            )
        basket_total = sum(
            (line.line_price_incl_tax for line in order_lines), Decimal()
        )
        orders.append(
            Order(
                number="%s-%d" % (tag, index + 1),
                site_id=1,
                user=customer,
                currency="EUR",
                total_incl_tax=basket_total + SHIPPING,
                total_excl_tax=basket_total + SHIPPING,
                shipping_incl_tax=SHIPPING,
                shipping_excl_tax=SHIPPING,
                shipping_address=address,
                shipping_method="Standard shipping",
                shipping_code="standard",
                status=STATUS,
                date_placed=now,
            )
        )
        lines.append(order_lines)
    Order.objects.bulk_create(orders, batch_size=1000)
    for order, order_lines in zip(orders, lines, strict=True):
        for line in order_lines:
            line.order = order
    all_lines = [line for order_lines in lines for line in order_lines]
    Line.objects.bulk_create(all_lines, batch_size=3000)
    LinePrice.objects.bulk_create(
        [
            LinePrice(
                order=line.order,
                line=line,
                quantity=line.quantity,
                price_incl_tax=line.unit_price_incl_tax,
                price_excl_tax=line.unit_price_excl_tax,
            )
            for line in all_lines
        ],
        batch_size=3000,
    )
    return [order.number for order in orders]


def make_workload(shop: Shop, count: int, tag: str) -> list[Any]:
    """Empty the tables, create ``count`` orders ready to ship and return them
    loaded as the dashboard's order page holds them (untimed)."""
    from django.db import connection
    from oscar.core.loading import get_model

    Order = get_model("order", "Order")
    reset_tables()
    build_orders(shop, count, tag)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return list(
        Order.objects.select_related("user", "shipping_address__country").order_by("pk")
    )
