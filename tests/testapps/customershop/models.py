from django.conf import settings
from django.db import models


class Customer(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    email = models.EmailField()
    phone = models.CharField(max_length=20, blank=True)
    full_name = models.CharField(max_length=100, blank=True)
    preferred_language = models.CharField(max_length=10, default="en")
    address = models.TextField(blank=True)

    def __str__(self):
        return self.email


class Purchase(models.Model):
    reference = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT)
    amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    placed_at = models.DateTimeField(auto_now_add=True)
    shipping_fee = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    # The shop's own status field, with values of its own (status sync tests).
    fulfilment = models.CharField(max_length=20, default="OPEN")

    def __str__(self):
        return self.reference


class PurchaseItem(models.Model):
    """A line that knows its total, not its unit price."""

    purchase = models.ForeignKey(
        Purchase, related_name="items", on_delete=models.CASCADE
    )
    title = models.CharField(max_length=100)
    qty = models.PositiveIntegerField(default=1)
    line_total = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self):
        return self.title
