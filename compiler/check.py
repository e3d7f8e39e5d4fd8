"""Types, fields and semantics: the checking stage. Collects all E2xx/E3xx and template E0xx/E1xx.

It runs three jobs, each in its own module: schema typing of every block (`typed`), variant merging
(`variants`), the papers' cross-field rules (`rules`, one function per code); and it checks every
template of every variant against the scope table (`scopes`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from synthc.compiler import ast
from synthc.compiler.diagnostics import Diagnostic, Sink
from synthc.compiler.resolve import Resolved
from synthc.compiler.rules import PROGRAM_RULES, VARIANT_RULES, Decls, Report
from synthc.compiler.schema import SCHEMAS, TOP
from synthc.compiler.scopes import TEMPLATE_FIELDS, Context, RowShape, Scope, once_keys, shape, visible
from synthc.compiler.source import SourceFile, SourceMap, Span
from synthc.compiler.symbols import did_you_mean
from synthc.compiler.templates import check_template
from synthc.compiler.typed import Typer
from synthc.compiler.values import Checked, TemplateUse, Values, Variant
from synthc.compiler.variants import variants

__all__ = ["Values", "Variant", "Checked", "TemplateUse", "check", "context"]


def check(res: Resolved, sink: Sink) -> Checked:
    """Check every declaration; returns evaluated values for lowering.

    >>> from synthc.compiler.resolve import load, resolve
    >>> from synthc.compiler.source import SourceMap
    >>> sm, s = SourceMap(), Sink()
    >>> c = check(resolve(load("x.synth", sm, s, text='labels l { a = "A" }'), sm, s), s)
    >>> c.decls["labels"]["l"].open["a"][0]
    'A'
    """
    typer = Typer(res, sink)
    for item in res.unknown_top:
        typer.unknown_top(item)
    decls = {kind: {n: typer.block(b, SCHEMAS[kind]) for n, b in res.symbols[kind].items()}
             for kind in TOP if kind != "task"}
    report = Report(sink, decls)
    templates = _Templates(res, decls, sink)
    tasks: dict[str, list[Variant]] = {}
    for name, block in res.symbols["task"].items():
        tasks[name] = variants(block, typer)
        for v in tasks[name]:
            for rule in VARIANT_RULES:
                rule(v, report)
            templates.check(v)
    for program_rule in PROGRAM_RULES:
        program_rule(decls, tasks, sink)
    return Checked(res, decls, tasks, typer.param_values(), templates.uses)


def context(v: Variant, decls: Decls, params: tuple[str, ...]) -> Context:
    """The facts of variant `v` that decide what its templates can see (compiler/scopes.py)."""
    val = v.values.values
    ret, few = v.blocks.get("retrieve"), v.blocks.get("fewshot")
    docs = None
    if ret is not None:
        retriever = decls["retriever"].get(ret.values.get("from", ""))
        corpus = decls["corpus"].get(retriever.values.get("corpus", "")) if retriever else None
        docs = tuple(corpus.values.get("fields", ())) if corpus else ()
    persona = None
    if val.get("persona"):
        pers = decls["persona"].get(val["persona"])
        persona = tuple(pers.open) if pers else ()
    src = decls["source"].get(val.get("seeds") or "")
    seeds = None if src is None else RowShape("label" in src.values, tuple(src.values.get("fields", ())))
    out = v.blocks.get("output")
    output = (tuple(out.open) + tuple(k.split(":", 1)[-1] for k in out.children)) if out else ("text",)
    vary = v.blocks.get("vary")
    return Context(
        params=params, classification=val.get("kind", "classification") == "classification",
        vary=tuple(vary.open) if vary else (), seeds=seeds, docs=docs,
        fewshot=few is not None and few.values.get("shots", 0) > 0,
        demo_docs=few is not None and few.values.get("from") == "retrieved" and ret is not None,
        persona=persona, conversation="conversation" in v.blocks, output=output,
        once=tuple(k.split(":", 1)[1] for k in v.blocks if k.startswith("once:")),
    )


class _Templates:
    """Checks each variant's templates against its scope; a template shared by variants (a
    task-level prompt) is checked once per distinct scope and each problem reported once."""

    def __init__(self, res: Resolved, decls: Decls, sink: Sink) -> None:
        self.res, self.decls, self.sink = res, decls, sink
        self.uses: list[TemplateUse] = []
        self._checked: set[tuple[int, int, str]] = set()
        self._reported: set[tuple[int, int, str]] = set()

    def check(self, v: Variant) -> None:
        where = f"task `{v.task}`" + (f" (variant `{v.name}`)" if v.name != "default" else "")
        ctx = context(v, self.decls, tuple(self.res.params))
        for kind, key, site in TEMPLATE_FIELDS:
            # Named blocks (`once NAME`) are keyed `kind:NAME`; each is checked on its own.
            holders = ([(k.split(":", 1)[1], b) for k, b in v.blocks.items() if k.startswith("once:")]
                       if kind == "once" else [(None, v.values if kind == "task" else v.blocks.get(kind))])
            for block_name, holder in holders:
                if holder is None or site == "corpus" or not isinstance(holder.values.get(key), ast.Str):
                    continue
                lit = holder.values[key]
                self.uses.append(TemplateUse(lit, site, ctx, v.task, v.name))
                name = (f"pairs.{key}" if kind == "pairs"  # `pairs.query` vs `retrieve`'s `query`
                        else f"once {block_name}`'s `{key}" if kind == "once" else key)
                self._one(lit, _scope(site, ctx), f"`{name}` of {where}")
        self._once_keys(v, ctx)

    def _once_keys(self, v: Variant, ctx: Context) -> None:
        """E232: a `once` block's `per` must name a field every row of the variant carries."""
        keys = once_keys(ctx)
        for k, block in v.blocks.items():
            per = block.values.get("per") if k.startswith("once:") else None
            if per is None or ".".join(per) in keys:
                continue
            span = block.spans["per"]
            if (span.file, span.start, "E232") in self._reported:
                continue
            self._reported.add((span.file, span.start, "E232"))
            dotted = ".".join(per)
            self.sink.error("E232", f"`per` = `{dotted}` names no field of the rows of task `{v.task}`", span,
                            "not a row field", help=did_you_mean(dotted, keys) or
                            (f"row fields: {', '.join(keys)}" if keys else
                             "the rows carry no field: add seeds, a persona or a `vary` attribute"))

    def _one(self, lit: ast.Str, scope: _SiteScope, where: str) -> None:
        key = (lit.span.file, lit.span.start, scope.names)
        if key in self._checked:
            return
        self._checked.add(key)
        src = self.res.sources.get(lit.span.file)
        assert src is not None, "a literal's span names a file of this compilation"
        raw = src.text[lit.span.start : lit.span.end]
        # Drop exact repeats (same code, same place) reported for another variant's scope.
        for d in _moved(_template_problems(raw, lit, scope, where), lit.span):
            k = (d.span.file, d.span.start, d.code.id)
            if k not in self._reported:
                self._reported.add(k)
                self.sink.items.append(d)


_MEMO: dict[tuple[str, str, str], tuple[Diagnostic, ...]] = {}
_MEMO_MAX = 4096


@dataclass(frozen=True, slots=True)
class _SiteScope:
    shape: Scope  # what check_template walks
    names: str  # every readable name, sorted: a template is checked once per distinct set
    key: str  # the exact shape (order included: it decides did-you-mean ties)


@functools.lru_cache(maxsize=1024)
def _scope(site: str, ctx: Context) -> _SiteScope:
    scope = shape(visible(site, ctx))
    return _SiteScope(scope, repr(sorted(_flat(scope))), repr(scope))


def _template_problems(raw: str, lit: ast.Str, scope: _SiteScope, where: str) -> tuple[Diagnostic, ...]:
    """check_template's findings for the literal `raw`, with spans relative to the literal's start in
    file 0. A pure function of its key, so a re-check after an edit elsewhere (the language server,
    on every keystroke) reuses it instead of re-parsing every prompt with Jinja."""
    key = (raw, scope.key, where)
    hit = _MEMO.get(key)
    if hit is None:
        sources, sink = SourceMap(), Sink()
        sources.add(SourceFile("<template>", raw))
        check_template(replace(lit, span=Span(0, 0, len(raw))), scope.shape, where, sources, sink)
        hit = _MEMO[key] = tuple(sink.items)
        if len(_MEMO) > _MEMO_MAX:
            del _MEMO[next(iter(_MEMO))]
    return hit


def _moved(diags: tuple[Diagnostic, ...], at: Span) -> list[Diagnostic]:
    def move(span: Span) -> Span:
        return Span(at.file, span.start + at.start, span.end + at.start)

    return [replace(d, labels=tuple(replace(lb, span=move(lb.span)) for lb in d.labels)) for d in diags]


def _flat(scope: Scope, prefix: str = "") -> list[str]:
    out = []
    for k, v in scope.items():
        out.append(prefix + k)
        if isinstance(v, dict):
            out += _flat(v, prefix + k + ".")
    return out
