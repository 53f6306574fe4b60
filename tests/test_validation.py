"""Bad input to the services: a clear error, and the database stays as it was.

Each service is called with each kind of bad argument it takes; every call must
raise the documented exception naming the argument, and leave no event, no state
change, no shipment, no notification row and no signal behind. NUL characters
are the one thing cleaned instead of refused; the PostgreSQL pass proves the
cleaned text is storable there.
"""

import datetime
import decimal
import re
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy

from order_updates import services, signals
from order_updates.conf import get_order_model
from order_updates.core import validation
from order_updates.exceptions import (
    InvalidInput,
    InvalidInputType,
    OrderUpdatesConfigurationError,
    UnknownStatus,
)
from order_updates.models import (
    EventKind,
    Notification,
    OrderEvent,
    OrderState,
    Shipment,
)

AWARE = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.timezone.utc)


def nested(depth):
    value = {}
    for _ in range(depth):
        value = {"x": value}
    return value


# (argument, bad value, exception, words of the message)
TEXT_CASES = [
    ("int", 5, InvalidInputType, "must be text (a str), not int"),
    ("list", ["a"], InvalidInputType, "must be text (a str), not list"),
    ("bytes", b"hi", InvalidInputType, "must be text (a str), not bytes"),
    ("surrogate", "caf\ud800", InvalidInput, "lone surrogate (U+D800) at position 3"),
    ("too long", "x" * 5001, InvalidInput, "5001 characters, at most 5000"),
    ("2 MB", "x" * 2_000_000, InvalidInput, "2000000 characters, at most 5000"),
]
COMMON_CASES = {
    "message": TEXT_CASES,
    "note": TEXT_CASES,
    "actor": [
        ("int", 5, InvalidInputType, "actor must be a user, a label"),
        ("dict", {}, InvalidInputType, "not dict"),
        ("surrogate", "carrier:\udcff", InvalidInput, "lone surrogate (U+DCFF)"),
    ],
    "notify": [
        ("string", "no", InvalidInputType, "notify must be True or False, not 'no'"),
        ("None", None, InvalidInputType, "not None"),
        ("int", 1, InvalidInputType, "not 1"),
    ],
    "data": [
        ("list", [1, 2], InvalidInputType, "data must be a dict, not list"),
        ("string", "{}", InvalidInputType, "not str"),
        ("object", {"x": object()}, InvalidInputType, "not JSON serializable"),
        ("set", {"x": {1}}, InvalidInputType, "not JSON serializable"),
        ("tuple key", {(1, 2): 1}, InvalidInputType, "keys must be"),
        ("nan", {"x": float("nan")}, InvalidInput, "not JSON compliant"),
        ("infinity", {"x": [float("inf")]}, InvalidInput, "not JSON compliant"),
        ("nul", {"x": "a\x00b"}, InvalidInput, "data['x'] contains a NUL"),
        ("nul key", {"a\x00": 1}, InvalidInput, "contains a NUL"),
        ("surrogate", {"x": ["\ud83d"]}, InvalidInput, "data['x'][0] is not valid"),
        ("too big", {"x": "y" * 70_000}, InvalidInput, "too large"),
        ("too deep", nested(40), InvalidInput, "nested too deeply"),
        ("recursion", nested(5000), InvalidInput, "nested too deeply"),
    ],
    "at": [
        ("string", "2026-03-02", InvalidInputType, "at must be a datetime, not str"),
        ("date", datetime.date(2026, 3, 2), InvalidInputType, "not date"),
        (
            "naive",
            datetime.datetime(2026, 3, 2, 10),
            InvalidInput,
            "must be timezone-aware",
        ),
        (
            "overflow",
            datetime.datetime(
                9999, 12, 31, 23, tzinfo=datetime.timezone(-datetime.timedelta(hours=5))
            ),
            InvalidInput,
            "out of range",
        ),
    ],
}
COMMON_CASES["force"] = COMMON_CASES["public"] = [
    (name, value, exc, words.replace("notify", "%s"))
    for name, value, exc, words in COMMON_CASES["notify"]
]


def call_start_tracking(order, **kwargs):
    return services.start_tracking(order, **kwargs)


def call_set_status(order, **kwargs):
    return services.set_status(order, kwargs.pop("status", "confirmed"), **kwargs)


def call_bulk_set_status(order, **kwargs):
    return services.bulk_set_status(
        [order], kwargs.pop("status", "confirmed"), **kwargs
    )


def call_add_note(order, **kwargs):
    return services.add_note(
        order, kwargs.pop("message", "Gift wrap, please."), **kwargs
    )


def call_add_shipment(order, **kwargs):
    kwargs.setdefault("tracking_number", "1Z999")
    return services.add_shipment(order, **kwargs)


def call_bulk_add_shipments(order, **kwargs):
    return services.bulk_add_shipments([(order, {"carrier": "ups"})], **kwargs)


def call_report_delivery_issue(order, **kwargs):
    return services.report_delivery_issue(
        order, kwargs.pop("issue", "delayed"), **kwargs
    )


def call_add_delivery_feedback(order, **kwargs):
    return services.add_delivery_feedback(
        order, kwargs.pop("note", "Email bounced."), **kwargs
    )


SERVICES = {
    call_start_tracking: ["message", "note", "actor", "notify", "data", "at"],
    call_set_status: ["message", "note", "actor", "notify", "force", "data", "at"],
    call_bulk_set_status: ["message", "note", "actor", "notify"],
    call_add_note: ["message", "actor", "notify", "public", "data", "at"],
    call_add_shipment: ["message", "note", "actor", "notify", "at"],
    call_bulk_add_shipments: ["message", "note", "actor", "notify"],
    call_report_delivery_issue: ["message", "note", "actor", "notify", "data", "at"],
    call_add_delivery_feedback: ["note", "actor", "data", "at"],
}

COMMON = [
    pytest.param(
        service,
        argument,
        value,
        exc,
        words,
        id="%s-%s-%s" % (service.__name__[5:], argument, name),
    )
    for service, arguments in SERVICES.items()
    for argument in arguments
    for name, value, exc, words in COMMON_CASES[argument]
]


@pytest.fixture
def all_signals():
    """The names of the order_updates signals sent."""
    sent = []
    receivers = []
    for name, signal in vars(signals).items():
        if not isinstance(signal, Signal):
            continue

        def receiver(sender, _name=name, **kwargs):
            sent.append(_name)

        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield sent
    for signal, receiver in receivers:
        signal.disconnect(receiver)


def snapshot():
    """Everything a service might write."""
    return {
        "events": list(OrderEvent.objects.order_by("pk").values()),
        "states": list(OrderState.objects.order_by("pk").values()),
        "shipments": list(Shipment.objects.order_by("pk").values()),
        "notifications": list(Notification.objects.order_by("pk").values()),
    }


@pytest.fixture(params=["tracked", "untracked"])
def refused(request, make_order, all_signals, django_capture_on_commit_callbacks):
    """``refused(call, exception, words)``: the call raises and changes nothing."""
    order = make_order()
    if request.param == "tracked":
        services.start_tracking(order)  # writes an event and a notification row
        services.set_status(order, "confirmed")
    all_signals.clear()

    def check(call, exception, words, argument=None):
        before = snapshot()
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(exception) as info,
        ):
            call(order)
        assert words in str(info.value)
        if argument is not None:
            assert info.value.argument == argument
        assert snapshot() == before
        assert callbacks == [] and all_signals == []
        return info.value

    return check


@pytest.mark.parametrize("service, argument, value, exc, words", COMMON)
def test_bad_common_argument_is_refused_and_nothing_is_written(
    refused, service, argument, value, exc, words
):
    if "%s" in words:
        words = words % argument
    error = refused(lambda order: service(order, **{argument: value}), exc, words)
    assert error.argument.startswith(argument)
    assert isinstance(error, ValueError)
    assert isinstance(error, TypeError) == (exc is InvalidInputType)


@pytest.mark.parametrize(
    "service", [service for service in SERVICES if service != call_bulk_add_shipments]
)
@pytest.mark.parametrize("order", [object(), "PS-1", None, OrderEvent()])
def test_something_else_than_an_order_is_refused(refused, service, order):
    refused(lambda _order: service(order), InvalidInputType, "Expected a ")


@pytest.mark.parametrize("service", list(SERVICES))
def test_unsaved_order_is_refused(refused, service):
    model = get_order_model()
    refused(lambda _order: service(model()), InvalidInput, "Save the order")


# Status codes ---------------------------------------------------------------------


STATUS_SERVICES = [
    call_start_tracking,
    call_set_status,
    call_bulk_set_status,
    call_add_shipment,
    call_bulk_add_shipments,
]


@pytest.mark.parametrize("service", STATUS_SERVICES)
@pytest.mark.parametrize(
    "status, exc, words",
    [
        (["shipped"], InvalidInputType, "status code (a str) such as 'shipped'"),
        (5, InvalidInputType, "not int"),
        ({"code": "shipped"}, InvalidInputType, "not dict"),
        ("shipped_maybe", UnknownStatus, "Unknown order status 'shipped_maybe'"),
        ("", UnknownStatus, "Unknown order status ''"),
        ("shipped\x00", UnknownStatus, "Unknown order status"),
    ],
)
def test_bad_status_is_refused(refused, service, status, exc, words):
    refused(lambda order: service(order, status=status), exc, words)


def test_track_existing_orders_refuses_bad_arguments(
    make_order, all_signals, django_capture_on_commit_callbacks
):
    make_order()
    cases = [
        ({"status": ["placed"]}, InvalidInputType, "status code (a str)"),
        ({"status": "nope"}, UnknownStatus, "Unknown order status 'nope'"),
        ({"actor": 5}, InvalidInputType, "actor must be"),
        ({"batch_size": 0}, InvalidInput, "batch_size must be at least 1"),
        ({"batch_size": "100"}, InvalidInputType, "batch_size must be a whole"),
        ({"batch_size": True}, InvalidInputType, "batch_size must be a whole"),
        ({"progress": 5}, InvalidInputType, "progress must be a function"),
        ({"orders": [1, 2]}, InvalidInputType, "Expected a queryset of"),
        (
            {"orders": OrderEvent.objects.all()},
            InvalidInputType,
            "got one of order_updates.OrderEvent",
        ),
    ]
    for kwargs, exc, words in cases:
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(exc, match=re.escape(words)),
        ):
            services.track_existing_orders(**kwargs)
    assert not OrderState.objects.exists() and not OrderEvent.objects.exists()
    assert all_signals == []


# Per service --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message, exc, words",
    [
        ("", InvalidInput, "message is empty"),
        ("  \n\t", InvalidInput, "message is empty"),
        ("\x00\x00", InvalidInput, "message is empty"),
        (None, InvalidInput, "message is empty"),
        (42, InvalidInputType, "message must be text (a str), not int"),
        ("x" * 5001, InvalidInput, "at most 5000"),
    ],
)
def test_add_note_refuses_bad_text(refused, message, exc, words):
    refused(lambda order: services.add_note(order, message), exc, words, "message")


@pytest.mark.parametrize(
    "note, exc, words",
    [
        ("", InvalidInput, "note is empty"),
        (None, InvalidInput, "note is empty"),
        (3.5, InvalidInputType, "note must be text (a str), not float"),
    ],
)
def test_add_delivery_feedback_refuses_bad_text(refused, note, exc, words):
    refused(
        lambda order: services.add_delivery_feedback(order, note), exc, words, "note"
    )


@pytest.mark.parametrize(
    "issue, exc, words",
    [
        ("lost", InvalidInput, "issue must be one of delayed, exception, not 'lost'"),
        (["delayed"], InvalidInputType, "issue must be one of delayed, exception"),
        (None, InvalidInputType, "not NoneType"),
    ],
)
def test_report_delivery_issue_refuses_unknown_issues(refused, issue, exc, words):
    refused(
        lambda order: services.report_delivery_issue(order, issue), exc, words, "issue"
    )


SHIPMENT_CASES = [
    ("carrier", 5, InvalidInputType, "carrier must be text (a str), not int"),
    ("carrier", "x" * 51, InvalidInput, "51 characters, at most 50"),
    ("tracking_number", "1" * 101, InvalidInput, "101 characters, at most 100"),
    ("tracking_number", ["1Z"], InvalidInputType, "not list"),
    ("tracking_number", "1Z\udfff", InvalidInput, "lone surrogate"),
    ("tracking_url", "not a link", InvalidInput, "Enter a valid URL"),
    ("tracking_url", "javascript:alert(1)", InvalidInput, "Enter a valid URL"),
    (
        "tracking_url",
        "https://t.example/" + "x" * 500,
        InvalidInput,
        "518 characters, at most 500",
    ),
    ("shipped_at", "yesterday", InvalidInputType, "shipped_at must be a datetime"),
    ("shipped_at", datetime.datetime(2026, 1, 1), InvalidInput, "timezone-aware"),
]


@pytest.mark.parametrize("field, value, exc, words", SHIPMENT_CASES)
def test_add_shipment_refuses_bad_fields(refused, field, value, exc, words):
    refused(
        lambda order: services.add_shipment(order, status="shipped", **{field: value}),
        exc,
        words,
        field,
    )


@pytest.mark.parametrize(
    "field, value, exc, words",
    [case for case in SHIPMENT_CASES if case[2] is InvalidInputType],
)
def test_bulk_add_shipments_refuses_fields_of_the_wrong_type(
    refused, make_order, field, value, exc, words
):
    other = make_order()
    refused(
        lambda order: services.bulk_add_shipments(
            [(other, {"carrier": "ups"}), (order, {field: value})], status="shipped"
        ),
        exc,
        words,
        "shipments[1].%s" % field,
    )


@pytest.mark.parametrize(
    "shipments, exc, words",
    [
        (
            {"carrier": "ups"},
            InvalidInputType,
            "list of (order, fields) pairs, not dict",
        ),
        ("ups", InvalidInputType, "not str"),
        (5, InvalidInputType, "not int"),
        ([("x",)], InvalidInputType, "shipments[0] must be an (order, fields) pair"),
        ([None], InvalidInputType, "not NoneType"),
        ([(1, ["ups"])], InvalidInputType, "Shipment fields must be a dict, not list"),
        ([(1, {"carier": "ups"})], InvalidInputType, "Unknown shipment fields carier"),
        ([("abc", {})], InvalidInput, "'abc' is not an order's primary key"),
        ([(object(), {})], InvalidInput, "is not an order's primary key"),
        ([(None, {})], InvalidInputType, "shipments[0]: an order or its primary key"),
        ([(OrderEvent(), {})], InvalidInputType, "Expected a "),
    ],
)
def test_bulk_add_shipments_refuses_malformed_calls(refused, shipments, exc, words):
    refused(lambda order: services.bulk_add_shipments(shipments), exc, words)


def test_bulk_add_shipments_skips_orders_with_wrong_values(
    make_order, capture_signal, django_capture_on_commit_callbacks
):
    """A wrong value from the warehouse's file skips its order, with the reason;
    the rest of the wave ships."""
    good, long_number, bad_link = orders = [make_order() for _ in range(3)]
    services.bulk_set_status(orders, "processing", notify=False)
    added = capture_signal(signals.shipment_added)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.bulk_add_shipments(
            [
                (good, {"carrier": "ups", "tracking_number": "1Z\x00999"}),
                (long_number, {"tracking_number": "1" * 101}),
                (bad_link, {"tracking_url": "ups.com/1Z"}),
            ],
            status="shipped",
        )
    assert result.changed == [good.pk]
    assert "at most 100" in result.skipped[long_number.pk]
    assert "tracking_number" in result.skipped[long_number.pk]
    assert "Enter a valid URL" in result.skipped[bad_link.pk]
    assert [s.tracking_number for s in Shipment.objects.all()] == ["1Z999"]
    assert [call["order"] for call in added] == [good]
    for order in (long_number, bad_link):
        assert services.get_status(order).code == "processing"


def test_bulk_set_status_refuses_things_that_are_no_orders(refused, make_order):
    other = make_order()
    refused(
        lambda order: services.bulk_set_status([other, order, "PS-1"], "confirmed"),
        InvalidInputType,
        "Expected a ",
    )
    refused(
        lambda order: services.bulk_set_status("PS-1", "confirmed"),
        InvalidInputType,
        "orders must be a queryset or a list of orders, not str",
    )
    refused(
        lambda order: services.bulk_set_status(5, "confirmed"),
        InvalidInputType,
        "not int",
    )


# What is cleaned or accepted ------------------------------------------------------


def test_nul_characters_are_removed_from_text(make_order, staff_user):
    order = make_order()
    services.start_tracking(order, message="Thanks\x00!", note="n\x00", actor="a\x00b")
    services.set_status(order, "confirmed", message="\x00Confirmed")
    services.add_note(order, "Gift\x00 wrap", public=False)
    services.report_delivery_issue(order, "delayed", message="Late\x00")
    services.add_delivery_feedback(order, "Bounced\x00")
    services.add_shipment(
        order,
        carrier="u\x00ps",
        tracking_number="1Z\x00999",
        tracking_url="https://ups.example/\x00track",
        message="Sent\x00",
    )
    services.bulk_set_status([order], "processing", message="Packing\x00")
    events = list(OrderEvent.objects.filter(order_id=order.pk).order_by("sequence"))
    texts = [
        value
        for event in events
        for value in (event.message, event.note, event.actor_label)
    ]
    assert not any("\x00" in value for value in texts)
    assert [event.message for event in events if event.message] == [
        "Thanks!",
        "Confirmed",
        "Late",
        "Sent",
        "Packing",
    ]
    assert events[0].actor_label == "ab"
    shipment = Shipment.objects.get()
    assert (shipment.carrier, shipment.tracking_number, shipment.tracking_url) == (
        "ups",
        "1Z999",
        "https://ups.example/track",
    )
    assert events[-2].data["tracking_number"] == "1Z999"


def test_none_text_means_no_text_and_lazy_text_is_text(order):
    event = services.set_status(
        order, "confirmed", message=None, note=gettext_lazy("Note")
    )
    assert (event.message, event.note) == ("", "Note")


def test_longest_message_is_accepted_and_the_limit_is_a_setting(order, settings):
    assert services.start_tracking(order, message="x" * 5000).message == "x" * 5000
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "MAX_MESSAGE_LENGTH": 10}
    with pytest.raises(InvalidInput, match="11 characters, at most 10"):
        services.add_note(order, "x" * 11)
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "MAX_MESSAGE_LENGTH": "10"}
    with pytest.raises(OrderUpdatesConfigurationError, match="MAX_MESSAGE_LENGTH"):
        services.add_note(order, "x")


def test_long_actor_labels_are_cut_and_users_are_welcome(order, staff_user):
    event = services.start_tracking(order, actor="carrier:" + "x" * 200)
    assert event.actor_label == "carrier:" + "x" * 142
    assert services.set_status(order, "confirmed", actor=AnonymousUser()).actor_label
    assert services.add_note(order, "Hi", actor=staff_user).actor_user == staff_user


def test_json_friendly_data_is_accepted(order):
    data = {
        "when": AWARE,
        "day": datetime.date(2026, 3, 2),
        "amount": decimal.Decimal("12.50"),
        "id": uuid.UUID(int=1),
        "label": gettext_lazy("Shipped"),
        "nested": nested(30),
        "list": [1, 2.5, None, True, "ü"],
        3: "int keys become text",
    }
    event = services.set_status(order, "confirmed", data=data)
    event.refresh_from_db()
    assert event.data["amount"] == "12.50"
    assert event.data["when"] == "2026-03-02T10:00:00Z"
    assert event.data["3"] == "int keys become text"


def test_aware_times_are_welcome(order):
    local = AWARE.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    event = services.start_tracking(order, at=local)
    event.refresh_from_db()
    assert event.created_at == AWARE
    assert services.set_status(order, "confirmed", at=timezone.now())


def test_naive_times_without_use_tz(order, settings):
    settings.USE_TZ = False
    with pytest.raises(InvalidInput, match="must be naive"):
        validation.moment(AWARE, "at")
    assert validation.moment(datetime.datetime(2026, 3, 2), "at")


def test_plain_json_keeps_any_report(order):
    """The lenient cleaner for webhook data never raises."""

    class Odd:
        def __str__(self):
            raise RuntimeError("no")

    raw = {
        "a\x00": ["b\x00", float("nan"), float("inf"), -float("inf"), "\ud800"],
        "deep": nested(100),
        "odd": Odd(),
        "when": AWARE,
        "tuple": (1, 2),
    }
    plain = validation.plain_json(raw)
    assert plain["a"] == ["b", "NaN", "Infinity", "-Infinity", "\ufffd"]
    assert plain["odd"] == "<Odd>"
    assert plain["when"] == "2026-03-02T10:00:00Z"
    assert plain["tuple"] == [1, 2]
    assert validation.data(plain)  # storable: what services accept
    event = services.add_delivery_feedback(order, "x", data=plain)
    event.refresh_from_db()
    assert event.data["a"][0] == "b"
    assert event.kind == EventKind.DELIVERY_FEEDBACK


def test_clean_text():
    assert validation.clean_text(None, 10) == ""
    assert validation.clean_text({"a": 1}, 100) == "{'a': 1}"
    assert validation.clean_text("a\x00b\ud800" + "c" * 20, 5) == "ab\ufffdcc"
