"""`extends`: a variant written as a one-line twin lowers to exactly the variant written out in
full (tests/extends/chained.synth vs spelled.synth), and its merge rules hold."""

from __future__ import annotations

import os

from conftest import ROOT
from synthc.compiler import compile_text, run_stages
from synthc.compiler.source import NO_SPAN

HERE = os.path.join(ROOT, "tests", "extends")


def _variants(name: str) -> dict:
    stages = run_stages(os.path.join(HERE, name))
    assert [d for d in stages.diagnostics if d.severity.value == "error"] == []
    assert stages.program is not None and stages.plan is not None
    return {v.name: v for v in stages.program.variants()}, stages.plan


def test_extends_lowers_to_the_spelled_out_variant() -> None:
    chained, chained_plan = _variants("chained.synth")
    spelled, spelled_plan = _variants("spelled.synth")
    assert list(chained) == list(spelled) == ["base", "twin", "grandchild", "plain"]
    for name in chained:
        assert chained[name] == spelled[name], name
    # The plan too: same nodes, same edges, same steps (shared retrieval included).
    assert sorted(chained_plan.graph.nodes) == sorted(spelled_plan.graph.nodes)
    assert sorted(chained_plan.graph.edges) == sorted(spelled_plan.graph.edges)


def test_what_a_child_inherits_and_overrides() -> None:
    v, _ = _variants("chained.synth")
    base, twin, grand, plain = v["base"], v["twin"], v["grandchild"], v["plain"]
    # attributes: inherited unless set; `without` unsets optional settings
    assert twin.prompt == base.prompt and twin.system is None and base.system is not None
    assert grand.per_label == 8 and twin.per_label == 4
    # blocks: inherited whole, replaced whole (grandchild's fewshot falls back to the defaults)
    assert twin.vary == base.vary == (("genre", ("drama", "comedy")),)
    assert twin.conversation == base.conversation is not None
    assert twin.fewshot == base.fewshot and grand.fewshot is not None and grand.fewshot.shots == 4
    assert base.filter.words == (5, 150) and twin.filter.words is None and grand.filter.words is None
    # the task's retrieve block stays shared by all who inherit it; `without` removes it
    assert base.retrieve == twin.retrieve is not None and twin.retrieve_shared
    assert plain.retrieve is None and plain.fewshot is None and plain.conversation is None and plain.vary == ()
    # a child's origin is its own block
    assert twin.origin != base.origin and twin.origin != NO_SPAN


_TASK = """
model m {{
  gguf = builtin("smollm2-135m")
}}
labels l {{
  a = "A"
}}
task t {{
  labels    = l
  model     = m
  per_label = 1
  prompt    = "Write {{{{ label }}}}."
{body}
}}
"""


def _codes(body: str) -> list[str]:
    result = compile_text(_TASK.format(body=body))
    return [d.code.id for d in result.diagnostics if d.severity.value == "error"]


def test_order_does_not_matter_and_counts_can_be_swapped() -> None:
    body = """
  variant child {
    extends = parent
    without = [per_label]
    total   = 3
  }
  variant parent {
    prompt = "Say {{ label }}."
  }
"""
    result = compile_text(_TASK.format(body=body))
    assert result.ok, result.diagnostics
    v = {x.name: x for x in result.program.variants()}
    assert v["child"].prompt.text == "Say {{ label }}." and v["child"].total == 3 and v["child"].per_label is None


def test_bad_targets_are_coded() -> None:
    assert _codes("  variant a {\n    extends = \"b\"\n  }\n  variant b {}") == ["E203"]
    assert _codes("  variant a {\n    extends = a\n  }") == ["E221"]
    assert _codes("  variant a {\n    extends = nope\n  }") == ["E220"]
    assert _codes("  variant a {\n    extends = u.b\n  }") == ["E222"]
    assert _codes("  variant a {\n    extends = t.b\n  }\n  variant b {}") == []
