"""The delivery path end to end: PostgreSQL, Redis and a real worker process.

commit → outbox row → Celery (Redis) → worker → email backend, and what happens
when things go wrong: rollbacks, duplicate tasks, lost tasks, killed workers,
failing providers.
"""

from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from order_updates import services
from order_updates.models import Notification, NotificationState
from order_updates.notifications import delivery
from order_updates.notifications.queue import publish
from tests.celery_worker import WorkerProcess, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def mails(worker):
    folder = Path(worker.mail_dir)
    return sorted(folder.glob("*.log")) if folder.exists() else []


def state_of(notification_id):
    return Notification.objects.get(pk=notification_id).state


def test_commit_is_delivered_by_the_worker(celery_worker, make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)

    def sent_rows():
        return list(
            Notification.objects.filter(order_id=order.pk, state=NotificationState.SENT)
        )

    # Waited for: a change before it goes out would supersede it (one message
    # telling the latest state).
    wait_for(lambda: len(sent_rows()) == 1)
    services.set_status(order, "confirmed", message="Paid, thank you!")
    sent = wait_for(lambda: sent_rows() if len(sent_rows()) == 2 else None)
    assert {row.type for row in sent} == {"order_received", "order_confirmed"}
    assert all(row.recipient == "ada@example.com" and row.attempts == 1 for row in sent)
    files = wait_for(
        lambda: mails(celery_worker) if len(mails(celery_worker)) else None
    )
    text = "".join(path.read_text() for path in files)
    assert "ada@example.com" in text
    assert "Paid, thank you!" in text
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in text


def test_rollback_sends_nothing(celery_worker, make_order):
    order = make_order(email="ada@example.com")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.start_tracking(order)
        raise RuntimeError("payment failed")
    # A change committed afterwards proves the worker was listening all along.
    probe = make_order(email="probe@example.com")
    services.start_tracking(probe)
    wait_for(
        lambda: Notification.objects.filter(
            order_id=probe.pk, state=NotificationState.SENT
        ).exists()
    )
    assert not Notification.objects.filter(order_id=order.pk).exists()
    assert all("ada@example.com" not in p.read_text() for p in mails(celery_worker))


def test_duplicate_tasks_send_one_message(celery_worker, make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    row = Notification.objects.get(order_id=order.pk)
    # The same row queued many more times, as a redelivering broker might.
    for _ in range(5):
        publish([row.pk])
    wait_for(lambda: state_of(row.pk) == NotificationState.SENT)
    wait_for(
        lambda: celery_worker.output().count("order_updates.deliver_notifications") >= 6
    )
    assert len(mails(celery_worker)) == 1
    assert Notification.objects.get(pk=row.pk).attempts == 1


def test_sweeper_recovers_a_row_whose_task_was_lost(celery_worker, make_order):
    from tests.celery_app import app

    order = make_order(email="ada@example.com")
    # The task goes where no worker listens: as good as lost with a broker
    # that died right after accepting it.
    app.conf.task_default_queue = celery_worker.queue + "-void"
    try:
        services.start_tracking(order)
    finally:
        app.conf.task_default_queue = celery_worker.queue
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(celery_worker.queue + "-void")
    row = Notification.objects.get(order_id=order.pk)
    assert state_of(row.pk) == NotificationState.PENDING
    # Once the grace period has passed, the sweeper queues it again.
    Notification.objects.filter(pk=row.pk).update(
        next_attempt_at=timezone.now() - delivery.SWEEP_GRACE * 2
    )
    assert delivery.sweep()["queued"] == 1
    wait_for(lambda: state_of(row.pk) == NotificationState.SENT)
    assert len(mails(celery_worker)) == 1


def test_killed_worker_loses_nothing(transactional_db, make_order, tmp_path, settings):
    from tests.celery_app import app

    marker = tmp_path / "hanging"
    queue = "order_updates_kill_%s" % tmp_path.name[-8:]
    app.conf.task_default_queue = queue
    hanging = WorkerProcess(
        queue,
        str(tmp_path / "mail-1"),
        {
            "TEST_EMAIL_BACKEND": "tests.flaky_email.HangingEmailBackend",
            "HANG_MARKER": str(marker),
            "TEST_LEASE_SECONDS": "2",
        },
    ).start()
    try:
        order = make_order(email="ada@example.com")
        services.start_tracking(order)
        row = Notification.objects.get(order_id=order.pk)
        wait_for(marker.exists)
        assert state_of(row.pk) == NotificationState.SENDING
        hanging.kill()  # SIGKILL in the middle of sending
    finally:
        hanging.stop()
    healthy = WorkerProcess(queue, str(tmp_path / "mail-2")).start()
    try:
        # The dead worker's lease runs out; the sweeper (beat, every minute)
        # hands the row to the healthy worker.
        wait_for(
            lambda: Notification.objects.filter(
                pk=row.pk, lease_expires_at__lt=timezone.now()
            ).exists(),
            timeout=10,
        )
        assert delivery.sweep()["recovered"] == 1
        wait_for(lambda: state_of(row.pk) == NotificationState.SENT)
        assert len(mails(healthy)) == 1
        sent = Notification.objects.get(pk=row.pk)
        assert sent.attempts == 2
    finally:
        healthy.stop()
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)


def test_provider_errors_retry_then_fail(transactional_db, make_order, tmp_path):
    from tests.celery_app import app

    queue = "order_updates_flaky_%s" % tmp_path.name[-8:]
    app.conf.task_default_queue = queue
    flaky = WorkerProcess(
        queue,
        str(tmp_path / "mail"),
        {
            "TEST_EMAIL_BACKEND": "tests.flaky_email.FlakyEmailBackend",
            "FLAKY_COUNTER": str(tmp_path / "failures"),
            "FLAKY_FAILURES": "2",
            "TEST_RETRY_BACKOFF": "0.2",
        },
    ).start()
    try:
        recovering = make_order(email="ada@example.com")
        services.start_tracking(recovering)
        row = Notification.objects.get(order_id=recovering.pk)
        wait_for(lambda: state_of(row.pk) == NotificationState.SENT)
        row.refresh_from_db()
        assert row.attempts == 3
        assert (tmp_path / "failures").read_text() == "2"

        # Now the provider stays down: MAX_ATTEMPTS tries, then "failed".
        (tmp_path / "failures").write_text("-1000")
        doomed = make_order(email="grace@example.com")
        services.start_tracking(doomed)
        row = Notification.objects.get(order_id=doomed.pk)
        wait_for(lambda: state_of(row.pk) == NotificationState.FAILED, timeout=60)
        row.refresh_from_db()
        assert row.attempts == 6
        assert "SMTPServerDisconnected" in row.last_error
    finally:
        flaky.stop()
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
