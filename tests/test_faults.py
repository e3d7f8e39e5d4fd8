"""The fault suite: every bad input of tests/faults/cases gets its coded diagnostic, exit 1, no E999
and no traceback, and leaves every file outside `.synthc/` as it was (bytes and mode). The cases
are data (see tests/faults/cases/README.md); the integrity properties that need a sequence of
builds (a killed commit, stale temps, modes, byte-stable manifests, ownership of old files) are
tests below."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from conftest import ROOT
from markers import header

FAULTS = os.path.join(ROOT, "tests", "faults")
CASES = sorted(glob.glob(os.path.join(FAULTS, "cases", "*.synth")))


def _tree(root: str) -> dict[str, tuple[str, int]]:
    """Every file under root except caches: relative path → (sha256, mode)."""
    out = {}
    for base, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".synthc"]
        for f in files:
            p = os.path.join(base, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = (hashlib.sha256(fh.read()).hexdigest(), os.stat(p).st_mode & 0o777)
    return out


def _synthc(args: list[str], cwd: str, fsize: int | None = None) -> subprocess.CompletedProcess[str]:
    """synthc in a subprocess (a file-size limit must not hit pytest itself)."""
    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))  # type: ignore[arg-type]

    return subprocess.run([sys.executable, "-m", "synthc", *args], cwd=cwd, capture_output=True, text=True,
                          preexec_fn=limit if fsize else None, timeout=300)


def _build(spec: str, cwd: str, *extra: str, fsize: int | None = None) -> subprocess.CompletedProcess[str]:
    return _synthc(["build", spec, "--quiet", "--format", "concise", *extra], cwd, fsize)


def _setup(step: str, work: str, spec: str) -> int | None:
    """Run one `# setup:` step; returns a file-size limit for the bad build, if the step sets one."""
    cases = os.path.join(work, "cases")
    name, _, arg = step.strip().partition(" ")
    if name == "warm":  # a good build first (the cache fills), then its outputs go
        done = _build(spec, cases, "--backend", "fake")
        assert done.returncode == 0, done.stderr
        shutil.rmtree(os.path.join(work, "out"), ignore_errors=True)
    elif name == "corrupt-cache":
        os.makedirs(os.path.join(cases, ".synthc"), exist_ok=True)
        with open(os.path.join(cases, ".synthc", "cache.sqlite"), "wb") as fh:
            fh.write(b"this is not an SQLite database" * 100)
    elif name == "lock-drift":
        with open(spec + ".lock", "w", encoding="utf-8") as fh:
            json.dump({"lock_version": 1, "models": {}, "data": {"../data/good.jsonl": "0" * 64}, "versions": {}}, fh)
    elif name == "build":
        done = _build(os.path.join(cases, arg), cases, "--backend", "fake")
        assert done.returncode == 0, done.stderr
    elif name == "fsize":
        return int(arg)
    else:
        raise AssertionError(f"unknown setup step {step!r}")
    return None


@pytest.mark.parametrize("case", CASES, ids=lambda p: os.path.basename(p)[:-6])
def test_fault_case(case: str, tmp_path: str) -> None:
    work = os.path.join(str(tmp_path), "faults")
    shutil.copytree(FAULTS, work)
    spec = os.path.join(work, "cases", os.path.basename(case))
    fsize = None
    for step in filter(None, (header(case, "setup") or "").split(";")):
        fsize = _setup(step, work, spec) or fsize
    before = _tree(work)
    args = (header(case, "args") or "").split()
    result = _build(os.path.basename(spec), os.path.join(work, "cases"),
                    "--backend", header(case, "backend") or "fake", *args, fsize=fsize)
    code = header(case, "expect")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"error[{code}]" in result.stderr, result.stderr
    assert "E999" not in result.stderr and "Traceback" not in result.stderr
    assert _tree(work) == before  # nothing written, replaced or deleted; temps cleaned up


def test_every_case_names_its_code() -> None:
    from synthc.compiler.codes import CODES

    assert len(CASES) >= 20
    for case in CASES:
        assert header(case, "expect") in CODES, case


# -- eval inputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("data, extra, code", [
    ("latin1.jsonl", [], "E504"),  # invalid UTF-8 in `synthc eval`'s input: was E999
    ("unlabelled.jsonl", ["--metrics", "student"], "E601"),  # label metrics asked for, no labels: was nulls, exit 0
    ("folder.jsonl", [], "E503"),
])
def test_eval_bad_inputs(data: str, extra: list[str], code: str, tmp_path: str) -> None:
    d = os.path.join(FAULTS, "data")
    out = os.path.join(str(tmp_path), "report")
    result = _synthc(["eval", os.path.join(d, data), "--real", os.path.join(d, "good.jsonl"), "--out", out,
                      "--format", "concise", "--seeds", "1", *extra], str(tmp_path))
    assert result.returncode == 1 and f"error[{code}]" in result.stderr, result.stderr
    assert "E999" not in result.stderr and not os.path.exists(out)


# -- integrity across builds ----------------------------------------------------------------------

RECIPE = '''model writer {
  gguf = builtin("smollm2-135m")
}

labels sentiment {
  positive = "positive"
  negative = "negative"
}

task t {
  labels    = sentiment
  model     = writer
  per_label = 3
  prompt    = "Write a {{ label }} review."

  variant a {
  }

  variant b {
  }
}

export out {
  task     = t
  variants = VARIANTS
  path     = "out/{variant}.jsonl"
}
'''


def _recipe(tmp: str, variants: str = '["a", "b"]') -> str:
    spec = os.path.join(tmp, "r.synth")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(RECIPE.replace("VARIANTS", variants))
    return spec


def _ok(spec: str, cwd: str, *extra: str) -> subprocess.CompletedProcess[str]:
    result = _build(spec, cwd, "--backend", "fake", *extra)
    assert result.returncode == 0, result.stderr
    return result


def test_manifest_and_card_are_byte_stable_and_run_facts_live_apart(tmp_path: str) -> None:
    tmp = str(tmp_path)
    spec = _recipe(tmp)
    _ok(spec, tmp)
    first = _tree(os.path.join(tmp, "out"))
    _ok(spec, tmp, "--force")  # regenerates: different timings, no cache hits
    assert _tree(os.path.join(tmp, "out")) == first
    manifest = json.load(open(os.path.join(tmp, "out", "manifest.json")))
    assert "timings_s" not in manifest and manifest["recipe"] == "../r.synth" and manifest["export"] == "out"
    run = json.load(open(os.path.join(tmp, ".synthc", "last-build.json")))
    requests = sum(e["requests"] for quota in manifest["quota"].values() for e in quota.values())
    assert run["generations"] == {"new": requests, "cached": 0} and "generate:t.a" in run["timings_s"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_the_usual_mode(umask: int, mode: int, tmp_path: str) -> None:
    tmp = str(tmp_path)
    spec = _recipe(tmp)
    old = os.umask(umask)
    try:
        _ok(spec, tmp)
    finally:
        os.umask(old)
    modes = {v[1] for v in _tree(os.path.join(tmp, "out")).values()}
    assert modes == {mode}


def test_a_killed_commit_is_completed_and_stale_temps_removed(tmp_path: str) -> None:
    tmp = str(tmp_path)
    spec = _recipe(tmp)
    _ok(spec, tmp)
    reference = _tree(os.path.join(tmp, "out"))
    shutil.rmtree(os.path.join(tmp, "out"))
    # A build killed after its journal and the first rename: new a.jsonl, no b.jsonl, no manifest.
    script = f"""
import os, sys
from synthc.runtime.io import outputs
real = os.replace
calls = []
def replace(src, dst):
    real(src, dst)
    if os.path.basename(os.path.dirname(src)) == "out":
        calls.append(dst)
        if len(calls) == 1:
            os._exit(9)  # kill -9 between two renames of the set
outputs.os.replace = replace
from synthc.cli import main
sys.exit(main(["build", {spec!r}, "--backend", "fake", "--quiet"]))
"""
    killed = subprocess.run([sys.executable, "-c", script], cwd=tmp, capture_output=True, text=True, timeout=300)
    assert killed.returncode == 9, killed.stderr
    assert glob.glob(os.path.join(tmp, ".synthc", "commits", "*.json"))
    assert not os.path.exists(os.path.join(tmp, "out", "manifest.json"))
    # a temp from a build that died before its journal (pid 2**22+1 is above Linux's pid_max default)
    with open(os.path.join(tmp, "out", f".synthc-{2**22 + 1}-x1.tmp"), "wb") as fh:
        fh.write(b"half a dataset")
    result = _ok(spec, tmp)
    assert _tree(os.path.join(tmp, "out")) == reference
    assert not glob.glob(os.path.join(tmp, "out", ".synthc-*")) and not os.listdir(os.path.join(tmp, ".synthc", "commits"))
    assert "wrote out/a.jsonl" in result.stdout  # a path the user can paste, from the recipe's folder


def test_a_dropped_variant_file_is_removed_unless_edited(tmp_path: str) -> None:
    tmp = str(tmp_path)
    spec = _recipe(tmp)
    _ok(spec, tmp)
    _recipe(tmp, '["a"]')
    _ok(spec, tmp)
    assert sorted(os.listdir(os.path.join(tmp, "out"))) == ["README.md", "a.jsonl", "manifest.json"]
    _recipe(tmp)
    _ok(spec, tmp)
    with open(os.path.join(tmp, "out", "b.jsonl"), "a", encoding="utf-8") as fh:
        fh.write("{}\n")  # a user edit: synthc no longer owns these bytes
    _recipe(tmp, '["a"]')
    _ok(spec, tmp)
    assert os.path.exists(os.path.join(tmp, "out", "b.jsonl"))


def test_paths_in_messages_are_relative_to_the_current_directory(tmp_path: str) -> None:
    tmp = str(tmp_path)
    os.makedirs(os.path.join(tmp, "recipes"))
    open(os.path.join(tmp, "synth.toml"), "w").close()  # the project root: recipes/ may write ../out
    spec = os.path.join(tmp, "recipes", "r.synth")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(RECIPE.replace("VARIANTS", '["a"]').replace('"out/{variant}', '"../out/r/{variant}'))
    result = _ok("recipes/r.synth", tmp)
    assert "wrote out/r/a.jsonl" in result.stdout and os.path.exists(os.path.join(tmp, "out", "r", "a.jsonl"))


def test_corrupt_cache_message_says_delete_it(tmp_path: str) -> None:
    tmp = str(tmp_path)
    spec = _recipe(tmp)
    os.makedirs(os.path.join(tmp, ".synthc"))
    with open(os.path.join(tmp, ".synthc", "cache.sqlite"), "wb") as fh:
        fh.write(b"\0" * 4096)
    result = _build(spec, tmp, "--backend", "fake")
    assert result.returncode == 1 and "E514" in result.stderr and "delete the folder" in result.stderr
    shutil.rmtree(os.path.join(tmp, ".synthc"))
    _ok(spec, tmp)
    sqlite3.connect(os.path.join(tmp, ".synthc", "cache.sqlite")).execute("PRAGMA integrity_check").fetchall()


def test_a_build_says_when_it_updates_the_lock(tmp_path: str) -> None:
    """A lock that changes is rewritten loudly (`--locked` would have refused), one per recipe."""
    import io

    from synthc.compiler import compile_file
    from synthc.runtime.engine.progress import Events
    from synthc.runtime.steps import Context
    from synthc.runtime.steps.outputs import write_lock

    spec = _recipe(str(tmp_path))
    result = compile_file(spec)
    assert result.plan is not None
    err = io.StringIO()
    from synthc.runtime.models.load import ModelPool

    models = ModelPool(result.plan.program, str(tmp_path), "llama")
    models.info["writer"] = {"name": "writer", "path": "builtin:smollm2-135m", "size": 1, "sha256": "a" * 64}
    ctx = Context(result.plan, None, Events(err, True, None), models, recipe=os.path.realpath(spec))  # type: ignore[arg-type]
    lock = {"data": {"d.jsonl": "1" * 64}}
    write_lock(ctx, lock, True)
    assert os.path.exists(spec + ".lock") and err.getvalue() == ""  # a new lock: written quietly
    before = open(spec + ".lock").read()
    write_lock(ctx, lock, True)
    assert open(spec + ".lock").read() == before and err.getvalue() == ""  # unchanged: not rewritten
    write_lock(ctx, {"data": {"d.jsonl": "2" * 64}}, True)
    assert "r.synth.lock (`--locked` would have refused)" in err.getvalue() and "+ data.d.jsonl: 2222" in err.getvalue()
