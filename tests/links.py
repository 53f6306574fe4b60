"""Checking the signed tracking links that messages carry (they hold a timestamp,
so two links made a second apart differ: compare what they say, not their text).
"""

from order_updates.conf import app_settings
from order_updates.models import OrderState
from order_updates.notifications.links import read_tracking_token


def is_tracking_link(url, order):
    """Whether ``url`` is a valid, current tracking link to ``order``'s page."""
    prefix = app_settings.SITE_URL.rstrip("/") + "/order-updates/track/"
    if not url.startswith(prefix) or not url.endswith("/"):
        return False
    link = read_tracking_token(url[len(prefix) : -1])
    version = OrderState.objects.get(order_id=order.pk).tracking_link_version
    return (link.order_pk, link.version) == (order.pk, version)
