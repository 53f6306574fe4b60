"""How much work one notification template may do, and the render budget.

Merchants write notification templates, and a worker renders them: a template
must not be able to keep a worker busy, or fill its memory. python-liquid's own
limits count loop iterations, output and assigned values, but not the work of
ranges and filters (``{{ (1..100000000) | sum }}`` runs for seconds inside one
filter call). The notification environment
(:class:`~order_updates.notifications.templating.NotificationEnvironment`) adds
these, through python-liquid's extension points:

- a range holds at most ``sequence_limit`` items, wherever it is used (checked
  when the template is parsed if its bounds are written out, else when it is
  evaluated: :class:`LimitedRangeLiteral`);
- every filter is wrapped (:func:`limit_filter`): its input and arguments may be
  lists or ranges of at most ``sequence_limit`` items and texts of at most
  ``string_limit`` characters, and so may its result; a number it makes has at
  most ``number_digits_limit`` digits. ``join`` and ``replace``, whose result can
  be far larger than their input, are measured before they run;
- nested loops written with literal ranges are multiplied out at parse time
  (:func:`check_template`);
- each render has a budget of CPU time (``TEMPLATE_RENDER_BUDGET_MS``), checked
  at every loop iteration, filter call, partial and ``case``
  (:func:`render_budget`, :func:`check_budget`). It counts the rendering
  thread's CPU time, not the wall clock, so a busy machine does not fail good
  templates (but gives up at ten times the budget of wall-clock time), and it
  needs no signal, so it works in any thread.

Each single step is bounded by the limits above, and the budget bounds the
number of steps: any template renders in about the budget or fails with
:class:`TemplateLimitError`, which rendering turns into a ``TemplateError``.
"""

from __future__ import annotations

import datetime
import decimal
import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from liquid import BoundTemplate, Markup, RenderContext, soft_str
from liquid.ast import BlockNode, Node
from liquid.builtin.expressions import LoopExpression, Path
from liquid.builtin.expressions.primitive import Literal, RangeLiteral
from liquid.builtin.filters.array import join as liquid_join
from liquid.builtin.filters.string import replace as liquid_replace
from liquid.builtin.tags.case_tag import CaseNode, CaseTag
from liquid.builtin.tags.for_tag import ForNode
from liquid.builtin.tags.tablerow_tag import TablerowNode
from liquid.exceptions import ResourceLimitError
from liquid.filter import flatten
from liquid.undefined import UNDEFINED
from liquid.utils import ReadOnlyChainMap

if TYPE_CHECKING:
    from liquid import Environment
    from liquid.expression import Expression

# The CPU time of this thread where the platform has it; else the wall clock.
try:
    time.thread_time()
    _cpu_time = time.thread_time
except (AttributeError, OSError):  # pragma: no cover - platform without it
    _cpu_time = time.monotonic


# Time the garbage collector took in each thread: a collection that happens to
# run during a render is the process's housekeeping, not the template's work.
_collecting = threading.local()


def _gc_seconds() -> float:
    return getattr(_collecting, "total", 0.0)


def _time_collections(phase: str, info: dict) -> None:
    if phase == "start":
        _collecting.started = _cpu_time()
    elif getattr(_collecting, "started", None) is not None:
        elapsed = _cpu_time() - _collecting.started
        _collecting.total = _gc_seconds() + elapsed
        _collecting.started = None


gc.callbacks.append(_time_collections)


class TemplateLimitError(ResourceLimitError):
    """A template asked for more work than a notification may take."""


class RenderBudgetExceeded(TemplateLimitError):
    """A render used up its time budget (``TEMPLATE_RENDER_BUDGET_MS``)."""


# The budget ----------------------------------------------------------------------


class RenderBudget:
    """``milliseconds`` of CPU time for one render, from now.

    Also at most :attr:`WALL_FACTOR` times that in wall-clock time, so that even
    a starved process gives up in bounded time.
    """

    #: How much longer than the budget a render may take on the wall clock.
    WALL_FACTOR = 10

    __slots__ = (
        "cpu_deadline",
        "gc_start",
        "milliseconds",
        "wall_deadline",
        "wall_limit",
    )

    def __init__(self, milliseconds: float):
        self.milliseconds = milliseconds
        seconds = milliseconds / 1000
        now = time.monotonic()
        self.wall_deadline = now + seconds
        self.wall_limit = now + seconds * self.WALL_FACTOR
        self.cpu_deadline = _cpu_time() + seconds
        self.gc_start = _gc_seconds()

    def check(self) -> None:
        """Raise :class:`RenderBudgetExceeded` if the budget is used up."""
        # The thread's CPU time never runs ahead of the wall clock, so the cheap
        # clock answers "not yet" nearly always; the CPU clock (a system call)
        # is read only once the wall-clock deadline has passed. Garbage
        # collections during the render do not count.
        now = time.monotonic()
        if now > self.wall_deadline and (
            _cpu_time() - (_gc_seconds() - self.gc_start) > self.cpu_deadline
            or now > self.wall_limit
        ):
            raise RenderBudgetExceeded(
                _(
                    "the template took longer than %d ms: it does too much work "
                    "in loops or filters."
                )
                % self.milliseconds,
                token=None,
            )


_budget: ContextVar[RenderBudget | None] = ContextVar(
    "order_updates_render_budget", default=None
)


@contextmanager
def render_budget(milliseconds: float | None) -> Iterator[RenderBudget | None]:
    """Give the renders in this block ``milliseconds`` of CPU time in all.

    Inside a block that already has a budget, that budget goes on counting.
    ``None`` means no budget. Context variables keep budgets of threads and
    asyncio tasks apart.
    """
    current = _budget.get()
    if current is not None or milliseconds is None:
        yield current
        return
    budget = RenderBudget(milliseconds)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def check_budget() -> None:
    """Raise :class:`RenderBudgetExceeded` if the current render is out of time."""
    budget = _budget.get()
    if budget is not None:
        budget.check()


def _checked(iterator: Iterator[Any], budget: RenderBudget) -> Iterator[Any]:
    for item in iterator:
        budget.check()
        yield item


# Sizes -----------------------------------------------------------------------------


def _limits(env: Environment) -> tuple[int, int, int]:
    return (
        getattr(env, "sequence_limit", 2_000),
        getattr(env, "string_limit", 256 * 1024),
        getattr(env, "number_digits_limit", 30),
    )


def _length(value: range) -> int:
    try:
        return len(value)
    except OverflowError:  # more items than a C integer counts
        return max(0, (value.stop - value.start) // value.step)


def _count_items(value: Iterable[Any], limit: int, level: int = 5) -> int:
    """Items in ``value`` as Liquid's array filters see them (nested lists
    flattened), counting only until ``limit`` is passed."""
    count = 0
    for item in value:
        if level and isinstance(item, (list, tuple)):
            count += _count_items(item, limit - count, level - 1)
        else:
            count += 1
        if count > limit:
            break
    return count


def _too_big(value: Any, limits: tuple[int, int, int], *, numbers: bool = True) -> str:
    """What is too big about ``value`` for a filter, or "".

    ``limits`` are ``(sequence_limit, string_limit, number_digits_limit)``.
    Numbers are checked only if ``numbers``: a filter may take a big number
    (they are cheap to pass on), it may not make one (``times`` would square
    its way to millions of digits).
    """
    kind = type(value)
    if kind in _PLAIN:  # the common cases, without isinstance() chains
        return ""
    sequence_limit, string_limit, digits = limits
    if isinstance(value, str):
        if len(value) > string_limit:
            return _text_problem(len(value), string_limit)
    elif isinstance(value, int):
        # Below 2**(3*digits), a number has fewer digits: skip the exact test.
        if numbers and value.bit_length() > 3 * digits and abs(value) >= 10**digits:
            return _(
                "a number of more than %(digits)d digits (at most %(digits)d allowed)"
            ) % {"digits": digits}
    elif isinstance(value, (list, tuple, range)):
        if isinstance(value, range):
            count = _length(value)
        elif len(value) > sequence_limit:
            count = len(value)
        else:
            count = _count_items(value, sequence_limit)
        if count > sequence_limit:
            return _(
                "a list of more than %(limit)d items (at most %(limit)d allowed)"
            ) % {"limit": sequence_limit}
    elif isinstance(value, (dict, Mapping)) and len(value) > sequence_limit:
        return _(
            "a mapping of more than %(limit)d items (at most %(limit)d allowed)"
        ) % {"limit": sequence_limit}
    return ""


def _text_problem(length: int, string_limit: int) -> str:
    return _("a text of %(count)d characters (at most %(limit)d allowed)") % {
        "count": length,
        "limit": string_limit,
    }


#: Types that are never too big (bool, not int: True is no big number).
_PLAIN = frozenset(
    {type(None), bool, float, decimal.Decimal, datetime.date, datetime.datetime}
)
#: What a filter may take without a look (numbers too: see _too_big).
_PLAIN_INPUTS = _PLAIN | {int}
#: Exact string types (the HTML part's escaped strings are Markup).
_STRINGS = frozenset({str, Markup})


def check_range(value: range, env: Environment, token: Any) -> range:
    """``value``, or :class:`TemplateLimitError` if it has too many items."""
    sequence_limit = _limits(env)[0]
    count = _length(value)
    if count > sequence_limit:
        raise TemplateLimitError(
            _(
                "the range (%(start)d..%(stop)d) has %(count)d items; at most "
                "%(limit)d are allowed."
            )
            % {
                "start": value.start,
                "stop": value.stop - 1,
                "count": count,
                "limit": sequence_limit,
            },
            token=token,
        )
    return value


# Filters ---------------------------------------------------------------------------


def _join_length(
    limit: int, left: Any, separator: Any = " ", *args: Any, **kwargs: Any
) -> int:
    """The length ``join`` would produce, counted (up to ``limit``) before it runs."""
    if isinstance(left, (list, tuple)):
        items: list[Any] = flatten(left)
    elif isinstance(left, range):
        items = list(left)
    elif isinstance(left, (dict, str)) or not isinstance(left, Iterable):
        items = [left]
    else:
        return 0  # something else iterable: the result is checked afterwards
    total = len(str(separator)) * max(len(items) - 1, 0)
    for item in items:
        total += len(item) if isinstance(item, str) else len(str(item))
        if total > limit:
            break
    return total


def _replace_length(
    limit: int, value: Any, old: Any = "", new: Any = "", *args: Any, **kwargs: Any
) -> int:
    """The length ``replace`` would produce, counted before it runs."""
    text = "" if value is None else str(value)
    old, new = soft_str(old), soft_str(new)
    count = text.count(old) if old else len(text) + 1
    return len(text) + count * (len(new) - len(old))


#: Filters whose result can be far larger than their input: what they would make,
#: measured before they run. Keyed on the functions, not on their names.
RESULT_LENGTH: dict[Callable[..., Any], Callable[..., int]] = {
    liquid_join: _join_length,
    liquid_replace: _replace_length,
}


def limit_filter(name: str, func: Callable[..., Any], env: Environment) -> Any:
    """``func`` (the filter ``name`` of ``env``) with the limits and the budget.

    Its input and arguments are checked before it runs, its result after; the
    render's budget is checked first. ``with_context``/``with_environment``
    markers (attributes) are kept.
    """
    measure = RESULT_LENGTH.get(func)
    limits = _limits(env)
    string_limit = limits[1]

    def refuse(problem: str) -> TemplateLimitError:
        return TemplateLimitError(
            _("'%(filter)s' would make %(what)s.") % {"filter": name, "what": problem},
            token=None,
        )

    @wraps(func)
    def limited(left: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _budget.get()
        if budget is not None:
            budget.check()
        for value in (left, *args, *kwargs.values()) if args or kwargs else (left,):
            kind = type(value)
            # Inline the common cases: this runs for every filter call.
            if kind in _PLAIN_INPUTS or (
                kind in _STRINGS and len(value) <= string_limit
            ):
                continue
            problem = _too_big(value, limits, numbers=False)
            if problem:
                raise TemplateLimitError(
                    _("'%(filter)s' got %(what)s.") % {"filter": name, "what": problem},
                    token=None,
                )
        if measure is not None:
            length = measure(string_limit, left, *args, **kwargs)
            if length > string_limit:
                raise refuse(_text_problem(length, string_limit))
        result = func(left, *args, **kwargs)
        kind = type(result)
        if kind in _PLAIN or (kind in _STRINGS and len(result) <= string_limit):
            return result
        problem = _too_big(result, limits)
        if problem:
            raise refuse(problem)
        return result

    limited.limited = True  # type: ignore[attr-defined]
    return limited


# Nodes and expressions -------------------------------------------------------------


class LimitedRangeLiteral(RangeLiteral):
    """A range literal that refuses to make more than ``sequence_limit`` items."""

    __slots__ = ()

    def evaluate(self, context: RenderContext) -> range:
        """The range, or :class:`TemplateLimitError`."""
        return check_range(super().evaluate(context), context.env, self.token)

    async def evaluate_async(self, context: RenderContext) -> range:
        """The range, or :class:`TemplateLimitError`."""
        value = await super().evaluate_async(context)
        return check_range(value, context.env, self.token)


_MISSING = object()


def _find(maps: Iterable[Mapping[str, object]], name: str) -> object:
    """``name`` in the first of ``maps`` that has it (chain maps searched in
    turn), or ``_MISSING``. Plain dicts are asked with ``in``, not by catching
    ``KeyError``: most names miss the first namespaces they are looked up in."""
    for namespace in maps:
        kind = type(namespace)
        if kind is dict:
            if name in namespace:
                return namespace[name]
        elif kind is ReadOnlyChainMap:
            found = _find(namespace._maps, name)  # type: ignore[attr-defined]
            if found is not _MISSING:
                return found
        else:
            try:
                return namespace[name]
            except KeyError:
                pass
    return _MISSING


class PlainPath(Path):
    """A variable path without nested paths (``order.items``, not
    ``order[key]``): looked up as written, without evaluating each segment."""

    __slots__ = ()

    def evaluate(self, context: RenderContext) -> object:
        """The variable's value (or Liquid's undefined)."""
        # No segment is a Path (check_template made sure): plain names and indexes.
        return context.get(self.path, token=self.token)  # type: ignore[arg-type]


class DirectBlockNode(BlockNode):
    """A block of statements that renders each one directly: where no tag is
    disabled (partials disable ``include``), ``render()`` would only check that
    and call ``render_to_output()``."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: Any) -> int:
        """Render the block's statements into ``buffer``, as Liquid does."""
        if context.disabled_tags or (
            self.blank and context.env.suppress_blank_control_flow_blocks
        ):
            return super().render_to_output(context, buffer)
        written = 0
        for node in self.nodes:
            written += node.render_to_output(context, buffer)
        return written


class LimitedContext(RenderContext):
    """A render context that checks the budget at every loop iteration, and
    resolves names and keys of plain dicts without python-liquid's general
    lookup (a message's context is dicts: most of a render was spent there)."""

    __slots__ = ()

    def get(
        self, path: list[object], *, token: Any, default: object = UNDEFINED
    ) -> object:
        """What Liquid's ``get`` returns, faster for dicts: any other step (an
        object, a list index, ``size``/``first``/``last`` computed, a name not
        found) is left to Liquid, from the start."""
        root = path[0]
        if type(root) is str:
            try:
                obj = _find((self.scope,), root)
            except (TypeError, IndexError):
                obj = _MISSING
            if obj is not _MISSING:
                for segment in path[1:] if len(path) > 1 else ():
                    if type(obj) is not dict or type(segment) is not str:
                        break
                    obj = obj.get(segment, _MISSING)
                    if obj is _MISSING:
                        break
                else:
                    return obj
        return super().get(path, token=token, default=default)

    def loop(self, namespace: Mapping[str, object], forloop: Any) -> Any:
        """Loop as Liquid does, checking the budget before each iteration."""
        budget = _budget.get()
        if budget is not None:
            forloop.it = _checked(forloop.it, budget)
        return super().loop(namespace, forloop)


class LimitedTemplate(BoundTemplate):
    """A template whose render has a budget, checked in loops, filters, partials."""

    context_class = LimitedContext

    def make_globals(self, render_args: Mapping[str, object]) -> Mapping[str, object]:
        """Liquid's chain of render arguments, front matter and template
        globals, as one dict (the same lookups, one namespace fewer to search
        for each name)."""
        return {**self.globals, **self.matter, **render_args}

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Render within the environment's budget (see :func:`render_budget`)."""
        if _budget.get() is not None:
            return super().render(*args, **kwargs)
        # render_budget(), unrolled: this runs for every part of every message.
        token = _budget.set(RenderBudget(self.env.render_budget_ms()))  # type: ignore[attr-defined]
        try:
            return super().render(*args, **kwargs)
        finally:
            _budget.reset(token)

    async def render_async(self, *args: Any, **kwargs: Any) -> str:
        """Render within the environment's budget (see :func:`render_budget`)."""
        with render_budget(self.env.render_budget_ms()):  # type: ignore[attr-defined]
            return await super().render_async(*args, **kwargs)

    def render_with_context(self, *args: Any, **kwargs: Any) -> None:
        """Render (also as a partial), checking the budget first."""
        budget = _budget.get()
        if budget is not None:
            budget.check()
        super().render_with_context(*args, **kwargs)


class LimitedCaseNode(CaseNode):
    """``case``: checks the budget, since ``when 1, 1, 1`` repeats its block."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: Any) -> int:
        """Render as Liquid does, after checking the budget."""
        check_budget()
        return super().render_to_output(context, buffer)


class LimitedCaseTag(CaseTag):
    """The ``case`` tag, making :class:`LimitedCaseNode`."""

    node_class = LimitedCaseNode


# Parse-time checks -----------------------------------------------------------------


def walk_expressions(expression: Expression) -> Iterator[Expression]:
    """``expression`` and all expressions inside it."""
    # A stack, not recursion: expressions can nest as deep as the parser allows.
    stack = [expression]
    while stack:
        found = stack.pop()
        yield found
        stack.extend(found.children())


def _literal_length(expression: Expression, context: RenderContext) -> int | float:
    """Items of a range literal with written-out bounds, else 0 (unknown)."""
    if isinstance(expression, RangeLiteral) and all(
        isinstance(bound, Literal) for bound in (expression.start, expression.stop)
    ):
        return _length(RangeLiteral.evaluate(expression, context))
    return 0


def _loop_length(node: Node, context: RenderContext) -> int | float:
    """Iterations of a ``for``/``tablerow`` over a written-out range, else 0."""
    expression = getattr(node, "expression", None)
    if not isinstance(node, (ForNode, TablerowNode)) or not isinstance(
        expression, LoopExpression
    ):
        return 0
    length = _literal_length(expression.iterable, context)
    if length and isinstance(expression.limit, Literal):
        limit = expression.limit.evaluate(context)
        if isinstance(limit, int):
            length = min(length, max(limit, 0))
    return length


def check_template(
    template: BoundTemplate,
    *,
    swap: Mapping[type, type] | None = None,
) -> None:
    """Check and arm a freshly parsed template.

    Raises :class:`TemplateLimitError` for a written-out range of more than
    ``sequence_limit`` items and for nested loops over written-out ranges that
    would repeat more than ``loop_iteration_limit`` times. Makes every range
    literal a :class:`LimitedRangeLiteral`, and every node whose exact class is
    a key of ``swap`` an instance of its value (a subclass without new slots).
    """
    env = template.env
    context = RenderContext(template)
    sequence_limit = _limits(env)[0]
    loop_limit = env.loop_iteration_limit or float("inf")

    def visit_expression(expression: Expression) -> None:
        for found in walk_expressions(expression):
            if isinstance(found, RangeLiteral):
                if _literal_length(found, context) > sequence_limit:
                    value = RangeLiteral.evaluate(found, context)
                    check_range(value, env, found.token)
                # The parser builds RangeLiteral itself (no hook to give it a
                # class of ours): arm each one now, before any render.
                if type(found) is RangeLiteral:
                    found.__class__ = LimitedRangeLiteral
            elif type(found) is Path and not any(
                isinstance(segment, Path) for segment in found.path
            ):
                found.__class__ = PlainPath

    def visit(node: Node, repeats: int | float) -> None:
        if swap and type(node) in swap:
            node.__class__ = swap[type(node)]
        for expression in node.expressions():
            visit_expression(expression)
        length = _loop_length(node, context)
        if length:
            repeats *= length
            if repeats > loop_limit:
                raise TemplateLimitError(
                    _(
                        "these nested loops repeat %(count)d times (at most "
                        "%(limit)d allowed)."
                    )
                    % {"count": repeats, "limit": loop_limit},
                    token=node.token,
                )
        for child in node.children(context, include_partials=False):
            visit(child, repeats)

    for node in template.nodes:
        visit(node, 1)
