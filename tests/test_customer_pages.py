"""Customer pages: my orders, the order page, the tracking page, the lookup form.

The pages' forms are submitted in a real browser too (example_project/tests/
test_demo_customer_pages_browser.py); here the rules are checked one by one.
"""

import contextlib
import datetime
import re
import textwrap
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import connection
from django.db.models import Prefetch
from django.template import Context, Template
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse, set_script_prefix
from django.utils import timezone, translation
from django.utils.html import escape

from order_updates import services
from order_updates.core.adapter import DefaultOrderAdapter
from order_updates.customer.data import TimelineEntry
from order_updates.customer.views import order_links
from order_updates.models import NotificationPreference, OrderState
from order_updates.notifications.links import (
    TrackingToken,
    make_tracking_token,
    order_for_tracking_token,
    read_tracking_token,
    tracking_path,
)
from order_updates.templatetags.order_updates import kept_parts
from tests.queries import round_trips, statements

UTC = datetime.timezone.utc

PASSWORD = "pw"
UPS_URL = "https://www.ups.com/track?tracknum=1Z999AA10123456784"


@pytest.fixture(autouse=True)
def _clear_cache():
    """The lookup's attempt counters live in the cache: start each test afresh."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", PASSWORD)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def number_of(order):
    return DefaultOrderAdapter().get_number(order)


def ship(order, *, scans=0, notes=0):
    services.start_tracking(order)
    services.set_status(order, "processing")
    shipment = services.add_shipment(
        order,
        carrier="ups",
        tracking_number="1Z999AA10123456784",
        tracking_url=UPS_URL,
        status="shipped",
        message="Packed with care.",
    )
    scan_shipment(shipment, scans)
    for index in range(notes):
        services.add_note(order, "Note %d" % index, notify=False)
    return shipment


def scan_shipment(shipment, scans, *, status="in_transit", start=None):
    """``scans`` carrier scans of ``shipment``, an hour apart, the last now."""
    start = start or timezone.now() - datetime.timedelta(hours=scans)
    services.record_tracking_events(
        shipment,
        [
            services.Scan(
                occurred_at=start + datetime.timedelta(hours=index + 1),
                status=status,
                location="Hub %d" % index,
                message="Scan %d" % index,
            )
            for index in range(scans)
        ],
        notify=False,
    )


def more_parcels(order, count=2, *, scans=3):
    """Further shipments of ``order``, each of two parcels, with scans."""
    for index in range(count):
        shipment = services.add_shipment(
            order,
            carrier="dhl",
            tracking_number="JD%04d" % index,
            more_tracking_numbers=["JD%04dB" % index],
            estimated_delivery=datetime.date(2026, 12, 10),
        )
        scan_shipment(shipment, scans)


def tracking_url(order):
    state = OrderState.objects.get(order_id=order.pk)
    return tracking_path(order.pk, state.tracking_link_version)


def assert_opens_tracking_page(location, order):
    """``location`` is a valid tracking link of ``order`` (its token carries the
    time it was made, so it is not compared as text)."""
    match = resolve(location)
    assert match.url_name == "tracking"
    assert order_for_tracking_token(match.kwargs["token"]).pk == order.pk


def count_queries(client, url):
    """The SQL statements and round trips of a GET of ``url``, and its response."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return (statements(queries), len(queries)), response


# My orders ---------------------------------------------------------------------------


def test_my_orders_needs_a_login(client, alice, make_order):
    url = reverse("order_updates:my_orders")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_my_orders_lists_only_mine_newest_first(alice_client, alice, bob, make_order):
    first = make_order(user=alice)
    ship(first)
    second = make_order(user=alice)
    services.start_tracking(second)
    theirs = make_order(user=bob)
    services.start_tracking(theirs)
    untracked = make_order(user=alice)

    response = alice_client.get(reverse("order_updates:my_orders"))
    assert response.status_code == 200
    content = response.content.decode()
    numbers = re.findall(r'id="order-([^"]+)"', content)
    assert numbers == [number_of(untracked), number_of(second), number_of(first)]
    assert number_of(theirs) not in content
    # Status in words, the stepper with the current step marked, the latest update.
    assert 'data-status="shipped"' in content
    assert 'aria-current="step"' in content
    assert "<strong>Shipped</strong>. Packed with care." in content
    assert "Not tracked yet" in content
    currency = DefaultOrderAdapter().field(first, "currency")
    assert ("€42.50" if currency else "42.50") in content


def test_my_orders_latest_update_is_the_newest_the_customer_may_see(
    alice_client, alice, make_order
):
    """A staff-only note written after the public ones is never the "latest
    update" (nor shown); each order gets its own newest public event."""
    noted = make_order(user=alice)
    ship(noted)
    services.add_note(noted, "Customer called, very kind", public=False)
    other = make_order(user=alice)
    services.start_tracking(other)
    services.add_note(other, "Your engraving is ready.", notify=False)
    content = alice_client.get(reverse("order_updates:my_orders")).content.decode()

    def card(order):
        card = content.split('id="order-%s"' % number_of(order), 1)[1]
        return card.split('id="order-', 1)[0]  # up to the next card

    assert "<strong>Shipped</strong>. Packed with care." in card(noted)
    assert "very kind" not in content
    assert "Your engraving is ready." in card(other)
    assert "Packed with care" not in card(other)


def test_my_orders_shows_how_far_an_order_off_the_path_had_come(
    alice_client, alice, make_order
):
    """As the order page does: a cancelled order that was being processed has
    its first steps done, one cancelled at once none."""
    late = make_order(user=alice)
    services.start_tracking(late)
    services.set_status(late, "processing")
    services.set_status(late, "cancelled")
    early = make_order(user=alice)
    services.start_tracking(early)
    services.set_status(early, "cancelled")
    content = alice_client.get(reverse("order_updates:my_orders")).content.decode()

    def done_steps(order):
        card = content.split('id="order-%s"' % number_of(order), 1)[1]
        card = card.split('id="order-', 1)[0]  # up to the next card
        return card.count("ou-step--done")

    page = alice_client.get(reverse("order_updates:order", args=[number_of(late)]))
    assert done_steps(late) == page.content.decode().count("ou-step--done") == 2
    assert done_steps(early) == 1  # placed, where it left the path


def test_my_orders_filters_open_and_completed(alice_client, alice, make_order):
    done = make_order(user=alice)
    ship(done)
    services.set_status(done, "delivered")
    cancelled = make_order(user=alice)
    services.start_tracking(cancelled)
    services.set_status(cancelled, "cancelled")
    open_order = make_order(user=alice)
    services.start_tracking(open_order)
    untracked = make_order(user=alice)
    url = reverse("order_updates:my_orders")

    def listed(show):
        content = alice_client.get(url, {"show": show}).content.decode()
        return set(re.findall(r'id="order-([^"]+)"', content))

    assert listed("completed") == {number_of(done), number_of(cancelled)}
    assert listed("open") == {number_of(open_order), number_of(untracked)}
    assert len(listed("")) == 4
    response = alice_client.get(url, {"show": "everything"})
    assert response.status_code == 400
    assert b"Unknown filter" in response.content


def test_my_orders_pages(alice_client, alice, make_order, settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "MY_ORDERS_PAGE_SIZE": 2}
    orders = [make_order(user=alice) for _ in range(5)]
    url = reverse("order_updates:my_orders")
    first = alice_client.get(url).content.decode()
    third = alice_client.get(url, {"page": 3}).content.decode()
    assert re.findall(r'id="order-([^"]+)"', third) == [number_of(orders[0])]
    assert "Page 1 of 3" in first and 'rel="next"' in first
    assert 'rel="prev"' in third and 'rel="next"' not in third
    assert alice_client.get(url, {"page": 4}).status_code == 404
    assert alice_client.get(url, {"page": "x"}).status_code == 404
    assert alice_client.get(url, {"page": 0}).status_code == 404
    # The count comes with the page's orders: none matching, still page 1.
    response = alice_client.get(url, {"show": "completed"})
    assert response.status_code == 200
    assert "You have no completed orders yet." in response.content.decode()
    assert 'class="ou-pagination"' not in response.content.decode()
    assert alice_client.get(url, {"show": "completed", "page": 2}).status_code == 404


def test_my_orders_draws_each_distinct_status_once(alice_client, alice, make_order):
    shipped = [make_order(user=alice) for _ in range(3)]
    for order in shipped:
        ship(order)
    placed = make_order(user=alice)
    services.start_tracking(placed)
    kept_parts.clear()
    for request in ("first", "next"):
        rendered = []
        with _record_templates(rendered):
            response = alice_client.get(reverse("order_updates:my_orders"))
        content = response.content.decode()
        assert content.count('data-status="shipped"') == 3
        assert content.count('data-status="placed"') == 1
        assert content.count('aria-current="step"') == 4
        # Drawn once per distinct status on the first page, then kept.
        times = 1 if request == "first" else 0
        assert rendered.count("order_updates/customer/progress.html") == 2 * times
        assert rendered.count("order_updates/customer/status.html") == 2 * times
    with translation.override("de"):
        content = alice_client.get(reverse("order_updates:my_orders")).content
    assert b'data-status="shipped">Versandt<' in content


def test_page_data_answers_template_lookups_as_keys_and_is_no_collection():
    entry = TimelineEntry(kind="note", at=timezone.now(), title="Hello")
    html = Template(
        "{{ entry.title }}|{{ entry.missing }}|{{ entry.0 }}|{{ entry.problem }}"
    ).render(Context({"entry": entry}))
    assert html == "Hello|||False"
    assert entry["title"] == "Hello"
    for key in ("missing", 0):
        with pytest.raises(KeyError):
            entry[key]
    with pytest.raises(TypeError):
        iter(entry)
    with pytest.raises(TypeError):
        "title" in entry  # noqa: B015 (what the test is about)


def test_parts_that_can_differ_between_requests_are_drawn_each_time(tmp_path, settings):
    (tmp_path / "form_part.html").write_text("<form>{% csrf_token %}{{ label }}</form>")
    (tmp_path / "clock_part.html").write_text('{% now "u" %} {{ label }}')
    (tmp_path / "plain_part.html").write_text("{{ label }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    page = Template(
        "{% load order_updates %}"
        '{% order_updates_part "form_part.html" label="x" %}|'
        '{% order_updates_part "clock_part.html" label="x" %}|'
        '{% order_updates_part "plain_part.html" label="x" %}'
    )
    first = page.render(Context({"csrf_token": "token-one"}))
    second = page.render(Context({"csrf_token": "token-two"}))
    assert 'value="token-one"' in first and 'value="token-two"' in second
    assert first.split("|")[1] != second.split("|")[1]  # microseconds of now
    assert first.split("|")[2] == second.split("|")[2] == "x"


@contextlib.contextmanager
def _record_templates(names):
    def record(sender, template, **kwargs):
        names.append(template.name)

    template_rendered.connect(record)
    try:
        yield
    finally:
        template_rendered.disconnect(record)


class ThroughLinesAdapter(DefaultOrderAdapter):
    """A shop that lets a customer see their orders that have lines: through a
    join across a to-many relation, one row per line."""

    def get_orders_for_user(self, user):
        lines = "%s__isnull" % self.order_fields["items"]
        return super().get_orders_for_user(user).filter(**{lines: False})


def test_orders_seen_through_a_to_many_join_come_once(
    alice_client, alice, make_order, settings
):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ADAPTER": "tests.test_customer_pages.ThroughLinesAdapter",
    }
    orders = [make_order(user=alice) for _ in range(3)]  # two lines each
    for order in orders:
        services.start_tracking(order)
    page = alice_client.get(reverse("order_updates:my_orders")).content.decode()
    assert len(re.findall(r'id="order-', page)) == 3
    response = alice_client.get(
        reverse("order_updates:order", args=[number_of(orders[0])])
    )
    assert response.status_code == 200


def test_numbers_with_slashes_and_any_letters_list_and_open(
    alice_client, alice, make_order
):
    field = DefaultOrderAdapter().order_fields["number"]
    numbers = ["2026/000123", "Bestellung-ü/ß 7", "Nº 77 ü"]
    for number in numbers:
        order = make_order(user=alice)
        setattr(order, field, number)
        order.save(update_fields=[field])
        services.start_tracking(order)
    response = alice_client.get(reverse("order_updates:my_orders"))
    assert response.status_code == 200
    links = re.findall(r'<h2><a href="([^"]+)">', response.content.decode())
    assert len(links) == 3
    for number, link in zip(reversed(numbers), links, strict=True):
        page = alice_client.get(link)
        assert page.status_code == 200
        assert escape("Order %s" % number) in page.content.decode()
    assert alice_client.get(links[-1] + "more/").status_code == 404


@pytest.mark.parametrize("prefix", ["/", "/shop/"])
def test_order_links_are_what_reverse_gives(prefix):
    numbers = ["1001", "A-7_b", "2026/1", "a b", "ü", "..", "-", "%41", "x?y", "0"]
    set_script_prefix(prefix)
    try:
        expected = [reverse("order_updates:order", args=[n]) for n in numbers]
        assert order_links(numbers, "order_updates") == expected
    finally:
        set_script_prefix("/")
    assert expected[0] == prefix + "order-updates/orders/1001/"


def test_my_orders_query_count_does_not_grow(alice_client, alice, make_order):
    url = reverse("order_updates:my_orders")
    for _ in range(2):
        ship(make_order(user=alice))
    few, _response = count_queries(alice_client, url)
    for _ in range(8):
        order = make_order(user=alice)
        ship(order, scans=3, notes=2)
        more_parcels(order)
    many, response = count_queries(alice_client, url)
    assert len(re.findall(r'id="order-', response.content.decode())) == 10
    assert response.content.decode().count('class="ou-order__estimate"') == 8
    assert few == many
    # Session, user, the page's orders and their count, their states with
    # their parcels' estimated delivery, their latest events, the time zone
    # (the last three in one round trip on PostgreSQL).
    assert many == (6, round_trips(on_sqlite=6, on_postgresql=4))


def test_my_orders_in_the_customers_time_zone(alice_client, alice, make_order):
    order = make_order(user=alice)
    with time_machine.travel(datetime.datetime(2026, 3, 2, 23, 30, tzinfo=UTC)):
        services.start_tracking(order)
    NotificationPreference.objects.create(user=alice, timezone="Asia/Tokyo")
    content = alice_client.get(reverse("order_updates:my_orders")).content.decode()
    # 23:30 UTC is 08:30 the next morning in Tokyo.
    assert 'datetime="2026-03-03T08:30:00+09:00"' in content


# The order page ----------------------------------------------------------------------


def test_order_page_shows_progress_timeline_and_shipments(
    alice_client, alice, make_order
):
    order = make_order(user=alice)
    ship(order)
    services.add_note(order, "Engraving done.")
    services.add_note(order, "Staff only: fragile", public=False)
    services.report_delivery_issue(
        order, "delayed", message="Storm at the hub.", note="internal detail"
    )
    response = alice_client.get(reverse("order_updates:order", args=[number_of(order)]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Order %s" % number_of(order) in content
    assert 'data-status="shipped"' in content
    assert re.search(
        r'<li class="ou-step ou-step--current" aria-current="step">', content
    )
    assert "Engraving done." in content
    assert "Storm at the hub." in content and "Delivery delayed" in content
    assert "Staff only" not in content and "internal detail" not in content
    assert "1Z999AA10123456784" in content
    assert 'href="%s"' % UPS_URL.replace("&", "&amp;") in content
    assert "Parcel handed to UPS" in content
    # The lines with their totals (2 mugs: 20.00), and the order's total.
    assert re.search(r"<td>Mug</td><td[^>]*>2</td><td[^>]*>(€)?20\.00</td>", content)
    assert re.search(r">Total</th><td[^>]*>(€)?42\.50</td>", content)


def parcel_with_everything(order):
    """A parcel of another carrier (typed in), of two numbers, with one mug,
    an estimate window, and scans up to its delivery."""
    from order_updates.core.adapter import get_adapter

    mug = next(iter(get_adapter().get_line_quantities(order)))
    shipment = services.add_shipment(
        order,
        carrier_name="Kurier Kowalski",
        tracking_number="KK-1",
        tracking_url="https://kurier.example/KK-1",
        more_tracking_numbers=["KK-2"],
        items=[{"line": mug, "quantity": 1}],
        estimated_delivery=(datetime.date(2026, 12, 2), datetime.date(2026, 12, 4)),
    )
    services.record_tracking_events(
        shipment,
        [
            services.Scan(
                occurred_at=datetime.datetime(2026, 12, 1, 8, tzinfo=UTC),
                status="in_transit",
                location="Poznań depot",
                message="Sorted at the depot",
            ),
            services.Scan(
                occurred_at=datetime.datetime(2026, 12, 1, 15, tzinfo=UTC),
                status="exception",
                substatus="address",
                location="Berlin",
                message="Address incomplete, driver will call",
            ),
        ],
        notify=False,
    )
    return shipment


def shipment_html(content, carrier):
    start = content.index('<h3 class="ou-shipment__carrier">%s' % carrier)
    return content[start : content.index("</article>", start)]


def test_order_page_shows_each_parcels_tracking(alice_client, alice, make_order):
    order = make_order(user=alice)
    ship(order)
    parcel_with_everything(order)
    content = alice_client.get(
        reverse("order_updates:order", args=[number_of(order)])
    ).content.decode()
    ups = shipment_html(content, "UPS")
    assert "Pending" in ups  # no scan yet
    kk = shipment_html(content, "Kurier Kowalski")
    assert re.search(
        r'data-tracking-status="exception"><strong>Delivery problem</strong> '
        r"\(Address problem\)",
        kk,
    )
    # Both numbers; the typed link for the first (an unknown carrier has no page).
    assert '<a class="ou-shipment__number" href="https://kurier.example/KK-1"' in kk
    assert '<span class="ou-shipment__number">KK-2</span>' in kk
    assert "between Dec. 2, 2026 and Dec. 4, 2026" in kk
    assert "1 × Mug" in kk and "Tea" not in kk
    # The scans, newest first.
    assert kk.index("Berlin") < kk.index("Poznań depot")
    assert "Address incomplete, driver will call" in kk
    # Delivered: the time instead of the estimate.
    services.record_tracking_events(
        order.order_updates_shipments.get(carrier_name="Kurier Kowalski"),
        [
            services.Scan(
                occurred_at=datetime.datetime(2026, 12, 3, 10, tzinfo=UTC),
                status="delivered",
                location="Berlin",
            )
        ],
        notify=False,
    )
    content = alice_client.get(
        reverse("order_updates:order", args=[number_of(order)])
    ).content.decode()
    kk = shipment_html(content, "Kurier Kowalski")
    assert re.search(r"<dt>Delivered</dt><dd><time[^>]*>Dec\. 3, 2026", kk)
    assert "Estimated delivery" not in kk


def test_carrier_news_reads_as_words_on_the_timeline(alice_client, alice, make_order):
    order = make_order(user=alice)
    ship(order)
    url = reverse("order_updates:order", args=[number_of(order)])
    parcel_with_everything(order)  # an estimate, then a scan: address problem
    content = alice_client.get(url).content.decode()
    timeline = content[content.index('class="ou-timeline') :]
    assert "Message from us" not in timeline
    assert "New estimated delivery: between Dec. 2, 2026 and Dec. 4, 2026" in timeline
    assert "Parcel: Delivery problem (Address problem)" in timeline
    # The carrier's problem asks the customer to act, until the parcel moves on.
    assert 'role="alert"' in content
    assert (
        "Parcel: Delivery problem (Address problem)"
        in content[content.index('role="alert"') : content.index("</section>")]
    )
    shipment = order.order_updates_shipments.get(carrier_name="Kurier Kowalski")
    scan_shipment(shipment, 1, start=datetime.datetime(2026, 12, 2, tzinfo=UTC))
    content = alice_client.get(url).content.decode()
    assert 'role="alert"' not in content
    assert "Parcel: In transit" in content


def test_a_known_carriers_further_numbers_link_to_its_page(
    alice_client, alice, make_order
):
    order = make_order(user=alice)
    services.add_shipment(
        order, carrier="ups", tracking_number="1ZA", more_tracking_numbers=["1ZB"]
    )
    content = alice_client.get(
        reverse("order_updates:order", args=[number_of(order)])
    ).content.decode()
    links = re.findall(r'<a class="ou-shipment__number" href="([^"]+)"', content)
    assert len(links) == 2 and "1ZA" in links[0] and "1ZB" in links[1]
    assert links[0].startswith("https://")


def order_row(content, order):
    start = content.index('id="order-%s"' % number_of(order))
    end = content.find('class="ou-card ou-order"', start)
    return content[start : end if end != -1 else len(content)]


def test_my_orders_shows_the_estimated_delivery(alice_client, alice, make_order):
    waiting, arrived = make_order(user=alice), make_order(user=alice)
    ship(waiting)
    services.set_estimated_delivery(
        waiting.order_updates_shipments.get(), datetime.date(2026, 12, 2)
    )
    shipment = parcel_with_everything(arrived)
    content = alice_client.get(reverse("order_updates:my_orders")).content.decode()
    row = order_row(content, waiting)
    assert re.search(
        r'class="ou-order__estimate">Estimated delivery: <time[^>]*>Dec\. 2', row
    )
    assert "between Dec. 2, 2026 and Dec. 4, 2026" in order_row(content, arrived)
    scan_shipment(
        shipment,
        1,
        status="delivered",
        start=datetime.datetime(2026, 12, 3, tzinfo=UTC),
    )
    content = alice_client.get(reverse("order_updates:my_orders")).content.decode()
    assert "Estimated delivery" not in order_row(content, arrived)
    # Two parcels on their way: from the first one's earliest day to the last
    # one's latest.
    services.add_shipment(
        waiting,
        carrier="dhl",
        tracking_number="JD-LATE",
        estimated_delivery=(datetime.date(2026, 12, 5), datetime.date(2026, 12, 6)),
    )
    content = alice_client.get(reverse("order_updates:my_orders")).content.decode()
    assert "between Dec. 2, 2026 and Dec. 6, 2026" in order_row(content, waiting)


@pytest.mark.skipif(
    settings.ORDER_UPDATES_ORDER_MODEL != "plainshop.Order",
    reason="only plainshop's orders have shipping and discount fields",
)
def test_order_page_summary_adds_up_as_in_the_emails(alice_client, alice, make_order):
    order = make_order(
        user=alice,
        shipping_total=Decimal("5"),
        discount_total=Decimal("2.5"),
    )
    type(order).objects.filter(pk=order.pk).update(total=Decimal("45.00"))
    services.start_tracking(order)
    response = alice_client.get(reverse("order_updates:order", args=[number_of(order)]))
    rows = re.findall(
        r'<th scope="row" colspan="2">([^<]+)</th><td[^>]*>([^<]+)</td>',
        response.content.decode(),
    )
    assert rows == [
        ("Subtotal", "€42.50"),
        ("Shipping", "€5.00"),
        ("Discount", "-€2.50"),
        ("Total", "€45.00"),
    ]


def test_order_page_says_what_to_do_after_a_failed_delivery(
    alice_client, alice, make_order
):
    order = make_order(user=alice)
    ship(order)
    url = reverse("order_updates:order", args=[number_of(order)])
    assert "could not be delivered" not in alice_client.get(url).content.decode()
    services.report_delivery_issue(
        order, "exception", message="Nobody was home; the parcel is at the depot."
    )
    content = alice_client.get(url).content.decode()
    assert 'role="alert"' in content
    assert "Your parcel could not be delivered" in content
    assert "Nobody was home" in content
    # Delivered since: nothing left to do.
    services.set_status(order, "delivered")
    assert "could not be delivered" not in alice_client.get(url).content.decode()


def test_order_page_of_an_order_on_hold_shows_how_far_it_came(
    alice_client, alice, make_order
):
    order = make_order(user=alice)
    services.start_tracking(order)
    services.set_status(order, "processing")
    services.set_status(order, "on_hold")
    content = alice_client.get(
        reverse("order_updates:order", args=[number_of(order)])
    ).content.decode()
    assert "Not on the usual way: On hold." in content
    assert content.count("ou-step ou-step--done") == 2
    assert 'aria-current="step"' not in content


def test_no_one_reaches_another_customers_order(client, alice, bob, make_order):
    order = make_order(user=alice)
    services.start_tracking(order)
    client.force_login(bob)
    url = reverse("order_updates:order", args=[number_of(order)])
    assert client.get(url).status_code == 404
    assert (
        client.get(reverse("order_updates:order", args=["NO-SUCH"])).status_code == 404
    )
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


def test_order_page_query_count_does_not_grow(alice_client, alice, make_order):
    order = make_order(user=alice)
    ship(order, scans=1)
    url = reverse("order_updates:order", args=[number_of(order)])
    few, _response = count_queries(alice_client, url)
    for index in range(20):
        services.add_note(order, "Update %d" % index)
    scan_shipment(order.order_updates_shipments.get(), 5)
    more_parcels(order, 3, scans=4)
    many, response = count_queries(alice_client, url)
    content = response.content.decode()
    assert "Update 19" in content
    assert content.count('class="ou-scan"') == 1 + 5 + 3 * 4
    assert content.count('class="ou-shipment__number"') == 1 + 3 * 2
    assert few == many
    # Session, user, the order with its state, then in one round trip on
    # PostgreSQL: the events, the shipments with their tracking numbers, the
    # scans, the time zone and the order's lines.
    assert many == (8, round_trips(on_sqlite=8, on_postgresql=4))


class PrefetchingAdapter(DefaultOrderAdapter):
    """A shop that prefetches its lines its own way."""

    def with_items(self, queryset):
        return (
            super()
            .with_items(queryset)
            .prefetch_related(
                Prefetch(self.order_fields["items"], to_attr="prefetched_lines")
            )
        )


def test_order_page_leaves_a_shops_own_line_prefetching_alone(
    alice_client, alice, make_order, settings
):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ADAPTER": "tests.test_customer_pages.PrefetchingAdapter",
    }
    order = make_order(user=alice)
    ship(order)
    url = reverse("order_updates:order", args=[number_of(order)])
    with CaptureQueriesContext(connection) as captured:
        response = alice_client.get(url)
    assert response.status_code == 200
    assert hasattr(response.context["detail"].order, "prefetched_lines")
    lines = response.context["detail"].items
    assert lines and all(line["name"] in response.content.decode() for line in lines)
    # The shop's prefetch: the lines twice (its own and the manager's), as
    # prefetch_related() reads them, and nothing per line.
    assert statements(captured) == 9


def test_order_page_lines_read_with_the_other_reads_know_their_order(
    alice_client, alice, make_order
):
    order = make_order(user=alice)
    ship(order)
    response = alice_client.get(reverse("order_updates:order", args=[number_of(order)]))
    detail = response.context["detail"]
    items = DefaultOrderAdapter().order_fields["items"]
    lines = list(getattr(detail.order, items).all())
    assert len(lines) == len(detail.items) > 0
    foreign_key = detail.order._meta.get_field(items).field.name
    with CaptureQueriesContext(connection) as captured:
        owners = {getattr(line, foreign_key) for line in lines}
    assert owners == {detail.order} and len(captured) == 0


# The tracking page -------------------------------------------------------------------


def test_tracking_page_by_signed_link_shows_no_personal_data(client, make_order):
    order = make_order(email="ada.private@example.com")
    ship(order)
    response = client.get(tracking_url(order))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Order %s" % number_of(order) in content
    assert "1Z999AA10123456784" in content
    assert "ada.private@example.com" not in content
    assert "Ada Lovelace" not in content
    assert "Mug" not in content  # no order lines either
    # Each parcel's tracking as on the order page, but not what is in it.
    parcel_with_everything(order)
    content = client.get(tracking_url(order)).content.decode()
    kk = shipment_html(content, "Kurier Kowalski")
    assert "KK-2" in kk and "between Dec. 2, 2026 and Dec. 4, 2026" in kk
    assert "Address incomplete" in kk and "Delivery problem" in kk
    assert "Mug" not in content and "In this parcel" not in content
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-cache" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex"


def test_tracking_page_query_count(client, make_order):
    order = make_order()
    ship(order, scans=1)
    url = tracking_url(order)
    few, _response = count_queries(client, url)
    ship_more = order.order_updates_shipments.get()
    scan_shipment(ship_more, 10)
    more_parcels(order, 3, scans=4)
    many, response = count_queries(client, url)
    assert response.content.decode().count('class="ou-scan"') == 1 + 10 + 3 * 4
    # The order with its state row, the events, the shipments with their
    # tracking numbers, the scans (the last three in one round trip on
    # PostgreSQL).
    assert few == many == (4, round_trips(on_sqlite=4, on_postgresql=2))


def test_tampered_expired_and_foreign_tokens_are_404(client, make_order, settings):
    order = make_order()
    ship(order)
    other = make_order()
    url = tracking_url(order)
    token = url.rstrip("/").rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert (
        client.get(reverse("order_updates:tracking", args=[tampered])).status_code
        == 404
    )
    assert (
        client.get(reverse("order_updates:tracking", args=["x" * 2000])).status_code
        == 404
    )
    # A token for an order without tracking (no state row): 404 too.
    untracked = reverse("order_updates:tracking", args=[make_tracking_token(other.pk)])
    assert client.get(untracked).status_code == 404
    missing = reverse("order_updates:tracking", args=[make_tracking_token(10**9)])
    assert client.get(missing).status_code == 404
    # A preference token is not a tracking token (different salt).
    from order_updates.notifications.links import make_token

    pref = make_token(email="a@example.com")
    assert client.get(reverse("order_updates:tracking", args=[pref])).status_code == 404
    later = datetime.datetime.now(tz=UTC) + datetime.timedelta(days=91)
    with time_machine.travel(later):
        assert client.get(url).status_code == 404
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "TRACKING_LINK_MAX_AGE": None}
    with time_machine.travel(later):
        assert client.get(url).status_code == 200


def test_tracking_tokens_are_short_and_carry_any_kind_of_key(settings):
    token = make_tracking_token(1001, 3)
    assert len(token) <= 30 and ":" not in token  # fits an SMS with its text
    assert read_tracking_token(token) == TrackingToken(order_pk=1001, version=3)
    key = uuid.UUID("6f1c2a9e-0b7d-4c55-9a57-3f2d1e8b9c01")
    assert read_tracking_token(make_tracking_token(key)).order_pk == key
    for text in ("2026/000123", "Nº 77 ü", "1001", ""):
        assert read_tracking_token(make_tracking_token(text)).order_pk == text
    # A key rotated into SECRET_KEY_FALLBACKS still opens the links made with it.
    made_before = make_tracking_token(7)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "another-secret-key-" * 3
    assert read_tracking_token(made_before).order_pk == 7
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(signing.BadSignature):
        read_tracking_token(made_before)
    token = make_tracking_token(1001)
    pk, version, made, signature = token.split(".")
    forged = [
        ".".join([pk, "1", made, signature]),  # another link version
        ".".join(["G8", version, made, signature]),  # another order
        ".".join([pk, version, "1", signature]),  # another date
        token[:-1],
        token.replace(".", ":"),
        "",
        ".",
        "...",
        "x" * 30,
    ]
    for bad in forged:
        with pytest.raises(signing.BadSignature):
            read_tracking_token(bad)


def test_revoking_links_makes_old_ones_404_and_new_ones_work(client, make_order):
    order = make_order()
    ship(order)
    old = tracking_url(order)
    assert client.get(old).status_code == 200
    assert services.revoke_tracking_links(order) == 1
    assert client.get(old).status_code == 404
    new = tracking_url(order)
    assert new != old
    assert client.get(new).status_code == 200
    assert services.revoke_tracking_links(make_order()) == 0  # untracked: nothing


# The lookup form ---------------------------------------------------------------------


def lookup(client, number, secret, **extra):
    return client.post(
        reverse("order_updates:lookup"), {"number": number, "secret": secret}, **extra
    )


def test_lookup_by_number_and_email_ignores_case(client, make_order):
    order = make_order(email="Ada@Example.com")
    ship(order)
    response = lookup(client, "  %s " % number_of(order).lower(), "ADA@example.COM ")
    assert response.status_code == 302
    assert_opens_tracking_page(response["Location"], order)
    assert client.get(response["Location"]).status_code == 200


class PostcodeAdapter(DefaultOrderAdapter):
    def get_postcode(self, order):
        return "SW1Y 4JH"


def test_lookup_by_postcode(client, make_order, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ADAPTER": "tests.test_customer_pages.PostcodeAdapter",
    }
    order = make_order()
    ship(order)
    response = lookup(client, number_of(order), "sw1y4jh")
    assert_opens_tracking_page(response["Location"], order)
    assert lookup(client, number_of(order), "SW1Y 4JX").status_code == 200


def postcode_by_field(settings):
    """Map ``shipping_postcode`` to the order number's field: then the order
    number, typed as the postcode, finds the order.
    """
    fields = settings.ORDER_UPDATES.get("ORDER_FIELDS", {})
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ORDER_FIELDS": {
            **fields,
            "shipping_postcode": fields.get("number", "number"),
        },
    }


def postcode_by_adapter(settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ADAPTER": "tests.test_customer_pages.PostcodeAdapter",
    }


def test_lookup_without_a_postcode_asks_for_the_email_address_only(client, make_order):
    order = make_order(email="ada@example.com")
    ship(order)
    page = client.get(reverse("order_updates:lookup"))
    content = page.content.decode()
    assert page.context["form"].postcode is False
    assert (
        "Enter your order number and the email address you ordered with.</p>" in content
    )
    assert ">Email address:</label>" in content
    assert "The email address you ordered with.</div>" in content
    field = re.search(r'<input[^>]*name="secret"[^>]*>', content)[0]
    assert 'type="email"' in field
    assert 'autocomplete="email"' in field
    assert "postcode" not in content.lower()

    # The number, typed where a postcode would go: no postcode to match.
    response = lookup(client, number_of(order), number_of(order))
    assert response.status_code == 200
    not_found = response.content.decode()
    assert "Please check the order number and the email address.</p>" in not_found
    assert "postcode" not in not_found.lower()
    assert lookup(client, number_of(order), "ada@example.com").status_code == 302


@pytest.mark.parametrize("configure", [postcode_by_field, postcode_by_adapter])
def test_lookup_with_a_postcode_offers_it(client, make_order, settings, configure):
    configure(settings)
    page = client.get(reverse("order_updates:lookup"))
    content = page.content.decode()
    assert page.context["form"].postcode is True
    assert (
        "Enter your order number and the email address you ordered with, "
        "or your delivery postcode.</p>" in content
    )
    assert ">Email address or delivery postcode:</label>" in content
    assert (
        "The email address you ordered with, or your delivery postcode.</div>"
        in content
    )
    field = re.search(r'<input[^>]*name="secret"[^>]*>', content)[0]
    assert 'type="text"' in field
    assert 'maxlength="254"' in field
    response = lookup(client, "NO-SUCH-1", "SW1Y 4JH")
    assert response.status_code == 200
    assert (
        "Please check the order number and the email address or postcode.</p>"
        in response.content.decode()
    )


def test_lookup_by_a_postcode_field(client, make_order, settings):
    order = make_order()
    ship(order)
    # Not mapped: the postcode field's value finds nothing.
    assert lookup(client, number_of(order), number_of(order)).status_code == 200
    postcode_by_field(settings)
    response = lookup(client, number_of(order), " %s " % number_of(order).lower())
    assert_opens_tracking_page(response["Location"], order)


class NoPostcodeAdapter(PostcodeAdapter):
    def has_postcode(self):
        return False


def test_an_adapter_without_a_postcode_is_not_matched_by_it(
    client, make_order, settings
):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ADAPTER": "tests.test_customer_pages.NoPostcodeAdapter",
    }
    order = make_order()
    ship(order)
    response = lookup(client, number_of(order), "SW1Y 4JH")
    assert response.status_code == 200
    assert "postcode" not in response.content.decode().lower()


def test_lookup_answers_the_same_whether_or_not_the_order_exists(client, make_order):
    order = make_order(email="ada@example.com")
    ship(order)
    untracked = make_order(email="ben@example.com")

    def page(number, secret):
        response = lookup(client, number, secret)
        assert response.status_code == 200
        body = response.content.decode()
        # The CSRF token and the typed values differ; nothing else may.
        body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
        return body.replace(number, "N").replace(secret, "S")

    wrong_email = page(number_of(order), "eve@example.com")
    no_order = page("NO-SUCH-1", "eve@example.com")
    not_tracked = page(number_of(untracked), "ben@example.com")
    assert "We could not find an order with these details" in wrong_email
    assert wrong_email == no_order == not_tracked


def test_lookup_form_errors(client):
    response = lookup(client, "", "")
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()


def test_lookup_is_rate_limited_per_order_number(client, make_order, settings):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "LOOKUP_MAX_ATTEMPTS_PER_ORDER": 3,
    }
    order = make_order(email="ada@example.com")
    ship(order)
    number = number_of(order)
    for index in range(3):
        # From different addresses: the order number's own limit applies.
        address = "10.0.0.%d" % index
        assert (
            lookup(client, number, "x@example.com", REMOTE_ADDR=address).status_code
            == 200
        )
    response = lookup(client, number.lower(), "ada@example.com", REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert response["Retry-After"] == "900"
    # Another order is not affected.
    other = make_order(email="ben@example.com")
    ship(other)
    assert lookup(client, number_of(other), "ben@example.com").status_code == 302


def test_lookup_is_rate_limited_per_client_address(client, make_order, settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "LOOKUP_MAX_ATTEMPTS_PER_IP": 4}
    for index in range(4):
        assert lookup(client, "GUESS-%d" % index, "a@example.com").status_code == 200
    assert lookup(client, "GUESS-9", "a@example.com").status_code == 429
    other_client = lookup(client, "GUESS-9", "a@example.com", REMOTE_ADDR="10.1.1.1")
    assert other_client.status_code == 200
    # The window passes: allowed again.
    later = datetime.datetime.now(tz=UTC) + datetime.timedelta(minutes=16)
    with time_machine.travel(later):
        assert lookup(client, "GUESS-10", "a@example.com").status_code == 200


# Template tags -----------------------------------------------------------------------


def test_template_tags_draw_the_parts_of_a_shops_own_page(make_order):
    order = make_order()
    ship(order)
    services.add_note(order, "Engraved.")
    template = Template(
        "{% load order_updates %}"
        "{% order_status order %}|{% order_progress order %}|"
        "{% order_timeline order %}|{% order_shipments order %}|"
        "{{ total|order_updates_money:'EUR' }}"
    )
    html = template.render(Context({"order": order, "total": "105.5"}))
    status, progress, timeline, shipments, money = html.split("|")
    assert 'data-status="shipped"' in status and "Your order is on its way." in status
    assert 'aria-current="step"' in progress and "On its way" in progress
    assert timeline.index("Engraved.") < timeline.index("Parcel handed to UPS")
    assert "1Z999AA10123456784" in shipments and "UPS" in shipments
    assert money == "€105.50"


def test_order_updates_time_is_one_time_element_in_the_pages_zone_and_language():
    from django.utils import timezone, translation

    moment = datetime.datetime(2026, 11, 2, 23, 30, tzinfo=UTC)
    template = Template(
        "{% load order_updates %}{{ moment|order_updates_time }}|"
        '{{ moment|order_updates_time:"DATE_FORMAT" }}|'
        '{{ day|order_updates_time:"DATE_FORMAT" }}|{{ nothing|order_updates_time }}|'
        "{{ text|order_updates_time }}"
    )
    values = {"moment": moment, "day": datetime.date(2026, 12, 10), "nothing": None}
    with translation.override("de"), timezone.override("Europe/Berlin"):
        html = template.render(Context({**values, "text": "<b>soon</b>"}))
    full, date, day, nothing, text = html.split("|")
    # 23:30 UTC is already the 3rd in Berlin: the machine form says the same.
    assert (
        full
        == '<time datetime="2026-11-03T00:30:00+01:00">3. November 2026 00:30</time>'
    )
    assert date == '<time datetime="2026-11-03T00:30:00+01:00">3. November 2026</time>'
    assert day == '<time datetime="2026-12-10">10. Dezember 2026</time>'
    assert nothing == "" and text == ""


def test_template_tags_on_an_untracked_order(make_order):
    html = Template(
        "{% load order_updates %}{% order_status order %}{% order_progress order %}"
        "{% order_timeline order %}{% order_shipments order %}"
    ).render(Context({"order": make_order()}))
    assert "Not tracked yet" in html
    assert "No updates yet." in html
    assert "ou-steps" not in html and "ou-shipments" not in html


def test_order_updates_part_renders_with_its_values_alone():
    from django.utils import translation

    from order_updates.core.progress import get_progress

    template = Template(
        "{% load i18n order_updates %}{% for p in progress %}"
        '{% order_updates_part "order_updates/customer/status.html" progress=p '
        "compact=True %}{% endfor %}"
        "{% language 'de' %}"
        '{% order_updates_part "order_updates/customer/status.html" progress=p '
        "compact=True %}{% endlanguage %}"
        '{% order_updates_part "order_updates/customer/status.html" progress=odd %}'
    )
    shipped = get_progress("shipped")
    with translation.override("en"):
        html = template.render(
            Context(
                {
                    "progress": [shipped, get_progress("shipped"), None],
                    "p": shipped,
                    "odd": [],  # cannot be a dict key: drawn all the same
                    "summary": "not for the part",
                }
            )
        )
    assert html.count('data-status="shipped">Shipped<') == 2
    assert html.count("Not tracked yet") == 2
    assert 'data-status="shipped">Versandt<' in html
    assert "not for the part" not in html


# System checks -----------------------------------------------------------------------


def check_ids(settings, **changes):
    from order_updates.checks import check_customer_pages

    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, **changes}
    return [message.id for message in check_customer_pages()]


def test_checks_pass_as_configured(settings):
    assert check_ids(settings) == []
    assert check_ids(settings, TRACKING_LINK_MAX_AGE=None) == []


def test_e012_base_template_missing(settings):
    from order_updates.checks import check_customer_pages

    assert check_ids(settings, BASE_TEMPLATE="no/such/base.html") == [
        "order_updates.E012"
    ]
    (message,) = check_customer_pages()
    assert "'no/such/base.html'" in message.msg
    assert "order_updates/standalone.html" in message.hint


def templates_in_memory(settings, templates):
    """The test settings' templates, with ``templates`` (name: source) first."""
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "APP_DIRS": False,
            "OPTIONS": {
                **settings.TEMPLATES[0]["OPTIONS"],
                "loaders": [
                    ("django.template.loaders.locmem.Loader", templates),
                    "django.template.loaders.app_directories.Loader",
                ],
            },
        }
    ]


def docs_override():
    """The override of order_updates/base.html that docs/customer_pages.rst shows."""
    page = Path(__file__).parent.parent / "docs" / "customer_pages.rst"
    if not page.exists():
        pytest.skip("docs/ is not beside tests/ here (tox dist)")
    text = page.read_text()
    block = text.split(".. code:: html+django\n\n", 1)[1].split("\n\n", 1)[0]
    return textwrap.dedent(block)


OTHER_LAYOUT = (
    "<html><head><title>{% block head_title %}{% endblock %}</title></head>"
    "<body>SHOP-HEADER {% block body %}{% endblock %} SHOP-FOOTER</body></html>"
)


def test_e025_w028_a_layout_without_the_pages_blocks(settings, client):
    from order_updates.checks import check_customer_pages

    templates_in_memory(settings, {"shop/layout.html": OTHER_LAYOUT})
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "BASE_TEMPLATE": "shop/layout.html",
    }
    found = {message.id: message for message in check_customer_pages()}
    assert set(found) == {"order_updates.E025", "order_updates.W028"}
    blank, untitled = found["order_updates.E025"], found["order_updates.W028"]
    assert "fills the block 'content', which its layout shop/layout.html" in (blank.msg)
    assert "every page is blank" in blank.msg
    assert "its blocks: body, head_title" in blank.hint
    assert "'title'" in untitled.msg
    # What the check warns of: the page answers 200 with nothing of its own.
    page = client.get(reverse("order_updates:lookup"))
    assert page.status_code == 200
    assert page.content.decode() == (
        "<html><head><title></title></head><body>SHOP-HEADER  SHOP-FOOTER</body></html>"
    )


def test_the_documented_override_fills_the_layouts_blocks(settings, client):
    from order_updates.checks import check_customer_pages

    templates_in_memory(
        settings,
        {"shop/layout.html": OTHER_LAYOUT, "order_updates/base.html": docs_override()},
    )
    assert check_customer_pages() == []
    html = client.get(reverse("order_updates:lookup")).content.decode()
    assert "<title>Track your order" in html
    assert "order_updates/customer.css" in html and 'class="ou-page"' in html
    assert 'name="number"' in html


def test_an_override_that_names_its_layout_needs_no_base_template(settings, client):
    # The documented override extends the shop's layout by name: the default
    # BASE_TEMPLATE ("base.html") need not exist, and is not an error.
    from order_updates.checks import check_customer_pages

    templates_in_memory(
        settings,
        {"shop/layout.html": OTHER_LAYOUT, "order_updates/base.html": docs_override()},
    )
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "BASE_TEMPLATE": "no/such/base.html",
    }
    assert check_customer_pages() == []
    html = client.get(reverse("order_updates:lookup")).content.decode()
    assert "SHOP-HEADER" in html and 'name="number"' in html


def test_e025_w028_an_override_without_the_pages_blocks(settings, client):
    # An override that fills the layout's blocks with blocks of the wrong
    # names ("title", "content"): every page answers 200, with nothing in it.
    from order_updates.checks import check_customer_pages

    templates_in_memory(
        settings,
        {
            "shop/layout.html": OTHER_LAYOUT,
            "order_updates/base.html": '{% extends "shop/layout.html" %}'
            "{% block head_title %}{% block title %}{% endblock %}{% endblock %}"
            "{% block body %}{% block content %}{% endblock %}{% endblock %}",
        },
    )
    found = {message.id: message for message in check_customer_pages()}
    assert set(found) == {"order_updates.E025", "order_updates.W028"}
    blank = found["order_updates.E025"]
    assert "has no block 'order_updates_content'" in blank.msg
    assert "every page is blank" in blank.msg
    assert "{% block order_updates_content %}" in blank.hint
    page = client.get(reverse("order_updates:lookup")).content.decode()
    assert page == (
        "<html><head><title></title></head><body>SHOP-HEADER  SHOP-FOOTER</body></html>"
    )


def test_blocks_of_the_layouts_own_parents_count(settings):
    from order_updates.checks import check_customer_pages

    templates_in_memory(
        settings,
        {
            "root.html": "{% block title %}{% endblock %}{% block content %}"
            "{% endblock %}",
            "shop/layout.html": '{% extends "root.html" %}{% block content %}'
            "{{ block.super }}{% endblock %}",
            "shop/unknown.html": "{% extends layout_name %}",
        },
    )
    for layout in ("shop/layout.html", "shop/unknown.html"):  # unknown: unchecked
        settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "BASE_TEMPLATE": layout}
        assert check_customer_pages() == [], layout


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MY_ORDERS_PAGE_SIZE", 0),
        ("LOOKUP_MAX_ATTEMPTS_PER_IP", "20"),
        ("LOOKUP_MAX_ATTEMPTS_PER_ORDER", -1),
        ("LOOKUP_WINDOW_SECONDS", None),
        ("TRACKING_LINK_MAX_AGE", 0),
        ("LOOKUP_CACHE", "nowhere"),
    ],
)
def test_e013_bad_numbers_and_cache(settings, key, value):
    assert check_ids(settings, **{key: value}) == ["order_updates.E013"]


def test_an_empty_lookup_post_is_a_bad_request_with_errors(client):
    response = client.post(reverse("order_updates:lookup"))
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_my_orders_cards_hold_their_state_rows_as_if_joined(
    alice, make_order, django_assert_num_queries
):
    """customer_orders() leaves the state rows out of the shop's query and
    summaries() reads them beside its other reads: a card's order then holds its
    state row (or the lack of one) without a query of its own."""
    from order_updates.customer import data

    shipped, untracked = make_order(user=alice), make_order(user=alice)
    ship(shipped)
    orders = list(data.customer_orders(alice))
    with CaptureQueriesContext(connection) as reads:
        cards, _zone = data.summaries(orders)
    assert statements(reads) == 2  # the state rows, the latest events
    by_pk = {card.order.pk: card for card in cards}
    with django_assert_num_queries(0):
        assert by_pk[shipped.pk].order.order_updates_state.status == "shipped"
        with pytest.raises(OrderState.DoesNotExist):
            by_pk[untracked.pk].order.order_updates_state  # noqa: B018
    assert by_pk[untracked.pk].progress is None
