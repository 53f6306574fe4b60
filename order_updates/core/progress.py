"""Where an order stands on the customer-facing progress bar: pure logic, no I/O.

The steps are the pipeline's stages (by default ordered → preparing → on its way
→ out for delivery → delivered). A status with a stage puts the order on that
step; a status without one (on hold, cancelled, returned…) is *off the path*:
the bar then shows how far the order had come before it left the path, when the
caller knows (``reached``), and the status itself says what happened. Customer
pages, the admin and the API all draw the bar from :func:`get_progress`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from order_updates.pipeline import Pipeline, Status, get_pipeline

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

#: What a step of the bar is to the order.
DONE = "done"
CURRENT = "current"
UPCOMING = "upcoming"


@dataclass(frozen=True)
class Step:
    """One stage of the bar and where the order is relative to it."""

    code: str
    label: StrOrPromise
    #: :data:`DONE`, :data:`CURRENT` or :data:`UPCOMING`.
    state: str

    @property
    def is_done(self) -> bool:
        return self.state == DONE

    @property
    def is_current(self) -> bool:
        return self.state == CURRENT


@dataclass(frozen=True)
class Progress:
    """An order's place on the bar."""

    status: Status
    steps: tuple[Step, ...]
    #: Index of the current step; for an off-path status, of the last step the
    #: order reached before leaving the path (None when not known).
    index: int | None
    #: The status has no stage (on hold, cancelled, returned…).
    off_path: bool
    #: Nothing more will happen for the customer to wait for: a terminal status,
    #: or the last stage (delivered) reached.
    completed: bool

    def __hash__(self) -> int:
        return self._hash

    @cached_property
    def _hash(self) -> int:
        # By the codes: hashing the (lazily translated) labels would translate
        # them. Worked out once: a page looks its parts up by progress.
        return hash(
            (
                self.status.code,
                tuple((step.code, step.state) for step in self.steps),
                self.index,
                self.off_path,
                self.completed,
            )
        )

    @property
    def current_step(self) -> Step | None:
        """The step the order is on (None when off the path)."""
        if self.off_path or self.index is None:
            return None
        return self.steps[self.index]

    @property
    def done_count(self) -> int:
        """How many steps are behind the order (the current one included)."""
        return sum(1 for step in self.steps if step.state != UPCOMING)

    @property
    def percent(self) -> int:
        """How far along the bar the order is, 0 to 100."""
        if not self.steps:
            return 0
        return round(100 * self.done_count / len(self.steps))


def is_completed(status: Status, pipeline: Pipeline) -> bool:
    """Whether an order in ``status`` is finished, for "open/completed" filters."""
    if status.terminal:
        return True
    return bool(pipeline.stages) and status.stage == pipeline.stages[-1].code


def completed_codes(pipeline: Pipeline | None = None) -> list[str]:
    """Codes of the statuses :func:`is_completed` calls finished."""
    pipeline = pipeline or get_pipeline()
    return [status.code for status in pipeline if is_completed(status, pipeline)]


def get_progress(
    status_code: str,
    *,
    reached: str | None = None,
    pipeline: Pipeline | None = None,
) -> Progress:
    """Where an order in ``status_code`` stands on the bar.

    ``reached`` is, for an off-path status, the last on-path status the order was
    in (e.g. the ``from_status`` of the change that put it on hold); its step and
    those before it show as done. Ignored for on-path statuses. A status no
    longer in the pipeline counts as off the path.
    """
    pipeline = pipeline or get_pipeline()
    status = pipeline.get_or_retired(status_code)
    stage_codes = [stage.code for stage in pipeline.stages]
    off_path = status.stage is None or status.stage not in stage_codes
    index: int | None = None
    if status.stage is not None and not off_path:
        index = stage_codes.index(status.stage)
    elif reached is not None and reached in pipeline.statuses:
        reached_stage = pipeline.statuses[reached].stage
        if reached_stage is not None and reached_stage in stage_codes:
            index = stage_codes.index(reached_stage)
    steps = []
    for position, stage in enumerate(pipeline.stages):
        if index is None or position > index:
            state = UPCOMING
        elif position < index or off_path:
            state = DONE
        else:
            state = CURRENT
        steps.append(Step(code=stage.code, label=stage.label, state=state))
    return Progress(
        status=status,
        steps=tuple(steps),
        index=index,
        off_path=off_path,
        completed=is_completed(status, pipeline),
    )


def reached_status(
    events: Sequence[Any], pipeline: Pipeline | None = None
) -> str | None:
    """The last on-path status in ``events`` (timeline events with ``to_status``
    and ``from_status``, oldest first): how far an order now off the path had
    come, as :func:`get_progress` takes it in ``reached``.
    """
    pipeline = pipeline or get_pipeline()
    for event in reversed(events):
        for code in (event.to_status, event.from_status):
            if code in pipeline.statuses and pipeline.statuses[code].stage:
                return code
    return None


def get_order_progress(
    status_code: str, events: Sequence[Any] = (), *, pipeline: Pipeline | None = None
) -> Progress:
    """:func:`get_progress` for an order whose status changes are ``events``
    (oldest first): an off-path order shows how far it had come.
    """
    pipeline = pipeline or get_pipeline()
    return get_progress(
        status_code, reached=reached_status(events, pipeline), pipeline=pipeline
    )
