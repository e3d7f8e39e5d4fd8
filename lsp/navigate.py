"""Navigation: definition, references and rename across imports; outline; folding."""

from __future__ import annotations

import os
import re

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from synthc.compiler import ast

from synthc.lsp.index import Occurrence
from synthc.lsp.positions import Text
from synthc.lsp.workspace import Analysis, Workspace

__all__ = ["definition", "references", "rename", "prepare_rename", "symbols", "folding"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _location(a: Analysis, occ: Occurrence) -> lsp.Location:
    path = os.path.abspath(a.stages.sources.files[occ.span.file].path)
    return lsp.Location(from_fs_path(path) or "", a.text(occ.span.file).range(occ.span))


def definition(a: Analysis, offset: int) -> lsp.Location | None:
    occ = a.index.at(0, offset)
    if occ is None:
        return None
    target = a.index.definition(occ.kind, occ.name)
    return _location(a, target) if target is not None else None


def _all_uses(ws: Workspace, path: str, offset: int) -> tuple[Occurrence, list[tuple[Analysis, Occurrence]]] | None:
    """The occurrence under the cursor, and every occurrence of the same name in every analysis
    that reads this file (its own, and each open importer's), once per place."""
    own = ws.analyses.get(path)
    occ = own.index.at(0, offset) if own is not None else None
    if own is None or occ is None:
        return None
    defined_in = _defining_file(own, occ)
    seen: set[tuple[str, int]] = set()
    out: list[tuple[Analysis, Occurrence]] = []
    for a in ws.related(path):
        if defined_in is not None and defined_in not in a.paths():
            continue  # another recipe's declaration of the same name
        for o in a.index.uses(occ.kind, occ.name):
            key = (os.path.abspath(a.stages.sources.files[o.span.file].path), o.span.start)
            if key not in seen:
                seen.add(key)
                out.append((a, o))
    return occ, out


def _defining_file(a: Analysis, occ: Occurrence) -> str | None:
    d = a.index.definition(occ.kind, occ.name)
    return os.path.abspath(a.stages.sources.files[d.span.file].path) if d is not None else None


def references(ws: Workspace, path: str, offset: int, include_declaration: bool) -> list[lsp.Location]:
    found = _all_uses(ws, path, offset)
    if found is None:
        return []
    return [_location(a, o) for a, o in found[1] if include_declaration or not o.definition]


def prepare_rename(a: Analysis, offset: int) -> lsp.Range | None:
    occ = a.index.at(0, offset)
    return a.text(0).range(occ.span) if occ is not None else None


def rename(ws: Workspace, path: str, offset: int, new_name: str) -> lsp.WorkspaceEdit | None:
    found = _all_uses(ws, path, offset)
    if found is None:
        return None
    occ, uses = found
    # Variant names may be any string where only exports name them; `extends = NAME` needs a name.
    bare = not occ.kind.startswith("variant:") or any(_bare(a, o) for a, o in uses)
    if bare and not _NAME.match(new_name):
        raise ValueError(f"`{new_name}` is not a name (letters, digits and `_`, not starting with a digit)")
    changes: dict[str, list[lsp.TextEdit]] = {}
    for a, o in uses:
        uri = from_fs_path(os.path.abspath(a.stages.sources.files[o.span.file].path)) or ""
        changes.setdefault(uri, []).append(lsp.TextEdit(a.text(o.span.file).range(o.span), new_name))
    return lsp.WorkspaceEdit(changes=changes)


def _bare(a: Analysis, o: Occurrence) -> bool:
    """The occurrence is written as a name, not inside a string."""
    text = a.text(o.span.file).source.text
    return not (o.span.start > 0 and text[o.span.start - 1] == '"')


# -- outline and folding ------------------------------------------------------------------------

_SYMBOL_KIND = {
    "model": lsp.SymbolKind.Class, "labels": lsp.SymbolKind.Enum, "source": lsp.SymbolKind.File,
    "corpus": lsp.SymbolKind.Package, "retriever": lsp.SymbolKind.Interface, "persona": lsp.SymbolKind.Object,
    "task": lsp.SymbolKind.Function, "variant": lsp.SymbolKind.Method, "export": lsp.SymbolKind.Event,
    "evaluate": lsp.SymbolKind.Event,
}


def symbols(a: Analysis) -> list[lsp.DocumentSymbol]:
    spec = next((s for s in a.stages.specs if s.file == 0), None)
    if spec is None:
        return []
    t = a.text(0)
    out = []
    for item in spec.items:
        if isinstance(item, ast.Block):
            out.append(_block_symbol(item, t))
        elif isinstance(item, ast.Declaration):
            out.append(lsp.DocumentSymbol(item.name, lsp.SymbolKind.Constant, t.range(item.span), t.range(item.name_span),
                                          detail=item.kind))
        elif isinstance(item, ast.Directive):
            out.append(lsp.DocumentSymbol(item.arg.value or item.kind, lsp.SymbolKind.Module, t.range(item.span),
                                          t.range(item.arg.span), detail=item.kind))
    return out


def _block_symbol(b: ast.Block, t: Text) -> lsp.DocumentSymbol:
    children = [_block_symbol(c, t) for c in b.blocks()]
    children += [lsp.DocumentSymbol(a.key, lsp.SymbolKind.Property, t.range(a.span), t.range(a.key_span))
                 for a in b.attrs() if b.kind == "labels"]
    return lsp.DocumentSymbol(
        b.name or b.kind, _SYMBOL_KIND.get(b.kind, lsp.SymbolKind.Struct), t.range(b.span),
        t.range(b.name_span if b.name else b.kind_span), detail=b.kind, children=children or None,
    )


def folding(a: Analysis) -> list[lsp.FoldingRange]:
    spec = next((s for s in a.stages.specs if s.file == 0), None)
    if spec is None:
        return []
    src = a.stages.sources.files[0]
    out: list[lsp.FoldingRange] = []

    def add(start: int, end: int, kind: str | None = None) -> None:
        a_line, b_line = src.line_col(start)[0] - 1, src.line_col(max(start, end - 1))[0] - 1
        if b_line > a_line:
            out.append(lsp.FoldingRange(a_line, b_line, kind=kind))

    def walk(items: tuple[ast.Item, ...]) -> None:
        for item in items:
            if isinstance(item, ast.Block):
                add(item.span.start, item.span.end)
                walk(item.items)
            elif isinstance(item, ast.Attribute) and isinstance(item.value, ast.Str) and item.value.triple:
                add(item.value.span.start, item.value.span.end)

    walk(spec.items)
    run: list[ast.Comment] = []
    for c in [*spec.comments, None]:
        if c is not None and run and src.line_col(c.span.start)[0] == src.line_col(run[-1].span.start)[0] + 1:
            run.append(c)
            continue
        if len(run) > 1:
            add(run[0].span.start, run[-1].span.end, lsp.FoldingRangeKind.Comment)
        run = [c] if c is not None else []
    return sorted(out, key=lambda r: (r.start_line, r.end_line))
