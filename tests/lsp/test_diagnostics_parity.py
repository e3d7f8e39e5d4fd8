"""The server's diagnostics are `synthc check`'s: for every compile-time fixture under
tests/diagnostics, the same codes at the same lines and columns with the same message and help;
a problem inside an import is shown on the import line with its exact place as related
information, and an import cycle points back along the cycle."""

from __future__ import annotations

import glob
import json
import os

import pytest

from conftest import ROOT
from markers import overrides
from synthc.compiler import compile_file
from synthc.compiler.diagnostics import render_json
from synthc.lsp.diagnostics import to_lsp
from synthc.lsp.workspace import Workspace

FIXTURES = sorted(glob.glob(os.path.join(ROOT, "tests", "diagnostics", "E*.synth")))


def _analyse(path: str, over: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    ws = Workspace()
    ws.overrides = over or {}
    with open(path, encoding="utf-8") as fh:
        ws.docs[path] = fh.read()
    return ws.analyse(path)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: os.path.basename(p)[:-6])
def test_same_as_synthc_check(path: str) -> None:
    result = compile_file(path, overrides(path))
    cli = [json.loads(line) for line in render_json(result.diagnostics, result.sources).splitlines()]
    ours = to_lsp(_analyse(os.path.abspath(path), overrides(path)))
    if path.endswith("E110_unknown_param_override.synth"):
        # The editor's overrides apply to every open recipe: one that lacks the param ignores it.
        cli = [c for c in cli if c["code"] != "E110"]
    assert len(ours) == len(cli)
    for d, c in zip(ours, cli):
        assert d.code == c["code"]
        assert d.message.split("\n")[0].endswith(c["message"])
        if c.get("help"):
            assert f"help: {c['help']}" in d.message
        if c.get("file") and os.path.abspath(c["file"]) == os.path.abspath(path):
            assert (d.range.start.line + 1, d.range.start.character + 1) == (c["line"], c["column"])
            assert (d.range.end.line + 1, d.range.end.character + 1) == (c["end_line"], c["end_column"])


def test_a_problem_in_an_import_is_shown_on_the_import_line() -> None:
    path = os.path.join(ROOT, "tests", "diagnostics", "E104_import_cycle.synth")
    (d,) = to_lsp(_analyse(path))
    assert d.code == "E104" and d.range.start.line == 0  # `import "_E104_other.synth"`
    assert d.message.startswith("in _E104_other.synth:2:8: import cycle")
    where, back = d.related_information or []
    assert where.location.uri.endswith("_E104_other.synth") and where.location.range.start.line == 1
    assert back.location.uri.endswith("E104_import_cycle.synth") and back.message == "the cycle continues here"
