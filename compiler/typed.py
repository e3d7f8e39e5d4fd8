"""Schema typing: a block's syntax against its BlockSchema, into evaluated `Values`.

Each field's expression is checked against its type (`T`) and evaluated; defaults are filled and
spans kept. Collects E201-E214 (and E108 for repeats); an invalid value is reported and left out,
so later rules see only well-typed values.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from synthc.compiler import ast
from synthc.compiler.diagnostics import Sink
from synthc.compiler.limits import MAX_NESTING
from synthc.compiler.resolve import Resolved
from synthc.compiler.schema import BUILTIN_MODELS, DEDUPE, FIELD_TYPES, SCHEMAS, TOP, BlockSchema, T
from synthc.compiler.source import Span
from synthc.compiler.symbols import did_you_mean
from synthc.compiler.values import Values

__all__ = ["Typer", "INVALID"]

INVALID = object()  # a value that failed its type (already reported)

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


class Typer:
    """Types blocks against the schema table; every problem goes to the sink, the value is dropped."""

    def __init__(self, res: Resolved, sink: Sink) -> None:
        self.res = res
        self.sink = sink

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
                if f.required and f.name not in seen:  # set but invalid: already reported
                    self.sink.error("E202", f"`{block.kind}` is missing `{f.name}`", block.name_span if block.name else block.kind_span,
                                    f"missing `{f.name}` here", help=f"add `{f.name} = …` ({f.doc or _type_doc(f.type)})")
                elif f.default is not None:
                    out.values[f.name] = f.default
        return out

    def attribute(self, attr: ast.Attribute, schema: BlockSchema, out: Values) -> None:
        f = schema.field(attr.key)
        if f is None and schema.open_attrs is not None and attr.key not in [x.name for x in schema.fields]:
            value = self.value(attr.value, schema.open_attrs, attr.key)
            if value is not INVALID:
                out.open[attr.key] = (value, attr.key_span)
            return
        if f is None:
            names = [x.name for x in schema.fields]
            self.sink.error("E201", f"`{schema.kind}` has no field `{attr.key}`", attr.key_span, "unknown field",
                            help=did_you_mean(attr.key, names) or f"fields: {', '.join(names)}")
            return
        value = self.value(attr.value, f.type, attr.key)
        if value is not INVALID:
            out.values[attr.key] = value
            out.spans[attr.key] = attr.value.span
        else:  # set, but reported: later rules must not call it missing
            out.invalid.add(attr.key)

    # -- values -----------------------------------------------------------------------------
    def value(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, ast.Ref) and len(e.parts) == 1 and e.parts[0] in self.res.params:
            if not (t.kind == "enum" and e.parts[0] in t.choices) and t.kind not in ("ref", "variant", "per"):
                return self.value(_respan(self.res.params[e.parts[0]], e.span), t, key)
        method = getattr(self, f"_v_{t.kind}")
        return method(e, t, key)

    def _wrong(self, e: ast.Expr, expected: str, key: str) -> Any:
        self.sink.error("E203", f"`{key}` expects {expected}, found {_describe(e)}", e.span, f"expected {expected}")
        return INVALID

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
            return INVALID
        return v

    def _v_str(self, e: ast.Expr, t: T, key: str) -> Any:
        return e.value if isinstance(e, ast.Str) else self._wrong(e, "a string", key)

    def _v_regex(self, e: ast.Expr, t: T, key: str) -> Any:
        if not isinstance(e, ast.Str):
            return self._wrong(e, "a regular expression string", key)
        if _regex_depth(e.value) > MAX_NESTING:  # Python's regex parser recurses per group
            self.sink.error("E214", f"regular expression nested too deep: more than {MAX_NESTING} groups",
                            e.span, "does not compile", help="flatten the groups")
            return INVALID
        try:
            re.compile(e.value)
        except re.error as err:
            self.sink.error("E214", f"invalid regular expression: {err.msg}", e.span, "does not compile")
            return INVALID
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
            return INVALID
        return self._wrong(e, f"one of {', '.join(t.choices)}", key)

    def _v_ref(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, ast.Ref) and len(e.parts) == 1:
            return e.parts[0] if e.parts[0] in self.res.symbols[t.ref] else INVALID  # E101 from resolve
        return self._wrong(e, f"the name of a {t.ref}", key)

    def _v_textsource(self, e: ast.Expr, t: T, key: str) -> Any:
        """`seeds` (the task's seed source) or a source's name: texts a filter compares rows with."""
        if not (isinstance(e, ast.Ref) and len(e.parts) == 1):
            return self._wrong(e, "`seeds` or the name of a source", key)
        name = e.parts[0]
        if name == "seeds" or name in self.res.symbols["source"]:
            return name
        known = ["seeds", *self.res.symbols["source"]]
        self.sink.error("E217", f"`{key}` names no source `{name}`", e.span, "not `seeds` nor a source",
                        help=did_you_mean(name, known) or f"use `seeds` or one of: {', '.join(known)}")
        return INVALID

    def _v_variant(self, e: ast.Expr, t: T, key: str) -> Any:
        """A variant named by `name` (this task) or `task.name`; compiler/variants.py resolves it."""
        if isinstance(e, ast.Ref) and len(e.parts) in (1, 2):
            return e.parts
        return self._wrong(e, "a variant name (`extends = base`)", key)

    def _v_per(self, e: ast.Expr, t: T, key: str) -> Any:
        """A row field named as in templates (`persona.user`, `label`); compiler/rules.py checks it
        against what the variant's rows carry."""
        if isinstance(e, ast.Ref) and len(e.parts) in (1, 2):
            return e.parts
        return self._wrong(e, "a row field such as `persona.user` or `label`", key)

    def _v_list(self, e: ast.Expr, t: T, key: str) -> Any:
        if not isinstance(e, ast.ListExpr):
            return self._wrong(e, "a list `[…]`", key)
        assert t.elem is not None
        items = [self.value(i, t.elem, key) for i in e.items]
        return INVALID if any(i is INVALID for i in items) else tuple(items)

    def _v_literal(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, (ast.Str, ast.Num)):
            return e.value
        return self._wrong(e, "a string or number", key)

    def _v_range(self, e: ast.Expr, t: T, key: str) -> Any:
        if not isinstance(e, ast.RangeExpr):
            return self._wrong(e, "a range `low..high`", key)
        elem = T(t.num, t.lo, t.hi)
        lo, hi = self.value(e.lo, elem, key), self.value(e.hi, elem, key)
        if lo is INVALID or hi is INVALID:
            return INVALID
        if lo > hi:
            self.sink.error("E208", f"range `{_num(lo)}..{_num(hi)}` is empty", e.span, "low end above high end",
                            help=f"write `{_num(hi)}..{_num(lo)}`")
            return INVALID
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
            if args is INVALID:
                return INVALID
            name = args.get("name")
            if name not in BUILTIN_MODELS:
                self.sink.error("E210", f"no builtin model `{name}`", e.span, "unknown builtin",
                                help=did_you_mean(str(name), BUILTIN_MODELS) or f"builtins: {', '.join(BUILTIN_MODELS)}")
                return INVALID
            return ("builtin", name)
        if isinstance(e, ast.Call):
            return self._unknown_fn(e, ("builtin",))
        return self._wrong(e, 'a .gguf path or `builtin("smollm2-135m")`', key)

    def _v_dedupe(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, ast.Ref) and e.dotted in ("exact", "none"):
            return (e.dotted, 1.0)
        if isinstance(e, ast.Call) and e.callee.dotted == "near":
            args = self._args(e, {"threshold": T("float", 0, 1)}, key)
            return INVALID if args is INVALID else ("near", args.get("threshold", 0.9))
        if isinstance(e, ast.Call):
            return self._unknown_fn(e, DEDUPE)
        return self._wrong(e, "`exact`, `none` or `near(0.9)`", key)

    def _v_derive(self, e: ast.Expr, t: T, key: str) -> Any:
        if not isinstance(e, ast.Call):
            return self._wrong(e, "a derivation like `history_top(\"tags\", k = 5)`", key)
        called = self._signature(e, _DERIVATIONS, key)
        if called is INVALID:
            return INVALID
        name, args = called
        return (name, args.get("column"), args.get("k", 5), tuple(args.get("fallback", ())))

    def _v_fieldtype(self, e: ast.Expr, t: T, key: str) -> Any:
        if isinstance(e, ast.Ref) and len(e.parts) == 1 and e.parts[0] in FIELD_TYPES:
            e = ast.Call(callee=e, args=(), span=e.span)
        if not isinstance(e, ast.Call):
            return self._wrong(e, "a field type like `string(words = 10..200)`", key)
        called = self._signature(e, _FIELD_TYPES, key)
        if called is INVALID:
            return INVALID
        name, args = called
        return (name, tuple(sorted(args.items())))

    def _signature(self, e: ast.Call, table: dict[str, tuple[dict[str, T], tuple[str, ...]]], key: str) -> Any:
        """Check a constructor call against `table`: name -> (parameters, required ones)."""
        name = e.callee.dotted
        if name not in table:
            return self._unknown_fn(e, tuple(table))
        params, required = table[name]
        args = self._args(e, params, key)
        if args is INVALID:
            return INVALID
        missing = [p for p in required if p not in args]
        if missing:
            self.sink.error("E210", f"`{name}(…)` needs `{missing[0]}`", e.span, "missing argument")
            return INVALID
        return name, args

    def _unknown_fn(self, e: ast.Call, options: tuple[str, ...] | dict[str, Any]) -> Any:
        names = list(options)
        self.sink.error("E209", f"unknown function `{e.callee.dotted}`", e.callee.span, "not accepted here",
                        help=did_you_mean(e.callee.dotted, names) or f"use one of: {', '.join(names)}")
        return INVALID

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
            if value is INVALID:
                ok = False
            out[name] = value
        return out if ok else INVALID

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



def _respan(e: ast.Expr, span: Span) -> ast.Expr:
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
            "gguf": 'a .gguf path or builtin("smollm2-135m")',
            "textsource": "`seeds` or source names"}.get(t.kind, t.kind)


def _regex_depth(pattern: str) -> int:
    """The deepest nesting of groups in `pattern` (escapes and character classes skipped), linear."""
    depth = deepest = 0
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth = max(0, depth - 1)
        i += 1
    return deepest
