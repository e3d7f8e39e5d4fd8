"""Every example and paper recipe compiles with zero diagnostics; its IR and plan match the
golden dumps (rewrite with --update-golden and review the diff)."""

from __future__ import annotations

import glob
import os

import pytest

from conftest import ROOT, compare_golden
from synthc.compiler import compile_file
from synthc.compiler.dump import ir_json, plan_text

RECIPES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.synth")) + glob.glob(os.path.join(ROOT, "specs", "*.synth")))


def _id(path: str) -> str:
    return os.path.relpath(path, ROOT)


@pytest.mark.parametrize("path", RECIPES, ids=_id)
def test_recipe_compiles_cleanly(path: str, update_golden: bool) -> None:
    result = compile_file(path)
    assert result.diagnostics == []
    assert result.program is not None and result.plan is not None
    stem = _id(path).replace(os.sep, "__")[:-6]
    compare_golden(os.path.join(ROOT, "tests", "golden", stem + ".ir.json"), ir_json(result.program), update_golden)
    compare_golden(os.path.join(ROOT, "tests", "golden", stem + ".plan.txt"), plan_text(result.plan), update_golden)


def test_specs_cover_the_papers() -> None:
    names = {os.path.basename(p) for p in RECIPES}
    assert {"synthesizrr_ag_news.synth", "li2023_imdb.synth", "sysepqa_stackexchange.synth", "quickstart.synth"} <= names


def test_synthesizrr_variants_share_retrieval() -> None:
    result = compile_file(os.path.join(ROOT, "specs", "synthesizrr_ag_news.synth"))
    assert result.plan is not None
    g = result.plan.graph
    consumers = sorted(g.successors("retrieve:ag_news"))
    assert consumers == ["render:ag_news.SynthesizRR_0", "render:ag_news.SynthesizRR_RETRICL_3",
                         "render:ag_news.SynthesizRR_RETRICL_3_completion", "render:ag_news.SynthesizRR_nonRETRICL_32"]
    assert sorted(v.name for v in result.program.task("ag_news").variants) == sorted(
        ["FewGen_0", "FewGen_32", "SynthesizRR_0", "SynthesizRR_RETRICL_3", "SynthesizRR_RETRICL_3_completion",
         "SynthesizRR_nonRETRICL_32"])
