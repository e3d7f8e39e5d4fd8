"""Incremental parsing: a file is cut into top-level chunks and each chunk's parse is reused while
its text is unchanged, wherever it moved.

A one-character edit changes one chunk; the others come from the cache with their spans moved.
What the editor shows is exactly what `synthc check` reports: where a chunk's own diagnostics
might differ from the compiler's recovery over the whole file, the whole file is parsed.
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from typing import Any

from synthc.compiler import ast
from synthc.compiler.diagnostics import Diagnostic, Sink
from synthc.compiler.parse import parse
from synthc.compiler.source import SourceFile, Span

__all__ = ["ChunkedParser", "chunks"]

# Strings, comments, braces and line starts: enough to find where a top-level item begins.
_LEX = re.compile(r'"""(?:.|\n)*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*|[{}]|\n(?=[ \t]*[A-Za-z_#])')


def chunks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each top-level stretch: a new one begins at each line that starts, outside
    any block or string, with a name or a comment. The stretches cover `text`.

    >>> chunks('param a = 1\\nmodel m {\\n  x = "}"\\n}\\n')
    [(0, 12), (12, 34)]
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


_Parsed = tuple[tuple[ast.Item, ...] | None, tuple[ast.Comment, ...], tuple[Diagnostic, ...]]
_EOF_CODES = ("E003", "E010")  # a chunk that ends early may continue in the next one
_LEAD = re.compile(r"(?:\s|#[^\n]*)*")  # blank lines and comments before a chunk's first token


def _at_first_token(text: str, diags: tuple[Diagnostic, ...]) -> bool:
    """Whether a chunk's error is at its first token: the parser is then in the state "nothing
    parsed yet", whose expected tokens differ from the whole file's "after the items before"."""
    first = _LEAD.match(text).end()  # type: ignore[union-attr]  (the pattern matches empty text)
    return any(lb.span.start <= first for d in diags for lb in d.labels)


class ChunkedParser:
    """`parse` with a cache of chunk parses keyed by (file id, chunk text); same contract.

    With one broken chunk, its own diagnostics are the file's: the other chunks parse cleanly, so
    the compiler's recovery over the whole file meets the same errors in the same parser states.
    Otherwise (several broken chunks, a chunk that ends too early and is not the last, or an
    error at a later chunk's first token) the compiler parses the whole file itself."""

    def __init__(self, size: int = 20000) -> None:
        self._cache: OrderedDict[tuple[int, str], _Parsed] = OrderedDict()
        self._size = size

    def __call__(self, source: SourceFile, file: int, sink: Sink) -> ast.Spec | None:
        items: list[ast.Item] = []
        comments: list[ast.Comment] = []
        broken: list[tuple[int, tuple[Diagnostic, ...]]] = []
        parts = chunks(source.text)
        for n, (start, end) in enumerate(parts):
            parsed, notes, diags = self._chunk(source.path, source.text[start:end], file)
            if diags:
                last = n == len(parts) - 1
                if (broken or (not last and any(d.code.id in _EOF_CODES for d in diags))
                        or (n > 0 and _at_first_token(source.text[start:end], diags))):
                    return parse(source, file, sink)  # the compiler's own recovery over the file
                broken.append((start, diags))
            elif parsed is not None:
                items += [_moved(i, start) for i in parsed]
                comments += [_moved(c, start) for c in notes]
        if broken:
            start, diags = broken[0]
            sink.items.extend(_moved_diagnostic(d, start) for d in diags)
            return None
        return ast.Spec(items=tuple(items), comments=tuple(comments), file=file)

    def _chunk(self, path: str, text: str, file: int) -> _Parsed:
        key = (file, text)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        sink = Sink()
        spec = parse(SourceFile(path, text), file, sink)
        value: _Parsed = (None, (), tuple(sink.items)) if spec is None or sink.items else (spec.items, spec.comments, ())
        self._cache[key] = value
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return value


def _moved_diagnostic(d: Diagnostic, delta: int) -> Diagnostic:
    labels = tuple(dataclasses.replace(lb, span=Span(lb.span.file, lb.span.start + delta, lb.span.end + delta))
                   for lb in d.labels)
    return dataclasses.replace(d, labels=labels)


def _moved(node: Any, delta: int) -> Any:
    """`node` with every span moved by `delta` characters."""
    return node if delta == 0 else _MOVERS[type(node)](node, delta)


def _mover(cls: type) -> Any:
    """A function copying one frozen AST node with its spans moved: generated per class, since
    `dataclasses.replace` costs several times more and this runs over every node on each keystroke."""
    lines = ["def move(n, d):", "    new = new_(cls)"]
    for f in dataclasses.fields(cls):
        t = str(f.type)
        if t == "Span":
            lines.append(f"    s = n.{f.name}; set_(new, '{f.name}', Span(s.file, s.start + d, s.end + d))")
        elif t.startswith("tuple[") and ("Item" in t or "Expr" in t or "Arg" in t):
            lines.append(f"    set_(new, '{f.name}', tuple([MOVERS[type(x)](x, d) for x in n.{f.name}]))")
        elif t in ("Expr", "Ref", "Str", "Arg"):
            lines.append(f"    x = n.{f.name}; set_(new, '{f.name}', MOVERS[type(x)](x, d))")
        else:
            lines.append(f"    set_(new, '{f.name}', n.{f.name})")
    lines.append("    return new")
    scope: dict[str, Any] = {"new_": object.__new__, "set_": object.__setattr__, "Span": Span, "MOVERS": _MOVERS,
                             "cls": cls}
    exec("\n".join(lines), scope)  # noqa: S102 - generated from the dataclass fields above
    return scope["move"]


_MOVERS: dict[type, Any] = {}
for _cls in (ast.Str, ast.Num, ast.Ref, ast.Arg, ast.Call, ast.ListExpr, ast.RangeExpr, ast.Attribute,
             ast.Block, ast.Declaration, ast.Directive, ast.Comment):
    _MOVERS[_cls] = _mover(_cls)
