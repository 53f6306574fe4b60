"""Customer preferences and suppressed addresses (notifications.preferences)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from order_updates.models import NotificationPreference, SuppressedRecipient
from order_updates.models.notifications import SuppressionReason
from order_updates.notifications import preferences
from order_updates.notifications.channels import get_channels
from order_updates.notifications.channels.email import EmailChannel
from order_updates.notifications.channels.sms import SMSChannel


@pytest.fixture
def channels(settings):
    """Configure email, sms, push and test channels; return them by name."""
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "CHANNELS": {
            "email": "order_updates.notifications.channels.email.EmailChannel",
            "sms": "order_updates.notifications.channels.sms.SMSChannel",
            "push": "order_updates.notifications.channels.push.WebPushChannel",
            "test": "order_updates.notifications.channels.test.TestChannel",
        },
    }
    return get_channels()


@pytest.fixture
def customer(django_user_model):
    return django_user_model.objects.create_user("ada", "ada@example.com", "pw")


# Finding a preference ------------------------------------------------------------


def test_unknown_customer_gets_an_unsaved_default(db, customer):
    guest = preferences.preference_for(email="Guest@Example.COM")
    assert guest.pk is None
    assert guest.email == "guest@example.com"
    member = preferences.preference_for(user=customer)
    assert member.pk is None and member.user == customer
    assert not NotificationPreference.objects.exists()


def test_user_wins_over_email(db, customer):
    NotificationPreference.objects.create(email="ada@example.com")
    mine = NotificationPreference.objects.create(user=customer)
    assert preferences.preference_for(user=customer, email="ada@example.com") == mine


def test_guest_lookup_is_case_insensitive(db):
    saved = NotificationPreference.objects.create(email="guest@example.com")
    assert preferences.preference_for(email=" GUEST@example.com ") == saved


def test_preference_needs_an_owner(db):
    with pytest.raises(ValueError):
        preferences.preference_for()


def test_preference_for_order_uses_the_adapter(make_order, customer):
    guest_order = make_order(email="Buyer@Example.com")
    assert preferences.preference_for_order(guest_order).email == "buyer@example.com"
    member_order = make_order(user=customer)
    assert preferences.preference_for_order(member_order).user == customer


# Defaults and explicit choices ---------------------------------------------------


def test_transactional_defaults(db, channels):
    preference = preferences.preference_for(email="a@example.com")
    assert preferences.wants(preference, "order", channels["email"])
    assert preferences.wants(preference, "shipping", channels["push"])
    assert preferences.wants(preference, "order", channels["test"])
    assert not preferences.wants(preference, "order", channels["sms"])  # no consent yet
    preferences.give_sms_consent(preference)
    assert preferences.wants(preference, "order", channels["sms"])
    assert preferences.wanted_channels(preference, "order", channels.values()) == [
        "email",
        "sms",
        "push",
        "test",
    ]


def test_explicit_list_decides(db, channels):
    preference = preferences.preference_for(email="a@example.com")
    preferences.set_channels(preference, "shipping", ["sms", "push"])
    assert preference.pk is not None
    assert not preferences.wants(preference, "shipping", channels["email"])
    assert preferences.wants(preference, "shipping", channels["push"])
    # SMS still needs consent, whatever the list says.
    assert not preferences.wants(preference, "shipping", channels["sms"])
    # Another category keeps the defaults.
    assert preferences.wants(preference, "order", channels["email"])


def test_set_channels_validates(db, channels):
    preference = preferences.preference_for(email="a@example.com")
    with pytest.raises(ValueError, match="category"):
        preferences.set_channels(preference, "marketing", ["email"])
    with pytest.raises(TypeError):
        preferences.set_channels(preference, "order", "email")
    assert preference.pk is None


def test_unsubscribe_turns_one_channel_off_everywhere(db, channels):
    preference = preferences.preference_for(email="a@example.com")
    preferences.unsubscribe(preference, "email")
    stored = NotificationPreference.objects.get(email="a@example.com")
    # Every other channel stays as it was: SMS still waits only for consent.
    assert stored.channels == {
        "order": ["sms", "push", "test"],
        "shipping": ["sms", "push", "test"],
    }
    for category in ("order", "shipping"):
        assert not preferences.wants(stored, category, channels["email"])
        assert preferences.wants(stored, category, channels["push"])
        assert not preferences.wants(stored, category, channels["sms"])
    preferences.give_sms_consent(stored)
    assert preferences.wants(stored, "order", channels["sms"])
    # A preference, not a suppression: the address may be written to again.
    assert not SuppressedRecipient.objects.exists()
    preferences.subscribe(stored, "email")
    assert preferences.wants(stored, "order", channels["email"])


def test_changes_to_different_categories_both_survive(db, channels):
    first = preferences.preference_for(email="a@example.com")
    second = preferences.preference_for(email="a@example.com")  # stale copy
    preferences.set_channels(first, "order", ["email"])
    preferences.set_channels(second, "shipping", ["push"])
    stored = NotificationPreference.objects.get()
    assert stored.channels == {"order": ["email"], "shipping": ["push"]}
    assert second.pk == first.pk


def test_sms_consent_keeps_its_first_time(db, channels):
    preference = preferences.preference_for(email="a@example.com")
    preferences.give_sms_consent(preference)
    first = preference.sms_consent_at
    preferences.give_sms_consent(preference)
    assert preference.sms_consent_at == first
    preferences.withdraw_sms_consent(preference)
    assert NotificationPreference.objects.get().sms_consent_at is None


def test_save_choices(db, channels, customer):
    preference = preferences.preference_for(user=customer)
    preferences.save_choices(
        preference,
        channels={"order": ["email", "sms"], "shipping": []},
        sms_consent=True,
        timezone_name="Europe/Berlin",
    )
    stored = NotificationPreference.objects.get(user=customer)
    assert stored.email == ""
    assert stored.channels == {"order": ["email", "sms"], "shipping": []}
    assert stored.sms_consent_at is not None
    assert stored.timezone == "Europe/Berlin"
    assert preferences.wants(stored, "order", channels["sms"])
    assert not preferences.wants(stored, "shipping", channels["email"])


# Suppression -------------------------------------------------------------------------


EMAIL = EmailChannel("email")
SMS = SMSChannel("sms")


def test_suppress_is_idempotent_and_lower_cases_email(db):
    row, created = preferences.suppress(EMAIL, "Bad@Example.com", "bounced")
    assert created and row.address == "bad@example.com"
    again, created = preferences.suppress(
        EMAIL, "bad@example.COM", SuppressionReason.COMPLAINED
    )
    assert not created and again.pk == row.pk
    assert again.reason == SuppressionReason.BOUNCED  # the first reason stays
    assert SuppressedRecipient.objects.count() == 1


def test_suppress_stores_phone_numbers_in_e164(db):
    row, _created = preferences.suppress(SMS, " +1 415-555-0100 ", "manual")
    assert (row.channel, row.address) == ("sms", "+14155550100")
    assert preferences.is_suppressed(SMS, "+14155550100")
    assert preferences.is_suppressed(SMS, "+1 (415) 555 0100")
    # Not a number: kept as given (stripped), still suppressible.
    row, _created = preferences.suppress(SMS, " call me ", "manual")
    assert row.address == "call me"


def test_suppression_is_keyed_by_the_configured_name(db):
    preferences.suppress(SMSChannel("text"), "+14155550100", "manual")
    assert SuppressedRecipient.objects.get().channel == "text"
    assert preferences.is_suppressed(SMSChannel("text"), "+14155550100")
    assert not preferences.is_suppressed(SMS, "+14155550100")


def test_is_suppressed_per_channel(db):
    preferences.suppress(EMAIL, "bad@example.com", "bounced")
    assert preferences.is_suppressed(EMAIL, "BAD@example.com")
    assert not preferences.is_suppressed(SMS, "bad@example.com")
    assert not preferences.is_suppressed(EMAIL, "good@example.com")


def test_suppressed_addresses_in_one_query(db):
    preferences.suppress(EMAIL, "bad@example.com", "bounced")
    preferences.suppress(SMS, "+15005550006", "manual")
    addresses = ["Bad@Example.com", "good@example.com", "bad@example.com"]
    with CaptureQueriesContext(connection) as queries:
        found = preferences.suppressed_addresses(EMAIL, addresses)
    assert len(queries) == 1
    assert found == {"Bad@Example.com", "bad@example.com"}
    assert preferences.suppressed_addresses(SMS, ["+1 500 555 0006"]) == {
        "+1 500 555 0006"
    }
    assert preferences.suppressed_addresses(EMAIL, []) == set()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_changes_create_one_row_and_keep_both(channels):
    import threading

    from django.db import connections

    categories = ["order", "shipping"] * 4
    barrier = threading.Barrier(len(categories))
    errors = []

    def change(index, category):
        try:
            preference = preferences.preference_for(email="new@example.com")
            barrier.wait()
            preferences.set_channels(preference, category, ["email", str(index)])
        except Exception as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=change, args=(index, category))
        for index, category in enumerate(categories)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    stored = NotificationPreference.objects.get()
    assert set(stored.channels) == {"order", "shipping"}
