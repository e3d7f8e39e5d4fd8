"""`synthc init` scaffolds a recipe from the user's own data that passes `synthc check` and
`synthc fmt --check` as written, on JSONL, CSV, Parquet, a split column and QA data; it refuses to
overwrite and gives coded errors for data it cannot read."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil

import pytest

from conftest import DATA
from synthc.cli import main
from synthc.compiler import compile_file


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def _rows(path: str, n: int = 120) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for _, line in zip(range(n), fh)]


def _scaffold(data: str, out: str, *extra: str) -> str:
    code, stdout, err = run("init", data, "--out", out, *extra)
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}")
    code, _, err = run("check", out, "--format", "concise")
    assert code == 0, err
    code, _, err = run("fmt", "--check", out)
    assert code == 0, err
    return open(out, encoding="utf-8").read()


@pytest.fixture
def work(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(str(tmp_path))
    return str(tmp_path)


def test_jsonl_with_a_held_out_sibling(work: str) -> None:
    shutil.copytree(os.path.join(DATA, "sms_spam"), "data")
    text = _scaffold("data/train.jsonl", "spam.synth")
    meta = json.load(open("data/meta.json"))["files"]["train.jsonl"]["label_counts"]
    for label, n in meta.items():
        assert f"# {n} rows in the data" in text and f"{label} " in text
    assert re.search(r'path +=  *"data/test.jsonl"', text) and re.search(r"real +=  *test", text)
    assert "variant zero_shot" in text and "variant few_shot" in text and "label_oracle" in text
    program = compile_file("spam.synth").program
    assert program is not None
    assert [v.name for v in program.task("spam").variants] == ["zero_shot", "few_shot"]
    assert program.models[0].gguf == "smollm2-135m"
    assert program.exports and program.evaluations


def test_the_scaffold_builds_on_the_fake_backend(work: str) -> None:
    shutil.copytree(os.path.join(DATA, "sms_spam"), "data")
    _scaffold("data/train.jsonl", "spam.synth")
    code, _, err = run("build", "spam.synth", "--backend", "fake", "--quiet")
    assert code == 0, err
    assert os.path.getsize("out/spam/zero_shot.jsonl") > 0 and os.path.getsize("out/spam/few_shot.jsonl") > 0


def test_csv_with_other_column_names_and_labels_that_need_quotes(work: str) -> None:
    rows = _rows(os.path.join(DATA, "ag_news", "train.jsonl"))
    with open("news.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["headline", "topic"])
        w.writeheader()
        w.writerows({"headline": r["text"], "topic": r["label"]} for r in rows)
    text = _scaffold("news.csv", "news.synth", "--text-field", "headline")
    assert '"Sci/Tech" = "labelled Sci/Tech"' in text
    assert re.search(r'text +=  *"headline"', text) and re.search(r'label +=  *"topic"', text)
    assert "(flattering)" in text  # no held-out split: said so


def test_parquet_with_a_split_column(work: str) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = _rows(os.path.join(DATA, "sarcasm_headlines", "train.jsonl"), 60)
    rows += [dict(r, split="test") for r in _rows(os.path.join(DATA, "sarcasm_headlines", "test.jsonl"), 40)]
    pq.write_table(pa.Table.from_pylist(rows), "headlines.parquet")
    text = _scaffold("headlines.parquet", "headlines.synth")
    assert re.search(r'split +=  *"train"', text) and re.search(r'split +=  *"test"', text)


def test_qa_from_unlabelled_questions(work: str) -> None:
    qs = [{"id": q["id"], "question": q["title"]} for q in _rows(os.path.join(DATA, "stackexchange", "questions.jsonl"), 30)]
    with open("questions.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(q) + "\n" for q in qs)
    text = _scaffold("questions.jsonl", "qa.synth", "--task", "qa")
    assert re.search(r"kind +=  *qa_pairs", text) and re.search(r'text +=  *"question"', text)
    with open("faq.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"question": q["question"], "answer": "Yes."}) + "\n" for q in qs)
    text = _scaffold("faq.jsonl", "faq.synth", "--task", "qa")
    assert "example.answer" in text and re.search(r'fields +=  *\["answer"\]', text)


def test_without_data(work: str) -> None:
    code, _, err = run("init")
    assert code == 0, err
    assert run("check", "recipe.synth")[0] == 0 and run("fmt", "--check", "recipe.synth")[0] == 0


def test_refuses_to_overwrite(work: str) -> None:
    open("recipe.synth", "w").write("# mine\n")
    code, _, err = run("init", "--format", "concise")
    assert code == 1 and "error[E505] recipe.synth already exists" in err
    assert open("recipe.synth").read() == "# mine\n"


@pytest.mark.parametrize(("content", "extra", "code"), [
    (None, (), "E503"),
    ('{"text": "a", "label": "x"}\nnot json\n', (), "E504"),
    ('{"body": "a"}\n{"body": "b"}\n', (), "E508"),
    ('{"text": "a", "label": "x"}\n', ("--label-field", "kind"), "E508"),
    ('{"text": "a", "label": "x"}\n{"text": "b", "label": "x"}\n', (), "E509"),
    ("".join(json.dumps({"text": f"t{i}", "label": f"v{i}"}) + "\n" for i in range(80)), (), "E504"),
])
def test_coded_errors_for_data_it_cannot_use(work: str, content: str | None, extra: tuple[str, ...], code: str) -> None:
    if content is not None:
        open("data.jsonl", "w", encoding="utf-8").write(content)
    status, _, err = run("init", "data.jsonl", "--format", "concise", *extra)
    assert status == 1 and f"error[{code}]" in err, err
    assert not os.path.exists("recipe.synth")
