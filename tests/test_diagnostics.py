"""Every compile-time fixture under tests/diagnostics/ reports exactly the codes and lines its
inline markers name, no more and no fewer; its rendered output matches the snapshot."""

from __future__ import annotations

import glob
import os

import pytest

from conftest import ROOT, compare_golden
from markers import actual, expected, overrides
from synthc.compiler import compile_file
from synthc.compiler.diagnostics import render_full

FIXTURES = sorted(glob.glob(os.path.join(ROOT, "tests", "diagnostics", "E*.synth")))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: os.path.basename(p)[:-6])
def test_markers(path: str, update_golden: bool) -> None:
    result = compile_file(path, overrides(path))
    files = [f.path for f in result.sources.files] or [path]
    assert actual(result.diagnostics, result.sources) == expected(files)
    text = render_full(result.diagnostics, result.sources).replace(os.path.join(ROOT, ""), "")
    snap = os.path.join(ROOT, "tests", "diagnostics", "snapshots", os.path.basename(path)[:-6] + ".txt")
    compare_golden(snap, text + "\n", update_golden)


def test_one_typo_does_not_hide_the_next() -> None:
    path = os.path.join(ROOT, "tests", "diagnostics", "E011_missing_equals.synth")
    codes = [d.code.id for d in compile_file(path).diagnostics]
    assert codes == ["E011", "E001"]
