"""Compile-time benchmark: a generated ~2,000-line spec through `synthc check` (parse, resolve,
check with template scopes, lower, plan) against the bare Lark parse of the same text.

    python bench/compile.py [LINES] [REPEAT]    # goal: check <= 0.5 s at 2,000 lines
"""

from __future__ import annotations

import statistics
import sys
import time

from synthc.compiler import compile_text
from synthc.grammar import parser

BLOCK = '''
labels set_{i} {{
  positive = "what the reviewer liked about movie {i}"
  negative = "what the reviewer disliked about movie {i}"
}}

source src_{i} {{
  path   = "data/train_{i}.jsonl"
  label  = "label"
  fields = ["title"]
}}

task task_{i} {{
  labels    = set_{i}
  model     = writer
  seeds     = src_{i}
  per_label = 10

  vary {{
    genre = ["drama", "comedy", "horror"]
  }}

  prompt = """
    {{{{ demos }}}}
    Write a {{{{ genre }}}} review about {{{{ verbalization }}}} like {{{{ seed.title }}}}.
  """

  fewshot {{
    shots = 3
    demo  = "Review: {{{{ example.text }}}}"
  }}

  filter {{
    dedupe = near(0.9)
  }}

  variant zero {{}}
  variant one {{
    seed = {i}
  }}
}}
'''


def spec(lines: int) -> str:
    head = 'model writer {\n  gguf = builtin("smollm2-135m")\n}\n'
    parts = [head]
    i = 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.append(BLOCK.format(i=i))
        i += 1
    return "".join(parts)


def best(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)  # type: ignore[return-value]


def main() -> int:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    text = spec(lines)
    n_lines = text.count("\n")
    parser()  # build the LALR tables once, as a long-lived process or a warm CLI would
    result = compile_text(text, "bench.synth")
    assert result.ok, result.diagnostics[:3]
    lark_best, lark_med = best(lambda: parser().parse(text), repeat)
    check_best, check_med = best(lambda: compile_text(text, "bench.synth"), repeat)
    print(f"spec: {n_lines} lines, {len(result.program.tasks)} tasks, {result.plan.graph.number_of_nodes()} plan nodes")
    print(f"bare lark parse : best {lark_best:.3f} s, median {lark_med:.3f} s")
    print(f"synthc check    : best {check_best:.3f} s, median {check_med:.3f} s  (goal <= 0.5 s)")
    print(f"ratio check/parse: {check_best / lark_best:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
