"""What each template sees at run time: the one runtime scope builder, driven by the compiler's
scope table (compiler/scopes.py), the same table the checker verifies templates against.

A render site's scope is exactly the table's visible variables for the variant's facts
(`scopes.visible(site, context_of(v))`), each taken from the row's typed values: the table
decides *which* names exist, this module only says where each value comes from. So a variable
the checker accepts is always there at run time, and nothing the checker rejects ever is.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from synthc.compiler import ir, scopes
from synthc.runtime.io.data import Record
from synthc.runtime.prompting.render import render_template

if TYPE_CHECKING:
    from synthc.runtime.retrieval.corpora import Doc
    from synthc.runtime.prompting.rows import Planned

__all__ = ["render", "prompt_scope", "once_key", "once_scope", "demo_scope", "query_scope", "pairs_scope", "corpus_scope", "render_demos"]

Scope = dict[str, Any]


def render(template: ir.Template, scope: Scope, row: str | None = None) -> str:
    """`template` rendered in the sandbox with its limits; any failure is a coded diagnostic at the
    template (runtime/prompting/render.py)."""
    return render_template(template, scope, row)


@functools.lru_cache(maxsize=256)
def _names(site: str, v: ir.Variant, program: ir.Program) -> tuple[str, ...]:
    return tuple(var.name for var in scopes.visible(site, scopes.context_of(v, program)))


def _build(site: str, v: ir.Variant, program: ir.Program, values: dict[str, Any]) -> Scope:
    """The table's variables for `site`, in table order, from `values` (absent values stay out)."""
    return {name: values[name] for name in _names(site, v, program) if values.get(name) is not None}


def _verbalization(v: ir.Variant, program: ir.Program, label: str) -> str:
    ls = program.label_set(v.labels) if v.labels else None
    return next((lb.verbalization for lb in ls.labels if lb.name == label), "") if ls else ""


def _row_values(v: ir.Variant, program: ir.Program, r: Planned) -> dict[str, Any]:
    """Every value a planned row can give a template (the table picks which are visible)."""
    values: dict[str, Any] = {"param": dict(program.params), "variant": v.name, **r.attrs, "persona": r.persona}
    if v.labels and r.label is not None:
        values |= {"label": r.label, "verbalization": _verbalization(v, program, r.label),
                   "labels": list(program.label_set(v.labels).names)}
    if r.seed is not None:
        values["seed"] = r.seed.scope()
    if r.hit is not None:
        values["doc"] = {"id": r.hit.doc.id, "text": r.hit.doc.text, "rank": r.hit.rank,
                         "similarity": round(r.hit.similarity, 6), **r.hit.doc.fields}
    if v.fewshot is not None:
        values["examples"] = [d.scope() for d, _ in r.demos]
    if v.conversation is not None:
        values["turn"] = r.turn
    return values


def prompt_scope(v: ir.Variant, program: ir.Program, r: Planned, demos_text: str | None = None,
                 once: dict[str, str] | None = None) -> Scope:
    """The scope of a row's `prompt` and `system`; `once`: the values of its `once` blocks."""
    return _build("prompt", v, program, _row_values(v, program, r) | {"demos": demos_text, "once": once})


def once_key(v: ir.Variant, program: ir.Program, r: Planned, o: ir.Once) -> str:
    """The row's key for `once` block `o`: the value of its `per` field, as text (JSON for lists
    and numbers, so `1` and `"1"` stay apart; "" where the row lacks the value)."""
    value: Any = _row_values(v, program, r)
    for part in o.per:
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def once_scope(v: ir.Variant, program: ir.Program, key: str) -> Scope:
    """The scope of a `once` block's prompt: its key and the params, nothing a single row owns."""
    return _build("once", v, program, {"param": dict(program.params), "key": key})


def demo_scope(v: ir.Variant, program: ir.Program, example: Record, doc: Doc | None) -> Scope:
    """The scope of one few-shot demo: its example row (and document, for RETRICL)."""
    values: dict[str, Any] = {"param": dict(program.params), "example": example.scope()}
    if example.label is not None and v.labels:
        values |= {"label": example.label, "verbalization": _verbalization(v, program, example.label)}
    if doc is not None:
        values["doc"] = {"id": doc.id, "text": doc.text, **doc.fields}
    return _build("demo", v, program, values)


def query_scope(v: ir.Variant, program: ir.Program, seed: Record) -> Scope:
    """The scope of the retrieval query for one seed row."""
    return _build("query", v, program, {"param": dict(program.params), "seed": seed.scope()})


def pairs_scope(v: ir.Variant, program: ir.Program, output: dict[str, Any], r: Planned) -> Scope:
    """The scope of a qa_pairs record's `query` and `positive`: the row's values plus its output."""
    return _build("pairs", v, program, _row_values(v, program, r) | {"output": output})


def corpus_scope(corpus: ir.Corpus, row: Record) -> Scope:
    """The scope of a corpus's `render` template for one of its rows."""
    names = _corpus_names(corpus.fields)
    return {name: value for name, value in {"row": row.scope()}.items() if name in names}


@functools.lru_cache(maxsize=64)
def _corpus_names(fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(var.name for var in scopes.visible("corpus", scopes.Context(corpus=fields)))


def render_demos(v: ir.Variant, program: ir.Program, r: Planned) -> str | None:
    """The row's demonstrations rendered with the demo template and joined by the separator."""
    if v.fewshot is None:
        return None
    return v.fewshot.separator.join(render(v.fewshot.demo, demo_scope(v, program, ex, doc)) for ex, doc in r.demos)
