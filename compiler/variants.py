"""Variant merging: a task block and its `variant` blocks become the effective variants.

A variant starts from the task's settings; its own attributes and nested blocks win, and
`without = [...]` drops task blocks. A task without variants has one, named `default`.
"""

from __future__ import annotations

from synthc.compiler import ast
from synthc.compiler.schema import SCHEMAS
from synthc.compiler.source import Span
from synthc.compiler.typed import Typer
from synthc.compiler.values import Values, Variant

__all__ = ["variants", "merge"]


def variants(block: ast.Block, typer: Typer) -> list[Variant]:
    """The effective variants of task `block` (source order); E211/E102 for unnamed or repeated ones."""
    base = typer.block(block, SCHEMAS["task"], skip=("variant",))
    task = block.name or ""
    blocks = block.blocks("variant")
    if not blocks:
        return [merge(task, "default", base, None)]
    out: list[Variant] = []
    seen: dict[str, Span] = {}
    for vb in blocks:
        if vb.name is None:
            typer.sink.error("E211", "`variant` block needs a name", vb.kind_span, "unnamed")
            continue
        if vb.name in seen:
            typer.sink.error("E102", f"variant `{vb.name}` is defined twice", vb.name_span, "defined again here",
                             secondary=((seen[vb.name], "first defined here"),))
            continue
        seen[vb.name] = vb.name_span
        out.append(merge(task, vb.name, base, typer.block(vb, SCHEMAS["variant"])))
    return out


def merge(task: str, name: str, base: Values, own: Values | None) -> Variant:
    """Variant `name`: the task's values `base` with the variant's `own` values and blocks on top."""
    values = Values("task", task, base.origin, dict(base.values), dict(base.spans))
    blocks = dict(base.children)
    owned: set[str] = set()
    if own is not None:
        for k in own.values.get("without", ()):
            blocks.pop(k, None)
            owned.add(k)
        for k, v in own.values.items():
            if k != "without" and k in own.spans:  # set explicitly in the variant, not a schema default
                values.values[k] = v
                values.spans[k] = own.spans[k]
                owned.add(k)
        for k, v in own.children.items():
            blocks[k] = v
            owned.add(k)
    origin = own.origin if own is not None else base.origin
    return Variant(task, name, origin, values, blocks, frozenset(owned))
