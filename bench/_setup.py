"""Shared set-up: a throwaway PostgreSQL database with the test apps migrated."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get("BENCH_DATABASE", "order_updates_bench")
SERVER = os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432")


def setup_django():
    """Create a fresh bench database, point Django at it and migrate."""
    import psycopg

    with psycopg.connect(SERVER + "/postgres", autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s"' % BENCH_DB)
        conn.execute('CREATE DATABASE "%s"' % BENCH_DB)
    os.environ["DATABASE_URL"] = "%s/%s" % (SERVER, BENCH_DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_orders(count):
    """``count`` plain-shop orders, created set-based."""
    from decimal import Decimal

    from tests.testapps.plainshop.models import Order

    start = Order.objects.count()
    Order.objects.bulk_create(
        [
            Order(
                number="B-%d" % (start + index),
                email="customer%d@example.com" % (start + index),
                total=Decimal("10.00"),
            )
            for index in range(count)
        ],
        batch_size=1000,
    )
    newest = Order.objects.order_by("-pk").values_list("pk", flat=True)[:count]
    return Order.objects.filter(pk__in=list(newest))
