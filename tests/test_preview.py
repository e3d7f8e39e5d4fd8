"""Previews run the build and write nothing (issue 21): `synthc plan --tokens`, `show` and `diff`
run the real scheduler with the cache-only dispatcher (runtime/preview/run.py). Before a build
they leave no dataset, manifest, lock or cache row behind; after one they change none of its
files, cache rows or usage-ledger rows, and find every request the build sent — its quota rounds
included — in the cache."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3

import pytest

from conftest import ROOT, scratch_recipe
from synthc.cli import main
from synthc.compiler import compile_file
from synthc.runtime import execute


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def _previews(spec: str) -> dict[str, str]:
    """Every preview of the recipe, on the fake backend: their outputs."""
    outs = {}
    for name, argv in {"plan": ("plan", spec, "--tokens"), "plan-json": ("plan", spec, "--tokens", "--json"),
                       "show": ("show", spec, "--rows", "100", "--json"),
                       "show-row": ("show", spec, "--variant", "plain", "--row", "ham/000040", "--json"),
                       "diff": ("diff", spec, spec, "--json")}.items():
        code, out, err = run(*argv, "--backend", "fake")
        assert code == 0, (name, err)
        outs[name] = out
    return outs


def _state(folder: str) -> dict[str, object]:
    """Every file under the project (but the cache database, whose rows are read instead) by
    content hash, and the cache's generation and ledger rows."""
    files = {}
    for top, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(top, name)
            if ".synthc" in path and name.startswith("cache.sqlite"):
                continue
            with open(path, "rb") as fh:
                files[os.path.relpath(path, folder)] = hashlib.sha256(fh.read()).hexdigest()
    rows: dict[str, object] = {}
    db = os.path.join(folder, ".synthc", "cache.sqlite")
    if os.path.exists(db):
        con = sqlite3.connect(db)
        for table in ("generations", "usage", "builds"):
            rows[table] = sorted(con.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608 - fixed names
        con.close()
    return {"files": files, "rows": rows}


@pytest.fixture()
def spec(tmp_path: str) -> str:
    """tests/show/rounds.synth (quota rounds on every label; a conversation, retrieval) in a scratch project."""
    return scratch_recipe(os.path.join(ROOT, "tests", "show", "rounds.synth"), str(tmp_path), "../../data/")


def test_before_a_build_previews_write_no_dataset_lock_or_cache_row(spec: str) -> None:
    folder = os.path.dirname(spec)
    _previews(spec)
    state = _state(folder)
    assert not os.path.exists(os.path.join(folder, "out")) and not os.path.exists(spec + ".lock")
    assert state["rows"].get("generations", []) == [] and state["rows"].get("usage", []) == []
    assert not any(name.startswith(("out", "last-build")) for name in map(os.path.basename, state["files"]))


def test_after_a_build_previews_change_nothing_and_find_every_request(spec: str) -> None:
    folder = os.path.dirname(spec)
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    execute(result.plan, result.sources, quiet=True, backend="fake")
    before = _state(folder)
    outs = _previews(spec)
    assert _state(folder) == before  # not a byte of the dataset, lock, memos or cache rows changed
    with open(os.path.join(folder, "out", "manifest.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    nodes = {n["id"]: n["cache"] for n in json.loads(outs["plan-json"])["nodes"] if n["kind"] == "generate"}
    for vid, labels in manifest["quota"].items():
        sent = sum(q["requests"] for q in labels.values())  # every round's requests
        entry = nodes[f"generate:rounds.{vid}"]
        assert entry["new"] == 0 and entry["rows"] >= sent, (vid, entry, sent)
        if vid != "talk":  # (talk's first turns are plain's requests: plain's later rows are cached for it)
            assert entry["rows"] == sent, (vid, entry, sent)
    assert "0 new; ≈ 0 s to generate the new ones" in outs["plan"]
    (row,) = json.loads(outs["show-row"])["rows"]
    assert row["round"] == "later" and row["cache"] == "new"  # a row no build planned: shown, not generated
    assert json.loads(outs["diff"])["total"]["regenerate"] == 0
