"""Throttling of the API, by user (or address without a login), with the rates
of ``API_THROTTLE_RATES``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import SimpleRateThrottle

from order_updates.conf import app_settings, setting_name


class _Throttle(SimpleRateThrottle):
    #: The key of ``API_THROTTLE_RATES``.
    scope = ""

    def get_rate(self) -> str | None:
        rate = (app_settings.API_THROTTLE_RATES or {}).get(self.scope)
        try:
            self.parse_rate(rate)
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            raise ImproperlyConfigured(
                "%s[%r] must be a rate such as '120/min' or None, not %r."
                % (setting_name("API_THROTTLE_RATES"), self.scope, rate)
            ) from exc
        return rate

    def get_cache_key(self, request: Any, view: Any) -> str:
        if request.user and request.user.is_authenticated:
            ident = request.user.pk
        else:
            ident = self.get_ident(request)
        return "order_updates_api_%s_%s" % (self.scope, ident)


class CustomerThrottle(_Throttle):
    """The customers' rate: ``API_THROTTLE_RATES["customer"]``."""

    scope = "customer"


class StaffThrottle(_Throttle):
    """The staff's rate: ``API_THROTTLE_RATES["staff"]``."""

    scope = "staff"
