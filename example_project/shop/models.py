"""The demo shop's catalogue, orders and user profiles.

Nothing here knows about order_updates: the order model carries no status field and
no base class. order_updates keeps the status in its own table and finds the fields
it needs through ``settings.ORDER_UPDATES["ORDER_FIELDS"]``, and a user's own phone
number through ``settings.ORDER_UPDATES["USER_PHONE_FIELD"]``.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField


class Product(models.Model):
    """Something the shop sells."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), unique=True)
    description = models.TextField(_("description"), blank=True)
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self):
        return self.name


class Order(models.Model):
    """A placed order; guests have no ``customer``."""

    number = models.CharField(_("number"), max_length=32, unique=True)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="shop_orders",
    )
    email = models.EmailField(_("email"))
    phone = PhoneNumberField(_("phone"), blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    shipping_name = models.CharField(_("name"), max_length=200)
    shipping_line1 = models.CharField(_("address"), max_length=200)
    shipping_city = models.CharField(_("city"), max_length=100)
    shipping_postcode = models.CharField(_("postcode"), max_length=20)
    shipping_country = models.CharField(_("country"), max_length=2, default="DE")
    total = models.DecimalField(
        _("total"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    placed_at = models.DateTimeField(_("placed at"), default=timezone.now)

    class Meta:
        ordering = ["-placed_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("shop:order_confirmation", args=[self.number])

    @classmethod
    def next_number(cls):
        """Return a free order number: "DS-10001", "DS-10002"..."""
        last_pk = cls.objects.aggregate(last=models.Max("pk"))["last"] or 0
        sequence = 10001 + last_pk
        while cls.objects.filter(number="DS-%d" % sequence).exists():
            sequence += 1
        return "DS-%d" % sequence


class OrderLine(models.Model):
    """One product in an order, with the name and price it was bought at."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="order_lines"
    )
    product_name = models.CharField(_("product name"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")

    def __str__(self):
        return "%s × %s" % (self.quantity, self.product_name)

    @property
    def line_total(self):
        return self.unit_price * self.quantity


class Profile(models.Model):
    """What the shop keeps about a user beyond Django's user model.

    The phone number is the account's own: with ``USER_PHONE_FIELD`` set to
    ``"profile__phone"``, order_updates' template editor sends a staff member's
    test texts to it.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="profile",
    )
    phone = PhoneNumberField(
        _("phone"),
        blank=True,
        help_text=_(
            "The user's own mobile number: for staff, where the template "
            "editor's test texts go."
        ),
    )

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self):
        return str(self.user)
