"""``{% extends %}`` that finds a template's blocks once, not at every render.

Liquid's own ``extends`` walks every node of the child template and of its
layout on each render to find their ``{% block %}`` tags (in a worker, about a
tenth of the time spent rendering an email). What it finds depends only on the
parsed template, which the environment caches and never changes, so this tag
keeps it on the template. Rendering is otherwise Liquid's: the layout is still
loaded through the environment on every render (it may differ by language), the
block stacks are built in each render's context, and the same errors are raised
(too many ``extends``, duplicate or required blocks, circular layouts).
"""

from __future__ import annotations

from typing import Any

from liquid import BoundTemplate, RenderContext
from liquid.exceptions import (
    StopRender,
    TemplateInheritanceError,
    TemplateNotFoundError,
)
from liquid.extra.tags.extends_tag import (
    ExtendsNode,
    ExtendsTag,
    _find_inheritance_nodes,
    _store_blocks,
)

_FOUND = "_order_updates_inheritance"


def inheritance_nodes(
    template: BoundTemplate, context: RenderContext
) -> tuple[ExtendsNode | None, tuple[Any, ...]]:
    """The template's ``extends`` node (or None) and its blocks, checked, found once."""
    found = getattr(template, _FOUND, None)
    if found is None:
        extends, blocks = _find_inheritance_nodes(template, context)
        if len(extends) > 1:
            raise TemplateInheritanceError(
                "too many 'extends' tags",
                token=extends[1].token,
                template_name=str(template.path or template.name),
            )
        names: set[str] = set()
        for block in blocks:
            if block.name in names:
                raise TemplateInheritanceError(
                    f"duplicate block {block.name}", token=block.token
                )
            names.add(block.name)
        found = (extends[0] if extends else None, tuple(blocks))
        setattr(template, _FOUND, found)
    return found


def build_block_stacks(
    context: RenderContext, template: BoundTemplate
) -> BoundTemplate:
    """Stack the blocks of ``template`` and its layouts; return the topmost layout."""
    seen: set[str] = set()
    base = None
    current: BoundTemplate | None = template
    while current is not None:
        extends, blocks = inheritance_nodes(current, context)
        _store_blocks(context, list(blocks), str(current.path or current.name))
        if extends is None:
            break
        if extends.name in seen:
            raise TemplateInheritanceError(
                f"circular extends {extends.name!r}",
                token=extends.token,
                template_name=current.name,
            )
        seen.add(extends.name)
        try:
            current = context.env.get_template(
                extends.name, context=context, tag="extends"
            )
        except TemplateNotFoundError as err:
            err.token = extends.name.token
            err.template_name = current.full_name()
            raise
        base = current
    assert base is not None
    return base


class ExtendsOnceNode(ExtendsNode):
    """Liquid's ``extends`` node, with each template's blocks found once."""

    __slots__ = ()

    def render_to_output(self, context: RenderContext, buffer: Any) -> int:
        """Render the layout with this template's blocks, as Liquid does."""
        base = build_block_stacks(context, context.template)
        base.render_with_context(context, buffer)
        context.tag_namespace["extends"].clear()
        raise StopRender


class ExtendsOnceTag(ExtendsTag):
    """The ``extends`` tag, making :class:`ExtendsOnceNode`."""

    node_class = ExtendsOnceNode
