"""Fixtures shared by the suite: orders of whichever shop shape is active."""

import itertools
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection

pytest_plugins = ["tests.http_mock"]

_numbers = itertools.count(1000)


def _make_plain_order(user=None, email=None, phone="", language="en", **extra):
    from tests.testapps.plainshop.models import Order, OrderLine

    number = "PS-%d" % next(_numbers)
    order = Order.objects.create(
        number=number,
        user=user,
        email=email if email is not None else "%s@example.com" % number.lower(),
        phone=phone,
        language=language,
        total=Decimal("42.50"),
        **extra,
    )
    OrderLine.objects.create(order=order, name="Mug", quantity=2, price=Decimal("10"))
    OrderLine.objects.create(order=order, name="Tea", quantity=1, price=Decimal("22.5"))
    return order


def _make_customer_order(user=None, email=None, phone="", language="en", **extra):
    from tests.testapps.customershop.models import Customer, Purchase, PurchaseItem

    number = "CS-%d" % next(_numbers)
    # A user has one customer record, shared by all their purchases.
    customer = Customer.objects.filter(user=user).first() if user else None
    if customer is None:
        customer = Customer.objects.create(
            user=user,
            email=email if email is not None else "%s@example.com" % number.lower(),
            phone=phone,
            full_name="Ada Lovelace",
            preferred_language=language,
        )
    purchase = Purchase.objects.create(
        reference=number, customer=customer, amount=Decimal("42.50"), **extra
    )
    # Its lines know their totals (2 mugs: 20.00), not their unit prices.
    PurchaseItem.objects.create(
        purchase=purchase, title="Mug", qty=2, line_total=Decimal("20")
    )
    PurchaseItem.objects.create(
        purchase=purchase, title="Tea", qty=1, line_total=Decimal("22.5")
    )
    return purchase


@pytest.fixture
def make_order(db):
    """Create an order of the active shop shape (see tests/settings.py)."""
    if settings.TEST_SHOP == "plainshop":
        return _make_plain_order
    return _make_customer_order


@pytest.fixture
def order(make_order):
    return make_order()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        "merchant", "merchant@example.com", "pw", is_staff=True, first_name="Mia"
    )


@pytest.fixture
def capture_signal():
    """Record a signal's calls: ``calls = capture_signal(order_status_changed)``."""
    connected = []

    def connect(signal):
        calls = []

        def receiver(sender, **kwargs):
            calls.append(kwargs)

        signal.connect(receiver, weak=False)
        connected.append((signal, receiver))
        return calls

    yield connect
    for signal, receiver in connected:
        signal.disconnect(receiver)


def pytest_collection_modifyitems(config, items):
    """Skip PostgreSQL-only tests on SQLite; they run in the PostgreSQL pass."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """A real ``celery worker`` process on the test database and Redis."""
    import uuid

    import redis
    from django.conf import settings as django_settings

    from tests.celery_app import app
    from tests.celery_worker import WorkerProcess

    try:
        redis.Redis.from_url(django_settings.CELERY_BROKER_URL).ping()
    except redis.ConnectionError as exc:
        pytest.fail(
            "The worker tests need Redis at %s: %s"
            % (django_settings.CELERY_BROKER_URL, exc)
        )
    queue = "order_updates_tests_%s" % uuid.uuid4().hex[:8]
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    worker = WorkerProcess(queue, str(tmp_path / "mail")).start()
    try:
        yield worker
    finally:
        worker.stop()
        app.conf.task_default_queue = previous
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)


@pytest.fixture
def sms_outbox():
    """Messages the test SMS provider 'sent' in this process."""
    from order_updates.notifications.channels.sms import test as test_sms

    test_sms.outbox.clear()
    yield test_sms.outbox
    test_sms.outbox.clear()


@pytest.fixture
def broker_queue():
    """Route this test's Celery messages to a Redis queue of its own.

    Returns a function listing the notification ids queued there so far, read
    back from Redis: what a worker would receive.
    """
    import base64
    import json
    import uuid

    from tests.celery_app import app

    queue = "order_updates_tests_%s" % uuid.uuid4().hex[:8]
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue

    def queued_ids():
        with app.connection_for_write() as conn:
            client = conn.default_channel.client
            ids = []
            for raw in client.lrange(queue, 0, -1):
                body = json.loads(base64.b64decode(json.loads(raw)["body"]))
                ids.extend(body[0][0])  # task protocol 2: [args, kwargs, embed]
            return ids

    try:
        yield queued_ids
    finally:
        app.conf.task_default_queue = previous
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
