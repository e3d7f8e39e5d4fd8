"""Ranked retrieval for IR evaluation: BM25 runs, ranx metrics, min-max score fusion.

Runs and qrels are plain dicts (`{query_id: {doc_id: score}}`), the shape ranx takes, so that
every function here is usable on its own and testable without a model.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator, Sequence

__all__ = ["IR_METRICS", "bm25_run", "ir_metrics", "fuse", "tune_fusion", "compare"]

# ranx metric name → the name the reports print (Sy-SE-PQA's table)
IR_METRICS = {"precision@1": "P@1", "ndcg@3": "nDCG@3", "ndcg@10": "nDCG@10", "recall@100": "R@100",
              "map@100": "MAP@100"}

Run = dict[str, dict[str, float]]


def bm25_run(queries: Sequence[tuple[str, str]], docs: Sequence[tuple[str, str]], k: int = 100,
             k1: float = 1.2, b: float = 0.3) -> Run:
    """Top-k BM25 (bm25s, English stopwords) for each (query id, text) over (doc id, text)."""
    import bm25s

    model = bm25s.BM25(k1=k1, b=b)
    model.index(bm25s.tokenize([t for _, t in docs], stopwords="en", show_progress=False), show_progress=False)
    k = min(k, len(docs))
    toks = bm25s.tokenize([q for _, q in queries], stopwords="en", show_progress=False)
    res, scores = model.retrieve(toks, k=k, show_progress=False, n_threads=1)
    run: Run = {}
    for (qid, _), idx, sc in zip(queries, res, scores):
        run[qid] = {docs[int(i)][0]: float(s) for i, s in zip(idx, sc) if float(s) > 0}
    return run


def _ranx(qrels: dict[str, dict[str, int]], run: Run) -> tuple[Any, Any]:
    from ranx import Qrels, Run as RanxRun

    # ranx rejects empty runs; a query with no candidates scores zero on every metric
    filled = {q: (run.get(q) or {"__none__": 0.0}) for q in qrels}
    return Qrels(qrels), RanxRun(filled)


def ir_metrics(qrels: dict[str, dict[str, int]], run: Run) -> dict[str, float]:
    """P@1, nDCG@3, nDCG@10, R@100, MAP@100 (ranx definitions, binary relevance), mean over qrels' queries."""
    from ranx import evaluate

    q, r = _ranx(qrels, run)
    with _quiet():
        scores = evaluate(q, r, list(IR_METRICS), make_comparable=True)
    return {IR_METRICS[k]: round(float(v), 6) for k, v in scores.items()}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ranx's numba kernels warn (NumbaTypeSafetyWarning) while compiling on first use in a fresh
    environment; where warnings are errors (some test runners) that would fail a correct result."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _minmax(run: Run) -> Run:
    out: Run = {}
    for q, docs in run.items():
        if not docs:
            out[q] = {}
            continue
        lo, hi = min(docs.values()), max(docs.values())
        out[q] = {d: (s - lo) / (hi - lo) if hi > lo else 1.0 for d, s in docs.items()}
    return out


def fuse(first: Run, second: Run, weight: float) -> Run:
    """Min-max normalize each run per query, then `(1 − weight)·first + weight·second`;
    documents missing from a run count as 0 there."""
    a, b = _minmax(first), _minmax(second)
    out: Run = {}
    for q in sorted(set(a) | set(b)):
        da, db = a.get(q, {}), b.get(q, {})
        out[q] = {d: (1 - weight) * da.get(d, 0.0) + weight * db.get(d, 0.0) for d in sorted(set(da) | set(db))}
    return out


def tune_fusion(qrels: dict[str, dict[str, int]], first: Run, second: Run,
                grid: Sequence[float] = tuple(i / 10 for i in range(11))) -> tuple[float, float]:
    """The weight in `grid` with the best nDCG@10 on `qrels` (ties → the smaller weight)."""
    best = (-1.0, 0.0)
    for w in grid:
        score = ir_metrics(qrels, fuse(first, second, w))["nDCG@10"]
        if score > best[0]:
            best = (score, w)
    return best[1], best[0]


def compare(qrels: dict[str, dict[str, int]], runs: dict[str, Run], max_p: float = 0.01) -> dict[str, Any]:
    """Paired Student's t-test (ranx `compare`) between every pair of runs, per metric:
    `{run: {metric: [runs it is significantly better than at max_p]}}`."""
    from ranx import compare as ranx_compare

    q, _ = _ranx(qrels, {})
    named = []
    for name, run in runs.items():
        r = _ranx(qrels, run)[1]
        r.name = name
        named.append(r)
    with _quiet():
        rep = ranx_compare(q, named, metrics=list(IR_METRICS), max_p=max_p, stat_test="student", make_comparable=True)
    return {a: {IR_METRICS[m]: sorted(b for b in runs if b != a and rep.comparisons[a, b][m]["significant"]
                                      and rep.results[a][m] > rep.results[b][m]) for m in IR_METRICS}
            for a in runs}
