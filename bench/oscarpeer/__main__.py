"""The peer shop's process: ``python -m bench.oscarpeer --server URL --database NAME``.

It creates its database, migrates it, seeds the shop and warms up, then prints
one JSON line (``{"ready": ...}``) and answers requests read from standard
input, one JSON line each, with one JSON line on standard output:

* ``{"command": "prepare", "orders": N, "tag": "PE1"}``: a fresh workload
  (untimed); answers ``{"numbers": [...]}``.
* ``{"command": "run"}``: ships the prepared orders, timed; answers the run's
  figures (``orders``, ``seconds``, ``orders_per_s``, ``statements_per_order``,
  ``cpu_seconds``, ``rows``, ``rows_ok``).
* ``{"command": "quit"}``: drops the database and exits.

A request that fails is answered ``{"error": "<traceback>"}``. Anything else
the process prints goes to standard error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class Peer:
    """The shop, its merchant and the orders of the current run."""

    def __init__(self, shop) -> None:
        self.shop = shop
        self.orders: list[Any] = []

    def prepare(self, count: int, tag: str) -> dict[str, Any]:
        from bench.oscarpeer.data import make_workload

        self.orders = make_workload(self.shop, count, tag)
        return {"numbers": [order.number for order in self.orders]}

    def _merchant(self):
        from django.contrib.auth import get_user_model

        return get_user_model().objects.get(username="merchant")

    def run(self) -> dict[str, Any]:
        """Ship every prepared order, one transaction each, timed."""
        from django.db import connection

        from bench.data import StatementCounter, Workload
        from bench.oscarpeer.shipping import ship

        orders, self.orders = self.orders, []
        if not orders:
            raise RuntimeError("No orders prepared.")
        # The dashboard's request has its user already; so does this loop.
        merchant = self._merchant()
        shipment = Workload(orders).shipment
        event_type = self.shop.shipping_event_type
        counter = StatementCounter()
        with connection.execute_wrapper(counter):
            cpu = time.process_time()
            started = time.perf_counter()
            for order in orders:
                ship(
                    order,
                    merchant=merchant,
                    event_type=event_type,
                    **shipment(order),
                )
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
        rows = count_rows()
        return {
            "orders": len(orders),
            "seconds": round(seconds, 4),
            "orders_per_s": round(len(orders) / seconds, 1),
            "statements_per_order": round(counter.count / len(orders), 2),
            "cpu_seconds": round(cpu, 3),
            "rows": rows,
            "rows_ok": rows_ok(rows, len(orders)),
        }

    def statements_of_one_order(self) -> list[str]:
        """The SQL of one order (values replaced by ``?``)."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from bench.data import Workload
        from bench.oscarpeer.shipping import ship

        self.prepare(1, "Q")
        order = self.orders[0]
        merchant = self._merchant()
        shipment = Workload([order]).shipment(order)
        with CaptureQueriesContext(connection) as queries:
            ship(
                order,
                merchant=merchant,
                event_type=self.shop.shipping_event_type,
                **shipment,
            )
        self.orders = []
        return [normalize(query["sql"]) for query in queries.captured_queries]


def count_rows() -> dict[str, int]:
    """What shipping wrote, by kind (checked after the timed run)."""
    from oscar.core.loading import get_model

    def count(app, model, **filters):
        return get_model(app, model).objects.filter(**filters).count()

    return {
        "orders_shipped": count("order", "Order", status="Shipped"),
        "orders_not_shipped": count("order", "Order")
        - count("order", "Order", status="Shipped"),
        "shipping_events": count("order", "ShippingEvent"),
        "shipping_event_quantities": count("order", "ShippingEventQuantity"),
        "status_changes": count("order", "OrderStatusChange"),
        "notes": count("order", "OrderNote"),
        "communication_events": count("order", "CommunicationEvent"),
        "emails": count("communication", "Email"),
    }


def rows_ok(rows: dict[str, int], orders: int) -> bool:
    """Every order shipped once: one event with its 3 lines, one status change,
    one note, one communication event and one ``Email`` row each."""
    expected = {
        "orders_shipped": orders,
        "orders_not_shipped": 0,
        "shipping_events": orders,
        "shipping_event_quantities": 3 * orders,
        "status_changes": orders,
        "notes": orders,
        "communication_events": orders,
        "emails": orders,
    }
    return rows == expected


def normalize(sql: str) -> str:
    import re

    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "?", sql)
    sql = re.sub(r"\((?:\?, )+\?\)", "(?…)", sql)
    return sql if len(sql) <= 200 else sql[:197] + "…"


def versions() -> dict[str, str]:
    import platform

    import django
    import oscar
    import psycopg

    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "django_oscar": oscar.get_version(),
        "psycopg": psycopg.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--warm-up", type=int, default=20, metavar="ORDERS")
    args = parser.parse_args(argv)
    # Standard output carries the answers alone.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr

    def answer(message: dict[str, Any]) -> None:
        answers.write(json.dumps(message, default=str) + "\n")

    from bench.data import drop_database
    from bench.oscarpeer import data

    try:
        started = time.perf_counter()
        data.setup_django(args.server, args.database)
        peer = Peer(data.seed())
        # Imports, template loading, URL resolving, connections: untimed.
        peer.prepare(args.warm_up, "PW")
        peer.run()
        statements = peer.statements_of_one_order()
        answer(
            {
                "ready": True,
                "versions": versions(),
                "setup_seconds": round(time.perf_counter() - started, 1),
                "statements_of_one_order": statements,
            }
        )
    except Exception:
        answer({"error": traceback.format_exc()})
        return 1
    try:
        for line in sys.stdin:
            request = json.loads(line)
            command = request.get("command")
            if command == "quit":
                break
            try:
                if command == "prepare":
                    answer(peer.prepare(int(request["orders"]), str(request["tag"])))
                elif command == "run":
                    answer(peer.run())
                else:
                    answer({"error": "unknown command %r" % command})
            except Exception:
                answer({"error": traceback.format_exc()})
    finally:
        drop_database(args.server, args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
