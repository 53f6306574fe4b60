"""Notification channels: a base class plus one module per kind.

Which channels a shop uses is ``ORDER_UPDATES["CHANNELS"]``: a dict of channel
name to its class and options, in the shape of Django's ``STORAGES``::

    "CHANNELS": {
        "email": {
            "BACKEND": "order_updates.notifications.channels.email.EmailChannel",
            "OPTIONS": {"from_email": "Shop <orders@shop.example.com>"},
        },
    }

(a dotted path or a class alone means no options). :func:`get_channel` builds
them: ``BACKEND(name, **OPTIONS)``.
"""

from functools import cache

from order_updates.conf import RELOAD_HOOKS, app_settings, load_component, setting_name
from order_updates.exceptions import OrderUpdatesConfigurationError
from order_updates.notifications.channels.base import BaseChannel


def _configured() -> dict:
    channels = app_settings.CHANNELS
    if not isinstance(channels, dict):
        raise OrderUpdatesConfigurationError(
            "%s must be a dict of channel name to {'BACKEND': ..., 'OPTIONS': ...}, "
            "not %s." % (setting_name("CHANNELS"), type(channels).__name__)
        )
    return channels


@cache
def get_channel(name: str) -> BaseChannel:
    """The configured channel called ``name`` (built once, until settings change)."""
    channels = _configured()
    if name not in channels:
        raise OrderUpdatesConfigurationError(
            "No channel %r in %s (it has: %s)."
            % (name, setting_name("CHANNELS"), ", ".join(channels) or "none")
        )
    component = load_component(
        channels[name], setting_name("CHANNELS", name), base=BaseChannel, args=(name,)
    )
    return component.build(name)


def get_channels() -> dict[str, BaseChannel]:
    """Every configured channel, by name, in settings order."""
    return {name: get_channel(name) for name in _configured()}


RELOAD_HOOKS.append(get_channel.cache_clear)
