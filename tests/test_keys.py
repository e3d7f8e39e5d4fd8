"""One home per identity: node ids (compiler/plan.py), IR -> data (compiler/dump.py), the key of
every stored artifact (runtime/store/keys.py), and the typed build state (runtime/steps/state.py)."""

from __future__ import annotations

import dataclasses
import glob
import os
import typing
from collections import Counter

import pytest

from synthc.compiler import compile_file, ir
from synthc.compiler.dump import to_data
from synthc.compiler.plan import Target, node_kind, variant_node
from synthc.compiler.source import Span
from synthc.runtime.backends.base import Constraint, Request
from synthc.runtime.store import keys
from synthc.runtime.steps.state import Efficiency, QuotaReport, VariantState
from synthc_tests_conftest import ROOT

EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.synth")))
# What each node kind's Step.target is (compiler/plan.py: Target).
TARGETS = {"load": (ir.Source, ir.Corpus), "sample": (ir.Source,), "oracle": (ir.Source,), "index": (ir.Retriever,),
           "persona": (ir.Persona,), "export": (ir.Export,), "evaluate": (ir.Evaluate,)}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: os.path.basename(p)[:-6])
def test_node_ids_and_targets_of_every_example(path: str) -> None:
    plan = compile_file(path).plan
    assert plan is not None
    for node in plan.order():
        step = plan.step(node)
        assert node_kind(node) == step.kind
        assert isinstance(step.target, typing.get_args(Target))
        assert isinstance(step.target, TARGETS.get(step.kind, (ir.Variant,))), node
        if step.variant is not None:  # every per-variant node's id comes from the one formatter
            assert node == variant_node(step.kind, step.variant)


def test_generation_keys_do_not_change() -> None:
    """The per-row cache's key of a fixed request, pinned: every committed cache and lock depends on it."""
    r = Request(messages=(("user", "Write a review."),), mode="chat", constraint=Constraint(), max_tokens=64,
                temperature=0.8, top_p=0.95, stop=("\n",), seed=7)
    assert keys.generation_key(r, "llama:abc") == "feb7076bf6f9dd1889504fa8dff3779e29357c058f7d82eec1bdfcd10f1f004e"


def _retriever() -> ir.Retriever:
    program = compile_file(os.path.join(ROOT, "examples", "retrieval.synth")).plan.program
    return program.retrievers[0]


def test_index_key_follows_every_retriever_field_but_its_position() -> None:
    r = _retriever()
    base = keys.index_key(r, "digest", None)
    assert keys.index_key(dataclasses.replace(r, origin=Span(0, 5, 9)), "digest", None) == base
    changed = {"k1": r.k1 + 0.1, "b": r.b / 2, "seed": r.seed + 1, "similarity": "tfidf", "embedder": "other",
               "method": "random", "corpus": "other"}
    for name, value in changed.items():  # a field nobody listed by hand still invalidates the index
        assert keys.index_key(dataclasses.replace(r, **{name: value}), "digest", None) != base, name
    assert keys.index_key(r, "other digest", None) != base
    assert keys.index_key(r, "digest", "minilm onnx") != base


def test_to_data_leaves_out_positions_and_marks_templates_on_request() -> None:
    t = ir.Template(text="Hello {{ seed.text }}", origin=Span(0, 1, 2))
    assert to_data(t) == {"text": "Hello {{ seed.text }}"}
    assert to_data((t,), template=lambda x: x.text.upper()) == ["HELLO {{ SEED.TEXT }}"]
    r = _retriever()
    assert "origin" not in to_data(r) and "name" not in to_data(r, drop=("name",))


def test_variant_state_records_once_and_reads_typed() -> None:
    s = VariantState()
    s.drop("pos", "words")
    s.drop(None, "words", 2)
    s.keep(["pos", None, "pos"])
    s.add_unscored(Counter({"fluency.unknown": 0}))
    assert s.dropped == Counter({"words": 3}) and s.dropped_by_label == {"pos": Counter({"words": 1}),
                                                                          "": Counter({"words": 2})}
    assert s.kept == {"pos": 2, "": 1}
    assert s.unscored == Counter({"fluency.unknown": 0})  # present, with its zero: the manifest shows it
    assert s.stats is None and s.tally() is s.tally()
    q = QuotaReport(wanted=4, kept=3, requests=9, surplus=0)
    assert q.data() == {"wanted": 4, "kept": 3, "requests": 9, "met": False, "surplus": 0}
    e = Efficiency(requests=9, kept=3, prompt_tokens=100, rates_from="prior", keep_rate={"pos": 0.5}, rounds={"pos": 2})
    assert list(e.data()) == ["requests", "kept", "prompt_tokens", "requests_per_kept", "prompt_tokens_per_kept",
                              "rates_from", "keep_rate", "rounds"]
    assert (e.requests_per_kept, e.prompt_tokens_per_kept) == (3.0, 33.3)
    assert Efficiency(0, 0, 0, "prior", {}, {}).requests_per_kept is None
