"""``run.py --profile``: where a worker's time goes, and bulk operations' memory.

The delivery task function runs in this process (no broker in between) on
batches of 50 notifications, as a worker would run it: first timed plainly
(ms per notification, SQL statements per task), then under cProfile, whose
figures are summed into phases (claim, checks, render, send…) and a list of
the costliest functions.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import re
import time
import tracemalloc
from collections import Counter
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.data import make_workload
from bench.scenarios import Bench, StatementCounter, _normalize

TASK_SIZE = 50

#: Phases of one delivery: (label, file suffix, function name). A function that
#: no longer exists (the engine changed) shows as missing, not as an error.
PHASES = [
    ("claim the rows", "notifications/delivery.py", "claim"),
    (
        "load orders and preferences",
        "notifications/preferences.py",
        "preferences_for_orders",
    ),
    ("checks: type, switch, preference, newer", "notifications/delivery.py", "_decide"),
    (
        "context: order data, links",
        "notifications/templating/context.py",
        "for_notification",
    ),
    ("render: Liquid", "notifications/templating/rendering.py", "render_part"),
    ("render: CSS inlining", "notifications/templating/rendering.py", "inline_css"),
    ("send: SMTP", "notifications/channels/email.py", "send_batch"),
    ("record sent (per group)", "notifications/delivery.py", "_mark_sent"),
    ("record other outcomes", "notifications/delivery.py", "_finish"),
]
TOTAL = ("notifications/delivery.py", "deliver_batch")


def _deliver(ids: list[int]) -> dict[str, int]:
    from order_updates.tasks import deliver_notifications

    # Calling the task object runs its function here, as the worker does.
    return deliver_notifications(ids)


def _find(stats: pstats.Stats, suffix: str, name: str) -> float | None:
    found = None
    for (filename, _, funcname), row in stats.stats.items():  # type: ignore[attr-defined]
        if funcname == name and filename.replace("\\", "/").endswith(suffix):
            found = (found or 0.0) + row[3]  # cumulative seconds
    return found


def _top(stats: pstats.Stats, key: str, count: int, only: str = "") -> list[dict]:
    """The ``count`` functions with most ``key`` time, in files matching ``only``."""
    rows = []
    for (filename, line, funcname), row in stats.stats.items():  # type: ignore[attr-defined]
        if only and only not in filename:
            continue
        short = re.sub(r".*/(site-packages|lib/python3\.\d+)/", "", filename)
        short = re.sub(r".*/order_updates/", "order_updates/", short)
        rows.append(
            {
                "function": "%s:%d(%s)" % (short, line, funcname),
                "calls": row[1],
                "own_s": round(row[2], 4),
                "cumulative_s": round(row[3], 4),
            }
        )
    rows.sort(key=lambda item: item[key], reverse=True)
    return rows[:count]


def delivery_profile(bench: Bench, orders: int, timed_tasks: int) -> dict[str, Any]:
    """Deliver ``orders`` "shipped" emails in-process, in tasks of 50."""
    from order_updates import services
    from order_updates.models import Notification

    workload = make_workload(orders, tag="P")
    services.bulk_add_shipments(
        [(order, workload.shipment(order)) for order in workload.orders],
        status="shipped",
    )
    bench.purge_queue()
    bench.reset_mail()
    ids = list(Notification.objects.order_by("pk").values_list("pk", flat=True))
    tasks = [ids[start : start + TASK_SIZE] for start in range(0, len(ids), TASK_SIZE)]
    if len(tasks) < 4:
        raise SystemExit("--profile needs at least %d orders." % (4 * TASK_SIZE))
    timed_tasks = max(1, min(timed_tasks, len(tasks) - 3))
    outcomes: Counter[str] = Counter()
    # One task to warm up (imports, template compilation, connections).
    outcomes.update(_deliver(tasks[0]))
    timed = tasks[1 : 1 + timed_tasks]
    captured = tasks[1 + timed_tasks]
    profiled = tasks[2 + timed_tasks :]
    # Timed plainly: wall time and statements per task.
    durations, cpu, statements = [], [], []
    for task in timed:
        counter = StatementCounter()
        with connection.execute_wrapper(counter):
            started, started_cpu = time.perf_counter(), time.process_time()
            outcomes.update(_deliver(task))
            durations.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        statements.append(counter.count)
    timed_count = sum(len(task) for task in timed)
    # The statements of one task, by pattern.
    with CaptureQueriesContext(connection) as queries:
        outcomes.update(_deliver(captured))
    patterns = Counter(_normalize(query["sql"]) for query in queries.captured_queries)
    profiler = cProfile.Profile()
    profiler.enable()
    for task in profiled:
        outcomes.update(_deliver(task))
    profiler.disable()
    stats = pstats.Stats(profiler)
    if os.environ.get("BENCH_PSTATS"):
        stats.dump_stats(os.environ["BENCH_PSTATS"])
    total = _find(stats, *TOTAL)
    phases = []
    for label, suffix, name in PHASES:
        seconds = _find(stats, suffix, name)
        phases.append(
            {
                "phase": label,
                "function": "%s:%s" % (suffix, name),
                "seconds": None if seconds is None else round(seconds, 4),
                "share": None if not (seconds and total) else round(seconds / total, 3),
            }
        )
    if total:
        known = sum(item["seconds"] or 0 for item in phases)
        phases.append(
            {
                "phase": "rest: load row, mark sent, signals",
                "function": "",
                "seconds": round(total - known, 4),
                "share": round((total - known) / total, 3),
            }
        )
    mail = bench.mail_report(workload.numbers()) if bench.sink else None
    return {
        "notifications": len(ids),
        "task_size": TASK_SIZE,
        "timed_tasks": len(timed),
        "ms_per_notification": round(1000 * sum(durations) / timed_count, 3),
        # This process's CPU only: what a worker spends, without the database's.
        "cpu_ms_per_notification": round(1000 * sum(cpu) / timed_count, 3),
        "notifications_per_s_one_process": round(timed_count / sum(durations), 1),
        "statements_per_task": round(sum(statements) / len(statements), 1),
        "statements_per_task_by_pattern": [
            {"count": count, "sql": sql} for sql, count in patterns.most_common()
        ],
        "profiled_notifications": sum(len(task) for task in profiled),
        "profiled_seconds": None if total is None else round(total, 4),
        "phases": phases,
        "top_cumulative_order_updates": _top(
            stats, "cumulative_s", 25, only="order_updates"
        ),
        "top_own_time": _top(stats, "own_s", 25),
        "outcomes": dict(outcomes),
        "mail": mail,
        "ok": set(outcomes) == {"sent"} and (mail is None or mail["lost"] == 0),
    }


def add_shipment_profile(bench: Bench, orders: int) -> dict[str, Any]:
    """The merchant side: ``add_shipment(..., status="shipped")`` per order,
    timed plainly on half the orders and under cProfile on the other half."""
    from order_updates import services

    workload = make_workload(orders, tag="A")
    half = len(workload.orders) // 2
    timed, profiled = workload.orders[:half], workload.orders[half:]
    # The first call pays for imports and caches.
    services.add_shipment(timed[0], status="shipped", **workload.shipment(timed[0]))
    started = time.perf_counter()
    for order in timed[1:]:
        services.add_shipment(order, status="shipped", **workload.shipment(order))
    seconds = time.perf_counter() - started
    profiler = cProfile.Profile()
    profiler.enable()
    for order in profiled:
        services.add_shipment(order, status="shipped", **workload.shipment(order))
    profiler.disable()
    bench.purge_queue()
    stats = pstats.Stats(profiler)
    return {
        "calls": len(timed) - 1,
        "ms_per_call": round(1000 * seconds / (len(timed) - 1), 3),
        "profiled_calls": len(profiled),
        "top_cumulative_order_updates": _top(
            stats, "cumulative_s", 25, only="order_updates"
        ),
        "top_own_time": _top(stats, "own_s", 25),
    }


def bulk_memory(bench: Bench, orders: int) -> dict[str, Any]:
    """Peak Python memory (tracemalloc) of the two bulk operations on ``orders``.

    Measured apart from the timings: tracemalloc slows Python down several times.
    """
    from order_updates import services

    result = {}
    workload = make_workload(orders, tag="M")
    tracemalloc.start()
    services.bulk_set_status(workload.orders, "shipped")
    result["bulk_status_peak_mib"] = round(
        tracemalloc.get_traced_memory()[1] / 2**20, 1
    )
    tracemalloc.stop()
    bench.purge_queue()
    workload = make_workload(orders, tag="M")
    pairs = [(order, workload.shipment(order)) for order in workload.orders]
    tracemalloc.start()
    services.bulk_add_shipments(pairs, status="shipped")
    result["bulk_shipments_peak_mib"] = round(
        tracemalloc.get_traced_memory()[1] / 2**20, 1
    )
    tracemalloc.stop()
    bench.purge_queue()
    result["orders"] = orders
    return result
