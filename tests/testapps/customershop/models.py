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

    def __str__(self):
        return self.email


class Purchase(models.Model):
    reference = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT)
    amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    placed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.reference
