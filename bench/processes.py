"""The processes a benchmark runs beside itself: the SMTP sink and Celery workers,
and the CPU time each process (PostgreSQL and Redis included) spends.

Adapted from tests/celery_worker.py: real ``celery worker`` subprocesses on the
benchmark's database and Redis, here with the prefork pool a production
deployment uses.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# CPU accounting -----------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; it ends at the last ")".
    return text[text.rindex(")") + 2 :].split()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def cpu_seconds(pid: int | None, tree: dict[int, list[int]], mode: str) -> float:
    """CPU seconds of ``pid``: its own (``"self"``), with all its descendants,
    living or reaped (``"tree"``), or only its reaped children's
    (``"reaped"``: PostgreSQL's closed connections, under the postmaster)."""
    fields = _stat(pid) if pid is not None else None
    if fields is None:
        return 0.0
    # utime, stime, cutime, cstime: fields 14-17 of proc(5), 11-14 here (0-based).
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    if mode == "self":
        return (utime + stime) / CLOCK_TICKS
    if mode == "reaped":
        return (cutime + cstime) / CLOCK_TICKS
    own = (utime + stime + cutime + cstime) / CLOCK_TICKS
    return own + sum(cpu_seconds(child, tree, "tree") for child in tree.get(pid, []))


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, since boot)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    # user nice system idle iowait irq softirq steal: all but idle and iowait.
    values = [int(value) for value in fields[:8]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


def wait_for_quiet(max_wait: float, threshold: float = 0.15) -> float:
    """Wait (at most ``max_wait`` seconds) for a second in which the machine's
    cores were busy less than ``threshold`` CPU seconds; return the time waited."""
    started = time.monotonic()
    while time.monotonic() - started < max_wait:
        before = busy_seconds()
        time.sleep(1)
        if busy_seconds() - before < threshold:
            break
    return time.monotonic() - started


class CPUMeter:
    """CPU seconds per named source between :meth:`start` and :meth:`stop`.

    ``sources`` maps a name to ``(pid, mode)`` (modes of :func:`cpu_seconds`),
    or to a function that returns pids whose own CPU time adds up (PostgreSQL's
    backends of one database; one that ended meanwhile counts under the
    postmaster's reaped children instead). ``"other"`` is what the rest of the
    machine used meanwhile: other people's work that competed for the cores.
    """

    def __init__(self, sources: dict[str, Any]):
        self.sources = dict(sources)
        self.started: dict[str, Any] = {}
        self.busy = 0.0
        self.wall = 0.0

    def _read(self) -> dict[str, Any]:
        tree = _children()
        result: dict[str, Any] = {}
        for name, source in self.sources.items():
            if callable(source):
                result[name] = {pid: cpu_seconds(pid, tree, "self") for pid in source()}
            else:
                result[name] = cpu_seconds(source[0], tree, source[1])
        return result

    def start(self) -> None:
        self.started = self._read()
        self.busy = busy_seconds()
        self.wall = time.perf_counter()

    def stop(self) -> dict[str, float]:
        """``{name: CPU seconds}`` plus ``"other"`` and ``"wall"`` seconds."""
        busy = busy_seconds() - self.busy
        ended = self._read()
        result = {}
        for name, value in ended.items():
            before = self.started[name]
            if isinstance(value, dict):
                delta = sum(cpu - before.get(pid, 0.0) for pid, cpu in value.items())
            else:
                delta = value - before
            result[name] = round(delta, 3)
        # Clock ticks make small negatives possible; they mean "nothing".
        result["other"] = round(max(0.0, busy - sum(result.values())), 3)
        result["wall"] = round(time.perf_counter() - self.wall, 3)
        return result


# The SMTP sink ------------------------------------------------------------------------


class SinkProcess:
    """bench/smtp_sink.py in a process of its own; ``stats()`` asks what arrived."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.control_port = 0

    def start(self) -> SinkProcess:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "smtp_sink.py")],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("The SMTP sink did not start.")
        self.port, self.control_port = (int(value) for value in line.split())
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _ask(self, command: str) -> str:
        with socket.create_connection(("127.0.0.1", self.control_port), 10) as conn:
            conn.sendall(command.encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                reply += chunk
        return reply.decode()

    def reset(self) -> None:
        self._ask("RESET")

    def count(self) -> int:
        """Messages received since the last reset."""
        return int(self._ask("COUNT"))

    def stats(self) -> dict:
        """Messages, bytes and messages per subject since the last reset."""
        return json.loads(self._ask("STATS"))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


# Celery workers -----------------------------------------------------------------------


class WorkerProcess:
    """One ``celery worker`` (prefork pool) on ``queue``; ``start()``, ``stop()``."""

    def __init__(self, queue: str, env: dict[str, str], concurrency: int = 1):
        self.queue = queue
        self.env = env
        self.concurrency = concurrency
        self.name = "bench-%s@%%h" % uuid.uuid4().hex[:8]
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkdtemp(prefix="bench-worker-")) / "worker.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def launch(self) -> WorkerProcess:
        """Start the process; :meth:`wait_ready` waits until it takes tasks."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.celery_app",
                "worker",
                "--pool=prefork",
                "--concurrency=%d" % self.concurrency,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=WARNING",
                "-Q",
                self.queue,
                "-n",
                self.name,
            ],
            cwd=ROOT,
            env={**os.environ, **self.env, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()  # the child has its own descriptor
        return self

    @property
    def node(self) -> str:
        """The worker's node name, as remote control commands address it."""
        return self.name.replace("%h", socket.gethostname())

    def wait_ready(self, app, timeout: float = 60) -> None:
        """Wait until the worker answers a ping over the broker."""
        assert self.process is not None
        node = self.node
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("Celery worker exited:\n" + self.output())
            if app.control.ping(destination=[node], timeout=0.5):
                return
        self.stop()
        raise RuntimeError("Celery worker did not start:\n" + self.output())

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(timeout=10)
