"""Every example in a docstring runs: a `>>>` line no test executes rots unseen (one in
compiler/templates.py had: `variables` counted a loop's own name as read)."""

from __future__ import annotations

import doctest
import importlib
import os

import pytest

from conftest import ROOT

# Source folder -> installed package (pyproject.toml's package-dir).
PACKAGES = {"grammar": "synthc.grammar", "compiler": "synthc.compiler", "runtime": "synthc.runtime",
            "lsp": "synthc.lsp", "synthc": "synthc"}


def _with_examples() -> list[str]:
    names = []
    for folder, package in PACKAGES.items():
        for here, _, files in os.walk(os.path.join(ROOT, folder)):
            for f in files:
                path = os.path.join(here, f)
                if not f.endswith(".py") or ">>> " not in open(path, encoding="utf-8").read():
                    continue
                rel = os.path.relpath(path, os.path.join(ROOT, folder))[:-3].replace(os.sep, ".")
                names.append(package if rel == "__init__" else f"{package}.{rel.removesuffix('.__init__')}")
    return sorted(names)


def test_the_scan_finds_the_modules_with_examples() -> None:
    assert {"synthc.runtime.engine.quota", "synthc.compiler.templates", "synthc.grammar"} <= set(_with_examples())


@pytest.mark.parametrize("name", _with_examples())
def test_docstring_examples_hold(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
