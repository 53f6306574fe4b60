"""Receivers connected in ``OrderUpdatesConfig.ready()``."""

from order_updates.conf import app_settings


def track_new_order(sender, instance, created, raw=False, **kwargs) -> None:
    """With ``TRACK_NEW_ORDERS``, start tracking each order row the shop creates."""
    # raw: loaddata is restoring rows, not placing orders.
    if created and not raw and app_settings.TRACK_NEW_ORDERS:
        from order_updates.services import start_tracking

        start_tracking(instance, actor="system")
