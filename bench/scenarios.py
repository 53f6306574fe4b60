"""The benchmark's scenarios: each takes a fresh workload and returns one run's figures.

Only the work named in each scenario is inside the timer; creating the data,
checking the outcome and emptying the broker queue are not.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection

from bench.data import StatementCounter, Workload, make_workload
from bench.processes import ROOT, CPUMeter, SinkProcess, WorkerProcess

#: The order number in a "shipped" email's subject ("Your order #B-12 is on its way").
ORDER_IN_SUBJECT = re.compile(r"#([\w-]+)")


@dataclass
class Bench:
    """What every scenario shares: the broker queue, the mail sink, the meters."""

    app: Any
    queue: str
    sink: SinkProcess | None
    mail_dir: str | None
    cpu_sources: dict[str, Any]
    workers: list[WorkerProcess] = field(default_factory=list)
    #: The peer shop's process (bench/peer.py), when the peer runs.
    peer: Any = None

    def meter(self) -> CPUMeter:
        return CPUMeter(self.cpu_sources)

    def peer_postgres_backends(self) -> list[int]:
        """PostgreSQL's processes that work for the peer: the backends of its
        database and the server's own."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = %s OR backend_type <> 'client backend'",
                [self.peer.database],
            )
            return [row[0] for row in cursor.fetchall()]

    def database_sessions(self) -> int:
        """Connections opened to the benchmark's database so far (PostgreSQL's
        statistics, which backends report within a second)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sessions FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
            return cursor.fetchone()[0]

    def pause_workers(self) -> None:
        """Workers stop taking tasks (the in-process scenarios queue tasks that
        nobody should deliver)."""
        if self.workers:
            self.app.control.cancel_consumer(
                self.queue, destination=self._nodes(), reply=True
            )

    def resume_workers(self) -> None:
        if self.workers:
            self.purge_queue()
            self.app.control.add_consumer(
                self.queue, destination=self._nodes(), reply=True
            )

    def _nodes(self) -> list[str]:
        return [worker.node for worker in self.workers]

    def purge_queue(self) -> None:
        """Drop the tasks queued while no worker ran (their rows stay pending)."""
        with self.app.connection_for_write() as conn:
            conn.default_channel.queue_purge(self.queue)

    def delete_queue(self) -> None:
        """Remove the benchmark's queue from the broker.

        Kombu's ``queue_delete`` from a fresh connection leaves the Redis keys
        (the list and its binding sets) behind; on Redis, delete them.
        """
        self.purge_queue()
        with self.app.connection_for_write() as conn:
            conn.default_channel.queue_delete(self.queue)
            if conn.transport.driver_type == "redis":
                client = conn.default_channel.client
                client.delete(
                    self.queue,
                    "_kombu.binding.%s" % self.queue,
                    "_kombu.binding_permanent.%s" % self.queue,
                    *client.scan_iter(match="%s\x06\x16*" % self.queue),
                )

    # Mail ----------------------------------------------------------------------------

    def reset_mail(self) -> None:
        if self.sink is not None:
            self.sink.reset()
        elif self.mail_dir:
            for path in Path(self.mail_dir).glob("*"):
                path.unlink()

    def mail_count(self) -> int | None:
        """Messages received so far (None when only the database can tell)."""
        if self.sink is not None:
            return self.sink.count()
        return None

    def mail_report(self, expected: set[str]) -> dict[str, Any]:
        """Messages received per order: every one exactly once?"""
        if self.sink is not None:
            stats = self.sink.stats()
            subjects = Counter(stats["subjects"])
            total_bytes = stats["bytes"]
        else:
            subjects = Counter()
            total_bytes = 0
            for path in Path(self.mail_dir or ".").glob("*"):
                text = path.read_bytes()
                total_bytes += len(text)
                for match in re.finditer(rb"^Subject: (.*)$", text, re.MULTILINE):
                    subjects[match.group(1).decode().strip()] += 1
        per_order: Counter[str] = Counter()
        for subject, count in subjects.items():
            match = ORDER_IN_SUBJECT.search(subject)
            per_order[match.group(1) if match else subject] += count
        received = sum(per_order.values())
        return {
            "received": received,
            "expected": len(expected),
            "lost": len(expected - set(per_order)),
            "duplicates": sum(count - 1 for count in per_order.values() if count > 1),
            "unexpected": len(set(per_order) - expected),
            "mean_bytes": round(total_bytes / received) if received else 0,
        }


def _mail_ok(mail: dict[str, Any]) -> bool:
    return (
        mail["received"] == mail["expected"]
        and not mail["lost"]
        and not mail["duplicates"]
        and not mail["unexpected"]
    )


def _outbox_rows(expected: int) -> dict[str, Any]:
    """The notification rows written: one pending "shipped" email per order?"""
    from order_updates.models import Notification

    rows = Counter(Notification.objects.values_list("type", "channel", "state"))
    shipped = rows.get(("shipped", "email", "pending"), 0)
    return {
        "rows": sum(rows.values()),
        "shipped_emails_pending": shipped,
        "ok": shipped == expected and sum(rows.values()) == expected,
    }


def _result(count: int, seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "orders": count,
        "seconds": round(seconds, 4),
        "orders_per_s": round(count / seconds, 1),
        **extra,
    }


# In-process scenarios -----------------------------------------------------------------


def baseline(bench: Bench, workload: Workload) -> dict[str, Any]:
    """Per order, one transaction: the shop's own status and tracking columns, the
    email rendered with Django templates and sent synchronously."""
    from bench.baselineshop.shipping import ship

    bench.reset_mail()
    counter = StatementCounter()
    meter = bench.meter()
    meter.start()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        for order in workload.orders:
            ship(order, **workload.shipment(order))
        seconds = time.perf_counter() - started
    cpu = meter.stop()
    mail = bench.mail_report(workload.numbers())
    return _result(
        len(workload.orders),
        seconds,
        statements_per_order=round(counter.count / len(workload.orders), 2),
        mail=mail,
        cpu=cpu,
        ok=_mail_ok(mail),
    )


def per_order(bench: Bench, workload: Workload) -> dict[str, Any]:
    """``add_shipment(order, ..., status="shipped")`` per order, each its own
    transaction, outbox row and task message included (no worker running)."""
    from order_updates import services

    counter = StatementCounter()
    meter = bench.meter()
    meter.start()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        for order in workload.orders:
            services.add_shipment(order, status="shipped", **workload.shipment(order))
        seconds = time.perf_counter() - started
    cpu = meter.stop()
    outbox = _outbox_rows(len(workload.orders))
    bench.purge_queue()
    return _result(
        len(workload.orders),
        seconds,
        statements_per_order=round(counter.count / len(workload.orders), 2),
        outbox=outbox,
        cpu=cpu,
        ok=outbox["ok"],
    )


def bulk_status(bench: Bench, workload: Workload) -> dict[str, Any]:
    """``bulk_set_status(orders, "shipped")``, outbox rows and task messages too."""
    from order_updates import services

    counter = StatementCounter()
    meter = bench.meter()
    meter.start()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = services.bulk_set_status(workload.orders, "shipped")
        seconds = time.perf_counter() - started
    cpu = meter.stop()
    outbox = _outbox_rows(len(workload.orders))
    bench.purge_queue()
    ok = outbox["ok"] and len(result.changed) == len(workload.orders)
    return _result(
        len(workload.orders),
        seconds,
        statements=counter.count,
        outbox=outbox,
        cpu=cpu,
        ok=ok,
    )


def bulk_shipments(bench: Bench, workload: Workload) -> dict[str, Any]:
    """``bulk_add_shipments([(order, {...}), ...], status="shipped")``."""
    from order_updates import services

    pairs = [(order, workload.shipment(order)) for order in workload.orders]
    counter = StatementCounter()
    meter = bench.meter()
    meter.start()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = services.bulk_add_shipments(pairs, status="shipped")
        seconds = time.perf_counter() - started
    cpu = meter.stop()
    outbox = _outbox_rows(len(workload.orders))
    bench.purge_queue()
    ok = outbox["ok"] and len(result.changed) == len(workload.orders)
    return _result(
        len(workload.orders),
        seconds,
        statements=counter.count,
        outbox=outbox,
        cpu=cpu,
        ok=ok,
    )


def peer(bench: Bench, workload: Any) -> dict[str, Any]:
    """The peer shop (django-oscar, in its own process) ships its prepared
    orders: per order, one transaction, Oscar's shipping event, status change
    and note, and the "shipped" email rendered and sent synchronously.

    The peer times itself and counts its statements; here, the CPU of every
    process (its own, its database's backends, the sink's) and the mail."""
    bench.reset_mail()
    meter = CPUMeter(
        {
            **bench.cpu_sources,
            "peer": (bench.peer.pid, "self"),
            "postgresql": bench.peer_postgres_backends,
        }
    )
    meter.start()
    result = bench.peer.run()
    cpu = meter.stop()
    mail = bench.mail_report(workload.numbers())
    return {
        **result,
        "mail": mail,
        "cpu": cpu,
        "ok": _mail_ok(mail) and result["rows_ok"],
    }


def _normalize(sql: str) -> str:
    """A statement with its values replaced by ``?``: its pattern."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "?", sql)
    sql = re.sub(r"\((?:\?, )+\?\)", "(?…)", sql)
    return sql if len(sql) <= 200 else sql[:197] + "…"


def statement_patterns(bench: Bench) -> dict[str, list[str]]:
    """The SQL statements of one baseline order and one ``add_shipment`` call."""
    from django.test.utils import CaptureQueriesContext

    from bench.baselineshop.shipping import ship
    from order_updates import services

    workload = make_workload(2, tag="Q")
    first, second = workload.orders
    with CaptureQueriesContext(connection) as baseline_queries:
        ship(first, **workload.shipment(first))
    with CaptureQueriesContext(connection) as ours:
        services.add_shipment(second, status="shipped", **workload.shipment(second))
    bench.purge_queue()
    return {
        "baseline": [_normalize(q["sql"]) for q in baseline_queries.captured_queries],
        "per_order": [_normalize(q["sql"]) for q in ours.captured_queries],
    }


# End to end, with the workers ---------------------------------------------------------


def wait_until_sent(bench: Bench, expected: int, timeout: float) -> dict[str, int]:
    """Wait until ``expected`` rows are sent; return the rows by state.

    Asks the sink first (cheap, another process) so that polling does not load
    the database the workers use, then the database, which has the last word.
    """
    from order_updates.models import Notification, NotificationState

    deadline = time.monotonic() + timeout
    while True:
        received = bench.mail_count()
        if received is None or received >= expected:
            states = Counter(Notification.objects.values_list("state", flat=True))
            if states.get(NotificationState.SENT, 0) >= expected:
                return dict(states)
            if states.get(NotificationState.FAILED):
                raise RuntimeError("Notifications failed: %s" % dict(states))
        if time.monotonic() > deadline:
            states = Counter(Notification.objects.values_list("state", flat=True))
            raise RuntimeError(
                "Timed out after %ds: %s rows by state, %s messages at the sink."
                % (timeout, dict(states), received)
            )
        time.sleep(0.01)


def _timeout(count: int) -> float:
    return max(120.0, count / 10)


def end_to_end(bench: Bench, workload: Workload) -> dict[str, Any]:
    """From the ``bulk_add_shipments`` call until every email was handed to the
    email backend by the workers (every row sent)."""
    from order_updates import services

    count = len(workload.orders)
    pairs = [(order, workload.shipment(order)) for order in workload.orders]
    bench.reset_mail()
    sessions = bench.database_sessions()
    meter = bench.meter()
    meter.start()
    started = time.perf_counter()
    services.bulk_add_shipments(pairs, status="shipped")
    queued = time.perf_counter() - started
    states = wait_until_sent(bench, count, _timeout(count))
    seconds = time.perf_counter() - started
    cpu = meter.stop()
    mail = bench.mail_report(workload.numbers())
    time.sleep(1.5)  # until the workers' closed connections are in the statistics
    return _result(
        count,
        seconds,
        queued_seconds=round(queued, 4),
        database_connections=bench.database_sessions() - sessions,
        rows=states,
        mail=mail,
        cpu=cpu,
        ok=_mail_ok(mail) and states == {"sent": count},
    )


def end_to_end_single(bench: Bench, workload: Workload) -> dict[str, Any]:
    """The same wave as one ``add_shipment`` call per order (sequential, one
    thread) while the workers deliver."""
    from order_updates import services

    count = len(workload.orders)
    bench.reset_mail()
    sessions = bench.database_sessions()
    meter = bench.meter()
    meter.start()
    started = time.perf_counter()
    for order in workload.orders:
        services.add_shipment(order, status="shipped", **workload.shipment(order))
    queued = time.perf_counter() - started
    states = wait_until_sent(bench, count, _timeout(count))
    seconds = time.perf_counter() - started
    cpu = meter.stop()
    mail = bench.mail_report(workload.numbers())
    time.sleep(1.5)  # until the workers' closed connections are in the statistics
    return _result(
        count,
        seconds,
        queued_seconds=round(queued, 4),
        database_connections=bench.database_sessions() - sessions,
        rows=states,
        mail=mail,
        cpu=cpu,
        ok=_mail_ok(mail) and states == {"sent": count},
    )


def start_workers(bench: Bench, env: dict[str, str], count: int = 2) -> None:
    """Start ``count`` workers (prefork, one process each) and wait until ready."""
    bench.workers = [WorkerProcess(bench.queue, env).launch() for _ in range(count)]
    for worker in bench.workers:
        worker.wait_ready(bench.app)
    for index, worker in enumerate(bench.workers):
        bench.cpu_sources["worker %d" % (index + 1)] = (worker.pid, "tree")


def stop_workers(bench: Bench) -> None:
    for worker in bench.workers:
        worker.stop()
    for index in range(len(bench.workers)):
        bench.cpu_sources.pop("worker %d" % (index + 1), None)
    bench.workers = []


# The sink alone -----------------------------------------------------------------------


def sink_capacity(bench: Bench, message: bytes, count: int) -> dict[str, Any]:
    """Messages per second the sink takes from 2 sending processes, one SMTP
    connection per message (the workers' pattern), with nothing else running."""
    assert bench.sink is not None
    with tempfile.NamedTemporaryFile(suffix=".eml", delete=False) as file:
        file.write(message)
    bench.sink.reset()
    senders = [
        subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "smtp_sink.py"),
                "--send",
                str(count // 2),
                "--port",
                str(bench.sink.port),
                "--message",
                file.name,
                "--tag",
                "S%d" % index,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for index in range(2)
    ]
    meter = CPUMeter({"sink": bench.cpu_sources["sink"]})
    meter.start()
    times = []
    for sender in senders:
        out, _ = sender.communicate(timeout=600)
        if sender.returncode:
            raise RuntimeError("The sink test's sender failed.")
        times.append(json.loads(out))
    cpu = meter.stop()
    Path(file.name).unlink()
    seconds = max(t["end"] for t in times) - min(t["start"] for t in times)
    received = bench.sink.stats()["messages"]
    sent = 2 * (count // 2)
    return {
        "messages": sent,
        "received": received,
        "seconds": round(seconds, 3),
        "messages_per_s": round(sent / seconds, 1),
        "sink_cpu_seconds": cpu["sink"],
        "message_bytes": len(message),
        "ok": received == sent,
    }
