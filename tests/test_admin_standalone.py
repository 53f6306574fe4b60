"""The standalone "order statuses" page, for shops that keep their order admin
as it is (tests/standalone_admin.py registers it)."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from order_updates import services
from order_updates.conf import get_order_model
from order_updates.core.adapter import get_adapter
from order_updates.models import EventKind, OrderEvent, OrderState

pytestmark = pytest.mark.urls("tests.standalone_admin")


def url(name, *args):
    return reverse("admin:order_updates_orderstate_%s" % name, args=args)


@pytest.fixture
def merchant(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def orders(make_order):
    ada = make_order(email="ada@example.com")
    bob = make_order(email="bob@example.org")
    services.start_tracking(ada)
    services.start_tracking(bob)
    services.set_status(bob, "confirmed")
    return ada, bob


def test_lists_tracked_orders_with_number_email_and_status(merchant, orders):
    ada, bob = orders
    adapter = get_adapter()
    html = merchant.get(url("changelist")).content.decode()
    assert adapter.get_number(ada) in html and "ada@example.com" in html
    assert ">Placed<" in html and ">Confirmed<" in html
    found = merchant.get(url("changelist"), {"q": "bob@example"}).content.decode()
    assert adapter.get_number(bob) in found and adapter.get_number(ada) not in found
    found = merchant.get(
        url("changelist"), {"order_updates_status": "placed"}
    ).content.decode()
    assert adapter.get_number(ada) in found and adapter.get_number(bob) not in found


def test_late_filter_on_the_standalone_page(merchant, orders):
    import datetime

    from django.utils import timezone

    ada, bob = orders
    services.add_shipment(
        ada,
        carrier="ups",
        estimated_delivery=timezone.localdate() - datetime.timedelta(days=2),
    )
    services.add_shipment(bob, carrier="ups", estimated_delivery=timezone.localdate())
    adapter = get_adapter()
    found = merchant.get(
        url("changelist"), {"order_updates_shipments": "late"}
    ).content.decode()
    assert adapter.get_number(ada) in found and adapter.get_number(bob) not in found


def test_change_status_from_the_standalone_page(merchant, orders):
    ada, _bob = orders
    state = OrderState.objects.get(order_id=ada.pk)
    page = merchant.get(url("change", state.pk)).content.decode()
    assert 'id="order-updates-status">Placed<' in page
    assert 'name="_save"' not in page  # the row itself is never edited
    assert "deletelink" not in page
    response = merchant.post(
        url("order_updates_status", state.pk),
        {"status": "cancelled", "current": "placed", "_confirm": "1"},
    )
    assert response.status_code == 302
    assert response["Location"] == url("change", state.pk)
    event = OrderEvent.objects.get(order_id=ada.pk, kind=EventKind.STATUS_CHANGED)
    assert (event.to_status, event.actor_user) == ("cancelled", merchant.user)


def test_bulk_from_the_standalone_page(merchant, orders):
    states = list(OrderState.objects.values_list("pk", flat=True))
    form = {
        "action": "order_updates_set_status",
        "_selected_action": states,
        "select_across": "0",
        "status": "on_hold",
    }
    review = merchant.post(url("changelist"), {**form, "order_updates_step": "review"})
    selection = re.search(
        r'name="order_updates_selection" value="(\w+)"', review.content.decode()
    ).group(1)
    response = merchant.post(
        url("changelist"),
        {
            **form,
            "order_updates_step": "confirm",
            "order_updates_selection": selection,
        },
        follow=True,
    )
    assert "2 orders set to “On hold”." in response.content.decode()
    assert set(OrderState.objects.values_list("status", flat=True)) == {"on_hold"}


def test_orders_stay_deletable_and_state_rows_are_not(
    client, django_user_model, orders
):
    ada, _bob = orders
    opts = get_order_model()._meta
    user = django_user_model.objects.create_user("clerk", "", "pw", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label=opts.app_label,
            codename="delete_%s" % opts.model_name,
        ),
        Permission.objects.get(codename="view_orderstate"),
        # The order's messages go with it: the log asks for its own permission.
        Permission.objects.get(codename="delete_notification"),
    )
    client.force_login(user)
    state = OrderState.objects.get(order_id=ada.pk)
    assert client.post(url("delete", state.pk), {"post": "yes"}).status_code == 403
    listing = client.get(url("changelist")).content.decode()
    assert "delete_selected" not in listing
    delete = reverse(
        "admin:%s_%s_delete" % (opts.app_label, opts.model_name), args=[ada.pk]
    )
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not OrderState.objects.filter(pk=state.pk).exists()


def test_the_list_costs_no_query_per_row(merchant, make_order, orders):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert merchant.get(url("changelist")).status_code == 200
        return len(captured)

    queries()
    few = queries()
    for _ in range(10):
        services.start_tracking(make_order())
    assert queries() == few
