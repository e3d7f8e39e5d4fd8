"""`.pre-commit-hooks.yaml` parses as pre-commit reads it, and each hook's entry is a real synthc
command line: run exactly as pre-commit would (entry + the staged file names) it passes on the
repository's recipes and fails on a broken or unformatted one."""

from __future__ import annotations

import glob
import io
import os
import shlex
import shutil

import pytest
import yaml

from conftest import ROOT
from synthc.cli import main

HOOKS = os.path.join(ROOT, ".pre-commit-hooks.yaml")


def hooks() -> dict[str, dict[str, object]]:
    with open(HOOKS, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, list)
    return {h["id"]: h for h in data}


def run_hook(hook: dict[str, object], files: list[str]) -> tuple[int, str]:
    argv = shlex.split(str(hook["entry"]))
    assert argv[0] == "synthc"  # the console script pyproject.toml installs
    out, err = io.StringIO(), io.StringIO()
    code = main(argv[1:] + files, out, err)
    return code, out.getvalue() + err.getvalue()


def test_hooks_have_what_pre_commit_requires() -> None:
    found = hooks()
    assert set(found) == {"synthc-fmt", "synthc-check"}
    for h in found.values():
        assert {"id", "name", "entry", "language"} <= set(h)
        assert h["language"] == "python" and h["files"] == r"\.synth$"
    assert shlex.split(str(found["synthc-fmt"]["entry"]))[:3] == ["synthc", "fmt", "--check"]
    assert shlex.split(str(found["synthc-check"]["entry"]))[:2] == ["synthc", "check"]


@pytest.fixture
def _cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.usefixtures("_cwd")
def test_hooks_pass_on_the_repository_recipes() -> None:
    files = sorted(glob.glob("examples/*.synth") + glob.glob("specs/*.synth"))
    for hook in hooks().values():
        code, text = run_hook(hook, files)
        assert code == 0, text


def test_hooks_fail_on_bad_recipes(tmp_path: str) -> None:
    ugly = os.path.join(tmp_path, "ugly.synth")
    with open(ugly, "w", encoding="utf-8") as fh:
        fh.write("param n = 1\nparam m=2\n")
    broken = os.path.join(tmp_path, "broken.synth")
    shutil.copy(os.path.join(ROOT, "tests", "diagnostics", "E101_undefined_reference.synth"), broken)
    code, text = run_hook(hooks()["synthc-fmt"], [ugly])
    assert code == 1 and f"would reformat {ugly}" in text
    code, text = run_hook(hooks()["synthc-check"], [ugly, broken])
    assert code == 1 and "error[E101]" in text and f"ok: {ugly}" in text


def _fenced(path: str, lang: str) -> list[str]:
    import re

    with open(path, encoding="utf-8") as fh:
        return re.findall(rf"```{lang}\n(.*?)```", fh.read(), re.S)


def test_editor_docs_snippets_name_real_commands() -> None:
    """docs/editors.md: the Helix config parses and runs `synthc lsp` / `synthc fmt -`; the
    pre-commit snippets parse and their hooks match the shipped ones."""
    import tomllib

    doc = os.path.join(ROOT, "docs", "editors.md")
    (helix,) = _fenced(doc, "toml")
    conf = tomllib.loads(helix)
    server = conf["language-server"]["synthc"]
    assert server["command"] == "synthc" and server["args"] == ["lsp"]
    fmt = conf["language"][0]["formatter"]
    assert fmt["command"] == "synthc" and fmt["args"] == ["fmt", "-"]
    remote, local = (yaml.safe_load(s) for s in _fenced(doc, "yaml"))
    assert {h["id"] for h in remote["repos"][0]["hooks"]} == set(hooks())
    for h in local["repos"][0]["hooks"]:
        assert h["entry"] == hooks()[h["id"]]["entry"] and h["files"] == hooks()[h["id"]]["files"]
