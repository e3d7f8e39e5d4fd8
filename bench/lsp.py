"""Language-server latency on a generated ~2,000-line recipe (the spec of bench/compile.py):

- diagnostics after a one-character edit (typing in a prompt in the middle of the file): the
  server's analysis (incremental parse, resolve, check, lower, plan) plus the LSP conversion,
  interleaved with `synthc check` of the same text (compile_text: a whole parse) for the ratio;
- diagnostics after a one-character edit that breaks the syntax (the state of most keystrokes);
- completion inside a prompt's `{{ seed. }}` and of a block's attributes.

    python bench/lsp.py            # goals: diagnostics <= 100 ms, completion <= 50 ms
    python bench/lsp.py --smoke    # a 200-line recipe, a few rounds (run by the tests)
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compile import spec  # noqa: E402  (bench/compile.py: the same generated recipe)

from synthc.compiler import compile_text  # noqa: E402
from synthc.lsp.complete import complete  # noqa: E402
from synthc.lsp.diagnostics import to_lsp  # noqa: E402
from synthc.lsp.workspace import Workspace  # noqa: E402


def _ms(seconds: list[float]) -> str:
    return f"median {1000 * statistics.median(seconds):.1f} ms, best {1000 * min(seconds):.1f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="a small recipe and few rounds (for the tests)")
    args = ap.parse_args(argv)
    lines, rounds = (200, 3) if args.smoke else (2000, 15)
    text = spec(lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.synth")
        # The data files the recipe names exist (empty): the server checks that they do (E410).
        os.makedirs(os.path.join(tmp, "data"))
        for name in sorted(set(re.findall(r'"(data/[^"]+)"', text))):
            open(os.path.join(tmp, name), "w").close()
        ws = Workspace()
        ws.docs[path] = text
        first = ws.analyse(path)
        assert first.stages.plan is not None, first.stages.diagnostics[:3]
        # Type into the prompt of the middle task, one character per round.
        anchor = text.index("Write a", len(text) // 2) + len("Write a")
        edit, full = [], []
        for i in range(rounds):
            typed = text[:anchor] + "x" * (i + 1) + text[anchor:]
            ws.docs[path] = typed
            t = time.perf_counter()
            a = ws.analyse(path)
            found = to_lsp(a)
            edit.append(time.perf_counter() - t)
            assert found == [], found[:3]
            t = time.perf_counter()
            compile_text(typed, path)
            full.append(time.perf_counter() - t)
        # A keystroke that breaks the syntax (a stray `=` on its own line in the middle task).
        broken_at = text.index("  per_label = 10\n", anchor)
        broken = []
        for i in range(rounds):
            typed = text[:broken_at] + "=" * (i + 1) + "\n" + text[broken_at:]
            ws.docs[path] = typed
            t = time.perf_counter()
            found = to_lsp(ws.analyse(path))
            broken.append(time.perf_counter() - t)
            assert found and str(found[0].code).startswith("E0"), found[:1]
        ws.docs[path] = text[:anchor] + "x" * rounds + text[anchor:]
        ws.analyse(path)
        checked = ws.checked[path]
        current = ws.docs[path]
        in_prompt = current.index("{{ seed.title }}", anchor) + len("{{ seed.")
        in_block = current.index("  per_label = 10\n", anchor) + len("  per_label = 10\n")
        scope_t, attr_t = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            fields = complete(current, in_prompt, checked)
            scope_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            attrs = complete(current, in_block, checked)
            attr_t.append(time.perf_counter() - t)
        assert [i.label for i in fields] == ["id", "text", "label", "title"], [i.label for i in fields]
        assert "prompt" in [i.label for i in attrs]
    print(f"recipe: {text.count(chr(10))} lines, {len(checked.stages.program.tasks)} tasks")  # type: ignore[union-attr]
    print(f"diagnostics after a 1-char edit: {_ms(edit)}  (goal <= 100 ms)")
    print(f"diagnostics after a 1-char edit that breaks the syntax: {_ms(broken)}  (goal <= 100 ms)")
    print(f"synthc check of the same text (whole parse, warm process): {_ms(full)}")
    print(f"ratio synthc check / incremental: {statistics.median(full) / statistics.median(edit):.1f}x")
    print(f"completion in {{{{ seed. }}}}: {_ms(scope_t)}  (goal <= 50 ms)")
    print(f"completion of attributes: {_ms(attr_t)}  (goal <= 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
