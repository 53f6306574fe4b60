"""Fixtures of the django-oscar integration's suite: real Oscar orders."""

from decimal import Decimal

import pytest
from oscar.apps.offer.applicator import Applicator
from oscar.apps.shipping.methods import FixedPrice
from oscar.core.loading import get_model
from oscar.test import factories

Benefit = get_model("offer", "Benefit")
Range = get_model("offer", "Range")


@pytest.fixture
def customer(django_user_model):
    return django_user_model.objects.create_user(
        "ada", "ada@example.com", "pw", first_name="Ada", last_name="Lovelace"
    )


@pytest.fixture
def make_order(db, customer):
    """Place an Oscar order the way checkout does (OrderCreator.place_order):
    2 mugs at £10.00 and a teapot at £22.50, £4.90 shipping, £5.00 off.
    """

    def make(discount=True, user=customer):
        basket = factories.create_basket(empty=True)
        for title, price, quantity in (("Mug", "10.00", 2), ("Teapot", "22.50", 1)):
            product = factories.create_product(title=title)
            factories.create_stockrecord(product, price=Decimal(price), num_in_stock=10)
            basket.add_product(product, quantity)
        if discount:
            everything, _ = Range.objects.get_or_create(
                name="Everything", includes_all_products=True
            )
            benefit = Benefit.objects.create(
                range=everything, type=Benefit.FIXED, value=Decimal("5.00")
            )
            factories.create_offer(benefit=benefit, product_range=everything)
            Applicator().apply(basket, user)
        shipping = FixedPrice(Decimal("4.90"), Decimal("4.90"))
        return factories.create_order(
            basket=basket,
            user=user,
            shipping_method=shipping,
            shipping_address=factories.ShippingAddressFactory(
                first_name="Ada", last_name="Lovelace"
            ),
        )

    return make


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_user(
        "merchant", "merchant@example.com", "pw", is_staff=True, is_superuser=True
    )
    client.force_login(staff)
    return client
