"""Quiet hours: SMS and push wait until morning in the customer's time zone."""

from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings

from order_updates.conf import app_settings
from order_updates.exceptions import OrderUpdatesConfigurationError


def _parse(value: str) -> datetime.time:
    try:
        return datetime.time.fromisoformat(value)
    except (TypeError, ValueError):
        raise OrderUpdatesConfigurationError(
            "ORDER_UPDATES['QUIET_HOURS'] must be two 'HH:MM' times, like "
            "('21:00', '08:00'); got %r." % (value,)
        ) from None


def window() -> tuple[datetime.time, datetime.time] | None:
    """The configured (start, end) local times, or None if quiet hours are off."""
    value = app_settings.QUIET_HOURS
    if not value:
        return None
    start, end = value
    return _parse(start), _parse(end)


def get_zone(name: str = "") -> zoneinfo.ZoneInfo:
    """The customer's zone, falling back to the shop's TIME_ZONE for bad names."""
    for candidate in (name, settings.TIME_ZONE, "UTC"):
        if candidate:
            try:
                return zoneinfo.ZoneInfo(candidate)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def postpone(when: datetime.datetime, zone_name: str = "") -> datetime.datetime:
    """``when``, or the end of the quiet hours it falls into (an aware datetime)."""
    quiet = window()
    if quiet is None:
        return when
    start, end = quiet
    zone = get_zone(zone_name)
    local = when.astimezone(zone)
    now = local.time()
    if start == end:
        return when
    if start < end:  # e.g. 13:00-15:00, within one day
        inside = start <= now < end
        end_day = local.date()
    else:  # e.g. 21:00-08:00, across midnight
        inside = now >= start or now < end
        end_day = local.date() + datetime.timedelta(days=1 if now >= start else 0)
    if not inside:
        return when
    resume = datetime.datetime.combine(end_day, end, tzinfo=zone)
    return resume.astimezone(datetime.timezone.utc)
