"""Dependency direction grammar <- compiler <- runtime <- lsp <- front door: the compiler and grammar
never import the runtime, guidance or llama_cpp (so `synthc check` stays fast and model-free); the
language server (lsp/) is built on the compiler alone and stays model-free too."""

from __future__ import annotations

import ast
import glob
import os
import subprocess
import sys

from conftest import ROOT

FORBIDDEN = {
    "grammar": ("synthc.compiler", "synthc.runtime", "synthc.lsp", "synthc.cli", "guidance", "llama_cpp", "bm25s",
                "sklearn"),
    "compiler": ("synthc.runtime", "synthc.lsp", "synthc.cli", "guidance", "llama_cpp", "bm25s", "sklearn", "rich",
                 "pygls", "lsprotocol"),
    "runtime": ("synthc.lsp", "synthc.cli", "pygls", "lsprotocol"),
    # The server may use the runtime only for the plan's counts and estimates; today it needs none of it.
    "lsp": ("synthc.runtime", "synthc.cli", "guidance", "llama_cpp", "bm25s", "sklearn", "rich"),
}


def _imports(path: str) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
    return out


def test_forbidden_imports() -> None:
    bad = []
    for package, forbidden in FORBIDDEN.items():
        for path in glob.glob(os.path.join(ROOT, package, "**", "*.py"), recursive=True):
            for name in _imports(path):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    bad.append(f"{os.path.relpath(path, ROOT)} imports {name}")
    assert bad == []


def test_check_does_not_load_the_model_stack() -> None:
    code = ("import sys; from synthc.cli import main; main(['check', 'examples/quickstart.synth']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('guidance', 'llama_cpp', 'synthc.runtime')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]"), out.stdout


def test_lsp_does_not_load_the_model_stack() -> None:
    code = ("import sys; import synthc.lsp.server; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('guidance', 'llama_cpp') or m.startswith('synthc.runtime')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]"), out.stdout
