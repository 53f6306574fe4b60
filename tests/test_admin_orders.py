"""The order screens in the admin: list, change page, status change with preview,
bulk status, shipments, notes, and who may do what.

Both test shops add order_updates to their own order admin with the mixin
(tests/testapps/*/admin.py).
"""

import datetime
import html.parser
import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from order_updates import services
from order_updates.conf import get_order_model
from order_updates.models import (
    EventKind,
    Notification,
    NotificationTypeSetting,
    OrderEvent,
    OrderState,
    Shipment,
)


def admin_url(name, *args):
    opts = get_order_model()._meta
    return reverse(
        "admin:%s_%s_%s" % (opts.app_label, opts.model_name, name), args=args
    )


def number(order):
    from order_updates.core.adapter import get_adapter

    return get_adapter().get_number(order)


@pytest.fixture
def merchant(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    client.user = user
    return client


def staff_client(django_user_model, *codenames):
    """A logged-in staff member with exactly these permissions."""
    user = django_user_model.objects.create_user("staff-%d" % len(codenames), "", "pw")
    user.is_staff = True
    user.save()
    opts = get_order_model()._meta
    for codename in codenames:
        app_label, _, codename = codename.rpartition(".")
        user.user_permissions.add(
            Permission.objects.get(
                codename=codename, content_type__app_label=app_label or opts.app_label
            )
        )
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def view_order_permission():
    opts = get_order_model()._meta
    return "%s.view_%s" % (opts.app_label, opts.model_name)


def text(response):
    return response.content.decode()


# The list ----------------------------------------------------------------------------


def test_list_shows_status_labels_filters_and_searches(merchant, make_order):
    processing_order = make_order(email="ada@example.com")
    services.start_tracking(processing_order)
    services.set_status(processing_order, "confirmed")
    services.set_status(processing_order, "processing")
    placed = make_order(email="bob@example.org")
    services.start_tracking(placed)
    untracked = make_order(email="carol@example.net")

    page = merchant.get(admin_url("changelist"))
    html = text(page)
    assert page.status_code == 200
    assert ">Processing<" in html and ">Placed<" in html
    assert ">processing<" not in html  # never the raw code
    # The filter offers the pipeline's labels.
    assert "?order_updates_status=on_hold" in html
    assert "On hold" in html

    filtered = text(
        merchant.get(admin_url("changelist"), {"order_updates_status": "placed"})
    )
    assert number(placed) in filtered
    assert number(processing_order) not in filtered
    assert number(untracked) not in filtered

    by_email = text(merchant.get(admin_url("changelist"), {"q": "ada@example"}))
    assert number(processing_order) in by_email and number(placed) not in by_email
    by_number = text(merchant.get(admin_url("changelist"), {"q": number(placed)}))
    assert number(placed) in by_number and number(processing_order) not in by_number


# The change page ---------------------------------------------------------------------


def test_change_page_shows_status_timeline_actor_and_messages(merchant, make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    services.set_status(order, "confirmed", actor=merchant.user, note="Paid by wire")
    row = Notification.objects.filter(order_id=order.pk, type="order_confirmed").get()

    page = merchant.get(admin_url("change", order.pk))
    html = text(page)
    assert page.status_code == 200
    assert 'id="order-updates-status">Confirmed<' in html
    assert "Placed → Confirmed" in html
    assert "Paid by wire" in html
    assert "boss" in html  # who acted
    log = reverse("admin:order_updates_notification_change", args=[row.pk])
    assert 'href="%s"' % log in html
    assert "email · Pending" in html
    # Every action the superuser may take is offered.
    for button in ["change-status", "add-shipment", "add-note"]:
        assert 'id="order-updates-%s"' % button in html


def scanned_shipment(order, *, scans=1, estimate=None, **fields):
    """A shipment of ``order`` with ``scans`` carrier scans, an hour apart."""
    import datetime

    from django.utils import timezone

    shipment = services.add_shipment(
        order,
        carrier="ups",
        tracking_number="1Z%d" % Shipment.objects.count(),
        estimated_delivery=estimate,
        **fields,
    )
    start = timezone.now() - datetime.timedelta(hours=scans)
    services.record_tracking_events(
        shipment,
        [
            services.Scan(
                occurred_at=start + datetime.timedelta(hours=index),
                status="in_transit",
                location="Hub %d" % index,
                message="Scan %d" % index,
            )
            for index in range(scans)
        ],
        notify=False,
    )
    return shipment


def test_change_page_shows_progress_and_each_shipments_tracking(merchant, make_order):
    import datetime

    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    services.set_status(order, "processing")
    scanned_shipment(
        order,
        scans=3,
        estimate=(datetime.date(2026, 12, 2), datetime.date(2026, 12, 4)),
        status="shipped",
    )
    html = text(merchant.get(admin_url("change", order.pk)))
    # The customer pages' stepper: the order is on its way.
    progress = html[html.index('id="order-updates-progress"') :]
    assert re.search(
        r'ou-step--current" aria-current="step">\s*<span[^>]*>[^<]*</span>\s*'
        r'<span class="ou-step__label">On its way</span>',
        progress,
    ), progress[:1500]
    shipments = html[html.index('id="order-updates-shipments"') :]
    assert re.search(r'class="ou-tracking-status">In transit<', shipments)
    assert re.search(r'class="ou-estimate">Dec\. 2, 2026 – Dec\. 4, 2026<', shipments)
    # The newest scan only.
    assert "Hub 2" in shipments and "Scan 2" in shipments
    assert "Hub 1" not in shipments and "Hub 0" not in shipments
    # The timeline says what the carrier's events were.
    timeline = html[html.index('id="order-updates-timeline"') :]
    assert '<span class="ou-event-detail">Pending → In transit</span>' in timeline
    assert (
        '<span class="ou-event-detail">between Dec. 2, 2026 and Dec. 4, 2026</span>'
        in timeline
    )


def test_on_hold_order_page_shows_how_far_it_came(merchant, make_order):
    order = make_order()
    services.start_tracking(order)
    services.set_status(order, "processing")
    services.set_status(order, "on_hold")
    html = text(merchant.get(admin_url("change", order.pk)))
    assert "Not on the usual way: On hold." in html
    assert html.count("ou-step ou-step--done") == 2


def test_late_and_stuck_filters(merchant, make_order):
    import datetime

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    today = timezone.localdate()
    long_ago = timezone.now() - datetime.timedelta(days=30)

    def late_order():
        order = make_order()
        services.add_shipment(
            order,
            carrier="ups",
            shipped_at=timezone.now(),
            estimated_delivery=today - datetime.timedelta(days=1),
        )
        return order

    late = late_order()
    stuck = make_order()
    services.add_shipment(stuck, carrier="ups", shipped_at=long_ago)
    on_time = make_order()
    services.add_shipment(
        on_time, carrier="ups", shipped_at=timezone.now(), estimated_delivery=today
    )
    scanned = make_order()  # shipped long ago, but a recent scan
    scanned_shipment(scanned, shipped_at=long_ago)
    delivered = make_order()  # past its estimate, but delivered: neither
    shipment = services.add_shipment(
        delivered,
        carrier="ups",
        shipped_at=long_ago,
        estimated_delivery=today - datetime.timedelta(days=5),
    )
    services.record_tracking_events(
        shipment,
        [services.Scan(occurred_at=long_ago, status="delivered")],
        notify=False,
    )

    def listed(value):
        with CaptureQueriesContext(connection) as captured:
            page = text(
                merchant.get(
                    admin_url("changelist"), {"order_updates_shipments": value}
                )
            )
        found = {
            order
            for order in (late, stuck, on_time, scanned, delivered)
            if ">%s<" % number(order) in page
        }
        return found, len(captured)

    html = text(merchant.get(admin_url("changelist")))
    assert "?order_updates_shipments=late" in html and "Stuck: no carrier" in html
    found, late_queries = listed("late")
    assert found == {late}
    found, stuck_queries = listed("stuck")
    assert found == {stuck}
    # More late orders: the same number of queries.
    for _ in range(5):
        late_order()
    assert listed("late")[1] == late_queries
    assert late_queries == stuck_queries


def test_list_and_change_page_cost_no_query_per_row(merchant, make_order):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(url):
        with CaptureQueriesContext(connection) as captured:
            assert merchant.get(url).status_code == 200
        return len(captured)

    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    scanned_shipment(order, scans=1)
    queries(admin_url("change", order.pk))  # caches filled (content types…)
    few_events = queries(admin_url("change", order.pk))
    for index in range(10):
        # Back and forth: a failed delivery attempt returns to "shipped".
        services.set_status(order, "out_for_delivery" if index % 2 == 0 else "shipped")
        services.add_note(order, "Note %d" % index, public=index % 2 == 0)
    for _ in range(3):
        scanned_shipment(order, scans=4)
    assert queries(admin_url("change", order.pk)) == few_events

    queries(admin_url("changelist"))
    few_orders = queries(admin_url("changelist"))
    for _ in range(10):
        services.start_tracking(make_order())
    assert queries(admin_url("changelist")) == few_orders


# Changing the status of one order -----------------------------------------------------


def test_status_form_offers_only_allowed_transitions(merchant, order):
    services.start_tracking(order)
    services.set_status(order, "confirmed")
    html = text(merchant.get(admin_url("order_updates_status", order.pk)))
    offered = re.findall(r'<option value="([a-z_]+)"', html)
    # Straight to shipped too, for shops that ship the same day.
    assert offered == [
        "processing",
        "partially_shipped",
        "shipped",
        "on_hold",
        "cancelled",
    ]
    assert ">Processing</option>" in html


def test_preview_shows_what_is_sent_and_changes_nothing(
    merchant, make_order, django_capture_on_commit_callbacks
):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    before = (OrderEvent.objects.count(), Notification.objects.count())
    with django_capture_on_commit_callbacks() as callbacks:
        response = merchant.post(
            admin_url("order_updates_status", order.pk),
            {
                "status": "confirmed",
                "current": "placed",
                "message": "We start on Monday.",
                "note": "VIP",
                "notify": "on",
                "_preview": "Preview",
            },
        )
    # No task published, no signal sent: the dry run was rolled back.
    assert callbacks == []
    html = text(response)
    assert response.status_code == 200
    assert "Change the status from “Placed” to “Confirmed”." in html
    assert 'data-channel="email"' in html
    assert "ada@example.com" in html
    # Rendered by the real templates: the subject and the customer's message.
    assert re.search(r"<strong>Subject:</strong> [^<]*confirmed", html, re.I)
    assert "We start on Monday." in html
    assert 'id="order-updates-confirm"' in html
    assert (OrderEvent.objects.count(), Notification.objects.count()) == before
    assert OrderState.objects.get(order_id=order.pk).status == "placed"


def test_confirming_changes_the_status_with_the_staff_member_as_actor(
    merchant, make_order, django_capture_on_commit_callbacks
):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    with django_capture_on_commit_callbacks(execute=True):
        response = merchant.post(
            admin_url("order_updates_status", order.pk),
            {
                "status": "confirmed",
                "current": "placed",
                "message": "We start on Monday.",
                "note": "VIP",
                "notify": "True",
                "_confirm": "Confirm",
            },
        )
    assert response.status_code == 302
    assert response["Location"] == admin_url("change", order.pk)
    event = OrderEvent.objects.get(order_id=order.pk, kind=EventKind.STATUS_CHANGED)
    assert (event.to_status, event.message, event.note) == (
        "confirmed",
        "We start on Monday.",
        "VIP",
    )
    assert event.actor_user == merchant.user
    assert Notification.objects.filter(event=event, type="order_confirmed").exists()


def test_an_untracked_order_starts_its_timeline_with_the_change(merchant, order):
    page = text(merchant.get(admin_url("change", order.pk)))
    assert "Not tracked yet" in page
    form = text(merchant.get(admin_url("order_updates_status", order.pk)))
    assert re.findall(r'<option value="([a-z_]+)"', form)[0] == "confirmed"
    merchant.post(
        admin_url("order_updates_status", order.pk),
        {"status": "confirmed", "current": "placed", "_confirm": "1"},
    )
    kinds = list(
        OrderEvent.objects.filter(order_id=order.pk).values_list("kind", "to_status")
    )
    assert kinds == [("tracking_started", "placed"), ("status_changed", "confirmed")]


def test_a_final_status_offers_no_change(merchant, order):
    services.start_tracking(order)
    services.set_status(order, "cancelled")
    page = text(merchant.get(admin_url("order_updates_status", order.pk)))
    assert "The pipeline allows no change from this status." in page
    assert 'id="order-updates-preview"' not in page


def test_without_notify_nobody_hears_of_it(merchant, make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    data = {"status": "cancelled", "current": "placed", "message": "", "note": ""}
    preview = text(
        merchant.post(
            admin_url("order_updates_status", order.pk), {**data, "_preview": "1"}
        )
    )
    assert "The customer will not be notified." in preview
    merchant.post(
        admin_url("order_updates_status", order.pk), {**data, "_confirm": "1"}
    )
    event = OrderEvent.objects.get(order_id=order.pk, kind=EventKind.STATUS_CHANGED)
    assert not event.notify
    assert not Notification.objects.filter(event=event).exists()


def test_a_change_made_meanwhile_is_caught(merchant, order):
    services.start_tracking(order)
    services.set_status(order, "confirmed")  # by someone else, after the form loaded
    response = merchant.post(
        admin_url("order_updates_status", order.pk),
        {"status": "cancelled", "current": "placed", "_confirm": "1"},
    )
    assert response.status_code == 200
    assert "in the meantime" in text(response)
    assert OrderState.objects.get(order_id=order.pk).status == "confirmed"


def test_a_transition_the_pipeline_refuses_is_a_form_error(merchant, order):
    services.start_tracking(order)
    response = merchant.post(
        admin_url("order_updates_status", order.pk),
        {"status": "delivered", "current": "placed", "_confirm": "1"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in text(response)
    assert OrderState.objects.get(order_id=order.pk).status == "placed"


# Bulk ---------------------------------------------------------------------------------


def bulk_post(
    client, pks, step=None, select_across=False, query="", selection=None, **data
):
    """Post the bulk status action's form. Confirming without ``selection``
    reviews first and sends the review's fingerprint back, as the page does."""
    payload = {
        "action": "order_updates_set_status",
        "_selected_action": [str(pk) for pk in pks],
        "select_across": "1" if select_across else "0",
        **data,
    }
    if step == "confirm" and selection is None:
        review = bulk_post(client, pks, "review", select_across, query, **data)
        selection = reviewed_selection(review)
    if selection is not None:
        payload["order_updates_selection"] = selection
    if step:
        payload["order_updates_step"] = step
    else:
        payload["index"] = "0"
    return client.post(
        admin_url("changelist") + query, payload, follow=bool(step == "confirm")
    )


def reviewed_selection(review):
    """The fingerprint of what a review showed (its hidden field)."""
    found = re.search(r'name="order_updates_selection" value="(\w*)"', text(review))
    return found.group(1) if found else ""


def test_bulk_review_says_what_changes_and_what_is_skipped(merchant, make_order):
    orders = [make_order() for _ in range(5)]
    for order in orders[:3]:
        services.start_tracking(order)
    services.set_status(orders[0], "confirmed")
    services.set_status(orders[1], "cancelled")
    pks = [order.pk for order in orders]

    first = bulk_post(merchant, pks)
    assert first.status_code == 200
    assert "5 orders selected." in text(first)

    review = text(
        bulk_post(merchant, pks, step="review", status="confirmed", notify="on")
    )
    # Placed (1 tracked, 2 not yet) → confirmed; one already confirmed, one cancelled.
    assert "3 orders will be set to “Confirmed”." in review
    assert "2 orders will be left unchanged:" in review
    assert "The order is already in status “Confirmed”." in review
    assert "An order in status “Cancelled” cannot move to “Confirmed”." in review
    # Which ones, so the merchant can find them.
    skipped = review[review.index('id="order-updates-bulk-skipped"') :]
    skipped = skipped[: skipped.index("</table>")]
    assert number(orders[0]) in skipped and number(orders[1]) in skipped
    assert number(orders[2]) not in skipped
    assert set(OrderState.objects.values_list("status", flat=True)) == {
        "placed",
        "confirmed",
        "cancelled",
    }

    done = bulk_post(
        merchant, pks, step="confirm", status="confirmed", notify="on", note="Batch 7"
    )
    html = text(done)
    assert "3 orders set to “Confirmed”." in html
    assert "2 orders left unchanged:" in html
    events = OrderEvent.objects.filter(kind=EventKind.STATUS_CHANGED, note="Batch 7")
    assert events.count() == 3
    assert {event.actor_user for event in events} == {merchant.user}


def test_bulk_review_names_a_few_skipped_orders_and_counts_the_rest(
    merchant, make_order, monkeypatch
):
    from order_updates.admin import orders as admin_orders

    monkeypatch.setattr(admin_orders, "SKIPPED_NUMBERS_SHOWN", 2)
    orders = [make_order() for _ in range(3)]
    for order in orders:
        services.set_status(order, "cancelled")
    review = text(
        bulk_post(merchant, [o.pk for o in orders], step="review", status="confirmed")
    )
    assert "%s, %s and 1 more" % (number(orders[0]), number(orders[1])) in review


def test_bulk_confirm_changes_only_what_was_reviewed(merchant, make_order):
    # "Select all" runs the list's query again at confirm time: an order placed
    # after the review, or another's status change, must not slip in.
    orders = [make_order() for _ in range(3)]
    pks = [order.pk for order in orders]
    review = bulk_post(
        merchant, pks, step="review", select_across=True, status="on_hold"
    )
    assert "3 orders will be set to “On hold”." in text(review)
    late = make_order()  # placed while the merchant read the review
    done = bulk_post(
        merchant,
        pks,
        step="confirm",
        select_across=True,
        status="on_hold",
        selection=reviewed_selection(review),
    )
    html = text(done)
    assert "The selected orders changed since your review" in html
    assert "4 orders will be set to “On hold”." in html  # the review, again
    assert not OrderState.objects.filter(status="on_hold").exists()
    # Confirming what is now shown works.
    again = bulk_post(
        merchant,
        pks,
        step="confirm",
        select_across=True,
        status="on_hold",
        selection=reviewed_selection(done),
    )
    assert "4 orders set to “On hold”." in text(again)
    assert OrderState.objects.get(order_id=late.pk).status == "on_hold"
    # A status changed by someone else since the review counts as well.
    services.start_tracking(orders[0])
    review = bulk_post(merchant, pks[:1], step="review", status="confirmed")
    services.set_status(orders[0], "cancelled")
    stale = bulk_post(
        merchant,
        pks[:1],
        step="confirm",
        status="confirmed",
        selection=reviewed_selection(review),
    )
    assert "The selected orders changed since your review" in text(stale)


def test_bulk_review_says_whether_the_change_sends_a_notification(merchant, make_order):
    orders = [make_order() for _ in range(2)]
    pks = [order.pk for order in orders]
    confirmed = text(
        bulk_post(merchant, pks, step="review", status="confirmed", notify="on")
    )
    assert "will be notified (“Order confirmed”)" in confirmed
    # "Order processing" is off by default: nobody hears of it, and a message
    # typed for the customers reaches their order pages only.
    review = text(
        bulk_post(
            merchant,
            pks,
            step="review",
            status="processing",
            notify="on",
            message="Packing now.",
        )
    )
    assert "customers of the orders that change will be notified" not in review
    assert "a change to “Processing” sends no notification" in review
    assert "will show on their order pages only" in review
    done = bulk_post(
        merchant,
        pks,
        step="confirm",
        status="processing",
        notify="on",
        message="Packing now.",
    )
    assert "no notification was sent with it" in text(done)
    assert not Notification.objects.filter(type="order_processing").exists()
    assert OrderEvent.objects.filter(message="Packing now.").count() == 2


def bulk_orders(count):
    """``count`` orders of the active shop shape, inserted in a few statements."""
    from django.conf import settings

    model = get_order_model()
    if settings.TEST_SHOP == "plainshop":
        model.objects.bulk_create(
            model(number="BULK-%d" % i, email="bulk%d@example.com" % i)
            for i in range(count)
        )
    else:
        from tests.testapps.customershop.models import Customer

        customer = Customer.objects.create(email="bulk@example.com")
        model.objects.bulk_create(
            model(reference="BULK-%d" % i, customer=customer) for i in range(count)
        )
    return model.objects.all()


def test_bulk_over_5000_orders_takes_a_bounded_number_of_queries(
    merchant, django_assert_max_num_queries
):
    orders = bulk_orders(5000)
    services.bulk_set_status(
        orders.filter(pk__in=list(orders.values_list("pk", flat=True)[:2500])),
        "confirmed",
        notify=False,
    )
    page = list(orders.order_by("-pk").values_list("pk", flat=True)[:100])
    # "Select all 5,000": the page's checkboxes plus select_across.
    with django_assert_max_num_queries(25):
        review = bulk_post(
            merchant, page, step="review", select_across=True, status="processing"
        )
    assert "5000 orders will be set to “Processing”." in text(review)
    selection = reviewed_selection(review)
    # bulk_set_status: per batch of BULK_BATCH_SIZE (1000), about a dozen
    # statements; 5 batches, plus the admin's own (session, user, changelist).
    # SQLite splits inserts and long IN lists at its 999 parameters: its count is
    # higher but just as independent of per-order work.
    bound = 60 if connection.vendor == "postgresql" else 200
    with django_assert_max_num_queries(bound) as queries:
        done = bulk_post(
            merchant,
            page,
            step="confirm",
            select_across=True,
            status="processing",
            notify="on",
            selection=selection,
        )
    assert "5000 orders set to “Processing”." in text(done)
    # About eleven per batch (each batch also reads the webhook endpoints that
    # want its events): 5 batches, whatever the number of orders in them.
    not_inserts = [q for q in queries.captured_queries if "INSERT" not in q["sql"]]
    assert len(not_inserts) <= 60
    assert OrderState.objects.filter(status="processing").count() == 5000
    assert Notification.objects.filter(type="order_processing").count() == 0  # off


# Shipments and notes ------------------------------------------------------------------


def test_add_a_shipment_and_move_the_order(merchant, make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    services.set_status(order, "processing")
    form = text(merchant.get(admin_url("order_updates_add_shipment", order.pk)))
    status_select = form[form.index('name="status"') :]
    assert re.findall(r'<option value="([a-z_]*)"', status_select) == [
        "",
        "partially_shipped",
        "shipped",
        "on_hold",
        "cancelled",
    ]
    response = merchant.post(
        admin_url("order_updates_add_shipment", order.pk),
        {
            "carrier": "ups",
            "tracking_number": "1Z999",
            "tracking_url": "https://ups.example/1Z999",
            "shipped_at_0": "2026-11-30",
            "shipped_at_1": "09:15:00",
            "status": "shipped",
            "message": "On its way!",
            "notify": "on",
        },
    )
    assert response.status_code == 302
    shipment = Shipment.objects.get(order_id=order.pk)
    assert (shipment.carrier, shipment.tracking_number) == ("ups", "1Z999")
    assert shipment.shipped_at.hour == 9
    assert OrderState.objects.get(order_id=order.pk).status == "shipped"
    added = OrderEvent.objects.get(order_id=order.pk, kind=EventKind.SHIPMENT_ADDED)
    assert added.actor_user == merchant.user
    assert Notification.objects.filter(order_id=order.pk, type="shipped").exists()
    page = text(merchant.get(admin_url("change", order.pk)))
    assert "UPS 1Z999" in page  # the carrier's name, not its code


def test_a_bad_link_is_a_form_error(merchant, order):
    response = merchant.post(
        admin_url("order_updates_add_shipment", order.pk),
        {"carrier": "ups", "tracking_url": "not a link"},
    )
    assert response.status_code == 200
    assert "Enter a valid URL." in text(response)
    assert not Shipment.objects.exists()


def test_edit_a_shipment(merchant, make_order, django_capture_on_commit_callbacks):
    order = make_order(email="ada@example.com")
    shipment = services.add_shipment(order, carrier="ups", tracking_number="1Z-TYPO")
    url = admin_url("order_updates_change_shipment", order.pk, shipment.pk)
    form = text(merchant.get(url))
    assert 'value="1Z-TYPO"' in form
    response = merchant.post(
        url,
        {
            "carrier": "dhl_express",
            "tracking_number": "JD0001",
            "tracking_url": "",
            "note": "Wrong label",
            "notify": "on",
        },
    )
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert (shipment.carrier, shipment.tracking_number) == ("dhl_express", "JD0001")
    event = OrderEvent.objects.get(order_id=order.pk, kind=EventKind.SHIPMENT_UPDATED)
    assert event.data["changed"] == ["carrier", "tracking_number"]
    assert (event.note, event.actor_user) == ("Wrong label", merchant.user)
    assert Notification.objects.filter(event=event, type="shipping_update").exists()
    page = text(merchant.get(admin_url("change", order.pk)))
    assert "DHL Express JD0001" in page
    assert "Changed: Carrier, Tracking number" in page  # as the docs say
    # Saving it unchanged writes nothing.
    merchant.post(url, {"carrier": "dhl_express", "tracking_number": "JD0001"})
    assert OrderEvent.objects.filter(kind=EventKind.SHIPMENT_UPDATED).count() == 1


class _FormValues(html.parser.HTMLParser):
    """What a browser would submit of a page's form: inputs (checkboxes only
    when checked), textareas and each select's selected option."""

    def __init__(self):
        super().__init__()
        self.values, self._textarea, self._select = {}, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.values[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data.removeprefix("\n")


def form_values(page):
    parser = _FormValues()
    parser.feed(page)
    parser.values.pop("csrfmiddlewaretoken", None)
    return parser.values


def test_saving_a_shipment_as_it_is_changes_nothing(merchant, make_order):
    # Created by code with a time to the microsecond; its form shows seconds.
    order = make_order(email="ada@example.com")
    shipped = timezone.now().replace(microsecond=557000) - datetime.timedelta(hours=1)
    shipment = services.add_shipment(
        order, carrier="ups", tracking_number="1Z999AA1", shipped_at=shipped
    )
    url = admin_url("order_updates_change_shipment", order.pk, shipment.pk)
    values = form_values(text(merchant.get(url)))
    assert values["tracking_number"] == "1Z999AA1"
    response = merchant.post(url, values, follow=True)
    assert "Nothing was changed." in text(response)
    assert not OrderEvent.objects.filter(kind=EventKind.SHIPMENT_UPDATED).exists()
    shipment.refresh_from_db()
    assert shipment.shipped_at == shipped


def line_keys(order):
    from order_updates.core.adapter import get_adapter

    return list(get_adapter().get_line_quantities(order))


def test_add_a_shipment_with_every_detail(merchant, make_order):
    import datetime

    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    services.set_status(order, "processing")
    url = admin_url("order_updates_add_shipment", order.pk)
    form = text(merchant.get(url))
    # The registry's carriers by name, then a free-text "other" one.
    assert '<option value="ups">UPS</option>' in form
    assert '<option value="_other">Other carrier' in form
    mug, tea = line_keys(order)
    assert 'name="item_%s"' % mug in form and ">Mug:</label>" in form
    assert "of 2 ordered" in form
    response = merchant.post(
        url,
        {
            "carrier": "_other",
            "carrier_name": "Kurier Kowalski",
            "service": "same day",
            "tracking_number": "KK-1",
            "more_tracking_numbers": "KK-2\r\n\r\n  KK-3 \r\n",
            "tracking_url": "https://kurier.example/KK-1",
            "shipped_at_0": "2026-11-30",
            "shipped_at_1": "09:15:00",
            "item_%s" % mug: "1",
            "item_%s" % tea: "",
            "estimated_earliest": "2026-12-02",
            "estimated_latest": "2026-12-04",
            "notify": "on",
        },
    )
    assert response.status_code == 302, text(response)
    shipment = Shipment.objects.get(order_id=order.pk)
    assert (shipment.carrier, shipment.carrier_name, shipment.service) == (
        "",
        "Kurier Kowalski",
        "same day",
    )
    assert [n.number for n in shipment.more_tracking_numbers.all()] == ["KK-2", "KK-3"]
    assert shipment.items == [{"line": mug, "quantity": 1}]
    assert (shipment.estimated_delivery_from, shipment.estimated_delivery_to) == (
        datetime.date(2026, 12, 2),
        datetime.date(2026, 12, 4),
    )
    # One mug of the order's lines left: the order follows.
    assert OrderState.objects.get(order_id=order.pk).status == "partially_shipped"
    page = text(merchant.get(admin_url("change", order.pk)))
    assert "Kurier Kowalski" in page


def test_a_shipping_time_in_the_future_is_refused_beside_its_field(
    merchant, make_order
):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    url = admin_url("order_updates_add_shipment", order.pk)
    later = timezone.localtime() + datetime.timedelta(hours=2)
    data = {
        "carrier": "ups",
        "tracking_number": "1Z9",
        "shipped_at_0": later.strftime("%Y-%m-%d"),  # the admin's date and time
        "shipped_at_1": later.strftime("%H:%M:%S"),
    }
    page = text(merchant.post(url, data))
    assert re.search(
        r'errors field-shipped_at">\s*<ul class="errorlist[^"]*"[^>]*><li>'
        r"shipped_at is in the future: when did the parcel leave\?",
        page,
    ), page
    assert not Shipment.objects.exists()
    assert services.get_status(order).code == "placed"
    # Now (or a little ahead of this clock, as another clock may be) is fine.
    now = timezone.localtime()
    data.update(
        shipped_at_0=now.strftime("%Y-%m-%d"), shipped_at_1=now.strftime("%H:%M")
    )
    assert merchant.post(url, data).status_code == 302
    assert Shipment.objects.count() == 1


def test_shipment_form_errors_keep_what_was_typed(merchant, make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    mug, tea = line_keys(order)
    url = admin_url("order_updates_add_shipment", order.pk)
    data = {
        "carrier": "_other",
        "carrier_name": "",
        "tracking_number": "KEEP-ME",
        "more_tracking_numbers": "KEEP-2",
        "item_%s" % mug: "3",
        "estimated_earliest": "2026-12-04",
        "estimated_latest": "2026-12-02",
    }
    page = text(merchant.post(url, data))
    assert "Type the name of the other carrier." in page
    assert "Ensure this value is less than or equal to 2." in page
    assert "The latest date is before the earliest date." in page
    assert 'value="KEEP-ME"' in page and "KEEP-2</textarea>" in page
    # A choice from the list takes no free-text name.
    page = text(merchant.post(url, {"carrier": "ups", "carrier_name": "UPS too"}))
    assert "leave the name empty" in page
    # Quantities all zero: neither some lines nor the whole order.
    page = text(merchant.post(url, {"item_%s" % mug: "0", "item_%s" % tea: "0"}))
    assert "at least one line" in page
    assert not Shipment.objects.exists()
    # The services' refusal shows beside its field: the mugs were shipped already.
    services.add_shipment(order, items=[{"line": mug, "quantity": 2}])
    page = text(merchant.post(url, {"tracking_number": "AGAIN", "item_%s" % mug: "1"}))
    assert re.search(
        r'errors field-item_%s">\s*<ul class="errorlist[^"]*"[^>]*><li>[^<]*only 0 of '
        r"line %s remain" % (mug, mug),
        page,
    ), page
    assert 'value="AGAIN"' in page
    assert Shipment.objects.count() == 1


def test_edit_a_shipments_estimate(merchant, make_order):
    import datetime

    order = make_order(email="ada@example.com")
    shipment = services.add_shipment(
        order,
        carrier="ups",
        tracking_number="1Z1",
        more_tracking_numbers=["1Z2"],
        estimated_delivery=datetime.date(2026, 12, 2),
    )
    url = admin_url("order_updates_change_shipment", order.pk, shipment.pk)
    form = text(merchant.get(url))
    assert 'value="2026-12-02"' in form
    assert ">\n1Z2</textarea>" in form  # the further numbers, editable
    mug, _tea = line_keys(order)
    assert 'name="item_%s"' % mug in form  # empty: the whole order
    fields = {
        "carrier": "ups",
        "tracking_number": "1Z1",
        "more_tracking_numbers": "1Z2",
        "notify": "on",
    }
    page = text(merchant.post(url, {**fields, "estimated_earliest": ""}))
    assert "An estimate cannot be removed" in page
    response = merchant.post(
        url,
        {
            **fields,
            "estimated_earliest": "2026-12-03",
            "estimated_latest": "2026-12-05",
        },
    )
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert (shipment.estimated_delivery_from, shipment.estimated_delivery_to) == (
        datetime.date(2026, 12, 3),
        datetime.date(2026, 12, 5),
    )
    assert shipment.estimates.count() == 2
    assert not OrderEvent.objects.filter(kind=EventKind.SHIPMENT_UPDATED).exists()
    # Saved unchanged: nothing written.
    merchant.post(
        url,
        {
            **fields,
            "estimated_earliest": "2026-12-03",
            "estimated_latest": "2026-12-05",
        },
    )
    assert shipment.estimates.count() == 2


def test_edit_a_shipments_further_numbers_and_items(merchant, make_order):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    services.set_status(order, "processing")
    mug, tea = line_keys(order)
    other = services.add_shipment(order, items=[{"line": tea, "quantity": 1}])
    shipment = services.add_shipment(
        order,
        carrier="ups",
        tracking_number="1Z1",
        more_tracking_numbers=["1Z-TYPO"],
        items=[{"line": mug, "quantity": 1}],
    )
    url = admin_url("order_updates_change_shipment", order.pk, shipment.pk)
    form = text(merchant.get(url))
    assert re.search(r'name="item_%s"[^>]* value="1"' % mug, form), form
    fields = {"carrier": "ups", "tracking_number": "1Z1", "notify": "on"}
    # The tea is in the other parcel: the service says so beside the field.
    page = text(
        merchant.post(
            url,
            {
                **fields,
                "more_tracking_numbers": "1Z2\r\n1Z3",
                "item_%s" % mug: "2",
                "item_%s" % tea: "1",
            },
        )
    )
    assert re.search(
        r'errors field-item_%s">\s*<ul class="errorlist[^"]*"[^>]*><li>[^<]*only 0 of '
        r"line %s remain" % (tea, tea),
        page,
    ), page
    assert re.search(r"1Z2\r?\n1Z3</textarea>", page)  # kept as typed
    assert [n.number for n in shipment.more_tracking_numbers.all()] == ["1Z-TYPO"]
    response = merchant.post(
        url,
        {**fields, "more_tracking_numbers": "1Z2\r\n1Z3", "item_%s" % mug: "2"},
    )
    assert response.status_code == 302, text(response)
    shipment.refresh_from_db()
    assert [n.number for n in shipment.more_tracking_numbers.all()] == ["1Z2", "1Z3"]
    assert shipment.items == [{"line": mug, "quantity": 2}]
    event = OrderEvent.objects.get(kind=EventKind.SHIPMENT_UPDATED)
    assert event.data["changed"] == ["items", "more_tracking_numbers"]
    other.refresh_from_db()
    assert other.items == [{"line": tea, "quantity": 1}]


def test_a_shipment_of_another_order_is_not_found(merchant, make_order):
    order, other = make_order(), make_order()
    shipment = services.add_shipment(other, carrier="ups")
    url = admin_url("order_updates_change_shipment", order.pk, shipment.pk)
    assert merchant.get(url).status_code == 404


@pytest.mark.parametrize("visibility", ["public", "internal"])
def test_add_a_note(merchant, make_order, visibility):
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    response = merchant.post(
        admin_url("order_updates_add_note", order.pk),
        {"text": "Engraving done", "visibility": visibility, "notify": "on"},
    )
    assert response.status_code == 302
    event = OrderEvent.objects.get(order_id=order.pk, kind=EventKind.NOTE)
    assert event.actor_user == merchant.user
    sent = Notification.objects.filter(event=event).exists()
    if visibility == "public":
        assert (event.message, event.note, sent) == ("Engraving done", "", True)
    else:
        assert (event.message, event.note, sent) == ("", "Engraving done", False)


UNSENT = "but no notification was sent with it"


def shown_messages(response):
    return [str(message) for message in response.context["messages"]]


@pytest.mark.parametrize("switched_off", [False, True])
def test_staff_hear_when_their_message_to_the_customer_is_not_sent(
    merchant, make_order, switched_off
):
    """A message typed with a change whose notification type is off reaches only
    the order page: the shipment and note screens say so, as the status
    screen's preview does.
    """
    if switched_off:
        NotificationTypeSetting.objects.create(type="shipped", enabled=False)
        NotificationTypeSetting.objects.create(type="note_added", enabled=False)
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    services.set_status(order, "processing")
    unnotified = merchant.post(
        admin_url("order_updates_add_shipment", order.pk),
        {"carrier": "dpd", "status": "partially_shipped", "message": "First part."},
        follow=True,
    )
    notified = merchant.post(
        admin_url("order_updates_add_shipment", order.pk),
        {"carrier": "ups", "status": "shipped", "message": "Gift!", "notify": "on"},
        follow=True,
    )
    note = merchant.post(
        admin_url("order_updates_add_note", order.pk),
        {"text": "Engraving done", "visibility": "public", "notify": "on"},
        follow=True,
    )
    assert OrderState.objects.get(order_id=order.pk).status == "shipped"
    # Without "notify", nobody expected a message: no warning.
    assert not any(UNSENT in said for said in shown_messages(unnotified))
    for response in (notified, note):
        assert response.status_code == 200
        assert any(UNSENT in said for said in shown_messages(response)) is (
            switched_off
        )

    def preview():
        return text(
            merchant.post(
                admin_url("order_updates_status", order.pk),
                {
                    "status": "out_for_delivery",
                    "current": "shipped",
                    "message": "Ring twice.",
                    "notify": "on",
                    "_preview": "Preview",
                },
            )
        )

    assert "will show on their order page only" not in preview()
    NotificationTypeSetting.objects.update_or_create(
        type="out_for_delivery", defaults={"enabled": False}
    )
    assert "will show on their order page only" in preview()


def test_an_empty_note_is_a_form_error(merchant, order):
    response = merchant.post(
        admin_url("order_updates_add_note", order.pk),
        {"text": "", "visibility": "public"},
    )
    assert "This field is required." in text(response)
    assert not OrderEvent.objects.exists()


# Permissions and CSRF -----------------------------------------------------------------


def test_view_only_staff_see_everything_and_change_nothing(django_user_model, order):
    services.start_tracking(order)
    shipment = services.add_shipment(order, carrier="ups")
    viewer = staff_client(django_user_model, view_order_permission())
    page = text(viewer.get(admin_url("change", order.pk)))
    assert 'id="order-updates-status">Placed<' in page
    assert "order-updates-change-status" not in page
    assert "order-updates-add-shipment" not in page
    assert "order-updates-add-note" not in page
    assert ">Edit<" not in page
    for url in [
        admin_url("order_updates_status", order.pk),
        admin_url("order_updates_add_shipment", order.pk),
        admin_url("order_updates_change_shipment", order.pk, shipment.pk),
        admin_url("order_updates_add_note", order.pk),
    ]:
        assert viewer.get(url).status_code == 403
        assert viewer.post(url, {"status": "cancelled", "text": "x"}).status_code == 403
    listing = text(viewer.get(admin_url("changelist")))
    assert "order_updates_set_status" not in listing
    bulk_post(viewer, [order.pk], step="confirm", status="cancelled")
    assert OrderState.objects.get(order_id=order.pk).status == "placed"
    assert OrderEvent.objects.filter(order_id=order.pk).count() == 2


def test_each_permission_opens_its_own_screen(django_user_model, order):
    services.start_tracking(order)
    statuses = staff_client(
        django_user_model, view_order_permission(), "order_updates.change_orderstate"
    )
    page = text(statuses.get(admin_url("change", order.pk)))
    assert "order-updates-change-status" in page
    assert "order-updates-add-shipment" not in page
    assert "order_updates_set_status" in text(statuses.get(admin_url("changelist")))
    assert (
        statuses.get(admin_url("order_updates_add_note", order.pk)).status_code == 403
    )

    shipper = staff_client(
        django_user_model,
        view_order_permission(),
        "order_updates.add_shipment",
        "order_updates.add_orderevent",
    )
    page = text(shipper.get(admin_url("change", order.pk)))
    assert "order-updates-add-shipment" in page and "order-updates-add-note" in page
    assert "order-updates-change-status" not in page
    response = shipper.post(
        admin_url("order_updates_add_shipment", order.pk), {"carrier": "ups"}
    )
    assert response.status_code == 302
    assert Shipment.objects.get(order_id=order.pk).carrier == "ups"
    assert shipper.get(admin_url("order_updates_status", order.pk)).status_code == 403


def test_forms_refuse_a_post_without_the_csrf_token(django_user_model, order):
    client = Client(enforce_csrf_checks=True)
    client.force_login(
        django_user_model.objects.create_superuser("csrf", "c@example.com", "pw")
    )
    for url, data in [
        (admin_url("order_updates_status", order.pk), {"status": "confirmed"}),
        (admin_url("order_updates_add_shipment", order.pk), {"carrier": "ups"}),
        (admin_url("order_updates_add_note", order.pk), {"text": "x"}),
    ]:
        assert client.post(url, data).status_code == 403
        assert 'name="csrfmiddlewaretoken"' in text(client.get(url))
    assert not OrderEvent.objects.exists()


def test_the_admin_checks_pass():
    from django.contrib import admin
    from django.core import checks

    errors = [
        error
        for error in checks.run_checks(tags=[checks.Tags.admin])
        if error.level >= checks.ERROR
    ]
    assert errors == []
    assert get_order_model() in admin.site._registry
