"""The path policy (compiler/paths.py): what a recipe may read and write, checked at compile time at the
path's line and column and again by the runtime before it opens files; and the command line's coded
errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from synthc.cli import main
from synthc.compiler import compile_file
from synthc.compiler.paths import policy_for, project_root
from synthc.runtime import RunFailed, execute

RECIPE = '''model writer {{
  gguf = builtin("smollm2-135m")
}}

labels sentiment {{
  positive = "positive"
}}

source gold {{
  path  = "{source}"
  label = "label"
}}

task t {{
  labels    = sentiment
  model     = writer
  seeds     = gold
  per_label = 1
  prompt    = "Rewrite {{{{ seed.text }}}}"
}}

export out {{
  task = t
  path = "out/t.jsonl"
}}
'''


def _project(tmp: str, source: str = "data/gold.jsonl", settings: str | None = "") -> str:
    os.makedirs(os.path.join(tmp, "data"), exist_ok=True)
    with open(os.path.join(tmp, "data", "gold.jsonl"), "w", encoding="utf-8") as fh:
        fh.write('{"text": "great film", "label": "positive"}\n')
    if settings is not None:
        with open(os.path.join(tmp, "synth.toml"), "w", encoding="utf-8") as fh:
            fh.write(settings)
    path = os.path.join(tmp, "recipe.synth")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(RECIPE.format(source=source))
    return path


def _codes(path: str, allow: tuple[str, ...] = ()) -> list[str]:
    return [d.code.id for d in compile_file(path, allow=allow).diagnostics if d.severity.value == "error"]


def test_project_root_is_synth_toml_then_git_then_the_recipe_folder(tmp_path: str) -> None:
    nested = os.path.join(str(tmp_path), "a", "b")
    os.makedirs(nested)
    recipe = os.path.join(nested, "r.synth")
    root, why = project_root(recipe)
    assert (str(root), why) == (os.path.realpath(nested), "the recipe's own folder") or \
        why == "the root of the git work tree"  # tmp may sit inside a git tree
    os.makedirs(os.path.join(str(tmp_path), "a", ".git"))
    assert str(project_root(recipe)[0]) == os.path.realpath(os.path.join(str(tmp_path), "a"))
    open(os.path.join(nested, "synth.toml"), "w").close()
    root, why = project_root(recipe)
    assert (str(root), why) == (os.path.realpath(nested), "the folder of synth.toml")


def test_inside_the_project_compiles(tmp_path: str) -> None:
    assert _codes(_project(str(tmp_path))) == []


def test_absolute_path_outside_is_e320_and_allow_path_permits_it(tmp_path: str) -> None:
    outside = os.path.join(str(tmp_path), "elsewhere")
    os.makedirs(outside)
    with open(os.path.join(outside, "gold.jsonl"), "w") as fh:
        fh.write('{"text": "x", "label": "positive"}\n')
    recipe = _project(os.path.join(str(tmp_path), "proj"), os.path.join(outside, "gold.jsonl"))
    assert _codes(recipe) == ["E320"]
    assert _codes(recipe, allow=(outside,)) == []


def test_settings_allow_list_is_relative_to_synth_toml(tmp_path: str) -> None:
    outside = os.path.join(str(tmp_path), "corpora")
    os.makedirs(outside)
    with open(os.path.join(outside, "gold.jsonl"), "w") as fh:
        fh.write('{"text": "x", "label": "positive"}\n')
    recipe = _project(os.path.join(str(tmp_path), "proj"), "../corpora/gold.jsonl", '[paths]\nallow = ["../corpora"]\n')
    assert _codes(recipe) == []


def test_symlink_out_of_the_project_is_resolved_before_the_check(tmp_path: str) -> None:
    recipe = _project(str(tmp_path), "data/link.jsonl")
    os.symlink("/etc/passwd", os.path.join(str(tmp_path), "data", "link.jsonl"))
    result = compile_file(recipe)
    [d] = result.diagnostics
    assert d.code.id == "E320" and "resolves to /etc/passwd" in d.labels[0].message


def test_runtime_checks_again_before_opening(tmp_path: str) -> None:
    """A symlink swapped between `synthc check` and the build is refused, and nothing is read."""
    recipe = _project(str(tmp_path), "data/link.jsonl")
    os.symlink("gold.jsonl", os.path.join(str(tmp_path), "data", "link.jsonl"))
    result = compile_file(recipe)
    assert result.plan is not None, result.diagnostics
    os.remove(os.path.join(str(tmp_path), "data", "link.jsonl"))
    os.symlink("/etc/passwd", os.path.join(str(tmp_path), "data", "link.jsonl"))
    with pytest.raises(RunFailed) as info:
        execute(result.plan, result.sources, quiet=True, backend="fake")
    assert [d.code.id for d in info.value.diagnostics] == ["E320"]
    assert not os.path.exists(os.path.join(str(tmp_path), "out"))


@pytest.mark.parametrize("settings,expected", [("[paths\n", "not valid TOML"), ('[paths]\nallow = "data"\n', "a list")])
def test_invalid_synth_toml_is_e322(tmp_path: str, settings: str, expected: str) -> None:
    result = compile_file(_project(str(tmp_path), settings=settings))
    [d] = result.diagnostics
    assert d.code.id == "E322" and expected in d.message


def _cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synthc", *argv], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.PIPE)


@pytest.mark.parametrize("device", ["/dev/stdin", "/dev/zero"])
def test_device_imports_neither_block_nor_fill_memory(tmp_path: str, device: str) -> None:
    recipe = os.path.join(str(tmp_path), "r.synth")
    open(os.path.join(str(tmp_path), "synth.toml"), "w").close()
    with open(recipe, "w") as fh:
        fh.write(f'import "{device}"\n')
    assert "E320" in _cli("check", recipe, "--format", "concise").stderr  # outside the project
    run = _cli("check", recipe, "--format", "concise", "--allow-path", "/")  # allowed, still refused
    assert run.returncode == 1 and "E321" in run.stderr, run.stderr


def test_endless_main_file_is_e013() -> None:
    run = _cli("check", "/dev/zero", "--format", "concise")
    assert run.returncode == 1 and "E013" in run.stderr, run.stderr


def test_data_file_contents_never_echoed_in_help(tmp_path: str) -> None:
    """E508's help lists column names, but never a line of a file that is not a table."""
    recipe = _project(str(tmp_path), "data/passwd.csv")
    with open(os.path.join(str(tmp_path), "data", "passwd.csv"), "w") as fh:
        fh.write("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    result = compile_file(recipe)
    assert result.plan is not None
    with pytest.raises(RunFailed) as info:
        execute(result.plan, result.sources, quiet=True, backend="fake")
    [d] = info.value.diagnostics
    assert d.code.id == "E508" and "root:" not in (d.help or "") and "root:" not in d.message.split(":", 1)[-1]


def run_cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    return main(list(argv), io.StringIO(), err), err.getvalue()


@pytest.mark.parametrize("argv,code", [
    (["check", "examples/quickstart.synth", "--set", "n"], "E701"),
    (["check", "no/such/recipe.synth"], "E702"),
    (["eval", "a.jsonl", "--real", "b.jsonl", "--metrics", "bogus"], "E701"),
    (["eval", "a.jsonl", "--real", "b.jsonl", "--seeds", "0"], "E701"),
    (["fmt", "no/such/recipe.synth"], "E702"),
    (["bogus-command"], "E701"),
    (["check"], "E701"),
    (["build", "examples/quickstart.synth", "--backend", "nope"], "E701"),
    (["explain", "E0000"], "E701"),
    (["build", "examples/quickstart.synth", "--executor", "ray", "--workers", "0"], "E701"),  # refused before Ray
    (["build", "examples/quickstart.synth", "--executor", "ray", "--workers", "-2"], "E701"),
    (["build", "examples/quickstart.synth", "--workers", "two"], "E701"),
])
def test_command_line_errors_are_coded(argv: list[str], code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import ROOT

    monkeypatch.chdir(ROOT)
    status, err = run_cli(*argv, "--format", "concise") if argv[0] in ("check", "fmt") else run_cli(*argv)
    assert status == 1 and f"error[{code}]" in err and "usage:" not in err.splitlines()[0], err


def test_policy_for_collects_allow_list(tmp_path: str) -> None:
    recipe = _project(str(tmp_path), settings='[paths]\nallow = ["../a", "../b"]\n')
    policy = policy_for(recipe, ["/opt/models"])
    assert [str(p) for p in policy.allowed][0] == "/opt/models" and len(policy.allowed) == 3


def test_plan_lists_every_file_read_and_written(tmp_path: str) -> None:
    recipe = _project(str(tmp_path))
    out = io.StringIO()
    assert main(["plan", recipe, "--json"], out, io.StringIO()) == 0
    import json

    files = json.loads(out.getvalue())["files"]
    reads = {f["path"]: f["what"] for f in files["read"]}
    writes = {f["path"]: f["what"] for f in files["write"]}
    assert reads == {"recipe.synth": "recipe", "synth.toml": "project settings", "data/gold.jsonl": "source gold",
                     "builtin:smollm2-135m": "model writer"}
    assert {"out/t.jsonl", "out/manifest.json", "out/README.md", "recipe.synth.lock", ".synthc/"} <= set(writes)
    text = io.StringIO()
    main(["plan", recipe], text, io.StringIO())
    lines = text.getvalue().splitlines()
    assert "files the build reads (relative to the recipe's folder)" in lines
    assert any(line.split() == ["data/gold.jsonl", "source", "gold"] for line in lines)
