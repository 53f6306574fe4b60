"""The periodic checks: late shipments, stuck shipments, orders too long in a
status. Run them from Celery beat (``order_updates.check_shipments``) or cron
(``manage.py order_updates_check_shipments``); each is idempotent, so a second
run (or two overlapping ones) reports nothing new.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from order_updates.carriers.registry import get_carrier, get_carriers
from order_updates.conf import app_settings, setting_name
from order_updates.core.alerts import (
    report_late_shipment,
    report_overdue_status,
    report_stuck_shipment,
)
from order_updates.exceptions import OrderUpdatesConfigurationError
from order_updates.models import DeliveryEstimate, OrderState, Shipment
from order_updates.models.tracking_status import FINAL_STATUSES

#: What a STATUS_TIME_LIMITS entry with ``"message": True`` tells the customer.
DEFAULT_OVERDUE_MESSAGE = _(
    "Your order is taking a little longer than usual. We are still preparing it "
    "and will let you know as soon as it ships."
)


@dataclass
class CheckResult:
    """How many alerts each check raised."""

    late: int = 0
    stuck: int = 0
    overdue: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"late": self.late, "stuck": self.stuck, "overdue": self.overdue}


def check_all(now: datetime.datetime | None = None) -> CheckResult:
    """Run every check once."""
    now = now or timezone.now()
    return CheckResult(
        late=check_late(now), stuck=check_stuck(now), overdue=check_overdue(now)
    )


def late_shipments(now: datetime.datetime | None = None) -> QuerySet[Shipment]:
    """Shipments past the last day of their estimated delivery, not delivered:
    what :func:`check_late` reports (once per revision) and the admin's "late"
    filter lists.
    """
    today = timezone.localdate(now or timezone.now())
    return Shipment.objects.filter(estimated_delivery_to__lt=today).exclude(
        tracking_status__in=list(FINAL_STATUSES)
    )


def check_late(now: datetime.datetime | None = None) -> int:
    """Report shipments past their estimated delivery, once per estimate revision."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    newest = (
        DeliveryEstimate.objects.filter(shipment=OuterRef("pk"))
        .order_by("-created_at", "-pk")
        .values("pk")[:1]
    )
    candidates = (
        late_shipments(now)
        .annotate(revision=Subquery(newest))
        .filter(Q(late_reported_for__isnull=True) | ~Q(late_reported_for=F("revision")))
        .select_related("order")
    )
    return sum(
        report_late_shipment(shipment, today=today) is not None
        for shipment in candidates.iterator()
    )


def stuck_after_days(carrier_code: str) -> int:
    """Days without a scan after which a shipment of this carrier is stuck."""
    carrier = get_carrier(carrier_code)
    if carrier is not None and carrier.stuck_after_days is not None:
        return carrier.stuck_after_days
    return app_settings.STUCK_AFTER_DAYS


def check_stuck(now: datetime.datetime | None = None) -> int:
    """Report shipments without a scan for too long (per carrier), once per silence."""
    now = now or timezone.now()
    candidates = (
        stuck_shipments(now)
        .filter(Q(stuck_reported_for__isnull=True) | ~Q(stuck_reported_for=F("since")))
        .select_related("order")
    )
    raised = 0
    for shipment in candidates.iterator():
        days = stuck_after_days(shipment.carrier)
        since = shipment.since  # type: ignore[attr-defined]  # annotated
        if since <= now - datetime.timedelta(days=days):
            raised += report_stuck_shipment(shipment, days=days) is not None
    return raised


def stuck_shipments(now: datetime.datetime | None = None) -> QuerySet[Shipment]:
    """Shipments without a scan (or, before the first, since they left) for
    longer than their carrier's stuck days, not delivered: what
    :func:`check_stuck` reports (once per silence) and the admin's "stuck"
    filter lists. ``since`` is annotated: the newest scan, else the shipping time.
    """
    now = now or timezone.now()
    default = now - datetime.timedelta(days=app_settings.STUCK_AFTER_DAYS)
    custom = {
        code: carrier.stuck_after_days
        for code, carrier in get_carriers().items()
        if carrier.stuck_after_days is not None
    }
    silent = Q(since__lt=default) & ~Q(carrier__in=list(custom))
    for code, days in custom.items():
        silent |= Q(carrier=code, since__lt=now - datetime.timedelta(days=days))
    return (
        Shipment.objects.annotate(since=Coalesce("last_scan_at", "shipped_at"))
        .filter(silent)
        .exclude(tracking_status__in=list(FINAL_STATUSES))
    )


def status_time_limits() -> dict[str, tuple[float, str]]:
    """STATUS_TIME_LIMITS read: status → (days, message for the customer or '')."""
    limits: dict[str, tuple[float, str]] = {}
    configured = app_settings.STATUS_TIME_LIMITS
    if not isinstance(configured, Mapping):
        raise OrderUpdatesConfigurationError(
            "%s must be a dict of status -> days or {'days': ..., 'message': ...}."
            % setting_name("STATUS_TIME_LIMITS")
        )
    for status, value in configured.items():
        name = setting_name("STATUS_TIME_LIMITS", status)
        message: Any = ""
        if isinstance(value, Mapping):
            unknown = set(value) - {"days", "message"}
            if unknown or "days" not in value:
                raise OrderUpdatesConfigurationError(
                    "%s must have 'days' and may have 'message' (got %s)."
                    % (name, ", ".join(sorted(map(str, value))))
                )
            message = value.get("message") or ""
            value = value["days"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise OrderUpdatesConfigurationError(
                "%s: the days must be a positive number, not %r." % (name, value)
            )
        if message is True:
            message = DEFAULT_OVERDUE_MESSAGE
        limits[status] = (float(value), str(message))
    return limits


def check_overdue(now: datetime.datetime | None = None) -> int:
    """Report orders longer in a status than STATUS_TIME_LIMITS allows, once a stay."""
    now = now or timezone.now()
    raised = 0
    for status, (days, message) in status_time_limits().items():
        states = (
            OrderState.objects.filter(
                status=status,
                status_changed_at__lt=now - datetime.timedelta(days=days),
            )
            .filter(
                Q(overdue_reported_for__isnull=True)
                | ~Q(overdue_reported_for=F("status_changed_at"))
            )
            .select_related("order")
        )
        for state in states.iterator():
            raised += (
                report_overdue_status(state, days=days, message=message) is not None
            )
    return raised
