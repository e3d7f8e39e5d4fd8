"""The formatter: canonical and idempotent on every recipe, `parse(fmt(x)) == x` over generated
ASTs, and no input text makes the compiler raise (only coded diagnostics)."""

from __future__ import annotations

import glob
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from synthc.compiler import ast, compile_text
from synthc.compiler.diagnostics import Sink
from synthc.compiler.fmt import fmt
from synthc.compiler.parse import parse
from synthc.compiler.source import SourceFile

RECIPES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.synth")) + glob.glob(os.path.join(ROOT, "specs", "*.synth")))


def _parse(text: str) -> ast.Spec:
    spec = parse(SourceFile.of("x.synth", text), 0, Sink())
    assert spec is not None, text
    return spec


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: os.path.relpath(p, ROOT))
def test_recipes_are_formatted(path: str) -> None:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    assert fmt(_parse(text), SourceFile.of(path, text)) == text


def test_fmt_keeps_comments_and_is_idempotent() -> None:
    text = '# head\n\nparam n = 5 # per label\nmodel m {seed=1\n\n  # sampling\n top_p=0.9}\n'
    once = fmt(_parse(text), SourceFile.of("x", text))
    assert "# head" in once and "# per label" in once and "# sampling" in once
    assert fmt(_parse(once), SourceFile.of("x", once)) == once
    assert _parse(once) == _parse(text)


names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda s: s not in ("true", "false"))
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
numbers = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
leaf = st.one_of(
    st.builds(lambda v: ast.Str(value=v), text),
    st.builds(lambda v: ast.Num(value=v), numbers),
    st.builds(lambda p: ast.Ref(parts=tuple(p)), st.lists(names, min_size=1, max_size=3)),
)
exprs = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(lambda items: ast.ListExpr(items=tuple(items)), st.lists(inner, max_size=4)),
        st.builds(lambda lo, hi: ast.RangeExpr(lo=lo, hi=hi), leaf, leaf),
        st.builds(lambda c, a: ast.Call(callee=ast.Ref(parts=(c,)), args=tuple(a)), names,
                  st.lists(st.builds(lambda n, v: ast.Arg(name=n, value=v), st.one_of(st.none(), names), leaf), max_size=3)),
    ),
    max_leaves=6,
)
attributes = st.builds(lambda k, v: ast.Attribute(key=k, value=v), st.one_of(names, text.filter(bool)), exprs)
blocks = st.recursive(
    st.builds(lambda k, n, items: ast.Block(kind=k, name=n, items=tuple(items)), names, st.one_of(st.none(), names),
              st.lists(attributes, max_size=4)),
    lambda inner: st.builds(lambda k, n, items: ast.Block(kind=k, name=n, items=tuple(items)), names,
                            st.one_of(st.none(), names), st.lists(st.one_of(attributes, inner), max_size=4)),
    max_leaves=5,
)
items = st.one_of(
    blocks,
    st.builds(lambda n, v: ast.Declaration(kind="param", name=n, value=v), names, leaf),
    st.builds(lambda p: ast.Directive(kind="import", arg=ast.Str(value=p)), text),
)


def _normal(e: ast.Expr) -> ast.Expr:
    # A range of ranges does not exist in the grammar; nor does a list literal inside a range.
    return e


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items, max_size=5))
def test_parse_fmt_roundtrip(spec_items: list[ast.Item]) -> None:
    spec = ast.Spec(items=tuple(spec_items))
    printed = fmt(spec)
    assert _parse(printed) == spec, printed
    assert fmt(_parse(printed), SourceFile.of("x", printed)) == printed


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_diagnostics_not_exceptions(source: str) -> None:
    result = compile_text(source)
    assert all(d.code.id != "E999" for d in result.diagnostics)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["model", "m", "{", "}", "=", "\"x\"", "1", "..", "[", "]", ",", "(", ")",
                                 "task", "prompt", "\"{{ x }}\"", "labels", "#c\n", "\n", "param", "import"]),
                max_size=40))
def test_token_soup_gives_diagnostics_not_exceptions(tokens: list[str]) -> None:
    result = compile_text(" ".join(tokens))
    assert all(d.code.id != "E999" for d in result.diagnostics)
