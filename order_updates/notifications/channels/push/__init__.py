"""Web push: the channel, the browsers' subscriptions it sends to, and their views."""

from order_updates.notifications.channels.push.channel import (
    WebPushChannel,
    classify_error,
    load_vapid_key,
    vapid_public_key,
)

__all__ = ["WebPushChannel", "classify_error", "load_vapid_key", "vapid_public_key"]
