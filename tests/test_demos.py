"""Few-shot demos drawn per row with a shared prefix (runtime/prompting/rows.py): rows of a block share their
first `shared` demos, and each row's demos are still a uniform sample of its own pool."""

from __future__ import annotations

import dataclasses
import json
import itertools
import os
from collections import Counter

from conftest import DATA
from synthc.compiler import compile_file, ir
from synthc.runtime.io.data import Record
from synthc.runtime.prompting.rows import Planned, Planner, _assign_demos, row_seed
from synthc.runtime.prompting.scope import render_demos

SPEC = """
model m {{
  gguf = builtin("smollm2-135m")
}}

labels ag {{
  Sports = "about sports"
  World  = "about international news"
}}

source seeds {{
  path  = "{data}"
  label = "label"
}}

task news {{
  labels    = ag
  model     = m
  seeds     = seeds
  per_label = 12
  prompt    = "Examples:\\n{{{{ demos }}}}\\nWrite one {{{{ label }}}} summary."

  fewshot {{
    shots = 8
    block = 5
    {extra}
  }}
}}
"""


def _variant(tmp_path: str, extra: str = "") -> tuple[ir.Variant, ir.Program]:
    spec = os.path.join(tmp_path, "news.synth")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(SPEC.format(data=os.path.join(DATA, "ag_news", "train.jsonl"), extra=extra))
    result = compile_file(spec, allow=[DATA])
    assert result.plan is not None, result.diagnostics
    program = result.plan.program
    return program.tasks[0].variants[0], program


def _seeds(per_label: int) -> list[Record]:
    return [Record(f"{lb}-{i}", f"{lb} text {i}", lb, {}) for lb in ("Sports", "World") for i in range(per_label)]


def _ids(r: Planned) -> list[str]:
    return [row.id for row, _ in r.demos]


def test_rows_of_a_block_share_their_demo_prefix(tmp_path: str) -> None:
    v, program = _variant(str(tmp_path))
    assert v.fewshot is not None and (v.fewshot.shared, v.fewshot.block) == (6, 5)  # default: 3/4 of 8 shots
    seeds = _seeds(20)
    rows = Planner(v, program, seeds, None, None, None).first()
    assert len(rows) == 24
    for r in rows:  # a valid sample: distinct, of the row's label, never its own seed
        ids = _ids(r)
        assert len(ids) == 8 and len(set(ids)) == 8
        assert all(i.startswith(f"{r.label}-") for i in ids) and r.seed is not None and r.seed.id not in ids
    for (label, block), members in itertools.groupby(rows, key=lambda r: (r.label, r.index // 5)):
        members = list(members)
        # One shared stream per block, which each row keeps without its own seed: any two rows'
        # first six, each without the other's seed, are prefixes of the same sequence.
        for r, q in itertools.combinations(members, 2):
            assert r.seed is not None and q.seed is not None
            a = [i for i in _ids(r)[:6] if i != q.seed.id]
            b = [i for i in _ids(q)[:6] if i != r.seed.id]
            m = min(len(a), len(b))
            assert m >= 5 and a[:m] == b[:m], (label, block, _ids(r), _ids(q))
        assert len({tuple(_ids(r)[6:]) for r in members}) == len(members)  # the per-row rest differs
    # Different blocks draw different prefixes.
    assert _ids(rows[0])[:6] != _ids(rows[5])[:6]
    # The prompts of a block share the rendered prefix: what the backend evaluates once.
    pair = next(p for p in zip(rows, rows[1:5]) if _ids(p[0])[:6] == _ids(p[1])[:6])
    a, b = (render_demos(v, program, r) or "" for r in pair)
    assert a.split("\n\n")[:6] == b.split("\n\n")[:6] and a != b


def test_demos_are_deterministic_and_independent_of_the_round(tmp_path: str) -> None:
    v, program = _variant(str(tmp_path))
    seeds = _seeds(20)
    first = Planner(v, program, seeds, None, None, None).first()
    again = Planner(v, program, seeds, None, None, None).first()
    assert [_ids(r) for r in first] == [_ids(r) for r in again]
    # A quota round plans rows 7.. of a label alone: they get the demos they would have had.
    later = Planner(v, program, seeds, None, None, None).more("Sports", 7, 5)
    assert [_ids(r) for r in later] == [_ids(r) for r in first if r.label == "Sports"][7:12]


def test_shared_zero_is_the_independent_draw(tmp_path: str) -> None:
    v, program = _variant(str(tmp_path), "shared = 0")
    assert v.fewshot is not None and v.fewshot.shared == 0
    rows = Planner(v, program, _seeds(20), None, None, None).first()
    # Independent draws: two rows of 8 of 19 demos share their first demo about 1 time in 19.
    firsts = Counter(_ids(r)[0] for r in rows if r.label == "Sports")
    assert max(firsts.values()) < 6


def test_each_row_is_a_uniform_ordered_sample(tmp_path: str) -> None:
    # The marginal of one row — its ordered demos — over many task seeds must be uniform over the
    # ordered 3-samples of its pool minus its own seed: 4·3·2 = 24 outcomes. The row sits second
    # in its block and its own seed is often in the block's shared stream: the case to get right.
    v, program = _variant(str(tmp_path), "shared = 2")
    assert v.fewshot is not None
    fs = dataclasses.replace(v.fewshot, shots=3, shared=2, block=4)
    seeds = [Record(f"s{i}", f"text {i}", "Sports", {}) for i in range(5)]
    counts: Counter[tuple[str, ...]] = Counter()
    n = 4800
    for trial in range(n):
        vt = dataclasses.replace(v, fewshot=fs, seed=trial)
        rows = [Planned(key=f"Sports/{i:06d}", label="Sports", seed=seeds[i], index=i,
                        seed_value=row_seed(trial, i)) for i in range(4)]
        _assign_demos(vt, rows, seeds, [], 42)
        assert "s1" not in _ids(rows[1])
        counts[tuple(_ids(rows[1]))] += 1
    assert len(counts) == 24
    # Chi-square with 23 degrees of freedom: 49.7 is its 0.001 quantile.
    expected = n / 24
    assert sum((o - expected) ** 2 / expected for o in counts.values()) < 49.7


def test_run_log_counts_prompt_tokens_per_variant(tmp_path: str) -> None:
    # The fake backend evaluates every prompt token it is sent, so the summary stays quiet about
    # the KV cache while the run log still counts each variant's tokens.
    from test_runtime import _build, _copy_example

    spec = _copy_example(str(tmp_path), "fewshot.synth")
    summary = _build(spec)
    assert "evaluated ÷ sent" not in summary
    facts = json.load(open(os.path.join(os.path.dirname(spec), ".synthc", "last-build.json"), encoding="utf-8"))
    counts = facts["variants"]["messages.default"]
    assert counts["generated"] == facts["generations"]["new"] > 0
    assert counts["prompt"] == counts["prompt_evaluated"] == facts["tokens"]["prompt"] > 0
    assert counts["evaluated_per_sent"] == 1.0
