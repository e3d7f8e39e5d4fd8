"""CLI help shows examples that parse, colours follow the terminal / NO_COLOR conventions, and the
completion scripts complete commands, options, choices, recipes and codes in a real bash."""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import subprocess

import pytest

from conftest import ROOT
from synthc.cli import _parser, main
from synthc.clihelp import EXAMPLES
from synthc.compiler import compile_file
from synthc.compiler.diagnostics import render

ANSI = re.compile(r"\x1b\[[0-9;]*m")
COMMANDS = sorted(next(a for a in _parser()._actions if a.dest == "command").choices)  # type: ignore[union-attr]


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_help_shows_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = _help([command] if command else [], capsys)
    assert "\nexamples:\n" in text and "  $ synthc" in text
    assert not ANSI.search(text)  # captured output is no terminal


def test_every_command_has_examples_and_they_parse() -> None:
    assert set(COMMANDS) <= set(EXAMPLES)
    parser = _parser()
    for command, rows in EXAMPLES.items():
        for cmd, what in rows:
            assert what
            if any(ch in cmd for ch in "<>|"):  # shell plumbing around synthc
                continue
            argv = shlex.split(cmd)
            assert argv[0] == "synthc" and (not command or argv[1] == command), cmd
            parser.parse_args(argv[1:])  # exits (fails the test) on an option that does not exist


def test_colour_on_request_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    coloured = _help(["build"], capsys)
    assert ANSI.search(coloured)
    monkeypatch.setenv("NO_COLOR", "1")
    plain = _help(["build"], capsys)
    assert not ANSI.search(plain) and ANSI.sub("", coloured) == plain


def test_diagnostics_colour_changes_nothing_but_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    result = compile_file(os.path.join(ROOT, "tests", "diagnostics", "E410_input_not_readable.synth"))
    for fmt in ("full", "concise"):
        plain = render(result.diagnostics, result.sources, fmt)
        coloured = render(result.diagnostics, result.sources, fmt, color=True)
        assert ANSI.search(coloured) and ANSI.sub("", coloured) == plain
    assert not ANSI.search(render(result.diagnostics, result.sources, "json", color=True))
    monkeypatch.setenv("FORCE_COLOR", "1")
    err = io.StringIO()
    assert main(["check", "tests/diagnostics/E410_input_not_readable.synth"], io.StringIO(), err) == 1
    assert "\x1b[1;31merror[E410]" in err.getvalue()
    monkeypatch.setenv("NO_COLOR", "")  # set but empty: no-color.org says it must be non-empty to count
    err = io.StringIO()
    main(["check", "tests/diagnostics/E410_input_not_readable.synth"], io.StringIO(), err)
    assert ANSI.search(err.getvalue())


def _script(shell: str) -> str:
    out = io.StringIO()
    assert main(["completion", shell], out, io.StringIO()) == 0
    return out.getvalue()


def _complete(words: str) -> set[str]:
    """What bash completes for the command line `words` (cursor at its end)."""
    line = shlex.split(words) + ([""] if words.endswith(" ") else [])
    arr = " ".join(shlex.quote(w) for w in line)
    prog = (f"{_script('bash')}\nCOMP_WORDS=({arr}); COMP_CWORD={len(line) - 1}; _synthc\n"
            'printf "%s\\n" "${COMPREPLY[@]}"\n')
    out = subprocess.run(["bash", "-c", prog], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_in_a_real_bash() -> None:
    assert "check" in _complete("synthc ch") and "completion" in _complete("synthc co")
    assert _complete("synthc check --fo") == {"--format"}
    assert _complete("synthc check --format ") == {"full", "concise", "json"}
    assert _complete("synthc build x.synth --backend ") == {"llama", "fake"}
    assert _complete("synthc explain E41") == {"E410"}
    assert "examples/quickstart.synth" in _complete("synthc build examples/q")
    assert _complete("synthc init --task ") == {"classification", "qa"}
    assert _complete("synthc completion ") == {"bash", "zsh", "fish"}


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts(shell: str, tmp_path: str) -> None:
    text = _script(shell)
    for command in COMMANDS:
        assert command in text
    if shell == "fish":
        assert "complete -c synthc -n '__fish_seen_subcommand_from check' -l format -x -a 'full concise json'" in text
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed; its script was checked as text")
    path = os.path.join(str(tmp_path), f"synthc.{shell}")
    open(path, "w").write(text)
    subprocess.run([binary, "-n", path], check=True)
