"""What a build of a plan would take from the per-row cache, and what the rest would cost, without
generating anything: `synthc plan` (cached/new per node, time for the new rows only) and
`synthc diff` (which rows a recipe change regenerates).

`lookup` runs the data steps a generating node needs (load, sample, index, retrieve, persona,
render — on demand, so a variant without retrieval never touches the retriever, and the corpus
and retrieval memos of runtime/memo.py make a second look nearly free), builds every row's request
exactly as `synthc build` does and looks its key up in `.synthc/cache.sqlite`.

Rows of a conversation carry their earlier turns' completions in the request. A turn is looked up
with the cached completions of the turns before it; after the first uncached turn the rest of that
conversation is new. Besides its cache key each row has a `chain` key — its own request (without
history) chained over the earlier turns' — which identifies the row across two recipes without
generating anything: `synthc diff` compares chains.

The llama backend is replaced here by a vocab-only load of the same GGUF (a tenth of a second; no
weights, no context): the same tokenizer, chat template and fingerprint, so counts and keys are
those of a build.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Callable

from synthc.compiler import ir
from synthc.compiler.plan import Plan
from synthc.runtime.backends.base import Backend, request_key
from synthc.runtime.cache import CACHE_VERSION, Cache
from synthc.runtime.errors import RunFailed, fail
from synthc.runtime.progress import Events
from synthc.runtime.rows import Planned, build_request

__all__ = ["Row", "NodeRows", "Lookup", "lookup", "cache_path"]


@dataclass(frozen=True, slots=True)
class Row:
    key: str  # the planned row's key ("<label>/<index>")
    chain: str  # identity across recipes: own request, chained over earlier turns
    cached: bool  # its completion is in the cache
    max_tokens: int  # generation cap of its request
    prompt_tokens: int | None = None  # counted for rows that are not cached (when asked)


@dataclass(frozen=True, slots=True)
class NodeRows:
    node: str  # generate:<task>.<variant>
    variant: str
    rows: tuple[Row, ...]
    conversation: bool = False  # prompt-token counts leave out the (not yet generated) history

    @property
    def cached(self) -> int:
        return sum(r.cached for r in self.rows)

    @property
    def new(self) -> int:
        return len(self.rows) - self.cached

    def new_rows(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if not r.cached)


@dataclass(slots=True)
class Lookup:
    nodes: dict[str, NodeRows]  # generate node -> its rows
    cache_found: bool  # a cache existed before this look (else every row is new)
    backend: Backend | None = None  # of the first model, for speeds (None when nothing was counted)
    errors: dict[str, str] = field(default_factory=dict)  # generate node -> why its rows are unknown


def cache_path(plan: Plan) -> str:
    return os.path.join(plan.program.root, ".synthc", "cache.sqlite")


def lookup(plan: Plan, *, backend: str = "llama", count: bool = False, nodes: list[str] | None = None,
           progress: Callable[[str], None] | None = None) -> Lookup:
    """Rows of every generating node (or of `nodes`), each marked cached or new; with `count`, the
    prompt tokens of the new ones. A node whose data cannot be loaded gets an entry in `errors`."""
    from synthc.runtime.executor import _State

    found = os.path.exists(cache_path(plan))
    cache = Cache(os.path.dirname(cache_path(plan)))
    state = _State(plan, plan.program.root, cache, Events(_Null(), True, None), backend, False)
    out = Lookup({}, found)
    say = progress or (lambda _msg: None)
    try:
        if backend == "llama":
            _vocab_only_backends(state)
        wanted = nodes or [n for n in plan.order() if plan.step(n).kind == "generate"]
        for node in wanted:
            v = next(x for x in plan.program.variants() if f"generate:{x.id}" == node)
            try:
                rows = _value(state, f"render:{v.id}", say)
            except RunFailed as failed:
                out.errors[node] = failed.diagnostics[0].message
                continue
            be = _backend_for(state, v.model)
            out.backend = out.backend or be
            out.nodes[node] = _node_rows(node, v, plan.program, rows, be, cache if found else None, count)
    finally:
        cache.close()
    return out


def _node_rows(node: str, v: ir.Variant, program: ir.Program, rows: list[Planned], be: Backend,
               cache: Cache | None, count: bool) -> NodeRows:
    fp = be.fingerprint()
    out: list[Row] = []
    history: dict[str, list[tuple[str, str]]] = {}  # conversation -> turns so far (cached ones)
    chains: dict[str, str] = {}  # conversation -> chain of the turn before
    broken: set[str] = set()  # conversations past their first uncached turn
    for r in rows:
        own, user_msg = build_request(v, program, r, [])
        own_key = request_key(own, fp, CACHE_VERSION)
        conv = r.conversation
        chain = _chain(chains.get(conv, ""), own_key) if conv else own_key
        req, completion = own, None
        if conv:
            chains[conv] = chain
            if conv not in broken:
                req = build_request(v, program, r, list(history.get(conv, [])))[0]
        if cache is not None and not (conv and conv in broken):
            completion = _peek(cache, request_key(req, fp, CACHE_VERSION))
        if conv:
            if completion is None:
                broken.add(conv)
            else:
                history.setdefault(conv, []).extend([("user", user_msg), ("assistant", completion)])
        tokens = be.count_tokens(be.render(req)) if count and completion is None else None
        out.append(Row(r.key, chain, completion is not None, req.max_tokens, tokens))
    return NodeRows(node, v.id, tuple(out), v.conversation is not None)


def _chain(before: str, own: str) -> str:
    return hashlib.sha256(f"{before}\x1f{own}".encode()).hexdigest()


def _peek(cache: Cache, key: str) -> str | None:
    """The cached completion's text, without touching the cache's hit/miss counters."""
    try:
        row = cache.db.execute("SELECT completion FROM generations WHERE key = ?", (key,)).fetchone()
    except sqlite3.Error:
        return None
    if row is None:
        return None
    import json

    return str(json.loads(row[0])["text"])


# -- running the data steps on demand ------------------------------------------------------------

def _value(state: Any, node: str, say: Callable[[str], None]) -> Any:
    """The output of `node`, computing only what it needs. A retrieve node builds or loads its
    index only when its memo misses, so a remembered retrieval never loads an embedder."""
    from synthc.runtime import executor

    if node in state.values:
        return state.values[node]
    plan: Plan = state.plan
    kind = plan.step(node).kind
    if kind == "retrieve":
        index = next(d for d in plan.deps(node) if d.startswith("index:"))
        for d in plan.deps(node) + [n for n in plan.deps(index) if n.startswith("load:corpus")]:
            if d != index:
                _value(state, d, say)

        def compute() -> Any:
            _value(state, index, say)
            say(f"{node}: retrieving and scoring similarity bands (embeds retrieved documents; remembered after)")
            return executor._retrieve(state, node)

        state.values[node] = executor.retrieve_memoized(state, node, compute)
        return state.values[node]
    for d in plan.deps(node):
        _value(state, d, say)
    if node.startswith(("load:corpus", "index:")):
        say(f"{node}: loading")
    state.values[node] = executor._STEPS[kind](state, node)
    return state.values[node]


def _backend_for(state: Any, model: str) -> Backend:
    from synthc.runtime.executor import _backend

    return _backend(state, model)


class _VocabOnly:
    """The llama backend's tokenizer side on a vocab-only load (no weights, no KV cache)."""

    def __new__(cls, path: str, fingerprint: str) -> Any:
        import llama_cpp

        from synthc.runtime.backends.llama import LlamaBackend, _quiet

        be = LlamaBackend.__new__(LlamaBackend)
        with _quiet():
            be.llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        be.path = path
        be._fingerprint = fingerprint
        be._formatter = be._chat_formatter()
        return be


def _vocab_only_backends(state: Any) -> None:
    from synthc.runtime.executor import _fingerprint, _model_path

    for m in state.program.models:
        path = _model_path(m, state.root)
        if not os.path.exists(path):
            raise fail("E501", f"model file not found: {path}", m.origin, "model declared here",
                       help="point `gguf` at an existing .gguf file")
        state.backends[m.name] = _VocabOnly(path, f"gguf:{_fingerprint(path, state.root)}")


class _Null:
    def write(self, _s: str) -> int:
        return 0

    def flush(self) -> None:
        pass
