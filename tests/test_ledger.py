"""The usage ledger (runtime/store/ledger.py) on the fake backend: a build killed with kill -9 and
resumed spends exactly what a clean build spends, a rebuild from the cache spends nothing, the
dataset card states the cost, and `synthc plan --tokens` sets the estimate against the spend."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from servers import fault_server
from test_endpoint import _spec
from test_runtime import _build, _copy_example
from synthc.cli import main
from synthc.compiler import compile_file
from synthc.runtime import execute
from synthc.runtime.store.ledger import spent

NODE = "generate:reviews.default"


def _spent(spec: str) -> tuple[int, int, int]:
    s = spent(os.path.join(os.path.dirname(spec), ".synthc", "cache.sqlite"), os.path.basename(spec))[NODE]
    return s.requests, s.prompt, s.generated


def _out(spec: str, name: str) -> str:
    return os.path.join(os.path.dirname(os.path.dirname(spec)), "out", "quickstart", name)


def test_kill_9_and_resume_spends_what_a_clean_build_spends(tmp_path: str) -> None:
    ref = _copy_example(os.path.join(str(tmp_path), "ref"))
    spec = _copy_example(os.path.join(str(tmp_path), "run"))
    _build(ref, overrides={"per_label": "20"})
    clean = _spent(ref)
    env = dict(os.environ, SYNTHC_FAKE_DELAY="0.05")
    cmd = [sys.executable, "-m", "synthc", "build", spec, "--backend", "fake", "--quiet", "--set", "per_label=20"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cache = os.path.join(os.path.dirname(spec), ".synthc", "cache.sqlite")
    deadline = time.time() + 120
    while time.time() < deadline and not (os.path.exists(cache) and spent(cache, "quickstart.synth")):
        time.sleep(0.1)  # kill once the first groups are committed: mid-build, not before it began
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = _spent(spec)
    assert 0 < killed[0] < clean[0]  # the killed build's committed groups are on record, and only those
    assert not os.path.exists(_out(spec, "reviews.jsonl"))
    _build(spec, overrides={"per_label": "20"})
    assert _spent(spec) == clean
    # The card and manifest are byte-identical to the clean build's, cost included.
    for name in ("README.md", "manifest.json"):
        with open(_out(spec, name), "rb") as a, open(_out(ref, name), "rb") as b:
            assert a.read() == b.read(), name


def test_card_states_the_cost_and_a_cached_rebuild_spends_nothing(tmp_path: str) -> None:
    spec = _copy_example(str(tmp_path))
    _build(spec)
    first = _spent(spec)
    manifest = json.load(open(_out(spec, "manifest.json")))
    usage = manifest["usage"]["default"]
    # The card's cost (summed over the rows' completions) is what the one clean build spent.
    assert (usage["requests"], usage["prompt_tokens"], usage["generated_tokens"]) == first
    card = open(_out(spec, "README.md"), encoding="utf-8").read()
    assert "## Generation cost" in card
    assert f"| default | {first[0]} | {first[1]} | {first[2]} |" in card
    _build(spec)
    assert _spent(spec) == first
    s = spent(os.path.join(os.path.dirname(spec), ".synthc", "cache.sqlite"), "quickstart.synth")[NODE]
    assert s.builds == 1 and s.kept == manifest["counts"]["default"]["total"]


def test_plan_tokens_sets_the_estimate_against_the_spend(tmp_path: str) -> None:
    spec = _copy_example(str(tmp_path))
    out, err = io.StringIO(), io.StringIO()
    assert main(["plan", spec, "--tokens", "--backend", "fake"], out, err) == 0
    assert "spent by" not in out.getvalue()  # nothing built yet: nothing spent
    _build(spec)
    requests, prompt, generated = _spent(spec)
    out = io.StringIO()
    assert main(["plan", spec, "--tokens", "--backend", "fake"], out, err) == 0
    text = out.getvalue()
    # the preview runs the build: its first round (sized from the lock) and the later rounds in the cache
    assert f"spent by 1 build(s): {requests} requests (estimated {requests})" in text
    assert f"{prompt} prompt tokens (estimated " in text and f"{generated} generated (cap " in text
    assert f"builds so far spent {requests} requests, {prompt} prompt and {generated} generated tokens" in text
    out = io.StringIO()
    assert main(["plan", spec, "--tokens", "--backend", "fake", "--json"], out, err) == 0
    node = next(n for n in json.loads(out.getvalue())["nodes"] if n["id"] == NODE)
    assert node["cache"]["spent"]["requests"] == requests
    assert node["cache"]["estimate"]["requests"] == requests and node["cache"]["estimate"]["prompt_tokens"] > 0


def test_a_served_model_is_counted_as_the_server_reports(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every answer of the fault server reports usage 10 prompt / 6 completion tokens."""
    monkeypatch.setenv("SYNTHC_TEST_API_KEY", "sk-test")
    with fault_server() as server:
        spec = _spec(str(tmp_path), server.url, n=2)
        result = compile_file(spec)
        assert result.plan is not None
        execute(result.plan, result.sources, quiet=True)
        sent = len(server.requests)
    s = spent(os.path.join(str(tmp_path), ".synthc", "cache.sqlite"), "served.synth")[NODE]
    assert (s.requests, s.prompt, s.generated) == (sent, 10 * sent, 6 * sent) and sent >= 4
    assert s.models == ("served",)
