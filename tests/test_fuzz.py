"""The compiler's property, fuzzed for a bounded time in CI (a few tens of seconds): for any text, compile
returns diagnostics or success; never an exception, never E999, never slower than the watchdog's bound.

Inputs come from the grammar (hypothesis's Lark strategy), from the schema table (blocks and fields
that reach the checker, the planner and the template checker), and by mutating every recipe in the
repository. Each runs in a watchdog process (tests/fuzzing.py), so a hang fails the test instead of
stalling it. tests/fuzz_long.py runs the same for longer and reports crashes per 10,000 inputs.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fuzzing import FRAGMENTS, Outcome, Watchdog, corpus, mutate
from synthc.compiler.schema import SCHEMAS, TOP, T

RECIPES = corpus()
ANCHOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz.synth")  # where relative paths resolve

# Bounded: shrinking a long text through a watchdog can take minutes, so failures are reported as found
# (hypothesis keeps them in its database and replays them first on the next run).
def bounded(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def dog() -> Iterator[Watchdog]:
    with Watchdog() as w:
        yield w


def _assert_sound(outcome: Outcome, text: str) -> None:
    assert outcome.kind in ("ok", "diagnostics"), f"{outcome.kind}: {outcome.detail}\ninput: {text[:2000]!r}"


def test_every_recipe_in_the_repository(dog: Watchdog) -> None:
    assert len(RECIPES) > 40
    for path, text in RECIPES:
        _assert_sound(dog.run(text, path), text)


@bounded(400)
@given(index=st.integers(0, len(RECIPES) - 1), seed=st.integers(0, 2**32))
def test_mutated_recipes(dog: Watchdog, index: int, seed: int) -> None:
    path, text = RECIPES[index]
    mutated = mutate(text, random.Random(seed))
    _assert_sound(dog.run(mutated, path), mutated)


def _grammar_texts() -> st.SearchStrategy[str]:
    from hypothesis.extra.lark import from_lark

    from synthc.grammar import parser

    return from_lark(parser(cache=False))


@bounded(80)
@given(text=st.deferred(_grammar_texts))
def test_texts_from_the_grammar(dog: Watchdog, text: str) -> None:
    _assert_sound(dog.run(text, ANCHOR), text)


# -- recipes shaped by the schema table: they get past parsing into names, types, templates, plans --
NAMES = ("a", "b", "writer", "gold", "sentiment", "t", "positive", "seed", "label", "param")
TEMPLATES = ("{{ label }}", "{{ seed.text }}", "{{ doc.text }}", "{{ param.n }}", "{% for d in demos %}{{ d }}{% endfor %}",
             "{{ x.__class__ }}", "{{ (((((((label))))))) }}", "{% include 'x' %}", "{{ label|upper }}", "{{ 1e999 }}")


def _value(kind: T) -> st.SearchStrategy[str]:
    literal = st.one_of(
        st.integers(-3, 2**63 + 3).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.sampled_from(NAMES), st.sampled_from(FRAGMENTS).map(lambda f: '"' + f.replace('"', "") + '"'),
        st.sampled_from(TEMPLATES).map(lambda t: f'"{t}"'),
    )
    if kind.kind == "list":
        return st.lists(literal, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]")
    if kind.kind == "range":
        return st.tuples(st.integers(-5, 100), st.integers(-5, 100)).map(lambda p: f"{p[0]}..{p[1]}")
    if kind.kind in ("gguf", "fieldtype", "derive", "dedupe"):
        return st.sampled_from(('builtin("smollm2-135m")', 'string(words = 10..20)', "label()", 'choice(options = ["a"])',
                                'near(0.9)', 'history_top(column = "x")', '"m.gguf"', "exact"))
    return literal


@st.composite
def _block(draw: st.DrawFn, kind: str, depth: int = 0) -> str:
    schema = SCHEMAS[kind]
    lines = []
    for field in draw(st.lists(st.sampled_from(schema.fields), max_size=6)) if schema.fields else []:
        lines.append(f"  {field.name} = {draw(_value(field.type))}")
    if schema.open_attrs is not None:
        for name in draw(st.lists(st.sampled_from(NAMES), max_size=3)):
            lines.append(f"  {name} = {draw(_value(schema.open_attrs))}")
    if depth < 3:
        for child in draw(st.lists(st.sampled_from(schema.blocks), max_size=3)) if schema.blocks else []:
            if child in SCHEMAS:
                lines.append(draw(_block(child, depth + 1)))
    name = f" {draw(st.sampled_from(NAMES))}" if schema.named else ""
    return f"{kind}{name} {{\n" + "\n".join(lines) + "\n}"


@bounded(150)
@given(blocks=st.lists(st.sampled_from(TOP).flatmap(_block), min_size=1, max_size=6),
       params=st.lists(st.tuples(st.sampled_from(NAMES), st.integers(-1, 2**63)), max_size=2))
def test_recipes_from_the_schema(dog: Watchdog, blocks: list[str], params: list[tuple[str, int]]) -> None:
    text = "\n".join(f"param {n} = {v}" for n, v in params) + "\n" + "\n\n".join(blocks) + "\n"
    _assert_sound(dog.run(text, ANCHOR), text)
