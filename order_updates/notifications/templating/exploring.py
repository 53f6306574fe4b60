"""Rendering a template down every branch, to find work that sample data skips.

Validation renders a merchant's template against sample data, which takes one
path through it: ``{% if order.number != "1001" %}…{% endif %}`` hides whatever
is inside from that render, and real orders would run it. :func:`explore`
renders the template once more in an :class:`ExploringEnvironment`, where

- every ``if``/``elsif``/``else``, ``unless`` and ``case``/``when``/``else``
  block is rendered, whatever its condition;
- a ``for`` loop over nothing still renders its body once (with the item nil),
  and its ``else`` block too;
- ``break`` and ``continue`` do nothing, so loops run to their end;
- an ordinary error (a filter given nil by a branch the data never takes) skips
  the one statement that raised it, and the render goes on.

That path does at least the work of any path real data could take (short of
values assigned in one branch and used in another), with the same limits and
budget. Only limit errors count: what it finds is reported at save, and what it
cannot find is stopped by the budget at send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from liquid import BoundTemplate
from liquid.ast import BlockNode, ConditionalBlockNode, Node
from liquid.builtin.tags.case_tag import MultiExpressionBlockNode
from liquid.builtin.tags.for_tag import (
    BreakNode,
    BreakTag,
    ContinueNode,
    ContinueTag,
    ForLoop,
    ForNode,
    ForTag,
)
from liquid.builtin.tags.if_tag import IfNode, IfTag
from liquid.builtin.tags.unless_tag import UnlessNode, UnlessTag
from liquid.exceptions import (
    BreakLoop,
    ContinueLoop,
    LiquidError,
    LiquidInterrupt,
    ResourceLimitError,
)
from liquid.output import NullIO

from order_updates.notifications.templating.environment import (
    NotificationEnvironment,
)
from order_updates.notifications.templating.limits import (
    LimitedCaseNode,
    LimitedCaseTag,
    check_budget,
    check_template,
)

if TYPE_CHECKING:
    from typing import TextIO

    from liquid import RenderContext
    from liquid.stream import TokenStream

#: Errors an exploring render stops at: too much work, and what is not an error
#: of the template at all.
_FATAL = (ResourceLimitError, LiquidInterrupt, MemoryError, RecursionError)


def _render_each(nodes: list[Node], context: RenderContext, buffer: TextIO) -> int:
    count = 0
    for node in nodes:
        try:
            count += node.render(context, buffer)
        except _FATAL:
            raise
        except Exception:  # a branch the data never takes: go on
            continue
    return count


class ExploringBlockNode(BlockNode):
    """A block whose statements are each rendered, even after one fails."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        """Render every statement, skipping those that raise ordinary errors."""
        if context.env.suppress_blank_control_flow_blocks and self.blank:
            _render_each(self.nodes, context, NullIO())
            return 0
        return _render_each(self.nodes, context, buffer)


def _render_branches(branches: list[Any], context: Any, buffer: Any) -> int:
    count = 0
    for branch in branches:
        if isinstance(branch, (ConditionalBlockNode, MultiExpressionBlockNode)):
            branch = branch.block
        if branch is not None:
            count += _render_each([branch], context, buffer)
    return count


class ExploringIfNode(IfNode):
    """``if``: renders every branch."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        """Render the consequence, every ``elsif`` and the ``else``."""
        return _render_branches(
            [self.consequence, *self.alternatives, self.default], context, buffer
        )


class ExploringUnlessNode(UnlessNode):
    """``unless``: renders every branch."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        """Render the consequence, every ``elsif`` and the ``else``."""
        return _render_branches(
            [self.consequence, *self.alternatives, self.default], context, buffer
        )


class ExploringCaseNode(LimitedCaseNode):
    """``case``: renders every ``when`` and ``else`` block once."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        """Render each block once, after checking the budget."""
        check_budget()
        return _render_branches(list(self.blocks), context, buffer)


class ExploringForNode(ForNode):
    """``for``: an empty loop still renders its body once, and its ``else``."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        """Loop as Liquid does (over one nil if over nothing), then the ``else``."""
        it, length = self.expression.evaluate(context)
        if not length:
            it, length = iter([None]), 1
        name = self.expression.identifier
        forloop = ForLoop(
            name=f"{name}-{self.expression.iterable}",
            it=it,
            length=length,
            parentloop=context.parentloop(),
        )
        namespace: dict[str, object] = {"forloop": forloop, name: None}
        count = 0
        with context.loop(namespace, forloop):
            for item in forloop:
                namespace[name] = item
                try:
                    count += self.block.render(context, buffer)
                except (BreakLoop, ContinueLoop):  # from a partial of ours
                    continue
        if self.default:
            count += _render_each([self.default], context, buffer)
        return count


class SkippedBreakNode(BreakNode):
    """``break`` while exploring: does nothing, the loop goes on."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        """Nothing."""
        return 0


class SkippedContinueNode(ContinueNode):
    """``continue`` while exploring: does nothing, the block goes on."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        """Nothing."""
        return 0


class ExploringIfTag(IfTag):
    """``if``, making :class:`ExploringIfNode`."""

    node_class = ExploringIfNode


class ExploringUnlessTag(UnlessTag):
    """``unless``, making :class:`ExploringUnlessNode`."""

    node_class = ExploringUnlessNode


class ExploringCaseTag(LimitedCaseTag):
    """``case``, making :class:`ExploringCaseNode`."""

    node_class = ExploringCaseNode


class ExploringForTag(ForTag):
    """``for``, making :class:`ExploringForNode`."""

    node_class = ExploringForNode


class ExploringBreakTag(BreakTag):
    """``break``, doing nothing."""

    def parse(self, stream: TokenStream) -> BreakNode:
        """Parse as Liquid does; the node does nothing."""
        return SkippedBreakNode(super().parse(stream).token)


class ExploringContinueTag(ContinueTag):
    """``continue``, doing nothing."""

    def parse(self, stream: TokenStream) -> ContinueNode:
        """Parse as Liquid does; the node does nothing."""
        return SkippedContinueNode(super().parse(stream).token)


class ExploringEnvironment(NotificationEnvironment):
    """The notification environment, rendering every branch (see the module)."""

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        """Our tags and filters, with the exploring tags in place."""
        super().setup_tags_and_filters(extra=extra)
        for tag in (
            ExploringIfTag,
            ExploringUnlessTag,
            ExploringCaseTag,
            ExploringForTag,
            ExploringBreakTag,
            ExploringContinueTag,
        ):
            self.add_tag(tag)

    def check_template(self, template: BoundTemplate) -> None:
        """Check the template as usual; make its blocks go on after errors."""
        check_template(template, swap={BlockNode: ExploringBlockNode})

    def error(self, exc: Any, msg: str | None = None, token: Any = None) -> None:
        """Raise limit errors; ignore the others (a branch the data never takes)."""
        if isinstance(exc, LiquidError) and not isinstance(exc, ResourceLimitError):
            return
        super().error(exc, msg, token)


_explorers: dict[bool, ExploringEnvironment] = {}


def explore(source: str, context: dict[str, Any], *, html: bool) -> None:
    """Render ``source`` down every branch with ``context``; keep no output.

    Raises a Liquid limit error (a ``ResourceLimitError``: too many items or
    iterations, too much output, the budget used up) if some path through the
    template does too much work, and a Liquid syntax error if it does not parse.
    """
    if html not in _explorers:
        _explorers[html] = ExploringEnvironment(autoescape=html)
    template = _explorers[html].from_string(source, name="<explore>")
    template.render(**context)
