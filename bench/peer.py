"""The peer shop, seen from the benchmark: find a Python with django-oscar, run
``python -m bench.oscarpeer`` in it, and talk to it one JSON line at a time.

The peer cannot share this process: Oscar needs its own settings (and its own
database, created and dropped by the peer process). Which Python runs it:
``BENCH_OSCAR_PYTHON`` if set (then it must work, or the benchmark fails);
otherwise the first of .venv-oscar (``make .venv-oscar/.installed``) and tox's
py311-django52-oscar env that imports django-oscar; with neither, the benchmark
skips the peer and says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = (
    ROOT / ".venv-oscar" / "bin" / "python",
    ROOT / ".tox" / "py311-django52-oscar" / "bin" / "python",
)
_PROBE = (
    "import json, django, oscar, psycopg, dj_database_url; "
    "print(json.dumps({'django': django.get_version(), "
    "'django_oscar': oscar.get_version()}))"
)
#: The figures a run's answer must carry.
RUN_KEYS = (
    "orders",
    "seconds",
    "orders_per_s",
    "statements_per_order",
    "cpu_seconds",
    "rows",
    "rows_ok",
)


class PeerError(RuntimeError):
    """The peer process failed, or answered something unexpected."""


def _probe(python: Path | str) -> dict[str, str] | None:
    """The Django and django-oscar versions ``python`` imports, or None."""
    try:
        done = subprocess.run(
            [str(python), "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode:
        return None
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def find_python() -> tuple[str | None, str]:
    """``(python, versions or why not)``: the Python to run the peer in.

    Raises :class:`PeerError` when ``BENCH_OSCAR_PYTHON`` names one that cannot
    import django-oscar: asked for explicitly, the peer must run.
    """
    explicit = os.environ.get("BENCH_OSCAR_PYTHON")
    if explicit:
        versions = _probe(explicit)
        if versions is None:
            raise PeerError(
                "BENCH_OSCAR_PYTHON=%s cannot import django, oscar, psycopg and "
                "dj_database_url." % explicit
            )
        return explicit, "django-oscar %s" % versions["django_oscar"]
    for python in CANDIDATES:
        if python.exists():
            versions = _probe(python)
            if versions is not None:
                return str(python), "django-oscar %s" % versions["django_oscar"]
    return None, (
        "no Python with django-oscar: none of %s imports it (make "
        ".venv-oscar/.installed builds one; BENCH_OSCAR_PYTHON names another)"
        % ", ".join(os.path.relpath(path, ROOT) for path in CANDIDATES)
    )


def parse_answer(line: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """One answer of the peer process; :class:`PeerError` if it is an error,
    not JSON, or lacks one of ``required``."""
    if not line:
        raise PeerError("The peer process ended without answering.")
    try:
        answer = json.loads(line)
    except ValueError:
        raise PeerError("The peer process answered no JSON: %r" % line[:200])
    if not isinstance(answer, dict):
        raise PeerError("The peer process answered no JSON object: %r" % line[:200])
    if "error" in answer:
        raise PeerError("The peer process failed:\n%s" % answer["error"])
    missing = [key for key in required if key not in answer]
    if missing:
        raise PeerError("The peer's answer lacks %s: %r" % (", ".join(missing), answer))
    return answer


@dataclass
class PeerWorkload:
    """The orders the peer has prepared for one run (by number)."""

    order_numbers: list[str]

    def numbers(self) -> set[str]:
        return set(self.order_numbers)


class PeerProcess:
    """``python -m bench.oscarpeer`` in ``python``, on ``database``."""

    def __init__(self, python: str, server: str, database: str) -> None:
        self.python = python
        self.server = server
        self.database = database
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkdtemp(prefix="bench-peer-")) / "peer.log"
        self.ready: dict[str, Any] = {}

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def launch(self, env: dict[str, str], warm_up: int = 20) -> PeerProcess:
        """Start the process (it migrates and warms up: :meth:`wait_ready`)."""
        # Its settings and database are its own, not this process's.
        env = {
            **{
                key: value
                for key, value in os.environ.items()
                if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")
            },
            **env,
            "PYTHONPATH": str(ROOT),
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                self.python,
                "-m",
                "bench.oscarpeer",
                "--server",
                self.server,
                "--database",
                self.database,
                "--warm-up",
                str(warm_up),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        return self

    def _read(self, required: tuple[str, ...] = ()) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        try:
            return parse_answer(self.process.stdout.readline(), required)
        except PeerError as error:
            raise PeerError(
                "%s\nIts log (%s):\n%s" % (error, self.log_path, self.output())
            )

    def _ask(self, request: dict[str, Any], required: tuple[str, ...] = ()) -> dict:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read(required)

    def wait_ready(self) -> dict[str, Any]:
        """Wait until the peer has migrated and warmed up; its versions and the
        statements of one order."""
        if not self.ready:
            self.ready = self._read(("ready", "versions", "statements_of_one_order"))
        return self.ready

    def prepare(self, orders: int, tag: str) -> PeerWorkload:
        """A fresh workload of ``orders`` orders in the peer's database."""
        answer = self._ask({"command": "prepare", "orders": orders, "tag": tag})
        return PeerWorkload(answer["numbers"])

    def run(self) -> dict[str, Any]:
        """Ship the prepared orders; the peer's own figures."""
        return self._ask({"command": "run"}, RUN_KEYS)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        """Ask the process to drop its database and exit; end it otherwise."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"command": "quit"}) + "\n")
            self.process.stdin.close()
            self.process.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(timeout=10)
