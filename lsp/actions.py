"""Code actions (apply the checker's did-you-mean suggestion) and inlay hints (each generating
node's request count from the plan)."""

from __future__ import annotations

import re

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from synthc.compiler.plan import request_count, variant_node

from synthc.lsp.diagnostics import code_of
from synthc.lsp.workspace import Analysis

__all__ = ["code_actions", "inlay_hints"]

_DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`\?")


def code_actions(a: Analysis, start: int, end: int) -> list[lsp.CodeAction]:
    uri = from_fs_path(a.path) or ""
    text = a.text(0)
    out = []
    for d in a.stages.diagnostics:
        if d.span.file != 0 or d.span.end < start or d.span.start > end or not d.help:
            continue
        m = _DID_YOU_MEAN.search(d.help)
        if m is None or d.span.end <= d.span.start:
            continue
        rng = text.range(d.span)
        edit = lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(rng, m.group(1))]})
        diag = lsp.Diagnostic(range=rng, message=d.message, code=code_of(d), source="synthc")
        out.append(lsp.CodeAction(f"Change to `{m.group(1)}` ({code_of(d)})", kind=lsp.CodeActionKind.QuickFix,
                                  diagnostics=[diag], edit=edit, is_preferred=True))
    return out


def inlay_hints(a: Analysis, start: int, end: int) -> list[lsp.InlayHint]:
    program = a.stages.program
    if program is None:
        return []
    src = a.stages.sources.files[0]
    out = []
    for v in program.variants():
        if v.origin.file != 0 or not start <= v.origin.start <= end:
            continue
        n, bound = request_count(v, program)
        label = {"exact": f"{n} requests", "at_most": f"≤ {n} requests", "per_row": "1 request per seed row"}[bound]
        line_end = src.text.find("\n", v.origin.start)
        at = a.text(0).position(len(src.text) if line_end == -1 else line_end)
        out.append(lsp.InlayHint(at, label, kind=lsp.InlayHintKind.Type, padding_left=True,
                                 tooltip=f"{variant_node('generate', v.id)} (synthc plan)"))
    return out
