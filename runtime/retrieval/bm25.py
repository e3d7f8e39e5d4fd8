"""BM25 top-k over bm25s's precomputed score matrix, for many queries at once.

bm25s builds the index (a term → (documents, scores) CSC matrix); this module answers queries on
it. bm25s's own numpy retrieval answers ~10 queries/s at 1M documents, and its numba kernel is
compiled afresh in every process (5-15 s here) and orders tied scores as its heap happens to leave
them. Here the kernel (one pass over the query terms' postings into a score per document, one scan
of the documents through a k-heap) is compiled once per machine (numba's on-disk cache), runs a
whole batch of queries in one call, and orders hits totally:

- a document's score is the float32 sum of its term scores in query-token order (bm25s's sum, the
  same bits; a term repeated in the query counts as often as it appears, as in bm25s);
- hits are sorted by score descending, then by document position ascending (ties included);
- when fewer than `k` documents contain a query term, the top-k is filled with the lowest-position
  documents that contain none, at score 0.
The numpy path (numba not installed) computes exactly the same hits and scores; tests compare them.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

try:  # this module is imported only when a BM25 index answers queries (runtime/retrieval/corpora.py)
    import numba
except ImportError:  # the numpy kernel computes the same hits, slower
    numba = None

__all__ = ["top_k", "kernel"]


def _compiled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """numba's compiled version of `fn` when numba is installed. cache=True keeps the machine code
    beside this file (or in numba's user cache when the package folder is read-only), so only the
    first process on a machine compiles (seconds); nogil leaves other threads running."""
    return numba.njit(cache=True, nogil=True)(fn) if numba is not None else fn


def top_k(scores: dict[str, Any], vocab: dict[str, int], queries: Sequence[Sequence[str]], k: int,
          use_numba: bool | None = None) -> tuple[Any, Any]:
    """(positions, scores): two (len(queries), k) arrays, int64 and float32, best hit first.

    `scores` is a bm25s model's `scores` dict (data, indices, indptr, num_docs), `vocab` its
    `vocab_dict`, `queries` the tokenized queries (tokens outside the vocabulary are ignored)."""
    import numpy as np

    n_docs = int(scores["num_docs"])
    k = min(k, n_docs)
    ids = [[vocab[t] for t in q if t in vocab] for q in queries]
    ptr = np.zeros(len(ids) + 1, np.int64)
    ptr[1:] = np.cumsum([len(q) for q in ids])
    flat = np.fromiter((t for q in ids for t in q), np.int64, int(ptr[-1]))
    out_pos = np.zeros((len(ids), k), np.int64)
    out_score = np.zeros((len(ids), k), np.float32)
    data, indices, indptr = (np.asarray(scores[name]) for name in ("data", "indices", "indptr"))
    run = kernel(use_numba)
    if run is _numpy_kernel:
        run(data, indices, indptr, ptr, flat, n_docs, out_pos, out_score)
    else:  # the compiled loops get their scratch arrays from here (numba code cannot import numpy)
        run(data, indices, indptr, ptr, flat, out_pos, out_score, np.zeros(n_docs, np.float32),
            np.empty(k, np.float32), np.empty(k, np.int64))
    return out_pos, out_score


def kernel(use_numba: bool | None = None) -> Any:
    """The compiled kernel when numba is installed (None) or asked for (True), else the numpy one."""
    if use_numba is False or (use_numba is None and numba is None):
        return _numpy_kernel
    if numba is None:
        raise ImportError("the compiled BM25 kernel needs numba")
    return _top_k_loops


@_compiled
def _top_k_loops(data: Any, indices: Any, indptr: Any, ptr: Any, flat: Any, out_pos: Any, out_score: Any,
                 acc: Any, heap_s: Any, heap_d: Any) -> None:
    """The kernel numba compiles (plain loops; far too slow uncompiled, see `_numpy_kernel`).

    Per query: add the term scores into `acc` (zeroed, one slot per document), then scan the
    documents in position order keeping the k best in a heap whose root is the worst kept. In
    position order a later document with the root's score is worse than it, so one comparison
    (`>`) skips almost every document. The heap is popped into the output best first, filled up
    with score-0 documents, and `acc` is zeroed again. Term scores are positive (BM25's idf is)."""
    k = out_pos.shape[1]
    n_docs = acc.shape[0]
    for q in range(ptr.shape[0] - 1):
        for t in range(ptr[q], ptr[q + 1]):
            term = flat[t]
            for j in range(indptr[term], indptr[term + 1]):
                acc[indices[j]] += data[j]
        size = 0
        for d in range(n_docs):
            s = acc[d]
            if size < k:
                if s <= 0:
                    continue
                pos = size  # push, then sift up: a parent is worse than its children
                size += 1
                while pos > 0:
                    parent = (pos - 1) >> 1
                    if heap_s[parent] > s or (heap_s[parent] == s and heap_d[parent] < d):
                        heap_s[pos] = heap_s[parent]
                        heap_d[pos] = heap_d[parent]
                        pos = parent
                    else:
                        break
                heap_s[pos] = s
                heap_d[pos] = d
            elif s > heap_s[0]:  # replace the worst kept, sift down
                _sift_down(heap_s, heap_d, 0, size, s, d)
        for slot in range(size - 1, -1, -1):  # pop the worst into the last free slot
            out_score[q, slot] = heap_s[0]
            out_pos[q, slot] = heap_d[0]
            _sift_down(heap_s, heap_d, 0, slot, heap_s[slot], heap_d[slot])
        d = 0
        for slot in range(size, k):
            while acc[d] > 0:
                d += 1
            out_pos[q, slot] = d
            out_score[q, slot] = 0.0
            d += 1
        acc[:] = 0.0


@_compiled
def _sift_down(heap_s: Any, heap_d: Any, pos: int, size: int, s: float, d: int) -> None:
    """Put (s, d) at `pos` of the heap's first `size` slots and move it down past better children."""
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and (heap_s[child] > heap_s[child + 1]
                                 or (heap_s[child] == heap_s[child + 1] and heap_d[child] < heap_d[child + 1])):
            child += 1  # the worse child
        if s > heap_s[child] or (s == heap_s[child] and d < heap_d[child]):
            heap_s[pos] = heap_s[child]
            heap_d[pos] = heap_d[child]
            pos = child
        else:
            break
    heap_s[pos] = s
    heap_d[pos] = d


def _numpy_kernel(data: Any, indices: Any, indptr: Any, ptr: Any, flat: Any, n_docs: int,
                  out_pos: Any, out_score: Any) -> None:
    """The same hits and scores with numpy operations (no numba): the sum runs term by term in
    query order, as the compiled kernel's does, so every score has the same bits."""
    import numpy as np

    k = out_pos.shape[1]
    acc = np.zeros(n_docs, np.float32)
    for q in range(len(ptr) - 1):
        for term in flat[ptr[q]: ptr[q + 1]]:
            a, b = int(indptr[term]), int(indptr[term + 1])
            acc[indices[a:b]] += data[a:b]  # a term's postings name each document once
        hit = np.flatnonzero(acc > 0)
        if len(hit) > k:  # keep the scores at or above the k-th best (ties included), then order them
            kth = np.partition(acc[hit], len(hit) - k)[len(hit) - k]
            hit = hit[acc[hit] >= kth]
        best = hit[np.lexsort((hit, -acc[hit]))[:k]]
        out_pos[q, : len(best)] = best
        out_score[q, : len(best)] = acc[best]
        if len(best) < k:
            out_pos[q, len(best):] = np.flatnonzero(acc <= 0)[: k - len(best)]
            out_score[q, len(best):] = 0.0
        acc[:] = 0.0
