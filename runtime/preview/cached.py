"""What a build of a plan would take from the per-row cache, and what the rest would cost, without
generating anything: `synthc plan` (cached/new per node, time for the new rows only) and
`synthc diff` (which rows a recipe change regenerates).

`lookup` runs the data steps a generating node needs (load, sample, index, retrieve, persona,
render — on demand, so a variant without retrieval never touches the retriever, and the corpus
and retrieval memos of runtime/store/memo.py make a second look nearly free), builds every row's request
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
import re
import sqlite3
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from synthc.compiler import ir
from synthc.compiler.plan import Plan
from synthc.compiler.symbols import did_you_mean
from synthc.runtime.backends.base import Backend, Request, request_key
from synthc.runtime.store.cache import CACHE_VERSION, Cache
from synthc.runtime.errors import RunFailed, fail
from synthc.runtime.prompting.history import Fit, fitter, prompt_size
from synthc.runtime.engine.progress import Events
from synthc.runtime.prompting.rows import Planned, Planner, RowPlan, build_once_request, build_request
from synthc.runtime.prompting.scope import once_key

__all__ = ["Row", "NodeRows", "Lookup", "RowRequest", "lookup", "row_requests", "later_rows", "keyed_rows",
           "row_key", "cache_path"]


@dataclass(frozen=True, slots=True)
class Row:
    key: str  # the planned row's key ("<label>/<index>")
    chain: str  # identity across recipes: own request, chained over earlier turns
    cached: bool  # its completion is in the cache
    max_tokens: int  # generation cap of its request
    prompt_tokens: int | None = None  # counted for rows that are not cached, or for all (when asked)


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
    unplanned: dict[str, dict[str, str]] = field(default_factory=dict)  # generate node -> key asked for -> why no such row


def cache_path(plan: Plan) -> str:
    return os.path.join(plan.program.root, ".synthc", "cache.sqlite")


def lookup(plan: Plan, *, backend: str = "llama", count: bool = False, nodes: list[str] | None = None,
           progress: Callable[[str], None] | None = None, keep: bool = False,
           keys: dict[str, Sequence[str]] | None = None, count_cached: bool = False) -> Lookup:
    """Rows of every generating node (or of `nodes`), each marked cached or new; with `count`, the
    prompt tokens of the new ones. A node whose data cannot be loaded gets an entry in `errors`.
    `keep`: also keep every row's request and the model pool (`synthc show`): the first round's rows,
    then (a cache existing) the rows later quota rounds of a build added, found in the cache
    (`later_rows`); `keys` (generate node -> row keys `<label>/<index>`) plans those rows as well
    when neither has them (`keyed_rows`; the reasons a key cannot be planned go to `unplanned`).
    `count_cached`: count the cached rows' prompt tokens too (`plan --tokens` comparing its estimate
    of a whole build with what builds spent)."""
    from synthc.runtime.models.load import ModelPool
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
            out.nodes[node] = _node_rows(node, v, requests, be, count, count_cached)  # `synthc plan`: the first round
            if keep:
                planner = rows.planner if isinstance(rows, RowPlan) and v.kind != "qa_pairs" else None
                if planner is not None and found:
                    requests = later_rows(v, plan.program, planner, requests, be.fingerprint(), cache, fit)
                if planner is not None and keys and keys.get(node):
                    requests, out.unplanned[node] = keyed_rows(v, plan.program, planner, requests, keys[node],
                                                               be.fingerprint(), cache if found else None, fit)
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
    later: bool = False  # planned by a quota round (runtime/engine/quota.py), beyond its label's first round


def row_requests(v: ir.Variant, program: ir.Program, rows: list[Planned], fp: str,
                 cache: Cache | None, fit: Fit | None = None) -> list[RowRequest]:
    """Every row's request in plan order, built by `build_request` exactly as a build does: a
    conversation turn carries the cached completions of the turns before it, trimmed by `fit` to
    the context as the build trims them (runtime/prompting/history.py); after the first uncached turn the
    rest of that conversation is sent without its (unknown) history."""
    out: list[RowRequest] = []
    history: dict[str, list[tuple[str, str]]] = {}  # conversation -> turns so far (cached ones)
    chains: dict[str, str] = {}  # conversation -> chain of the turn before
    broken: set[str] = set()  # conversations past their first uncached turn
    once_values: dict[tuple[str, str], str] = {}  # (block, key) -> its cached value
    for r in rows:
        once = _once(v, program, r, fp, cache, once_values)
        own, user_msg = build_request(v, program, r, [], once)
        own_key = request_key(own, fp, CACHE_VERSION)
        conv = r.conversation
        chain = _chain(chains.get(conv, ""), own_key) if conv else own_key
        req, completion = own, None
        if conv:
            chains[conv] = chain
            if conv not in broken:
                req = build_request(v, program, r, list(history.get(conv, [])), once)[0]
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


def _once(v: ir.Variant, program: ir.Program, r: Planned, fp: str, cache: Cache | None,
          memo: dict[tuple[str, str], str]) -> dict[str, str]:
    """The row's `once` values that the cache holds (the others render as placeholders:
    `rows.once_placeholder`), looked up once per (block, key)."""
    out: dict[str, str] = {}
    for o in v.once or ():
        key = once_key(v, program, r, o)
        if (o.name, key) not in memo and cache is not None:
            text = _peek(cache, request_key(build_once_request(v, program, o, key), fp, CACHE_VERSION))
            if text is not None:
                memo[(o.name, key)] = text
        if (o.name, key) in memo:
            out[o.name] = memo[(o.name, key)]
    return out


# -- rows beyond the first round: what later quota rounds of a build added -------------------------
#
# A quota round (runtime/engine/quota.py) plans rows `<label>/<index>` counting on from the label's rows so
# far, with `Planner.more` — the same rows whatever was planned before, since every choice is seeded
# from names — and the engine appends them after the earlier rounds (runtime/engine/groups.py
# GenerateJob.extend). Within a label the indices are therefore contiguous and increasing across
# rounds, and a conversation turn's history is the turns of its conversation (label, index //
# reset_after) at the indices before it. Rows given to `row_requests` per label in index order, a
# conversation's earlier turns first, so carry exactly the history a build sent; the order of the
# labels among themselves does not matter (a conversation never spans two labels).

_KEY = re.compile(r"(?P<label>.*)/(?P<index>\d+)\Z")


def row_key(key: str) -> str:
    """A row key in the planner's spelling: `ham/3` -> `ham/000003`, `3` -> `000003` (qa_pairs)."""
    m = _KEY.match(key)
    if m:
        return f"{m['label']}/{int(m['index']):06d}"
    return f"{int(key):06d}" if key.isdecimal() else key


def later_rows(v: ir.Variant, program: ir.Program, planner: Planner, requests: list[RowRequest], fp: str,
               cache: Cache, fit: Fit | None = None) -> list[RowRequest]:
    """`requests` (the first round, in plan order) with each label's later-round rows, in
    label/index order: the label's next rows as long as their requests are in the cache — the rows
    a build's quota rounds added. Looked up a chunk at a time (8 rows, doubling), so a label with
    no later rows costs a few requests and one with thousands a few dozen `row_requests` calls.

    The cache knows requests, not who sent them: where another variant sends identical requests
    (variants differing only in their filters, or a conversation's first turn and a plain variant's
    row), the rows its quota rounds added are cached for this variant too and are shown with it."""
    by_label: dict[str, list[RowRequest]] = {}
    for rr in requests:
        by_label.setdefault(rr.row.label or "", []).append(rr)
    for label in planner.labels:
        rows = by_label.setdefault(label, [])
        start, chunk = (rows[-1].row.index + 1 if rows else 0), 8
        while True:
            more = planner.more(label, start, chunk)
            got = _continued(v, program, rows, more, fp, cache, fit)
            run = next((k for k, rr in enumerate(got) if rr.completion is None), len(got))
            rows += got[:run]
            if run < chunk:  # an uncached row, or the label's retrieved inputs ran out
                break
            start, chunk = start + chunk, min(2 * chunk, 512)
    return [rr for label in by_label for rr in by_label[label]]


def keyed_rows(v: ir.Variant, program: ir.Program, planner: Planner, requests: list[RowRequest],
               keys: Sequence[str], fp: str, cache: Cache | None,
               fit: Fit | None = None) -> tuple[list[RowRequest], dict[str, str]]:
    """`requests` with the rows `keys` name that it lacks, planned as a quota round would plan them
    (`synthc show --row` of an index no build planned yet), in label/index order; and, for each key
    that names no row the variant can have, why. A conversation turn comes with the earlier turns
    of its conversation (their answers from the cache, or not generated yet), as a build sends it."""
    have = {rr.row.key for rr in requests}
    added: dict[str, RowRequest] = {}
    why: dict[str, str] = {}
    for key in keys:
        norm = row_key(key)
        if norm in have or norm in added:
            continue
        m = _KEY.match(norm)
        if m is None:
            why[key] = f"row keys are `<label>/<index>`, like `{requests[0].row.key if requests else 'label/000000'}`"
            continue
        label, index = m["label"], int(m["index"])
        if label not in planner.labels:
            why[key] = f"no label `{label}`; " + (did_you_mean(label, planner.labels) or f"labels: {', '.join(planner.labels)}")
            continue
        start = index - index % v.conversation.reset_after if v.conversation is not None else index
        rows = planner.more(label, start, index - start + 1)
        if len(rows) < index - start + 1:
            n = len(planner.more(label, 0, index + 1, finish=False))  # unfinished: only counting
            why[key] = (f"label `{label}` of `{v.id}` has {n} retrieved input(s) (each is used once): its rows are "
                        f"`{label}/000000`..`{label}/{n - 1:06d}`" if n else f"label `{label}` of `{v.id}` has no retrieved input")
            continue
        for rr in row_requests(v, program, rows, fp, cache, fit):
            if rr.row.key not in have:
                added.setdefault(rr.row.key, replace(rr, later=True))
    if not added:
        return requests, why
    order = {lb: k for k, lb in enumerate(planner.labels)}
    rows_ = sorted([*requests, *added.values()], key=lambda rr: (order.get(rr.row.label or "", len(order)), rr.row.index))
    return rows_, why


def _continued(v: ir.Variant, program: ir.Program, before: list[RowRequest], more: list[Planned], fp: str,
               cache: Cache, fit: Fit | None = None) -> list[RowRequest]:
    """The requests of `more` (a label's next rows), the first one's conversation continued from
    the turns of it in `before` (the label's rows so far, in index order: its tail)."""
    conv = more[0].conversation if more else None
    k = len(before)
    while conv and k > 0 and before[k - 1].row.conversation == conv:
        k -= 1
    prefix = [rr.row for rr in before[k:]]
    return [replace(rr, later=True) for rr in row_requests(v, program, prefix + more, fp, cache, fit)[len(prefix):]]


def _node_rows(node: str, v: ir.Variant, requests: list[RowRequest], be: Backend, count: bool,
               count_cached: bool = False) -> NodeRows:
    measure = prompt_size(be)  # what the backend's context check counts (llama.cpp: the prompt's own tokens)
    out: list[Row] = []
    for rr in requests:
        req, cached = rr.request, rr.completion is not None
        tokens = measure(req) if count and (count_cached or not cached) else None
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
    if step.kind == "index" or isinstance(step.target, ir.Corpus):
        say(f"{node}: loading")
    values[node] = run_step(ctx, node, values)
    return values[node]


def _vocab_only(pool: Any) -> None:
    from synthc.runtime.backends.llama import LlamaBackend, ModelLoadError
    from synthc.runtime.models.load import describe, fingerprint, model_path

    loaded: dict[tuple[str, int, int | None, int | None], Any] = {}
    for m in pool.program.models:
        if m.endpoint is not None:  # a served model: its own client counts tokens
            continue
        path = model_path(m, pool.root)
        same = loaded.get((path, m.context, m.threads, m.batch))
        if same is not None:  # two model blocks on one GGUF (chat and completion roles): one load
            pool.backends[m.name] = same
            pool.info[m.name] = describe(m, pool.root, same)
            continue
        if not os.path.exists(path):
            raise fail("E501", f"model file not found: {path}", m.origin, "model declared here",
                       help="point `gguf` at an existing .gguf file")
        try:
            be = LlamaBackend(path, m.context, m.threads, f"gguf:{fingerprint(path, pool.root)}", batch=m.batch,
                              vocab_only=True)
        except ModelLoadError as exc:
            raise fail("E501", str(exc), m.origin, "model declared here",
                       help="check that the file is a complete GGUF model") from None
        pool.backends[m.name] = loaded[(path, m.context, m.threads, m.batch)] = be
        pool.info[m.name] = describe(m, pool.root, be)


class _Progress(Events):
    """The steps' events, silent except for the progress of a long step (a first retrieval)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(None, True, None)  # type: ignore[arg-type]  # quiet: never writes
        self.say = say

    def emit(self, event: str, **data: Any) -> None:
        if event == "progress":
            self.say(f"{data.get('node')}: {data.get('done')}/{data.get('total')}")
