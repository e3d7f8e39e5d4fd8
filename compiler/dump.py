"""Canonical dumps: IR as JSON, the plan as JSON (with schema_version), text and DOT.
Sorted keys, source order, no ids from id()/hash(): the golden tests compare these bytes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from synthc.compiler import ir
from synthc.compiler.plan import Plan, Step

__all__ = ["PLAN_SCHEMA_VERSION", "to_data", "ir_json", "plan_data", "plan_json", "plan_text", "plan_dot"]

PLAN_SCHEMA_VERSION = 1  # bump on a breaking change to plan.json; adding keys is not breaking


def to_data(obj: Any, drop: tuple[str, ...] = (), template: Callable[[ir.Template], Any] | None = None) -> Any:
    """Plain JSON data for IR values, the one IR -> data function (dumps, `diff`, cache keys): fields
    with compare=False (origins, roots) are left out, and so are optional fields marked `omit_none`
    while None (a newer setting absent from older dumps). `drop`: top-level fields to leave out too;
    `template`: what a template becomes (by default its fields, like any IR value)."""
    if template is not None and isinstance(obj, ir.Template):
        return template(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name), template=template) for f in dataclasses.fields(obj)
                if f.compare and f.name not in drop and not (f.metadata.get("omit_none") and getattr(obj, f.name) is None)}
    if isinstance(obj, (tuple, list)):
        return [to_data(x, template=template) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_data(v, template=template) for k, v in obj.items()}
    return obj


def ir_json(program: ir.Program) -> str:
    return json.dumps(to_data(program), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def plan_data(p: Plan, rows: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """`rows`: per generating node, what the runtime found (`cache`: rows, cached, new, tokens)."""
    nodes = []
    for node in p.order():
        s = p.step(node)
        entry = {
            "id": s.id, "kind": s.kind, "summary": s.summary, "requests": s.requests, "bound": s.bound,
            "variant": s.variant, "deps": p.deps(node),
        }
        if rows and node in rows:
            entry["cache"] = rows[node]
        nodes.append(entry)
    files = {mode: [{"path": f.path, "what": f.what} for f in p.files if f.mode == mode] for mode in ("read", "write")}
    return {"schema_version": PLAN_SCHEMA_VERSION, "nodes": nodes, "waves": p.waves(), "files": files}


def plan_json(p: Plan, rows: dict[str, dict[str, Any]] | None = None) -> str:
    return json.dumps(plan_data(p, rows), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _requests(n: int | None, bound: str) -> str:
    if n is None:
        return "one request per seed row"
    return f"{'≤ ' if bound == 'at_most' else ''}{n} request{'s' if n != 1 else ''}"


def _budget(s: Step) -> int | None:
    """Most requests a generate step may make with quota rounds (attempts × its first round)."""
    v = s.target
    if s.kind != "generate" or s.requests is None or getattr(v, "kind", "") != "classification":
        return None
    return int(v.attempts) * s.requests


def plan_text(p: Plan, extra: dict[str, str] | None = None) -> str:
    """The plan as waves of nodes (each wave's nodes can run once the previous waves are done)."""
    extra = extra or {}
    waves = p.waves()
    gens = [p.step(n) for n in p.graph if p.step(n).kind == "generate"]
    total = sum(s.requests or 0 for s in gens)
    most = sum(_budget(s) or s.requests or 0 for s in gens)
    budget = f" (≤ {most} with quota rounds)" if most > total else ""
    lines = [f"plan: {p.graph.number_of_nodes()} nodes, {len(waves)} waves, {total} generation requests{budget}"]
    width = max((len(n) for n in p.graph), default=0)
    for i, wave in enumerate(waves, 1):
        lines.append(f"wave {i}")
        for node in wave:
            s = p.step(node)
            most = _budget(s)
            quota = f"; ≤ {most} with quota rounds, attempts = {s.target.attempts}" if most else ""
            req = f"  [{_requests(s.requests, s.bound)}{quota}]" if s.kind == "generate" else ""
            lines.append(f"  {node.ljust(width)}  {s.summary}{req}")
            deps = p.deps(node)
            if deps:
                lines.append(f"  {''.ljust(width)}  ← {', '.join(deps)}")
            for note in extra.get(node, "").splitlines():
                lines.append(f"  {''.ljust(width)}  {note}")
    lines += _files_text(p)
    return "\n".join(lines) + "\n"


def _files_text(p: Plan) -> list[str]:
    """The files section: what the build reads and writes (relative to the recipe's folder)."""
    out = []
    for mode in ("read", "write"):
        uses = [f for f in p.files if f.mode == mode]
        if uses:
            width = max(len(f.path) for f in uses)
            out.append(f"files the build {'reads' if mode == 'read' else 'writes'} (relative to the recipe's folder)")
            out += [f"  {f.path.ljust(width)}  {f.what}" for f in uses]
    return out


def plan_dot(p: Plan) -> str:
    colors = {"generate": "lightgoldenrod1", "export": "palegreen", "evaluate": "lightblue"}
    out = ["digraph plan {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    for node in p.order():
        s = p.step(node)
        label = node + (f"\\n{_requests(s.requests, s.bound)}" if s.kind == "generate" else "")
        color = colors.get(s.kind)
        style = f', style=filled, fillcolor="{color}"' if color else ""
        out.append(f'  "{node}" [label="{label}"{style}];')
    for u, v in sorted(p.graph.edges):
        out.append(f'  "{u}" -> "{v}";')
    out.append("}")
    return "\n".join(out) + "\n"
