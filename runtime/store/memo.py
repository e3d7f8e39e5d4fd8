"""On-disk memos of the two expensive data steps, kept in the cache's `artifacts` table so that a
rebuild after a prompt edit, and `synthc plan`/`synthc diff`, never redo them:

- a corpus after rendering and token bounds (counting every document with the model's tokenizer);
- a retrieval node's output (the (seed, document) pairs after similarity bands and subsampling),
  whose similarity bands need an embedding of every retrieved document;
- the inputs a label oracle screens out of them (`retrieve { screen = true }`), which needs the
  oracle fit and cross-validated (seconds, for `synthc plan` too).

Each key is a content address of everything the output depends on — the data file's bytes, the
block's IR, the tokenizer (model fingerprint), and for retrieval the index key, the seed rows and
the params — so a memo can be reused but never be stale. A value that cannot be stored as JSON is
simply not memoised.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any, Callable

from synthc.compiler import ir
from synthc.runtime.store import keys
from synthc.runtime.store.cache import Cache
from synthc.runtime.io.data import Record, file_sha256
from synthc.runtime.retrieval.corpora import Doc, Hit, encoder_identity
from synthc.runtime.filters.oracle import Oracle
from synthc.runtime.prompting.rows import Pair

__all__ = ["corpus", "retrieval"]

Docs = tuple[list[Doc], str]  # documents and the corpus digest, as retrieval.load_corpus returns them


def corpus(cache: Cache, c: ir.Corpus, root: str, tokenizer: str, compute: Callable[[], Docs],
           tally: Counter[str] | None = None) -> Docs:
    """The corpus `c` as `compute()` loads it, from the memo when its inputs are unchanged. `tally`
    is the counter `compute` fills (retrieval.load_corpus's); a memo hit restores it."""
    path = os.path.join(root, c.path)
    if not os.path.isfile(path):  # a folder of text files, or missing: no cheap content address
        return compute()
    key = keys.corpus_key(c, file_sha256(path), tokenizer)
    hit = cache.artifact(key)
    if hit is not None:
        if tally is not None:
            tally.update(hit.get("tally", {}))
        return [Doc(d[0], d[1], d[2]) for d in hit["docs"]], str(hit["digest"])
    docs, digest = compute()
    _store(cache, key, {"docs": [[d.id, d.text, d.fields] for d in docs], "digest": digest,
                        "tally": dict(tally or {})})
    return docs, digest


def retrieval(cache: Cache, v: ir.Variant, program: ir.Program, retriever: ir.Retriever, docs: list[Doc],
              seeds: list[Record], tokenizer: str,
              compute: Callable[[], tuple[list[Pair], list[Pair]]]) -> tuple[list[Pair], list[Pair]]:
    """A retrieve node's (inputs, demos) for variant `v` over the corpus `docs`, from the memo when
    its inputs are unchanged. `compute()` runs on a miss (it may first build the index)."""
    assert v.retrieve is not None
    index = keys.index_key(retriever, keys.documents_digest(docs), encoder_identity(retriever))
    key = keys.retrieval_key(v.retrieve, program, index, tokenizer, [(s.id, s.text, s.label, s.fields) for s in seeds])
    hit = cache.artifact(key)
    if hit is not None:
        def pairs(rows: list[list[Any]]) -> list[Pair]:
            return [Pair(seeds[s], Hit(docs[d], rank, score, sim)) for s, d, rank, score, sim in rows]

        return pairs(hit["inputs"]), pairs(hit["demos"])
    inputs, demos = compute()
    seed_at = {id(s): i for i, s in enumerate(seeds)}
    doc_at = {id(d): i for i, d in enumerate(docs)}

    def rows(found: list[Pair]) -> list[list[Any]] | None:
        out = []
        for p in found:
            if id(p.seed) not in seed_at or id(p.hit.doc) not in doc_at:
                return None  # not built from these lists: do not memoise
            out.append([seed_at[id(p.seed)], doc_at[id(p.hit.doc)], p.hit.rank, p.hit.score, p.hit.similarity])
        return out

    stored_inputs, stored_demos = rows(inputs), rows(demos)
    if stored_inputs is not None and stored_demos is not None:
        _store(cache, key, {"inputs": stored_inputs, "demos": stored_demos})
    return inputs, demos


def screened(cache: Cache, o: ir.Oracle, oracle: Oracle, pairs: list[Pair],
             compute: Callable[[], frozenset[tuple[str, str]]]) -> frozenset[tuple[str, str]]:
    """(seed id, document id) of the inputs `oracle` screens out, from the memo when the oracle's
    rows, its threshold and the inputs are unchanged. `compute()` runs on a miss."""
    key = keys.screen_key(o, oracle.digest, [(p.seed.id, p.seed.label, p.hit.doc.id, p.hit.doc.text) for p in pairs])
    hit = cache.artifact(key)
    if hit is not None:
        return frozenset((s, d) for s, d in hit["screened"])
    out = compute()
    _store(cache, key, {"screened": sorted([s, d] for s, d in out)})
    return out


def _store(cache: Cache, key: str, value: dict[str, Any]) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError):  # e.g. parquet fields holding numpy values
        return
    cache.put_artifact(key, value)
