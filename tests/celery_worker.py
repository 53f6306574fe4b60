"""Start a real Celery worker process for the tests, on the test database.

The worker is a separate ``celery worker`` process (not eager mode, not a thread)
talking to the machine's Redis, so the tests exercise the same path production
does: commit → broker → worker → channel, and can kill it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the test database pytest-django created (PostgreSQL only)."""
    params = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("A worker process needs a shared database: PostgreSQL.")
    user = params.get("USER") or "postgres"
    auth = user if not params.get("PASSWORD") else "%s:%s" % (user, params["PASSWORD"])
    return "postgres://%s@%s:%s/%s" % (
        auth,
        params.get("HOST") or "127.0.0.1",
        params.get("PORT") or 5432,
        params["NAME"],
    )


class WorkerProcess:
    """One ``celery worker`` subprocess; ``start()``, ``kill()``, ``stop()``.

    ``pool="threads"`` (the default) runs tasks in threads of the one process;
    ``pool="prefork"`` in child processes, as most production workers do, so a
    test can kill the child that is sending (:meth:`kill_child`).
    """

    def __init__(
        self,
        queue: str,
        mail_dir: str,
        extra_env: dict | None = None,
        *,
        pool: str = "threads",
        concurrency: int = 2,
    ):
        self.queue = queue
        self.mail_dir = mail_dir
        self.extra_env = extra_env or {}
        self.pool = pool
        self.concurrency = concurrency
        self.name = "tests-%s@%%h" % uuid.uuid4().hex[:8]
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkdtemp(prefix="celery-worker-")) / "worker.log"

    def start(self, timeout: float = 60) -> WorkerProcess:
        """Start the process and wait until it consumes its queue."""
        return self.launch().wait_until_ready(timeout)

    def launch(self) -> WorkerProcess:
        """Start the process without waiting (several workers start at once)."""
        from django.conf import settings

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "ORDER_UPDATES_TEST_SHOP": settings.TEST_SHOP,
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "TEST_EMAIL_FILE_PATH": self.mail_dir,
            "PYTHONPATH": str(ROOT),
            "TEST_DB_REUSE_MAX": "100",
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.celery_app",
                "worker",
                "--pool=%s" % self.pool,
                "--concurrency=%d" % self.concurrency,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                "-Q",
                self.queue,
                "-n",
                self.name,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()  # the child has its own descriptor
        return self

    def wait_until_ready(self, timeout: float = 60) -> WorkerProcess:
        assert self.process is not None, "launch() the worker first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("Celery worker exited:\n" + self.output())
            if " ready." in self.output():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("Celery worker did not start:\n" + self.output())

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def pid(self) -> int:
        assert self.process is not None, "start() the worker first"
        return self.process.pid

    def children(self) -> list[int]:
        """The pids of the worker's pool processes (prefork), read from /proc."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # "pid (comm) state ppid ...": comm may hold spaces, so split
                # after its closing parenthesis.
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:  # the process ended meanwhile
                continue
            if int(fields[1]) == self.pid:
                found.append(int(stat.parent.name))
        return found

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes, as when a host is lost."""
        if self.process and self.process.poll() is None:
            children = self.children()
            self.process.send_signal(signal.SIGKILL)
            for pid in children:
                _kill(pid)
            self.process.wait(timeout=10)

    def kill_child(self) -> int:
        """SIGKILL the pool process (prefork) at work; the worker forks another.

        Returns the killed pid.
        """
        (pid,) = self.children()  # concurrency 1: the one child
        _kill(pid)
        return pid

    def pause(self) -> None:
        """SIGSTOP: the worker freezes (a long GC pause, a stalled VM...)."""
        for pid in [self.pid, *self.children()]:
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        for pid in [self.pid, *self.children()]:
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.resume()  # a paused worker could not hear the request to stop
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.kill(pid, signal.SIGKILL)


def wait_for(predicate, timeout: float = 30, interval: float = 0.2):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("Timed out after %ss waiting for %r" % (timeout, predicate))
