"""The front door, in-process: exit codes 0 / 1 / 2, formats, explain, fmt --check, plan outputs."""

from __future__ import annotations

import io
import json
import os
import shutil

import pytest

from conftest import ROOT
from synthc.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _cwd(monkeypatch: pytest.MonkeyPatch, checkout_copy: str) -> None:
    monkeypatch.chdir(checkout_copy)  # plan reads a recipe's .synthc/: never the user's in the checkout


def test_check_ok() -> None:
    code, out, err = run("check", "examples/quickstart.synth")
    assert code == 0 and out.startswith("ok:") and err == ""


def test_check_error_exit_1_concise_and_json() -> None:
    path = "tests/diagnostics/E101_undefined_reference.synth"
    code, _, err = run("check", path, "--format", "concise")
    assert code == 1
    assert f"{path}:11:15: error[E101] undefined model `wrtier` (help: did you mean `writer`?)" in err
    code, _, err = run("check", path, "--format", "json")
    obj = json.loads(err.strip().splitlines()[0])
    assert (obj["code"], obj["line"], obj["column"], obj["help"]) == ("E101", 11, 15, "did you mean `writer`?")


def test_full_format_has_carets() -> None:
    _, _, err = run("check", "tests/diagnostics/E204_out_of_range.synth", "--format", "full")
    assert "error[E204]: `top_p` = 1.5 is out of range" in err
    assert "^^^ allowed: 0..1" in err


def test_set_override_changes_counts() -> None:
    code, out, _ = run("plan", "examples/quickstart.synth", "--json", "--set", "per_label=3")
    data = json.loads(out)
    assert code == 0 and data["schema_version"] == 1
    gen = next(n for n in data["nodes"] if n["kind"] == "generate")
    assert gen["requests"] == 6


def test_plan_text_and_dot() -> None:
    code, out, _ = run("plan", "specs/li2023_imdb.synth")
    assert code == 0 and "generate:reviews.few_shot" in out and "[12 requests; ≤ 48 with quota rounds, attempts = 4]" in out
    code, out, _ = run("plan", "specs/li2023_imdb.synth", "--dot")
    assert code == 0 and out.startswith("digraph plan {") and '"render:reviews.few_shot" -> "generate:reviews.few_shot";' in out


def test_explain() -> None:
    code, out, _ = run("explain", "E101")
    assert code == 0 and "## How to fix" in out
    code, _, err = run("explain", "E0000")
    assert code == 1 and "unknown code" in err
    code, out, _ = run("explain")
    assert code == 0 and "E105  undefined-template-variable" in out


def test_fmt_check_and_write(tmp_path: str) -> None:
    target = os.path.join(tmp_path, "x.synth")
    with open(target, "w") as fh:
        fh.write("model m {gguf=builtin(\"smollm2-135m\") seed=1}\n")
    code, _, err = run("fmt", "--check", target)
    assert code == 1 and "would reformat" in err
    code, out, _ = run("fmt", target)
    assert code == 0 and "formatted" in out
    assert run("fmt", "--check", target)[0] == 0
    shutil.copy(os.path.join(ROOT, "tests/diagnostics/E002_unexpected_character.synth"), target)
    code, _, err = run("fmt", target, "--format", "concise")
    assert code == 1 and "E002" in err


def test_missing_file_is_a_user_error() -> None:
    code, _, err = run("check", "no/such.synth")
    assert code == 1 and "no such file" in err


def test_internal_error_is_coded(monkeypatch: pytest.MonkeyPatch) -> None:
    import synthc.cli as cli

    def boom(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "compile_file", boom)
    code, _, err = run("check", "examples/quickstart.synth")
    assert code == 2 and "error[E999]: internal error: RuntimeError: boom" in err and "Traceback" not in err


def test_binary_file_is_a_user_error(tmp_path: str) -> None:
    target = os.path.join(tmp_path, "bin.synth")
    with open(target, "wb") as fh:
        fh.write(b"\x7fELF\x02\x01\x01\x00\xff\xfe")
    code, _, err = run("check", target, "--format", "concise")
    assert code == 1 and "E103" in err and "not UTF-8" in err


def test_plan_tokens_warns_of_rows_beyond_the_context(tmp_path) -> None:
    # specs/synthesizrr_imdb.synth's 32 whole IMDb reviews (~11k tokens) once failed with E506 two
    # minutes into a build; `plan --tokens` counts every new row's prompt and says so up front.
    spec = os.path.join(str(tmp_path), "over_context.synth")
    shutil.copy(os.path.join(ROOT, "tests", "recipes", "over_context.synth"), spec)
    code, out, _ = run("plan", spec, "--backend", "fake", "--tokens")
    assert code == 0
    # 4 rows per the recipe, 6 in a build's first round (sized for the prior keep rate: 4 / 0.8, rounded up per label)
    assert "warning: 6 row(s) do not fit the context of model `writer`" in out and "E506" in out
    code, out, _ = run("plan", spec, "--backend", "fake", "--tokens", "--json")
    (gen,) = [n for n in json.loads(out)["nodes"] if n["kind"] == "generate"]
    over = gen["cache"]["over_context"]
    assert over["rows"] == 6 and over["prompt_tokens"] + over["max_tokens"] > over["context"] == 120
    code, out, _ = run("plan", spec, "--backend", "fake")  # without --tokens nothing is counted
    assert "do not fit" not in out
