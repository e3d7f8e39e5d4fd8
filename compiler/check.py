"""Types, fields and semantics: every block against the schema table, every template against
its scope, every cross-field rule of the three papers' pipelines. Collects all E2xx/E3xx."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from synthc.compiler import ast
from synthc.compiler.diagnostics import Sink
from synthc.compiler.resolve import Resolved
from synthc.compiler.schema import (
    BUILTIN_MODELS, DEDUPE, FIELD_TYPES, SCHEMAS, TOP, BlockSchema, T,
)
from synthc.compiler.source import Span
from synthc.compiler.symbols import did_you_mean
from synthc.compiler.scopes import TEMPLATE_FIELDS, Context, RowShape, Scope, shape, visible
from synthc.compiler.templates import check_template

__all__ = ["Values", "Variant", "Checked", "TemplateUse", "check"]

_INVALID = object()

# Constructor signatures: name -> (parameters in positional order, required parameters).
_DERIVATIONS: dict[str, tuple[dict[str, T], tuple[str, ...]]] = {
    "history_top": ({"column": T("str"), "k": T("int", 1, 1000), "fallback": T("list", elem=T("str"))}, ("column",)),
    "history_count": ({}, ()),
    "value": ({"column": T("str")}, ("column",)),
}
_FIELD_TYPES: dict[str, tuple[dict[str, T], tuple[str, ...]]] = {
    "string": ({"words": T("range", 0, num="int"), "chars": T("range", 0, num="int")}, ()),
    "label": ({}, ()),
    "int": ({"range": T("range", num="int")}, ()),
    "float": ({"range": T("range", num="float")}, ()),
    "bool": ({}, ()),
    "regex": ({"pattern": T("regex")}, ("pattern",)),
    "choice": ({"options": T("list", elem=T("str"))}, ("options",)),
    "list": ({"of": T("fieldtype"), "max": T("int", 1, 100)}, ("of",)),
}


@dataclass(slots=True)
class Values:
    """One checked block: evaluated field values (defaults filled), with their spans."""

    kind: str
    name: str | None
    origin: Span
    values: dict[str, Any] = field(default_factory=dict)
    spans: dict[str, Span] = field(default_factory=dict)
    open: dict[str, tuple[Any, Span]] = field(default_factory=dict)  # open attributes in order
    children: dict[str, Values] = field(default_factory=dict)  # nested blocks by kind (or kind:name)


@dataclass(slots=True)
class Variant:
    """A task variant with the task's settings merged in (the variant's attributes and blocks win)."""

    task: str
    name: str
    origin: Span
    values: Values  # task + variant attributes
    blocks: dict[str, Values]  # effective nested blocks by kind
    own: frozenset[str]  # block kinds (and "prompt") the variant itself overrides


@dataclass(slots=True)
class Checked:
    resolved: Resolved
    decls: dict[str, dict[str, Values]]  # kind -> name -> checked block
    tasks: dict[str, list[Variant]]  # task -> its effective variants (source order)
    params: dict[str, Any]
    templates: list[TemplateUse] = field(default_factory=list)  # every checked template, per variant


@dataclass(frozen=True, slots=True)
class TemplateUse:
    """A template literal as one variant renders it: the site and the facts deciding its scope."""

    lit: ast.Str
    site: str
    context: Context
    task: str
    variant: str


def check(res: Resolved, sink: Sink) -> Checked:
    """Check every declaration; returns evaluated values for lowering.

    >>> from synthc.compiler.resolve import load, resolve
    >>> from synthc.compiler.source import SourceMap
    >>> sm, s = SourceMap(), Sink()
    >>> c = check(resolve(load("x.synth", sm, s, text='labels l { a = "A" }'), sm, s), s)
    >>> c.decls["labels"]["l"].open["a"][0]
    'A'
    """
    checker = _Checker(res, sink)
    for item in res.unknown_top:
        checker.unknown_top(item)
    decls = {kind: {n: checker.block(b, SCHEMAS[kind]) for n, b in res.symbols[kind].items()}
             for kind in TOP if kind != "task"}
    checker.decls = decls
    tasks = {n: checker.task(b) for n, b in res.symbols["task"].items()}
    for kind in ("export", "evaluate"):
        for v in decls[kind].values():
            checker.output_refs(v, tasks)
    for v in decls["evaluate"].values():
        _check_ir_evaluation(v, tasks, decls, sink)
    for name, v in decls["labels"].items():
        if not v.open:
            sink.error("E301", f"label set `{name}` is empty", v.origin, "declares no label",
                       help='add `name = "verbalization"` lines')
    for name, v in decls["model"].items():
        if v.values.get("max_tokens", 0) >= v.values.get("context", 1 << 30):
            sink.error("E308", f"`max_tokens` of model `{name}` does not fit its context",
                       v.spans.get("max_tokens", v.origin), f"{v.values['max_tokens']} ≥ context {v.values['context']}",
                       help="lower `max_tokens` or raise `context`")
    return Checked(res, decls, tasks, checker.param_values(), checker.templates)


def _check_ir_evaluation(v: Values, tasks: dict[str, list[Variant]], decls: dict[str, dict[str, Values]],
                         sink: Sink) -> None:
    """`retrieval` on a qa_pairs task trains and evaluates retrievers: it needs the collection and
    the field of the real rows that names each question's relevant document."""
    x = v.values
    variants = tasks.get(x.get("task", ""), [])
    if "retrieval" not in x.get("metrics", ()) or not variants:
        return
    if variants[0].values.values.get("kind") != "qa_pairs":
        return
    missing = [f for f in ("collection", "relevant") if f not in x]
    if missing:
        sink.error("E314", f"retrieval evaluation of qa_pairs task `{x['task']}` needs {' and '.join(f'`{m}`' for m in missing)}",
                   v.spans.get("metrics", v.origin), "retrieval asked here",
                   help='add `collection = <corpus>` and `relevant = "accepted_answer_id"`')
        return
    for src in (x.get("real"), x.get("train")):
        s = decls["source"].get(src or "")
        if s is not None and x["relevant"] not in s.values.get("fields", ()):
            sink.error("E314", f"source `{src}` does not declare the field `{x['relevant']}`",
                       v.spans.get("relevant", v.origin), "named here",
                       help=f'add "{x["relevant"]}" to `fields` of source `{src}`')


class _Checker:
    def __init__(self, res: Resolved, sink: Sink) -> None:
        self.res = res
        self.sink = sink
        self.decls: dict[str, dict[str, Values]] = {}
        self._reported: set[tuple[int, int, str]] = set()
        self.templates: list[TemplateUse] = []

    # -- generic block checking -------------------------------------------------------------
    def unknown_top(self, item: ast.Item) -> None:
        if isinstance(item, ast.Block) and item.kind in TOP:
            self.sink.error("E211", f"`{item.kind}` block needs a name", item.kind_span, "unnamed",
                            help=f"write `{item.kind} <name> {{ … }}`")
        elif isinstance(item, ast.Block):
            self.sink.error("E205", f"unknown block `{item.kind}`", item.kind_span, "not a top-level block",
                            help=did_you_mean(item.kind, TOP) or f"top-level blocks: {', '.join(TOP)}")
        elif isinstance(item, ast.Attribute):
            self.sink.error("E201", f"attribute `{item.key}` outside any block", item.key_span,
                            "top level takes blocks, `param` and `import`",
                            help="move it into the block it belongs to")

    def block(self, block: ast.Block, schema: BlockSchema, skip: tuple[str, ...] = ()) -> Values:
        out = Values(block.kind, block.name, block.span)
        if schema.named and block.name is None:
            self.sink.error("E211", f"`{block.kind}` block needs a name", block.kind_span, "unnamed")
        if not schema.named and block.name is not None and block.span.file >= 0:
            self.sink.error("E212", f"`{block.kind}` block takes no name", block.name_span, "remove this name")
        seen: dict[str, Span] = {}
        for item in block.items:
            if isinstance(item, ast.Attribute):
                if item.key in seen:
                    self.sink.error("E108", f"`{item.key}` is set twice", item.key_span, "set again here",
                                    secondary=((seen[item.key], "first set here"),))
                    continue
                seen[item.key] = item.key_span
                self.attribute(item, schema, out)
            elif isinstance(item, ast.Block):
                if item.kind in skip:
                    continue
                if item.kind not in schema.blocks:
                    allowed = schema.blocks
                    self.sink.error("E201", f"`{block.kind}` has no block `{item.kind}`", item.kind_span,
                                    "not allowed here",
                                    help=did_you_mean(item.kind, allowed) or
                                    (f"blocks allowed here: {', '.join(allowed)}" if allowed else "this block takes attributes only"))
                    continue
                key = item.kind if not SCHEMAS[item.kind].named else f"{item.kind}:{item.name}"
                if key in out.children:
                    self.sink.error("E108", f"`{item.kind}` block appears twice", item.kind_span, "again here",
                                    secondary=((out.children[key].origin, "first here"),))
                    continue
                out.children[key] = self.block(item, SCHEMAS[item.kind])
            else:
                self.sink.error("E213", "declarations and imports belong at the top level", item.span,
                                "not allowed inside a block")
        for f in schema.fields:
            if f.name not in out.values:
                if f.required:
                    self.sink.error("E202", f"`{block.kind}` is missing `{f.name}`", block.name_span if block.name else block.kind_span,
                                    f"missing `{f.name}` here", help=f"add `{f.name} = …` ({f.doc or _type_doc(f.type)})")
                elif f.default is not None:
                    out.values[f.name] = f.default
        return out

    def attribute(self, attr: ast.Attribute, schema: BlockSchema, out: Values) -> None:
        f = schema.field(attr.key)
        if f is None and schema.open_attrs is not None and attr.key not in [x.name for x in schema.fields]:
            value = self.value(attr.value, schema.open_attrs, attr.key)
            if value is not _INVALID:
                out.open[attr.key] = (value, attr.key_span)
            return
        if f is None:
            names = [x.name for x in schema.fields]
            self.sink.error("E201", f"`{schema.kind}` has no field `{attr.key}`", attr.key_span, "unknown field",
                            help=did_you_mean(attr.key, names) or f"fields: {', '.join(names)}")
            return
        value = self.value(attr.value, f.type, attr.key)
        if value is not _INVALID:
            out.values[attr.key] = value
            out.spans[attr.key] = attr.value.span

    # -- values -----------------------------------------------------------------------------
    def value(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, ast.Ref) and len(e.parts) == 1 and e.parts[0] in self.res.params:
            if not (t.kind == "enum" and e.parts[0] in t.choices) and t.kind not in ("ref",):
                return self.value(_respan(self.res.params[e.parts[0]], e.span), t, key)
        method = getattr(self, f"_v_{t.kind}")
        return method(e, t, key)

    def _wrong(self, e: ast.Expr, expected: str, key: str) -> Any:
        self.sink.error("E203", f"`{key}` expects {expected}, found {_describe(e)}", e.span, f"expected {expected}")
        return _INVALID

    def _v_int(self, e: ast.Expr, t: T, key: str) -> Any:
        if not isinstance(e, ast.Num) or isinstance(e.value, float):
            return self._wrong(e, "an integer", key)
        return self._bounded(e, e.value, t, key)

    def _v_float(self, e: ast.Expr, t: T, key: str) -> Any:
        if not isinstance(e, ast.Num):
            return self._wrong(e, "a number", key)
        return self._bounded(e, float(e.value), t, key)

    def _bounded(self, e: ast.Expr, v: float, t: T, key: str) -> Any:
        if (t.lo is not None and v < t.lo) or (t.hi is not None and v > t.hi):
            lo = "" if t.lo is None else _num(t.lo)
            hi = "" if t.hi is None else _num(t.hi)
            self.sink.error("E204", f"`{key}` = {_num(v)} is out of range", e.span, f"allowed: {lo}..{hi}",
                            help=f"use a value in {lo}..{hi}")
            return _INVALID
        return v

    def _v_str(self, e: ast.Expr, t: T, key: str) -> Any:
        return e.value if isinstance(e, ast.Str) else self._wrong(e, "a string", key)

    def _v_regex(self, e: ast.Expr, t: T, key: str) -> Any:
        if not isinstance(e, ast.Str):
            return self._wrong(e, "a regular expression string", key)
        try:
            re.compile(e.value)
        except re.error as err:
            self.sink.error("E214", f"invalid regular expression: {err.msg}", e.span, "does not compile")
            return _INVALID
        return e.value

    def _v_bool(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, ast.Ref) and e.parts in (("true",), ("false",)):
            return e.parts[0] == "true"
        return self._wrong(e, "true or false", key)

    def _v_enum(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, ast.Ref) and len(e.parts) == 1 and e.parts[0] in t.choices:
            return e.parts[0]
        if isinstance(e, (ast.Ref, ast.Str)):
            name = e.dotted if isinstance(e, ast.Ref) else e.value
            self.sink.error("E206", f"`{key}` cannot be `{name}`", e.span, f"one of: {', '.join(t.choices)}",
                            help=did_you_mean(name, t.choices) or f"choose one of: {', '.join(t.choices)}")
            return _INVALID
        return self._wrong(e, f"one of {', '.join(t.choices)}", key)

    def _v_ref(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, ast.Ref) and len(e.parts) == 1:
            return e.parts[0] if e.parts[0] in self.res.symbols[t.ref] else _INVALID  # E101 from resolve
        return self._wrong(e, f"the name of a {t.ref}", key)

    def _v_list(self, e: ast.Expr, t: T, key: str) -> Any:
        if not isinstance(e, ast.ListExpr):
            return self._wrong(e, "a list `[…]`", key)
        assert t.elem is not None
        items = [self.value(i, t.elem, key) for i in e.items]
        return _INVALID if any(i is _INVALID for i in items) else tuple(items)

    def _v_literal(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, (ast.Str, ast.Num)):
            return e.value
        return self._wrong(e, "a string or number", key)

    def _v_range(self, e: ast.Expr, t: T, key: str) -> Any:
        if not isinstance(e, ast.RangeExpr):
            return self._wrong(e, "a range `low..high`", key)
        elem = T(t.num, t.lo, t.hi)
        lo, hi = self.value(e.lo, elem, key), self.value(e.hi, elem, key)
        if lo is _INVALID or hi is _INVALID:
            return _INVALID
        if lo > hi:
            self.sink.error("E208", f"range `{_num(lo)}..{_num(hi)}` is empty", e.span, "low end above high end",
                            help=f"write `{_num(hi)}..{_num(lo)}`")
            return _INVALID
        return (lo, hi)

    def _v_template(self, e: ast.Expr, t: T, key: str) -> Any:
        if not isinstance(e, ast.Str):
            return self._wrong(e, "a template string", key)
        return e  # checked later against its scope, which depends on the enclosing task

    def _v_gguf(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, ast.Str):
            return ("path", e.value)
        if isinstance(e, ast.Call) and e.callee.dotted == "builtin":
            args = self._args(e, {"name": T("str")}, key)
            if args is _INVALID:
                return _INVALID
            name = args.get("name")
            if name not in BUILTIN_MODELS:
                self.sink.error("E210", f"no builtin model `{name}`", e.span, "unknown builtin",
                                help=did_you_mean(str(name), BUILTIN_MODELS) or f"builtins: {', '.join(BUILTIN_MODELS)}")
                return _INVALID
            return ("builtin", name)
        if isinstance(e, ast.Call):
            return self._unknown_fn(e, ("builtin",))
        return self._wrong(e, 'a .gguf path or `builtin("smollm2-135m")`', key)

    def _v_dedupe(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, ast.Ref) and e.dotted in ("exact", "none"):
            return (e.dotted, 1.0)
        if isinstance(e, ast.Call) and e.callee.dotted == "near":
            args = self._args(e, {"threshold": T("float", 0, 1)}, key)
            return _INVALID if args is _INVALID else ("near", args.get("threshold", 0.9))
        if isinstance(e, ast.Call):
            return self._unknown_fn(e, DEDUPE)
        return self._wrong(e, "`exact`, `none` or `near(0.9)`", key)

    def _v_derive(self, e: ast.Expr, t: T, key: str) -> Any:
        if not isinstance(e, ast.Call):
            return self._wrong(e, "a derivation like `history_top(\"tags\", k = 5)`", key)
        called = self._signature(e, _DERIVATIONS, key)
        if called is _INVALID:
            return _INVALID
        name, args = called
        return (name, args.get("column"), args.get("k", 5), tuple(args.get("fallback", ())))

    def _v_fieldtype(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, ast.Ref) and len(e.parts) == 1 and e.parts[0] in FIELD_TYPES:
            e = ast.Call(callee=e, args=(), span=e.span)
        if not isinstance(e, ast.Call):
            return self._wrong(e, "a field type like `string(words = 10..200)`", key)
        called = self._signature(e, _FIELD_TYPES, key)
        if called is _INVALID:
            return _INVALID
        name, args = called
        return (name, tuple(sorted(args.items())))

    def _signature(self, e: ast.Call, table: dict[str, tuple[dict[str, T], tuple[str, ...]]], key: str) -> Any:
        """Check a constructor call against `table`: name -> (parameters, required ones)."""
        name = e.callee.dotted
        if name not in table:
            return self._unknown_fn(e, tuple(table))
        params, required = table[name]
        args = self._args(e, params, key)
        if args is _INVALID:
            return _INVALID
        missing = [p for p in required if p not in args]
        if missing:
            self.sink.error("E210", f"`{name}(…)` needs `{missing[0]}`", e.span, "missing argument")
            return _INVALID
        return name, args

    def _unknown_fn(self, e: ast.Call, options: tuple[str, ...] | dict[str, Any]) -> Any:
        names = list(options)
        self.sink.error("E209", f"unknown function `{e.callee.dotted}`", e.callee.span, "not accepted here",
                        help=did_you_mean(e.callee.dotted, names) or f"use one of: {', '.join(names)}")
        return _INVALID

    def _args(self, call: ast.Call, params: dict[str, T], key: str) -> Any:
        out: dict[str, Any] = {}
        order = list(params)
        ok = True
        for i, arg in enumerate(call.args):
            name = arg.name if arg.name is not None else (order[i] if i < len(order) else None)
            if name is None or name not in params:
                label = f"`{arg.name}`" if arg.name else f"argument {i + 1}"
                self.sink.error("E210", f"`{call.callee.dotted}` takes no {label}", arg.span, "unexpected argument",
                                help=did_you_mean(arg.name or "", order) or
                                (f"arguments: {', '.join(order)}" if order else "it takes no arguments"))
                ok = False
                continue
            if name in out:
                self.sink.error("E210", f"`{name}` given twice", arg.span, "again here")
                ok = False
                continue
            value = self.value(arg.value, params[name], name)
            if value is _INVALID:
                ok = False
            out[name] = value
        return out if ok else _INVALID

    # -- tasks ------------------------------------------------------------------------------
    def task(self, block: ast.Block) -> list[Variant]:
        base = self.block(block, SCHEMAS["task"], skip=("variant",))
        variants = block.blocks("variant")
        out: list[Variant] = []
        seen: dict[str, Span] = {}
        if not variants:
            out.append(self._variant(block.name or "", "default", base, None))
        for vb in variants:
            if vb.name is None:
                self.sink.error("E211", "`variant` block needs a name", vb.kind_span, "unnamed")
                continue
            if vb.name in seen:
                self.sink.error("E102", f"variant `{vb.name}` is defined twice", vb.name_span, "defined again here",
                                secondary=((seen[vb.name], "first defined here"),))
                continue
            seen[vb.name] = vb.name_span
            own = self.block(vb, SCHEMAS["variant"])
            out.append(self._variant(block.name or "", vb.name, base, own))
        for v in out:
            self._semantics(v)
            self._templates(v)
        return out

    def _variant(self, task: str, name: str, base: Values, own: Values | None) -> Variant:
        values = Values("task", task, base.origin, dict(base.values), dict(base.spans))
        blocks = {k: v for k, v in base.children.items()}
        owned: set[str] = set()
        if own is not None:
            for k in own.values.get("without", ()):
                blocks.pop(k, None)
                owned.add(k)
            for k, v in own.values.items():
                if k == "without":
                    continue
                if k in own.spans:  # set explicitly in the variant, not a schema default
                    values.values[k] = v
                    values.spans[k] = own.spans[k]
                    owned.add(k)
            for k, v in own.children.items():
                blocks[k] = v
                owned.add(k)
        origin = own.origin if own is not None else base.origin
        return Variant(task, name, origin, values, blocks, frozenset(owned))

    def _semantics(self, v: Variant) -> None:
        val, spans = v.values.values, v.values.spans
        where = v.values.origin
        kind = val.get("kind", "classification")
        seeds = val.get("seeds")
        fewshot, retrieve = v.blocks.get("fewshot"), v.blocks.get("retrieve")
        label = f"task `{v.task}`" + (f", variant `{v.name}`" if v.name != "default" else "")
        if "prompt" not in val:
            self._once("E202", f"{label} is missing `prompt`", v.origin, "missing `prompt` here",
                       help='add `prompt = """…"""`')
        if kind == "classification":
            if val.get("labels") is None:
                self._once("E306", f"classification {label} needs `labels`", where, "no label set",
                           help="add `labels = <labels block>`")
            if ("per_label" in val) == ("total" in val):
                both = "per_label" in val
                self._once("E305", f"{label} must set exactly one of `per_label` and `total`",
                           spans.get("total", where) if both else where, "both set" if both else "neither set",
                           help="keep one" if both else "add `per_label = N`")
            src = self.decls["source"].get(seeds) if seeds else None
            if src is not None and "label" not in src.values:
                self._once("E306", f"seeds source `{seeds}` has no `label` column", spans.get("seeds", where),
                           "classification seeds need labels", help='map it: `label = "label"` in the source')
        else:
            if not seeds:
                self._once("E310", f"qa_pairs {label} needs `seeds`", where, "no input rows",
                           help="add `seeds = <source>` (the questions)")
            if "per_label" in val:
                self._once("E305", f"qa_pairs {label} takes `total`, not `per_label`", spans["per_label"], "per label")
        if "pairs" in v.blocks and kind != "qa_pairs":
            self._once("E307", f"`pairs` needs `kind = qa_pairs` in {label}", v.blocks["pairs"].origin, "pairs block")
        if fewshot is not None and fewshot.values.get("shots", 0) > 0:
            if not seeds:
                self._once("E302", f"few-shot demos need `seeds` in {label}", fewshot.origin, "demos from where?",
                           help="add `seeds = <source>` to the task")
            if fewshot.values.get("from") == "retrieved" and (retrieve is None or "demo_ranks" not in retrieve.values):
                self._once("E303", f"`from = retrieved` needs `retrieve {{ demo_ranks = … }}` in {label}",
                           fewshot.spans.get("from", fewshot.origin), "no retrieved demo pairs",
                           help="add a retrieve block with `demo_ranks = 1..2`")
        if retrieve is not None:
            if not seeds:
                self._once("E302", f"retrieval queries need `seeds` in {label}", retrieve.origin,
                           "queries come from seed rows", help="add `seeds = <source>` to the task")
            k = retrieve.values.get("k", 50)
            for rk in ("ranks", "demo_ranks"):
                rng = retrieve.values.get(rk)
                if rng and rng[1] > k:
                    self._once("E309", f"`{rk}` reaches rank {rng[1]} but only k = {k} are retrieved",
                               retrieve.spans[rk], f"beyond k = {k}", help=f"raise `k` to {rng[1]} or narrow the range")
        conv = v.blocks.get("conversation")
        model = self.decls["model"].get(val.get("model", ""))
        if conv is not None and model is not None and model.values.get("mode") == "completion":
            self._once("E304", f"`conversation` needs a chat model in {label}", conv.origin, "multi-turn history",
                       help=f"set `mode = chat` on model `{val['model']}`")
        persona = val.get("persona")
        pers = self.decls["persona"].get(persona) if persona else None
        if pers is not None and pers.values.get("source") != seeds:
            self._once("E313", f"persona `{persona}` is derived from `{pers.values.get('source')}`, "
                       f"but {label} has seeds `{seeds}`", spans.get("persona", where), "different source",
                       help=f"derive the persona from `{seeds}`")
        filt = v.blocks.get("filter")
        if filt is not None:
            self._filter(filt, val.get("labels"))

    def _filter(self, filt: Values, labels: str | None) -> None:
        oracle = filt.children.get("label_oracle")
        if oracle is not None:
            src = self.decls["source"].get(oracle.values.get("trained_on", ""))
            if src is not None and "label" not in src.values:
                self._once("E312", f"oracle source `{src.name}` has no `label` column",
                           oracle.spans["trained_on"], "unlabelled source", help='map `label = "…"` on the source')
        names = [n for n in (self.decls["labels"].get(labels or "") or Values("", "", filt.origin)).open]
        for lab in filt.values.get("labels") or ():
            if names and lab not in names:
                self._once("E107", f"unknown label `{lab}`", filt.spans["labels"], f"not a label of `{labels}`",
                           help=did_you_mean(lab, names) or f"labels: {', '.join(names)}")

    def _once(self, code: str, message: str, span: Span, label: str, **extra: Any) -> None:
        # Task-level settings are checked once per variant; report each problem once.
        key = (span.file, span.start, code)
        if key not in self._reported:
            self._reported.add(key)
            self.sink.error(code, message, span, label, **extra)

    # -- template scopes --------------------------------------------------------------------
    def _templates(self, v: Variant) -> None:
        where = f"task `{v.task}`" + (f" (variant `{v.name}`)" if v.name != "default" else "")
        ctx = self.context(v)
        for kind, key, site in TEMPLATE_FIELDS:
            holder = v.values if kind == "task" else v.blocks.get(kind)
            if holder is None or site == "corpus" or not isinstance(holder.values.get(key), ast.Str):
                continue
            name = f"pairs.{key}" if kind == "pairs" else key  # `pairs.query` vs `retrieve`'s `query`
            self.templates.append(TemplateUse(holder.values[key], site, ctx, v.task, v.name))
            self._template(holder.values[key], shape(visible(site, ctx)), f"`{name}` of {where}")

    def _template(self, lit: ast.Str, scope: Scope, where: str) -> None:
        # The same template (a task-level prompt) is shared by variants: check it once per scope.
        key = (lit.span.file, lit.span.start, repr(sorted(_flat(scope))))
        if key in self._reported:
            return
        self._reported.add(key)
        before = len(self.sink.items)
        check_template(lit, scope, where, self.res.sources, self.sink)
        # Drop exact repeats (same code, same place) reported for another variant's scope.
        fresh = self.sink.items[before:]
        del self.sink.items[before:]
        for d in fresh:
            k = (d.span.file, d.span.start, d.code.id)
            if k not in self._reported:
                self._reported.add(k)
                self.sink.items.append(d)

    def row_shape(self, name: str | None) -> RowShape | None:
        src = self.decls["source"].get(name or "")
        return None if src is None else RowShape("label" in src.values, tuple(src.values.get("fields", ())))

    def context(self, v: Variant) -> Context:
        """The facts of variant `v` that decide what its templates can see (see compiler/scopes)."""
        val = v.values.values
        ret, few = v.blocks.get("retrieve"), v.blocks.get("fewshot")
        docs = None
        if ret is not None:
            retriever = self.decls["retriever"].get(ret.values.get("from", ""))
            corpus = self.decls["corpus"].get(retriever.values.get("corpus", "")) if retriever else None
            docs = tuple(corpus.values.get("fields", ())) if corpus else ()
        persona = None
        if val.get("persona"):
            pers = self.decls["persona"].get(val["persona"])
            persona = tuple(pers.open) if pers else ()
        out = v.blocks.get("output")
        output = (tuple(out.open) + tuple(k.split(":", 1)[-1] for k in out.children)) if out else ("text",)
        vary = v.blocks.get("vary")
        return Context(
            params=tuple(self.res.params), classification=val.get("kind", "classification") == "classification",
            vary=tuple(vary.open) if vary else (), seeds=self.row_shape(val.get("seeds")), docs=docs,
            fewshot=few is not None and few.values.get("shots", 0) > 0,
            demo_docs=few is not None and few.values.get("from") == "retrieved" and ret is not None,
            persona=persona, conversation="conversation" in v.blocks, output=output,
        )

    # -- exports and evaluations ------------------------------------------------------------
    def output_refs(self, v: Values, tasks: dict[str, list[Variant]]) -> None:
        task = v.values.get("task")
        if task not in tasks:
            return
        names = [x.name for x in tasks[task]]
        for name in v.values.get("variants") or ():
            if name not in names:
                self.sink.error("E109", f"task `{task}` has no variant `{name}`", v.spans["variants"],
                                "unknown variant", help=did_you_mean(name, names) or f"variants: {', '.join(names)}")

    def param_values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, e in self.res.params.items():
            if isinstance(e, (ast.Num, ast.Str)):
                out[name] = e.value
            elif isinstance(e, ast.Ref) and e.parts in (("true",), ("false",)):
                out[name] = e.parts[0] == "true"
            elif isinstance(e, ast.ListExpr) and all(isinstance(i, (ast.Num, ast.Str)) for i in e.items):
                out[name] = tuple(i.value for i in e.items)  # type: ignore[union-attr]
            else:
                self.sink.error("E203", f"param `{name}` must be a literal", e.span,
                                "a number, string, true/false or a list of literals")
        return out


def _flat(scope: Scope, prefix: str = "") -> list[str]:
    out = []
    for k, v in scope.items():
        out.append(prefix + k)
        if isinstance(v, dict):
            out += _flat(v, prefix + k + ".")
    return out


def _respan(e: ast.Expr, span: Span) -> ast.Expr:
    import dataclasses

    return dataclasses.replace(e, span=span)


def _describe(e: ast.Expr) -> str:
    if isinstance(e, ast.Str):
        return "a string"
    if isinstance(e, ast.Num):
        return "a number"
    if isinstance(e, ast.Ref):
        return f"the name `{e.dotted}`"
    if isinstance(e, ast.ListExpr):
        return "a list"
    if isinstance(e, ast.RangeExpr):
        return "a range"
    return f"a call to `{e.callee.dotted}`"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _type_doc(t: T) -> str:
    return {"ref": f"the name of a {t.ref}", "str": "a string", "int": "an integer", "float": "a number",
            "gguf": 'a .gguf path or builtin("smollm2-135m")'}.get(t.kind, t.kind)
