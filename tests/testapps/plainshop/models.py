from django.conf import settings
from django.db import models
from phonenumber_field.modelfields import PhoneNumberField


class Order(models.Model):
    number = models.CharField(max_length=20, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    email = models.EmailField(blank=True)
    phone = PhoneNumberField(blank=True)
    language = models.CharField(max_length=10, default="en")
    total = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="EUR")
    created_at = models.DateTimeField(auto_now_add=True)
    # The summary's other figures and the address, by their conventional names.
    shipping_total = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    discount_total = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    shipping_address = models.TextField(blank=True)
    # The shop's own status field (status sync tests set STATUS_FIELD to it).
    state = models.CharField(max_length=20, default="new")

    def __str__(self):
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, related_name="lines", on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField(default=1)
    price = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self):
        return self.name
