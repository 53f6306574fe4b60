"""bulk_set_status() on thousands of orders: time, statements, memory."""

import time
import tracemalloc

from _setup import make_orders, setup_django

setup_django()

from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from order_updates import services  # noqa: E402
from order_updates.conf import get_order_model  # noqa: E402
from order_updates.models import Notification  # noqa: E402


def fresh_queryset(count):
    """``count`` new orders, already tracked and confirmed (without notifying)."""
    make_orders(count)
    pks = list(
        get_order_model()
        .objects.filter(order_updates_state__isnull=True)
        .values_list("pk", flat=True)[:count]
    )
    queryset = get_order_model().objects.filter(pk__in=pks)
    services.bulk_set_status(queryset, "confirmed", notify=False)
    return queryset


def run(count, notify):
    """Time one bulk change, then measure peak memory on a second, like it.

    Two passes because tracemalloc slows Python down several times over.
    """
    queryset = fresh_queryset(count)
    reset_queries()
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        result = services.bulk_set_status(queryset, "processing", notify=notify)
    elapsed = time.perf_counter() - started
    assert len(result.changed) == count
    queryset = fresh_queryset(count)
    tracemalloc.start()
    services.bulk_set_status(queryset, "processing", notify=notify)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, len(queries), peak


def main():
    # order_processing is off by default; switch it on so every order notifies.
    from django.test.utils import override_settings

    from tests import settings as test_settings

    on = {
        **test_settings.ORDER_UPDATES,
        "NOTIFICATION_TYPES": {"order_processing": {"enabled": True}},
    }
    print(
        "%8s %8s %10s %10s %12s %14s"
        % ("orders", "notify", "seconds", "orders/s", "statements", "peak MiB")
    )
    for count in (1000, 5000, 10000):
        for notify in (False, True):
            with override_settings(ORDER_UPDATES=on):
                elapsed, statements, peak = run(count, notify)
            print(
                "%8d %8s %10.2f %10.0f %12d %14.1f"
                % (count, notify, elapsed, count / elapsed, statements, peak / 2**20)
            )
    print("notification rows written:", Notification.objects.count())


if __name__ == "__main__":
    main()
