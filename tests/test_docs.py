"""Every Python block of README.rst and docs/*.rst runs, so the docs cannot drift.

How a block runs, and how a page says so, is in tests/docs_snippets.py and in
docs/testing.rst ("Writing docs").
"""

import sys
import textwrap

import pytest

from tests import docs_snippets

if not (docs_snippets.ROOT / "docs").is_dir():
    # tox's dist env runs a copy of tests/ against the installed wheel, without
    # the docs beside it.
    pytest.skip("no docs/ beside tests/ here", allow_module_level=True)

SNIPPETS = docs_snippets.collect()


@pytest.mark.django_db
@pytest.mark.parametrize("snippet", SNIPPETS, ids=[snippet.id for snippet in SNIPPETS])
def test_snippet(snippet, request):
    page = [other for other in SNIPPETS if other.path == snippet.path]
    docs_snippets.run(snippet, page, request)


# --- The runner itself: wrong docs must fail. ---------------------------------------


def _snippet(text):
    [snippet] = docs_snippets.parse(textwrap.dedent(text), "docs/example.rst")
    return snippet


def test_kinds_are_inferred_from_the_block():
    settings = _snippet(
        """
        .. code:: python

            ORDER_UPDATES = {"TRACK_NEW_ORDERS": True}
        """
    )
    module = _snippet(
        """
        .. code:: python

            # shop/pipeline.py
            PIPELINE = None
        """
    )
    code = _snippet(
        """
        .. code:: python

            services.get_status(order)
        """
    )
    assert (settings.kind, module.kind, module.module, code.kind) == (
        "settings",
        "module",
        "shop.pipeline",
        "code",
    )
    assert (settings.id, settings.code_line) == ("docs/example.rst:2", 4)


def test_python_shown_inside_another_block_is_not_a_block():
    text = """
    .. code:: rst

        .. code:: python

            print("an example of rst")
    """
    assert docs_snippets.parse(textwrap.dedent(text), "docs/example.rst") == []


def test_an_annotation_sets_kind_options_and_hidden_setup():
    snippet = _snippet(
        """
        .. snippet: code shop=plainshop
           services.start_tracking(order)

        .. code:: python

            services.get_status(order)
        """
    )
    assert snippet.kind == "code"
    assert snippet.options == {"shop": "plainshop"}
    assert snippet.setup == "services.start_tracking(order)"


@pytest.mark.parametrize(
    "annotation",
    [".. snippet: skip", ".. snippet: maybe", ".. snippet: code shop=bigshop"],
)
def test_a_bad_annotation_is_an_error(annotation):
    with pytest.raises(docs_snippets.SnippetError):
        _snippet(
            """
            %s

            .. code:: python

                pass
            """
            % annotation
        )


def test_an_unknown_placeholder_call_is_an_error():
    snippet = _snippet(
        """
        .. code:: python

            Shipment.objects.create(...)
        """
    )
    with pytest.raises(docs_snippets.SnippetError, match="PLACEHOLDERS"):
        docs_snippets.compile_snippet(snippet)


@pytest.mark.django_db
def test_settings_that_fail_the_checks_fail(request):
    snippet = _snippet(
        """
        .. code:: python

            ORDER_UPDATES = {"TRACK_NEW_ORDER": True}
        """
    )
    with pytest.raises(AssertionError, match=r"order_updates\.E005"):
        docs_snippets.run(snippet, [snippet], request)


@pytest.mark.django_db
def test_a_result_comment_that_is_wrong_fails(request):
    snippet = _snippet(
        """
        .. code:: python

            services.start_tracking(order)
            services.get_status(order).code  # "confirmed"
        """
    )
    with pytest.raises(AssertionError, match="'placed', but the comment"):
        docs_snippets.run(snippet, [snippet], request)


@pytest.mark.django_db
def test_a_test_the_block_defines_is_run(request):
    snippet = _snippet(
        """
        .. code:: python

            def test_status(order):
                assert services.get_status(order) is not None
        """
    )
    with pytest.raises(AssertionError):
        docs_snippets.run(snippet, [snippet], request)


@pytest.mark.django_db
def test_setup_code_may_change_settings_for_the_block(request):
    snippet = _snippet(
        """
        .. snippet: code
           settings.ORDER_UPDATES = {**settings.ORDER_UPDATES, "CHANNELS": {}}

        .. code:: python

            from order_updates.notifications.channels import get_channels

            get_channels()  # {}
        """
    )
    docs_snippets.run(snippet, [snippet], request)


@pytest.mark.django_db
def test_models_are_checked(request):
    snippet = _snippet(
        """
        .. code:: python

            # shop/models.py
            from django.db import models


            class Order(models.Model):
                customer = models.ForeignKey("nowhere.Thing", models.CASCADE)
        """
    )
    with pytest.raises(AssertionError, match=r"fields\.E300"):
        docs_snippets.run(snippet, [snippet], request)


@pytest.mark.django_db
def test_a_settings_block_imports_the_pages_modules(request):
    page = docs_snippets.parse(
        textwrap.dedent(
            """
            .. code:: python

                # shop/pipeline.py
                PIPELINE = {"statuses": [{"code": "new", "transitions": ["gone"]}]}

            .. code:: python

                ORDER_UPDATES = {"PIPELINE": "shop.pipeline.PIPELINE"}
            """
        ),
        "docs/example.rst",
    )
    with pytest.raises(AssertionError, match=r"order_updates\.E004"):
        docs_snippets.run(page[1], page, request)
    assert "shop.pipeline" not in sys.modules


@pytest.mark.django_db
def test_a_beat_schedule_names_tasks_that_exist(request):
    snippet = _snippet(
        """
        .. code:: python

            CELERY_BEAT_SCHEDULE = {"sweep": {"task": "order_updates.sweep"}}
        """
    )
    with pytest.raises(AssertionError, match=r"'order_updates\.sweep'"):
        docs_snippets.run(snippet, [snippet], request)
