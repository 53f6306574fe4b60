"""The default adapter reads both shop shapes; a custom one overrides methods."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from phonenumber_field.phonenumber import PhoneNumber

from order_updates import services
from order_updates.core.adapter import DefaultOrderAdapter, get_adapter
from order_updates.exceptions import OrderUpdatesConfigurationError
from tests.testapps.customershop.models import Customer


@pytest.fixture
def customer(django_user_model):
    return django_user_model.objects.create_user(
        "ada", "account@example.com", "pw", first_name="Ada", last_name="Lovelace"
    )


def test_reads_the_order(make_order, customer, settings):
    order = make_order(
        user=customer, email="ada@example.com", phone="+4930901820", language="de"
    )
    adapter = get_adapter()
    expected_number = (
        order.reference if settings.TEST_SHOP == "customershop" else (order.number)
    )
    assert adapter.get_number(order) == expected_number
    assert adapter.get_order_by_number(expected_number) == order
    assert adapter.get_order_by_number("does-not-exist") is None
    assert adapter.get_user(order) == customer
    assert adapter.get_email(order) == "ada@example.com"
    assert adapter.get_phone(order) == "+4930901820"
    assert adapter.get_language(order) == "de"
    assert adapter.get_customer_name(order) == "Ada Lovelace"


def test_orders_a_user_may_see(make_order, customer, django_user_model):
    mine = [make_order(user=customer), make_order(user=customer)]
    make_order()  # a guest's
    other = django_user_model.objects.create_user("bob", "bob@example.com", "pw")
    make_order(user=other)
    adapter = get_adapter()
    assert set(adapter.get_orders_for_user(customer)) == set(mine)
    assert list(adapter.get_orders_for_user(AnonymousUser())) == []


def test_guest_order_falls_back_to_defaults(make_order, settings):
    order = make_order(email="guest@example.com", language="")
    adapter = get_adapter()
    assert adapter.get_user(order) is None
    assert adapter.get_phone(order) == ""
    assert adapter.get_language(order) == settings.LANGUAGE_CODE


def test_notification_context_is_plain_data(make_order, settings):
    order = make_order(email="ada@example.com")
    context = get_adapter().get_notification_context(order)
    assert context["email"] == "ada@example.com"
    assert context["total"] == "42.50"
    assert context["created"] is not None
    # plainshop's lines know their unit price, customershop's their total: the
    # other is derived, so both give the same lines.
    assert context["items"] == [
        {
            "name": "Mug",
            "quantity": 2,
            "unit_price": "10.00",
            "line_total": "20.00",
            "price": "10.00",
            "sku": None,
        },
        {
            "name": "Tea",
            "quantity": 1,
            "unit_price": "22.50",
            "line_total": "22.50",
            "price": "22.50",
            "sku": None,
        },
    ]
    assert context["subtotal"] == "42.50"
    if settings.TEST_SHOP == "plainshop":
        assert context["currency"] == "EUR"
    else:
        assert context["currency"] == ""
        assert context["customer_name"] == "Ada Lovelace"

    def is_plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and is_plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(is_plain(v) for v in value)
        return not hasattr(value, "_meta")  # never a model instance

    assert is_plain(context)


def test_amounts_in_minor_units(make_order, settings):
    """With AMOUNTS_IN_MINOR_UNITS, the same order stored in cents gives the
    same plain data as in units: messages, pages and the API see units."""
    from django.db.models import F

    order = make_order(email="ada@example.com")
    units = get_adapter().get_notification_context(order)
    adapter = get_adapter()
    # Every amount the shop's model stores, times 100.
    model = type(order)
    amounts = [
        path
        for name, path in adapter.order_fields.items()
        if name in ("total", "subtotal", "shipping", "discount", "tax") and path
    ]
    model.objects.filter(pk=order.pk).update(**{p: F(p) * 100 for p in amounts})
    lines = adapter.field(order, "items")
    line_paths = [
        path
        for name, path in adapter.item_fields.items()
        if name in ("unit_price", "line_total") and path
    ]
    lines.model.objects.filter(pk__in=[line.pk for line in lines.all()]).update(
        **{p: F(p) * 100 for p in line_paths}
    )
    order = model.objects.get(pk=order.pk)
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "AMOUNTS_IN_MINOR_UNITS": True}
    cents = get_adapter().get_notification_context(order)
    assert cents["total"] == "42.50"
    assert cents["items"] == units["items"]
    assert {key: cents[key] for key in units} == units


@pytest.mark.parametrize(
    "value, currency, units",
    [
        (2740, "EUR", "27.40"),
        ("2740", "eur", "27.40"),
        (Decimal("4250.00"), "EUR", "42.50"),  # not 42.5000
        (Decimal("1234.5"), "EUR", "12.345"),  # a fraction of a cent is kept
        (2740, "JPY", "2740"),  # no minor unit
        (2740, "KWD", "2.740"),  # three digits
        (2740, "", "27.40"),  # no currency: two digits
        (None, "EUR", None),
    ],
)
def test_in_units(value, currency, units):
    from order_updates.core.adapter import in_units

    result = in_units(value, currency)
    assert (None if result is None else str(result)) == units


def test_email_falls_back_to_the_user_account(make_order, customer):
    order = make_order(user=customer, email="")
    assert get_adapter().get_email(order) == "account@example.com"


def use_user_phone_field(settings, path):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "USER_PHONE_FIELD": path}


def test_a_users_own_phone_number_from_a_field(settings):
    use_user_phone_field(settings, "phone")
    adapter = get_adapter()
    assert adapter.get_user_phone(SimpleNamespace(phone="+44 20 7946 0958")) == (
        "+442079460958"
    )
    # django-phonenumber-field's PhoneNumber, as a PhoneNumberField gives it.
    number = PhoneNumber.from_string("+4930901820")
    assert adapter.get_user_phone(SimpleNamespace(phone=number)) == "+4930901820"
    # National numbers are read in PHONENUMBER_DEFAULT_REGION.
    settings.PHONENUMBER_DEFAULT_REGION = "DE"
    assert adapter.get_user_phone(SimpleNamespace(phone="030 901820")) == (
        "+4930901820"
    )


def test_a_users_own_phone_number_across_a_relation(settings, customer):
    use_user_phone_field(settings, "customer__phone")
    adapter = get_adapter()
    # No related row: no number (not an error).
    assert adapter.get_user_phone(customer) == ""
    Customer.objects.create(user=customer, email="ada@example.com", phone="+4930901820")
    customer.refresh_from_db()
    assert adapter.get_user_phone(customer) == "+4930901820"


@pytest.mark.parametrize(
    "user",
    [
        SimpleNamespace(phone=""),
        SimpleNamespace(phone=None),
        SimpleNamespace(phone="+1 415 555"),  # too short
        SimpleNamespace(phone="call me"),
        SimpleNamespace(),  # no such attribute
        AnonymousUser(),
        None,
    ],
)
def test_no_or_an_invalid_phone_number_is_none(settings, user):
    use_user_phone_field(settings, "phone")
    assert get_adapter().get_user_phone(user) == ""


def test_users_have_no_phone_number_unless_the_setting_says_where():
    assert get_adapter().get_user_phone(SimpleNamespace(phone="+4930901820")) == ""


class SeasonalAdapter(DefaultOrderAdapter):
    """A custom adapter: old orders start delivered, totals carry a currency sign."""

    def get_initial_status(self, order):
        return "delivered"

    def get_notification_context(self, order):
        context = super().get_notification_context(order)
        context["total"] = "€%s" % context["total"]
        return context


def test_custom_adapter_from_settings(settings, make_order):
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "ADAPTER": "tests.test_adapter.SeasonalAdapter",
    }
    adapter = get_adapter()
    assert isinstance(adapter, SeasonalAdapter)
    order = make_order()
    assert adapter.get_notification_context(order)["total"] == "€42.50"
    services.set_status(order, "returned")  # tracking starts at "delivered"
    assert services.get_status(order).code == "returned"


def test_adapter_is_rebuilt_when_settings_change(settings):
    first = get_adapter()
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "BULK_BATCH_SIZE": 10}
    assert get_adapter() is not first


def test_unknown_order_fields_key_is_a_configuration_error(settings):
    settings.ORDER_UPDATES = {"ORDER_FIELDS": {"emial": "email"}}
    with pytest.raises(OrderUpdatesConfigurationError, match="emial"):
        get_adapter()


def test_plain_converts_decimals_and_objects():
    from order_updates.core.adapter import plain

    assert plain({"a": Decimal("1.50"), "b": [Decimal("2")], 3: object}) == {
        "a": "1.50",
        "b": ["2"],
        "3": str(object),
    }


def test_shipping_address_from_several_fields(make_order, settings):
    order = make_order(email="ada@example.com")
    address = get_adapter().get_notification_context(order)["shipping_address"]
    if settings.TEST_SHOP == "plainshop":  # mapped to ["number", "email"] here
        assert address == "%s\nada@example.com" % order.number
    else:
        assert address == ""


def test_pages_join_the_relations_of_the_fields_they_show(
    make_order, customer, settings, django_assert_num_queries
):
    relation = "customer" if settings.TEST_SHOP == "customershop" else "user"
    order = make_order(user=customer, email="ada@example.com")
    services.start_tracking(order, notify=False)
    # By default the pages show nothing through a relation: the customer's
    # account or contact row, which get_queryset() joins for messages, is not
    # read by the pages, so not joined.
    assert get_adapter().related_paths(["number", "total"]) == []
    assert relation in get_adapter().get_queryset().query.select_related
    assert get_adapter().get_page_queryset().query.select_related == {
        "order_updates_state": {}
    }
    # A customer's orders, each once already: no subquery of keys.
    mine = get_adapter().get_orders_for_user(customer)
    assert "IN (SELECT" not in str(get_adapter().get_page_queryset(mine).query)
    assert "IN (SELECT" in str(get_adapter().get_page_queryset(mine.distinct()).query)
    # A number kept on a related row is joined, with the status row.
    expected = getattr(order, relation).email
    fields = {
        **settings.ORDER_UPDATES.get("ORDER_FIELDS", {}),
        "number": "%s__email" % relation,
    }
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "ORDER_FIELDS": fields}
    adapter = get_adapter()
    assert adapter.related_paths(["number", "total"]) == [relation]
    mine = adapter.get_page_queryset(adapter.get_orders_for_user(customer))
    with django_assert_num_queries(1):
        [loaded] = list(mine)
        assert adapter.get_number(loaded) == expected
        assert loaded.order_updates_state.status == "placed"
