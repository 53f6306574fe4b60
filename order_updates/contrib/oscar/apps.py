from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class OscarIntegrationConfig(AppConfig):
    """Follows Oscar's orders: placed, status changes, shipping events."""

    name = "order_updates.contrib.oscar"
    label = "order_updates_oscar"
    verbose_name = _("Order updates for django-oscar")

    def ready(self) -> None:
        try:
            import oscar  # noqa: F401
        except ImportError as exc:
            raise ImproperlyConfigured(
                "order_updates.contrib.oscar needs django-oscar: "
                "pip install django-order-updates[oscar]"
            ) from exc
        from django.core import checks

        from order_updates.contrib.oscar import checks as oscar_checks
        from order_updates.contrib.oscar.receivers import connect_receivers

        checks.register(oscar_checks.check_oscar)
        connect_receivers()
