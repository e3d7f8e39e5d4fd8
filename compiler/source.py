"""Source files and spans: offsets in, 1-based (line, column) out."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

__all__ = ["Span", "SourceFile", "SourceMap", "NO_SPAN"]

_NEWLINE = re.compile("\n")


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range of character offsets `[start, end)` in one file of a SourceMap."""

    file: int  # index into the SourceMap; -1 for "no location" (e.g. a --set override)
    start: int
    end: int

    def merge(self, other: Span) -> Span:
        return Span(self.file, min(self.start, other.start), max(self.end, other.end))


NO_SPAN = Span(-1, 0, 0)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One .synth file's text with a line-start index for offset -> (line, col)."""

    path: str  # as the user named it (kept relative for readable diagnostics)
    text: str
    line_starts: tuple[int, ...] = field(default=(), compare=False)

    @staticmethod
    def of(path: str, text: str) -> SourceFile:
        starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
        return SourceFile(path, text, tuple(starts))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in code points) of `offset`.

        >>> SourceFile.of("x", "ab\\ncd").line_col(3)
        (2, 1)
        """
        line = bisect.bisect_right(self.line_starts, offset) - 1
        return line + 1, offset - self.line_starts[line] + 1

    def line_text(self, line: int) -> str:
        start = self.line_starts[line - 1]
        end = self.line_starts[line] - 1 if line < len(self.line_starts) else len(self.text)
        return self.text[start:end]

    def offset(self, line: int, col: int) -> int:
        return self.line_starts[line - 1] + col - 1


@dataclass(slots=True)
class SourceMap:
    """All files of one compilation (the main spec and its imports), indexed by Span.file."""

    files: list[SourceFile] = field(default_factory=list)

    def add(self, source: SourceFile) -> int:
        self.files.append(source)
        return len(self.files) - 1

    def get(self, file: int) -> SourceFile | None:
        return self.files[file] if 0 <= file < len(self.files) else None
