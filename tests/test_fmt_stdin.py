"""`synthc fmt -` (standard input to standard output, for an editor's format-on-save) and
`synthc fmt --diff` (a unified diff of what would change), in-process and as a real process."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from synthc.cli import main

MESSY = 'model m {gguf=builtin("smollm2-135m") seed=1}\n'
CANON = 'model m {\n  gguf = builtin("smollm2-135m")\n  seed = 1\n}\n'


def run(argv: list[str], stdin: str = "", monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if monkeypatch is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv, out, err), out.getvalue(), err.getvalue()


def test_stdin_to_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(["fmt", "-"], MESSY, monkeypatch) == (0, CANON, "")
    assert run(["fmt", "-"], CANON, monkeypatch) == (0, CANON, "")  # formatted text comes back whole


def test_stdin_syntax_error_writes_nothing_to_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(["fmt", "-", "--stdin-filename", "recipes/a.synth", "--format", "concise"],
                         "model m {seed = 1 $}\n", monkeypatch)
    assert code == 1 and out == ""
    assert "recipes/a.synth:1:19: error[E002]" in err


def test_stdin_check_and_diff(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(["fmt", "-", "--check"], MESSY, monkeypatch)
    assert (code, out) == (1, "") and "would reformat <stdin>" in err
    code, out, _ = run(["fmt", "-", "--diff", "--stdin-filename", "a.synth"], MESSY, monkeypatch)
    assert code == 1
    assert out.splitlines()[:3] == ["--- a.synth (original)", "+++ a.synth (formatted)", "@@ -1 +1,4 @@"]
    assert '-model m {gguf=builtin("smollm2-135m") seed=1}' in out and "+  seed = 1" in out
    assert run(["fmt", "-", "--diff"], CANON, monkeypatch) == (0, "", "")


def test_diff_on_files_writes_nothing(tmp_path: str) -> None:
    messy, clean = os.path.join(tmp_path, "messy.synth"), os.path.join(tmp_path, "clean.synth")
    for path, text in ((messy, MESSY), (clean, CANON)):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    code, out, _ = run(["fmt", "--diff", messy, clean])
    assert code == 1 and out.startswith(f"--- {messy} (original)\n+++ {messy} (formatted)\n")
    assert clean not in out
    with open(messy, encoding="utf-8") as fh:
        assert fh.read() == MESSY


def test_diff_marks_a_missing_final_newline(monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = run(["fmt", "-", "--diff"], MESSY.rstrip("\n"), monkeypatch)
    assert "\\ No newline at end of file\n" in out
    assert all(line.endswith("\n") for line in out.splitlines(keepends=True))


def test_a_real_process_reads_stdin() -> None:
    """What an editor does: pipe the buffer in, take stdout back."""
    proc = subprocess.run([sys.executable, "-m", "synthc", "fmt", "-"], input=MESSY, text=True,
                          capture_output=True, cwd=ROOT, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, CANON, "")
