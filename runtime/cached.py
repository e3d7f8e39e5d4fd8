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
from synthc.runtime.backends.base import Backend, Request, request_key
from synthc.runtime.cache import CACHE_VERSION, Cache
from synthc.runtime.errors import RunFailed, fail
from synthc.runtime.history import Fit, fitter
from synthc.runtime.progress import Events
from synthc.runtime.rows import Planned, build_request

__all__ = ["Row", "NodeRows", "Lookup", "RowRequest", "lookup", "row_requests", "cache_path"]


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
    failures: dict[str, RunFailed] = field(default_factory=dict)  # the same, as the diagnostics
    requests: dict[str, list[RowRequest]] = field(default_factory=dict)  # generate node -> its rows' requests (keep=True)
    models: Any = None  # the ModelPool the keys and counts came from (keep=True): `render`, `count_tokens`


def cache_path(plan: Plan) -> str:
    return os.path.join(plan.program.root, ".synthc", "cache.sqlite")


def lookup(plan: Plan, *, backend: str = "llama", count: bool = False, nodes: list[str] | None = None,
           progress: Callable[[str], None] | None = None, keep: bool = False) -> Lookup:
    """Rows of every generating node (or of `nodes`), each marked cached or new; with `count`, the
    prompt tokens of the new ones. A node whose data cannot be loaded gets an entry in `errors`.
    `keep`: also keep every row's request and the model pool (`synthc show`)."""
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
                out.failures = {n: failed for n in wanted}
                return out
        for node in wanted:
            v: ir.Variant = plan.step(node).target
            render = next(u for role, u in plan.inputs(node) if plan.step(u).kind == "render")
            try:
                rows = _value(ctx, values, render, say)
            except RunFailed as failed:
                out.errors[node] = failed.diagnostics[0].message
                out.failures[node] = failed
                continue
            be = ctx.models.get(v.model)
            out.backend = out.backend or be
            fit = fitter(be, plan.program.model(v.model).context) if v.conversation is not None else None
            requests = row_requests(v, plan.program, rows, be.fingerprint(), cache if found else None, fit)
            out.nodes[node] = _node_rows(node, v, requests, be, count)
            if keep:
                out.requests[node], out.models = requests, ctx.models
    finally:
        cache.close()
    return out


@dataclass(frozen=True, slots=True)
class RowRequest:
    """One planned row's request as a build would send it, with what the cache knows of it."""

    row: Planned
    request: Request  # with the earlier turns of its conversation, as far as they are cached
    user: str  # the user message of this turn (the next turn's history repeats it)
    chain: str  # identity across recipes (see the module doc)
    completion: str | None  # the cached completion, if any
    missing: int = 0  # earlier turns of its conversation that are not generated yet (left out of `request`)


def row_requests(v: ir.Variant, program: ir.Program, rows: list[Planned], fp: str,
                 cache: Cache | None, fit: Fit | None = None) -> list[RowRequest]:
    """Every row's request in plan order, built by `build_request` exactly as a build does: a
    conversation turn carries the cached completions of the turns before it, trimmed by `fit` to
    the context as the build trims them (runtime/history.py); after the first uncached turn the
    rest of that conversation is sent without its (unknown) history."""
    out: list[RowRequest] = []
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
                if fit is not None and history.get(conv):
                    req = fit(req).request
        missing = r.turn if conv and conv in broken else 0  # sent without its history
        if cache is not None and not missing:
            completion = _peek(cache, request_key(req, fp, CACHE_VERSION))
        if conv:
            if completion is None:
                broken.add(conv)
            else:
                history.setdefault(conv, []).extend([("user", user_msg), ("assistant", completion)])
        out.append(RowRequest(r, req, user_msg, chain, completion, missing))
    return out


def _node_rows(node: str, v: ir.Variant, requests: list[RowRequest], be: Backend, count: bool) -> NodeRows:
    out: list[Row] = []
    for rr in requests:
        req, cached = rr.request, rr.completion is not None
        tokens = be.count_tokens(be.render(req)) if count and not cached else None
        out.append(Row(rr.row.key, rr.chain, cached, req.max_tokens, tokens))
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


def _vocab_only(pool: Any) -> None:
    from synthc.runtime.backends.llama import LlamaBackend, ModelLoadError
    from synthc.runtime.models import describe, fingerprint, model_path

    for m in pool.program.models:
        if m.endpoint is not None:  # a served model: its own client counts tokens
            continue
        path = model_path(m, pool.root)
        if not os.path.exists(path):
            raise fail("E501", f"model file not found: {path}", m.origin, "model declared here",
                       help="point `gguf` at an existing .gguf file")
        try:
            be = LlamaBackend(path, m.context, m.threads, f"gguf:{fingerprint(path, pool.root)}", batch=m.batch,
                              vocab_only=True)
        except ModelLoadError as exc:
            raise fail("E501", str(exc), m.origin, "model declared here",
                       help="check that the file is a complete GGUF model") from None
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
