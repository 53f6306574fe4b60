"""Checking the signed tracking links that messages carry (they hold a timestamp,
so two links made a second apart differ: compare what they say, not their text).
"""

from order_updates.conf import app_settings
from order_updates.models import OrderState
from order_updates.notifications.links import make_tracking_token, read_tracking_token


def is_tracking_link(url, order):
    """Whether ``url`` is a valid, current tracking link to ``order``'s page."""
    prefix = app_settings.SITE_URL.rstrip("/") + "/order-updates/track/"
    if not url.startswith(prefix) or not url.endswith("/"):
        return False
    link = read_tracking_token(url[len(prefix) : -1])
    version = OrderState.objects.get(order_id=order.pk).tracking_link_version
    return (link.order_pk, link.version) == (order.pk, version)


#: The sample data's tracking link (previews): on the mounted page, its token
#: "sample…" as long as a real one, so that an SMS preview counts real lengths.
SAMPLE_TOKEN = "sample".ljust(len(make_tracking_token(1001)), "0")
SAMPLE_TRACK = "https://shop.example.com/order-updates/track/%s/" % SAMPLE_TOKEN
