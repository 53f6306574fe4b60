"""The status pipeline: which statuses exist and how an order may move between them.

The pipeline is data. The default below fits most shops; a shop replaces it with
``ORDER_UPDATES["PIPELINE"]`` (a dict in the form :meth:`Pipeline.from_config`
takes, a :class:`Pipeline`, or a dotted path to either). System checks report a
broken pipeline at start-up (``order_updates.E004``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

from order_updates.conf import RELOAD_HOOKS, app_settings
from order_updates.exceptions import (
    InvalidTransition,
    OrderUpdatesConfigurationError,
    UnknownStatus,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

#: Codes are stored in a 32-character column and used in URLs and template names.
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class Stage:
    """A step of the customer-facing progress bar (several statuses may share one)."""

    code: str
    label: StrOrPromise


@dataclass(frozen=True)
class Status:
    """One status of the pipeline."""

    code: str
    label: StrOrPromise
    description: StrOrPromise = ""
    #: Code of the progress-bar stage, or None for off-track statuses (on hold…).
    stage: str | None = None
    #: Codes of the statuses an order in this status may move to.
    transitions: tuple[str, ...] = ()
    #: A terminal status allows no further change.
    terminal: bool = False

    def __str__(self) -> str:
        return str(self.label)


@dataclass
class Pipeline:
    """An ordered set of statuses with their allowed transitions and stages."""

    statuses: dict[str, Status]
    stages: list[Stage] = field(default_factory=list)
    initial: str = "placed"
    #: Problems found while reading a config dict, reported by :meth:`validate`.
    config_errors: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Pipeline:
        """Build a pipeline from plain data.

        ``config`` has ``statuses``, a list of dicts with ``code``, ``label`` and
        optionally ``description``, ``stage``, ``transitions`` and ``terminal``
        (which defaults to "no transitions"); ``stages``, a list of ``{"code",
        "label"}`` dicts or ``(code, label)`` pairs in progress order; and
        ``initial``, the code new orders start in.
        """
        errors: list[str] = []
        statuses: dict[str, Status] = {}
        for index, item in enumerate(config.get("statuses") or []):
            if not isinstance(item, Mapping) or "code" not in item:
                errors.append("statuses[%d] must be a dict with a 'code'." % index)
                continue
            unknown_keys = set(item) - {
                "code",
                "label",
                "description",
                "stage",
                "transitions",
                "terminal",
            }
            if unknown_keys:
                errors.append(
                    "Status %r has unknown keys: %s."
                    % (item["code"], ", ".join(sorted(unknown_keys)))
                )
            code = item["code"]
            if code in statuses:
                errors.append("Status %r is defined twice." % code)
                continue
            transitions = tuple(item.get("transitions") or ())
            statuses[code] = Status(
                code=code,
                label=item.get("label") or code.replace("_", " ").capitalize(),
                description=item.get("description", ""),
                stage=item.get("stage"),
                transitions=transitions,
                terminal=bool(item.get("terminal", not transitions)),
            )
        stages = []
        for item in config.get("stages") or []:
            if isinstance(item, Mapping):
                stages.append(Stage(code=item["code"], label=item.get("label", "")))
            else:
                code, label = item
                stages.append(Stage(code=code, label=label))
        return cls(
            statuses=statuses,
            stages=stages,
            initial=config.get("initial", "placed"),
            config_errors=errors,
        )

    # Queries -------------------------------------------------------------------

    def __contains__(self, code: object) -> bool:
        return code in self.statuses

    def __iter__(self):
        return iter(self.statuses.values())

    def get(self, code: str) -> Status:
        """Return the status with this code, or raise :class:`UnknownStatus`."""
        try:
            return self.statuses[code]
        except KeyError:
            raise UnknownStatus(code, list(self.statuses)) from None

    def get_or_retired(self, code: str) -> Status:
        """The status with this code; for a code no longer in the pipeline (an
        order still sits in a retired status) a stand-in labelled with the code.
        """
        return self.statuses.get(code) or Status(code=code, label=code)

    def allowed_from(self, code: str) -> tuple[str, ...]:
        """Codes an order in status ``code`` may move to.

        From a retired status every status is allowed: that is how its orders
        get out of it.
        """
        if code not in self.statuses:
            return tuple(self.statuses)
        return self.statuses[code].transitions

    def can_transition(self, from_code: str, to_code: str) -> bool:
        """Whether the pipeline allows moving from ``from_code`` to ``to_code``."""
        return to_code in self.statuses and to_code in self.allowed_from(from_code)

    def check_transition(self, from_code: str, to_code: str) -> None:
        """Raise :class:`UnknownStatus` or :class:`InvalidTransition` if not allowed."""
        self.get(to_code)
        if not self.can_transition(from_code, to_code):
            raise InvalidTransition(
                from_code, to_code, list(self.allowed_from(from_code))
            )

    def stage_index(self, code: str) -> int | None:
        """Position of the status's stage in the progress bar (0-based), or None."""
        stage = self.get(code).stage
        for index, item in enumerate(self.stages):
            if item.code == stage:
                return index
        return None

    def choices(self) -> list[tuple[str, StrOrPromise]]:
        """``(code, label)`` pairs for form fields."""
        return [(status.code, status.label) for status in self]

    # Validation ----------------------------------------------------------------

    def validate(self) -> list[str]:
        """Return a list of problems; an empty list means the pipeline is usable."""
        errors = list(self.config_errors)
        if not self.statuses:
            errors.append("The pipeline defines no status.")
            return errors
        stage_codes = [stage.code for stage in self.stages]
        for duplicate in sorted({c for c in stage_codes if stage_codes.count(c) > 1}):
            errors.append("Stage %r is defined twice." % duplicate)
        for status in self:
            if not isinstance(status.code, str) or not CODE_PATTERN.match(status.code):
                errors.append(
                    "Status code %r is invalid: use lowercase letters, digits and "
                    "underscores, starting with a letter, at most 32 characters."
                    % (status.code,)
                )
            if status.stage is not None and status.stage not in stage_codes:
                errors.append(
                    "Status %r has stage %r, which is not among the stages (%s)."
                    % (status.code, status.stage, ", ".join(stage_codes) or "none")
                )
            for target in status.transitions:
                if target == status.code:
                    errors.append("Status %r lists itself as a transition." % target)
                elif target not in self.statuses:
                    errors.append(
                        "Status %r may move to %r, which is not a status."
                        % (status.code, target)
                    )
            if status.terminal and status.transitions:
                errors.append(
                    "Status %r is terminal but lists transitions (%s)."
                    % (status.code, ", ".join(status.transitions))
                )
        if self.initial not in self.statuses:
            errors.append("The initial status %r is not a status." % self.initial)
        elif self.statuses[self.initial].terminal:
            errors.append("The initial status %r is terminal." % self.initial)
        return errors

    def unreachable(self) -> list[str]:
        """Codes that no chain of transitions from the initial status reaches."""
        if self.initial not in self.statuses:
            return []
        seen = {self.initial}
        todo = [self.initial]
        while todo:
            for target in self.statuses[todo.pop()].transitions:
                if target in self.statuses and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return [code for code in self.statuses if code not in seen]


def _status(code, label, description, stage, transitions=()):
    return {
        "code": code,
        "label": label,
        "description": description,
        "stage": stage,
        "transitions": transitions,
    }


#: The default pipeline, as plain data a shop can copy and edit.
DEFAULT_PIPELINE: dict[str, Any] = {
    "initial": "placed",
    "stages": [
        ("ordered", _("Ordered")),
        ("preparing", _("Preparing")),
        ("on_its_way", _("On its way")),
        ("out_for_delivery", _("Out for delivery")),
        ("delivered", _("Delivered")),
    ],
    "statuses": [
        _status(
            "placed",
            _("Placed"),
            _("We have received your order."),
            "ordered",
            # Straight to shipped too: shops that ship the same day skip steps.
            (
                "confirmed",
                "processing",
                "partially_shipped",
                "shipped",
                "on_hold",
                "cancelled",
            ),
        ),
        _status(
            "confirmed",
            _("Confirmed"),
            _("Your order is confirmed and will be prepared soon."),
            "ordered",
            ("processing", "partially_shipped", "shipped", "on_hold", "cancelled"),
        ),
        _status(
            "processing",
            _("Processing"),
            _("We are preparing your order for shipping."),
            "preparing",
            ("partially_shipped", "shipped", "on_hold", "cancelled"),
        ),
        _status(
            "partially_shipped",
            _("Partially shipped"),
            _("Part of your order is on its way; the rest follows."),
            "on_its_way",
            ("shipped", "out_for_delivery", "delivered", "returned"),
        ),
        _status(
            "shipped",
            _("Shipped"),
            _("Your order is on its way."),
            "on_its_way",
            ("out_for_delivery", "delivered", "returned"),
        ),
        _status(
            "out_for_delivery",
            _("Out for delivery"),
            _("Your order will be delivered today."),
            "out_for_delivery",
            # Back to "shipped" after a failed delivery attempt.
            ("delivered", "shipped", "returned"),
        ),
        _status(
            "delivered",
            _("Delivered"),
            _("Your order has been delivered."),
            "delivered",
            ("returned", "refunded"),
        ),
        _status(
            "on_hold",
            _("On hold"),
            _("Your order is on hold. We will contact you if we need anything."),
            None,
            ("placed", "confirmed", "processing", "cancelled"),
        ),
        _status(
            "cancelled",
            _("Cancelled"),
            _("Your order has been cancelled."),
            None,
        ),
        _status(
            "returned",
            _("Returned"),
            _("Your return has been received."),
            None,
            ("refunded",),
        ),
        _status(
            "refunded",
            _("Refunded"),
            _("Your order has been refunded."),
            None,
        ),
    ],
}


def build_pipeline(value: Any) -> Pipeline:
    """Turn the ``PIPELINE`` setting's value into a :class:`Pipeline`."""
    if value is None:
        return Pipeline.from_config(DEFAULT_PIPELINE)
    if isinstance(value, Pipeline):
        return value
    if isinstance(value, Mapping):
        return Pipeline.from_config(value)
    raise OrderUpdatesConfigurationError(
        "ORDER_UPDATES['PIPELINE'] must be a dict, a Pipeline or a dotted path to "
        "one, not %s." % type(value).__name__
    )


@lru_cache(maxsize=1)
def get_pipeline() -> Pipeline:
    """Return the configured pipeline; raise if it is broken."""
    pipeline = build_pipeline(app_settings.PIPELINE)
    errors = pipeline.validate()
    if errors:
        raise OrderUpdatesConfigurationError(
            "ORDER_UPDATES['PIPELINE'] is broken: %s" % " ".join(errors)
        )
    return pipeline


RELOAD_HOOKS.append(get_pipeline.cache_clear)
