"""The progress bar's logic (order_updates.core.progress): pure, no database."""

import pytest

from order_updates.core.progress import (
    CURRENT,
    DONE,
    UPCOMING,
    completed_codes,
    get_progress,
    is_completed,
)
from order_updates.pipeline import DEFAULT_PIPELINE, Pipeline

PIPELINE = Pipeline.from_config(DEFAULT_PIPELINE)


def states(progress):
    return [step.state for step in progress.steps]


@pytest.mark.parametrize(
    ("status", "expected", "percent"),
    [
        ("placed", [CURRENT, UPCOMING, UPCOMING, UPCOMING, UPCOMING], 20),
        ("confirmed", [CURRENT, UPCOMING, UPCOMING, UPCOMING, UPCOMING], 20),
        ("processing", [DONE, CURRENT, UPCOMING, UPCOMING, UPCOMING], 40),
        ("shipped", [DONE, DONE, CURRENT, UPCOMING, UPCOMING], 60),
        ("out_for_delivery", [DONE, DONE, DONE, CURRENT, UPCOMING], 80),
        ("delivered", [DONE, DONE, DONE, DONE, CURRENT], 100),
    ],
)
def test_on_path_statuses(status, expected, percent):
    progress = get_progress(status, pipeline=PIPELINE)
    assert states(progress) == expected
    assert progress.percent == percent
    assert not progress.off_path
    assert progress.current_step.code == PIPELINE.statuses[status].stage
    assert [step.code for step in progress.steps] == [
        "ordered",
        "preparing",
        "on_its_way",
        "out_for_delivery",
        "delivered",
    ]
    assert progress.completed is (status == "delivered")


def test_off_path_without_history_shows_no_step_reached():
    progress = get_progress("on_hold", pipeline=PIPELINE)
    assert progress.off_path
    assert progress.current_step is None
    assert progress.index is None
    assert states(progress) == [UPCOMING] * 5
    assert progress.percent == 0
    assert not progress.completed
    assert str(progress.status.label) == "On hold"


def test_off_path_shows_how_far_the_order_had_come():
    progress = get_progress("on_hold", reached="processing", pipeline=PIPELINE)
    # Reached steps are done; none is current: the order is not moving on.
    assert states(progress) == [DONE, DONE, UPCOMING, UPCOMING, UPCOMING]
    assert progress.current_step is None
    assert progress.index == 1


def test_reached_is_ignored_on_the_path_and_when_unknown():
    on_path = get_progress("shipped", reached="placed", pipeline=PIPELINE)
    assert states(on_path) == [DONE, DONE, CURRENT, UPCOMING, UPCOMING]
    unknown = get_progress("on_hold", reached="no_such_status", pipeline=PIPELINE)
    assert states(unknown) == [UPCOMING] * 5


def test_terminal_and_last_stage_statuses_are_completed():
    assert completed_codes(PIPELINE) == ["delivered", "cancelled", "refunded"]
    assert is_completed(PIPELINE.statuses["cancelled"], PIPELINE)
    assert not is_completed(PIPELINE.statuses["returned"], PIPELINE)
    assert get_progress("cancelled", pipeline=PIPELINE).completed


def test_a_retired_status_is_off_the_path():
    progress = get_progress("gone_status", pipeline=PIPELINE)
    assert progress.off_path
    assert progress.status.label == "gone_status"


def test_a_pipeline_without_stages_has_no_steps():
    pipeline = Pipeline.from_config(
        {"statuses": [{"code": "placed", "transitions": ["done"]}, {"code": "done"}]}
    )
    progress = get_progress("placed", pipeline=pipeline)
    assert progress.steps == ()
    assert progress.percent == 0
    assert progress.off_path
    assert completed_codes(pipeline) == ["done"]
