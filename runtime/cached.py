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
    from synthc.runtime.models import ModelPool
    from synthc.runtime.steps import Context

    found = os.path.exists(cache_path(plan))
    cache = Cache(os.path.dirname(cache_path(plan)))
    say = progress or (lambda _msg: None)
    ctx = Context(plan, cache, _Progress(say), ModelPool(plan.program, plan.program.root, backend))
    values: dict[str, Any] = {}
    out = Lookup({}, found)
    wanted = nodes or [n for n in plan.order() if plan.step(n).kind == "generate"]
    try:
        if backend == "llama":
            try:
                _vocab_only(ctx.models)
            except RunFailed as failed:  # no model file: no tokenizer, no cache keys
                out.errors = {n: failed.diagnostics[0].message for n in wanted}
                return out
        for node in wanted:
            v: ir.Variant = plan.step(node).target
            render = next(u for role, u in plan.inputs(node) if plan.step(u).kind == "render")
            try:
                rows = _value(ctx, values, render, say)
            except RunFailed as failed:
                out.errors[node] = failed.diagnostics[0].message
                continue
            be = ctx.models.get(v.model)
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

def _value(ctx: Any, values: dict[str, Any], node: str, say: Callable[[str], None]) -> Any:
    """The output of `node`, computing only what it needs. A retrieve node builds or loads its
    index only when its memo misses, so a remembered retrieval never loads an embedder."""
    from synthc.runtime.steps import inputs_of, run_step
    from synthc.runtime.steps.retrieval import remembered, search

    if node in values:
        return values[node]
    plan: Plan = ctx.plan
    step = plan.step(node)
    if step.kind == "retrieve":
        index = next(u for role, u in plan.inputs(node) if role == "index")
        corpus = next(u for role, u in plan.inputs(index) if role == "corpus")
        for u in [u for _, u in plan.inputs(node) if u != index] + [corpus]:
            _value(ctx, values, u, say)
        seeds = next(values[u] for role, u in plan.inputs(node) if role == "seeds")

        def compute() -> Any:
            _value(ctx, values, index, say)
            say(f"{node}: retrieving for {len(seeds)} seed rows (the similarity bands embed retrieved "
                "documents; remembered for next time)")
            return search(ctx, step.target, inputs_of(plan, node, values), node)

        values[node] = remembered(ctx, step.target, values[corpus][0], seeds, compute)
        return values[node]
    for u in plan.deps(node):
        _value(ctx, values, u, say)
    if step.kind == "index" or node.startswith("load:corpus"):
        say(f"{node}: loading")
    values[node] = run_step(ctx, node, values)
    return values[node]


class _VocabOnly:
    """The llama backend's tokenizer side on a vocab-only load (no weights, no KV cache): the same
    tokenizer, chat template and fingerprint as a build's backend."""

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


def _vocab_only(pool: Any) -> None:
    from synthc.runtime.models import describe, fingerprint, model_path

    for m in pool.program.models:
        if m.endpoint is not None:  # a served model: its own client counts tokens
            continue
        path = model_path(m, pool.root)
        if not os.path.exists(path):
            raise fail("E501", f"model file not found: {path}", m.origin, "model declared here",
                       help="point `gguf` at an existing .gguf file")
        be = _VocabOnly(path, f"gguf:{fingerprint(path, pool.root)}")
        pool.backends[m.name] = be
        pool.info[m.name] = describe(m, pool.root, be)


class _Progress(Events):
    """The steps' events, silent except for the progress of a long step (a first retrieval)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(None, True, None)  # type: ignore[arg-type]  # quiet: never writes
        self.say = say

    def emit(self, event: str, **data: Any) -> None:
        if event == "progress":
            self.say(f"{data.get('node')}: {data.get('done')}/{data.get('total')}")
