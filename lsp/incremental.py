"""Incremental parsing: a file is cut into top-level chunks and each chunk's parse is reused while
its text is unchanged, wherever it moved.

A one-character edit changes one chunk; the others come from the cache with their spans moved.
Only clean parses are cached: when any chunk has a syntax error the whole file is parsed by
`compiler.parse` itself, so what the editor shows is exactly what `synthc check` reports (error
recovery runs over the file, not over a chunk).
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from typing import Any

from synthc.compiler import ast
from synthc.compiler.diagnostics import Sink
from synthc.compiler.parse import parse
from synthc.compiler.source import SourceFile, Span

__all__ = ["ChunkedParser", "chunks"]

# Strings, comments, braces and line starts: enough to find where a top-level item begins.
_LEX = re.compile(r'"""(?:.|\n)*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*|[{}]|\n(?=[ \t]*[A-Za-z_#])')


def chunks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each top-level stretch: a new one begins at each line that starts, outside
    any block or string, with a name or a comment. The stretches cover `text`.

    >>> chunks('param a = 1\\nmodel m {\\n  x = "}"\\n}\\n')
    [(0, 12), (12, 33)]
    """
    cuts = [0]
    depth = 0
    for m in _LEX.finditer(text):
        tok = m.group()
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth = max(0, depth - 1)
        elif tok == "\n" and depth == 0:
            cuts.append(m.end())
    cuts.append(len(text))
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


class ChunkedParser:
    """`parse` with a cache of chunk parses keyed by (file id, chunk text); same contract."""

    def __init__(self, size: int = 20000) -> None:
        self._cache: OrderedDict[tuple[int, str], tuple[tuple[ast.Item, ...], tuple[ast.Comment, ...]] | None] = OrderedDict()
        self._size = size

    def __call__(self, source: SourceFile, file: int, sink: Sink) -> ast.Spec | None:
        items: list[ast.Item] = []
        comments: list[ast.Comment] = []
        for start, end in chunks(source.text):
            parsed = self._chunk(source.path, source.text[start:end], file)
            if parsed is None:
                return parse(source, file, sink)  # a syntax error: the compiler's own recovery
            items += [_moved(i, start) for i in parsed[0]]
            comments += [_moved(c, start) for c in parsed[1]]
        return ast.Spec(items=tuple(items), comments=tuple(comments), file=file)

    def _chunk(self, path: str, text: str, file: int) -> tuple[tuple[ast.Item, ...], tuple[ast.Comment, ...]] | None:
        key = (file, text)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        sink = Sink()
        spec = parse(SourceFile(path, text), file, sink)
        value = None if spec is None or sink.items else (spec.items, spec.comments)
        self._cache[key] = value
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return value


def _moved(node: Any, delta: int) -> Any:
    """`node` with every span moved by `delta` characters. AST nodes are frozen: each is copied
    field by field (`dataclasses.replace` costs several times more, on every keystroke)."""
    if delta == 0:
        return node
    cls = type(node)
    new = object.__new__(cls)
    spans, nodes, plain = _FIELDS[cls]
    for name in spans:
        s = getattr(node, name)
        _set(new, name, Span(s.file, s.start + delta, s.end + delta))
    for name in nodes:
        value = getattr(node, name)
        if isinstance(value, tuple):
            _set(new, name, tuple(_moved(v, delta) for v in value))
        elif value is not None:
            _set(new, name, _moved(value, delta))
        else:
            _set(new, name, None)
    for name in plain:
        _set(new, name, getattr(node, name))
    return new


_set = object.__setattr__


def _kinds(cls: type) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """A class's fields split into spans, child nodes (or tuples of them) and plain values."""
    spans, nodes, plain = [], [], []
    for f in dataclasses.fields(cls):
        t = str(f.type)
        if t == "Span":
            spans.append(f.name)
        elif f.name in ("value", "items", "args", "callee", "lo", "hi", "arg") and not (cls in (ast.Str, ast.Num)):
            nodes.append(f.name)
        else:
            plain.append(f.name)
    return tuple(spans), tuple(nodes), tuple(plain)


_FIELDS = {
    cls: _kinds(cls)
    for cls in (ast.Str, ast.Num, ast.Ref, ast.Arg, ast.Call, ast.ListExpr, ast.RangeExpr, ast.Attribute,
                ast.Block, ast.Declaration, ast.Directive, ast.Comment)
}
