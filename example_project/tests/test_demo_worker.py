"""The demo's notification path, for real: checkout → outbox → filesystem broker →
the demo's Celery worker process (as ``make demo`` starts it) → var/mail/.

Runs on SQLite (the demo's database) and on PostgreSQL (``make test-browser``):
the worker is told where the test database is, and shares the session's broker
folder (see conftest.py).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from order_updates.models import Notification, NotificationState

from shop.orders import place_order

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = Path(__file__).resolve().parent.parent


def database_env():
    """Environment that points demo_site.settings at the test database."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        if connection.is_in_memory_db():
            pytest.fail("The worker needs a test database file (see conftest.py).")
        return {"DEMO_SQLITE_PATH": params["NAME"]}
    if connection.vendor == "postgresql":
        user = params.get("USER") or "postgres"
        if params.get("PASSWORD"):
            user += ":" + params["PASSWORD"]
        return {
            "DATABASE_URL": "postgres://%s@%s:%s/%s"
            % (
                user,
                params.get("HOST") or "127.0.0.1",
                params.get("PORT") or 5432,
                params["NAME"],
            )
        }
    pytest.fail("No worker set-up for %s databases." % connection.vendor)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("Timed out after %ss waiting for %s" % (timeout, what))


@pytest.fixture
def demo_worker(demo_var_dir, tmp_path):
    """``celery -A demo_site worker -B --concurrency=2`` (two processes), as
    scripts/run-demo starts it.
    """
    for stale in (demo_var_dir / "broker" / "queue").glob("*.msg"):
        stale.unlink()  # tasks other tests queued for rows that are gone
    log_path = tmp_path / "worker.log"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DEMO_SQLITE_PATH", "CELERY_BROKER_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="demo_site.settings",
        DEMO_VAR_DIR=str(demo_var_dir),
        PYTHONUNBUFFERED="1",
        **database_env(),
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "demo_site",
                "worker",
                "-B",
                "--concurrency=2",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its beat process goes with it
        )

    def output():
        return log_path.read_text(errors="replace")

    try:
        wait_for(
            lambda: process.poll() is not None or " ready." in output(),
            20,
            "the worker to start",
        )
        assert process.poll() is None, "The worker exited:\n" + output()
        yield output
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_a_guest_order_is_emailed_and_texted_by_the_worker(
    demo_worker, demo_var_dir, products, client
):
    order = place_order(
        [(products[0], 1)],
        email="grace@example.org",
        phone="+49 30 7654321",
        sms_consent=True,
        language="en",
        shipping_name="Grace Guest",
        shipping_line1="Main St 1",
        shipping_postcode="10115",
        shipping_city="Berlin",
    )
    rows = Notification.objects.filter(order_id=order.pk)
    # Written with the order; sent COALESCE_SECONDS later by the worker process.
    assert {(row.channel, row.recipient) for row in rows} == {
        ("email", "grace@example.org"),
        ("sms", "+49307654321"),
    }
    timeout = settings.ORDER_UPDATES["COALESCE_SECONDS"] + 15
    wait_for(
        lambda: rows.filter(state=NotificationState.SENT).count() == 2,
        timeout,
        "both notifications to be sent:\n%s" % demo_worker(),
    )
    email = rows.get(channel="email")
    assert email.provider == "demo_site.mail.EmailBackend"

    mails = list((demo_var_dir / "mail").glob("*.log"))
    assert len(mails) == 1
    mail = mails[0].read_text()
    assert "To: grace@example.org" in mail
    assert "Subject: %s" % email.subject in mail and order.number in email.subject
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in mail
    # The worker printed both messages on its console, as the demo shows them.
    output = demo_worker()
    assert "Email to grace@example.org" in output and str(mails[0]) in output
    assert "To: +49307654321" in output
    assert "order_updates.deliver_notifications" in output

    # The guest's link opens the order page in a fresh browser (signed key).
    site = settings.ORDER_UPDATES["SITE_URL"]
    link = next(
        word
        for word in email.body_text.split()
        if word.startswith("%s/orders/%s/?key=" % (site, order.number))
    )
    response = client.get(link.removeprefix(site))
    assert response.status_code == 200
    assert order.number in response.content.decode()


def test_two_worker_processes_share_the_database(demo_worker, products):
    """Several orders at once keep both worker processes busy on one database
    file: none fails with "database is locked" (SQLite's IMMEDIATE mode)."""
    orders = [
        place_order(
            [(products[0], 1)],
            email="buyer%d@example.org" % index,
            language="en",
            shipping_name="Buyer %d" % index,
            shipping_line1="Main St 1",
            shipping_postcode="10115",
            shipping_city="Berlin",
        )
        for index in range(12)
    ]
    rows = Notification.objects.filter(order_id__in=[order.pk for order in orders])
    assert rows.count() == 12
    timeout = settings.ORDER_UPDATES["COALESCE_SECONDS"] + 30
    wait_for(
        lambda: rows.filter(state=NotificationState.SENT).count() == 12,
        timeout,
        "every notification to be sent:\n%s" % demo_worker(),
    )
    assert "database is locked" not in demo_worker()
    assert "ForkPoolWorker-2" in demo_worker()  # the second process took some
