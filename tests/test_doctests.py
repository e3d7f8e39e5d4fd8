"""Every example in a docstring runs: a `>>>` line no test executes rots unseen (one in
compiler/templates.py had: `variables` counted a loop's own name as read)."""

from __future__ import annotations

import doctest
import importlib
import os
import pathlib

import pytest

from conftest import ROOT
from test_docs import _pyproject


def _with_examples() -> list[str]:
    """Every installed module (pyproject's packages, at their package-dir) with a `>>>` line."""
    tool = _pyproject()["tool"]["setuptools"]
    names = []
    for package in tool["packages"]:
        folder = os.path.join(ROOT, tool["package-dir"][package])
        for f in os.listdir(folder):
            if f.endswith(".py") and ">>> " in pathlib.Path(folder, f).read_text(encoding="utf-8"):
                names.append(package if f == "__init__.py" else f"{package}.{f[:-3]}")
    return sorted(names)


def test_the_scan_finds_the_modules_with_examples() -> None:
    assert {"synthc.runtime.engine.quota", "synthc.compiler.templates", "synthc.grammar"} <= set(_with_examples())


@pytest.mark.parametrize("name", _with_examples())
def test_docstring_examples_hold(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
