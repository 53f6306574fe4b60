"""A session cart: ``{product_id: quantity}`` stored in the session."""

from decimal import Decimal

from .models import Product

SESSION_KEY = "shop_cart"


class Cart:
    """The visitor's cart, kept in ``request.session``."""

    def __init__(self, request):
        self.session = request.session
        self.data = {
            str(key): int(value)
            for key, value in self.session.get(SESSION_KEY, {}).items()
            if int(value) > 0
        }

    def add(self, product, quantity=1):
        key = str(product.pk)
        self.data[key] = min(self.data.get(key, 0) + quantity, 99)
        self.save()

    def set(self, product_id, quantity):
        key = str(product_id)
        if quantity > 0:
            self.data[key] = min(quantity, 99)
        else:
            self.data.pop(key, None)
        self.save()

    def clear(self):
        self.data = {}
        self.save()

    def save(self):
        self.session[SESSION_KEY] = self.data
        self.session.modified = True

    def __len__(self):
        return sum(self.data.values())

    def __bool__(self):
        return bool(self.data)

    def lines(self):
        """``(product, quantity, line_total)`` for products still on sale."""
        products = Product.objects.filter(pk__in=self.data.keys(), active=True)
        return [
            (
                product,
                self.data[str(product.pk)],
                product.price * self.data[str(product.pk)],
            )
            for product in products
        ]

    def total(self):
        return sum((line_total for _, _, line_total in self.lines()), Decimal("0.00"))
