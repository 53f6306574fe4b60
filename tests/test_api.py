"""The REST API: customer and staff endpoints, permissions, IDOR, errors with
stable codes, throttling, constant query counts, the OpenAPI schema."""

import datetime
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from order_updates import services
from order_updates.core.adapter import get_adapter
from order_updates.models import (
    DeliveryEstimate,
    Notification,
    NotificationState,
    OrderEvent,
    OrderState,
    Shipment,
)
from tests.queries import round_trips, statements

UTC = datetime.timezone.utc

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


def number(order):
    return get_adapter().get_number(order)


def url(name, *args):
    return reverse("order_updates_api:%s" % name, args=args)


@pytest.fixture
def customer(django_user_model):
    return django_user_model.objects.create_user("ada", "ada@example.com", "pw")


@pytest.fixture
def other_customer(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "pw")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_customer(api, customer):
    api.force_authenticate(customer)
    return api


def staff_client(django_user_model, *codenames):
    user = django_user_model.objects.create_user(
        "staff-%s" % "-".join(codenames), is_staff=True
    )
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="order_updates", codename__in=codenames
        )
    )
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def as_staff(django_user_model):
    return staff_client(
        django_user_model,
        "change_orderstate",
        "add_shipment",
        "add_orderevent",
        "view_notification",
        "change_notification",
        "change_shipment",
    )


# Customers ----------------------------------------------------------------------------


def test_my_orders_lists_only_mine_with_status(
    as_customer, customer, other_customer, make_order
):
    mine = [make_order(user=customer) for _ in range(3)]
    theirs = make_order(user=other_customer)
    services.start_tracking(mine[0])
    services.set_status(mine[1], "confirmed")
    response = as_customer.get(url("orders"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    numbers = [item["number"] for item in body["results"]]
    assert numbers == [number(order) for order in reversed(mine)]
    assert number(theirs) not in numbers
    by_number = {item["number"]: item for item in body["results"]}
    assert by_number[number(mine[1])]["status"]["code"] == "confirmed"
    assert by_number[number(mine[1])]["status"]["label"] == "Confirmed"
    assert by_number[number(mine[2])]["status"] is None  # not tracked
    confirmed = as_customer.get(url("orders"), {"status": "confirmed"}).json()
    assert [item["number"] for item in confirmed["results"]] == [number(mine[1])]
    # A typo is an error, not "no orders".
    typo = as_customer.get(url("orders"), {"status": "confimred"})
    assert typo.status_code == 400
    assert typo.json()["code"] == "unknown_status"
    assert "confimred" in typo.json()["detail"]


def test_my_orders_come_newest_first_by_when_they_were_placed(
    as_customer, customer, make_order
):
    """By the order's "created" field, not its key (a UUID or a number typed in
    says nothing of age): the same order as the "my orders" page.
    """
    mine = [make_order(user=customer) for _ in range(3)]
    created = get_adapter().order_fields["created"]
    model = type(mine[0])
    now = timezone.now()
    for days, order in zip([2, 9, 5], mine, strict=True):  # out of key order
        model.objects.filter(pk=order.pk).update(
            **{created: now - datetime.timedelta(days=days)}
        )
    body = as_customer.get(url("orders")).json()
    assert [item["number"] for item in body["results"]] == [
        number(mine[0]),
        number(mine[2]),
        number(mine[1]),
    ]


def test_my_orders_seen_through_a_to_many_join_come_once(
    as_customer, customer, make_order, settings
):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ADAPTER": "tests.test_customer_pages.ThroughLinesAdapter",
    }
    mine = [make_order(user=customer) for _ in range(3)]  # two lines each
    body = as_customer.get(url("orders")).json()
    assert body["count"] == 3
    assert [item["number"] for item in body["results"]] == [
        number(order) for order in reversed(mine)
    ]


def test_my_orders_costs_the_same_queries_for_any_page(
    as_customer, customer, make_order, django_assert_num_queries
):
    for order in [make_order(user=customer) for _ in range(3)]:
        services.start_tracking(order)
    # The count, then the page with its states joined.
    with django_assert_num_queries(2):
        assert len(as_customer.get(url("orders")).json()["results"]) == 3
    for order in [make_order(user=customer) for _ in range(30)]:
        services.set_status(order, "confirmed")
    with django_assert_num_queries(2):
        page = as_customer.get(url("orders")).json()
    assert len(page["results"]) == 20 and page["next"]


def test_anonymous_gets_401(api, order):
    response = api.get(url("orders"))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert api.get(url("order", number(order))).status_code == 401


def test_token_and_session_auth(customer, make_order, client):
    order = make_order(user=customer)
    token = Token.objects.create(user=customer)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token " + token.key)
    assert api.get(url("order", number(order))).status_code == 200
    client.force_login(customer)
    assert client.get(url("order", number(order))).status_code == 200


def test_order_detail_with_timeline_and_shipments(
    as_customer, customer, make_order, django_assert_num_queries
):
    order = make_order(user=customer)
    services.set_status(order, "processing", message="Packing")
    services.add_note(order, "Fragile, check the box", public=False)
    services.add_shipment(
        order, carrier="ups", tracking_number="1Z999", status="shipped", notify=False
    )
    # The order, mine?, its events, its shipments, their further numbers and
    # their scans.
    with django_assert_num_queries(6):
        response = as_customer.get(url("order", number(order)))
    body = response.json()
    assert body["number"] == number(order)
    assert body["status"]["code"] == "shipped"
    kinds = [event["kind"] for event in body["timeline"]]
    assert "note" not in kinds  # the staff note stays staff-only
    assert "Packing" in [event["message"] for event in body["timeline"]]
    assert all("note" not in event for event in body["timeline"])
    assert body["shipments"][0]["tracking_number"] == "1Z999"


def test_another_customers_order_is_404_like_a_missing_one(
    as_customer, other_customer, make_order
):
    theirs = make_order(user=other_customer)
    response = as_customer.get(url("order", number(theirs)))
    missing = as_customer.get(url("order", "NO-SUCH-ORDER"))
    assert response.status_code == missing.status_code == 404
    assert (
        response.json()
        == missing.json()
        == {
            "detail": "No such order.",
            "code": "not_found",
        }
    )
    # Nor by primary key, nor a guest order.
    guest = make_order()
    assert as_customer.get(url("order", number(guest))).status_code == 404
    assert as_customer.get(url("order", str(theirs.pk))).status_code == 404


def test_customers_cannot_use_staff_endpoints(as_customer, customer, make_order):
    order = make_order(user=customer)
    response = as_customer.post(
        url("status", number(order)), {"status": "cancelled"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert services.get_status(order) is None


# Staff ------------------------------------------------------------------------------


def test_change_status(as_staff, order):
    services.start_tracking(order)
    response = as_staff.post(
        url("status", number(order)),
        {"status": "confirmed", "message": "Paid", "note": "card", "notify": False},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"]["code"] == "confirmed"
    assert body["event"]["message"] == "Paid"
    assert body["event"]["note"] == "card"
    assert body["event"]["actor"].startswith("staff-")
    event = OrderEvent.objects.get(order_id=order.pk, to_status="confirmed")
    assert event.actor_user is not None and event.notify is False
    # The same again: nothing changes, no event.
    again = as_staff.post(
        url("status", number(order)), {"status": "confirmed"}, format="json"
    )
    assert again.status_code == 200 and again.json()["event"] is None
    assert again.json()["notifications"] == []


def test_a_status_change_says_which_messages_it_queued(as_staff, order):
    services.start_tracking(order, notify=False)
    told = as_staff.post(
        url("status", number(order)), {"status": "confirmed"}, format="json"
    ).json()
    [queued] = told["notifications"]
    row = Notification.objects.get(event__to_status="confirmed")
    assert (queued["id"], queued["type"], queued["state"]) == (
        row.pk,
        "order_confirmed",
        "pending",
    )
    assert queued["recipient"] == row.recipient != ""
    # "order_processing" is off by default: a message typed for it reaches no one,
    # and the answer says so.
    untold = as_staff.post(
        url("status", number(order)),
        {"status": "processing", "message": "Packing now"},
        format="json",
    ).json()
    assert untold["event"]["message"] == "Packing now"
    assert untold["notifications"] == []


def test_status_errors_have_stable_codes(as_staff, order):
    services.set_status(order, "cancelled")
    unknown = as_staff.post(
        url("status", number(order)), {"status": "shiped"}, format="json"
    )
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "unknown_status"
    invalid = as_staff.post(
        url("status", number(order)), {"status": "shipped"}, format="json"
    )
    assert invalid.status_code == 409
    assert invalid.json()["code"] == "invalid_transition"
    assert "cancelled" in invalid.json()["detail"]
    missing = as_staff.post(url("status", number(order)), {}, format="json")
    assert missing.status_code == 400
    assert missing.json() == {"status": ["This field is required."]}
    too_long = as_staff.post(
        url("status", number(order)),
        {"status": "placed", "message": "x" * 6000},
        format="json",
    )
    assert too_long.status_code == 400 and "message" in too_long.json()
    nowhere = as_staff.post(
        url("status", "NO-SUCH-ORDER"), {"status": "confirmed"}, format="json"
    )
    assert nowhere.status_code == 404 and nowhere.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("name", "needs", "payload"),
    [
        ("status", "change_orderstate", {"status": "confirmed"}),
        ("shipments", "add_shipment", {"tracking_number": "1Z"}),
        ("notes", "add_orderevent", {"message": "hi"}),
    ],
)
def test_each_staff_endpoint_needs_its_permission(
    django_user_model, order, name, needs, payload
):
    others = {"change_orderstate", "add_shipment", "add_orderevent"} - {needs}
    without = staff_client(django_user_model, *others)
    response = without.post(url(name, number(order)), payload, format="json")
    assert response.status_code == 403
    with_it = staff_client(django_user_model, needs)
    response = with_it.post(url(name, number(order)), payload, format="json")
    assert response.status_code in (200, 201), response.json()


def test_bulk_change_with_per_order_results(as_staff, make_order):
    orders = [make_order() for _ in range(5)]
    services.set_status(orders[0], "cancelled")
    numbers = [number(order) for order in orders]
    response = as_staff.post(
        url("bulk_status"),
        {"orders": [*numbers, "NO-SUCH-ORDER"], "status": "confirmed"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["changed"], body["skipped"], body["not_found"]) == (4, 1, 1)
    results = body["results"]
    assert [item["number"] for item in results] == [*numbers, "NO-SUCH-ORDER"]
    assert results[0]["result"] == "skipped" and results[0]["reason"]
    assert {item["result"] for item in results[1:5]} == {"changed"}
    assert results[5] == {
        "number": "NO-SUCH-ORDER",
        "result": "not_found",
        "reason": "",
    }


def test_bulk_change_answers_each_entry_in_the_order_given(as_staff, make_order):
    # A client pairs the results with what it sent by position: a number given
    # twice gets two results, the order changes once.
    first, second = make_order(), make_order()
    services.set_status(second, "confirmed")
    given = [number(first), number(second), "NO-SUCH-ORDER", number(first)]
    response = as_staff.post(
        url("bulk_status"), {"orders": given, "status": "confirmed"}, format="json"
    )
    body = response.json()
    assert [item["number"] for item in body["results"]] == given
    assert [item["result"] for item in body["results"]] == [
        "changed",
        "skipped",
        "not_found",
        "skipped",
    ]
    assert body["results"][1]["reason"] == (
        "The order is already in status “Confirmed”."
    )
    assert body["results"][3]["reason"] == (
        "The order is given earlier in this request."
    )
    assert (body["changed"], body["skipped"], body["not_found"]) == (1, 2, 1)
    assert (
        OrderEvent.objects.filter(order_id=first.pk, to_status="confirmed").count() == 1
    )


def test_bulk_change_of_thousands_in_constant_queries(as_staff, make_order):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    few = [number(make_order()) for _ in range(20)]
    many = [number(make_order()) for _ in range(1000)]
    as_staff.post(url("bulk_status"), {}, format="json")  # permissions, cached
    with CaptureQueriesContext(connection) as small:
        response = as_staff.post(
            url("bulk_status"),
            {"orders": few, "status": "confirmed", "notify": False},
            format="json",
        )
    assert response.json()["changed"] == 20
    with CaptureQueriesContext(connection) as large:
        response = as_staff.post(
            url("bulk_status"),
            {"orders": many, "status": "confirmed", "notify": False},
            format="json",
        )
    assert response.json()["changed"] == 1000

    if connection.vendor == "postgresql":
        assert len(large) == len(small)
    else:
        # SQLite splits a statement by its limit of 999 parameters: the same
        # statements, some of them twice.
        def kinds(queries):
            return {
                re.split(r" WHERE | VALUES | SET |_x\d+", q["sql"])[0] for q in queries
            }

        assert kinds(large) == kinds(small)


def test_bulk_limit(as_staff, settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "API_BULK_MAX_ORDERS": 3}
    response = as_staff.post(
        url("bulk_status"),
        {"orders": ["1", "2", "3", "4"], "status": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert "At most 3 orders" in response.json()["orders"][0]


def test_add_shipment(as_staff, order):
    services.set_status(order, "processing")
    response = as_staff.post(
        url("shipments", number(order)),
        {"carrier": "ups", "tracking_number": "1Z999", "status": "shipped"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["tracking_number"] == "1Z999"
    assert services.get_status(order).code == "shipped"
    bad = as_staff.post(
        url("shipments", number(order)),
        {"tracking_number": "2", "tracking_url": "javascript:alert(1)"},
        format="json",
    )
    assert bad.status_code == 400 and "tracking_url" in bad.json()


def test_a_shipment_whose_move_the_pipeline_refuses_is_not_added(as_staff, order):
    services.set_status(order, "on_hold")  # docs/api.rst: not straight to shipped
    response = as_staff.post(
        url("shipments", number(order)),
        {"carrier": "ups", "tracking_number": "1Z999", "status": "shipped"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert not Shipment.objects.filter(order_id=order.pk).exists()
    assert services.get_status(order).code == "on_hold"


def test_add_note(as_staff, order, customer):
    response = as_staff.post(
        url("notes", number(order)),
        {"message": "Called the customer", "public": False},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["note"] == "Called the customer"
    empty = as_staff.post(url("notes", number(order)), {"message": ""}, format="json")
    assert empty.status_code == 400
    # The same name as add_note() and a status change take: "text" is no field.
    wrong = as_staff.post(url("notes", number(order)), {"text": "x"}, format="json")
    assert wrong.status_code == 400 and "message" in str(wrong.json())


def test_notifications_and_resend(as_staff, make_order, django_assert_num_queries):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    services.set_status(order, "confirmed")
    rows = list(Notification.objects.filter(order_id=order.pk).order_by("pk"))
    Notification.objects.filter(pk=rows[0].pk).update(
        state=NotificationState.FAILED, last_error="ESP down"
    )
    as_staff.get(url("notifications", "NO-SUCH-ORDER"))  # permissions, cached
    # The order, the count, the page.
    with django_assert_num_queries(3):
        listing = as_staff.get(url("notifications", number(order)))
    body = listing.json()
    assert body["count"] == 2
    assert {item["state"] for item in body["results"]} == {"failed", "pending"}
    response = as_staff.post(url("resend", rows[0].pk))
    assert response.status_code == 202
    assert response.json()["state"] == "pending"
    again = as_staff.post(url("resend", rows[0].pk))
    assert again.status_code == 409 and again.json()["code"] == "not_resendable"
    assert as_staff.post(url("resend", 999999)).status_code == 404
    # The worker sends it, although "order confirmed" is newer: staff asked.
    from order_updates.notifications import delivery

    assert delivery.deliver(rows[0].pk) == delivery.SENT


def test_notification_endpoints_need_their_permissions(django_user_model, order):
    services.start_tracking(order)
    row = Notification.objects.get(order_id=order.pk)
    viewer = staff_client(django_user_model, "view_notification")
    assert viewer.get(url("notifications", number(order))).status_code == 200
    assert viewer.post(url("resend", row.pk)).status_code == 403
    nobody = staff_client(django_user_model, "change_orderstate")
    assert nobody.get(url("notifications", number(order))).status_code == 403


# Throttling ---------------------------------------------------------------------------


def test_throttled_by_the_configured_rate(as_customer, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "API_THROTTLE_RATES": {"customer": "2/min", "staff": None},
    }
    assert as_customer.get(url("orders")).status_code == 200
    assert as_customer.get(url("orders")).status_code == 200
    response = as_customer.get(url("orders"))
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert "Retry-After" in response.headers


def test_staff_rate_apart_and_none_means_no_limit(as_staff, order, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "API_THROTTLE_RATES": {"customer": "1/min", "staff": None},
    }
    for _ in range(5):
        assert as_staff.get(url("notifications", number(order))).status_code == 200


def test_a_bad_rate_names_the_setting(as_customer, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "API_THROTTLE_RATES": {"customer": "lots"},
    }
    with pytest.raises(ImproperlyConfigured, match=r"API_THROTTLE_RATES.*customer"):
        as_customer.get(url("orders"))


# The schema -------------------------------------------------------------------------


def test_schema_is_valid_openapi_with_examples(api):
    from drf_spectacular.validation import validate_schema

    response = api.get(url("schema"), {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) == 16
    for path, method, operation in operations:
        examples = [
            example
            for answer in operation["responses"].values()
            for content in answer.get("content", {}).values()
            for example in content.get("examples", {})
        ]
        assert examples, "%s %s has no example" % (method, path)
    assert all(path.startswith("/api/order-updates/") for path in schema["paths"])


def _as_json_schema(node):
    """OpenAPI 3.0's ``nullable`` as JSON Schema's ``null`` type."""
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _as_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


def test_every_answer_example_fits_its_schema(api):
    # An example a client generator or Swagger UI shows must have the answer's
    # shape (a page of orders, not a page of pages).
    import jsonschema

    schema = api.get(url("schema"), {"format": "json"}).json()
    components = _as_json_schema(schema["components"])
    checked = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for code, answer in operation["responses"].items():
                for content in answer.get("content", {}).values():
                    if "schema" not in content:
                        continue
                    root = {
                        **_as_json_schema(content["schema"]),
                        "components": components,
                    }
                    for name, example in content.get("examples", {}).items():
                        where = "%s %s %s example %r" % (method, path, code, name)
                        try:
                            jsonschema.validate(example["value"], root)
                        except jsonschema.ValidationError as error:
                            raise AssertionError(
                                "%s: %s" % (where, error.message)
                            ) from None
                        checked += 1
    assert checked >= 15


# The customer's choices -------------------------------------------------------------


def test_preferences_read_and_change(as_customer, customer, settings):
    from order_updates.notifications.preferences import preference_for

    body = as_customer.get(url("preferences")).json()
    assert body == {
        "channels": {"order": ["email"], "shipping": ["email"]},  # SMS needs consent
        "sms_consent": False,
        "timezone": "",
    }
    response = as_customer.patch(
        url("preferences"),
        {
            "channels": {"shipping": ["email", "sms"]},
            "sms_consent": True,
            "timezone": "Europe/Berlin",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["channels"]["shipping"] == ["email", "sms"]
    assert response.json()["channels"]["order"] == ["email", "sms"]  # no list: all
    preference = preference_for(user=customer)
    assert preference.pk and preference.sms_consent_at is not None
    assert preference.timezone == "Europe/Berlin"
    # Only what is sent changes.
    as_customer.patch(url("preferences"), {"sms_consent": False}, format="json")
    preference.refresh_from_db()
    assert preference.sms_consent_at is None
    assert preference.timezone == "Europe/Berlin"


def test_preferences_choose_sms_only_with_consent(as_customer, customer):
    from order_updates.notifications.preferences import preference_for

    without = as_customer.patch(
        url("preferences"), {"channels": {"shipping": ["sms"]}}, format="json"
    )
    assert without.status_code == 400
    assert without.json() == {
        "sms_consent": ["To get updates by text message, please agree to receive them."]
    }
    assert preference_for(user=customer).pk is None  # nothing saved
    # Consent given before counts; so does consent given in the same request.
    as_customer.patch(url("preferences"), {"sms_consent": True}, format="json")
    later = as_customer.patch(
        url("preferences"), {"channels": {"shipping": ["sms"]}}, format="json"
    )
    assert later.status_code == 200
    assert later.json()["channels"]["shipping"] == ["sms"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"channels": {"news": ["email"]}}, "channels"),
        ({"channels": {"order": ["fax"]}}, "channels"),
        ({"channels": {"order": "email"}}, "channels"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"sms_consent": "maybe"}, "sms_consent"),
    ],
)
def test_preferences_refuse_bad_input(as_customer, data, field):
    response = as_customer.patch(url("preferences"), data, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_preferences_need_a_login(api):
    assert api.get(url("preferences")).status_code == 401


def test_push_subscription_register_and_drop(
    as_customer, customer, api, other_customer
):
    from order_updates.models import PushSubscription
    from tests.test_push_subscriptions import ENDPOINT, new_browser

    keys = new_browser()
    data = {
        "endpoint": ENDPOINT,
        "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]},
    }
    response = as_customer.post(url("push_subscriptions"), data, format="json")
    assert response.status_code == 201
    subscription = PushSubscription.objects.get(pk=response.json()["id"])
    assert subscription.user == customer
    again = as_customer.post(url("push_subscriptions"), data, format="json")
    assert again.status_code == 200
    bad = as_customer.post(
        url("push_subscriptions"),
        {**data, "endpoint": "https://169.254.169.254/latest"},
        format="json",
    )
    assert bad.status_code == 400 and "endpoint" in bad.json()
    # Someone else cannot drop it.
    other = APIClient()
    other.force_authenticate(other_customer)
    theirs = other.post(
        url("push_subscription_delete"), {"endpoint": ENDPOINT}, format="json"
    )
    assert theirs.status_code == 404 and theirs.json()["code"] == "not_found"
    assert PushSubscription.objects.filter(pk=subscription.pk).exists()
    mine = as_customer.post(
        url("push_subscription_delete"), {"endpoint": ENDPOINT}, format="json"
    )
    form = as_customer.post(url("push_subscriptions"), {"endpoint": ENDPOINT})
    assert form.status_code == 415  # multipart: the API reads JSON only
    assert mine.status_code == 204
    assert not PushSubscription.objects.exists()


def test_nul_characters_name_nothing(as_customer, as_staff):
    """PostgreSQL cannot store them: they find nothing instead of failing."""
    assert as_customer.get(url("order", "a\x00b")).status_code == 404
    assert as_staff.post(url("notes", "a\x00b"), {"message": "x"}).status_code == 404
    listing = as_customer.get(url("orders"), {"status": "a\x00"})
    assert listing.status_code == 400 and listing.json()["code"] == "unknown_status"
    bulk = as_staff.post(
        url("bulk_status"), {"orders": ["a\x00b"], "status": "confirmed"}, format="json"
    )
    assert bulk.status_code == 400 and "orders" in bulk.json()
    prefs = as_customer.patch(url("preferences"), {"timezone": "a\x00"}, format="json")
    assert prefs.status_code == 400


def test_bulk_by_primary_key_when_orders_have_no_number(as_staff, make_order, settings):
    """Without a number field the primary key is the number; text that cannot
    be one is simply not found."""
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ORDER_FIELDS": {**settings.ORDER_UPDATES["ORDER_FIELDS"], "number": None},
    }
    order = make_order()
    response = as_staff.post(
        url("bulk_status"),
        {"orders": [str(order.pk), "not-a-key"], "status": "confirmed"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    results = {item["number"]: item["result"] for item in response.json()["results"]}
    assert results == {str(order.pk): "changed", "not-a-key": "not_found"}


# Shipments: what they show, adding and updating them ----------------------------------


def at(day, hour=9):
    return datetime.datetime(2026, 3, day, hour, tzinfo=UTC)


def ship(order, tracking_number="1Z999AA10123456784", scans=2, **fields):
    """A UPS shipment with a further parcel, an estimate and ``scans`` scans."""
    shipment = services.add_shipment(
        order,
        carrier="ups",
        service="express",
        tracking_number=tracking_number,
        more_tracking_numbers=[tracking_number + "-2"],
        estimated_delivery=(datetime.date(2026, 3, 6), datetime.date(2026, 3, 7)),
        notify=False,
        **fields,
    )
    services.record_tracking_events(
        shipment,
        [
            services.Scan(
                occurred_at=at(3 + i % 20, i % 24),
                status="in_transit",
                location="Hub %d" % i,
                message="Scan %d" % i,
            )
            for i in range(scans)
        ],
        source="generic",
        notify=False,
    )
    return shipment


def test_order_detail_shows_shipments_with_scans_in_constant_queries(
    as_customer, customer, make_order, django_assert_num_queries
):
    order = make_order(user=customer)
    services.set_status(order, "processing")
    with django_assert_num_queries(4):  # no shipments: nothing to prefetch
        assert as_customer.get(url("order", number(order))).json()["shipments"] == []
    first = ship(order)
    with django_assert_num_queries(6):
        body = as_customer.get(url("order", number(order))).json()
    (shipment,) = body["shipments"]
    assert shipment["id"] == first.pk
    assert shipment["carrier"] == "ups" and shipment["carrier_name"] == "UPS"
    assert shipment["service"] == "express"
    assert shipment["tracking_numbers"] == [
        "1Z999AA10123456784",
        "1Z999AA10123456784-2",
    ]
    assert shipment["tracking_url"] == (
        "https://www.ups.com/track?loc=en_US&tracknum=1Z999AA10123456784"
    )
    assert shipment["tracking_status"] == "in_transit"
    assert shipment["tracking_status_label"] == "In transit"
    assert shipment["estimated_delivery"] == {
        "earliest": "2026-03-06",
        "latest": "2026-03-07",
    }
    assert shipment["delivered_at"] is None and shipment["items"] == []
    # Newest first.
    assert [scan["message"] for scan in shipment["scans"]] == ["Scan 1", "Scan 0"]
    assert shipment["scans"][0]["location"] == "Hub 1"
    # Three more shipments with many scans: the same queries.
    for i in range(3):
        ship(order, tracking_number="1Z%d" % i, scans=8)
    with django_assert_num_queries(6):
        body = as_customer.get(url("order", number(order))).json()
    assert len(body["shipments"]) == 4
    assert [len(s["scans"]) for s in body["shipments"]] == [2, 8, 8, 8]


def test_add_shipment_with_every_field(as_staff, order):
    services.set_status(order, "processing")
    line = next(iter(get_adapter().get_line_quantities(order)))  # both shops have lines
    payload = {
        "carrier": "dhl",
        "service": "express",
        "tracking_number": "JD014600006281230704",
        "more_tracking_numbers": ["JD014600006281230711"],
        "estimated_delivery": {"earliest": "2026-03-06"},
        "items": [{"line": line, "quantity": 1}],
        "status": "shipped",
    }
    response = as_staff.post(url("shipments", number(order)), payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["carrier_name"] == "DHL"
    assert body["tracking_numbers"] == [
        "JD014600006281230704",
        "JD014600006281230711",
    ]
    assert body["estimated_delivery"] == {
        "earliest": "2026-03-06",
        "latest": "2026-03-06",
    }
    assert body["scans"] == []
    assert body["items"] == [{"line": line, "quantity": 1}]
    shipment = Shipment.objects.get(pk=body["id"])
    assert shipment.service == "express"
    assert DeliveryEstimate.objects.filter(shipment=shipment).count() == 1
    assert services.get_status(order).code == "shipped"


def test_items_must_be_lines_of_the_order(as_staff, order):
    response = as_staff.post(
        url("shipments", number(order)),
        {"items": [{"line": "no-such-line", "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 400
    assert "no-such-line" in response.json()["items[0]"][0]
    assert not Shipment.objects.exists()


def test_a_carrier_without_a_code_goes_by_its_name(as_staff, order):
    response = as_staff.post(
        url("shipments", number(order)),
        {
            "carrier_name": "Fahrradkurier Müller",
            "tracking_number": "M-17",
            "tracking_url": "https://kurier.example.com/t/M-17",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["carrier"] == ""
    assert body["carrier_name"] == "Fahrradkurier Müller"
    assert body["tracking_url"] == "https://kurier.example.com/t/M-17"


def test_an_unknown_carrier_code_is_refused(as_staff, order):
    response = as_staff.post(
        url("shipments", number(order)),
        {"carrier": "upz", "tracking_number": "1Z"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_carrier"
    assert "upz" in response.json()["detail"]
    assert "carrier_name" in response.json()["detail"]
    assert not Shipment.objects.exists()
    shipment = services.add_shipment(order, carrier="ups", tracking_number="1Z")
    patch = as_staff.patch(
        url("shipment", number(order), shipment.pk), {"carrier": "upz"}, format="json"
    )
    assert patch.status_code == 400 and patch.json()["code"] == "unknown_carrier"
    shipment.refresh_from_db()
    assert shipment.carrier == "ups"


def test_a_bad_estimate_is_a_field_error(as_staff, order):
    response = as_staff.post(
        url("shipments", number(order)),
        {"estimated_delivery": {"earliest": "2026-03-06", "latest": "2026-03-05"}},
        format="json",
    )
    assert response.status_code == 400
    assert "latest" in response.json()["estimated_delivery"]
    assert not Shipment.objects.exists()


def test_update_a_shipment(as_staff, order):
    services.set_status(order, "processing")
    shipment = services.add_shipment(order, carrier="ups", tracking_number="1Z1")
    response = as_staff.patch(
        url("shipment", number(order), shipment.pk),
        {"tracking_number": "1Z2", "note": "Label reprinted", "notify": False},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["tracking_numbers"] == ["1Z2"]
    event = OrderEvent.objects.get(order_id=order.pk, kind="shipment_updated")
    assert event.data["changed"] == ["tracking_number"]
    assert event.note == "Label reprinted" and event.notify is False
    assert event.actor_user is not None
    # Shipped now: the order follows its shipment.
    shipped = as_staff.patch(
        url("shipment", number(order), shipment.pk),
        {"shipped_at": "2026-03-04T10:15:00Z"},
        format="json",
    )
    assert shipped.json()["shipped_at"] == "2026-03-04T10:15:00Z"
    assert services.get_status(order).code == "shipped"


def test_update_a_shipments_further_numbers_and_items(as_staff, order):
    services.set_status(order, "processing")
    mug, tea = list(get_adapter().get_line_quantities(order))  # 2 mugs, 1 tea
    shipment = services.add_shipment(
        order,
        tracking_number="P1",
        more_tracking_numbers=["P-TYPO"],
        items=[{"line": mug, "quantity": 1}],
    )
    target = url("shipment", number(order), shipment.pk)
    too_many = as_staff.patch(
        target, {"items": [{"line": mug, "quantity": 3}]}, format="json"
    )
    assert too_many.status_code == 400, too_many.json()
    assert too_many.json() == {
        "items[0]": ["items[0]: only 2 of line %s remain to ship." % mug]
    }
    response = as_staff.patch(
        target,
        {
            "more_tracking_numbers": ["P2"],
            "items": [{"line": mug, "quantity": 2}, {"line": tea, "quantity": 1}],
            "note": "Repacked",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["tracking_numbers"] == ["P1", "P2"]
    assert body["items"] == [
        {"line": mug, "quantity": 2},
        {"line": tea, "quantity": 1},
    ]
    event = OrderEvent.objects.get(order_id=order.pk, kind="shipment_updated")
    assert event.data["changed"] == ["items", "more_tracking_numbers"]
    assert event.note == "Repacked"
    # [] removes the further numbers; the items stay as they are.
    cleared = as_staff.patch(target, {"more_tracking_numbers": []}, format="json")
    assert cleared.json()["tracking_numbers"] == ["P1"]
    assert len(cleared.json()["items"]) == 2


def test_update_the_estimate_and_a_later_one_tells_the_customer(as_staff, order):
    shipment = services.add_shipment(
        order, tracking_number="P1", estimated_delivery=datetime.date(2026, 3, 6)
    )
    response = as_staff.patch(
        url("shipment", number(order), shipment.pk),
        {
            "estimated_delivery": {"earliest": "2026-03-08", "latest": "2026-03-09"},
            "message": "The storm delays every parcel.",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["estimated_delivery"] == {
        "earliest": "2026-03-08",
        "latest": "2026-03-09",
    }
    event = OrderEvent.objects.filter(
        order_id=order.pk, kind="estimate_changed"
    ).latest("sequence")
    assert event.data["later"] is True and event.notify is True
    assert event.message == "The storm delays every parcel."
    assert not OrderEvent.objects.filter(kind="shipment_updated").exists()
    # Fields and estimate at once: one request, two events, the message once.
    both = as_staff.patch(
        url("shipment", number(order), shipment.pk),
        {
            "service": "express",
            "estimated_delivery": {"earliest": "2026-03-07"},
            "message": "Sent express instead.",
        },
        format="json",
    )
    assert both.status_code == 200, both.json()
    updated = OrderEvent.objects.get(order_id=order.pk, kind="shipment_updated")
    sooner = OrderEvent.objects.filter(kind="estimate_changed").latest("sequence")
    assert updated.message == "Sent express instead." and sooner.message == ""
    assert sooner.data["later"] is False


def test_update_refuses_nothing_to_change_and_a_lone_note(as_staff, order):
    shipment = services.add_shipment(order, tracking_number="P1")
    nothing = as_staff.patch(
        url("shipment", number(order), shipment.pk), {"notify": False}, format="json"
    )
    assert nothing.status_code == 400
    assert "Nothing to change" in nothing.json()["non_field_errors"][0]
    lone_note = as_staff.patch(
        url("shipment", number(order), shipment.pk),
        {"estimated_delivery": {"earliest": "2026-03-07"}, "note": "why"},
        format="json",
    )
    assert lone_note.status_code == 400 and "note" in lone_note.json()
    assert not DeliveryEstimate.objects.exists()
    bad_link = as_staff.patch(
        url("shipment", number(order), shipment.pk),
        {"tracking_url": "javascript:alert(1)"},
        format="json",
    )
    assert bad_link.status_code == 400 and "tracking_url" in bad_link.json()


def test_another_orders_shipment_is_404(as_staff, make_order):
    mine, theirs = make_order(), make_order()
    shipment = services.add_shipment(theirs, tracking_number="P1")
    for target in (
        url("shipment", number(mine), shipment.pk),
        url("shipment", number(mine), "abc"),
        url("shipment", number(mine), 10**25),
        url("shipment", "NO-SUCH-ORDER", shipment.pk),
    ):
        response = as_staff.patch(target, {"tracking_number": "X"}, format="json")
        assert response.status_code == 404, target
        assert response.json()["code"] == "not_found"
    assert Shipment.objects.get(pk=shipment.pk).tracking_number == "P1"


def test_update_needs_change_shipment(django_user_model, as_customer, order):
    shipment = services.add_shipment(order, tracking_number="P1")
    target = url("shipment", number(order), shipment.pk)
    adder = staff_client(django_user_model, "add_shipment", "change_orderstate")
    assert adder.patch(target, {"service": "x"}, format="json").status_code == 403
    assert as_customer.patch(target, {"service": "x"}, format="json").status_code == 403
    changer = staff_client(django_user_model, "change_shipment")
    assert changer.patch(target, {"service": "x"}, format="json").status_code == 200


# Public tracking by signed link -------------------------------------------------------


def token_for(order):
    from order_updates.notifications.links import make_tracking_token

    state = OrderState.objects.get(order_id=order.pk)
    return make_tracking_token(order.pk, state.tracking_link_version)


def test_public_tracking_without_a_login(api, make_order):
    order = make_order(email="ada@example.com")
    services.set_status(order, "processing", message="Packing")
    services.add_note(order, "Customer is rude", public=False)
    ship(order, status="shipped")
    token = token_for(order)
    # The order with its state; its events, its shipments and their scans (one
    # round trip on PostgreSQL); the shipments' numbers, and the newest scan of
    # each (for a problem to show).
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url("tracking", token))
    assert statements(captured) == 6
    assert len(captured) == round_trips(on_sqlite=6, on_postgresql=4)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"number", "status", "progress", "timeline", "shipments"}
    assert body["number"] == number(order)
    assert body["status"]["code"] == "shipped"
    assert body["progress"]["steps"][0]["state"] == "done"
    assert 0 < body["progress"]["percent"] < 100
    assert "Packing" in [entry["message"] for entry in body["timeline"]]
    (shipment,) = body["shipments"]
    assert shipment["carrier_name"] == "UPS" and len(shipment["scans"]) == 2
    # Minimal personal data: no email, no staff note.
    text = response.content.decode()
    assert "ada@example.com" not in text and "rude" not in text
    assert "Lovelace" not in text and "Mug" not in text  # no name, no items
    # A URL with a secret, as the page: never cached, never indexed.
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["X-Robots-Tag"] == "noindex"
    assert response.headers["Referrer-Policy"] == "same-origin"
    # Many more shipments and scans: the same queries.
    for i in range(3):
        ship(order, tracking_number="1Z%d" % i, scans=6)
    with CaptureQueriesContext(connection) as more:
        assert len(api.get(url("tracking", token)).json()["shipments"]) == 4
    assert (statements(more), len(more)) == (statements(captured), len(captured))


def test_public_tracking_reads_the_customer_pages_data(api, make_order, monkeypatch):
    """One copy of what the tracking page shows: the API answers from it."""
    from order_updates.customer import data

    order = make_order()
    services.set_status(order, "confirmed")
    token = token_for(order)
    # Without shipments: the order with its state, then its events, its
    # shipments and their scans (one round trip on PostgreSQL).
    with CaptureQueriesContext(connection) as captured:
        assert api.get(url("tracking", token)).json()["shipments"] == []
    assert statements(captured) == 4
    assert len(captured) == round_trips(on_sqlite=4, on_postgresql=2)
    calls = []
    original = data.order_detail

    def spy(order, **kwargs):
        calls.append(kwargs)
        return original(order, **kwargs)

    monkeypatch.setattr(data, "order_detail", spy)
    assert api.get(url("tracking", token)).status_code == 200
    assert calls == [{"items": False}]


def test_tampered_expired_revoked_and_foreign_tokens_are_404(
    api, as_staff, make_order, settings
):
    import time_machine

    from order_updates.notifications.links import make_token, make_tracking_token

    order, untracked = make_order(), make_order()
    services.set_status(order, "confirmed")
    token = token_for(order)
    assert api.get(url("tracking", token)).status_code == 200
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for bad in (
        tampered,
        "x" * 2000,
        make_tracking_token(untracked.pk),  # no tracking page
        make_tracking_token(10**9),  # no such order
        make_token(email="a@example.com"),  # a preferences token
    ):
        response = api.get(url("tracking", bad))
        assert response.status_code == 404
        assert response.json() == {
            "detail": "This tracking link is not valid.",
            "code": "not_found",
        }
    later = datetime.datetime.now(tz=UTC) + datetime.timedelta(days=91)
    with time_machine.travel(later):
        assert api.get(url("tracking", token)).status_code == 404
    # Revoked through the staff endpoint: old links 404, new ones work.
    revoked = as_staff.post(url("revoke_tracking_links", number(order)))
    assert revoked.status_code == 200
    assert revoked.json() == {"number": number(order), "tracking_link_version": 1}
    assert api.get(url("tracking", token)).status_code == 404
    assert api.get(url("tracking", token_for(order))).status_code == 200


def test_a_token_opens_only_its_own_order(api, make_order, customer, other_customer):
    mine = make_order(user=customer)
    theirs = make_order(user=other_customer)
    for order in (mine, theirs):
        services.set_status(order, "confirmed")
    services.add_shipment(theirs, tracking_number="THEIRS-1")
    body = api.get(url("tracking", token_for(mine))).json()
    assert body["number"] == number(mine)
    assert "THEIRS-1" not in str(body)


def test_revoke_tracking_links(django_user_model, as_customer, make_order, customer):
    order = make_order(user=customer)
    services.set_status(order, "confirmed")
    target = url("revoke_tracking_links", number(order))
    # Customers cannot, nor staff without the permission.
    assert as_customer.post(target).status_code == 403
    viewer = staff_client(django_user_model, "view_notification")
    assert viewer.post(target).status_code == 403
    staff = staff_client(django_user_model, "change_orderstate")
    assert staff.post(target).json()["tracking_link_version"] == 1
    assert staff.post(target).json()["tracking_link_version"] == 2
    nowhere = staff.post(url("revoke_tracking_links", "NO-SUCH-ORDER"))
    assert nowhere.status_code == 404 and nowhere.json()["code"] == "not_found"
    untracked = make_order()
    answer = staff.post(url("revoke_tracking_links", number(untracked)))
    assert answer.status_code == 200
    assert answer.json()["tracking_link_version"] == 0


def test_public_tracking_by_number_and_email(api, make_order):
    order = make_order(email="Ada@Example.com")
    services.set_status(order, "confirmed", message="Thanks!")
    response = api.post(
        url("tracking_lookup"),
        {"number": number(order).lower(), "email": " ada@example.COM "},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {
        "token",
        "number",
        "status",
        "progress",
        "timeline",
        "shipments",
    }
    assert body["number"] == number(order) and body["status"]["code"] == "confirmed"
    assert "ada@example.com" not in response.content.decode().lower()
    assert "no-store" in response.headers["Cache-Control"]
    # The token opens the same data later, as a tracking link would.
    later = api.get(url("tracking", body["token"])).json()
    assert later == {key: value for key, value in body.items() if key != "token"}


def test_public_tracking_lookup_tells_strangers_nothing(api, make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    untracked = make_order(email="bob@example.com")
    answers = [
        api.post(url("tracking_lookup"), data, format="json")
        for data in (
            {"number": number(order), "email": "eve@example.com"},  # wrong email
            {"number": "NO-SUCH-ORDER", "email": "ada@example.com"},
            {"number": number(untracked), "email": "bob@example.com"},  # no page
            {"number": number(order), "postcode": "SW1Y 4JH"},  # shop has none
        )
    ]
    assert {answer.status_code for answer in answers} == {404}
    assert {answer.content for answer in answers} == {answers[0].content}
    assert answers[0].json() == {
        "detail": "No order matches this number and email address.",
        "code": "not_found",
    }
    missing = api.post(url("tracking_lookup"), {"number": "1"}, format="json")
    assert missing.status_code == 400 and "email" in missing.json()
    nul = api.post(
        url("tracking_lookup"), {"number": "a\x00", "email": "a@b.c"}, format="json"
    )
    assert nul.status_code == 400 and "number" in nul.json()


def test_public_tracking_lookup_counts_attempts_with_the_page(
    api, client, make_order, settings
):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "LOOKUP_MAX_ATTEMPTS_PER_ORDER": 2,
        "API_THROTTLE_RATES": {"customer": None, "staff": None},
    }
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    # One wrong try on the page, one through the API: the third is refused,
    # even with the right email.
    client.post(
        reverse("order_updates:lookup"),
        {"number": number(order), "secret": "eve@example.com"},
    )
    wrong = {"number": number(order), "email": "eve@example.com"}
    assert api.post(url("tracking_lookup"), wrong, format="json").status_code == 404
    right = {"number": number(order), "email": "ada@example.com"}
    refused = api.post(url("tracking_lookup"), right, format="json")
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert int(refused.headers["Retry-After"]) > 0


def test_public_tracking_is_throttled_per_address(api, make_order, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "API_THROTTLE_RATES": {"customer": "2/min", "staff": None},
    }
    order = make_order()
    services.set_status(order, "confirmed")
    token = token_for(order)
    assert api.get(url("tracking", token)).status_code == 200
    assert api.get(url("tracking", "guess")).status_code == 404  # counted too
    response = api.get(url("tracking", token))
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    other = APIClient(REMOTE_ADDR="203.0.113.9")
    assert other.get(url("tracking", token)).status_code == 200
