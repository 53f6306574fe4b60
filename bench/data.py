"""The benchmark's database and data: a throwaway PostgreSQL database with the test
shop migrated, and the workload, created set-based and untimed.

The workload (the issue's): orders of 3 lines each, placed by 200 customers (so
customers and their preferences repeat), all in status "processing", ready to be
marked shipped. Each customer has an account and a saved preference (email for
order and shipping updates).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

CUSTOMERS = 200
LINES = (
    ("Ceramic mug", Decimal("12.50")),
    ("Loose-leaf green tea, 250 g", Decimal("8.90")),
    ("Bamboo tea strainer", Decimal("6.00")),
    ("Cast-iron teapot", Decimal("39.00")),
    ("Linen napkins, set of 4", Decimal("18.00")),
)


def setup_django(server: str, database: str) -> None:
    """Create ``database`` afresh on ``server``, point Django at it and migrate."""
    create_database(server, database, "bench.settings", "DATABASE_URL")


def create_database(
    server: str, database: str, settings_module: str, url_variable: str
) -> None:
    """Create ``database`` afresh on ``server``, name it in the environment
    variable ``settings_module`` reads it from, set Django up and migrate (the
    bench's own process and the peer's, each with its settings)."""
    import psycopg

    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % database)
        conn.execute('CREATE DATABASE "%s"' % database)
    os.environ[url_variable] = "%s/%s" % (server, database)
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def drop_database(server: str, database: str) -> None:
    """Drop the benchmark's database (after closing Django's connection)."""
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % database)


class StatementCounter:
    """Counts the SQL statements Django runs (``connection.execute_wrapper``)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def drop_other_database(server: str, database: str) -> None:
    """Drop ``database`` if it exists (one this process never connected to)."""
    import psycopg

    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % database)


def reset_tables() -> None:
    """Empty every table the workload writes (ids keep counting up, so a stray
    task of an earlier run can never match a new row)."""
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.db import connection

    tables = [get_user_model()._meta.db_table]
    for label in ("order_updates", "plainshop", "baselineshop"):
        tables += [
            model._meta.db_table
            for model in apps.get_app_config(label).get_models()
            if model._meta.managed and not model._meta.proxy
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE %s CASCADE"
            % ", ".join(connection.ops.quote_name(t) for t in tables)
        )


@dataclass
class Workload:
    """The orders of one run, loaded as a shop's code would hold them."""

    orders: list[Any]

    def shipment(self, order) -> dict[str, str]:
        """The carrier, tracking number and link of ``order``'s parcel."""
        number = "1Z999AA1%010d" % order.pk
        return {
            "carrier": "ups",
            "tracking_number": number,
            "tracking_url": "https://www.ups.com/track?tracknum=%s" % number,
        }

    def numbers(self) -> set[str]:
        return {order.number for order in self.orders}


def make_workload(count: int, tag: str = "B") -> Workload:
    """Empty the tables, then create ``count`` orders ready to ship (untimed)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from bench.baselineshop.models import ShopOrderStatus
    from order_updates import services
    from order_updates.models import Notification, NotificationPreference
    from tests.testapps.plainshop.models import Order, OrderLine

    reset_tables()
    user_model = get_user_model()
    customers = user_model.objects.bulk_create(
        [
            user_model(
                username="customer%d" % index,
                email="customer%d@example.com" % index,
                first_name="Customer",
                last_name=str(index),
            )
            for index in range(CUSTOMERS)
        ]
    )
    NotificationPreference.objects.bulk_create(
        [
            NotificationPreference(
                user=customer, channels={"order": ["email"], "shipping": ["email"]}
            )
            for customer in customers
        ]
    )
    orders = []
    lines = []
    for index in range(count):
        customer = customers[index % CUSTOMERS]
        order_lines = [
            OrderLine(name=name, quantity=1 + (index + offset) % 3, price=price)
            for offset, (name, price) in enumerate(
                LINES[(index + k) % len(LINES)] for k in range(3)
            )
        ]
        orders.append(
            Order(
                number="%s-%d" % (tag, index + 1),
                user=customer,
                email=customer.email,
                total=sum(
                    (line.price * line.quantity for line in order_lines), Decimal()
                ),
            )
        )
        lines.append(order_lines)
    Order.objects.bulk_create(orders, batch_size=1000)
    for order, order_lines in zip(orders, lines, strict=True):
        for line in order_lines:
            line.order = order
    OrderLine.objects.bulk_create(
        [line for order_lines in lines for line in order_lines], batch_size=3000
    )
    ShopOrderStatus.objects.bulk_create(
        [ShopOrderStatus(order=order) for order in orders], batch_size=1000
    )
    services.bulk_set_status(orders, "processing", notify=False)
    if Notification.objects.exists():
        raise RuntimeError("Setting up the workload queued notifications.")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    loaded = list(Order.objects.select_related("user").order_by("pk"))
    return Workload(orders=loaded)
