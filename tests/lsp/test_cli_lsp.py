"""`synthc lsp` options: a malformed `--set` is refused before the server starts."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_bad_set_is_refused() -> None:
    out = subprocess.run([sys.executable, "-m", "synthc", "lsp", "--set", "per_label"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 1 and "--set expects NAME=VALUE" in out.stderr
