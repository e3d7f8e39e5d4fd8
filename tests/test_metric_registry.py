"""The metric registry: one `MetricKind` (compiler/metrics/) and one `Measure`
(runtime/eval/measures/) per metric, and everything else reads them — the `evaluate` block's
schema, its lowering, the evaluation's `Options`, `synthc eval`'s options, the report's table."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import random

import pytest

from synthc.cli import main
from synthc.compiler import ir
from synthc.compiler.metrics import KINDS, NAMES, command_line_settings, settings
from synthc.compiler.schema import SCHEMAS
from synthc.runtime.eval import Options
from synthc.runtime.eval.measures import MEASURES, columns
from synthc_tests_conftest import DATA


def test_both_halves_name_the_same_metrics_in_the_same_order() -> None:
    assert tuple(m.name for m in MEASURES) == NAMES == tuple(k.name for k in KINDS)
    assert all(k.doc for k in KINDS) and len({c.key for c in columns()}) == len(columns())


def test_the_schema_lists_every_metric_with_its_doc_and_every_setting() -> None:
    evaluate = SCHEMAS["evaluate"]
    names = evaluate.field("metrics").type.elem
    assert names.choices == NAMES and names.choice_docs == tuple(k.doc for k in KINDS)
    assert all(evaluate.field(f.name) == f for f in settings())


def test_every_setting_reaches_the_ir_and_the_options_by_its_name() -> None:
    ir_fields = {f.name for f in dataclasses.fields(ir.Evaluate)}
    assert {f.name for f in settings()} <= ir_fields
    opts = {f.name for f in dataclasses.fields(Options)}
    # The retrieval settings name a recipe's corpus: they drive runtime/steps/evaluate.py's IR job.
    assert {f.name for f in command_line_settings()} <= opts
    defaults = {f.name: f.default for f in dataclasses.fields(Options)}
    assert all(defaults[f.name] == f.default for f in command_line_settings()), "Options' defaults are the schema's"
    ev = ir.Evaluate(name="e", task="t", variants=("a",), real="r", train=None, metrics=("distinct",),
                     students=("tfidf_lr",), seeds=3, embedder="tfidf_svd", self_bleu_sample=7,
                     gold_plus_synthetic=True, path="p", gold_k=4)
    o = Options.of(ev.metrics, ev)
    assert (o.metrics, o.students, o.seeds, o.embedder, o.self_bleu_sample, o.gold_plus_synthetic, o.gold_k) == (
        ("distinct",), ("tfidf_lr",), 3, "tfidf_svd", 7, True, 4)


def _eval(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(["eval", *argv], out, err), out.getvalue(), err.getvalue()


def test_the_command_line_takes_each_setting_with_the_schemas_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        main(["eval", "--help"], io.StringIO(), io.StringIO())
    except SystemExit:
        pass
    text = capsys.readouterr().out
    for f in command_line_settings():
        assert "--" + f.name.replace("_", "-") in text, f.name
    assert "--collection" not in text  # a recipe-only setting
    for bad, why in ((("--seeds", "0"), "between 1 and 100"), (("--gold-k", "x"), "whole number"),
                     (("--students", "bert"), "unknown value"), (("--metrics", "bleu"), "unknown metric")):
        code, _, err = _eval("a.jsonl", "--real", "b.jsonl", *bad)
        assert code == 1 and "E701" in err and why in err, err


def _write(path: str, rows: list[dict]) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    return path


def test_text_length_catches_texts_too_short_for_the_task(tmp_path: str) -> None:
    """The metric added through the registry alone: headline-length texts against real news
    paragraphs are far from real lengths; real text sampled from the same split is near."""
    rows = [json.loads(line) for line in open(os.path.join(DATA, "ag_news", "train.jsonl"), encoding="utf-8")]
    test = [json.loads(line) for line in open(os.path.join(DATA, "ag_news", "test.jsonl"), encoding="utf-8")][:100]
    like = random.Random(0).sample(rows, 60)
    short = [dict(r, text=" ".join(r["text"].split()[:4])) for r in like]
    d = str(tmp_path)
    code, stdout, err = _eval(_write(os.path.join(d, "like.jsonl"), like), _write(os.path.join(d, "short.jsonl"), short),
                              "--real", _write(os.path.join(d, "test.jsonl"), test), "--out", os.path.join(d, "r"),
                              "--metrics", "text_length,distinct")
    assert code == 0, err
    m = json.load(open(os.path.join(d, "r", "metrics.json"), encoding="utf-8"))
    like_len, short_len = m["datasets"]["like"]["text_length"], m["datasets"]["short"]["text_length"]
    assert short_len["p50"] <= 5 < like_len["p50"]
    assert short_len["wasserstein_to_real"] > 5 * like_len["wasserstein_to_real"]
    assert m["summary"]["best"]["length_distance"] == ["like"]
    assert "length W1 to real ↓" in stdout and "mean length (tok.)" in stdout
    # Not asked for: its columns are not listed at all (reports without it keep schema 3's bytes).
    code, _, err = _eval(os.path.join(d, "like.jsonl"), "--real", os.path.join(d, "test.jsonl"),
                         "--out", os.path.join(d, "r2"), "--metrics", "distinct")
    assert code == 0, err
    rows_ = json.load(open(os.path.join(d, "r2", "metrics.json"), encoding="utf-8"))["summary"]["rows"]["like"]
    assert "length_distance" not in rows_ and "retrieval_ndcg10" in rows_
