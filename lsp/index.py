"""Where every name is declared and used: the basis of definition, references, rename, symbols.

Built from the parsed files of one compilation (the main recipe and its imports). Kinds are the
declaration kinds of the schema (`model`, `labels`, …), `param`, and `variant:<task>` (variant
names are scoped by their task; exports and evaluations name them in strings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from synthc.compiler import ast
from synthc.compiler.schema import SCHEMAS, TOP
from synthc.compiler.source import SourceMap, Span
from synthc.compiler.strings import decode

from synthc.lsp.cursor import parts

__all__ = ["Occurrence", "Index", "build"]


@dataclass(frozen=True, slots=True)
class Occurrence:
    kind: str
    name: str
    span: Span  # the name itself (inside the quotes for a string)
    definition: bool = False
    block: Span | None = None  # a definition's whole block (or declaration)


@dataclass(slots=True)
class Index:
    occurrences: list[Occurrence] = field(default_factory=list)

    def at(self, file: int, offset: int) -> Occurrence | None:
        """The occurrence under the cursor (its end counts: the cursor sits after a typed name)."""
        for occ in self.occurrences:
            if occ.span.file == file and occ.span.start <= offset <= occ.span.end:
                return occ
        return None

    def definition(self, kind: str, name: str) -> Occurrence | None:
        return next((o for o in self.occurrences if o.definition and o.kind == kind and o.name == name), None)

    def uses(self, kind: str, name: str) -> list[Occurrence]:
        return [o for o in self.occurrences if o.kind == kind and o.name == name]

    def names(self, kind: str) -> list[str]:
        return list(dict.fromkeys(o.name for o in self.occurrences if o.definition and o.kind == kind))


def build(specs: list[ast.Spec], sources: SourceMap) -> Index:
    index = Index()
    params = {i.name for s in specs for i in s.items if isinstance(i, ast.Declaration) and i.kind == "param"}
    for spec in specs:
        for item in spec.items:
            if isinstance(item, ast.Declaration) and item.kind == "param":
                index.occurrences.append(Occurrence("param", item.name, item.name_span, True, item.span))
                _values(item.value, params, index)
            elif isinstance(item, ast.Block) and item.kind in TOP and item.name is not None:
                index.occurrences.append(Occurrence(item.kind, item.name, item.name_span, True, item.span))
                _block(item, item.kind, params, index, sources, item.name if item.kind == "task" else None)
    return index


def _block(block: ast.Block, kind: str, params: set[str], index: Index, sources: SourceMap, task: str | None) -> None:
    schema = SCHEMAS.get(kind)
    for item in block.items:
        if isinstance(item, ast.Attribute):
            f = schema.field(item.key) if schema else None
            if f is not None and f.type.kind == "ref" and isinstance(item.value, ast.Ref) and len(item.value.parts) == 1 \
                    and item.value.parts[0] not in params:
                index.occurrences.append(Occurrence(f.type.ref, item.value.parts[0], item.value.span))
            elif f is not None and f.type.kind == "variant" and task is not None:
                _extends(item.value, task, index)
            elif f is not None and f.type.kind == "template" and isinstance(item.value, ast.Str):
                _template_params(item.value, params, index, sources)
            elif item.key == "variants" and kind in ("export", "evaluate") and isinstance(item.value, ast.ListExpr):
                target = block.get("task")
                if target is not None and isinstance(target.value, ast.Ref):
                    for s in item.value.items:
                        if isinstance(s, ast.Str):
                            index.occurrences.append(Occurrence(f"variant:{target.value.dotted}", s.value, _inside(s)))
            else:
                choices = f.type.choices if f is not None else ()
                _values(item.value, params - set(choices), index)
        elif isinstance(item, ast.Block):
            if item.kind == "variant" and task is not None and item.name is not None:
                index.occurrences.append(Occurrence(f"variant:{task}", item.name, item.name_span, True, item.span))
            _block(item, item.kind, params, index, sources, task)


def _extends(e: ast.Expr, task: str, index: Index) -> None:
    """`extends = base` (or `extends = task.base`) uses variant `base` of this task."""
    if isinstance(e, ast.Ref) and (len(e.parts) == 1 or len(e.parts) == 2 and e.parts[0] == task):
        name = e.parts[-1]
        index.occurrences.append(Occurrence(f"variant:{task}", name, Span(e.span.file, e.span.end - len(name), e.span.end)))


def _values(e: ast.Expr, params: set[str], index: Index) -> None:
    """Params read as values anywhere in an expression."""
    if isinstance(e, ast.Ref) and len(e.parts) == 1 and e.parts[0] in params:
        index.occurrences.append(Occurrence("param", e.parts[0], e.span))
    inner = tuple(a.value for a in e.args) if isinstance(e, ast.Call) else parts(e)  # a callee is no param
    for part in inner:
        _values(part, params, index)


_PARAM_USE = re.compile(r"\bparam\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")


def _template_params(lit: ast.Str, params: set[str], index: Index, sources: SourceMap) -> None:
    """`{{ param.n }}` inside a template is a use of param `n` (rename follows it)."""
    src = sources.get(lit.span.file)
    if src is None:
        return
    raw = src.text[lit.span.start : lit.span.end]
    try:
        value, offsets = decode(raw)
    except ValueError:
        return
    for m in _PARAM_USE.finditer(value):
        name = m.group(1)
        if name in params and m.end(1) - 1 < len(offsets):
            start = lit.span.start + offsets[m.start(1)]
            end = lit.span.start + offsets[m.end(1) - 1] + 1
            if src.text[start:end] == name:  # written plainly, not with escapes
                index.occurrences.append(Occurrence("param", name, Span(lit.span.file, start, end)))


def _inside(s: ast.Str) -> Span:
    """The text between a one-line string's quotes."""
    return Span(s.span.file, s.span.start + 1, max(s.span.start + 1, s.span.end - 1))
