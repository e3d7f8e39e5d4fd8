"""Semantic tokens: block kinds, declared names, attribute keys, references, params, enum values,
functions, strings, numbers and comments, from the syntax tree (the TextMate grammar colours the
Jinja inside strings)."""

from __future__ import annotations

from synthc.compiler import ast
from synthc.compiler.source import Span

from synthc.lsp.cursor import parts
from synthc.lsp.positions import units
from synthc.lsp.workspace import Analysis

__all__ = ["LEGEND_TYPES", "LEGEND_MODIFIERS", "tokens"]

LEGEND_TYPES = ["keyword", "class", "type", "property", "variable", "parameter", "enumMember", "string", "number",
                "comment", "function", "namespace"]
LEGEND_MODIFIERS = ["declaration"]
_T = {name: i for i, name in enumerate(LEGEND_TYPES)}
_DECL = 1


def tokens(a: Analysis) -> list[int]:
    """The LSP's relative encoding: (Δline, Δstart, length, type, modifiers) per token."""
    spec = next((s for s in a.stages.specs if s.file == 0), None)
    if spec is None:
        return []
    found: list[tuple[Span, str, int]] = []
    kinds = {(o.span.start, o.span.end): o.kind for o in a.index.occurrences if o.span.file == 0}
    for item in spec.items:
        _item(item, found, kinds, top=True)
    found += [(c.span, "comment", 0) for c in spec.comments]
    return _encode(a, sorted(found, key=lambda x: x[0].start))


def _item(item: ast.Item, out: list[tuple[Span, str, int]], kinds: dict[tuple[int, int], str], top: bool) -> None:
    if isinstance(item, ast.Block):
        out.append((item.kind_span, "keyword", 0))
        if item.name is not None:
            out.append((item.name_span, "class" if top else "type", _DECL))
        for child in item.items:
            _item(child, out, kinds, top=False)
    elif isinstance(item, ast.Declaration):
        out.append((item.kind_span, "keyword", 0))
        out.append((item.name_span, "parameter", _DECL))
        _expr(item.value, out, kinds)
    elif isinstance(item, ast.Directive):
        out.append((item.kind_span, "keyword", 0))
        _expr(item.arg, out, kinds)
    elif isinstance(item, ast.Attribute):
        out.append((item.key_span, "property", 0))
        _expr(item.value, out, kinds)


def _expr(e: ast.Expr, out: list[tuple[Span, str, int]], kinds: dict[tuple[int, int], str]) -> None:
    if isinstance(e, ast.Str):
        out.append((e.span, "string", 0))
    elif isinstance(e, ast.Num):
        out.append((e.span, "number", 0))
    elif isinstance(e, ast.Ref):
        kind = kinds.get((e.span.start, e.span.end))
        out.append((e.span, "parameter" if kind == "param" else ("variable" if kind else "enumMember"), 0))
    elif isinstance(e, ast.Call):
        out.append((e.callee.span, "function", 0))
        for arg in e.args:
            _expr(arg.value, out, kinds)
    else:
        for part in parts(e):
            _expr(part, out, kinds)


def _encode(a: Analysis, found: list[tuple[Span, str, int]]) -> list[int]:
    src = a.stages.sources.files[0]
    text, enc = src.text, a.encoding
    data: list[int] = []
    prev_line = prev_char = 0
    for span, kind, mods in found:
        start = span.start
        while start < span.end:  # a token may not span lines: one per line
            nl = text.find("\n", start, span.end)
            end = span.end if nl == -1 else nl
            line, col = src.line_col(start)
            line -= 1
            char = units(text[start - col + 1 : start], enc)
            length = units(text[start:end], enc)
            if length:
                delta_line = line - prev_line
                data += [delta_line, char - prev_char if delta_line == 0 else char, length, _T[kind], mods]
                prev_line, prev_char = line, char
            start = end + 1
    return data
