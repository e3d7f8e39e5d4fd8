"""Fuzzing the compiler: inputs from the grammar, from the schema table and by mutating every recipe
in the repository, each compiled in a watchdog process so that a hang is a failure, not a stuck run.

Used by tests/test_fuzz.py (a bounded hypothesis property in CI) and tests/fuzz_long.py (a longer
run that reports crashes per 10,000 inputs). The property: compiling any text returns diagnostics
or success; never an exception, never E999, never longer than the per-input time bound.
"""

from __future__ import annotations

import glob
import multiprocessing
import os
import random
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A half-typed keystroke must come back in far less than this on a loaded 2-core CI machine.
TIME_BOUND_S = 10.0


def corpus() -> list[tuple[str, str]]:
    """(path, text) of every recipe in the repository: specs, examples, test fixtures."""
    paths = sorted(set(glob.glob(os.path.join(ROOT, "**", "*.synth"), recursive=True)))
    out = []
    for p in paths:
        if f"{os.sep}.venv{os.sep}" in p or f"{os.sep}.git{os.sep}" in p:
            continue
        with open(p, encoding="utf-8") as fh:
            out.append((p, fh.read()))
    return out


# -- mutation ------------------------------------------------------------------------------------
# Fragments a person (or a language server replaying keystrokes) produces: the language's own
# punctuation, Jinja syntax, numbers at and past every limit, hostile template and path payloads.
FRAGMENTS = (
    "{", "}", "[", "]", "(", ")", "=", ",", ".", "..", '"', '"""', "#", "\n", " ", "\t", "\\",
    "{{", "}}", "{%", "%}", "{#", "#}", "{{ (", ") }}", "|", "~", "*", "**",
    "0", "-1", "1e309", "-1e309", "9" * 400, "9" * 5000, "1." + "5" * 400, "1e99999", "0.0000001",
    "x", "label", "seed.text", "doc", "param", "import", "task", "model", "source", "labels",
    '{{ "x" * 10**9 }}', "{{ x.__class__ }}", "{{ ''.__class__.mro() }}", "{% include 'a' %}",
    "{% extends 'a' %}", "{% import 'a' as b %}", "{{ range(10**9) }}", "{{ lipsum(10**6) }}",
    '"/etc/passwd"', '"/dev/zero"', '"/dev/stdin"', '"../../../../etc/hosts"', '"."',
    "é", "\u200b", "\x00", "\ufeff", "\r\n",
)


def mutate(text: str, rng: random.Random) -> str:
    """One to three edits: insert, delete, duplicate (nesting), swap, repeat a fragment."""
    for _ in range(rng.randint(1, 3)):
        text = rng.choice(_MUTATORS)(text, rng)
    return text


def _pos(text: str, rng: random.Random) -> int:
    return rng.randint(0, len(text))


def _insert(text: str, rng: random.Random) -> str:
    i = _pos(text, rng)
    return text[:i] + rng.choice(FRAGMENTS) + text[i:]


def _delete(text: str, rng: random.Random) -> str:
    i = _pos(text, rng)
    return text[:i] + text[i + rng.randint(1, 40):]


def _duplicate(text: str, rng: random.Random) -> str:
    i = _pos(text, rng)
    j = min(len(text), i + rng.randint(1, 200))
    return text[:j] + text[i:j] * rng.randint(1, 3) + text[j:]


def _swap_lines(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    if len(lines) > 1:
        a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[a], lines[b] = lines[b], lines[a]
    return "\n".join(lines)


def _nest(text: str, rng: random.Random) -> str:
    """Deep nesting of blocks, lists, calls or Jinja parentheses (the RecursionError class)."""
    n = rng.choice((10, 50, 200, 1000, 5000))
    opener, closer = rng.choice((("a {", "}"), ("[", "]"), ("f(", ")"), ("{{ " + "(" * 0, " }}")))
    if opener.startswith("{{"):
        inner = "{{ " + "(" * n + "x" + ")" * n + " }}"
        i = text.find('"', _pos(text, rng))
        return text if i < 0 else text[: i + 1] + inner + text[i + 1 :]
    i = _pos(text, rng)
    return text[:i] + opener * n + closer * rng.choice((n, n // 2, 0)) + text[i:]


def _long_line(text: str, rng: random.Random) -> str:
    i = _pos(text, rng)
    unit = rng.choice(("a", "9", "x.", '"', "\\n", " ", "#", "{{", "é"))
    return text[:i] + unit * rng.choice((1000, 20000, 100000)) + text[i:]


def _retoken(text: str, rng: random.Random) -> str:
    """Replace one number or string literal by a fragment (keeps the structure, changes a value)."""
    import re

    spots = [m.span() for m in re.finditer(r'-?\d+(\.\d+)?|"[^"\n]*"', text)]
    if not spots:
        return _insert(text, rng)
    a, b = rng.choice(spots)
    return text[:a] + rng.choice(FRAGMENTS) + text[b:]


_MUTATORS = (_insert, _insert, _delete, _duplicate, _swap_lines, _nest, _long_line, _retoken, _retoken)


# -- the watchdog ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    kind: str  # "ok" | "diagnostics" | "e999" | "exception" | "hang"
    detail: str = ""


def compile_outcome(text: str, path: str) -> Outcome:
    """Compile in this process; classify the result (the worker's body)."""
    from synthc.compiler import compile_text
    from synthc.compiler.diagnostics import render_concise, render_full

    try:
        result = compile_text(text, path)
        render_full(result.diagnostics, result.sources)  # rendering must not crash either
        render_concise(result.diagnostics, result.sources)
    except BaseException:  # noqa: BLE001 - the property: nothing escapes
        return Outcome("exception", traceback.format_exc(limit=-6))
    internal = [d.message for d in result.diagnostics if d.code.id == "E999"]
    if internal:
        return Outcome("e999", internal[0])
    return Outcome("ok" if result.ok else "diagnostics")


def _serve(conn: Connection) -> None:
    import resource

    # A runaway input (memory exhaustion) kills the worker, which the parent reports, not the machine.
    # The bound is 2 GiB on top of what the worker already maps: forked from a test process that has
    # imported torch or ray, it starts with several GiB of address space.
    with open("/proc/self/statm") as fh:
        mapped = int(fh.read().split()[0]) * resource.getpagesize()
    limit = mapped + (2 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            item = conn.recv()
        except EOFError:
            return
        if item is None:
            return
        conn.send(compile_outcome(*item))


class Watchdog:
    """One worker process compiling inputs; an input that takes longer than `bound` seconds is a
    hang: the worker is killed and replaced."""

    def __init__(self, bound: float = TIME_BOUND_S) -> None:
        self.bound = bound
        self._ctx = multiprocessing.get_context("fork")
        self._start()

    def _start(self) -> None:
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(child,), daemon=True)
        self._proc.start()
        child.close()

    def run(self, text: str, path: str) -> Outcome:
        try:
            self._conn.send((text, path))
            if self._conn.poll(self.bound):
                result: Outcome = self._conn.recv()
                return result
            kind, detail = "hang", f"no answer within {self.bound:.0f} s"
        except (EOFError, BrokenPipeError, ConnectionResetError):
            kind, detail = "exception", f"the worker died (exit code {self._proc.exitcode}); memory exhausted?"
        self._proc.kill()
        self._proc.join()
        self._start()
        return Outcome(kind, detail)

    def close(self) -> None:
        try:
            self._conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()

    def __enter__(self) -> Watchdog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
