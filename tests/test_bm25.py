"""The BM25 top-k kernel (runtime/retrieval/bm25.py) on real AG News texts: the compiled and the
numpy paths give the same hits and the same score bits, both equal a full sort of bm25s's own
scores by (score descending, position ascending), and an index answers a batch as it answers
each query alone."""

from __future__ import annotations

import json
import os

import pytest

from synthc.compiler import ir
from synthc.compiler.source import NO_SPAN
from synthc.runtime.eval.embed import installed
from synthc.runtime.retrieval import bm25
from synthc.runtime.retrieval.corpora import Doc, build_index

from conftest import DATA

needs_numba = pytest.mark.skipif(not installed("numba"), reason="numba (synthc[retrieval]) is not installed")


def _texts(name: str, n: int) -> list[str]:
    with open(os.path.join(DATA, "ag_news", name), encoding="utf-8") as fh:
        return [json.loads(line)["text"] for _, line in zip(range(n), fh)]


@pytest.fixture(scope="module")
def model_and_queries() -> tuple[object, list[str], list[list[str]]]:
    import bm25s

    docs = _texts("corpus.jsonl", 400)
    docs += docs[:40]  # exact duplicates: tied scores at every rank they reach
    model = bm25s.BM25(k1=1.5, b=0.75)
    model.index(bm25s.tokenize(docs, stopwords="en", show_progress=False), show_progress=False)
    # real queries, one repeating a term, one whose terms the corpus lacks, one empty
    queries = _texts("train.jsonl", 30) + ["oil oil prices", "zzzqx unknownword", ""]
    return model, docs, bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)


def _reference(model: object, docs: list[str], tokens: list[str], k: int) -> tuple[list[int], list[float]]:
    """bm25s's full score vector, sorted by (score descending, position ascending)."""
    import numpy as np

    known = [t for t in tokens if t in model.vocab_dict]  # type: ignore[attr-defined]
    full = model.get_scores(known) if known else np.zeros(len(docs), np.float32)  # type: ignore[attr-defined]
    order = np.lexsort((np.arange(len(docs)), -full))[:k]
    return order.tolist(), full[order].tolist()


@pytest.mark.parametrize("k", [1, 10, 50, 500])
def test_numpy_kernel_equals_a_full_sort_of_bm25s_scores(model_and_queries: tuple, k: int) -> None:
    model, docs, queries = model_and_queries
    pos, score = bm25.top_k(model.scores, model.vocab_dict, queries, k, use_numba=False)
    assert pos.shape == (len(queries), min(k, len(docs)))
    for i, tokens in enumerate(queries):
        assert (pos[i].tolist(), score[i].tolist()) == _reference(model, docs, tokens, k), i


@needs_numba
@pytest.mark.parametrize("k", [1, 10, 50, 500])
def test_compiled_kernel_equals_the_numpy_one_bit_for_bit(model_and_queries: tuple, k: int) -> None:
    model, docs, queries = model_and_queries
    fast = bm25.top_k(model.scores, model.vocab_dict, queries, k, use_numba=True)
    slow = bm25.top_k(model.scores, model.vocab_dict, queries, k, use_numba=False)
    assert (fast[0] == slow[0]).all()
    assert (fast[1].view("int32") == slow[1].view("int32")).all()  # the same float32 bits


def test_ties_go_to_the_earlier_document_and_misses_fill_with_the_first_ones(model_and_queries: tuple) -> None:
    model, docs, queries = model_and_queries
    pos, score = bm25.top_k(model.scores, model.vocab_dict, queries, 50)
    for i in range(len(queries)):
        ranked = list(zip((-score[i]).tolist(), pos[i].tolist()))
        assert ranked == sorted(ranked), i  # strictly by score, then position
    # a query of unknown words matches nothing: the first documents, score 0
    assert pos[-2].tolist() == list(range(50)) and not score[-2].any()
    # a duplicate ties with its original, which ranks first
    dup = next(i for i in range(len(queries) - 3) if any(p >= 400 for p in pos[i].tolist()))
    for rank, p in enumerate(pos[dup].tolist()):
        if p >= 400:
            assert (p - 400) in pos[dup].tolist()[:rank]


def test_an_index_answers_a_batch_as_each_query_alone() -> None:
    docs = [Doc(f"d{i}", t, {}) for i, t in enumerate(_texts("corpus.jsonl", 300))]
    queries = _texts("train.jsonl", 12)
    r = ir.Retriever(name="r", corpus="c", method="bm25", k1=1.5, b=0.75, embedder="all-MiniLM-L6-v2",
                     seed=0, origin=NO_SPAN, similarity="tfidf")
    index = build_index(r, docs)
    batch = index.search_many(queries, 20)
    assert batch == [index.search(q, 20) for q in queries]
    assert all([h.rank for h in hits] == list(range(1, 21)) for hits in batch)
    assert all(h.score > 0 for hits in batch for h in hits[:5])
