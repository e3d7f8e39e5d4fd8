"""Half-typed text never crashes the server's features: every prefix of a recipe (as if typed
from the top) is analysed, and diagnostics, completion, hover, outline, folding, tokens, code
actions and inlay hints answer at its end without an exception."""

from __future__ import annotations

import os

import pytest

from conftest import ROOT
from synthc.lsp import actions, complete, diagnostics, hover, navigate, tokens
from synthc.lsp.workspace import Workspace

RECIPES = [os.path.join(ROOT, "tests", "lsp", "recipes", "reviews.synth"),
           os.path.join(ROOT, "specs", "synthesizrr_ag_news.synth")]


@pytest.mark.parametrize("path", RECIPES, ids=os.path.basename)
def test_every_prefix(path: str) -> None:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    ws = Workspace()
    step = max(1, len(text) // 150)
    for cut in list(range(0, len(text), step)) + [len(text)]:
        ws.docs[path] = text[:cut]
        a = ws.analyse(path)
        diagnostics.to_lsp(a)
        complete.complete(text[:cut], cut, ws.checked.get(path, a))
        hover.hover(a, max(0, cut - 1))
        navigate.symbols(a)
        navigate.folding(a)
        navigate.definition(a, max(0, cut - 1))
        tokens.tokens(a)
        actions.code_actions(a, 0, cut)
        actions.inlay_hints(a, 0, cut)
    assert ws.analyses[path].stages.plan is not None  # the whole text checks
