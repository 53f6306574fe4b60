from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class OrderUpdatesConfig(AppConfig):
    """Wires checks and the optional automatic tracking of new orders."""

    name = "order_updates"
    verbose_name = _("Order updates")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks
        from django.db.models.signals import post_save

        from order_updates import checks as order_checks
        from order_updates import receivers
        from order_updates.conf import get_order_model

        checks.register(order_checks.check_settings)
        checks.register(order_checks.check_order_model)
        checks.register(order_checks.check_adapter)
        checks.register(order_checks.check_pipeline)
        checks.register(order_checks.check_channels)
        checks.register(order_checks.check_email_timeout)
        checks.register(order_checks.check_template_budget)
        from order_updates.notifications.feedback import connect_receivers

        # django-anymail's tracking webhooks update the notifications they concern.
        connect_receivers()
        try:
            order_model = get_order_model()
        except ImproperlyConfigured:
            return  # reported by the checks (order_updates.E001/E002)
        post_save.connect(
            receivers.track_new_order,
            sender=order_model,
            dispatch_uid="order_updates.track_new_order",
        )
