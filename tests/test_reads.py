"""Several small reads in one statement (core.reads)."""

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from order_updates.core.reads import instances, read_together
from order_updates.models import (
    Notification,
    NotificationPreference,
    NotificationTypeSetting,
)
from order_updates.notifications.outbox import PREFERENCE_FIELDS


def test_reads_of_several_tables_come_back_as_their_values(db, django_user_model):
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    consent = datetime.datetime(
        2026, 3, 1, 9, 30, 15, 123456, tzinfo=datetime.timezone.utc
    )
    saved = [
        NotificationPreference.objects.create(
            user=user,
            channels={"order": ["email"], "shipping": []},
            sms_consent_at=consent,
            timezone="Europe/Berlin",
        ),
        NotificationPreference.objects.create(email="guest@example.com"),
    ]
    NotificationTypeSetting.objects.create(type="shipped", enabled=False)
    NotificationTypeSetting.objects.create(type="delivered", enabled=True)
    with CaptureQueriesContext(connection) as queries:
        found = read_together(
            {
                "switches": (
                    NotificationTypeSetting.objects.all(),
                    ("type", "enabled"),
                ),
                "preferences": (
                    NotificationPreference.objects.all(),
                    PREFERENCE_FIELDS,
                ),
                "none": (Notification.objects.filter(pk__in=[]), ("id",)),
            }
        )
    assert len(queries) == 1
    assert sorted(found["switches"]) == [("delivered", True), ("shipped", False)]
    assert found["none"] == []
    read = sorted(
        instances(NotificationPreference, PREFERENCE_FIELDS, found["preferences"]),
        key=lambda pref: pref.pk,
    )
    for got, expected in zip(read, saved, strict=True):
        expected.refresh_from_db()
        for field in NotificationPreference._meta.concrete_fields:
            assert getattr(got, field.attname) == getattr(expected, field.attname)
        assert not got.get_deferred_fields()
    assert read[0].sms_consent_at == consent
    assert read[0].channels == {"order": ["email"], "shipping": []}
    assert read[1].user_id is None and read[1].sms_consent_at is None


def test_nothing_to_read_costs_no_query(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert read_together({}) == {}
    with django_assert_num_queries(0):
        found = read_together({"none": (Notification.objects.none(), ("id",))})
    assert found == {"none": []}
