"""Content addresses of everything a build stores, one function per artifact kind, all here.

An artifact's key is derived from the IR object it is computed from — all of its fields but its
source position (compiler/dump.py: `to_data`, the one IR -> data function), so a field added to
the IR invalidates old artifacts without anyone listing it — plus the inputs outside the recipe
(file bytes, a model's fingerprint, the encoder's identity, the code's version):

| artifact            | where it lives                   | derived from                                   |
|---------------------|----------------------------------|------------------------------------------------|
| generation          | the cache's `completions` rows   | the rendered Request (itself a function of the |
|                     |                                  | node's IR and the row key), model fingerprint  |
| corpus memo         | the cache's `artifacts` table    | ir.Corpus, file bytes, tokenizer               |
| retrieval memo      | the cache's `artifacts` table    | ir.Retrieve, the index key, params, seed rows  |
| retrieval index     | `.synthc/index/<key>/`           | ir.Retriever, corpus digest, encoder identity  |
| evaluation report   | `metrics.json`'s `input_digest`  | ir.Evaluate, metric code, rows, real data      |

The generation key hashes the Request as before: keys of generated rows never change, so every
cache and lockfile stays valid. The judge's scores are generations (judge_request) and use it too.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from synthc.compiler import ir
from synthc.compiler.dump import to_data
from synthc.runtime.backends.base import Request, request_key

__all__ = ["CACHE_VERSION", "MEMO_VERSION", "INDEX_VERSION", "generation_key", "corpus_key", "retrieval_key",
           "index_key", "evaluation_key"]

CACHE_VERSION = "1"  # generations
MEMO_VERSION = 1  # corpus and retrieval memos
INDEX_VERSION = 3  # 3: keyed by the whole retriever IR; 2: dense vectors keyed by encoder identity


def _sha256(blob: str) -> str:
    return hashlib.sha256(blob.encode()).hexdigest()


def generation_key(request: Request, fingerprint: str) -> str:
    """Content address of one generation: everything that can change its output, nothing else
    (backends/base.py: request_key hashes the request, the model fingerprint and CACHE_VERSION)."""
    return request_key(request, fingerprint, CACHE_VERSION)


def _memo(*parts: Any) -> str:
    return _sha256(json.dumps([MEMO_VERSION, *parts], sort_keys=True, ensure_ascii=False, default=repr))


def corpus_key(c: ir.Corpus, file_sha256: str, tokenizer: str) -> str:
    """A corpus after rendering and token bounds: its block, its file's bytes, the tokenizer that
    counted the tokens (a model fingerprint)."""
    return "corpus:" + _memo(file_sha256, to_data(c), tokenizer)


def retrieval_key(r: ir.Retrieve, program: ir.Program, index: str, tokenizer: str,
                  seeds: list[tuple[str, str, str | None, dict[str, Any]]]) -> str:
    """A retrieve node's pairs: its block, the index it searched (`index_key` over the documents),
    the recipe's params (its query template may read them), the tokenizer and the seed rows."""
    return "retrieve:" + _memo(index, to_data(r), dict(program.params), tokenizer, [list(s) for s in seeds])


def index_key(r: ir.Retriever, corpus_digest: str, encoder: str | None) -> str:
    """A retrieval index: the retriever's block, the documents, and when vectors are involved the
    encoder's identity (model and backend: an ONNX-built index is never reused by torch or the
    other way round)."""
    return _sha256(json.dumps([INDEX_VERSION, corpus_digest, to_data(r), encoder], sort_keys=True))[:32]


def evaluation_key(ev: ir.Evaluate, version: int, code: str, encoder: bool, records: Any, real: Any, train: Any,
                   collection: str | None) -> str:
    """An evaluation report: its block, the metrics' schema version and code digest, whether the
    dense encoder is available, the synthetic rows, the real (and train) data and the collection."""
    return _sha256(json.dumps([version, code, encoder, records, real, train, to_data(ev), collection],
                              sort_keys=True, default=repr))
