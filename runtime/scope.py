"""What each template sees at run time: the one place the runtime builds template scopes.

The checker (compiler/check.py) verifies templates against the same names statically; a scope
built here has exactly the variables that check allows at that site:
- prompt / system: param, variant, vary attributes, label/verbalization/labels, seed, doc, demos
  + examples (few-shot), persona, turn (conversations);
- demo: param, example, label/verbalization, doc (RETRICL);
- retrieval query: param, seed;
- pairs query/positive: the prompt's scope without demos, plus the parsed output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.compiler import ir
from synthc.compiler.templates import compiled
from synthc.runtime.data import Row
from synthc.runtime.retrieval import Doc

if TYPE_CHECKING:
    from synthc.runtime.rows import Planned

__all__ = ["render", "prompt_scope", "demo_scope", "query_scope", "pairs_scope", "render_demos"]

Scope = dict[str, Any]


def render(template: ir.Template, scope: Scope) -> str:
    return compiled(template.text).render(**scope)


def _base(program: ir.Program) -> Scope:
    return {"param": dict(program.params)}


def _label(v: ir.Variant, program: ir.Program, label: str) -> Scope:
    ls = program.label_set(v.labels) if v.labels else None
    verbalization = next((lb.verbalization for lb in ls.labels if lb.name == label), "") if ls else ""
    return {"label": label, "verbalization": verbalization}


def prompt_scope(v: ir.Variant, program: ir.Program, r: Planned, demos_text: str | None = None) -> Scope:
    s: Scope = _base(program) | {"variant": v.name, **r.attrs}
    if v.labels and r.label is not None:
        s |= _label(v, program, r.label) | {"labels": list(program.label_set(v.labels).names)}
    if r.seed is not None:
        s["seed"] = r.seed.scope()
    if r.hit is not None:
        s["doc"] = {"id": r.hit.doc.id, "text": r.hit.doc.text, "rank": r.hit.rank,
                    "similarity": round(r.hit.similarity, 6), **r.hit.doc.fields}
    if demos_text is not None:
        s["demos"] = demos_text
        s["examples"] = [d.scope() for d, _ in r.demos]
    if r.persona is not None:
        s["persona"] = r.persona
    if v.conversation is not None:
        s["turn"] = r.turn
    return s


def demo_scope(v: ir.Variant, program: ir.Program, example: Row, doc: Doc | None) -> Scope:
    s: Scope = _base(program) | {"example": example.scope()}
    if example.label is not None and v.labels:
        s |= _label(v, program, example.label)
    if doc is not None:
        s["doc"] = {"id": doc.id, "text": doc.text, **doc.fields}
    return s


def query_scope(program: ir.Program, seed: Row) -> Scope:
    return _base(program) | {"seed": seed.scope()}


def pairs_scope(v: ir.Variant, program: ir.Program, output: dict[str, Any], seed: Row | None,
                persona: dict[str, Any] | None) -> Scope:
    s: Scope = _base(program) | {"variant": v.name, "output": output}
    if persona is not None:
        s["persona"] = persona
    if seed is not None:
        s["seed"] = seed.scope()
    return s


def render_demos(v: ir.Variant, program: ir.Program, r: Planned) -> str | None:
    """The row's demonstrations rendered with the demo template and joined by the separator."""
    if v.fewshot is None:
        return None
    return v.fewshot.separator.join(render(v.fewshot.demo, demo_scope(v, program, ex, doc)) for ex, doc in r.demos)
