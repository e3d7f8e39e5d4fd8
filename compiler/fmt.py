"""The canonical printer: `fmt(parse(x))` is the one way to write x. Idempotent; comments kept.

Rules: two-space indent; one item per line; `=` aligned within a run of adjacent attributes;
a blank line between top-level blocks, and inside blocks one blank line wherever the source had
at least one; lists on one line when they fit in WIDTH columns, else one item per line with a
trailing comma; multi-line strings as dedented triple-quoted blocks.
"""

from __future__ import annotations

import re

from synthc.compiler import ast
from synthc.compiler.source import SourceFile
from synthc.compiler.strings import encode, encode_plain

__all__ = ["fmt"]

WIDTH = 100
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BLANK = re.compile(r"\n[ \t]*\n")


def fmt(spec: ast.Spec, source: SourceFile | None = None) -> str:
    """Print `spec` canonically; with its `source`, comments and paragraph breaks are kept.

    >>> from synthc.compiler.source import SourceFile
    >>> from synthc.compiler.parse import parse
    >>> from synthc.compiler.diagnostics import Sink
    >>> print(fmt(parse(SourceFile.of("x", "model m {seed=1 top_p=0.9}"), 0, Sink())), end="")
    model m {
      seed  = 1
      top_p = 0.9
    }
    """
    writer = _Writer(source, spec.comments if source else ())
    writer.body(spec.items, 0, top=True)
    writer.comments_before(None, 0)
    return "\n".join(writer.lines).rstrip("\n") + "\n" if writer.lines else ""


class _Writer:
    def __init__(self, source: SourceFile | None, comments: tuple[ast.Comment, ...]) -> None:
        self.source = source
        self.pending = list(comments)
        self.lines: list[str] = []
        self.last_end = 0  # source offset of the last thing printed

    # -- layout helpers ---------------------------------------------------------------------
    def _blank_before(self, start: int) -> bool:
        if self.source is None or not self.lines or self.lines[-1].endswith("{"):
            return False
        return bool(_BLANK.search(self._code_between(self.last_end, start)))

    def _code_between(self, a: int, b: int) -> str:
        assert self.source is not None
        return self.source.text[a:b] if a < b else ""

    def _emit_blank(self) -> None:
        if self.lines and self.lines[-1] != "" and not self.lines[-1].endswith("{"):
            self.lines.append("")

    def comments_before(self, pos: int | None, depth: int) -> None:
        while self.pending and (pos is None or self.pending[0].span.start < pos):
            c = self.pending.pop(0)
            if self._blank_before(c.span.start):
                self._emit_blank()
            self.lines.append("  " * depth + c.text)
            self.last_end = c.span.end

    def _trailing(self, end: int) -> str:
        """A comment that starts on the same source line as offset `end` stays on its line."""
        if self.source is None or not self.pending:
            return ""
        c = self.pending[0]
        between = self.source.text[end : c.span.start]
        if "\n" in between or between.strip():
            return ""
        self.pending.pop(0)
        self.last_end = c.span.end
        return "  " + c.text

    # -- items ------------------------------------------------------------------------------
    def body(self, items: tuple[ast.Item, ...], depth: int, top: bool) -> None:
        runs = _runs(items, self.source, self.pending)
        previous: ast.Item | None = None
        for run in runs:
            width = max(len(_key(a.key)) for a in run) if isinstance(run[0], ast.Attribute) else 0
            for item in run:
                start = item.span.start
                if previous is not None and top and (isinstance(item, ast.Block) or isinstance(previous, ast.Block)):
                    self.comments_before(start, depth)
                    if not (self.lines and self.lines[-1].lstrip().startswith("#") and not self._blank_before(start)):
                        self._emit_blank()
                    elif self.lines and self.lines[-1] != "" and self._blank_before(start):
                        self._emit_blank()
                else:
                    self.comments_before(start, depth)
                    if self._blank_before(start):
                        self._emit_blank()
                self.item(item, depth, width)
                previous = item

    def item(self, item: ast.Item, depth: int, width: int) -> None:
        pad = "  " * depth
        if isinstance(item, ast.Attribute):
            value = _expr(item.value, pad)
            head = f"{pad}{_key(item.key).ljust(width)} = {value}"
            self._lines(head, item.span.end)
        elif isinstance(item, ast.Declaration):
            self._lines(f"{pad}{item.kind} {item.name} = {_expr(item.value, pad)}", item.span.end)
        elif isinstance(item, ast.Directive):
            self._lines(f"{pad}{item.kind} {encode_plain(item.arg.value)}", item.span.end)
        else:
            self.block(item, depth)

    def _lines(self, text: str, end: int) -> None:
        self.last_end = end
        self.lines.extend(text.split("\n"))
        self.lines[-1] += self._trailing(end)

    def block(self, block: ast.Block, depth: int) -> None:
        pad = "  " * depth
        head = f"{pad}{block.kind}{' ' + block.name if block.name else ''}"
        body_start = block.items[0].span.start if block.items else block.span.end - 1
        has_inner_comments = any(
            block.span.start < c.span.start < block.span.end for c in self.pending
        ) if self.source else False
        if not block.items and not has_inner_comments:
            self.last_end = block.span.end
            self.lines.append(head + " {}" + self._trailing(block.span.end))
            return
        header_end = block.name_span.end if block.name else block.kind_span.end
        self.last_end = header_end
        self.lines.append(head + " {" + self._trailing(_brace_after(self.source, header_end)))
        self.body(block.items, depth + 1, top=False)
        self.comments_before(max(body_start, block.span.end - 1), depth + 1)
        self.last_end = block.span.end
        self.lines.append(pad + "}" + self._trailing(block.span.end))


def _brace_after(source: SourceFile | None, pos: int) -> int:
    if source is None:
        return pos
    i = source.text.find("{", pos)
    return i + 1 if i >= 0 else pos


def _runs(items: tuple[ast.Item, ...], source: SourceFile | None, comments: list[ast.Comment]) -> list[list[ast.Item]]:
    """Group adjacent attributes (no blank line or own-line comment between) for `=` alignment."""
    runs: list[list[ast.Item]] = []
    for item in items:
        if (
            runs
            and isinstance(item, ast.Attribute)
            and isinstance(runs[-1][-1], ast.Attribute)
            and not _separated(runs[-1][-1], item, source, comments)
        ):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _separated(a: ast.Item, b: ast.Item, source: SourceFile | None, comments: list[ast.Comment]) -> bool:
    if source is None:
        return False
    between = source.text[a.span.end : b.span.start]
    if _BLANK.search(between):
        return True
    return any(a.span.end < c.span.start < b.span.start and "\n" in source.text[a.span.end : c.span.start]
               for c in comments)


def _key(key: str) -> str:
    return key if _IDENT.match(key) and key not in ("true", "false") else encode_plain(key)


def _expr(e: ast.Expr, pad: str) -> str:
    if isinstance(e, ast.Str):
        return encode(e.value, pad)
    if isinstance(e, ast.Num):
        return _number(e.value)
    if isinstance(e, ast.Ref):
        return e.dotted
    if isinstance(e, ast.RangeExpr):
        return f"{_expr(e.lo, pad)}..{_expr(e.hi, pad)}"
    if isinstance(e, ast.Call):
        args = ", ".join(_arg(a, pad) for a in e.args)
        return f"{e.callee.dotted}({args})"
    items = [_expr(i, pad + "  ") for i in e.items]
    flat = "[" + ", ".join(items) + "]"
    if len(pad) + len(flat) <= WIDTH + 10 and "\n" not in flat:
        return flat
    inner = pad + "  "
    return "[\n" + "".join(f"{inner}{i},\n" for i in items) + pad + "]"


def _arg(a: ast.Arg, pad: str) -> str:
    value = _expr(a.value, pad)
    return f"{a.name} = {value}" if a.name else value


def _number(v: int | float) -> str:
    if isinstance(v, bool):
        raise TypeError("bool is not a number literal")
    if isinstance(v, int):
        return str(v)
    text = repr(v)
    return text if ("e" in text or "." in text or "inf" in text or "nan" in text) else text + ".0"
