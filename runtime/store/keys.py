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
| retrieval index     | `.synthc/index/<key>/`           | ir.Retriever, its documents, encoder identity  |
| evaluation report   | `metrics.json`'s `input_digest`  | ir.Evaluate, metric code, rows, real data      |
| screened inputs     | cache `artifacts` (memo.py)      | ir.Oracle threshold, the oracle's rows, the    |
|                     |                                  | inputs (seed id + label, document id + text)   |
| keep-rate basis     | the lock's `keep_rates`          | the first request's generation key, ir.Output, |
|                     |                                  | ir.Parse, ir.Filter (see keep_rate_basis)      |

The generation key hashes the Request as before: keys of generated rows never change, so every
cache and lockfile stays valid. The judge's scores are generations (judge_request) and use it too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields, is_dataclass, replace
from collections.abc import Iterable
from typing import Any, Protocol

from synthc.compiler import ir
from synthc.compiler.dump import to_data
from synthc.runtime.backends.base import Request

__all__ = ["CACHE_VERSION", "MEMO_VERSION", "INDEX_VERSION", "generation_key", "request_key", "corpus_key", "retrieval_key",
           "screen_key", "index_key", "documents_digest", "evaluation_key", "keep_rate_basis"]

CACHE_VERSION = "1"  # generations
MEMO_VERSION = 1  # corpus and retrieval memos
INDEX_VERSION = 3  # 3: keyed by the whole retriever IR; 2: dense vectors keyed by encoder identity


class Doc(Protocol):
    """A retrieval document as keys see it (runtime/retrieval/corpora.py: Doc), without importing
    the retrieval stack into every user of the generation cache."""

    id: str
    text: str


def _sha256(blob: str) -> str:
    return hashlib.sha256(blob.encode()).hexdigest()


def generation_key(request: Request, fingerprint: str) -> str:
    """Content address of one generation under today's CACHE_VERSION."""
    return request_key(request, fingerprint, CACHE_VERSION)


def request_key(request: Request, fingerprint: str, version: str) -> str:
    """Content address of one generation: everything that can change its output (the request, the
    model fingerprint, the cache version), nothing else."""
    return _sha256(json.dumps({"r": request.data(), "m": fingerprint, "v": version}, sort_keys=True, ensure_ascii=False))


def _memo(*parts: Any) -> str:
    return _sha256(json.dumps([MEMO_VERSION, *parts], sort_keys=True, ensure_ascii=False, default=repr))


def corpus_key(c: ir.Corpus, file_sha256: str, tokenizer: str) -> str:
    """A corpus after rendering and token bounds: its block, its file's bytes, the tokenizer that
    counted the tokens (a model fingerprint)."""
    return "corpus:" + _memo(file_sha256, to_data(c), tokenizer)


def retrieval_key(r: ir.Retrieve, program: ir.Program, index: str, tokenizer: str,
                  seeds: list[tuple[str, str, str | None, dict[str, Any]]]) -> str:
    """A retrieve node's pairs: its block, the index it searched (`index_key` over the documents),
    the recipe's params (its query template may read them), the tokenizer and the seed rows. Not
    `screen`: the render step screens what was retrieved, the same pairs either way."""
    return "retrieve:" + _memo(index, to_data(replace(r, screen=None)), dict(program.params), tokenizer,
                               [list(s) for s in seeds])


def screen_key(o: ir.Oracle, oracle: str, inputs: list[tuple[str, str | None, str, str]]) -> str:
    """Which retrieved inputs a label oracle screens out: its threshold, what it learnt from
    (`Oracle.digest`) and each input (seed id and label, document id and text)."""
    return "screen:" + _memo(oracle, o.keep, o.calibrate, inputs)


def documents_digest(docs: Iterable[Doc]) -> str:
    """The documents an index holds, as it sees them (id and text after rendering, token bounds and
    the tokenizer that measured them): what `index_key` takes as `corpus_digest`."""
    h = hashlib.sha256()
    for d in docs:
        h.update(f"{d.id}\x1f{d.text}\x1e".encode())
    return h.hexdigest()


def index_key(r: ir.Retriever, corpus_digest: str, encoder: str | None) -> str:
    """A retrieval index: the retriever's block, its documents (`documents_digest`), and when
    vectors are involved the encoder's identity (model and backend: an ONNX-built index is never
    reused by torch or the other way round)."""
    return _sha256(json.dumps([INDEX_VERSION, corpus_digest, to_data(r), encoder], sort_keys=True))[:32]


def evaluation_key(ev: ir.Evaluate, version: int, code: str, encoder: bool, records: Any, real: Any, train: Any,
                   collection: str | None) -> str:
    """An evaluation report: its block, the metrics' schema version and code digest, whether the
    dense encoder is available, the synthetic rows, the real (and train) data and the collection."""
    return _sha256(json.dumps([version, code, encoder, records, real, train, to_data(ev), collection],
                              sort_keys=True, default=repr))


def keep_rate_basis(v: ir.Variant, first_key: str) -> str:
    """What a measured keep rate holds for (the lock records it with the rates): the generation key
    of the variant's first request (model, prompt, sampling, the row's data) and its output, parse
    and filter settings, `origin` spans left out so moving a line does not count. Its own walk,
    not to_data: to_data also leaves out other compare=False fields and unset `omit_none` ones,
    which would change the basis of every keep rate already committed in a lock."""
    basis = [first_key, _without_origin(v.output), _without_origin(v.parse), _without_origin(v.filter)]
    if v.retrieve is not None and v.retrieve.screen:  # screened inputs pass the oracle more often
        basis.append("screen")
    text = json.dumps(basis, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _without_origin(x: Any) -> Any:
    if is_dataclass(x) and not isinstance(x, type):
        return {f.name: _without_origin(getattr(x, f.name)) for f in fields(x) if f.name != "origin"}
    if isinstance(x, (list, tuple)):
        return [_without_origin(i) for i in x]
    if isinstance(x, dict):
        return {str(k): _without_origin(i) for k, i in x.items()}
    return x
