"""The template scope table (compiler/scopes.py) is the one answer to "what can this template read":
the checker's facts about a variant equal the facts read back from the IR the runtime executes, and
every template field of the schema names a site of the table."""

from __future__ import annotations

import glob
import os
from dataclasses import replace

import pytest

from conftest import ROOT
from synthc.compiler.check import check
from synthc.compiler.diagnostics import Sink
from synthc.compiler.lower import lower
from synthc.compiler.resolve import load, resolve
from synthc.compiler.schema import SCHEMAS
from synthc.compiler.scopes import SITES, TEMPLATE_FIELDS, Context, RowShape, context_of, shape, visible
from synthc.compiler.source import SourceMap

RECIPES = sorted(glob.glob(os.path.join(ROOT, "specs", "*.synth")) + glob.glob(os.path.join(ROOT, "examples", "*.synth")))


def test_every_template_field_names_a_site() -> None:
    declared = {(k, f.name) for k, s in SCHEMAS.items() if k != "variant" for f in s.fields if f.type.kind == "template"}
    assert {(k, f) for k, f, _ in TEMPLATE_FIELDS} == declared
    assert {site for _, _, site in TEMPLATE_FIELDS} <= set(SITES)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: os.path.relpath(p, ROOT))
def test_checker_and_ir_agree_on_every_variant(path: str) -> None:
    sources, sink = SourceMap(), Sink()
    checked = check(resolve(load(path, sources, sink), sources, sink), sink)
    assert not sink.has_errors
    program = lower(checked)
    by_variant = {(u.task, u.variant): u.context for u in checked.templates}
    assert by_variant, "every recipe has a prompt"
    for v in program.variants():
        ours = by_variant[(v.task, v.name)]
        assert replace(ours, params=tuple(sorted(ours.params))) == context_of(v, program), v.id  # IR sorts params


def test_a_scope_follows_the_variant() -> None:
    ctx = Context(params=("n",), classification=False, seeds=RowShape(label=False, fields=("title",)),
                  persona=("tags",), output=("answer", "summary"))
    prompt = shape(visible("prompt", ctx))
    assert list(prompt) == ["param", "variant", "seed", "persona"]
    assert prompt["seed"] == {"id": "leaf", "text": "leaf", "title": "any"}
    assert prompt["persona"] == {"tags": "any", "user": "leaf"}
    pairs = shape(visible("pairs", ctx))
    assert pairs["output"] == {"answer": "any", "summary": "any"}
    assert "demos" not in shape(visible("pairs", Context(fewshot=True)))
    assert shape(visible("query", Context()))["seed"] == {}  # no seed source: no columns known


def test_every_template_variable_is_documented() -> None:
    with open(os.path.join(ROOT, "docs", "language.md"), encoding="utf-8") as fh:
        doc = fh.read()
    names = {v.name for site in SITES.values() for v in site.vars if not v.spread}
    assert sorted(n for n in names if f"| `{n}` |" not in doc) == []
