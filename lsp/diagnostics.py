"""Compiler diagnostics as LSP diagnostics: the same code, span, message and help as `synthc check`.

A problem inside an imported file is shown on the importing recipe's `import` line, with the
exact place as related information; secondary labels (the first definition of a duplicate, the
other end of an import cycle) become related information too.
"""

from __future__ import annotations

import os

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from synthc.compiler import ast
from synthc.compiler.diagnostics import Diagnostic, Severity
from synthc.compiler.source import Span

from synthc.lsp.workspace import Analysis

__all__ = ["to_lsp", "code_of"]

_SEVERITY = {Severity.ERROR: lsp.DiagnosticSeverity.Error, Severity.WARNING: lsp.DiagnosticSeverity.Warning,
             Severity.NOTE: lsp.DiagnosticSeverity.Information}


def code_of(d: Diagnostic) -> str:
    """E101, or W311 for a warning (as `synthc check --format json` writes it)."""
    return d.code.id if d.severity is Severity.ERROR else "W" + d.code.id[1:]


def to_lsp(a: Analysis) -> list[lsp.Diagnostic]:
    """The diagnostics to publish for the analysis's own recipe."""
    imports = _import_sites(a)
    out = []
    for d in a.stages.diagnostics:
        related = [_related(a, span, message) for span, message in _secondary(a, d)]
        message = d.message
        if d.span.file == 0:
            rng = a.text(0).range(d.span)
        elif d.span.file > 0:
            site = _site_for(imports, d.span.file)
            src = a.stages.sources.files[d.span.file]
            line, col = src.line_col(d.span.start)
            message = f"in {os.path.basename(src.path)}:{line}:{col}: {message}"
            related.insert(0, _related(a, d.span, d.message))
            rng = a.text(0).range(site) if site else lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
        else:
            rng = lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
        extra = [f"help: {d.help}"] if d.help else []
        extra += [f"note: {n}" for n in d.notes]
        out.append(lsp.Diagnostic(
            range=rng, message="\n".join([message, *extra]), severity=_SEVERITY[d.severity], code=code_of(d),
            source="synthc", related_information=[r for r in related if r is not None] or None,
            data={"help": d.help} if d.help else None,
        ))
    return out


def _related(a: Analysis, span: Span, message: str) -> lsp.DiagnosticRelatedInformation | None:
    if a.stages.sources.get(span.file) is None:
        return None
    uri = from_fs_path(os.path.abspath(a.stages.sources.files[span.file].path)) or ""
    return lsp.DiagnosticRelatedInformation(lsp.Location(uri, a.text(span.file).range(span)), message or "here")


def _secondary(a: Analysis, d: Diagnostic) -> list[tuple[Span, str]]:
    out = [(lb.span, lb.message) for lb in d.labels if not lb.primary]
    if d.code.id == "E104":  # an import cycle: the imports that lead back into this file
        for spec in a.stages.specs:
            for item in spec.items:
                if isinstance(item, ast.Directive) and item.kind == "import" and _target(a, item) == d.span.file:
                    out.append((item.arg.span, "the cycle continues here"))
    return out


def _target(a: Analysis, item: ast.Directive) -> int | None:
    base = os.path.dirname(a.stages.sources.files[item.arg.span.file].path)
    return a.file_id(os.path.abspath(os.path.normpath(os.path.join(base, item.arg.value))))


def _import_sites(a: Analysis) -> list[tuple[int, Span]]:
    """(file id, span of the main recipe's import directive) for each import of the main file."""
    spec = next((s for s in a.stages.specs if s.file == 0), None)
    if spec is None:
        return []
    out = []
    for item in spec.items:
        if isinstance(item, ast.Directive) and item.kind == "import":
            fid = _target(a, item)
            if fid is not None:
                out.append((fid, item.span))
    return sorted(out, key=lambda x: x[0])


def _site_for(imports: list[tuple[int, Span]], file: int) -> Span | None:
    """Files load depth-first, so file k came in through the last direct import with id <= k."""
    site = None
    for fid, span in imports:
        if fid <= file:
            site = span
    return site
