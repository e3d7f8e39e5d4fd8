"""`retrieval`: IR metrics of QA pairs; on a recipe's qa_pairs task also Sy-SE-PQA's retriever
training (its settings name the recipe's corpus, so they are no `synthc eval` options; E314)."""

from __future__ import annotations

from synthc.compiler.fields import INT, REF, STR, Field
from synthc.compiler.metrics.base import MetricKind

__all__ = ["Retrieval"]


class Retrieval(MetricKind):
    name = "retrieval"
    doc = "QA pairs: BM25 over the positives (P@1, nDCG@10, ...); qa_pairs tasks also train and compare retrievers"
    command_line = False
    settings = (
        Field("collection", REF("corpus"), doc="qa_pairs `retrieval`: the document collection retrieved from"),
        Field("relevant", STR, doc="qa_pairs `retrieval`: field of `real`/`train` rows naming the relevant document id"),
        Field("time", STR, doc="qa_pairs `retrieval`: field ordering `real` rows; earlier half tunes fusion"),
        Field("candidates", INT(1, 1000), 100, doc="qa_pairs `retrieval`: BM25 first-stage depth"),
        Field("epochs", INT(1, 100), 1, doc="qa_pairs `retrieval`: bi-encoder fine-tuning epochs"),
        Field("queries", INT(2), doc="qa_pairs `retrieval`: evaluate on at most this many real questions"),
    )
