"""`synthc eval` end to end on real data: report files, determinism, honesty about what is missing."""

from __future__ import annotations

import io
import json
import os
import random
import re
import sys

import pytest

from synthc.cli import main
from synthc_tests_conftest import DATA, scratch_recipe

AG = os.path.join(DATA, "ag_news")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def _write(path: str, rows: list[dict]) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two stand-in "synthetic" sets from real AG News text: a varied one, and a collapsed one that
    repeats a few texts per label (what a mode-collapsed generator produces)."""
    d = tmp_path_factory.mktemp("eval")
    rows = [json.loads(line) for line in open(os.path.join(AG, "train.jsonl"), encoding="utf-8")]
    rng = random.Random(0)
    varied = rng.sample(rows, 120)
    by_label: dict[str, list[dict]] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r)
    collapsed = [dict(r, id=f"{r['id']}-{k}") for lab in sorted(by_label) for r in by_label[lab][:3] for k in range(10)]
    test = [json.loads(line) for line in open(os.path.join(AG, "test.jsonl"), encoding="utf-8")][:300]
    return {"varied": _write(str(d / "varied.jsonl"), varied), "collapsed": _write(str(d / "collapsed.jsonl"), collapsed),
            "test": _write(str(d / "test.jsonl"), test), "train": os.path.join(AG, "train.jsonl"), "dir": str(d)}


def test_eval_report_ranks_the_varied_set_first_and_is_deterministic(files: dict[str, str]) -> None:
    outs = []
    for k in range(2):
        out_dir = os.path.join(files["dir"], f"report{k}")
        code, stdout, err = run("eval", files["varied"], files["collapsed"], "--real", files["test"],
                                "--train", files["train"], "--out", out_dir, "--seeds", "2", "--embedder", "tfidf_svd",
                                "--students", "tfidf_lr")
        assert code == 0, err
        outs.append(out_dir)
    assert stdout.startswith("Best data: `varied`")
    m = json.load(open(os.path.join(outs[0], "metrics.json")))
    v, c = m["datasets"]["varied"], m["datasets"]["collapsed"]
    assert v["self_bleu"]["self_bleu_5"] < c["self_bleu"]["self_bleu_5"]
    assert v["remote_clique"] > c["remote_clique"] and c["chamfer"] < 1e-6  # exact copies: distance 0
    vs, cs = v["students"]["tfidf_lr"], c["students"]["tfidf_lr"]
    assert vs["synthetic"]["macro_f1"]["mean"] > cs["synthetic"]["macro_f1"]["mean"]
    assert len(vs["synthetic"]["macro_f1"]["runs"]) == 2
    assert set(vs) >= {"gold_same_n", "gold_k", "gold_k_plus_synthetic"}
    assert vs["gold_k"] == cs["gold_k"]  # the same k gold rows per label per seed, whatever the dataset
    (comp,) = [x for x in m["comparisons"] if x["student"] == "tfidf_lr"]
    assert (comp["a"], comp["b"], comp["verdict"]) == ("varied", "collapsed", "varied")
    assert m["verdict"]["winner"] == "varied"
    assert m["datasets"]["real (gold train)"]["reference"] is True
    assert m["parameters"]["embedder"].startswith("TF-IDF")
    for name in ("metrics.json", "report.html", "report.md", "figures/projection.png", "figures/confusion.png"):
        a, b = (open(os.path.join(o, name), "rb").read() for o in outs)
        assert a == b, f"{name} differs between identical runs"
    page = open(os.path.join(outs[0], "report.html"), encoding="utf-8").read()
    assert "data:image/png;base64," in page and "Best data: varied" in page


def test_missing_packages_are_reported_unavailable_not_guessed(files: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in ("spacy", "mauve"):
        monkeypatch.setitem(sys.modules, mod, None)
    out_dir = os.path.join(files["dir"], "bare")
    code, _, err = run("eval", files["varied"], "--real", files["test"], "--out", out_dir, "--embedder", "tfidf_svd",
                       "--metrics", "entity_entropy,mauve,label_preservation,self_bleu", "--self-bleu-sample", "50")
    assert code == 0, err
    m = json.load(open(os.path.join(out_dir, "metrics.json")))
    assert set(m["unavailable"]) == {"entity_entropy", "mauve", "label_preservation"}
    d = m["datasets"]["varied"]
    assert "entity_entropy" not in d and "mauve" not in d
    assert d["self_bleu"]["estimator"] == "sampled: 50 of 120 hypotheses, seed 0"
    assert m["parameters"]["tokenizer"].startswith("regex")


def test_entity_entropy_and_mauve_with_the_real_packages(files: dict[str, str]) -> None:
    pytest.importorskip("spacy")
    pytest.importorskip("mauve")
    out_dir = os.path.join(files["dir"], "full")
    code, _, err = run("eval", files["varied"], files["collapsed"], "--real", files["test"], "--out", out_dir,
                       "--embedder", "tfidf_svd", "--metrics", "entity_entropy,mauve")
    assert code == 0, err
    m = json.load(open(os.path.join(out_dir, "metrics.json")))
    v, c = m["datasets"]["varied"], m["datasets"]["collapsed"]
    assert "en_core_web_sm" in m["parameters"]["ner"]
    assert v["entity_entropy"]["pooled"] > c["entity_entropy"]["pooled"] > 0
    assert 0 < c["mauve"]["mauve_x100"] <= v["mauve"]["mauve_x100"] <= 100


def test_qa_pairs_get_retrieval_metrics(files: dict[str, str]) -> None:
    pytest.importorskip("ranx")
    rows = [json.loads(line) for line in open(os.path.join(DATA, "stackexchange", "questions.jsonl"))][:60]
    answers = {}
    for line in open(os.path.join(DATA, "stackexchange", "answers.jsonl")):
        a = json.loads(line)
        answers.setdefault(a["question_id"], a["body"])
    pairs = [{"query": q["title"], "positive": answers[q["id"]]} for q in rows if q["id"] in answers]
    path = _write(os.path.join(files["dir"], "pairs.jsonl"), pairs)
    out_dir = os.path.join(files["dir"], "pairs")
    code, _, err = run("eval", path, "--real", files["test"], "--out", out_dir, "--metrics", "retrieval,distinct")
    assert code == 0, err
    r = json.load(open(os.path.join(out_dir, "metrics.json")))["datasets"]["pairs"]["retrieval"]
    assert set(r) >= {"P@1", "nDCG@3", "nDCG@10", "R@100", "MAP@100"} and 0 < r["P@1"] <= 1


def test_eval_rejects_bad_inputs(files: dict[str, str], tmp_path: str) -> None:
    bad = _write(os.path.join(str(tmp_path), "bad.jsonl"), [{"id": "1", "body": "x"}])
    code, _, err = run("eval", bad, "--real", files["test"], "--out", str(tmp_path), "--format", "concise")
    assert code == 1 and "E601" in err and "bad.jsonl:1" in err and "--text-field" in err
    code, _, err = run("eval", os.path.join(str(tmp_path), "none.jsonl"), "--real", files["test"])
    assert code == 1 and "E503" in err
    code, _, err = run("eval", files["varied"], "--real", files["test"], "--metrics", "bleu")
    assert code == 1 and "unknown metric" in err
    assert not os.path.exists(os.path.join(str(tmp_path), "metrics.json"))
    code, _, err = run("eval", files["varied"], "--real", files["test"], "--metrics", "distinct",
                       "--out", os.path.join(bad, "sub"))  # a file where a folder must go
    assert code == 1 and "E505" in err and "E999" not in err


def _recipe(tmp: str) -> str:
    """tests/eval/rerun.synth in a scratch project whose data lives in the repository's data/."""
    return scratch_recipe(os.path.join(os.path.dirname(__file__), "eval", "rerun.synth"), tmp, "DATA/")


def test_editing_the_evaluate_block_reruns_only_the_evaluation(tmp_path: str) -> None:
    spec = _recipe(str(tmp_path))
    build = ("build", spec, "--backend", "fake", "--quiet")
    code, out, err = run(*build)
    assert code == 0, err
    found = re.search(r"(\d+) generated, 0 from cache", out)
    assert found, out  # quota rounds decide how many: the fake backend's rows meet the filters or not
    metrics = os.path.join(str(tmp_path), "out", "eval", "metrics.json")
    assert json.load(open(metrics))["seeds"] == [0, 1]
    stamp = os.stat(metrics).st_mtime_ns
    code, out, err = run(*build)  # nothing changed: the report is kept as it is
    assert code == 0 and os.stat(metrics).st_mtime_ns == stamp, err
    with open(spec, encoding="utf-8") as fh:
        text = fh.read()
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(text.replace("seeds    = 2", "seeds    = 3"))
    code, out, err = run(*build)  # no --force: every generation is reused, the evaluation reruns
    assert code == 0, err
    assert f"0 generated, {found.group(1)} from cache" in out, out
    m = json.load(open(metrics))
    assert m["seeds"] == [0, 1, 2] and len(m["datasets"]["short"]["students"]["tfidf_lr"]["synthetic"]["C"]) == 3
    assert m["verdict"]["text"] and set(m["datasets"]) == {"short", "long", "real (gold train)"}


def test_the_minilm_student_is_reported_beside_the_default(files: dict[str, str]) -> None:
    from synthc.runtime.eval.embed import minilm_available

    if not minilm_available():
        pytest.skip("all-MiniLM-L6-v2 (synthc[dense]) is not installed")
    small = _write(os.path.join(files["dir"], "small.jsonl"),
                   [json.loads(line) for line in open(files["varied"], encoding="utf-8")][:40])
    test = _write(os.path.join(files["dir"], "test80.jsonl"),
                  [json.loads(line) for line in open(files["test"], encoding="utf-8")][:80])
    out_dir = os.path.join(files["dir"], "minilm")
    code, _, err = run("eval", small, "--real", test, "--out", out_dir, "--metrics", "student", "--seeds", "1")
    assert code == 0, err
    m = json.load(open(os.path.join(out_dir, "metrics.json")))
    assert m["students"]["kinds"] == ["tfidf_lr", "minilm_lr"] and m["students"]["primary"] == "tfidf_lr"
    got = m["datasets"]["small"]["students"]["minilm_lr"]["synthetic"]["macro_f1"]
    assert got["mean"] > m["students"]["chance_macro_f1"]


def test_a_report_never_replaces_files_synthc_did_not_write(files: dict[str, str], tmp_path: str) -> None:
    """E524 covers report folders: a hand-written report.md or metrics.json stays as it was, for
    `synthc eval --out` and for a recipe's `evaluate` block alike, refused before anything is written."""
    mine = os.path.join(str(tmp_path), "notes")
    os.makedirs(mine)
    for name in ("report.md", "metrics.json"):
        with open(os.path.join(mine, name), "w", encoding="utf-8") as fh:
            fh.write(f"my own {name}\n")
    code, _, err = run("eval", files["varied"], "--real", files["test"], "--metrics", "distinct", "--out", mine)
    assert code == 1 and "E524" in err and "E999" not in err, err
    assert sorted(os.listdir(mine)) == ["metrics.json", "report.md"]
    assert open(os.path.join(mine, "report.md"), encoding="utf-8").read() == "my own report.md\n"
    os.makedirs(os.path.join(str(tmp_path), "project"))
    spec = _recipe(os.path.join(str(tmp_path), "project"))
    report = os.path.join(str(tmp_path), "project", "out", "eval")
    os.makedirs(report)
    with open(os.path.join(report, "report.md"), "w", encoding="utf-8") as fh:
        fh.write("hand-written\n")
    code, _, err = run("build", spec, "--backend", "fake", "--quiet", "--format", "concise")
    assert code == 1 and "error[E524]" in err and "rerun.synth:" in err, err
    assert os.listdir(report) == ["report.md"] and not os.path.exists(os.path.join(str(tmp_path), "project", ".synthc"))
    ours = os.path.join(str(tmp_path), "ours")  # synthc's own report is replaced on the next run
    for _ in range(2):
        code, _, err = run("eval", files["varied"], "--real", files["test"], "--metrics", "distinct", "--out", ours)
        assert code == 0, err
