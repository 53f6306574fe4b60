import pytest

from order_updates.exceptions import InvalidTransition, UnknownStatus
from order_updates.pipeline import DEFAULT_PIPELINE, Pipeline, get_pipeline


def test_default_pipeline_is_valid_and_complete():
    pipeline = get_pipeline()
    assert pipeline.validate() == []
    assert pipeline.unreachable() == []
    assert list(pipeline.statuses) == [
        "placed",
        "confirmed",
        "processing",
        "partially_shipped",
        "shipped",
        "out_for_delivery",
        "delivered",
        "on_hold",
        "cancelled",
        "returned",
        "refunded",
    ]
    assert pipeline.initial == "placed"
    assert {s.code for s in pipeline if s.terminal} == {"cancelled", "refunded"}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("placed", "confirmed"),
        ("confirmed", "processing"),
        ("processing", "shipped"),
        ("shipped", "out_for_delivery"),
        ("out_for_delivery", "delivered"),
        ("out_for_delivery", "shipped"),
        ("on_hold", "processing"),
        ("delivered", "returned"),
        ("returned", "refunded"),
    ],
)
def test_allowed_transitions(old, new):
    pipeline = get_pipeline()
    assert pipeline.can_transition(old, new)
    pipeline.check_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("placed", "delivered"),
        ("shipped", "cancelled"),
        ("delivered", "placed"),
        ("cancelled", "placed"),
        ("refunded", "delivered"),
    ],
)
def test_forbidden_transitions(old, new):
    pipeline = get_pipeline()
    assert not pipeline.can_transition(old, new)
    with pytest.raises(InvalidTransition) as info:
        pipeline.check_transition(old, new)
    assert info.value.from_status == old
    assert isinstance(info.value, ValueError)


def test_terminal_status_says_so():
    with pytest.raises(InvalidTransition, match="terminal"):
        get_pipeline().check_transition("cancelled", "placed")


def test_unknown_status_lists_known_ones():
    with pytest.raises(UnknownStatus, match="Known statuses: placed, confirmed"):
        get_pipeline().get("teleported")


def test_stage_index_orders_progress():
    pipeline = get_pipeline()
    assert pipeline.stage_index("placed") == 0
    assert pipeline.stage_index("confirmed") == 0
    assert pipeline.stage_index("delivered") == len(pipeline.stages) - 1
    assert pipeline.stage_index("on_hold") is None


def test_from_config_derives_terminal_and_labels():
    pipeline = Pipeline.from_config(
        {
            "initial": "new",
            "stages": [{"code": "s", "label": "S"}],
            "statuses": [
                {"code": "new", "transitions": ["picked_up"], "stage": "s"},
                {"code": "picked_up"},
            ],
        }
    )
    assert pipeline.validate() == []
    assert pipeline.get("picked_up").terminal
    assert pipeline.get("picked_up").label == "Picked up"
    assert not pipeline.get("new").terminal


def test_validate_reports_every_problem():
    pipeline = Pipeline.from_config(
        {
            "initial": "ghost",
            "stages": [("a", "A"), ("a", "A again")],
            "statuses": [
                {"code": "new", "transitions": ["nowhere", "new"], "stage": "b"},
                {"code": "new"},
                {"code": "Bad-Code"},
                {"code": "done", "terminal": True, "transitions": ["new"]},
                {"code": "x", "colour": "red"},
            ],
        }
    )
    problems = "\n".join(pipeline.validate())
    assert "'new' is defined twice" in problems
    assert "Stage 'a' is defined twice" in problems
    assert "'Bad-Code' is invalid" in problems
    assert "stage 'b'" in problems
    assert "may move to 'nowhere'" in problems
    assert "'new' lists itself" in problems
    assert "'done' is terminal but lists transitions" in problems
    assert "unknown keys: colour" in problems
    assert "initial status 'ghost'" in problems


def test_unreachable_statuses_are_found():
    config = dict(DEFAULT_PIPELINE)
    config["statuses"] = [*DEFAULT_PIPELINE["statuses"], {"code": "lost_in_space"}]
    assert Pipeline.from_config(config).unreachable() == ["lost_in_space"]
