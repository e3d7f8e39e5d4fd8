"""`retrieve { screen = true }`: the label oracle turns away retrieved inputs whose document is
another label's before a row is planned (runtime/steps/generate.py), and the rows it leaves are the
very rows of an unscreened plan (runtime/prompting/rows.py)."""

from __future__ import annotations

import dataclasses
import json
import os
from types import SimpleNamespace

from conftest import DATA, ROOT
from synthc.compiler import compile_file, ir
from synthc.runtime.filters.oracle import Oracle
from synthc.runtime.io.data import Record
from synthc.runtime.prompting.rows import Pair, Planner
from synthc.runtime.retrieval.corpora import Doc, Hit
from synthc.runtime.steps.generate import _screen, screen
from synthc.runtime.store.cache import Cache

AG = os.path.join(ROOT, "specs", "synthesizrr_ag_news.synth")


def _variant(name: str) -> tuple[ir.Variant, ir.Program]:
    result = compile_file(AG)
    assert result.plan is not None, result.diagnostics
    program = result.plan.program
    return next(v for v in program.tasks[0].variants if v.name == name), program


def _pairs(per_label: int) -> list[Pair]:
    labels = ("World", "Sports", "Business", "Sci/Tech")
    return [Pair(Record(f"{lb}-seed-{i // 3}", f"{lb} seed {i // 3}", lb, {}),
                 Hit(Doc(f"{lb}-doc-{i}", f"a {lb} document {i}", {}), 3 + i % 3, 1.0, 0.5))
            for lb in labels for i in range(per_label)]


def _row(r: object) -> tuple[object, ...]:
    return (r.key, r.seed.id, r.hit.doc.id, r.seed_value, r.index)  # type: ignore[attr-defined]


def test_screened_inputs_are_skipped_and_the_other_rows_stay_what_they_were() -> None:
    v, program = _variant("SynthesizRR_0")
    pairs = _pairs(40)
    plain = Planner(v, program, None, pairs, None, None)
    before = plain.first()
    n = len([r for r in before if r.label == "World"])  # rows per label in the first round (per_label)
    assert n >= 2
    turned = {(r.seed.id, r.hit.doc.id) for r in before if r.index == 1}  # each label's second input
    screened = Planner(v, program, None, pairs, None, None, frozenset(turned))
    after = screened.first()
    assert len(after) == len(before)
    assert not {(r.seed.id, r.hit.doc.id) for r in after} & turned
    kept = [_row(r) for r in before if r.index != 1]
    assert [_row(r) for r in after if r.index < n] == kept  # same keys, seeds, documents, RNG seeds
    for lb in screened.labels:  # each label's replacement: the next input of its order, numbered on
        assert [r.key for r in after if r.label == lb and r.index >= n] == [f"{lb}/{n:06d}"]
    # a quota round counts planned rows, not numbers: planned row n of a label is input number n + 1
    (nxt,) = screened.more("World", n, 1)
    assert nxt.key == f"World/{n + 1:06d}" and nxt.index == n + 1
    assert _row(nxt)[1:3] == _row(plain.more("World", n + 1, 1)[0])[1:3]
    # previews ask by number (`show --row World/000001`): a screened number has no row
    assert [r.key for r in screened.numbered("World", 0, 3)] == ["World/000000"] + [f"World/{k:06d}" for k in (2, 3)]
    assert [_row(r) for r in plain.numbered("World", 0, 3)] == [_row(r) for r in plain.more("World", 0, 3)]
    assert screened.inputs_of("World") == plain.inputs_of("World") == 40


def test_the_oracle_screens_a_document_of_another_label(tmp_path: object) -> None:
    v, _ = _variant("SynthesizRR_0")
    assert v.retrieve is not None and v.retrieve.screen and v.filter.oracle is not None
    with open(os.path.join(DATA, "ag_news", "train.jsonl"), encoding="utf-8") as fh:
        train = [json.loads(line) for line in fh]
    oracle = Oracle([r["text"] for r in train], [r["label"] for r in train])
    world = Record("w", "Israeli troops raid a Gaza refugee camp", "World", {})
    match = Doc("d1", "Real Madrid beat Levante 2-0 at the Bernabeu; the striker scored twice in the second half "
                      "and the coach praised his team's defence ahead of the Champions League game.", {})
    talks = Doc("d2", "Palestinian and Israeli negotiators met in Cairo on Sunday as Egypt pressed both sides to "
                      "agree a ceasefire, the foreign ministry said.", {})
    pairs = [Pair(world, Hit(match, 3, 1.0, 0.5)), Pair(world, Hit(talks, 4, 1.0, 0.5))]
    assert screen(v.filter.oracle, oracle, pairs) == {("w", "d1")}
    # the render step's own call (through the memo): the same, and nothing when screening is off
    ctx = SimpleNamespace(cache=Cache(os.path.join(str(tmp_path), ".synthc")))
    assert _screen(ctx, v, pairs, oracle) == {("w", "d1")}
    assert _screen(ctx, v, pairs, None) == frozenset()  # no oracle input (screen off): nothing turned away
    off = dataclasses.replace(v, filter=dataclasses.replace(v.filter, oracle=None))
    assert _screen(ctx, off, pairs, oracle) == frozenset()


def test_screening_leaves_retrieval_keys_and_marks_the_keep_rate_basis() -> None:
    from synthc.runtime.store.keys import keep_rate_basis, retrieval_key

    v, program = _variant("SynthesizRR_0")
    assert v.retrieve is not None
    plain = dataclasses.replace(v, retrieve=dataclasses.replace(v.retrieve, screen=None))
    assert retrieval_key(v.retrieve, program, "i", "t", []) == retrieval_key(plain.retrieve, program, "i", "t", [])
    assert keep_rate_basis(v, "k") != keep_rate_basis(plain, "k")


def test_screening_is_memoised_and_a_hit_fits_no_oracle(tmp_path: object) -> None:
    """`synthc plan` reads what the last build screened: no oracle fit (seconds) on a memo hit; a
    changed threshold or document is a miss."""
    from synthc.runtime.store import memo

    v, _ = _variant("SynthesizRR_0")
    o = v.filter.oracle
    assert o is not None
    with open(os.path.join(DATA, "ag_news", "train.jsonl"), encoding="utf-8") as fh:
        train = [json.loads(line) for line in fh][:200]
    pairs = _pairs(3)
    cache = Cache(os.path.join(str(tmp_path), ".synthc"))
    calls: list[int] = []

    def compute(oracle: Oracle, threshold: ir.Oracle = o) -> frozenset[tuple[str, str]]:
        calls.append(1)
        return screen(threshold, oracle, pairs)

    first = Oracle([r["text"] for r in train], [r["label"] for r in train])
    found = memo.screened(cache, o, first, pairs, lambda: compute(first))
    again = Oracle([r["text"] for r in train], [r["label"] for r in train])
    assert memo.screened(cache, o, again, pairs, lambda: compute(again)) == found and len(calls) == 1
    assert "_fit" not in vars(again)  # never fit
    stricter = dataclasses.replace(o, calibrate=0.5)
    memo.screened(cache, stricter, again, pairs, lambda: compute(again, stricter))
    assert len(calls) == 2
