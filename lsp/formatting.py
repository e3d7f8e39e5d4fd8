"""Formatting with `synthc fmt`: the whole document, or the top-level items a range touches."""

from __future__ import annotations

from lsprotocol import types as lsp

from synthc.compiler.diagnostics import Sink
from synthc.compiler.fmt import fmt
from synthc.compiler.parse import parse
from synthc.compiler.source import SourceFile

from synthc.lsp.incremental import chunks
from synthc.lsp.positions import Text

__all__ = ["format_document", "format_range"]


def _formatted(path: str, text: str) -> str | None:
    source = SourceFile.of(path, text)
    spec = parse(source, 0, Sink())
    return None if spec is None else fmt(spec, source)


def format_document(path: str, text: str, encoding: str) -> list[lsp.TextEdit] | None:
    """One edit replacing the document, or None when it does not parse (nothing to format by)."""
    new = _formatted(path, text)
    if new is None:
        return None
    if new == text:
        return []
    t = Text(SourceFile.of(path, text), encoding)
    return [lsp.TextEdit(lsp.Range(t.position(0), t.position(len(text))), new)]


def format_range(path: str, text: str, start: int, end: int, encoding: str) -> list[lsp.TextEdit] | None:
    """Format each top-level item that overlaps [start, end); the space between items is kept."""
    t = Text(SourceFile.of(path, text), encoding)
    edits = []
    for a, b in chunks(text):
        if b <= start or a >= end:
            continue
        body = text[a:b].rstrip()
        if not body.strip():
            continue
        new = _formatted(path, body)
        if new is None:
            return None
        new = new.rstrip("\n")
        if new != body:
            edits.append(lsp.TextEdit(lsp.Range(t.position(a), t.position(a + len(body))), new))
    return edits
