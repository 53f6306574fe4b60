"""Pruning the notification log, and the health check (command and view)."""

import datetime
import io
import json

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from order_updates import services
from order_updates.models import (
    DeliveryFeedback,
    Notification,
    NotificationState,
    SweeperRun,
)
from order_updates.notifications import delivery
from order_updates.notifications.maintenance import health, prune
from order_updates.tasks import prune_outbox


def rows_created(make_order, days_ago, count=1, state=NotificationState.SENT):
    """``count`` notifications in ``state`` created ``days_ago`` days ago."""
    when = timezone.now() - datetime.timedelta(days=days_ago)
    created = []
    with time_machine.travel(when, tick=False):
        for _ in range(count):
            order = make_order()
            services.start_tracking(order)
            row = Notification.objects.get(order_id=order.pk)
            Notification.objects.filter(pk=row.pk).update(
                state=state, subject="Hi", body_text="Text", body_html="<p>Html</p>"
            )
            created.append(row.pk)
    return created


def test_prune_empties_old_bodies_then_deletes_older_rows(make_order):
    ancient = rows_created(make_order, 400)
    old = rows_created(make_order, 100, count=2)
    fresh = rows_created(make_order, 10)
    waiting = rows_created(make_order, 400, state=NotificationState.PENDING)
    DeliveryFeedback.objects.create(
        notification_id=ancient[0], provider="x", event_id="1", event_type="delivered"
    )

    assert prune(dry_run=True).__dict__ == {"bodies_cleared": 2, "rows_deleted": 1}
    assert Notification.objects.count() == 5  # a dry run changes nothing

    result = prune(batch_size=1)
    assert (result.bodies_cleared, result.rows_deleted) == (2, 1)
    remaining = {row.pk: row for row in Notification.objects.all()}
    assert set(remaining) == {*old, *fresh, *waiting}
    assert not DeliveryFeedback.objects.exists()
    assert all(remaining[pk].body_html == "" for pk in old)
    assert remaining[fresh[0]].body_html == "<p>Html</p>"
    # A pending row is never touched, however old.
    assert remaining[waiting[0]].body_text == "Text"
    # Nothing more to do the second time.
    assert prune().__dict__ == {"bodies_cleared": 0, "rows_deleted": 0}


def test_prune_settings_and_none_keeps_forever(make_order, settings):
    rows_created(make_order, 4000)
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "PRUNE_BODIES_AFTER_DAYS": None,
        "PRUNE_ROWS_AFTER_DAYS": None,
    }
    assert prune().__dict__ == {"bodies_cleared": 0, "rows_deleted": 0}
    assert prune(rows_days=3650).rows_deleted == 1
    with pytest.raises(ValueError, match="PRUNE_ROWS_AFTER_DAYS"):
        prune(rows_days=-1)


def test_prune_command_and_task(make_order):
    rows_created(make_order, 400)
    rows_created(make_order, 100)
    out = io.StringIO()
    call_command("order_updates_prune", "--dry-run", stdout=out)
    assert out.getvalue().strip() == (
        "Would clear the bodies of 1 notification(s); would delete 1 old "
        "notification(s).\nWould delete 0 old webhook delivery(ies)."
    )
    assert prune_outbox.run() == {
        "bodies_cleared": 1,
        "rows_deleted": 1,
        "webhook_deliveries_deleted": 0,
    }


def test_health_fails_until_the_sweeper_ran_and_when_rows_wait(make_order, settings):
    result = health()
    assert not result.ok and "never run" in result.problems[0]

    delivery.sweep()
    assert health().ok

    order = make_order()
    services.start_tracking(order)
    Notification.objects.update(
        next_attempt_at=timezone.now() - datetime.timedelta(minutes=11)
    )
    result = health()
    assert not result.ok
    assert result.oldest_due_seconds > 600
    assert "waited" in result.problems[0]

    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=10)):
        problems = health().problems
    assert any("sweeper last ran" in problem for problem in problems)


def test_health_command_exit_code_and_json(make_order):
    with pytest.raises(SystemExit) as exit_info:
        call_command("order_updates_health", stdout=io.StringIO(), stderr=io.StringIO())
    assert exit_info.value.code == 1
    SweeperRun.objects.create(pk=1)
    out = io.StringIO()
    call_command("order_updates_health", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["status"] == "ok" and report["problems"] == []


def test_health_view_for_staff_and_token_only(client, staff_user, settings):
    url = reverse("order_updates:health")
    assert client.get(url).status_code == 404
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "HEALTH_TOKEN": "s3cret"}
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    response = client.get(url, HTTP_AUTHORIZATION="Bearer s3cret")
    assert response.status_code == 503  # the sweeper never ran
    assert response.json()["status"] == "failing"
    delivery.sweep()
    client.force_login(staff_user)
    response = client.get(url)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response["Cache-Control"].startswith("max-age=0")
