"""bench/server.py in its smoke mode, so the benchmark cannot rot (figures are not asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.model
def test_server_benchmark_smoke() -> None:
    run = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "server.py"), "--smoke"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    for name in ("synthc endpoint", "plain client"):
        assert re.search(rf"{name} +[0-9]+ tokens in +[0-9.]+ s = +[0-9.]+ tok/s", run.stdout), run.stdout
    assert re.search(r"ratio endpoint / plain client = [0-9.]+", run.stdout)
