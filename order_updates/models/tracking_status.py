"""The normalized tracking status of a shipment, after AfterShip's public taxonomy.

Every carrier and aggregator reports its own codes; the webhook providers of
:mod:`order_updates.carriers.webhooks` translate them into these, so that the
order's status, the notifications and the pages read one vocabulary.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TrackingStatus(models.TextChoices):
    """Where a parcel is (AfterShip's delivery statuses, in snake case)."""

    PENDING = "pending", _("Pending")
    INFO_RECEIVED = "info_received", _("Label created")
    IN_TRANSIT = "in_transit", _("In transit")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    ATTEMPT_FAIL = "attempt_fail", _("Delivery attempted")
    AVAILABLE_FOR_PICKUP = "available_for_pickup", _("Available for pickup")
    DELIVERED = "delivered", _("Delivered")
    EXCEPTION = "exception", _("Delivery problem")
    EXPIRED = "expired", _("No longer tracked")


class TrackingSubstatus(models.TextChoices):
    """Why: the reason of an exception or a failed attempt, or how it was delivered."""

    ADDRESS = "address", _("Address problem")
    REFUSED = "refused", _("Refused by the recipient")
    DAMAGED = "damaged", _("Damaged")
    LOST = "lost", _("Lost")
    CUSTOMS = "customs", _("Held in customs")
    HELD = "held", _("Held by the carrier")
    DELAYED = "delayed", _("Delayed")
    RECIPIENT_UNAVAILABLE = "recipient_unavailable", _("Recipient not available")
    RETURNING_TO_SENDER = "returning_to_sender", _("Returning to sender")
    RETURNED_TO_SENDER = "returned_to_sender", _("Returned to sender")
    PICKED_UP = "picked_up", _("Picked up by the recipient")
    SIGNED = "signed", _("Signed for")
    OTHER = "other", _("Other")


#: Statuses after which a parcel moves no more (no "stuck" alert, no lateness).
FINAL_STATUSES = frozenset({TrackingStatus.DELIVERED, TrackingStatus.EXPIRED})
#: Statuses that tell the customer something went wrong.
PROBLEM_STATUSES = frozenset({TrackingStatus.ATTEMPT_FAIL, TrackingStatus.EXCEPTION})
