"""Fixtures for the channel tests: settings and notification rows."""

import pytest


@pytest.fixture
def order_updates_settings(settings):
    """Merge values into ``settings.ORDER_UPDATES``: ``order_updates_settings(X=1)``."""

    def update(**values):
        settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, **values}

    return update


@pytest.fixture
def make_notification(db):
    """A saved Notification row about ``order`` (its event: tracking started)."""
    from order_updates import services
    from order_updates.models import Notification

    def make(order, *, channel="email", recipient="", type="order_confirmed"):
        event = services.start_tracking(order, notify=False)
        return Notification.objects.create(
            order=order,
            event=event,
            type=type,
            channel=channel,
            recipient=recipient,
            language="en",
            dedupe_key=Notification.make_dedupe_key(event.pk, channel, recipient),
        )

    return make
