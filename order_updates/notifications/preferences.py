"""Customer choice: which channels a customer wants, and addresses not to use.

Two separate things live here, on purpose:

* A **preference** (:class:`~order_updates.models.NotificationPreference`) is the
  customer's choice: channels per notification category, SMS consent, time zone.
  Unsubscribing changes it, and the customer can change it back.
* A **suppression** (:class:`~order_updates.models.SuppressedRecipient`) is about an
  *address*: it hard-bounced or its owner reported spam, so nothing more goes to it
  on that channel, whoever the customer is. Only staff lift it.

A customer is a user account, or an email address for guests. A customer without
a saved preference gets the transactional defaults: every channel on, except that
a channel which ``requires_consent`` (SMS) needs the customer's consent (push
recipients exist only for browsers that subscribed).

Functions here take channel objects (``get_channel("sms")``), not names: what a
channel needs (consent, how its addresses are spelt) is a property of its class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from order_updates.conf import app_settings
from order_updates.core.adapter import get_adapter
from order_updates.models import (
    NotificationPreference,
    SuppressedRecipient,
    SuppressionReason,
)
from order_updates.notifications.types import CATEGORIES

if TYPE_CHECKING:
    from order_updates.notifications.channels.base import BaseChannel

__all__ = [
    "give_sms_consent",
    "is_suppressed",
    "preference_for",
    "preference_for_order",
    "save_choices",
    "set_channels",
    "subscribe",
    "suppress",
    "suppressed_addresses",
    "unsubscribe",
    "wanted_channels",
    "wants",
    "withdraw_sms_consent",
]


# Finding a customer's preference ---------------------------------------------------


def preference_for(user=None, email: str = "") -> NotificationPreference:
    """The customer's preference: the saved row, or an unsaved default.

    A user account wins over an email address; guests' emails are lower-cased.
    Raises ``ValueError`` when given neither.
    """
    if user is not None and getattr(user, "pk", None) is not None:
        found = NotificationPreference.objects.filter(user=user).first()
        return found or NotificationPreference(user=user)
    email = (email or "").strip().lower()
    if not email:
        raise ValueError("A preference belongs to a user or an email address.")
    found = NotificationPreference.objects.filter(
        user__isnull=True, email=email
    ).first()
    return found or NotificationPreference(email=email)


def preference_for_order(order: models.Model) -> NotificationPreference:
    """The preference of ``order``'s customer (the adapter's user, else email)."""
    return preferences_for_orders([order])[order.pk]


def preferences_for_orders(
    orders: Iterable[models.Model],
) -> dict[Any, NotificationPreference]:
    """Each order's customer preference (saved, or an unsaved default), in one query.

    The same rule as :func:`preference_for`: the user account wins over the email.
    """
    adapter = get_adapter()
    owners = {order.pk: preference_owner(order, adapter) for order in orders}
    return match_preferences(owners, preferences_query(owners))


#: An order's customer as preferences know it: (user, "") or (None, guest email).
Owner = tuple[Any, str]


def preference_owner(order: models.Model, adapter: Any) -> Owner:
    """Whose preference applies to ``order`` (asks ``adapter``; may raise)."""
    user = adapter.get_user(order)
    email = "" if user is not None else _guest_email(adapter.get_email(order))
    return user, email


def preferences_query(owners: dict[Any, Owner]) -> models.QuerySet:
    """The saved preferences of ``owners`` (order pk → owner): one query."""
    user_ids = {user.pk for user, _ in owners.values() if user is not None}
    emails = {email for user, email in owners.values() if user is None and email}
    return NotificationPreference.objects.filter(
        Q(user_id__in=user_ids) | Q(user__isnull=True, email__in=emails)
    )


def match_preferences(
    owners: dict[Any, Owner], found: Iterable[NotificationPreference]
) -> dict[Any, NotificationPreference]:
    """Each order's preference among the saved ones ``found``, else a default."""
    by_user = {}
    by_email = {}
    for pref in found:
        if pref.user_id:
            by_user[pref.user_id] = pref
        else:
            by_email[pref.email] = pref
    result = {}
    for pk, (user, email) in owners.items():
        if user is not None:
            result[pk] = by_user.get(user.pk) or NotificationPreference(user=user)
        else:
            result[pk] = by_email.get(email) or NotificationPreference(email=email)
    return result


# Reading it ----------------------------------------------------------------------


def wants(
    preference: NotificationPreference, category: str, channel: BaseChannel
) -> bool:
    """Whether the customer wants ``category`` messages on ``channel``.

    A channel that ``requires_consent`` (SMS) needs it (``sms_consent_at``), even
    when a saved list names it. Otherwise an explicit list for the category
    decides; without one, every channel is on.
    """
    if channel.requires_consent and preference.sms_consent_at is None:
        return False
    explicit = (preference.channels or {}).get(category)
    if isinstance(explicit, list):
        return channel.name in explicit
    return True


def wanted_channels(
    preference: NotificationPreference,
    category: str,
    channels: Iterable[BaseChannel],
) -> list[str]:
    """The names of the ``channels`` the customer wants for ``category``."""
    return [
        channel.name for channel in channels if wants(preference, category, channel)
    ]


# Changing it ---------------------------------------------------------------------


def set_channels(
    preference: NotificationPreference, category: str, channels: Iterable[str]
) -> NotificationPreference:
    """Store exactly ``channels`` for ``category`` (an explicit choice); save it."""
    cleaned = _check_channels(category, channels)

    def change(row: NotificationPreference) -> None:
        row.channels = {**(row.channels or {}), category: cleaned}

    return _change(preference, change)


def unsubscribe(
    preference: NotificationPreference, channel: str
) -> NotificationPreference:
    """Turn ``channel`` off for every category (explicit lists); save it.

    This is the customer's choice and nothing more: the address is not
    suppressed, and the customer may turn the channel back on.
    """

    def change(row: NotificationPreference) -> None:
        current = dict(row.channels or {})
        for category in [*CATEGORIES, *current]:
            # The explicit list, or every channel: not filtered by consent, so SMS
            # consent given later still takes effect (wants() checks it anyway).
            chosen = current.get(category, list(app_settings.CHANNELS))
            current[category] = [name for name in chosen if name != channel]
        row.channels = current

    return _change(preference, change)


def subscribe(
    preference: NotificationPreference, channel: str
) -> NotificationPreference:
    """Turn ``channel`` back on in every category that has an explicit list; save.

    A channel that requires consent still needs it (:func:`give_sms_consent`).
    """

    def change(row: NotificationPreference) -> None:
        current = dict(row.channels or {})
        for category, names in current.items():
            if isinstance(names, list) and channel not in names:
                current[category] = [*names, channel]
        row.channels = current

    return _change(preference, change)


def give_sms_consent(preference: NotificationPreference) -> NotificationPreference:
    """Record that the customer agreed to text messages (keeps the first time).

    The one consent every channel that ``requires_consent`` asks for.
    """

    def change(row: NotificationPreference) -> None:
        if row.sms_consent_at is None:
            row.sms_consent_at = timezone.now()

    return _change(preference, change)


def withdraw_sms_consent(preference: NotificationPreference) -> NotificationPreference:
    """Record that the customer no longer wants text messages."""

    def change(row: NotificationPreference) -> None:
        row.sms_consent_at = None

    return _change(preference, change)


def save_choices(
    preference: NotificationPreference,
    *,
    channels: dict[str, Iterable[str]] | None = None,
    sms_consent: bool | None = None,
    timezone_name: str | None = None,
) -> NotificationPreference:
    """Save several choices at once (the preferences page); None leaves one as is.

    ``channels`` maps categories to the exact channels wanted for each.
    """
    cleaned = {
        category: _check_channels(category, names)
        for category, names in (channels or {}).items()
    }

    def change(row: NotificationPreference) -> None:
        if cleaned:
            row.channels = {**(row.channels or {}), **cleaned}
        if sms_consent is True and row.sms_consent_at is None:
            row.sms_consent_at = timezone.now()
        elif sms_consent is False:
            row.sms_consent_at = None
        if timezone_name is not None:
            row.timezone = timezone_name

    return _change(preference, change)


# Suppressed addresses ----------------------------------------------------------------


def is_suppressed(channel: BaseChannel, address: str) -> bool:
    """Whether nothing may be sent to ``address`` on ``channel``."""
    return SuppressedRecipient.objects.filter(
        channel=channel.name, address=channel.normalize_address(address)
    ).exists()


def suppressed_addresses(channel: BaseChannel, addresses: Iterable[str]) -> set[str]:
    """Which of ``addresses`` (as given) are suppressed on ``channel``; one query."""
    by_normal: dict[str, list[str]] = {}
    for address in addresses:
        by_normal.setdefault(channel.normalize_address(address), []).append(address)
    if not by_normal:
        return set()
    found = SuppressedRecipient.objects.filter(
        channel=channel.name, address__in=list(by_normal)
    ).values_list("address", flat=True)
    return {original for normal in found for original in by_normal[normal]}


def suppressed_keys(
    pairs: Iterable[tuple[BaseChannel, str]],
) -> set[tuple[str, str]]:
    """Which ``(channel, address)`` pairs are suppressed, as ``(channel name,
    address as given)``; one query for them all.
    """
    by_normal: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for channel, address in pairs:
        normal = (channel.name, channel.normalize_address(address))
        by_normal.setdefault(normal, []).append((channel.name, address))
    if not by_normal:
        return set()
    query = Q()
    for name in {name for name, _address in by_normal}:
        addresses = [address for channel, address in by_normal if channel == name]
        query |= Q(channel=name, address__in=addresses)
    found = SuppressedRecipient.objects.filter(query).values_list("channel", "address")
    return {original for normal in found for original in by_normal[normal]}


def suppress(
    channel: BaseChannel,
    address: str,
    reason: str = SuppressionReason.MANUAL,
    notification=None,
) -> tuple[SuppressedRecipient, bool]:
    """Stop writing to ``address`` on ``channel``; return ``(row, created)``.

    The address is stored as the channel spells it
    (:meth:`~order_updates.notifications.channels.base.BaseChannel.normalize_address`:
    emails lower-cased, phone numbers in E.164 form). Idempotent: an address
    already suppressed keeps its first reason.
    """
    address = channel.normalize_address(address)
    if not address:
        raise ValueError("Cannot suppress an empty address.")
    try:
        with transaction.atomic():
            return SuppressedRecipient.objects.get_or_create(
                channel=channel.name,
                address=address,
                defaults={"reason": reason, "notification": notification},
            )
    except IntegrityError:  # a concurrent insert won; it is there now
        return (
            SuppressedRecipient.objects.get(channel=channel.name, address=address),
            False,
        )


# Internals -------------------------------------------------------------------------


def _guest_email(email: str) -> str:
    """Guests are known by their email address, stored lower-cased."""
    return (email or "").strip().lower()


def _check_channels(category: str, channels: Iterable[str]) -> list[str]:
    if category not in CATEGORIES:
        raise ValueError(
            "Unknown notification category %r; categories are: %s."
            % (category, ", ".join(CATEGORIES))
        )
    if isinstance(channels, str):
        raise TypeError("channels must be a list of channel names, not a string.")
    return list(dict.fromkeys(str(name) for name in channels))


def _owner_filter(preference: NotificationPreference) -> dict:
    if preference.user_id is not None:
        return {"user_id": preference.user_id}
    return {"user__isnull": True, "email": preference.email.lower()}


def _change(
    preference: NotificationPreference,
    change: Callable[[NotificationPreference], None],
) -> NotificationPreference:
    """Apply ``change`` to the stored row under a lock (creating it if needed).

    Read-modify-write under ``select_for_update``, so two requests changing
    different categories at once both keep their change. ``preference`` is
    updated in place to match the saved row, and returned.
    """
    if preference.user_id is None:
        preference.email = preference.email.strip().lower()
    with transaction.atomic():
        row = _locked(preference)
        if row is None:
            row = NotificationPreference(
                user_id=preference.user_id,
                email="" if preference.user_id is not None else preference.email,
                channels=dict(preference.channels or {}),
                sms_consent_at=preference.sms_consent_at,
                timezone=preference.timezone,
            )
            change(row)
            try:
                with transaction.atomic():
                    row.save()
            except IntegrityError:  # created concurrently: change that one
                row = _locked(preference)
                if row is None:
                    raise
                change(row)
                row.save()
        else:
            change(row)
            row.save()
    for field in NotificationPreference._meta.concrete_fields:
        setattr(preference, field.attname, getattr(row, field.attname))
    preference._state.adding = False
    preference._state.db = row._state.db
    return preference


def _locked(preference: NotificationPreference) -> NotificationPreference | None:
    manager = NotificationPreference.objects.select_for_update()
    if preference.pk is not None:
        return manager.filter(pk=preference.pk).first()
    return manager.filter(**_owner_filter(preference)).first()
