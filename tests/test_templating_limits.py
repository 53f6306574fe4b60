"""Merchant templates cannot hurt the worker: bounded ranges, filters and time.

Every hostile template here is either refused when saved, with a message that
says why, or stops when rendered with a clear ``TemplateError``. Work is
asserted with counters (a "tick" filter counting its calls), never with timings.
"""

import re
import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import translation

from order_updates import services
from order_updates.exceptions import (
    OrderUpdatesConfigurationError,
    TemplateError,
    TemplateValidationError,
)
from order_updates.models import Notification, NotificationState, NotificationTemplate
from order_updates.notifications import delivery
from order_updates.notifications.channels.email import EmailChannel
from order_updates.notifications.channels.push import WebPushChannel
from order_updates.notifications.channels.sms import SMSChannel
from order_updates.notifications.templating import (
    preview,
    render,
    sample_context,
    save_template,
    validate_template,
)
from order_updates.notifications.templating.environment import (
    NotificationEnvironment,
    get_environment,
)
from order_updates.notifications.templating.limits import (
    RenderBudgetExceeded,
    TemplateLimitError,
    render_budget,
)
from order_updates.notifications.templating.sources import PART_FIELDS, file_sources
from order_updates.notifications.types import DEFAULT_TYPES
from tests.celery_worker import WorkerProcess, wait_for

TYPES = [item.code for item in DEFAULT_TYPES]

#: Half a millisecond of work per call or so (uniq compares all pairs).
HEAVY = "{{ (1..2000) | uniq | size | tick }}"
#: 10,000 heavy calls: seconds of work, within the loop iteration limit.
HEAVY_LOOPS = (
    "{% for i in (1..100) %}{% for j in (1..100) %}"
    + HEAVY
    + "{% endfor %}{% endfor %}"
)

#: The channels the templates are checked for, built as CHANNELS would build them.
CHANNELS = {
    "email": EmailChannel("email"),
    "sms": SMSChannel("sms"),
    "push": WebPushChannel("push"),
}


@pytest.fixture
def ticks():
    """A filter ``tick`` (on both environments) counting its calls."""
    calls = []

    def tick(value):
        calls.append(value)
        return value

    environments = [get_environment(html) for html in (False, True)]
    for environment in environments:
        environment.add_filter("tick", tick)
    yield calls
    for environment in environments:
        del environment.filters["tick"]


@pytest.fixture
def small_budget(settings):
    """A 50 ms budget, so that the tests that use it up are quick."""
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "TEMPLATE_RENDER_BUDGET_MS": 50}
    return 50


def render_text(source, **data):
    return get_environment(False).from_string(source).render(**data)


def errors_for(source, channel="sms", type_code="shipped"):
    channel = CHANNELS[channel]
    field = "body_text"
    return validate_template(type_code, channel, **{field: source}).get(field, [])


# Ranges ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ (1..100000000) | sum }}",
        "{{ (1..20000000) | sort_natural }}",
        "{{ (1..100000000) | size }}",
        "{% for i in (1..100000000) offset: 99999999 limit: 1 %}{{ i }}{% endfor %}",
        "{% assign x = (1..100000000) %}",
        "{% if order.number != '1001' %}{{ (0..5000) | join }}{% endif %}",
    ],
)
def test_written_out_huge_range_is_refused_at_save_with_its_line(db, source):
    errors = errors_for("Hello\n" + source)
    assert len(errors) == 1
    assert re.fullmatch(
        r"line 2: the range \(\d+\.\.\d+\) has \d+ items; at most 2000 are allowed\.",
        errors[0],
    )
    with pytest.raises(TemplateValidationError):
        save_template("shipped", CHANNELS["sms"], "en", body_text=source)
    assert not NotificationTemplate.objects.exists()


@pytest.mark.parametrize(
    "source",
    [
        "{{ (1..n) | sum }}",
        "{{ (1..n) | sort }}",
        "{{ (1..n) | sort_natural }}",
        "{{ (1..n) | map: 'x' }}",
        "{{ (1..n) | join }}",
        "{{ (1..n) | uniq }}",
        "{{ (1..n) | reverse }}",
        "{{ (1..n) | where: 'x' }}",
        "{{ (1..n) | concat: (1..3) }}",
        "{{ (1..3) | concat: (1..n) }}",
        "{{ (1..n) | slice: 0, 2 }}",
        "{{ (1..n) | size }}",
        "{{ (1..n) | first }}",
        "{{ (1..n) }}",
        "{% for i in (1..n) %}{% endfor %}",
        "{% for i in (1..n) limit: 1 %}{% endfor %}",
        "{% for i in (1..n) offset: 99999999 %}{% endfor %}",
        "{% for i in (1..n) reversed limit: 1 %}{% endfor %}",
        "{% tablerow i in (1..n) %}{% endtablerow %}",
        "{% assign x = (1..n) %}",
        "{% if (1..n) contains 5 %}{% endif %}",
        "{% case (1..n) %}{% when 1 %}{% endcase %}",
        "{% liquid\nassign x = (1..n)\n%}",
        "{% echo (1..n) %}",
        "{% capture x %}{{ (1..n) | last }}{% endcapture %}",
        '{% include "email/_message.txt", x: (1..n) %}',
        '{% render "email/_message.txt", x: (1..n) %}',
    ],
)
def test_huge_range_is_refused_wherever_it_is_used(source):
    with pytest.raises(
        TemplateLimitError, match=r"the range \(1\.\.100000000\) has 100000000 items"
    ):
        render_text(source, n=100_000_000)


def test_range_at_the_limit_is_fine():
    assert render_text("{{ (1..n) | sum }}", n=2000) == str(2000 * 2001 // 2)
    with pytest.raises(TemplateLimitError, match=r"\(1\.\.2001\) has 2001 items"):
        render_text("{{ (1..n) | sum }}", n=2001)


def test_limit_messages_are_translated(db):
    with translation.override("de"):
        assert errors_for("{{ (1..5000) | sum }}") == [
            "line 1: der Bereich (1..5000) hat 5000 Elemente; höchstens 2000 sind "
            "erlaubt."
        ]
        with pytest.raises(TemplateLimitError) as caught:
            render_text("{{ big | sort }}", big=list(range(3000)))
    assert str(caught.value).startswith(
        "„sort“ erhielt eine Liste mit mehr als 2000 Elementen"
    )


def test_nested_loops_over_written_out_ranges_are_refused_at_save(db):
    source = (
        "{% for i in (1..200) %}{% if order.number == 'x' %}"
        "{% for j in (1..100) %}x{% endfor %}{% endif %}{% endfor %}"
    )
    assert errors_for(source) == [
        "line 1: these nested loops repeat 20000 times (at most 10000 allowed)."
    ]


# Filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "data", "message"),
    [
        ("{{ big | sort }}", {"big": list(range(3000))}, "'sort' got a list of more"),
        (
            "{{ big | map: 'name' | join }}",
            {"big": [{"name": "x"}] * 3000},
            "'map' got a list of more than 2000 items",
        ),
        (
            "{{ nested | join }}",
            {"nested": [list(range(1000))] * 3},
            "'join' got a list of more than 2000 items",
        ),
        ("{{ text | upcase }}", {"text": "x" * 300_000}, "'upcase' got a text of"),
        (
            "{{ 'a' | append: text }}",
            {"text": "x" * 300_000},
            "'append' got a text of 300000 characters",
        ),
        (
            "{{ text | split: '' | size }}",
            {"text": "x" * 3000},
            "'split' would make a list of more than 2000 items",
        ),
        (
            "{{ text | replace: 'x', text }}",
            {"text": "x" * 10_000},
            "'replace' would make a text of 100000000 characters",
        ),
        (
            "{{ (1..2000) | join: text }}",
            {"text": "x" * 200_000},
            "'join' would make a text of",
        ),
        (
            "{% assign n = 10 %}{% for i in (1..30) %}"
            "{% assign n = n | times: n %}{% endfor %}{{ n }}",
            {},
            "'times' would make a number of more than 30 digits",
        ),
    ],
)
def test_filters_refuse_giant_input_and_output(source, data, message):
    with pytest.raises(TemplateLimitError, match=message):
        render_text(source, **data)


def test_filters_added_later_are_limited_too(ticks):
    with pytest.raises(TemplateLimitError, match="'tick' got a list of more"):
        render_text("{{ big | tick }}", big=list(range(3000)))
    assert ticks == []


def test_strings_doubled_with_append_stop(db):
    source = (
        "{% assign s = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}"
        "{% for i in (1..30) %}{% assign s = s | append: s | append: s %}{% endfor %}"
    )
    with pytest.raises(TemplateError) as caught:
        preview("shipped", CHANNELS["sms"], "en", body_text=source)
    assert "local namespace limit" in str(caught.value) or "'append' would make" in str(
        caught.value
    )
    assert errors_for(source)[0].startswith("Fails with sample data: line 1: ")


def test_giant_capture_stops(db):
    line = "x" * 100
    source = (
        "{% capture big %}{% for i in (1..100) %}{% for j in (1..100) %}"
        + line
        + "{% endfor %}{% endfor %}{% endcapture %}{{ big | size }}"
    )
    with pytest.raises(TemplateError, match=r"output stream limit|local namespace"):
        preview("shipped", CHANNELS["sms"], "en", body_text=source)
    assert errors_for(source)


# The budget ------------------------------------------------------------------------


def test_budget_stops_a_template_within_the_limits(db, ticks, small_budget):
    with pytest.raises(TemplateError) as caught:
        preview("shipped", CHANNELS["sms"], "en", body_text=HEAVY_LOOPS)
    assert str(caught.value) == (
        "Could not render the text of the shipped sms notification (preview): "
        "line 1: the template took longer than 50 ms: it does too much work in "
        "loops or filters."
    )
    # 10,000 calls were asked for; each takes about a millisecond.
    assert 0 < len(ticks) < 1000


def test_repeated_case_blocks_use_up_the_budget(small_budget):
    when = "{% case 1 %}{% when 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 %}"
    source = when * 9 + "{% assign x = 1 %}" + "{% endcase %}" * 9  # 10**9 assigns
    with pytest.raises(RenderBudgetExceeded, match="took longer than 50 ms"):
        render_text(source)


def test_recursive_partial_stops(db, tmp_path, settings):
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    folder = tmp_path / "order_updates" / "notifications" / "sms"
    folder.mkdir(parents=True)
    (folder / "_again.txt").write_text('x{% render "sms/_again.txt" %}')
    with pytest.raises(TemplateError, match="context depth"):
        preview(
            "shipped", CHANNELS["sms"], "en", body_text='{% render "sms/_again.txt" %}'
        )


def test_partials_in_loops_use_up_the_budget(db, ticks, small_budget):
    source = (
        "{% for i in (1..100) %}{% for j in (1..100) %}"
        '{% include "email/_shipment.txt" %}' + HEAVY + "{% endfor %}{% endfor %}"
    )
    with pytest.raises(TemplateError, match="took longer than 50 ms"):
        preview("shipped", CHANNELS["sms"], "en", body_text=source)
    assert len(ticks) < 1000


def test_budget_works_in_a_thread(ticks, small_budget):
    outcome = []

    def run():
        try:
            render_text(HEAVY_LOOPS)
        except RenderBudgetExceeded as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert len(outcome) == 1 and "took longer than 50 ms" in str(outcome[0])
    assert len(ticks) < 1000


@pytest.fixture
def naps():
    """A filter ``nap`` (text part) that sleeps 15 ms: wall time, no CPU time."""
    calls = []

    def nap(value):
        calls.append(value)
        time.sleep(0.015)
        return value

    environment = get_environment(False)
    environment.add_filter("nap", nap)
    yield calls
    del environment.filters["nap"]


def test_budget_counts_cpu_time_not_waiting(naps, small_budget):
    # 90 ms of sleep is more than the 50 ms budget, but no work: it renders.
    assert render_text("{% for i in (1..6) %}{{ i | nap }}{% endfor %}") == "123456"
    assert len(naps) == 6


def test_budget_gives_up_at_ten_times_its_wall_clock_time(naps, small_budget):
    # 200 naps would take 3 s; the render gives up after 500 ms of waiting.
    with pytest.raises(RenderBudgetExceeded, match="took longer than 50 ms"):
        render_text("{% for i in (1..200) %}{{ i | nap }}{% endfor %}")
    assert 0 < len(naps) < 200


def test_each_render_has_its_own_budget(small_budget):
    template = get_environment(False).from_string("{{ 1 | plus: 1 }}")
    assert [template.render() for _ in range(3)] == ["2", "2", "2"]


def test_an_outer_budget_covers_the_renders_inside(ticks):
    with render_budget(30) as budget:
        with pytest.raises(RenderBudgetExceeded, match="longer than 30 ms"):
            render_text(HEAVY_LOOPS)
        assert budget is not None
        with pytest.raises(RenderBudgetExceeded):
            render_text(HEAVY)  # the same budget, still used up
    assert render_text("{{ 2 | tick }}") == "2"  # a new render, a new budget


def test_budget_setting_must_be_a_positive_number(settings):
    settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "TEMPLATE_RENDER_BUDGET_MS": 0}
    with pytest.raises(
        OrderUpdatesConfigurationError, match=r"\['TEMPLATE_RENDER_BUDGET_MS'\]"
    ):
        render_text("x")
    with pytest.raises(SystemCheckError, match=r"order_updates\.E009"):
        call_command("check")
    settings.ORDER_UPDATES = {
        **settings.ORDER_UPDATES,
        "TEMPLATE_RENDER_BUDGET_MS": 1.5,
    }
    assert render_text("x") == "x"


# Validation takes every branch -----------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        '{% if order.number != "1001" %}' + HEAVY_LOOPS + "{% endif %}",
        '{% if order.number == "1001" %}ok{% elsif order.items %}{% else %}'
        + HEAVY_LOOPS
        + "{% endif %}",
        '{% unless order.number == "1001" %}' + HEAVY_LOOPS + "{% endunless %}",
        '{% case order.number %}{% when "1001" %}ok{% else %}'
        + HEAVY_LOOPS
        + "{% endcase %}",
        # A statement that fails for sample data does not hide what follows.
        '{% if order.number != "1001" %}{{ 1 | divided_by: 0 }}'
        + HEAVY_LOOPS
        + "{% endif %}",
        # Nor does a loop over nothing, nor a break the sample data takes.
        "{% for shipment in shipments %}" + HEAVY_LOOPS + "{% endfor %}",
        '{% for i in (1..2000) %}{% if order.number == "1001" %}{% break %}'
        "{% endif %}{% for j in (1..5) %}" + HEAVY + "{% endfor %}{% endfor %}",
        # Values assigned in a branch reach the work they size.
        '{% assign n = 3 %}{% if order.number != "1001" %}'
        "{% assign n = 100000000 %}{% endif %}{{ (1..n) | sum }}",
    ],
)
def test_work_hidden_behind_a_condition_is_refused_at_save(
    db, ticks, small_budget, source
):
    source = source.replace(" | tick", "")  # validation knows no "tick"
    # The sample order received has no shipments.
    errors = errors_for(source, type_code="order_received")
    assert len(errors) == 1, errors
    assert errors[0].startswith(
        "Does too much work when other branches are taken: line 1: "
    )
    assert "took longer than 50 ms" in errors[0] or "has 100000000 items" in errors[0]


def test_errors_in_branches_sample_data_skips_are_no_limit(db):
    source = (
        '{% if order.number == "1001" %}{{ order.number }}'
        "{% else %}{{ 1 | divided_by: 0 }}{{ order.items | map: 5 }}{% endif %}"
    )
    assert errors_for(source) == []


def test_exploring_does_not_change_what_the_customer_gets(db):
    source = '{% if order.number == "1001" %}yes{% else %}no{% endif %}'
    assert errors_for(source) == []
    assert preview("shipped", CHANNELS["sms"], "en", body_text=source)["text"] == "yes"


def test_overlong_template_is_refused(db):
    source = "x" * (NotificationEnvironment.source_limit + 1)
    assert errors_for(source) == [
        "The template has 100001 characters; at most 100000 are allowed."
    ]


@pytest.mark.parametrize("language", ["en", "de", "fr"])
@pytest.mark.parametrize("channel", ["email", "sms", "push"])
def test_default_templates_pass_every_check(db, channel, language):
    for type_code in TYPES:
        with translation.override(language):
            sources = file_sources(type_code, CHANNELS[channel], language)
            fields = {PART_FIELDS[part]: s.text for part, s in sources.items()}
            assert validate_template(type_code, CHANNELS[channel], **fields) == {}
            rendered = render(
                type_code,
                CHANNELS[channel],
                language,
                sample_context(type_code, channel),
            )
        assert rendered["text"]


# At send ---------------------------------------------------------------------------


def test_hostile_template_fails_its_notification_without_retry(
    make_order, broker_queue, small_budget
):
    # Saved past validation: the worker's own limits are what stop it.
    NotificationTemplate.objects.create(
        type="order_received",
        channel="email",
        language="en",
        body_text=HEAVY_LOOPS.replace(" | tick", ""),
    )
    order = make_order(email="ada@example.com")
    services.start_tracking(order)
    row = Notification.objects.get(order_id=order.pk, channel="email")
    queued = broker_queue()
    assert delivery.deliver(row.pk) == delivery.FAILED
    row.refresh_from_db()
    assert row.state == NotificationState.FAILED
    assert row.attempts == 1
    assert row.last_error.startswith("TemplateError: Could not render the text of ")
    assert row.last_error.endswith(
        "line 1: the template took longer than 50 ms: it does too much work in "
        "loops or filters."
    )
    assert broker_queue() == queued  # not queued again


def test_range_sized_by_real_data_fails_at_send(make_order, broker_queue):
    source = "{% assign n = order.total | plus: 0 %}{{ (1..n) | size }}"
    # The sample order's total is small: this passes validation...
    save_template("order_received", CHANNELS["email"], "en", body_text=source)
    order = make_order(email="ada@example.com")
    type(order).objects.filter(pk=order.pk).update(**{_total_field(order): 99999999})
    services.start_tracking(order)
    row = Notification.objects.get(order_id=order.pk, channel="email")
    # ...and fails when an order's data makes the range too big.
    assert delivery.deliver(row.pk) == delivery.FAILED
    row.refresh_from_db()
    assert row.last_error.endswith(
        "line 1: the range (1..99999999) has 99999999 items; at most 2000 are allowed."
    )


def _total_field(order):
    return "total" if hasattr(order, "total") else "amount"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_worker_stops_a_hostile_template_at_its_budget(make_order, tmp_path, pool):
    from tests.celery_app import app

    NotificationTemplate.objects.create(
        type="order_received",
        channel="email",
        language="en",
        body_text=HEAVY_LOOPS.replace(" | tick", ""),
    )
    queue = "order_updates_budget_%s" % uuid.uuid4().hex[:8]
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    worker = WorkerProcess(queue, str(tmp_path / "mail"), pool=pool).start()
    try:
        order = make_order(email="ada@example.com")
        services.start_tracking(order)
        row = Notification.objects.get(order_id=order.pk, channel="email")
        wait_for(
            lambda: Notification.objects.filter(
                pk=row.pk, state=NotificationState.FAILED
            ).exists()
        )
        row.refresh_from_db()
        assert row.attempts == 1
        assert row.last_error.endswith(
            "line 1: the template took longer than 300 ms: it does too much work "
            "in loops or filters."
        )
    finally:
        worker.stop()
        app.conf.task_default_queue = previous
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)


def test_garbage_collection_during_a_render_does_not_count():
    """A collection of the process's garbage is not the template's work."""
    from order_updates.notifications.templating import limits

    def burn(seconds):
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass

    budget = limits.RenderBudget(20)
    limits._time_collections("start", {})
    burn(0.05)  # as if a full collection ran inside the render
    limits._time_collections("stop", {})
    budget.check()  # 50 ms of CPU, none of it the template's
    burn(0.03)
    with pytest.raises(limits.RenderBudgetExceeded):
        budget.check()
