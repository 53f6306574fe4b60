"""Notification channels: a base class plus one module per kind.

Which channels a shop uses is ``ORDER_UPDATES["CHANNELS"]``, a dict of channel
name to the dotted path of its class. :func:`get_channel` builds them.
"""

from functools import cache

from django.utils.module_loading import import_string

from order_updates.conf import RELOAD_HOOKS, app_settings
from order_updates.exceptions import OrderUpdatesConfigurationError
from order_updates.notifications.channels.base import BaseChannel


@cache
def get_channel(name: str) -> BaseChannel:
    """The configured channel called ``name``."""
    try:
        path = app_settings.CHANNELS[name]
    except KeyError:
        raise OrderUpdatesConfigurationError(
            "No channel %r in ORDER_UPDATES['CHANNELS'] (it has: %s)."
            % (name, ", ".join(app_settings.CHANNELS) or "none")
        ) from None
    try:
        channel_class = import_string(path) if isinstance(path, str) else path
    except ImportError as exc:
        raise OrderUpdatesConfigurationError(
            "Could not import channel %r (%s): %s" % (name, path, exc)
        ) from exc
    return channel_class(name=name)


def get_channels() -> dict[str, BaseChannel]:
    """Every configured channel, by name, in settings order."""
    return {name: get_channel(name) for name in app_settings.CHANNELS}


RELOAD_HOOKS.append(get_channel.cache_clear)
