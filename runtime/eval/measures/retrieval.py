"""`retrieval`: BM25 over a QA-pair dataset's positives, each query's own positive relevant. (A
recipe's qa_pairs task also trains retrievers: runtime/eval/ir.py, through `run_eval`'s IRJob.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.runtime.eval.measures.base import Column, Measure

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["Retrieval"]


class Retrieval(Measure):
    name = "retrieval"
    rank = 110
    columns = (Column("retrieval_ndcg10", "BM25 nDCG@10", "", lambda m: m.get("retrieval", {}).get("nDCG@10"), 90),)

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        if not d.queries:
            return
        from synthc.runtime.retrieval.ranking import bm25_run, ir_metrics

        ids = [f"d{i}" for i in range(len(d.texts))]
        ranked = bm25_run([(f"q{i}", q) for i, q in enumerate(d.queries)], list(zip(ids, d.texts)), k=100)
        qrels = {f"q{i}": {ids[i]: 1} for i in range(len(d.queries))}
        out["retrieval"] = ir_metrics(qrels, ranked) | {
            "what": "BM25 (k1 1.2, b 0.3) over this dataset's positives; each query's own positive is relevant"}
