"""Quotas met after filtering (`per_label` counts kept rows, `attempts` bounds the requests) and
Li et al.'s one long conversation per label, on the fake backend.

The fake writes 8..47 words per row, so a `words = LO..200` filter drops a predictable share of
rows: LO = 20 about a third (quota rounds meet the quota), LO = 45 nearly all (the budget runs out).
"""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import Future
from typing import Any, Sequence

import pytest

from synthc.compiler import compile_file
from synthc.runtime import execute
from synthc.runtime.backends.base import Completion, Request
from synthc.runtime.models.load import ModelPool
from synthc.runtime.engine.quota import PRIOR, LabelQuota, cut, first_size, next_size
from test_runtime import _copy_example, _sha

SPEC = """
model m {{
  gguf       = builtin("smollm2-135m")
  max_tokens = 60
  seed       = 3
}}

labels s {{
  positive = "positive"
  negative = "negative"
}}

task t {{
  labels    = s
  model     = m
  per_label = {n}
  attempts  = {attempts}
  prompt    = "Write a {{{{ label }}}} {{{{ genre }}}} review about the plot, the acting, the music and the camera."

  vary {{
    genre = ["drama", "comedy", "horror"]
  }}
{conversation}
  filter {{
    words  = {lo}..200
    dedupe = exact
  }}
}}

export t {{
  task = t
  path = "out/t.jsonl"
}}
"""

CONVERSATION = """
  conversation {
    diversity_prompt = "Can you provide something more diverse compared to the previously generated data?"
    every            = 3
    reset_after      = 20
  }
"""


def _spec(tmp: str, n: int = 6, attempts: int = 4, lo: int = 20, conversation: bool = False) -> str:
    os.makedirs(tmp, exist_ok=True)
    path = os.path.join(tmp, "t.synth")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(SPEC.format(n=n, attempts=attempts, lo=lo, conversation=CONVERSATION if conversation else ""))
    return path


def _build(spec: str, err: io.StringIO | None = None, **kw: Any) -> str:
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    return execute(result.plan, result.sources, quiet=True, backend="fake", err=err or io.StringIO(), **kw)


def _out(spec: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    d = os.path.join(os.path.dirname(spec), "out")
    rows = [json.loads(line) for line in open(os.path.join(d, "t.jsonl"), encoding="utf-8")]
    return rows, json.load(open(os.path.join(d, "manifest.json"), encoding="utf-8"))


def _index(row: dict[str, Any]) -> int:
    return int(row["provenance"]["row"].split("/")[1].split("#")[0])


# -- the round arithmetic -------------------------------------------------------------------

def test_next_round_size_follows_the_keep_rate_within_the_budget() -> None:
    assert next_size(LabelQuota(wanted=10, budget=40, requests=10, kept=10)) == 0  # met
    assert next_size(LabelQuota(wanted=10, budget=40, requests=10, kept=6)) == 7  # 4 short at ~0.6 kept/request
    assert next_size(LabelQuota(wanted=10, budget=40, requests=10, kept=0)) == 30  # nothing kept: the rest of the budget
    assert next_size(LabelQuota(wanted=10, budget=40, requests=40, kept=3)) == 0  # spent
    assert next_size(LabelQuota(wanted=10, budget=40, requests=10, kept=2, exhausted=True)) == 0  # out of inputs
    assert next_size(LabelQuota(wanted=10, budget=40, requests=4, kept=30)) == 0  # split rows: several per request


def test_cut_keeps_each_labels_first_rows_in_plan_order() -> None:
    class R:
        def __init__(self, label: str, key: str) -> None:
            self.label, self.key = label, key

    rows = [R("a", "a/0"), R("b", "b/0"), R("a", "a/1"), R("a", "a/2"), R("b", "b/1")]
    kept, surplus = cut(rows, {"a": 2, "b": 2})
    assert [r.key for r in kept] == ["a/0", "b/0", "a/1", "b/1"] and surplus == Counter({"a": 1})


# -- quotas in a build ------------------------------------------------------------------------

def test_quota_is_met_after_filtering_and_rows_are_cut_to_equal_n(tmp_path: str) -> None:
    spec = _spec(str(tmp_path))
    first = _build(spec)
    rows, manifest = _out(spec)
    assert Counter(r["label"] for r in rows) == {"positive": 6, "negative": 6}  # kept rows, not requests
    quota = manifest["quota"]["default"]
    assert set(quota) == {"positive", "negative"}
    for entry in quota.values():
        assert entry["wanted"] == entry["kept"] == 6 and entry["met"]
        assert 6 <= entry["requests"] <= 4 * 6
    assert any(e["requests"] > 6 for e in quota.values())  # more requests than rows: the filter dropped some
    assert manifest["dropped"]["default"]["words"] > 0
    assert max(_index(r) for r in rows) >= 6  # rows of a later round were kept
    assert manifest["counts"]["default"]["per_label"] == {"negative": 6, "positive": 6}
    generated = sum(e["requests"] for e in quota.values())
    assert f"{generated} generated, 0 from cache" in first
    again = _build(spec)  # a rebuild plans the same rounds and finds them all in the cache
    assert f"0 generated, {generated} from cache" in again
    assert _out(spec)[0] == rows


def test_unmet_quota_within_the_budget_is_reported(tmp_path: str) -> None:
    spec = _spec(str(tmp_path), n=6, attempts=2, lo=45)
    err = io.StringIO()
    _build(spec, err)
    rows, manifest = _out(spec)
    quota = manifest["quota"]["default"]
    assert all(e["requests"] == 12 and not e["met"] and e["kept"] < 6 for e in quota.values())
    assert Counter(r["label"] for r in rows) == {lb: e["kept"] for lb, e in quota.items() if e["kept"]}
    warning = [line for line in err.getvalue().splitlines() if line.startswith("warning: quota not met")]
    assert len(warning) == 1 and "t.default" in warning[0] and "attempts = 2" in warning[0]


def test_quota_rounds_are_byte_reproducible(tmp_path: str, monkeypatch: Any) -> None:
    shas = []
    for run, width in (("a", "8"), ("b", "3")):  # groups differ; the fake's bytes must not
        monkeypatch.setenv("SYNTHC_FAKE_CAPACITY", width)
        spec = _spec(os.path.join(str(tmp_path), run), n=5, conversation=True)
        _build(spec)
        d = os.path.join(os.path.dirname(spec), "out")
        shas.append((_sha(os.path.join(d, "t.jsonl")), _out(spec)[1]["quota"]))
    assert shas[0] == shas[1]


def _round_two_committed(spec: str, first: int) -> bool:
    path = os.path.join(os.path.dirname(spec), ".synthc", "cache.sqlite")
    if not os.path.exists(path):
        return False
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return any(int(row.split("/")[1]) >= first for (row,) in db.execute("SELECT row FROM generations"))
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()


def test_kill_9_in_a_quota_round_resumes_identically(tmp_path: str) -> None:
    # lo = 30 keeps under half the fake's rows: the first round (10 per label at the prior) falls short
    ref = _spec(os.path.join(str(tmp_path), "ref"), n=8, lo=30, conversation=True)
    spec = _spec(os.path.join(str(tmp_path), "run"), n=8, lo=30, conversation=True)
    first = first_size(8, PRIOR, 4 * 8)
    env = dict(os.environ, SYNTHC_FAKE_DELAY="0.02", SYNTHC_FAKE_CAPACITY="2")
    proc = subprocess.Popen([sys.executable, "-m", "synthc", "build", spec, "--backend", "fake", "--quiet"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not _round_two_committed(spec, first) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _round_two_committed(spec, first), "the build ended before its second round"
    assert not os.path.exists(os.path.join(os.path.dirname(spec), "out", "t.jsonl"))
    resumed = _build(spec)
    _build(ref)
    assert "from cache" in resumed and not resumed.startswith("built 0")
    out = ("out", "t.jsonl")
    assert _sha(os.path.join(os.path.dirname(spec), *out)) == _sha(os.path.join(os.path.dirname(ref), *out))
    for key in ("quota", "counts", "groups", "dropped"):
        assert _out(spec)[1][key] == _out(ref)[1][key]


# -- Li et al.: one long conversation per label ----------------------------------------------

class _Recording:
    """A Dispatcher that keeps every request it is sent, answered by the fake backend."""

    def __init__(self, pool: ModelPool) -> None:
        self.pool = pool
        self.requests: list[Request] = []

    def capacity(self, model: str) -> int:
        return 4

    def submit(self, model: str, requests: Sequence[Request]) -> Future[list[Completion]]:
        self.requests += requests
        f: Future[list[Completion]] = Future()
        f.set_result(self.pool.get(model).generate_batch(requests))
        return f

    def close(self) -> None:
        pass


def _recorded(spec: str, overrides: dict[str, str] | None = None) -> list[Request]:
    result = compile_file(spec, overrides)
    assert result.plan is not None, result.diagnostics
    rec = _Recording(ModelPool(result.plan.program, result.plan.program.root, "fake"))
    exports = [n for n in result.plan.order() if result.plan.step(n).kind == "export"]  # not the evaluation
    execute(result.plan, result.sources, quiet=True, backend="fake", dispatcher=rec, err=io.StringIO(),
            select=exports)
    return rec.requests


def test_one_conversation_per_label_reaches_its_diversity_prompts(tmp_path: str) -> None:
    spec = _spec(str(tmp_path), n=8, lo=1, conversation=True)  # nothing dropped: one round
    requests = _recorded(spec)
    turns = first_size(8, PRIOR, 4 * 8)  # the first round, sized at the prior keep rate: 10
    assert len(requests) == 2 * turns
    prompt = "Can you provide something more diverse compared to the previously generated data?"
    by_length = Counter(len(r.messages) for r in requests)
    assert by_length == {1 + 2 * t: 2 for t in range(turns)}  # two conversations (one per label), turns 0..9
    diverse = sorted((len(r.messages) - 1) // 2 for r in requests if r.messages[-1][1].endswith(prompt))
    assert diverse == sorted(2 * list(range(3, turns, 3)))  # every 3 turns, in each label's conversation
    rows, _ = _out(spec)
    convs = {r["provenance"]["conversation"]["id"] for r in rows}
    assert len(convs) == 2
    for conv in convs:  # `vary` changes inside the conversation, turn by turn
        assert len({r["provenance"]["attributes"]["genre"] for r in rows
                    if r["provenance"]["conversation"]["id"] == conv}) > 1


def test_quota_rounds_continue_the_labels_conversation(tmp_path: str) -> None:
    spec = _spec(str(tmp_path), n=4, lo=20, conversation=True)
    _build(spec)
    rows, manifest = _out(spec)
    assert all(e["met"] for e in manifest["quota"]["default"].values())
    later = [r for r in rows if _index(r) >= 4]
    assert later, "no row of a later round was kept"
    for r in rows:  # one conversation per label (reset_after = 20), whatever round planned the row
        conv = r["provenance"]["conversation"]
        assert conv["turn"] == _index(r) and conv["id"].endswith("-0")
    assert len({r["provenance"]["conversation"]["id"] for r in rows}) == 2


def test_li2023_zero_shot_is_no_longer_its_no_diversity_twin(tmp_path: str) -> None:
    # issue 14: 16 of zero_shot's 29 rows were byte-identical to zero_shot_no_diversity's, because
    # conversations split by attributes never got past turn 2. One conversation per label means
    # only its first turn (no history, no diversity prompt yet) can coincide.
    spec = _copy_example(str(tmp_path), "li2023_imdb.synth", "specs")
    program = compile_file(spec).plan.program  # type: ignore[union-attr]
    conv = next(v for v in program.variants() if v.name == "zero_shot").conversation
    assert conv is not None
    n = conv.every + 2
    requests = _recorded(spec, {"per_label": str(n)})
    assert any(r.messages[-1][1].endswith(conv.diversity_prompt) for r in requests)
    out = os.path.join(str(tmp_path), "out", "li2023_imdb")
    texts = {}
    for name in ("zero_shot", "zero_shot_no_diversity"):
        with open(os.path.join(out, f"{name}.jsonl"), encoding="utf-8") as fh:
            texts[name] = {json.loads(line)["text"] for line in fh}
    labels = 2
    assert len(texts["zero_shot"] & texts["zero_shot_no_diversity"]) <= labels * -(-n // conv.reset_after)


# -- planning from an expected keep rate; top-ups as soon as a label is short ---------------------

def _variant_basis(spec: str) -> str:
    """The basis a build of `spec` on the fake backend records its keep rates under."""
    from synthc.runtime.engine.quota import _Silent, variant_basis
    from synthc.runtime.prompting.rows import RowPlan
    from synthc.runtime.steps import Context, run_step

    plan = compile_file(spec).plan
    assert plan is not None
    pool = ModelPool(plan.program, plan.program.root, "fake")
    v = plan.program.variants()[0]
    ctx = Context(plan, None, _Silent(), pool)  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for node in plan.order():
        if plan.step(node).kind == "render":
            planned = run_step(ctx, node, values)
            assert isinstance(planned, RowPlan)
            return variant_basis(v, plan.program, planned, pool.get(v.model).fingerprint())
        if plan.step(node).kind in ("load", "sample"):
            values[node] = run_step(ctx, node, values)
    raise AssertionError("no render step")


def _lock(spec: str, basis: str, kept: int, requests: int) -> None:
    rates = {"t.default": {"basis": basis, "labels": {lb: {"kept": kept, "passed": kept, "requests": requests}
                                                       for lb in ("positive", "negative")}}}
    with open(spec + ".lock", "w", encoding="utf-8") as fh:
        json.dump({"lock_version": 1, "models": {}, "data": {}, "versions": {}, "keep_rates": rates}, fh)


def test_first_round_is_planned_at_the_prior_keep_rate(tmp_path: str) -> None:
    spec = _spec(str(tmp_path), n=6, lo=1)  # nothing dropped: the first round is the whole build
    _build(spec)
    _, manifest = _out(spec)
    first = first_size(6, PRIOR, 4 * 6)
    assert first == 8
    assert {lb: e["requests"] for lb, e in manifest["quota"]["default"].items()} == {"positive": first, "negative": first}
    eff = manifest["efficiency"]["default"]
    assert eff["rates_from"] == "prior" and eff["keep_rate"] == {"positive": PRIOR, "negative": PRIOR}
    assert eff["rounds"] == {"positive": 1, "negative": 1}


def test_cartographys_share_is_planned_exactly(tmp_path: str) -> None:
    """With cartography (keep 0.83) a label's first round aims at the rows its rule leaves
    per_label of (12 for 10), not per_label / keep: one round of 15 (the prior 0.8 for the other
    filters), where 0.8 × 0.83 planned 16."""
    from synthc.runtime.filters.cartography import rows_for

    spec = _spec(str(tmp_path), n=10, lo=1)
    text = open(spec, encoding="utf-8").read().replace(
        "    dedupe = exact\n", "    dedupe = exact\n\n    cartography {\n      keep   = 0.83\n      epochs = 2\n    }\n")
    open(spec, "w", encoding="utf-8").write(text)
    _build(spec)
    rows, manifest = _out(spec)
    first = first_size(rows_for(10, 0.83), PRIOR, 4 * 10)
    assert rows_for(10, 0.83) == 12 and first == 15
    quota = manifest["quota"]["default"]
    assert {lb: (e["requests"], e["met"]) for lb, e in quota.items()} == {"positive": (first, True), "negative": (first, True)}
    assert manifest["efficiency"]["default"]["rounds"] == {"positive": 1, "negative": 1}
    # what the lock records for the next build: rows past every filter but cartography, per request
    from synthc.runtime.engine.quota import Quota
    q = Quota("g", None, None, "p", "f", {"a": LabelQuota(wanted=15, budget=60, requests=20)})  # type: ignore[arg-type]
    assert q.measured(Counter(a=15), Counter(a=1), Counter(a=3)) == {"a": {"kept": 16, "passed": 19, "requests": 20}}


def test_first_round_is_planned_from_the_locks_keep_rate(tmp_path: str) -> None:
    spec = _spec(str(tmp_path), n=6, lo=1)
    _lock(spec, _variant_basis(spec), kept=1, requests=2)  # a previous build kept half its rows
    _build(spec)
    _, manifest = _out(spec)
    assert all(e["requests"] == 12 and e["met"] for e in manifest["quota"]["default"].values())
    eff = manifest["efficiency"]["default"]
    assert eff["rates_from"] == "lock" and eff["keep_rate"] == {"positive": 0.5, "negative": 0.5}
    assert eff["requests"] == 24 and eff["kept"] == 12 and eff["requests_per_kept"] == 2.0


def test_a_keep_rate_measured_for_other_requests_is_not_used(tmp_path: str) -> None:
    spec = _spec(str(tmp_path), n=6, lo=1)
    _lock(spec, "0" * 16, kept=1, requests=2)  # recorded before the prompt or filters changed
    _build(spec)
    eff = _out(spec)[1]["efficiency"]["default"]
    assert eff["rates_from"] == "prior" and eff["requests"] == 2 * first_size(6, PRIOR, 24)


def test_a_short_label_is_topped_up_while_other_labels_still_generate(tmp_path: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("SYNTHC_FAKE_CAPACITY", "2")
    monkeypatch.setenv("SYNTHC_FAKE_DELAY", "0.01")
    spec = _spec(str(tmp_path), n=6, lo=30)  # keeps under half: the prior's first round falls short
    log = os.path.join(str(tmp_path), "events.jsonl")
    _build(spec, events=log)
    events = [json.loads(line) for line in open(log, encoding="utf-8")]
    first = first_size(6, PRIOR, 24)
    rounds = [k for k, e in enumerate(events) if e["event"] == "generate_round"]
    assert rounds, "no top-up round"
    top = events[rounds[0]]
    assert top["label"] in ("positive", "negative")
    # rows of the other label's first round were still being generated after the top-up was planned
    later = [e for e in events[rounds[0]:] if e["event"] == "row_done" and not e["row"].startswith(top["label"])
             and int(e["row"].split("/")[1]) < first]
    assert later, "the top-up waited for every label's first round"
    rows, manifest = _out(spec)
    assert all(e["met"] for e in manifest["quota"]["default"].values())


def test_the_manifest_and_summary_carry_requests_and_prompt_tokens_per_kept_row(tmp_path: str) -> None:
    spec = _spec(str(tmp_path), n=6, lo=20)
    summary = _build(spec)
    rows, manifest = _out(spec)
    eff = manifest["efficiency"]["default"]
    quota = manifest["quota"]["default"]
    requests = sum(e["requests"] for e in quota.values())
    assert eff["requests"] == requests and eff["kept"] == len(rows) == 12
    assert eff["requests_per_kept"] == round(requests / 12, 3) > 1
    assert eff["prompt_tokens"] > 0 and eff["prompt_tokens_per_kept"] == round(eff["prompt_tokens"] / 12, 1)
    assert f"per kept row: t.default {eff['requests_per_kept']} requests, {eff['prompt_tokens_per_kept']:.0f} prompt tokens" in summary
    facts = json.load(open(os.path.join(str(tmp_path), ".synthc", "last-build.json"), encoding="utf-8"))
    run = facts["efficiency"]["t.default"]
    assert run["requests_per_kept"] == eff["requests_per_kept"] and run["new_requests"] == requests
    assert run["prompt_evaluated_per_kept"] == eff["prompt_tokens_per_kept"]  # the fake evaluates every token
    _build(spec)  # from the cache: the manifest is the same, the run evaluated nothing
    assert _out(spec)[1]["efficiency"] == manifest["efficiency"]
    facts = json.load(open(os.path.join(str(tmp_path), ".synthc", "last-build.json"), encoding="utf-8"))
    assert facts["efficiency"]["t.default"]["prompt_evaluated_per_kept"] == 0


def test_the_lock_keeps_a_measured_keep_rate_until_its_basis_changes() -> None:
    from synthc.runtime.store.lock import keep_rates, merge_keep_rates, without_keep_rates

    old = {"lock_version": 1,
           "keep_rates": {"t.a": {"basis": "b1", "labels": {"x": {"kept": 8, "passed": 9, "requests": 10}}},
                          "t.gone": {"basis": "b", "labels": {}}}}
    assert keep_rates(old, "t.a", "b1") == {"x": 0.9}  # passed per request: cartography's share is planned apart
    assert keep_rates(old, "t.a", "b2") is None and keep_rates(None, "t.a", "b1") is None
    measured = {"t.a": {"basis": "b1", "labels": {"x": {"kept": 5, "passed": 5, "requests": 10}}},
                "t.b": {"basis": "c", "labels": {"x": {"kept": 1, "passed": 1, "requests": 2}}}}
    merged = merge_keep_rates(old, measured, {"t.a", "t.b"})
    assert merged["t.a"] == old["keep_rates"]["t.a"]  # same basis: kept as it was, so the lock does not drift
    assert merged["t.b"] == measured["t.b"] and "t.gone" not in merged
    changed = merge_keep_rates(old, {"t.a": {"basis": "b2", "labels": {}}}, {"t.a"})
    assert changed["t.a"]["basis"] == "b2"  # the requests or filters changed: the new measurement
    assert without_keep_rates(old) == {"lock_version": 1}  # what --locked compares
    # an entry recorded before `passed` was: it plans nothing, and the next build records one
    legacy = {"keep_rates": {"t.a": {"basis": "b1", "labels": {"x": {"kept": 9, "requests": 10}}}}}
    assert keep_rates(legacy, "t.a", "b1") is None
    assert merge_keep_rates(legacy, measured, {"t.a"})["t.a"] == measured["t.a"]


@pytest.mark.parametrize("keep", [0.5, 0.75, 0.8, 0.83, 0.9, 0.97])
def test_the_planners_aim_is_cartographys_own_rule(keep: float) -> None:
    """The aim a label plans towards is exactly what the filter leaves: no row more, none fewer."""
    import random

    from synthc.compiler import ir
    from synthc.runtime.filters.cartography import cartography, kept_of, rows_for
    from synthc.runtime.prompting.postprocess import Candidate

    rng = random.Random(keep)
    for wanted in (1, 2, 5, 15, 40):
        n = rows_for(wanted, keep)
        for rows in (n, n - 1):
            # two labels of `rows` rows each, their texts drawn from overlapping words: real confidences
            words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
            cands = [Candidate(f"{lb}/{k}", " ".join(rng.choices(words, k=6)), lb, {}, {}, None)  # type: ignore[arg-type]
                     for lb in ("a", "b") for k in range(rows)]
            cartography(cands, ir.Cartography(keep=keep, epochs=2))
            for lb in ("a", "b"):
                left = sum(1 for c in cands if c.label == lb and c.dropped is None)
                distinct = len({c.scores["confidence"] for c in cands if c.label == lb}) == rows
                assert left == kept_of(rows, keep) if distinct else left >= kept_of(rows, keep)  # ties keep more
            assert kept_of(n, keep) >= wanted and (n == wanted or kept_of(n - 1, keep) < wanted)
    assert rows_for(15, 0.83) == 18 and kept_of(17, 0.83) == 14
