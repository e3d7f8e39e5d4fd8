"""Retrieval steps: build (or load) an index, retrieve synthesis inputs and demo pairs for the seed
rows, and mine hard negatives for query/passage pairs."""

from __future__ import annotations

import os
import random
from typing import Any, Callable

from synthc.compiler import ir
from synthc.runtime.store import memo
from synthc.runtime.io.data import Record
from synthc.runtime.errors import fail
from synthc.runtime.prompting.postprocess import Candidate
from synthc.runtime.retrieval.embeddings import EmbeddingStore
from synthc.runtime.retrieval.corpora import Doc, Index, build_index, dense_similarity, encoder_identity
from synthc.runtime.store.keys import documents_digest, index_key
from synthc.runtime.prompting.rows import Pair
from synthc.runtime.prompting.scope import query_scope, render
from synthc.runtime.steps import Context, Inputs
from synthc.runtime.steps.state import Retrieval

__all__ = ["index", "deferred_index", "Deferred", "retrieve", "remembered", "search", "negatives"]


def index(ctx: Context, r: ir.Retriever, inputs: Inputs, node: str) -> Index:
    docs, digest = inputs.one("corpus")
    key = index_key(r, documents_digest(docs), encoder_identity(r))
    cache_dir = None if r.method == "random" else os.path.join(ctx.root, ".synthc", "index", key)
    # dense vectors are shared by every index, build and `synthc plan` of the project
    store = EmbeddingStore(os.path.join(ctx.root, ".synthc", "embeddings.sqlite")) \
        if r.method == "dense" or dense_similarity(r) else None
    built = build_index(r, docs, cache_dir, store)
    how = "loaded from .synthc/index" if built.cached else "built"
    # the encoder (model and backend of the stored vectors): the index key and retrieval memo carry it too
    ctx.retrieval[r.name] = Retrieval(r.method, r.k1, r.b, built.similarity_space, len(docs), digest, built.encoder)
    ctx.note(node, f"{r.method} over {len(docs)} documents ({how})")
    return built


class Deferred:
    """An index built on first use (a preview's, runtime/engine/scheduler.py `preview`): its `docs`
    come from the corpus, so a retrieval its memo remembers never loads or builds the index."""

    def __init__(self, docs: list[Doc], build: Callable[[], Index]) -> None:
        self.docs, self._build, self._index = docs, build, None

    def __getattr__(self, name: str) -> Any:
        if self._index is None:
            self._index = self._build()
        return getattr(self._index, name)


def deferred_index(ctx: Context, r: ir.Retriever, inputs: Inputs, node: str) -> Deferred:
    docs, _ = inputs.one("corpus")
    return Deferred(docs, lambda: index(ctx, r, inputs, node))


def retrieve(ctx: Context, v: ir.Variant, inputs: Inputs, node: str) -> tuple[list[Pair], list[Pair]]:
    """(synthesis inputs, RETRICL demo pairs) for the variant's (or its task's) retrieve block."""
    idx: Index = inputs.one("index")
    return remembered(ctx, v, idx.docs, inputs.one("seeds"), lambda: search(ctx, v, inputs, node))


def remembered(ctx: Context, v: ir.Variant, docs: list[Doc], seeds: list[Record],
               compute: Callable[[], tuple[list[Pair], list[Pair]]]) -> tuple[list[Pair], list[Pair]]:
    """The retrieval from its on-disk memo (runtime/store/memo.py) when nothing it depends on changed:
    the similarity bands embed every retrieved document. `compute()` runs on a miss."""
    assert v.retrieve is not None
    r = ctx.program.retriever(v.retrieve.retriever)
    return memo.retrieval(ctx.cache, v, ctx.program, r, docs, seeds, ctx.models.get(v.model).fingerprint(), compute)


def search(ctx: Context, v: ir.Variant, inputs: Inputs, node: str) -> tuple[list[Pair], list[Pair]]:
    r = v.retrieve
    assert r is not None
    idx: Index = inputs.one("index")
    be = ctx.models.get(v.model)
    pairs: list[Pair] = []
    demos: list[Pair] = []
    seeds: list[Record] = inputs.one("seeds")
    step = max(1, -(-len(seeds) // 10))
    for start in range(0, len(seeds), step):  # ten batches: BM25 and the encoder work on many queries at once,
        batch = seeds[start: start + step]  # and a first retrieval (minutes of embedding) says how far it got
        queries = [be.truncate(render(r.query, query_scope(v, ctx.program, seed)), r.query_tokens) for seed in batch]
        for seed, hits in zip(batch, idx.search_many(queries, r.k)):
            for hit in hits:
                lo, hi = r.similarity
                if r.ranks[0] <= hit.rank <= r.ranks[1] and lo <= hit.similarity <= hi:
                    pairs.append(Pair(seed, hit))
                if r.demo_ranks and r.demo_ranks[0] <= hit.rank <= r.demo_ranks[1] \
                        and r.demo_similarity[0] <= hit.similarity <= r.demo_similarity[1]:
                    demos.append(Pair(seed, hit))
        if start + step < len(seeds):
            ctx.events.emit("progress", node=node, done=start + len(batch), total=len(seeds))
    pairs = _subsample(pairs, r)
    if not pairs and seeds:
        raise fail("E525", f"retrieval kept no document for any seed of `{v.id}`: no hit has rank in "
                   f"{r.ranks[0]}..{r.ranks[1]} and similarity in {r.similarity[0]}..{r.similarity[1]} "
                   f"({idx.similarity_space}) among the top {r.k}", r.origin, "retrieve block",
                   help="widen `ranks` or `similarity`, or raise `k`; the build log shows the similarity space")
    ctx.note(node, f"{len(pairs)} inputs, {len(demos)} demo pairs (similarity: {idx.similarity_space})")
    return pairs, demos


def _subsample(pairs: list[Pair], r: ir.Retrieve) -> list[Pair]:
    """Seeded subsample that keeps retrieval order. Draws positions, not pairs, so restoring the
    order is a sort of ints (`pairs.index` made this quadratic at the paper's N)."""
    if r.per_label is None and r.total is None:
        return pairs
    rng = random.Random(r.seed)
    if r.total is not None:
        return [pairs[i] for i in sorted(rng.sample(range(len(pairs)), min(r.total, len(pairs))))]
    chosen: list[int] = []
    for label in sorted({p.seed.label or "" for p in pairs}):
        group = [i for i, p in enumerate(pairs) if (p.seed.label or "") == label]
        chosen += [group[j] for j in rng.sample(range(len(group)), min(r.per_label or 0, len(group)))]
    return [pairs[i] for i in sorted(chosen)]


def negatives(ctx: Context, v: ir.Variant, inputs: Inputs, node: str) -> list[Candidate]:
    """Hard negatives: top-k documents for the row's query, minus the positive, seeded per row."""
    from synthc.runtime.steps.outputs import record

    assert v.pairs is not None and v.pairs.negatives_from
    idx: Index = inputs.one("index")
    rows: list[Candidate] = inputs.one("candidates")
    found = idx.search_many([str(record(v, r, ctx.program).get("query", r.text)) for r in rows], v.pairs.negatives_k,
                            with_similarity=False)
    for r, all_hits in zip(rows, found):
        hits = [h for h in all_hits if h.doc.text.strip() != r.text.strip()]
        rng = random.Random(f"{r.row.seed_value}:negatives")
        chosen = rng.sample(hits, min(v.pairs.negatives, len(hits)))
        r.fields["negatives"] = [h.doc.text for h in chosen]
        r.provenance["negatives"] = [{"id": h.doc.id, "rank": h.rank} for h in chosen]
    return rows


