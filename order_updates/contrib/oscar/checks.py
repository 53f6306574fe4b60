"""System checks of the django-oscar integration."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from order_updates.conf import ORDER_MODEL_SETTING, app_settings
from order_updates.contrib.oscar.adapter import OscarOrderAdapter


def check_oscar(app_configs=None, **kwargs) -> list[CheckMessage]:
    """E030: order_updates does not follow Oscar's order model; W030: a status of
    ``OSCAR_ORDER_STATUS_PIPELINE`` means no pipeline status.
    """
    label = getattr(settings, ORDER_MODEL_SETTING, None)
    if not isinstance(label, str) or label.lower() != "order.order":
        return [
            Error(
                "order_updates.contrib.oscar is installed, but %s is %r."
                % (ORDER_MODEL_SETTING, label),
                hint='Set %s = "order.Order" (Oscar\'s order model, or your fork '
                "of it)." % ORDER_MODEL_SETTING,
                id="order_updates.E030",
            )
        ]
    messages: list[CheckMessage] = []
    adapter = app_settings.ADAPTER
    if not (isinstance(adapter, type) and issubclass(adapter, OscarOrderAdapter)):
        messages.append(
            Warning(
                "ORDER_UPDATES['ADAPTER'] is not the django-oscar adapter: messages "
                "may miss Oscar's lines, totals and addresses.",
                hint="Start ORDER_UPDATES from order_updates.contrib.oscar.PRESET, "
                "or derive your adapter from "
                "order_updates.contrib.oscar.adapter.OscarOrderAdapter.",
                id="order_updates.W031",
            )
        )
    if app_settings.STATUS_FIELD != "status":
        return messages
    oscar_statuses = list(getattr(settings, "OSCAR_ORDER_STATUS_PIPELINE", {}) or {})
    initial = getattr(settings, "OSCAR_INITIAL_ORDER_STATUS", None)
    if initial and initial not in oscar_statuses:
        oscar_statuses.insert(0, initial)
    mapping = app_settings.STATUS_MAP or {}
    unmapped = [status for status in oscar_statuses if status not in mapping]
    if unmapped:
        messages.append(
            Warning(
                "OSCAR_ORDER_STATUS_PIPELINE has statuses that "
                "ORDER_UPDATES['STATUS_MAP'] does not map: %s. Orders in them are "
                "not followed." % ", ".join(map(repr, unmapped)),
                hint="Map each of Oscar's statuses to a pipeline code, e.g. "
                "'STATUS_MAP': {'Pending': 'placed', 'Being processed': "
                "'processing', 'Complete': 'delivered', 'Cancelled': 'cancelled'}.",
                id="order_updates.W030",
            )
        )
    return messages
