"""Variant merging: a task block and its `variant` blocks become the effective variants.

A variant starts from the task's settings, or with `extends = other` from the effective settings
of another variant of the same task (chains allowed). Then, layer by layer from the root of the
chain down to the variant itself: `without = [...]` drops blocks (and optional settings), the
layer's own attributes replace one by one, and each nested block it writes replaces the block of
that kind whole (Terraform's override rule: attributes merge, nested blocks replace). A task
without variants has one, named `default`. E220-E222 for targets that are unknown, cyclic or in
another task.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthc.compiler import ast
from synthc.compiler.diagnostics import Sink
from synthc.compiler.schema import SCHEMAS, TASK_BLOCKS
from synthc.compiler.source import Span
from synthc.compiler.symbols import did_you_mean
from synthc.compiler.typed import Typer
from synthc.compiler.values import Values, Variant

__all__ = ["variants", "merge"]


@dataclass(frozen=True, slots=True)
class _Own:
    """One variant block as written: its typed values and where it was named."""

    name: str
    values: Values
    name_span: Span

    @property
    def target(self) -> tuple[str, ...] | None:
        return self.values.values.get("extends")

    @property
    def target_span(self) -> Span:
        return self.values.spans.get("extends", self.name_span)


def variants(block: ast.Block, typer: Typer) -> list[Variant]:
    """The effective variants of task `block` (source order); E211/E102 for unnamed or repeated ones,
    E220-E222 for a bad `extends`."""
    base = typer.block(block, SCHEMAS["task"], skip=("variant",))
    task = block.name or ""
    blocks = block.blocks("variant")
    if not blocks:
        return [merge(task, "default", base, None)]
    own: dict[str, _Own] = {}
    for vb in blocks:
        if vb.name is None:
            typer.sink.error("E211", "`variant` block needs a name", vb.kind_span, "unnamed")
            continue
        if vb.name in own:
            typer.sink.error("E102", f"variant `{vb.name}` is defined twice", vb.name_span, "defined again here",
                             secondary=((own[vb.name].name_span, "first defined here"),))
            continue
        own[vb.name] = _Own(vb.name, typer.block(vb, SCHEMAS["variant"]), vb.name_span)
    others = {name: [v.name for v in tb.blocks("variant") if v.name]
              for name, tb in typer.res.symbols["task"].items() if name != task}
    parents = _parents(task, own, others, typer.sink)
    return [merge(task, name, base, *(o.values for o in _chain(name, own, parents))) for name in own]


def merge(task: str, name: str, base: Values, *layers: Values | None) -> Variant:
    """Variant `name`: the task's values `base` with each layer's values and blocks on top, in order
    (the root of an `extends` chain first, the variant itself last)."""
    values = Values("task", task, base.origin, dict(base.values), dict(base.spans), invalid=set(base.invalid))
    blocks = dict(base.children)
    owned: set[str] = set()
    origin = base.origin
    for own in layers:
        if own is None:
            continue
        for k in own.values.get("without", ()):
            if k in TASK_BLOCKS:
                blocks.pop(k, None)
                for named in [b for b in blocks if b.startswith(f"{k}:")]:  # `once NAME` blocks
                    blocks.pop(named)
            else:  # an optional setting
                values.values.pop(k, None)
                values.spans.pop(k, None)
            owned.add(k)
        for k, v in own.values.items():
            if k not in ("without", "extends") and k in own.spans:  # set explicitly, not a schema default
                values.values[k] = v
                values.spans[k] = own.spans[k]
                owned.add(k)
        for k, v in own.children.items():
            blocks[k] = v
            owned.add(k)
        values.invalid |= own.invalid
        origin = own.origin
    return Variant(task, name, origin, values, blocks, frozenset(owned))


def _parents(task: str, own: dict[str, _Own], others: dict[str, list[str]], sink: Sink) -> dict[str, str]:
    """Each variant's valid `extends` target (variants whose target is bad are left out, reported)."""
    parents: dict[str, str] = {}
    for v in own.values():
        target = v.target
        if target is None:
            continue
        *owner, name = target
        if owner and owner[0] != task or not owner and name not in own and any(name in o for o in others.values()):
            where = owner[0] if owner else next(t for t, names in others.items() if name in names)
            sink.error("E222", f"variant `{v.name}` of task `{task}` cannot extend a variant of task `{where}`",
                       v.target_span, "another task's variant",
                       help="a variant extends a variant of its own task; copy the settings, or make both "
                            "variants of one task")
        elif name not in own:
            sink.error("E220", f"task `{task}` has no variant `{name}` to extend", v.target_span, "unknown variant",
                       help=("every variant already starts from the task's settings: drop `extends`"
                             if name == "default" else
                             did_you_mean(name, [n for n in own if n != v.name]) or
                             f"variants of `{task}`: {', '.join(own)}"))
        else:
            parents[v.name] = name
    _cycles(task, own, parents, sink)
    return parents


def _cycles(task: str, own: dict[str, _Own], parents: dict[str, str], sink: Sink) -> None:
    """E221 once per cycle, at its first member in source order; the cycle's links are cut."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in own:
        path: list[str] = []
        node: str | None = start
        while node is not None and state.get(node) is None:
            state[node] = 1
            path.append(node)
            node = parents.get(node)
        if node is not None and state[node] == 1:
            ring = path[path.index(node):]
            first = min(ring, key=list(own).index)
            ring = ring[ring.index(first):] + ring[:ring.index(first)]
            chain = " --> ".join(ring + [first])
            message = (f"variant `{first}` extends itself" if len(ring) == 1 else
                       f"variants of task `{task}` extend each other in a cycle: {chain}")
            sink.error("E221", message, own[first].target_span, "the cycle starts here",
                       secondary=tuple((own[n].target_span, f"`{n}` extends `{parents[n]}`") for n in ring[1:]),
                       help="remove its `extends`: it starts from the task's settings" if len(ring) == 1 else
                       "let one of them start from the task's settings (remove its `extends`)")
            for n in ring:
                parents.pop(n, None)
        for n in path:
            state[n] = 2


def _chain(name: str, own: dict[str, _Own], parents: dict[str, str]) -> list[_Own]:
    """The variants whose settings `name` layers, the root ancestor first (parents has no cycles)."""
    out = [own[name]]
    while out[-1].name in parents:
        out.append(own[parents[out[-1].name]])
    return out[::-1]
