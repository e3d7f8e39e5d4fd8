"""README's two commands: exactly two, `.ci/run` runs command 2 verbatim, and command 1's main job
(`synthc build examples/quickstart.synth`) works from a copy of the repository with nothing beside
it — on the fake backend always, and on the real model with a tiny --set under the `model` marker."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT


def _commands() -> list[str]:
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme.split("## Fresh machine", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_readme_has_exactly_two_commands_and_ci_runs_the_second() -> None:
    cmds = _commands()
    assert len(cmds) == 2 and all("\n" not in c for c in cmds), cmds
    ci = [line.strip() for line in open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8")
          if line.strip() and not line.lstrip().startswith("#")]
    assert ci[-1] == cmds[1], "the last command of .ci/run must be README command 2, verbatim"
    assert cmds[0].endswith("synthc build examples/quickstart.synth")


def _main_job() -> list[str]:
    """README command 1's last step, as argv after `synthc`."""
    step = _commands()[0].split("&&")[-1].split()
    assert step[0].endswith("synthc")
    return step[1:]


@pytest.fixture
def bare_clone(tmp_path: str) -> str:
    """The files a clone has (git's index), copied to a folder with nothing beside it."""
    dest = os.path.join(str(tmp_path), "bare", "synthc")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode()
    for rel in filter(None, files.split("\0")):
        if os.path.isfile(os.path.join(ROOT, rel)):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), os.path.join(dest, rel))
    assert os.listdir(os.path.dirname(dest)) == ["synthc"]
    return dest


def _synthc(clone: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synthc", *argv], cwd=clone, capture_output=True, text=True,
                          timeout=900)


def _rows(clone: str) -> list[dict]:
    with open(os.path.join(clone, "out", "quickstart", "reviews.jsonl"), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_readme_command_1_builds_from_a_bare_clone_on_the_fake_backend(bare_clone: str) -> None:
    check = _synthc(bare_clone, "check", *_main_job()[1:])
    assert check.returncode == 0, check.stderr
    built = _synthc(bare_clone, *_main_job(), "--backend", "fake", "--quiet")
    assert built.returncode == 0, built.stderr
    rows = _rows(bare_clone)
    assert rows and {r["label"] for r in rows} <= {"positive", "negative"}
    assert os.path.exists(os.path.join(bare_clone, "out", "quickstart", "manifest.json"))


@pytest.mark.model
def test_readme_command_1_builds_from_a_bare_clone_on_the_real_model(bare_clone: str) -> None:
    built = _synthc(bare_clone, *_main_job(), "--set", "per_label=1", "--quiet")
    assert built.returncode == 0, built.stderr
    assert all(r["text"].strip() for r in _rows(bare_clone))
