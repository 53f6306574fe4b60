from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class OrderUpdatesConfig(AppConfig):
    """Wires the checks, the outbox, delivery feedback and tracking of new orders."""

    name = "order_updates"
    verbose_name = _("Order updates")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here: these modules import the models, which are ready only now.
        from django.core import checks
        from django.db.models.signals import post_save

        from order_updates import checks as order_checks
        from order_updates.carriers.estimates import set_default_estimates
        from order_updates.conf import get_order_model
        from order_updates.core.events import register_consumer
        from order_updates.core.status import track_new_order
        from order_updates.core.sync import shop_order_saved
        from order_updates.notifications.failures import register_failure_consumer
        from order_updates.notifications.feedback import connect_receivers
        from order_updates.notifications.outbox import queue_notifications
        from order_updates.webhooks.events import (
            queue_failure_webhooks,
            queue_webhooks,
        )

        for check in order_checks.ALL_CHECKS:
            checks.register(check)
        # Every service's events get their notification rows in the same transaction.
        register_consumer(queue_notifications)
        # Shipments that leave get their carrier's default estimated delivery.
        register_consumer(set_default_estimates)
        # And their outbound webhook deliveries, in that transaction too.
        register_consumer(queue_webhooks)
        # A notification's failure (or bounce) gets its webhook deliveries in
        # the transaction that records it; notification_failed follows the commit.
        register_failure_consumer(queue_failure_webhooks)
        # django-anymail's tracking webhooks update the notifications they concern.
        connect_receivers()
        try:
            order_model = get_order_model()
        except ImproperlyConfigured:
            return  # reported by the checks (order_updates.E001/E002)
        post_save.connect(
            track_new_order,
            sender=order_model,
            dispatch_uid="order_updates.track_new_order",
        )
        # Changes the shop makes to its own status field (STATUS_FIELD).
        post_save.connect(
            shop_order_saved,
            sender=order_model,
            dispatch_uid="order_updates.shop_order_saved",
        )
