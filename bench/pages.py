"""The customer pages' latency against a bare "my orders" view, in the same run.

The workload (issue 12): one customer with 100 orders, each with 3 lines, its
status changes (placed, confirmed, processing, then shipped by its shipment)
and 1 shipment with 5 carrier scans. Each page is requested
``--requests`` times with Django's test client through a shop's whole
middleware stack (the demo shop's: security, sessions, locale, common, CSRF,
authentication, messages, clickjacking), interleaved with the baseline
(bench/baselineshop/views.py: the customer's orders in one query, a minimal
template), so that a slower or faster spell of the machine touches all alike.
The report gives the median and the 95th percentile of each, their ratio to the
baseline's, and the SQL queries per page. The target (each page within 2× of
the baseline) is reported, never enforced; the run fails only if a page does
not answer 200.

    .venv/bin/python bench/pages.py                # 200 requests per page
    .venv/bin/python bench/pages.py --smoke        # 5 requests per page (CI)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data

SERVER = os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432")
ORDERS = 100
SCANS = 5
TARGET_RATIO = 2.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=200, help="requests per page (default 200)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="5 requests per page, to keep it working"
    )
    parser.add_argument("--json", help="report path (default bench/pages.json)")
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_DATABASE", "order_updates_bench_pages"),
        help="throwaway PostgreSQL database, dropped and created",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.requests = 5
    args.json = args.json or (
        "bench/pages-smoke.json" if args.smoke else "bench/pages.json"
    )
    return args


def make_customer() -> tuple[Any, list[Any]]:
    """The customer and their 100 orders, made through the services (untimed)."""
    from django.contrib.auth import get_user_model

    from order_updates import services
    from order_updates.core.tracking import Scan
    from tests.testapps.plainshop.models import Order, OrderLine

    user = get_user_model().objects.create_user(
        "ada", "ada@example.com", "x", first_name="Ada"
    )
    start = datetime.datetime(2026, 11, 2, 9, tzinfo=datetime.timezone.utc)
    orders = []
    for index in range(ORDERS):
        order = Order.objects.create(
            number="P-%04d" % index,
            user=user,
            email=user.email,
            total=Decimal("27.40"),  # the three lines below
        )
        OrderLine.objects.bulk_create(
            OrderLine(order=order, name=name, quantity=1, price=price)
            for name, price in data.LINES[:3]
        )
        services.start_tracking(order, notify=False)
        services.set_status(order, "confirmed", notify=False)
        services.set_status(order, "processing", notify=False)
        shipment = services.add_shipment(
            order,
            carrier="ups",
            tracking_number="1Z999AA1012345678%d" % (index % 10),
            status="shipped",
            notify=False,
        )
        services.record_tracking_events(
            shipment,
            [
                Scan(
                    occurred_at=start + datetime.timedelta(hours=6 * step),
                    status="in_transit",
                    location="Depot %d" % step,
                    raw_status="I",
                    message="Arrived at facility",
                )
                for step in range(SCANS)
            ],
            notify=False,
        )
        orders.append(order)
    return user, orders


def measure(requests: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from order_updates.core.reads import STATEMENT_SEPARATOR
    from order_updates.notifications.links import tracking_path

    user, orders = make_customer()
    newest = orders[-1]
    client = Client()
    client.force_login(user)
    pages = {
        "baseline": reverse("baseline_my_orders"),
        "my_orders": reverse("order_updates:my_orders"),
        "order_page": reverse("order_updates:order", args=[newest.number]),
        "tracking_page": tracking_path(newest.pk),
    }
    queries = {}
    round_trips = {}
    for name, url in pages.items():  # warm up, check, count queries
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        if response.status_code != 200:
            raise SystemExit("%s answered %d" % (url, response.status_code))
        # SQL statements; on PostgreSQL a page sends some of them together
        # (core.reads.run_fixed_reads), so its round trips can be fewer.
        queries[name] = sum(
            query["sql"].count(STATEMENT_SEPARATOR) + 1 for query in captured
        )
        round_trips[name] = len(captured)
    times: dict[str, list[float]] = {name: [] for name in pages}
    for _ in range(requests):
        for name, url in pages.items():
            started = time.perf_counter()
            response = client.get(url)
            times[name].append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit("%s answered %d" % (url, response.status_code))
    results = {}
    for name, samples in times.items():
        median = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else median
        results[name] = {
            "median_ms": round(median * 1000, 2),
            "p95_ms": round(p95 * 1000, 2),
            "queries": queries[name],
            "round_trips": round_trips[name],
            "url": pages[name],
        }
    for name, result in results.items():
        result["median_ratio"] = round(
            result["median_ms"] / results["baseline"]["median_ms"], 2
        )
        result["p95_ratio"] = round(result["p95_ms"] / results["baseline"]["p95_ms"], 2)
        if name != "baseline":
            result["target_met"] = (
                result["median_ratio"] <= TARGET_RATIO
                and result["p95_ratio"] <= TARGET_RATIO
            )
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["ORDER_UPDATES_TEST_SHOP"] = "plainshop"
    data.setup_django(SERVER, args.database)
    try:
        results = measure(args.requests)
    finally:
        data.drop_database(SERVER, args.database)
    report = {
        "workload": "1 customer, %d orders (3 lines, 2 status changes, 1 shipment "
        "with %d scans each)" % (ORDERS, SCANS),
        "requests_per_page": args.requests,
        "target": "each page's median and p95 within %.0f× of the baseline's"
        % TARGET_RATIO,
        "pages": results,
        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
    }
    print(
        "Customer pages, %d requests each, against a bare view (same run):"
        % (args.requests)
    )
    print(
        "  %-14s %10s %10s %8s %8s %8s %12s"
        % ("page", "median ms", "p95 ms", "×median", "×p95", "queries", "round trips")
    )
    for name, result in results.items():
        print(
            "  %-14s %10.2f %10.2f %8.2f %8.2f %8d %12d"
            % (
                name,
                result["median_ms"],
                result["p95_ms"],
                result["median_ratio"],
                result["p95_ratio"],
                result["queries"],
                result["round_trips"],
            )
        )
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print("JSON report: %s" % args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
