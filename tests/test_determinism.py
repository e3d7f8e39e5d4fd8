"""The compiled plan does not depend on declaration order or on the run."""

from __future__ import annotations

import os
import random

import pytest

from conftest import ROOT
from synthc.compiler import compile_text
from synthc.compiler.diagnostics import Sink
from synthc.compiler.dump import ir_json, plan_json
from synthc.compiler.fmt import fmt
from synthc.compiler import ast
from synthc.compiler.parse import parse
from synthc.compiler.source import SourceFile

SPECS = ["specs/synthesizrr_ag_news.synth", "specs/li2023_imdb.synth", "specs/sysepqa_stackexchange.synth",
         "examples/quickstart.synth"]


@pytest.mark.parametrize("rel", SPECS)
def test_shuffled_declarations_give_identical_plan(rel: str) -> None:
    path = os.path.join(ROOT, rel)
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    base = compile_text(text, path)
    assert base.plan is not None and base.program is not None
    spec = parse(SourceFile.of(path, text), 0, Sink())
    assert spec is not None
    for seed in range(3):
        items = list(spec.items)
        random.Random(seed).shuffle(items)
        shuffled = fmt(ast.Spec(items=tuple(items)))
        other = compile_text(shuffled, path)
        assert other.plan is not None and other.program is not None
        assert plan_json(other.plan) == plan_json(base.plan)
        assert ir_json(other.program) == ir_json(base.program)
