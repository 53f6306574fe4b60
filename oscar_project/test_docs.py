"""The Python blocks of docs/oscar.rst, run against this real Oscar shop.

The main suite skips them (it has no django-oscar); here the settings block must
be the set-up this project runs with and pass the checks, and the checkout view
block must be what keeps Oscar's own email from going out.
"""

import types
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.checks import run_checks

from order_updates.models import Notification
from order_updates.notifications import delivery
from tests import docs_snippets

PAGE = Path(__file__).resolve().parent.parent / "docs" / "oscar.rst"
SNIPPETS = docs_snippets.parse(PAGE.read_text(), "docs/oscar.rst")


def block(first_line):
    [snippet] = [s for s in SNIPPETS if s.source.startswith(first_line)]
    return snippet


def run_block(first_line):
    snippet = block(first_line)
    namespace = {"__name__": "docs_oscar"}
    exec(compile(snippet.source, snippet.id, "exec"), namespace)
    return namespace


def test_every_block_of_the_page_is_run_here():
    assert sorted(s.source.splitlines()[0] for s in SNIPPETS) == [
        "# settings.py",
        "# yourshop/checkout/views.py",
    ]


def test_the_settings_block_is_this_projects_set_up(db):
    documented = run_block("# settings.py")
    for name in (
        "INSTALLED_APPS",
        "ORDER_UPDATES_ORDER_MODEL",
        "OSCAR_INITIAL_ORDER_STATUS",
        "OSCAR_ORDER_STATUS_PIPELINE",
    ):
        assert documented[name] == getattr(settings, name), name
    ours = {
        key: value
        for key, value in settings.ORDER_UPDATES.items()
        if key not in ("COALESCE_SECONDS", "QUIET_HOURS")  # tests only
    }
    assert documented["ORDER_UPDATES"] == ours


def test_the_documented_settings_pass_the_checks(settings):
    documented = run_block("# settings.py")
    settings.ORDER_UPDATES = documented["ORDER_UPDATES"]
    assert [m for m in run_checks() if m.id.startswith("order_updates")] == []


def test_the_checkout_view_block_sends_ours_instead_of_oscars(
    make_order, rf, customer, settings
):
    from test_oscar import checkout_view

    module = types.ModuleType("yourshop_checkout_views")
    snippet = block("# yourshop/checkout/views.py")
    exec(compile(snippet.source, snippet.id, "exec"), module.__dict__)
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "NOTIFICATION_TYPES": {}}
    order = make_order()
    view = checkout_view(module.PaymentDetailsView, rf, order, customer)
    view.handle_successful_order(order)
    assert mail.outbox == []  # Oscar's email is not sent
    rows = list(Notification.objects.filter(order_id=order.pk))
    assert [row.type for row in rows] == ["order_received"]
    delivery.deliver_batch([row.pk for row in rows])
    [message] = mail.outbox
    assert message.subject.startswith("Thanks for your order")


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
def test_the_main_suite_skips_them_with_a_reason(snippet):
    assert snippet.kind == "skip" and "oscar_project/test_docs.py" in snippet.reason
