"""The real embedded model (SmolLM2-135M through llama.cpp, batched). Few and short."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest


pytestmark = pytest.mark.model

SPEC = """
model writer {
  gguf        = builtin("smollm2-135m")
  mode        = chat
  temperature = 0.9
  max_tokens  = 40
  seed        = 3
  threads     = 2
}

labels sentiment {
  positive = "positive"
  negative = "negative"
}

task reviews {
  labels    = sentiment
  model     = writer
  per_label = 3
  attempts  = 1  # one round: the test counts requests (quota rounds: tests/test_quota.py)
  system    = "You are a movie critic."
  prompt    = "Write a one-sentence {{ label }} movie review."
}

task verdicts {
  labels    = sentiment
  model     = writer
  per_label = 1
  attempts  = 1
  prompt    = "Is this review positive or negative? 'A wonderful, moving film.'"

  output {
    label = label()
    score = int(1..5)
  }
}

export reviews {
  task = reviews
  path = "out/reviews/reviews.jsonl"
}

export verdicts {
  task = verdicts
  path = "out/verdicts/verdicts.jsonl"
}
"""


def _write(tmp: str) -> str:
    path = os.path.join(tmp, "tiny.synth")
    with open(path, "w") as fh:
        fh.write(SPEC)
    return path


def _build(spec: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synthc", "build", spec, "--quiet"], capture_output=True, text=True)


def _sha(path: str) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_real_model_build_rerun_and_resume(tmp_path: str) -> None:
    spec = _write(str(tmp_path))
    first = _build(spec)
    assert first.returncode == 0, first.stderr
    assert "8 generated" in first.stdout
    rows = [json.loads(x) for x in open(os.path.join(str(tmp_path), "out", "reviews", "reviews.jsonl"))]
    assert len(rows) >= 4 and all(r["text"].strip() for r in rows)
    assert all(-20 < r["provenance"]["logprob"] < 0 for r in rows)  # the fluency filter's input, from llama.cpp
    verdict = json.loads(open(os.path.join(str(tmp_path), "out", "verdicts", "verdicts.jsonl")).readline())
    assert verdict["label"] in ("positive", "negative") and 1 <= verdict["score"] <= 5  # JSON under an llguidance mask
    lock = json.load(open(spec + ".lock"))
    assert len(lock["models"]["writer"]["sha256"]) == 64
    ref = _sha(os.path.join(str(tmp_path), "out", "reviews", "reviews.jsonl"))
    again = _build(spec)
    assert "0 generated, 8 from cache" in again.stdout
    # kill -9 in the middle of a fresh build (cache removed), then resume: same bytes
    import shutil

    shutil.rmtree(os.path.join(str(tmp_path), ".synthc"))
    shutil.rmtree(os.path.join(str(tmp_path), "out"))
    proc = subprocess.Popen([sys.executable, "-m", "synthc", "build", spec, "--quiet"])
    deadline = time.time() + 60
    db = os.path.join(str(tmp_path), ".synthc", "cache.sqlite")
    while time.time() < deadline:
        if os.path.exists(db):
            import sqlite3

            try:
                n = sqlite3.connect(db).execute("SELECT count(*) FROM generations").fetchone()[0]
            except sqlite3.Error:
                n = 0
            if n >= 2:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = _build(spec)
    assert resumed.returncode == 0, resumed.stderr
    assert _sha(os.path.join(str(tmp_path), "out", "reviews", "reviews.jsonl")) == ref


def test_quickstart_plan_counts_real_prompt_tokens(checkout_copy: str) -> None:
    # On a copy: `plan --tokens` reads the recipe's .synthc/ cache, which in the checkout is the user's
    # (README command 1 fills it), and then counts only the rows not cached.
    out = subprocess.run([sys.executable, "-m", "synthc", "plan", "examples/quickstart.synth", "--tokens"],
                         cwd=checkout_copy, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "prompt tokens" in out.stdout
    # The committed lock's keep rates (9 of 10 kept per label) hold for today's requests and IR, so
    # README command 1 plans ceil(8 / 0.9) = 9 rows per label; a stale basis (an IR field or a cache
    # key changed) would fall back to the prior: ceil(8 / 0.8) = 10.
    out = subprocess.run([sys.executable, "-m", "synthc", "plan", "examples/quickstart.synth", "--json"],
                         cwd=checkout_copy, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    (cache,) = [n["cache"] for n in json.loads(out.stdout)["nodes"] if n["kind"] == "generate"]
    assert cache["rows"] == 18, cache


def test_the_batch_width_changes_no_byte(tmp_path: str) -> None:
    """Continuous batching at the automatic width (rows of both tasks share the decode loop, slots
    refilled as rows end) and `batch = 1` (every row alone) write the same dataset bytes: decoding
    is batch-invariant (docs/design.md), so neither the schedule nor the width is in the output."""
    wide, alone = os.path.join(str(tmp_path), "wide"), os.path.join(str(tmp_path), "alone")
    os.makedirs(wide)
    os.makedirs(alone)
    spec_wide = _write(wide)
    spec_alone = os.path.join(alone, "tiny.synth")
    with open(spec_alone, "w") as fh:
        fh.write(SPEC.replace("  threads     = 2\n", "  threads     = 2\n  batch       = 1\n"))
    for spec in (spec_wide, spec_alone):
        done = _build(spec)
        assert done.returncode == 0, done.stderr
        assert "8 generated" in done.stdout
    for name in ("reviews/reviews.jsonl", "verdicts/verdicts.jsonl"):
        assert _sha(os.path.join(wide, "out", name)) == _sha(os.path.join(alone, "out", name))
