"""`synthc check` verifies every file a recipe reads before anything runs (E410 at the path)."""

from __future__ import annotations

import io
import os
import shutil

import pytest

from conftest import ROOT
from synthc.cli import main
from synthc.compiler import compile_file, compile_text


def _check(path: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", path, "--format", "concise"], out, err)
    return code, err.getvalue()


def test_check_reports_a_missing_data_file_at_its_path(tmp_path: str) -> None:
    os.makedirs(os.path.join(str(tmp_path), "examples"))
    spec = os.path.join(str(tmp_path), "examples", "quickstart.synth")
    shutil.copy(os.path.join(ROOT, "examples", "quickstart.synth"), spec)
    open(os.path.join(str(tmp_path), "synth.toml"), "w").close()  # the project (docs/security.md)
    code, err = _check(spec)
    line = next(n for n, t in enumerate(open(spec, encoding="utf-8"), 1) if "imdb/train.jsonl" in t)
    assert code == 1
    assert f"quickstart.synth:{line}:11: error[E410] data file not found: ../data/imdb/train.jsonl" in err
    shutil.copytree(os.path.join(ROOT, "data", "imdb"), os.path.join(str(tmp_path), "data", "imdb"))
    assert _check(spec)[0] == 0


def test_one_diagnostic_per_path_and_the_plan_is_kept(tmp_path: str) -> None:
    os.makedirs(os.path.join(str(tmp_path), "specs"))
    open(os.path.join(str(tmp_path), "synth.toml"), "w").close()  # the project (docs/security.md)
    spec = os.path.join(str(tmp_path), "specs", "r.synth")
    with open(os.path.join(ROOT, "specs", "synthesizrr_ag_news.synth"), encoding="utf-8") as fh:
        open(spec, "w", encoding="utf-8").write(fh.read())
    result = compile_file(spec)
    paths = sorted(d.message.split(": ", 1)[1] for d in result.diagnostics if d.code.id == "E410")
    assert paths == ["../data/ag_news/corpus.jsonl", "../data/ag_news/test.jsonl", "../data/ag_news/train.jsonl"]
    assert result.plan is not None and not result.ok


def test_text_is_compiled_without_touching_the_file_system() -> None:
    result = compile_text('labels l { a = "A" }\nsource s {\n  path = "nowhere.jsonl"\n}\n')
    assert not [d for d in result.diagnostics if d.code.id == "E410"]


def test_unreadable_file(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.path.join(str(tmp_path), "train.jsonl")
    open(data, "w").write('{"text": "x", "label": "a"}\n')
    spec = os.path.join(str(tmp_path), "r.synth")
    open(spec, "w").write('labels l {\n  a = "A"\n}\n\nsource s {\n  path  = "train.jsonl"\n  label = "label"\n}\n')
    real_open = open

    def deny(path: str, *a: object, **k: object) -> object:  # chmod 000 does not stop root
        if str(path) == data:
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", deny)
    diags = compile_file(spec).diagnostics
    assert [(d.code.id, d.message) for d in diags if d.code.id == "E410"] == [
        ("E410", "data file cannot be read (Permission denied): train.jsonl")]
