"""No text crashes or hangs the compiler, and no template escapes the sandbox or its limits.

Regression cases for every crash class fuzzing found (deep nesting of blocks, lists, calls and Jinja
brackets; huge numbers; very long lines; oversized files), and the hostile-template payloads in
tests/robustness/template_payloads.txt, each rejected at compile time or stopped at render time
with its code.
"""

from __future__ import annotations

import os
import time

import pytest

from conftest import ROOT
from synthc.compiler import compile_text
from synthc.compiler.limits import MAX_SOURCE_CHARS
from synthc.runtime import RunFailed
from synthc.runtime.prompting.render import render_template

PAYLOADS = os.path.join(ROOT, "tests", "robustness", "template_payloads.txt")

RECIPE = '''model writer {
  gguf = builtin("smollm2-135m")
}

labels sentiment {
  positive = "positive"
}

task t {
  labels    = sentiment
  model     = writer
  per_label = 1
  prompt    = """PROMPT"""
}
'''

# (name, text, the codes expected): the crash classes of issue 15, at sizes past every limit.
CRASH_CLASSES = [
    ("deep blocks", "a {" * 5000 + "}" * 5000, {"E012"}),
    ("deep blocks, unclosed", "a {" * 5000, {"E012"}),
    ("deep lists", "param x = " + "[" * 3000 + "]" * 3000, {"E012"}),
    ("deep calls", "param x = " + "f(" * 3000 + ")" * 3000, {"E012"}),
    ("deep parentheses in a call", "param x = f" + "(" * 40 + ")" * 40, {"E012"}),
    ("brackets inside strings do not count", 'param x = "' + "[" * 5000 + '"', set()),
    ("brackets inside comments do not count", "# " + "{" * 5000 + "\nparam x = 1", set()),
    ("5000-digit integer", "param n = " + "9" * 5000, {"E014"}),
    ("100,000-digit integer", "param n = " + "9" * 100_000, {"E014"}),
    ("integer past 64 bits", "param n = 9223372036854775808", {"E014"}),
    ("float overflow", "param n = 1e999", {"E014"}),
    ("long fraction", "param n = 0." + "1" * 100_000, {"E014"}),
    ("float of a huge integer", RECIPE.replace("per_label = 1", "per_label = 1\n  temperature = " + "9" * 400), {"E014"}),
    ("200,000-character string", 'param s = "' + "a" * 200_000 + '"', set()),
    ("200,000-character name", "a" * 200_000 + " = 1", {"E201"}),
    ("100,000 escapes", 'param s = "' + "\\n" * 100_000 + '"', set()),
    ("unterminated 200,000 characters", 'param s = "' + "a" * 200_000, {"E004"}),
    ("file over the size limit", "# " + "x" * MAX_SOURCE_CHARS, {"E013"}),
    ("many syntax errors in a large file", ("x = = 1\n" * 4000) + "param n = 1\n" * 10_000, {"E001"}),
    ("Jinja parentheses", RECIPE.replace("PROMPT", "{{ " + "(" * 500 + "label" + ")" * 500 + " }}"), {"E012"}),
    ("Jinja `not` chain", RECIPE.replace("PROMPT", "{{ " + "not " * 3000 + "label }}"), {"E012"}),
    ("Jinja nested ifs", RECIPE.replace("PROMPT", "{% if label %}" * 400 + "{% endif %}" * 400), {"E012"}),
    ("Jinja attribute chain", RECIPE.replace("PROMPT", "{{ label" + ".a" * 3000 + " }}"), {"E012"}),
    ("Jinja operator chain", RECIPE.replace("PROMPT", "{{ label" + " + label" * 3000 + " }}"), {"E012"}),
    ("Jinja `~` chain is flat", RECIPE.replace("PROMPT", "{{ label" + " ~ label" * 3000 + " }}"), set()),
    ("Jinja filter chain", RECIPE.replace("PROMPT", "{{ label" + "|upper" * 3000 + " }}"), {"E012"}),
    ("Jinja 5000-digit integer", RECIPE.replace("PROMPT", "{{ " + "9" * 5000 + " }}"), {"E014"}),
    ("a 100,000-character block kind (did-you-mean was quadratic)", "mod" + "9" * 100_000 + "el writer {\n}", {"E205"}),
    ("a 100,000-character reference", RECIPE.replace("model     = writer", "model     = w" + "r" * 100_000), {"E101"}),
    ("100,000 tokens in one reference", RECIPE.replace("model     = writer", "model     = w" + "x." * 100_000 + "x"), {"E013"}),
    ("a 100,000-attribute template", RECIPE.replace("PROMPT", "{{ label" + ".x" * 100_000 + " }}"), {"E013"}),
    ("a regex nested 200 deep", RECIPE.replace("per_label = 1", "per_label = 1\n  output {\n    code = regex(\""
                                               + "(" * 200 + "a" + ")" * 200 + "\")\n  }"), {"E214"}),
    ("a NUL byte in an import path", 'import "common.syn\x00th"', {"E321"}),
    ("a NUL byte in a data path", RECIPE.replace("per_label = 1", "per_label = 1\n  seeds = gold") +
     'source gold {\n  path = "a\x00b.jsonl"\n  label = "label"\n}\n', {"E321"}),
    ("a surrogate escape", 'param s = "\\ud800"', {"E005"}),
]


@pytest.mark.parametrize("name,text,codes", CRASH_CLASSES, ids=[c[0] for c in CRASH_CLASSES])
def test_crash_class_is_a_diagnostic(name: str, text: str, codes: set[str]) -> None:
    start = time.monotonic()
    result = compile_text(text, os.path.join(ROOT, "tests", "robustness", "case.synth"))
    errors = {d.code.id for d in result.diagnostics if d.severity.value == "error"}
    assert "E999" not in errors
    assert errors == codes, [d.message for d in result.diagnostics]
    assert time.monotonic() - start < 60  # a hang guard, not a benchmark


def _payloads() -> list[tuple[str, str]]:
    out = []
    with open(PAYLOADS, encoding="utf-8") as fh:
        for line in fh:
            if line.strip() and not line.startswith("#"):
                expected, payload = line.rstrip("\n").split("\t", 1)
                out.append((expected, payload))
    return out


@pytest.mark.parametrize("expected,payload", _payloads(), ids=[p for _, p in _payloads()])
def test_template_payload(expected: str, payload: str) -> None:
    result = compile_text(RECIPE.replace("PROMPT", payload), os.path.join(ROOT, "tests", "robustness", "case.synth"))
    errors = [d.code.id for d in result.diagnostics if d.severity.value == "error"]
    if not expected.startswith("render:") and expected != "ok":
        assert errors and set(errors) == {expected}, [d.message for d in result.diagnostics]
        return
    assert errors == [], [d.message for d in result.diagnostics]  # `synthc check` says ok …
    assert result.program is not None
    prompt = result.program.tasks[0].variants[0].prompt
    scope = {"label": "positive", "verbalization": "positive", "param": {}}
    if expected == "ok":
        render_template(prompt, scope)
        return
    with pytest.raises(RunFailed) as info:  # … and the build stops with a code, never E999 or a hang
        render_template(prompt, scope)
    assert [d.code.id for d in info.value.diagnostics] == [expected.split(":")[1]]
