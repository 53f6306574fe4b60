"""Notifications per second through real Celery worker processes.

PostgreSQL holds the outbox, Redis is the broker, each worker writes mail with
Django's file backend. Measures the time from commit until every row is sent.
"""

import sys
import tempfile
import time
import uuid

from _setup import make_orders, setup_django

setup_django()

from order_updates import services  # noqa: E402
from order_updates.models import Notification, NotificationState  # noqa: E402
from tests.celery_app import app  # noqa: E402
from tests.celery_worker import WorkerProcess  # noqa: E402

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
WORKERS = int(sys.argv[2]) if len(sys.argv) > 2 else 2


def main():
    queue = "order_updates_bench_%s" % uuid.uuid4().hex[:8]
    app.conf.task_default_queue = queue
    mail_dir = tempfile.mkdtemp(prefix="bench-mail-")
    workers = [WorkerProcess(queue, mail_dir).start() for _ in range(WORKERS)]
    try:
        queryset = make_orders(COUNT)
        services.bulk_set_status(queryset, "confirmed", notify=False)
        started = time.perf_counter()
        services.bulk_set_status(queryset, "on_hold")  # one email per order
        committed = time.perf_counter()
        while True:
            pending = Notification.objects.exclude(state=NotificationState.SENT).count()
            if not pending:
                break
            if time.perf_counter() - started > 600:
                raise SystemExit("Timed out with %d notifications unsent" % pending)
            time.sleep(0.2)
        done = time.perf_counter()
    finally:
        for worker in workers:
            worker.stop()
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
    sent = Notification.objects.filter(state=NotificationState.SENT).count()
    print("workers: %d (2 threads each)" % WORKERS)
    print(
        "notifications sent: %d, each once: %s"
        % (sent, sent == Notification.objects.values("dedupe_key").distinct().count())
    )
    print("queueing (bulk change + outbox rows): %.2f s" % (committed - started))
    print(
        "commit to last sent: %.2f s, %.0f notifications/s"
        % (done - committed, sent / (done - committed))
    )


if __name__ == "__main__":
    main()
