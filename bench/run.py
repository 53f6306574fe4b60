"""The order_updates benchmark: one command, a same-run baseline, a JSON report.

    python bench/run.py                  # 2,000 orders, every scenario 3 times
    python bench/run.py --orders 500 --runs 5
    python bench/run.py --smoke          # each scenario once, a few dozen orders (CI)
    python bench/run.py --profile        # where a worker's time goes

See bench/README.md for what each scenario measures and how. Targets are
printed as met or not; they never fail the command. It exits non-zero only if
something went wrong: an email lost or sent twice, outbox rows missing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts bench/ first on the path; its modules are meant
# to be imported as bench.*, from the project root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench import data, scenarios  # noqa: E402
from bench.peer import PeerProcess, find_python  # noqa: E402
from bench.processes import SinkProcess, wait_for_quiet  # noqa: E402

SERVER = os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432")
DATABASE = os.environ.get("BENCH_DATABASE", "order_updates_bench")
SMOKE_ORDERS = 40

#: (key, label, function); the first is the baseline the others are compared to.
IN_PROCESS = [
    ("baseline", "baseline (shop's own code)", scenarios.baseline),
    ("per_order", "per-order add_shipment", scenarios.per_order),
    ("bulk_status", "bulk_set_status", scenarios.bulk_status),
    ("bulk_shipments", "bulk_add_shipments", scenarios.bulk_shipments),
]
WITH_WORKERS = [
    ("end_to_end", "end to end (bulk call)", scenarios.end_to_end),
    ("end_to_end_single", "end to end (single calls)", scenarios.end_to_end_single),
]
#: The peer shop: django-oscar without order_updates, in a process of its own
#: (bench/peer.py); the second yardstick, the issue's.
PEER = ("peer", "peer (django-oscar shop)", scenarios.peer)
#: Every scenario, in the order of a round.
SCENARIOS = [IN_PROCESS[0], PEER, *IN_PROCESS[1:], *WITH_WORKERS]
LABELS = {key: label for key, label, _ in SCENARIOS}
WORKER_KEYS = {key for key, _, _ in WITH_WORKERS}

#: (label, scenario, what is compared, threshold). The issue's targets are
#: against the peer; the baseline's are this bench's older, stricter yardstick.
TARGETS = [
    ("end to end >= 500 orders/s", "end_to_end", "orders_per_s", 500),
    ("end to end >= 10x peer", "end_to_end", "ratio_to_peer", 10),
    ("per-order >= 2x peer", "per_order", "ratio_to_peer", 2),
    ("end to end >= 10x baseline", "end_to_end", "ratio_to_baseline", 10),
    ("per-order >= 2x baseline", "per_order", "ratio_to_baseline", 2),
    ("bulk_set_status >= 2,000 orders/s", "bulk_status", "orders_per_s", 2000),
    ("bulk_add_shipments >= 2,000 orders/s", "bulk_shipments", "orders_per_s", 2000),
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark order_updates against a shop without it, same run."
    )
    parser.add_argument("--orders", type=int, help="orders per run (default 2000)")
    parser.add_argument("--runs", type=int, help="runs per scenario (default 3)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="every scenario (and the profile) once on %d orders: CI" % SMOKE_ORDERS,
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="only the worker-side profile and the bulk operations' memory",
    )
    parser.add_argument("--json", help="report path (default bench/results.json)")
    parser.add_argument(
        "--email-backend",
        choices=["smtp", "file"],
        default="smtp",
        help="smtp: a local SMTP sink in its own process (default); file: "
        "Django's file-based backend",
    )
    parser.add_argument(
        "--database",
        default=DATABASE,
        help="throwaway PostgreSQL database, dropped and created (default "
        "$BENCH_DATABASE or %(default)s)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each run, wait up to this long for a quiet second on the "
        "machine (for shared machines; default: don't wait)",
    )
    parser.add_argument(
        "--retry-disturbed",
        type=int,
        default=0,
        metavar="N",
        help="do a run again when other processes used more than a fifth of a "
        "core during it, at most N times in all (default 0)",
    )
    parser.add_argument(
        "--scenarios",
        metavar="KEYS",
        help="only these scenarios, comma-separated (e.g. "
        "peer,per_order,end_to_end; default: all of %s); the baseline "
        "always runs, the workers only for an end-to-end scenario, the peer's "
        "process only for the peer" % ", ".join(LABELS),
    )
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args(argv)
    if args.scenarios:
        chosen = {key.strip() for key in args.scenarios.split(",") if key.strip()}
        unknown = sorted(chosen - set(LABELS))
        if unknown:
            parser.error(
                "unknown scenarios %s; known: %s"
                % (", ".join(unknown), ", ".join(LABELS))
            )
        args.scenarios = [key for key in LABELS if key in chosen | {"baseline"}]
    else:
        args.scenarios = list(LABELS)
    if args.smoke:
        args.orders = args.orders or SMOKE_ORDERS
        args.runs = args.runs or 1
    args.orders = args.orders or 2000
    args.runs = args.runs or 3
    if args.orders < 1 or args.runs < 1:
        parser.error("--orders and --runs must be at least 1.")
    if args.json is None:
        name = (
            "profile" if args.profile else "results-smoke" if args.smoke else "results"
        )
        args.json = str(ROOT / "bench" / ("%s.json" % name))
    return args


# Machine ------------------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine_info() -> dict[str, Any]:
    import celery
    import django
    import psycopg
    import redis
    from django.conf import settings
    from django.db import connection

    cpu_model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory = "%.1f GiB" % (kib / 2**20)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "cpu": cpu_model,
        "memory": memory,
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "celery": celery.__version__,
        "psycopg": psycopg.__version__,
        "postgresql": postgres,
        "redis": broker.info("server")["redis_version"],
    }


def _our_postgres_backends() -> list[int]:
    """PostgreSQL's processes that work for this benchmark: the backends of its
    database and the server's own (writer, checkpointer, autovacuum…); other
    databases' backends count as other people's work."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() OR backend_type <> 'client backend'"
        )
        return [row[0] for row in cursor.fetchall()]


def _postmaster_pid() -> int | None:
    """The PostgreSQL server's main process: the parent of our backend."""
    from django.db import connection

    from bench.processes import _stat

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        fields = _stat(cursor.fetchone()[0])
    return int(fields[1]) if fields else None


def _redis_pid() -> int:
    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return int(broker.info("server")["process_id"])


# Running ------------------------------------------------------------------------------


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs (each figure's own median)."""
    summary: dict[str, Any] = {
        "median_orders_per_s": statistics.median(run["orders_per_s"] for run in runs),
        "median_seconds": statistics.median(run["seconds"] for run in runs),
    }
    for key in ("statements_per_order", "statements", "queued_seconds"):
        if key in runs[0]:
            summary["median_" + key] = statistics.median(run[key] for run in runs)
    summary["ok"] = all(run["ok"] for run in runs)
    summary["disturbed_runs"] = sum(run.get("disturbed", False) for run in runs)
    summary["runs"] = runs
    return summary


def disturbed(run: dict[str, Any]) -> bool:
    """Whether other processes used more than a fifth of a core during the run."""
    cpu = run.get("cpu")
    return bool(cpu and cpu["wall"] and cpu["other"] / cpu["wall"] > 0.2)


def run_once(bench, key, function, args, log, round_number, retries) -> dict:
    """One run of a scenario on fresh data. A run that other processes
    disturbed is done again while ``retries[key]`` allows."""
    while True:
        tag = "%s%d" % (key[:2].upper(), round_number)
        if key == "peer":
            workload = bench.peer.prepare(args.orders, tag)
        else:
            workload = data.make_workload(args.orders, tag=tag)
        if args.wait_quiet:
            wait_for_quiet(args.wait_quiet)
        probe = cpu_probe()
        if key in WORKER_KEYS:
            bench.resume_workers()
        try:
            result = function(bench, workload)
        finally:
            if key in WORKER_KEYS:
                bench.pause_workers()
        result["cpu_probe_ms"] = probe
        result["disturbed"] = disturbed(result)
        log(
            "  %-28s %8.1f orders/s  (%.2f s)%s%s"
            % (
                LABELS[key],
                result["orders_per_s"],
                result["seconds"],
                "" if result["ok"] else "  CHECK FAILED",
                "  (machine busy: others used %.2f CPU s)" % result["cpu"]["other"]
                if result["disturbed"]
                else "",
            )
        )
        if result["disturbed"] and result["ok"] and retries[key] > 0:
            retries[key] -= 1
            continue
        return result


def cpu_probe() -> float:
    """Milliseconds a fixed bit of pure Python takes (the best of 3): how fast
    this machine's cores run right now. Shared hosts vary, and a run's figures
    are only comparable with runs of similar probe times."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(200_000):
            total += number * number % 7
        best = min(best, time.perf_counter() - started)
    return round(1000 * best, 2)


def warm_up_in_process(bench, log) -> None:
    """Each in-process scenario once on a few orders, untimed: imports, template
    loading and connections are not what we measure."""
    for _, _, function in IN_PROCESS:
        function(bench, data.make_workload(10, tag="W"))
    log("  in-process scenarios warmed up")


def warm_up_workers(bench, log) -> None:
    """Give both workers tasks until each has delivered some."""
    from order_updates import services

    workload = data.make_workload(60, tag="WW")
    bench.reset_mail()
    for order in workload.orders[:20]:
        services.add_shipment(order, status="shipped", **workload.shipment(order))
    services.bulk_add_shipments(
        [(order, workload.shipment(order)) for order in workload.orders[20:]],
        status="shipped",
    )
    scenarios.wait_until_sent(bench, len(workload.orders), 120)
    log("  workers warmed up")


def sample_message() -> bytes:
    """A baseline "shipped" email as the SMTP backend sends it (the sink test's)."""
    from django.utils import timezone

    from bench.baselineshop.shipping import build_email

    workload = data.make_workload(1, tag="S")
    order = workload.orders[0]
    email = build_email(order, shipped_at=timezone.now(), **workload.shipment(order))
    return email.message().as_bytes(linesep="\r\n")


def launch_peer(bench, args, log) -> dict[str, Any]:
    """Start the peer shop's process (it migrates its database and warms up
    while this one does); what the report says of it. Without a Python that
    has django-oscar, say so: the peer is skipped, the rest runs."""
    python, about = find_python()
    if python is None:
        log("Peer skipped: %s" % about)
        return {"skipped": about}
    database = "%s_peer" % args.database
    log("Starting the peer shop (%s, %s), database %s" % (python, about, database))
    bench.peer = PeerProcess(python, SERVER, database).launch(
        {}, warm_up=10 if args.smoke else 50
    )
    return {"python": python, "database": database}


def stop_peer(bench) -> None:
    if bench.peer is not None:
        bench.peer.stop()
        bench.peer = None


def run_all(bench, args, worker_env, log, peer_report) -> dict[str, Any]:
    """Every scenario ``args.runs`` times, in rounds (baseline, peer, per-order,
    bulk, end to end; again…) so that a slower or faster spell of the machine
    touches the baseline, the peer and the others alike."""
    if "peer" in args.scenarios:
        peer_report.update(launch_peer(bench, args, log))
    chosen = [
        (key, label, function)
        for key, label, function in SCENARIOS
        if key in args.scenarios and (key != "peer" or bench.peer is not None)
    ]
    if WORKER_KEYS & set(args.scenarios):
        log("Starting 2 Celery workers (prefork, concurrency 1)")
        scenarios.start_workers(bench, worker_env)
    try:
        if bench.workers:
            warm_up_workers(bench, log)
            bench.pause_workers()
        warm_up_in_process(bench, log)
        statements = scenarios.statement_patterns(bench)
        if bench.peer is not None:
            ready = bench.peer.wait_ready()
            statements["peer"] = ready["statements_of_one_order"]
            peer_report["versions"] = ready["versions"]
            peer_report["setup_seconds"] = ready["setup_seconds"]
            log(
                "  peer ready: Django %s, django-oscar %s (migrated and warmed up "
                "in %.0f s)"
                % (
                    ready["versions"]["django"],
                    ready["versions"]["django_oscar"],
                    ready["setup_seconds"],
                )
            )
        runs: dict[str, list] = {key: [] for key, _, _ in chosen}
        retries = dict.fromkeys(runs, args.retry_disturbed)
        for round_number in range(1, args.runs + 1):
            log("Round %d of %d (%d orders):" % (round_number, args.runs, args.orders))
            for key, _, function in chosen:
                runs[key].append(
                    run_once(bench, key, function, args, log, round_number, retries)
                )
    finally:
        scenarios.stop_workers(bench)
        stop_peer(bench)
    results = {key: summarize(key_runs) for key, key_runs in runs.items()}
    for key, summary in results.items():
        summary["discarded_disturbed_runs"] = args.retry_disturbed - retries[key]
    for key in ("baseline", "per_order", "peer"):  # --scenarios may leave some out
        if key in results:
            results[key]["statements_of_one_order"] = statements[key]
    add_ratios(results, "baseline")
    if "peer" in results:
        # The peer sends its email in the request: its end to end is its
        # per-order rate, so every scenario compares with that one figure.
        add_ratios(results, "peer")
    return results


def add_ratios(results: dict[str, Any], to: str) -> None:
    """Each scenario's median orders/s over ``to``'s (``ratio_to_<to>``), and
    the same round by round: each run against ``to``'s run of its round, which
    the machine's mood of the moment touched alike."""
    median = results[to]["median_orders_per_s"]
    for summary in results.values():
        summary["ratio_to_" + to] = round(summary["median_orders_per_s"] / median, 2)
        by_round = [
            round(run["orders_per_s"] / other["orders_per_s"], 2)
            for run, other in zip(summary["runs"], results[to]["runs"], strict=True)
        ]
        summary["ratio_to_%s_by_round" % to] = by_round
        summary["median_ratio_to_%s_by_round" % to] = statistics.median(by_round)


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    targets = []
    for label, key, figure, threshold in TARGETS:
        name = "median_orders_per_s" if figure == "orders_per_s" else figure
        if name not in results.get(key, {}):  # not run, or the peer skipped
            continue
        measured = results[key][name]
        targets.append(
            {
                "target": label,
                "measured": measured,
                "unit": "orders/s"
                if figure == "orders_per_s"
                else "x " + figure.removeprefix("ratio_to_"),
                "met": measured >= threshold,
            }
        )
    return targets


# Output -------------------------------------------------------------------------------


def print_report(report: dict[str, Any], out=sys.stdout) -> None:
    def p(text: str = "") -> None:
        print(text, file=out)

    machine = report["machine"]
    p()
    p(
        "order_updates benchmark, %s, commit %s%s"
        % (
            machine["date"],
            machine["git_commit"][:10],
            " (dirty)" if machine["git_dirty"] else "",
        )
    )
    p(
        "%s cores (%s), Python %s, Django %s, PostgreSQL %s, Redis %s, email: %s"
        % (
            machine["cores"],
            machine["cpu"],
            machine["python"],
            machine["django"],
            machine["postgresql"],
            machine["redis"],
            report["config"]["email"],
        )
    )
    config = report["config"]
    results = report.get("scenarios")
    if results:
        p(
            "%d orders x %d lines, %d customers, median of %d run(s)%s"
            % (
                config["orders"],
                config["lines_per_order"],
                config["customers"],
                config["runs"],
                "  [SMOKE: figures not meaningful]" if config["smoke"] else "",
            )
        )
        peer = report.get("peer", {})
        if "versions" in peer:
            p(
                "peer: django-oscar %s, Django %s, Python %s (%s), database %s"
                % (
                    peer["versions"]["django_oscar"],
                    peer["versions"]["django"],
                    peer["versions"]["python"],
                    peer["python"],
                    peer["database"],
                )
            )
        elif "skipped" in peer:
            p("peer: SKIPPED, %s" % peer["skipped"])
        with_peer = "peer" in results
        p()
        p(
            "%-28s %10s %8s %9s %8s %8s%s  %s"
            % (
                "scenario",
                "orders/s",
                "seconds",
                "SQL/order",
                "vs base",
                "by round",
                " %8s %8s" % ("vs peer", "by round") if with_peer else "",
                "runs (orders/s)",
            )
        )
        for key, summary in results.items():
            statements = summary.get("median_statements_per_order")
            if statements is None and "median_statements" in summary:
                statements = summary["median_statements"] / config["orders"]
            p(
                "%-28s %10.1f %8.2f %9s %7.2fx %7.2fx%s  %s%s"
                % (
                    LABELS[key],
                    summary["median_orders_per_s"],
                    summary["median_seconds"],
                    "-" if statements is None else "%.2f" % statements,
                    summary["ratio_to_baseline"],
                    summary["median_ratio_to_baseline_by_round"],
                    " %7.2fx %7.2fx"
                    % (
                        summary["ratio_to_peer"],
                        summary["median_ratio_to_peer_by_round"],
                    )
                    if with_peer
                    else "",
                    " ".join(
                        "%.1f%s"
                        % (run["orders_per_s"], "*" if run["disturbed"] else "")
                        for run in summary["runs"]
                    ),
                    "" if summary["ok"] else "  CHECK FAILED",
                )
            )
        if with_peer:
            p(
                "vs base, vs peer: median orders/s over the baseline's, the "
                "peer's; by round: the median of each run over the baseline's "
                "(peer's) run of its round. The peer sends its email in the "
                "request, so its rate is its end to end too."
            )
        else:
            p(
                "vs base: median orders/s over the baseline's; by round: the "
                "median of each run over the baseline run of its round."
            )
        if any(summary["disturbed_runs"] for summary in results.values()):
            p(
                "* other processes used more than a fifth of a core during this run "
                "(see cpu.other in the JSON)"
            )
        probes = [
            run["cpu_probe_ms"]
            for summary in results.values()
            for run in summary["runs"]
        ]
        p(
            "CPU speed probe before each run: %.1f to %.1f ms (the same work; "
            "a spread means the host's speed varied during the benchmark)"
            % (min(probes), max(probes))
        )
        p()
        for key in ("baseline", "peer", "end_to_end", "end_to_end_single"):
            if key in results:
                mails = [run["mail"] for run in results[key]["runs"]]
                p(
                    "mail, %s: %s received of %s expected, %d lost, %d duplicates, "
                    "%d unexpected; %d bytes per message"
                    % (
                        LABELS[key],
                        "/".join(str(m["received"]) for m in mails),
                        "/".join(str(m["expected"]) for m in mails),
                        sum(m["lost"] for m in mails),
                        sum(m["duplicates"] for m in mails),
                        sum(m["unexpected"] for m in mails),
                        statistics.median(m["mean_bytes"] for m in mails),
                    )
                )
        for key in ("end_to_end", "end_to_end_single"):
            if key in results:
                run = sorted(results[key]["runs"], key=lambda r: r["seconds"])[
                    len(results[key]["runs"]) // 2
                ]
                cpu = run["cpu"]
                p(
                    "CPU seconds, %s (median run, %.2f s wall, %.2f s until the "
                    "last call returned, %d database connections opened): %s"
                    % (
                        LABELS[key],
                        cpu["wall"],
                        run["queued_seconds"],
                        run["database_connections"],
                        ", ".join(
                            "%s %.2f" % (name, seconds)
                            for name, seconds in cpu.items()
                            if name != "wall"
                        ),
                    )
                )
        if with_peer:
            run = sorted(results["peer"]["runs"], key=lambda r: r["seconds"])[
                len(results["peer"]["runs"]) // 2
            ]
            p(
                "CPU seconds, %s (median run, %.2f s wall; the peer's own count: "
                "%.2f): %s"
                % (
                    LABELS["peer"],
                    run["cpu"]["wall"],
                    run["cpu_seconds"],
                    ", ".join(
                        "%s %.2f" % (name, seconds)
                        for name, seconds in run["cpu"].items()
                        if name != "wall"
                    ),
                )
            )
        for key in ("baseline", "peer", "per_order"):
            statements = results.get(key, {}).get("statements_of_one_order")
            if statements:
                p("SQL of one order, %s (BEGIN/COMMIT not counted):" % LABELS[key])
                for sql in statements:
                    p("    %s" % sql[:120])
    sink = report.get("sink_capacity")
    if sink:
        p(
            "SMTP sink alone: %.0f messages/s from 2 sending processes (%d messages of "
            "%d bytes, one connection each; sink CPU %.2f s of %.2f s)"
            % (
                sink["messages_per_s"],
                sink["messages"],
                sink["message_bytes"],
                sink["sink_cpu_seconds"],
                sink["seconds"],
            )
        )
    if report.get("targets"):
        p()
        p("Targets (reported, not enforced):")
        for target in report["targets"]:
            p(
                "  %-4s %-40s measured %.2f %s"
                % (
                    "MET" if target["met"] else "NOT",
                    target["target"],
                    target["measured"],
                    target["unit"],
                )
            )
    profile = report.get("profile")
    if profile:
        delivery = profile["delivery"]
        p()
        p(
            "Worker-side cost, in-process, tasks of %d: %.2f ms per notification "
            "(%.2f ms of this process's CPU; %.0f notifications/s in one process), "
            "%.1f SQL statements per task"
            % (
                delivery["task_size"],
                delivery["ms_per_notification"],
                delivery["cpu_ms_per_notification"],
                delivery["notifications_per_s_one_process"],
                delivery["statements_per_task"],
            )
        )
        p("  statements of one task:")
        for item in delivery["statements_per_task_by_pattern"][:12]:
            p("    %4d  %s" % (item["count"], item["sql"][:110]))
        p(
            "  phases (cProfile, %d notifications, %.2f s):"
            % (delivery["profiled_notifications"], delivery["profiled_seconds"] or 0)
        )
        for phase in delivery["phases"]:
            p(
                "    %-38s %s"
                % (
                    phase["phase"],
                    "missing (engine changed?)"
                    if phase["seconds"] is None
                    else "%6.3f s  %5.1f%%"
                    % (phase["seconds"], 100 * (phase["share"] or 0)),
                )
            )
        p("  costliest order_updates functions (cumulative):")
        for item in delivery["top_cumulative_order_updates"][:12]:
            p(
                "    %7.3f s  %7d calls  %s"
                % (item["cumulative_s"], item["calls"], item["function"])
            )
        merchant = profile.get("add_shipment")
        if merchant:
            p(
                "Merchant side, add_shipment(..., status='shipped'): %.2f ms per call "
                "(wall time, database round trips included); costliest "
                "order_updates functions (cProfile, %d calls, cumulative):"
                % (merchant["ms_per_call"], merchant["profiled_calls"])
            )
            for item in merchant["top_cumulative_order_updates"][:12]:
                p(
                    "    %7.3f s  %7d calls  %s"
                    % (item["cumulative_s"], item["calls"], item["function"])
                )
        memory = profile.get("memory")
        if memory:
            p(
                "  peak Python memory, %d orders: bulk_set_status %.1f MiB, "
                "bulk_add_shipments %.1f MiB"
                % (
                    memory["orders"],
                    memory["bulk_status_peak_mib"],
                    memory["bulk_shipments_peak_mib"],
                )
            )
    p()


# Main ---------------------------------------------------------------------------------


def _terminate(signum, frame):
    # Unwind through the finally blocks: stop the workers and the sink, drop
    # the database.
    raise SystemExit(128 + signum)


def configure_mail(args) -> tuple[SinkProcess | None, str | None, str]:
    """Start the SMTP sink (or make the file backend's folder) and tell the
    settings, here and in the workers, through the environment."""
    if args.email_backend == "smtp":
        sink = SinkProcess().start()
        os.environ["BENCH_SMTP_PORT"] = str(sink.port)
        os.environ.pop("BENCH_EMAIL_BACKEND", None)
        return sink, None, "SMTP to a local sink process (bench/smtp_sink.py)"
    mail_dir = tempfile.mkdtemp(prefix="order-updates-bench-mail-")
    os.environ["BENCH_EMAIL_BACKEND"] = (
        "django.core.mail.backends.filebased.EmailBackend"
    )
    os.environ["BENCH_EMAIL_FILE_PATH"] = mail_dir
    return None, mail_dir, "Django's file-based backend"


def measure(args, bench: scenarios.Bench, log) -> dict[str, Any]:
    """Run what ``args`` ask for; return the report's figures."""
    report: dict[str, Any] = {}
    worker_env = {
        key: os.environ[key]
        for key in (
            "DJANGO_SETTINGS_MODULE",
            "DATABASE_URL",
            "ORDER_UPDATES_TEST_SHOP",
            "CELERY_TASK_DEFAULT_QUEUE",
            "BENCH_SMTP_PORT",
            "BENCH_EMAIL_BACKEND",
            "BENCH_EMAIL_FILE_PATH",
        )
        if key in os.environ
    }
    if not args.profile:
        if bench.sink is not None and WORKER_KEYS & set(args.scenarios):
            count = max(200, min(4000, 2 * args.orders))
            if args.wait_quiet:
                wait_for_quiet(args.wait_quiet)
            report["sink_capacity"] = scenarios.sink_capacity(
                bench, sample_message(), count
            )
            log(
                "SMTP sink alone: %.0f messages/s"
                % report["sink_capacity"]["messages_per_s"]
            )
        peer_report: dict[str, Any] = {}
        try:
            report["scenarios"] = run_all(bench, args, worker_env, log, peer_report)
        finally:
            if peer_report:
                report["peer"] = peer_report
        report["targets"] = check_targets(report["scenarios"])
    if args.profile or args.smoke:
        from bench import profiling

        log("Profile of the delivery task:")
        orders = 200 if args.smoke else max(600, min(args.orders, 2000))
        # Half the tasks timed plainly, the rest (less two) under cProfile.
        timed = (orders // profiling.TASK_SIZE - 2) // 2
        report["profile"] = {
            "delivery": profiling.delivery_profile(bench, orders, timed),
            "add_shipment": profiling.add_shipment_profile(
                bench, 40 if args.smoke else 400
            ),
            "memory": profiling.bulk_memory(bench, args.orders),
        }
    return report


def _terminate(signum, frame):
    # Unwind through the finally blocks: stop the workers and the sink, drop
    # the database.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, _terminate)

    def log(text: str) -> None:
        print(text, flush=True)

    os.environ["ORDER_UPDATES_TEST_SHOP"] = "plainshop"
    queue = "order_updates_bench_%s" % uuid.uuid4().hex[:8]
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = queue
    sink, mail_dir, email = configure_mail(args)
    try:
        data.setup_django(SERVER, args.database)
        from tests.celery_app import app

        app.conf.task_default_queue = queue
        bench = scenarios.Bench(
            app=app,
            queue=queue,
            sink=sink,
            mail_dir=mail_dir,
            cpu_sources={
                "main": (os.getpid(), "self"),
                "sink": (sink.pid if sink else None, "self"),
                "postgresql": _our_postgres_backends,
                "postgresql, closed connections": (_postmaster_pid(), "reaped"),
                "redis": (_redis_pid(), "self"),
            },
        )
        report: dict[str, Any] = {
            "machine": machine_info(),
            "config": {
                "orders": args.orders,
                "lines_per_order": 3,
                "customers": data.CUSTOMERS,
                "runs": args.runs,
                "smoke": args.smoke,
                "email": email,
                "workers": "2 celery worker processes, prefork pool, concurrency 1",
                "queue": queue,
                "settings": "bench.settings (tests.settings, plainshop; "
                "COALESCE_SECONDS 0, QUIET_HOURS off)",
                "peer_settings": "bench.oscarpeer.settings (django-oscar, without "
                "order_updates), in a process and database of its own",
            },
        }
        try:
            report.update(measure(args, bench, log))
        finally:
            scenarios.stop_workers(bench)
            bench.delete_queue()
    finally:
        if sink is not None:
            sink.stop()
        if not args.keep_database:
            try:
                data.drop_database(SERVER, args.database)
                # The peer drops its own; not if it died.
                data.drop_other_database(SERVER, "%s_peer" % args.database)
            except Exception as exc:  # reported, not fatal: the figures are in
                print("Could not drop the database: %s" % exc, file=sys.stderr)
    report["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    report["machine"]["bench_seconds"] = round(time.perf_counter() - started, 1)
    checks = [summary["ok"] for summary in report.get("scenarios", {}).values()]
    if "sink_capacity" in report:
        checks.append(report["sink_capacity"]["ok"])
    if "profile" in report:
        checks.append(report["profile"]["delivery"]["ok"])
    report["ok"] = all(checks)
    print_report(report)
    Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
    print("JSON report: %s" % args.json)
    if not report["ok"]:
        print("A check failed: emails lost or duplicated, or outbox rows wrong.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
