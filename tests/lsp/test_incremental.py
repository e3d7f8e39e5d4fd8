"""The language server's incremental parse gives exactly the compiler's parse: the same syntax tree
with the same spans, and the same diagnostics, for every recipe and diagnostics fixture, and after
edits that reuse cached chunks at moved offsets. Also runs bench/lsp.py in its smoke mode."""

from __future__ import annotations

import dataclasses
import glob
import os
import random
import subprocess
import sys
from typing import Any

import pytest

from conftest import ROOT
from synthc.compiler.diagnostics import Sink
from synthc.compiler.parse import parse
from synthc.compiler.source import SourceFile, Span
from synthc.lsp.incremental import ChunkedParser, chunks

FILES = sorted(glob.glob(os.path.join(ROOT, "specs", "*.synth")) + glob.glob(os.path.join(ROOT, "examples", "**", "*.synth"), recursive=True)
               + glob.glob(os.path.join(ROOT, "tests", "**", "*.synth"), recursive=True))


def _dump(node: Any) -> Any:
    """A node with its spans (AST equality ignores them)."""
    if isinstance(node, Span):
        return (node.file, node.start, node.end)
    if isinstance(node, tuple):
        return tuple(_dump(x) for x in node)
    if dataclasses.is_dataclass(node):
        return (type(node).__name__, *((f.name, _dump(getattr(node, f.name))) for f in dataclasses.fields(node)))
    return node


def _both(text: str, parser: ChunkedParser) -> tuple[Any, Any]:
    source = SourceFile.of("x.synth", text)
    want, got = Sink(), Sink()
    a, b = parse(source, 3, want), parser(source, 3, got)
    return (_dump(a), [_diag(d) for d in want.items]), (_dump(b), [_diag(d) for d in got.items])


def _diag(d: Any) -> tuple[Any, ...]:
    return d.code.id, _dump(d.labels), d.message, d.help or "", d.notes


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_chunked_parse_is_the_parse(path: str) -> None:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    parser = ChunkedParser()
    want, got = _both(text, parser)
    assert got == want
    # Type into the middle of the file: the chunks after it come from the cache, moved.
    middle = len(text) // 2
    for typed in ("x", "xy", "xy{", "xy{\n}"):
        want, got = _both(text[:middle] + typed + text[middle:], parser)
        assert got == want


@pytest.mark.parametrize("path", [p for p in FILES if "/tests/" not in p], ids=lambda p: os.path.relpath(p, ROOT))
def test_random_one_character_edits_parse_the_same(path: str) -> None:
    """Typing breaks the text in every way: the diagnostics of a broken chunk must be the ones the
    compiler's recovery over the whole file gives (seeded, so a failure reproduces)."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    rng = random.Random(path.rsplit("/", 1)[-1])
    parser = ChunkedParser()
    for _ in range(12):
        pos = rng.randrange(len(text))
        typed = rng.choice(["", "{", "}", '"', "=", "\n", "#", ".", "a", "[", '"""', "(", "\\"])
        edited = text[:pos] + typed + text[pos + (0 if typed else 1):]
        want, got = _both(edited, parser)
        assert (got[0], sorted(got[1])) == (want[0], sorted(want[1])), (pos, typed)


def test_chunks_cover_the_text_and_skip_braces_in_strings() -> None:
    text = 'param a = 1\n# note\nmodel m {\n  stop = ["}"]\n  x = """\n}\n"""\n}\n'
    parts = chunks(text)
    assert "".join(text[a:b] for a, b in parts) == text
    assert [text[a:b].split("\n")[0] for a, b in parts] == ["param a = 1", "# note", "model m {"]


def test_bench_smoke() -> None:
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "lsp.py"), "--smoke"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "diagnostics after a 1-char edit" in out.stdout and "completion in {{ seed. }}" in out.stdout
