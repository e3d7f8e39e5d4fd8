"""Character offsets (code points, as spans use) <-> LSP positions (line, character in the
negotiated encoding: UTF-16 code units unless the client offers UTF-8 or UTF-32)."""

from __future__ import annotations

import bisect

from lsprotocol import types as lsp

from synthc.compiler.source import SourceFile, Span

__all__ = ["Text", "units"]


def units(s: str, encoding: str) -> int:
    """Length of `s` in the encoding's code units."""
    if encoding == "utf-32" or s.isascii():
        return len(s)
    if encoding == "utf-8":
        return len(s.encode("utf-8"))
    return len(s.encode("utf-16-le")) // 2


class Text:
    """One file's text with the conversions the server needs."""

    def __init__(self, source: SourceFile, encoding: str = "utf-16") -> None:
        self.source = source
        self.encoding = encoding
        self.starts = source.line_starts or SourceFile.of(source.path, source.text).line_starts

    def position(self, offset: int) -> lsp.Position:
        offset = max(0, min(offset, len(self.source.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        return lsp.Position(line, units(self.source.text[self.starts[line] : offset], self.encoding))

    def range(self, span: Span) -> lsp.Range:
        return lsp.Range(self.position(span.start), self.position(max(span.start, span.end)))

    def offset(self, pos: lsp.Position) -> int:
        if pos.line >= len(self.starts):
            return len(self.source.text)
        start = self.starts[pos.line]
        end = self.starts[pos.line + 1] - 1 if pos.line + 1 < len(self.starts) else len(self.source.text)
        line = self.source.text[start:end]
        if line.isascii() or self.encoding == "utf-32":
            return start + min(pos.character, len(line))
        count = 0
        for i, ch in enumerate(line):
            if count >= pos.character:
                return start + i
            count += units(ch, self.encoding)
        return end
