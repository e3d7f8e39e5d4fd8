"""Sy-SE-PQA: personas from history strictly before the question, fusion, IR metrics, retriever loop."""

from __future__ import annotations

import json
import os

import pytest

from synthc.compiler import compile_file
from synthc.runtime import execute
from synthc.runtime.retrieval.ranking import fuse, ir_metrics, tune_fusion
from synthc_tests_conftest import DATA

SPEC = '''
model writer {{
  gguf = builtin("smollm2-135m")
}}

source qs {{
  path   = "{path}"
  text   = "body"
  fields = ["title", "tags", "asker", "date"]
}}

persona asker {{
  source   = qs
  user     = "asker"
  time     = "date"
  top_tags = history_top("tags", k = 2, fallback = ["newcomer"])
  asked    = history_count()
}}

task answers {{
  kind    = qa_pairs
  model   = writer
  seeds   = qs
  persona = asker
  prompt  = "Answer {{{{ seed.title }}}} for someone into {{{{ persona.top_tags | join(', ') }}}}"

  pairs {{
    query    = "{{{{ seed.title }}}}"
    positive = "{{{{ output.text }}}}"
  }}
}}

export answers {{
  task = answers
  path = "out/answers.jsonl"
}}
'''


def test_personas_use_only_history_before_the_question(tmp_path: str) -> None:
    rows = [  # one asker, questions out of file order; another asker with no history
        {"id": "q2", "title": "t2", "body": "b", "tags": ["beta"], "asker": "u1", "date": "2021-01-01"},
        {"id": "q1", "title": "t1", "body": "b", "tags": ["alpha", "beta"], "asker": "u1", "date": "2020-06-01"},
        {"id": "q0", "title": "t0", "body": "b", "tags": ["alpha"], "asker": "u1", "date": "2019-01-01"},
        {"id": "q3", "title": "t3", "body": "b", "tags": ["gamma"], "asker": "u1", "date": "2022-01-01"},
        {"id": "x0", "title": "x", "body": "b", "tags": ["delta"], "asker": "u2", "date": "2018-01-01"},
    ]
    data = os.path.join(str(tmp_path), "qs.jsonl")
    with open(data, "w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    spec = os.path.join(str(tmp_path), "p.synth")
    with open(spec, "w") as fh:
        fh.write(SPEC.format(path=data))
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    execute(result.plan, result.sources, quiet=True, backend="fake")
    out = {r["provenance"]["seed_id"]: r["provenance"]["persona"]
           for r in map(json.loads, open(os.path.join(str(tmp_path), "out", "answers.jsonl")))}
    assert out["q0"] == {"user": "u1", "top_tags": ["newcomer"], "asked": 0}  # nothing earlier: the fallback
    assert out["q1"]["top_tags"] == ["alpha"] and out["q1"]["asked"] == 1  # q2, q3 are in its future
    assert out["q2"]["top_tags"] == ["alpha", "beta"] and out["q2"]["asked"] == 2
    assert out["q3"]["top_tags"] == ["beta", "alpha"]  # beta ×2 (ties would go to the more recent)
    assert out["x0"]["top_tags"] == ["newcomer"]
    for qid, persona in out.items():  # the rule itself: no tag from the question or a later one
        me = next(r for r in rows if r["id"] == qid)
        seen = {t for r in rows if r["asker"] == me["asker"] and r["date"] < me["date"] for t in r["tags"]}
        assert set(persona["top_tags"]) <= seen | {"newcomer"}


def test_ir_metrics_and_fusion() -> None:
    pytest.importorskip("ranx")
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    bm25 = {"q1": {"a": 3.0, "b": 9.0}, "q2": {"b": 2.0, "c": 1.0}}
    dense = {"q1": {"a": 0.9, "b": 0.1}, "q2": {"b": 0.2, "c": 0.8}}
    assert ir_metrics(qrels, bm25)["P@1"] == 0.5
    fused = fuse(bm25, dense, 0.5)
    assert fused["q1"] == {"a": 0.5, "b": 0.5} and fused["q2"] == {"b": 0.5, "c": 0.5}
    w, score = tune_fusion(qrels, bm25, dense)
    assert ir_metrics(qrels, fuse(bm25, dense, w))["nDCG@10"] == score
    assert ir_metrics({"q1": {"a": 1}}, {})["P@1"] == 0.0  # a query without candidates scores zero


def test_fine_tuned_biencoder_loop_on_real_stackexchange() -> None:
    pytest.importorskip("ranx")
    from synthc.runtime.eval.embed import minilm_available
    from synthc.runtime.eval.ir import IRSetup, Query, evaluate_ir

    if not minilm_available():
        pytest.skip("needs synthc[dense]")
    se = os.path.join(DATA, "stackexchange")
    qs = [json.loads(line) for line in open(os.path.join(se, "questions.jsonl"))]
    answers = {a["id"]: a["body"] for a in map(json.loads, open(os.path.join(se, "answers.jsonl")))}
    test = [q for q in qs if q["split"] == "test" and q.get("accepted_answer_id") in answers][:16]
    train = [q for q in qs if q["split"] == "train" and q.get("accepted_answer_id") in answers][:24]
    pool = {q["accepted_answer_id"] for q in test + train} | set(sorted(answers)[:150])
    setup = IRSetup(tuple(sorted((i, answers[i]) for i in pool)),
                    tuple(Query(q["id"], f"{q['title']} {q['body']}", q["accepted_answer_id"], q["creation_date"]) for q in test),
                    candidates=20, epochs=1, max_tokens=64)
    out = evaluate_ir(setup, {"real": [(f"{q['title']} {q['body']}", answers[q["accepted_answer_id"]]) for q in train]})
    assert out["queries"] == {"validation": 8, "test": 8}
    runs = out["runs"]
    assert set(runs) == {"BM25", "MiniLM zero-shot", "BM25 + MiniLM zero-shot", "bi-encoder(real)", "BM25 + bi-encoder(real)"}
    assert runs["bi-encoder(real)"]["pairs"] == 24 and 0 <= runs["BM25 + bi-encoder(real)"]["weight"] <= 1
    assert runs["bi-encoder(real)"]["steps"] == 3 and all(x >= 0 for x in runs["bi-encoder(real)"]["loss_first_last"])
    assert all(0 <= v <= 1 for r in runs.values() for v in r["metrics"].values())
