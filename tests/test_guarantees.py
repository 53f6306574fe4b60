"""The delivery guarantees, proven with real processes (docs/guarantees.rst).

Real ``celery worker`` processes over the machine's Redis and the PostgreSQL test
database; workers are paused, killed and cut off from their broker while they
work. Their provider is :class:`tests.flaky_email.RecordingEmailBackend`: each
message it accepts is a file, so a test counts exactly what a provider would
have accepted, per notification (by the deterministic Message-ID). Each worker
logs what it counted as sent (``notification_sent``) in one shared file
(tests/sent_log.py).

Each test would fail if its guarantee broke: a sweeper that takes a living
worker's rows, a late worker that overwrites the record of the one that took
over, a lost row, a row sent twice outside the documented window, a change that
waits for the broker.
"""

from __future__ import annotations

import contextlib
import datetime
import email
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from order_updates import services
from order_updates.exceptions import TransientChannelError
from order_updates.models import (
    Notification,
    NotificationPreference,
    NotificationState,
    SweeperRun,
)
from order_updates.notifications import delivery, queue
from order_updates.notifications.channels import get_channel
from tests import sent_log
from tests.celery_app import app
from tests.celery_worker import WorkerProcess, wait_for


def with_processes(test):
    """Mark a test whose processes (or threads) share the PostgreSQL test
    database, so its changes are committed.
    """
    return pytest.mark.postgres(pytest.mark.django_db(transaction=True)(test))


#: The Message-ID every email of notification <id> carries.
MESSAGE_ID = re.compile(r"<order-updates\.(\d+)\.[0-9a-f]{16}@[^>]+>")


# Workers, their provider and what they counted ------------------------------------


@dataclass
class Accepted:
    """One message the provider accepted."""

    notification: int
    recipient: str
    accepted_id: str
    worker: str


class Cluster:
    """Worker processes started by one test, sending to a recording provider."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        #: The queue the test process publishes to (workers listen to it unless
        #: told otherwise).
        self.queue = "order_updates_guarantees_%s" % uuid.uuid4().hex[:8]
        self.sent_log = tmp_path / "sent.log"
        self.workers: list[WorkerProcess] = []

    def launch(
        self,
        tag: str,
        *,
        queue_name: str | None = None,
        pool: str = "threads",
        concurrency: int = 2,
        **env: object,
    ) -> WorkerProcess:
        """Start a worker process without waiting; ``env`` adds to its environment."""
        worker = WorkerProcess(
            queue_name or self.queue,
            str(self.tmp_path / ("mail-%s" % tag)),
            {
                "TEST_EMAIL_BACKEND": "tests.flaky_email.RecordingEmailBackend",
                "TEST_SENT_LOG": str(self.sent_log),
                "TEST_WORKER_TAG": tag,
                # Workers keep their database connection, as in production.
                "TEST_DB_REUSE_MAX": "100",
                **{name: str(value) for name, value in env.items()},
            },
            pool=pool,
            concurrency=concurrency,
        )
        worker.tag = tag  # type: ignore[attr-defined]
        self.workers.append(worker.launch())
        return worker

    def ready(self) -> None:
        """Wait until every launched worker consumes its queue."""
        for worker in self.workers:
            worker.wait_until_ready()

    def accepted(self) -> list[Accepted]:
        """Every message the provider accepted, from all workers."""
        found = []
        for worker in self.workers:
            for path in sorted(Path(worker.mail_dir).glob("*.eml")):
                message = email.message_from_bytes(path.read_bytes())
                match = MESSAGE_ID.fullmatch(message["Message-ID"])
                assert match, "not a notification: %s" % message["Message-ID"]
                found.append(
                    Accepted(
                        int(match[1]),
                        message["To"],
                        path.stem,
                        worker.tag,  # type: ignore[attr-defined]
                    )
                )
        return found

    def counted_sent(self) -> Counter:
        """How many times the workers counted each notification as sent."""
        return sent_log.counts(self.sent_log)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        with app.connection_for_write() as conn:
            for name in {worker.queue for worker in self.workers} | {self.queue}:
                conn.default_channel.queue_delete(name)


@pytest.fixture
def cluster(transactional_db, tmp_path):
    """Start worker processes (``cluster.launch(...)``, then ``cluster.ready()``)."""
    previous = app.conf.task_default_queue
    started = Cluster(tmp_path)
    app.conf.task_default_queue = started.queue
    try:
        yield started
    finally:
        app.conf.task_default_queue = previous
        started.stop()


@pytest.fixture
def many_orders(transactional_db):
    """``many_orders(n)``: n tracked orders with an address each, made set-based."""

    def create(count: int) -> list:
        tag = uuid.uuid4().hex[:6]
        if settings.TEST_SHOP == "plainshop":
            from tests.testapps.plainshop.models import Order

            Order.objects.bulk_create(
                Order(number="G%s-%d" % (tag, i), email="c%d.%s@example.com" % (i, tag))
                for i in range(count)
            )
            orders = Order.objects.filter(number__startswith="G%s-" % tag)
        else:
            from tests.testapps.customershop.models import Customer, Purchase

            customers = Customer.objects.bulk_create(
                Customer(email="c%d.%s@example.com" % (i, tag)) for i in range(count)
            )
            Purchase.objects.bulk_create(
                Purchase(reference="G%s-%d" % (tag, i), customer=customer)
                for i, customer in enumerate(customers)
            )
            orders = Purchase.objects.filter(reference__startswith="G%s-" % tag)
        # Known to the app (tracked, nothing sent): each test's changes notify.
        services.track_existing_orders(orders)
        return list(orders.order_by("pk"))

    return create


class Beat:
    """The sweeper every ``interval`` seconds in a thread, as Celery beat runs it
    every minute in production.
    """

    def __init__(self, interval: float):
        self.interval = interval
        self.runs: list[dict[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Beat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self.runs.append(delivery.sweep())
        finally:
            connections.close_all()

    def total(self, key: str) -> int:
        return sum(run[key] for run in self.runs)


def run_in_thread(target, timeout: float = 30):
    """Call ``target`` in a thread of its own (its own database and broker
    connections, as a web request has); fail unless it returns within ``timeout``.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = target()
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "%r still runs after %s s" % (target, timeout)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome.get("value")


@contextlib.contextmanager
def publishing_to(url: str):
    """Point this process's publishing at another broker; workers keep Redis.

    Connections are per thread and cached: publish from a new thread
    (:func:`run_in_thread`) to use ``url``.
    """
    previous = app.conf.broker_url
    app.conf.broker_url = url
    try:
        yield
    finally:
        app.conf.broker_url = previous


def refusing_broker() -> str:
    """The URL of a port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return "redis://127.0.0.1:%d/15" % port


@contextlib.contextmanager
def hanging_broker():
    """A TCP server that accepts connections and never answers a byte.

    Yields its URL and the list of connections it accepted.
    """
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield "redis://127.0.0.1:%d/15" % server.getsockname()[1], held
    finally:
        stop.set()
        thread.join()
        for held_connection in held:
            held_connection.close()
        server.close()


def state_of(notification_id: int) -> str:
    return Notification.objects.get(pk=notification_id).state


def count_sent() -> int:
    return Notification.objects.filter(state=NotificationState.SENT).count()


# 1. Fenced claims ---------------------------------------------------------------------


@with_processes
def test_a_slow_worker_keeps_its_lease(cluster, make_order, tmp_path):
    """A living worker renews its lease: neither the sweeper nor a second worker
    that receives the row's task takes the row from it.
    """
    marker = tmp_path / "sending"
    slow = cluster.launch("A", SEND_DELAY=8, SEND_MARKER=marker, TEST_LEASE_SECONDS=3)
    other = cluster.launch("B", queue_name=cluster.queue + "-b", TEST_LEASE_SECONDS=3)
    cluster.ready()
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    row = Notification.objects.get(order_id=order.pk)
    wait_for(marker.exists)
    claimed = Notification.objects.get(pk=row.pk)
    assert claimed.state == NotificationState.SENDING
    # Past the lease the claim took: without renewal the row would be up for grabs.
    first_lease_end = claimed.updated_at + datetime.timedelta(seconds=3.5)
    wait_for(lambda: timezone.now() > first_lease_end, timeout=15)
    assert delivery.sweep()["recovered"] == 0
    assert Notification.objects.get(pk=row.pk).lease_expires_at > timezone.now()
    # The row's task reaches worker B too (a redelivering broker, a sweeper).
    app.send_task(queue.DELIVER_TASK, args=[[row.pk]], queue=other.queue)
    wait_for(lambda: "{'not claimed': 1}" in other.output())
    wait_for(lambda: state_of(row.pk) == NotificationState.SENT)
    row.refresh_from_db()
    (message,) = cluster.accepted()
    assert (message.notification, message.worker) == (row.pk, "A")
    assert row.attempts == 1
    assert row.provider_message_id == message.accepted_id
    assert cluster.counted_sent() == {row.pk: 1}
    assert slow.output().count("succeeded") == 1


@with_processes
def test_a_stalled_worker_cannot_overwrite_the_record_of_the_next_one(
    cluster, make_order, tmp_path
):
    """A worker frozen past its lease loses the row; when it wakes, its provider
    accepts the message it was sending (the boundary window: 2 emails), but the
    row records the send of the worker that took over, counted once.
    """
    marker = tmp_path / "sending"
    stalled = cluster.launch(
        "A", SEND_DELAY=3, SEND_MARKER=marker, TEST_LEASE_SECONDS=2
    )
    takeover = cluster.launch(
        "B", queue_name=cluster.queue + "-b", TEST_LEASE_SECONDS=2
    )
    cluster.ready()
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    row = Notification.objects.get(order_id=order.pk)
    wait_for(marker.exists)
    stalled.pause()  # mid-send, lease keeper included
    try:
        wait_for(
            lambda: Notification.objects.filter(
                pk=row.pk, lease_expires_at__lt=timezone.now()
            ).exists(),
            timeout=15,
        )
        # The sweeper takes the row back and queues it where B listens.
        app.conf.task_default_queue = takeover.queue
        assert delivery.sweep() == {"recovered": 1, "failed": 0, "queued": 1}
        wait_for(lambda: state_of(row.pk) == NotificationState.SENT)
    finally:
        stalled.resume()
    # A wakes up, its provider accepts the message, and A tries to record it.
    wait_for(lambda: "succeeded" in stalled.output())
    messages = cluster.accepted()
    assert sorted(m.worker for m in messages) == ["A", "B"]
    assert {m.notification for m in messages} == {row.pk}
    row.refresh_from_db()
    (by_b,) = [m for m in messages if m.worker == "B"]
    assert row.state == NotificationState.SENT
    assert row.provider_message_id == by_b.accepted_id
    assert row.attempts == 2
    assert sent_log.read(cluster.sent_log) == [(row.pk, "B")]
    assert "{'lease lost': 1}" in stalled.output()  # A's outcome
    print(
        "\nstalled worker: 1 notification, %d emails accepted, counted sent %d time"
        % (len(messages), len(sent_log.read(cluster.sent_log)))
    )


# 2. Killed workers --------------------------------------------------------------------


@with_processes
def test_killed_workers_lose_nothing(cluster, many_orders, monkeypatch):
    """1,000 notifications, two prefork workers; one's pool process is SIGKILLed
    mid-run, later the other worker entirely (with the tasks it had prefetched).
    The sweeper recovers everything: nothing lost, repeats only within the
    provider-boundary window (at most SEND_GROUP per killed batch).
    """
    # The test's sweeper queues rows left waiting for 3 s (30 s in production).
    monkeypatch.setattr(delivery, "SWEEP_GRACE", datetime.timedelta(seconds=3))
    env = {"SEND_DELAY": 0.01, "TEST_LEASE_SECONDS": 2}
    first = cluster.launch("A", pool="prefork", concurrency=1, **env)
    second = cluster.launch("B", pool="prefork", concurrency=1, **env)
    cluster.ready()
    orders = many_orders(1000)
    with Beat(interval=1) as beat:
        services.bulk_set_status(orders, "confirmed")
        wait_for(lambda: count_sent() >= 250, timeout=120)
        first.kill_child()  # its batch dies mid-send; the worker forks a new child
        wait_for(lambda: count_sent() >= 600, timeout=120)
        second.kill()  # the whole worker: process, pool and prefetched tasks
        wait_for(lambda: count_sent() == 1000, timeout=180)
    rows = {row.pk: row for row in Notification.objects.all()}
    assert len(rows) == 1000
    messages = cluster.accepted()
    per_row = Counter(message.notification for message in messages)
    # Nothing lost: every row's message reached the provider, for its recipient.
    assert set(per_row) == set(rows)
    assert {m.recipient for m in messages} == {row.recipient for row in rows.values()}
    assert all((m.recipient == rows[m.notification].recipient) for m in messages)
    # Repeats only within the window: a message of a killed batch that the
    # provider accepted before its group was recorded, sent again by the worker
    # that took the row over after its lease ran out.
    repeated = {pk: count - 1 for pk, count in per_row.items() if count > 1}
    assert sum(repeated.values()) <= 2 * delivery.SEND_GROUP
    assert all(rows[pk].attempts >= 2 for pk in repeated)
    # The kills did land mid-batch: the sweeper had leased rows to take back.
    assert beat.total("recovered") > 0
    # Recorded sent once each, whatever was repeated at the provider: the
    # signal never twice. (It follows the record, so a worker killed between
    # the two skips it for its last group.)
    counted = cluster.counted_sent()
    assert set(counted.values()) == {1}
    unannounced = set(rows) - set(counted)
    assert len(unannounced) <= 2 * delivery.SEND_GROUP
    print(
        "\nkill test: 1000 notifications, 2 prefork workers, 1 pool process and "
        "1 worker SIGKILLed: 0 lost, %d duplicates (%d rows recovered by the "
        "sweeper, %d re-claimed, %d sent without the signal)"
        % (
            sum(repeated.values()),
            beat.total("recovered"),
            sum(row.attempts > 1 for row in rows.values()),
            len(unannounced),
        )
    )


# 3 and 4. The broker away -------------------------------------------------------------


@with_processes
def test_changes_commit_while_the_broker_is_down(
    cluster, many_orders, monkeypatch, caplog
):
    """200 status changes while the broker refuses connections: each commits,
    nothing reaches the caller, nothing is published; once the broker is back the
    sweeper queues all 200, and each is delivered once.
    """
    monkeypatch.setattr(delivery, "SWEEP_GRACE", datetime.timedelta(0))
    cluster.launch("A")
    cluster.ready()
    orders = many_orders(200)

    def change_all():
        return [services.set_status(order, "confirmed") for order in orders]

    with publishing_to(refusing_broker()):
        events = run_in_thread(change_all, timeout=120)
        assert all(events)
        down = run_in_thread(delivery.sweep)
    warnings = [
        record
        for record in caplog.records
        if record.name == queue.__name__ and "Could not queue" in record.message
    ]
    assert len(warnings) == 200 + 1  # one per commit, one for the sweep
    rows = list(Notification.objects.all())
    assert len(rows) == 200
    assert all(row.state == NotificationState.PENDING for row in rows)
    # The sweeper counts what the broker accepted: nothing.
    assert down["queued"] == 0
    assert SweeperRun.objects.get().remaining == 200
    # The broker is back: the next sweep queues every row.
    assert delivery.sweep()["queued"] == 200
    wait_for(lambda: count_sent() == 200, timeout=60)
    per_row = Counter(message.notification for message in cluster.accepted())
    assert per_row == dict.fromkeys((row.pk for row in rows), 1)
    assert cluster.counted_sent() == dict.fromkeys((row.pk for row in rows), 1)


@with_processes
def test_a_hanging_broker_does_not_hold_the_request(
    make_order, broker_queue, monkeypatch, caplog
):
    """A broker that accepts the connection and never answers: the change, in a
    transaction as in a view, returns (after PUBLISH_TIMEOUT); the row waits for
    the sweeper.
    """
    monkeypatch.setattr(delivery, "SWEEP_GRACE", datetime.timedelta(0))
    order = make_order(email="ada@example.com")
    services.start_tracking(order, notify=False)

    def change():
        with transaction.atomic():
            return services.set_status(order, "confirmed")

    with hanging_broker() as (url, held), publishing_to(url):
        started = time.monotonic()
        assert run_in_thread(change, timeout=30)
        took = time.monotonic() - started  # reported, not asserted
        assert held, "the change never tried the broker"
    (row,) = Notification.objects.filter(order_id=order.pk)
    assert row.state == NotificationState.PENDING
    assert any(
        record.name == queue.__name__ and "Could not queue 1" in record.message
        for record in caplog.records
    )
    assert broker_queue() == []
    assert delivery.sweep()["queued"] == 1
    assert broker_queue() == [row.pk]
    print("\nhanging broker: the change returned after %.1f s" % took)


# 5. Many workers, one outbox ----------------------------------------------------------


@with_processes
def test_three_workers_send_each_row_once(cluster, many_orders):
    """Three workers drain 1,000 rows, each queued three times: one message each."""
    for tag in "ABC":
        cluster.launch(tag, concurrency=2, SEND_DELAY=0.002)
    cluster.ready()
    orders = many_orders(1000)
    services.bulk_set_status(orders, "confirmed")
    ids = list(Notification.objects.values_list("pk", flat=True))
    # Every row queued twice more, in other orders, as a redelivering broker or
    # overlapping sweepers would: the workers contend for each row.
    assert queue.publish(ids[::-1]) == 1000
    assert queue.publish(random.sample(ids, len(ids))) == 1000
    wait_for(lambda: count_sent() == 1000, timeout=180)
    messages = cluster.accepted()
    per_row = Counter(message.notification for message in messages)
    assert per_row == dict.fromkeys(ids, 1)
    rows = Notification.objects.in_bulk(ids)
    assert all(m.recipient == rows[m.notification].recipient for m in messages)
    assert {row.attempts for row in rows.values()} == {1}
    assert cluster.counted_sent() == dict.fromkeys(ids, 1)
    by_worker = Counter(message.worker for message in messages)
    assert set(by_worker) == {"A", "B", "C"}  # all three really shared the work
    print(
        "\nthree workers: 1000 notifications queued 3 times each: %d emails (%s)"
        % (
            len(messages),
            ", ".join("%s %d" % item for item in sorted(by_worker.items())),
        )
    )


# 6. Ordered coalescing (in-process) ---------------------------------------------------


@pytest.fixture
def texting_customer(django_user_model):
    """A customer who agreed to texts, in Berlin."""
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    NotificationPreference.objects.create(
        user=user, sms_consent_at=timezone.now(), timezone="Europe/Berlin"
    )
    return user


def sms_rows(order):
    return list(
        Notification.objects.filter(order_id=order.pk, channel="sms").order_by("pk")
    )


def utc(*args):
    return datetime.datetime(*args, tzinfo=datetime.timezone.utc)


def test_overnight_texts_coalesce_into_the_newest_in_the_morning(
    make_order, texting_customer, settings, sms_outbox
):
    """Three changes in the night: one text, the newest, at 08:00 local time."""
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "QUIET_HOURS": ("21:00", "08:00"),
    }
    order = make_order(user=texting_customer, phone="+4930901820")
    with time_machine.travel(utc(2026, 11, 27, 14, 0), tick=False):
        services.start_tracking(order)
        (received,) = sms_rows(order)
        assert delivery.deliver(received.pk) == delivery.SENT
    # Berlin is UTC+1 in November: 23:30, 01:00 and 03:00 local.
    for moment, status in [
        (utc(2026, 11, 27, 22, 30), "confirmed"),
        (utc(2026, 11, 28, 0, 0), "on_hold"),
        (utc(2026, 11, 28, 2, 0), "processing"),  # notifies nobody (off)
        (utc(2026, 11, 28, 2, 0), "shipped"),
    ]:
        with time_machine.travel(moment, tick=False):
            services.set_status(order, status)
    night = sms_rows(order)[1:]
    assert [(row.type, row.state) for row in night] == [
        ("order_confirmed", NotificationState.SKIPPED),
        ("on_hold", NotificationState.SKIPPED),
        ("shipped", NotificationState.PENDING),
    ]
    newest = night[-1]
    assert newest.next_attempt_at == utc(2026, 11, 28, 7, 0)  # 08:00 in Berlin
    with time_machine.travel(utc(2026, 11, 28, 3, 0), tick=False):
        outcomes = delivery.deliver_batch([row.pk for row in night])
        assert set(outcomes.values()) == {delivery.NOT_CLAIMED}
    with time_machine.travel(utc(2026, 11, 28, 7, 0, 1), tick=False):
        outcomes = delivery.deliver_batch([row.pk for row in night])
    assert outcomes[newest.pk] == delivery.SENT
    assert len(sms_outbox) == 2  # the afternoon's and the morning's
    assert sms_outbox[-1].body == Notification.objects.get(pk=newest.pk).body_text
    assert "on its way" in sms_outbox[-1].body


def test_an_older_message_never_goes_out_after_a_newer_one(
    make_order, texting_customer, sms_outbox
):
    """The older text is still being sent when a newer one comes: the newer one
    waits; the older one fails, and the newer one, sent before its retry,
    supersedes it (so its retry finds nothing to send).
    """
    order = make_order(user=texting_customer, phone="+4930901820")
    services.start_tracking(order, notify=False)
    start = utc(2026, 11, 27, 12, 0)
    with time_machine.travel(start, tick=False):
        services.set_status(order, "confirmed")
    (older,) = sms_rows(order)
    channel = get_channel("sms")
    seen = []

    def send_while_a_newer_change_comes(message):
        # Meanwhile, in a request: a newer change, and its worker tries to send.
        services.set_status(order, "on_hold")
        newer = sms_rows(order)[-1]
        seen.append((newer.pk, delivery.deliver(newer.pk)))
        raise TransientChannelError("The SMS gateway timed out.")

    channel.send = send_while_a_newer_change_comes
    try:
        with time_machine.travel(start + datetime.timedelta(seconds=5), tick=False):
            assert delivery.deliver(older.pk) == delivery.RETRY
    finally:
        del channel.send
    ((newer_pk, outcome),) = seen
    assert outcome == delivery.POSTPONED  # an older text was in flight
    assert Notification.objects.get(pk=older.pk).state == NotificationState.PENDING
    with time_machine.travel(start + datetime.timedelta(seconds=15), tick=False):
        assert delivery.deliver(newer_pk) == delivery.SENT
    older.refresh_from_db()
    assert older.state == NotificationState.SKIPPED
    assert "(#%d)" % newer_pk in older.reason
    assert older.superseded_by_id == newer_pk
    with time_machine.travel(start + datetime.timedelta(hours=2), tick=False):
        assert delivery.deliver(older.pk) == delivery.NOT_CLAIMED
    assert [sms.body for sms in sms_outbox] == [
        Notification.objects.get(pk=newer_pk).body_text
    ]


# 7. Coalescing never swallows the shop's message (in-process) ------------------------


def email_rows(order):
    return list(
        Notification.objects.filter(order_id=order.pk, channel="email").order_by("pk")
    )


def deliver_due(order, moment):
    """Run the worker at ``moment`` on the order's email rows; their outcomes."""
    with time_machine.travel(moment, tick=False):
        return delivery.deliver_batch([row.pk for row in email_rows(order)])


def emails_to(address):
    from django.core import mail

    return [
        (message.body, message.alternatives[0][0])
        for message in mail.outbox
        if message.to == [address]
    ]


@pytest.fixture
def coalescing(settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "COALESCE_SECONDS": 30}


def test_the_message_typed_with_a_superseded_change_reaches_the_customer(
    make_order, coalescing
):
    """Confirmed with a message, a shipment with another 25 s later: one email,
    the newest, with both messages, the older first.
    """
    order = make_order(email="ada@example.com")
    start = utc(2026, 11, 27, 12, 0)
    with time_machine.travel(start, tick=False):
        services.start_tracking(order, notify=False)
        services.set_status(
            order, "confirmed", message="Thanks! We are packing already."
        )
    with time_machine.travel(start + datetime.timedelta(seconds=25), tick=False):
        services.add_shipment(
            order,
            carrier="ups",
            tracking_number="1Z999AA10123456784",
            message="The first parcel is on its way.",
        )
    confirmed, update = email_rows(order)
    assert (confirmed.type, confirmed.state) == ("order_confirmed", "skipped")
    assert confirmed.superseded_by_id == update.pk
    outcomes = deliver_due(order, start + datetime.timedelta(seconds=60))
    assert outcomes == {confirmed.pk: delivery.NOT_CLAIMED, update.pk: delivery.SENT}
    ((text, html),) = emails_to("ada@example.com")
    for body in (text, html):
        assert "There are new shipping details" in body  # the newest type
        first = body.index("Thanks! We are packing already.")
        assert first < body.index("The first parcel is on its way.")
    assert "Thanks! We are packing already.\n\nThe first parcel" in text
    # What was sent is what the admin shows.
    assert Notification.objects.get(pk=update.pk).body_text == text


def test_a_change_without_a_message_is_coalesced_as_before(make_order, coalescing):
    order = make_order(email="ada@example.com")
    start = utc(2026, 11, 27, 12, 0)
    with time_machine.travel(start, tick=False):
        services.start_tracking(order, notify=False)
        services.set_status(order, "confirmed")
    with time_machine.travel(start + datetime.timedelta(seconds=25), tick=False):
        services.set_status(order, "on_hold", message="A part is back-ordered.")
    confirmed, _on_hold = email_rows(order)
    assert confirmed.state == NotificationState.SKIPPED
    deliver_due(order, start + datetime.timedelta(seconds=60))
    ((text, _html),) = emails_to("ada@example.com")
    assert "confirmed" not in text.lower()
    # Only the newest change's own message: nothing carried.
    assert text.count("A part is back-ordered.") == 1
    assert "\n\n\n" not in text


def test_messages_carried_through_several_changes_keep_their_order(
    make_order, coalescing
):
    """Three changes in a burst, each replacing the one before: the last email
    carries the first two messages, oldest first, once; a later change sends its
    own message alone, after it.
    """
    order = make_order(email="ada@example.com")
    start = utc(2026, 11, 27, 12, 0)
    with time_machine.travel(start, tick=False):
        services.start_tracking(order, notify=False)
        services.set_status(order, "confirmed", message="First: thanks!")
    with time_machine.travel(start + datetime.timedelta(seconds=10), tick=False):
        services.set_status(order, "on_hold")
    with time_machine.travel(start + datetime.timedelta(seconds=20), tick=False):
        services.set_status(order, "confirmed", message="Second: the part came.")
    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
        services.add_shipment(
            order, carrier="ups", tracking_number="1Z2", message="Third: parcel 2."
        )
    states = [(row.type, row.state) for row in email_rows(order)]
    assert states[-1] == ("shipping_update", NotificationState.PENDING)
    assert {state for _type, state in states[:-1]} == {NotificationState.SKIPPED}
    deliver_due(order, start + datetime.timedelta(minutes=5))
    with time_machine.travel(start + datetime.timedelta(minutes=6)):
        services.set_status(order, "shipped", message="Fourth: enjoy!")
    deliver_due(order, start + datetime.timedelta(minutes=7))
    (first, second) = [text for text, _html in emails_to("ada@example.com")]
    positions = [first.index(text) for text in ("First:", "Second:", "Third:")]
    assert positions == sorted(positions)
    assert first.count("First:") == 1 and "Fourth:" not in first
    assert "Fourth: enjoy!" in second
    assert not any(text in second for text in ("First:", "Second:", "Third:"))
    # Per order and channel, the emails went out in the order of the changes.
    sent = Notification.objects.filter(order_id=order.pk, state="sent")
    assert [row.type for row in sent.order_by("sent_at", "pk")] == [
        "shipping_update",
        "shipped",
    ]


def test_a_newer_email_carries_an_older_one_that_failed_while_it_was_written(
    make_order,
):
    """The older email is being sent when a newer change comes; its send fails.
    The newer one goes out first (after waiting for the older one) and takes the
    older one's message along; the older one's retry sends nothing.
    """
    order = make_order(email="ada@example.com")
    services.start_tracking(order, notify=False)
    start = utc(2026, 11, 27, 12, 0)
    with time_machine.travel(start, tick=False):
        services.set_status(order, "confirmed", message="We are packing already.")
    (older,) = email_rows(order)
    channel = get_channel("email")

    def send_while_a_newer_change_comes(messages):
        services.set_status(order, "on_hold", message="One part is late.")
        newer = email_rows(order)[-1]
        assert delivery.deliver(newer.pk) == delivery.POSTPONED  # older in flight
        raise TransientChannelError("The SMTP server timed out.")

    channel.send_batch = send_while_a_newer_change_comes
    try:
        with time_machine.travel(start + datetime.timedelta(seconds=5), tick=False):
            assert delivery.deliver(older.pk) == delivery.RETRY
    finally:
        del channel.send_batch
    newer = email_rows(order)[-1]
    with time_machine.travel(start + datetime.timedelta(seconds=15), tick=False):
        assert delivery.deliver(newer.pk) == delivery.SENT
    older.refresh_from_db()
    assert (older.state, older.superseded_by_id) == ("skipped", newer.pk)
    with time_machine.travel(start + datetime.timedelta(hours=2), tick=False):
        assert delivery.deliver(older.pk) == delivery.NOT_CLAIMED
    ((text, _html),) = emails_to("ada@example.com")
    assert text.index("We are packing already.") < text.index("One part is late.")


def test_a_resent_older_email_goes_itself_in_the_same_batch(make_order, coalescing):
    """Staff re-send the replaced email while the newer one waits: the worker
    gets both in one batch and sends both, the older first (staff asked for
    it), and the newer one no longer carries the older one's message.
    """
    order = make_order(email="ada@example.com")
    start = utc(2026, 11, 27, 12, 0)
    with time_machine.travel(start, tick=False):
        services.start_tracking(order, notify=False)
        services.set_status(order, "confirmed", message="We are packing already.")
        services.set_status(order, "on_hold", message="One part is late.")
        older, newer = email_rows(order)
        assert delivery.resend(older)
    older.refresh_from_db()
    assert (older.state, older.superseded_by_id) == ("pending", None)
    outcomes = deliver_due(order, start + datetime.timedelta(seconds=60))
    assert outcomes == {older.pk: delivery.SENT, newer.pk: delivery.SENT}
    (first, _html), (second, _html) = emails_to("ada@example.com")
    assert "We are packing already." in first
    assert "One part is late." in second
    assert "We are packing already." not in second  # said once
