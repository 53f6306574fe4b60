from django.db import models


class ShopOrderStatus(models.Model):
    """The status and tracking columns a shop without order_updates keeps itself.

    They would sit on the shop's order table; a table of their own, one row per
    order, keeps the test shop's model untouched and costs the same one UPDATE
    per order.
    """

    order = models.OneToOneField(
        "plainshop.Order", primary_key=True, on_delete=models.CASCADE
    )
    status = models.CharField(max_length=20, default="processing")
    carrier = models.CharField(max_length=20, blank=True)
    tracking_number = models.CharField(max_length=40, blank=True)
    tracking_url = models.URLField(blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return "%s: %s" % (self.order_id, self.status)
