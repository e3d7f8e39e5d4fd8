"""What a build of a plan would take from the per-row cache and what it would generate, found by
running the build itself: the scheduler (runtime/engine/scheduler.py `preview`) with a dispatcher
that only reads the cache (runtime/engine/dispatch.py CacheOnlyDispatcher), writing nothing. It
serves `synthc plan` (cached/new per node, `--tokens`), `synthc show` and `synthc diff`, so their
rows, requests, conversation histories, quota rounds, `once` values and judge requests are the
build's own — there is no second executor to drift from it.

Which nodes run: the generating nodes asked for and everything they need, and a judge between a
variant's parse and filter with its parse step. Never a filter, export or evaluate step: nothing
is written but the data memos a build writes too (runtime/store/memo.py: corpus and retrieval),
so a second look is fast.

A row the cache does not hold is *new*: the build would generate it. Its stand-in completion
(`backends.base.would_generate`) goes on through the scheduler: a later turn of its conversation
carries it as the earlier answer, and so is new too (its prompt tokens count the known messages
only: a lower bound); a `once` value not generated is read as its marked placeholder; the parse
step passes a new row on as one candidate, so a judge counts one request for it.

Quota rounds. A preview counts no round — a count runs the filters (the label oracle's
cross-validation among them) on text that may not exist. It plans each label's first round as a
build does (sized from the lock's keep rates), then, where every row of a label so far is cached,
goes on with the label's next rows while the cache holds them (`_Later`: the rows a build's later
rounds generated, planned by the build's own planner and job, a chunk at a time; the rows past
the first missing one were added only to look and are left out). `plan` says how many more
requests quota rounds may add. The cache knows requests, not who sent them: where another
variant sends identical requests, the rows its rounds added are found for this variant too.

Model loading is the build's (`ModelPool(vocab_only=True)`: the GGUF's tokenizer and chat
template, no weights), so cache keys and token counts are a build's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from synthc.compiler.plan import Plan
from synthc.runtime.backends.base import NOT_GENERATED, Backend, Completion, Request, would_generate
from synthc.runtime.engine.progress import Events
from synthc.runtime.errors import RunFailed
from synthc.runtime.prompting.rows import Planned
from synthc.runtime.store.cache import Cache

if TYPE_CHECKING:
    from synthc.runtime.engine.scheduler import More

__all__ = ["PreviewRow", "NodeRows", "Preview", "preview", "cache_path"]


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One request of a generating (or judge) node as the build sends it, and what the cache holds."""

    row: Planned
    request: Request
    cache_key: str  # also the row's identity across recipes (`synthc diff`): history and `once` values included
    completion: Completion | None  # None: not cached, a build generates it
    later: bool = False  # beyond the rendered first round (its keep-rate allowance, or a quota round)
    prompt_tokens: int | None = None  # counted when asked (new rows; cached ones too with count_cached)

    @property
    def key(self) -> str:
        return self.row.key

    @property
    def cached(self) -> bool:
        return self.completion is not None

    @property
    def max_tokens(self) -> int:
        return self.request.max_tokens

    @property
    def missing(self) -> int:
        """Earlier answers of its conversation (or `once` values) it carries that are not generated yet."""
        return sum(text.count(NOT_GENERATED) for _, text in self.request.messages)


@dataclass(frozen=True, slots=True)
class NodeRows:
    node: str  # generate:<task>.<variant> or judge:<task>.<variant>
    variant: str
    rows: tuple[PreviewRow, ...]  # data rows first (plan order), then a generate node's `once` value requests

    @property
    def cached(self) -> int:
        return sum(r.cached for r in self.rows)

    @property
    def new(self) -> int:
        return len(self.rows) - self.cached

    def new_rows(self) -> tuple[PreviewRow, ...]:
        return tuple(r for r in self.rows if not r.cached)

    def data_rows(self) -> tuple[PreviewRow, ...]:
        """The node's rows, without its `once` value requests."""
        return tuple(r for r in self.rows if r.row.once is None)

    @property
    def once(self) -> int:
        return len(self.rows) - len(self.data_rows())

    @property
    def partial(self) -> bool:
        """Some new row's count leaves out answers not generated yet (a lower bound)."""
        return any(r.missing for r in self.rows if not r.cached)


@dataclass(slots=True)
class Preview:
    nodes: dict[str, NodeRows]  # generate and judge nodes, in plan order
    cache_found: bool  # a cache existed before this look (else every row is new)
    models: Any = None  # the ModelPool (vocab-only) the keys and counts came from: `render`, `count_tokens`
    errors: dict[str, str] = field(default_factory=dict)  # generate node -> why its rows are unknown
    failures: dict[str, RunFailed] = field(default_factory=dict)  # the same, as the diagnostics

    def backend(self) -> Backend | None:
        """The first model loaded (the first generating node's), for speeds; None when none was."""
        return next(iter(self.models.backends.values()), None) if self.models is not None else None


def cache_path(plan: Plan) -> str:
    return os.path.join(plan.program.root, ".synthc", "cache.sqlite")


def preview(plan: Plan, *, recipe: str | None = None, backend: str = "llama", nodes: Sequence[str] | None = None,
            count: bool = False, count_cached: bool = False, progress: Callable[[str], None] | None = None,
            more: dict[str, More] | None = None, keep: dict[str, set[str]] | None = None) -> Preview:
    """Run the build of `nodes` (default: every generating node) against the cache, generating
    nothing. `recipe`: the spec's path, whose lock sizes first rounds as a build's. `count`: the
    prompt tokens of every new row; `count_cached`: of the cached ones too (`plan --tokens`
    comparing its estimate of a whole build with what builds spent). A node whose data or model
    cannot be loaded gets an entry in `errors`; the others are still previewed. `more`: rows to
    add after a node's rounds (`show --row`); `keep`: node -> row keys shown even when not cached."""
    from synthc.runtime.models.load import ModelPool

    found = os.path.exists(cache_path(plan))
    cache = Cache(os.path.dirname(cache_path(plan)))  # the data memos live in it (a build's too)
    say = progress or (lambda _msg: None)
    models = ModelPool(plan.program, plan.program.root, backend, vocab_only=backend == "llama")
    wanted = list(nodes) if nodes is not None else [n for n in plan.order() if plan.step(n).kind == "generate"]
    out = Preview({}, found, models)
    lock = _lock(recipe)
    try:
        try:
            jobs = _run(plan, cache if found else None, cache, models, wanted, lock, say, count, more, recipe, keep)
        except RunFailed:
            if len(wanted) == 1:
                raise
            jobs = []
            for node in wanted:  # which nodes fail, and the others' rows (memos make the reruns cheap)
                try:
                    jobs += _run(plan, cache if found else None, cache, models, [node], lock, say, count, more, recipe, keep)
                except RunFailed as failed:
                    out.errors[node] = failed.diagnostics[0].message
                    out.failures[node] = failed
    except RunFailed as failed:
        out.errors = {n: failed.diagnostics[0].message for n in wanted}
        out.failures = {n: failed for n in wanted}
        jobs = []
    finally:
        cache.close()
    by_node: dict[str, list[PreviewRow]] = {}
    for job, first, hidden in jobs:
        rows = by_node.setdefault(job.node, [])
        measure = _measure(models.get(job.model)) if count and count_cached else None
        for i in _order(job):
            c = job.completions[i]
            if c is None or job.rows[i].key in hidden:
                continue
            new = would_generate(c)
            tokens = (c.prompt_tokens if new else measure(job.requests[i]) if measure else None) if count else None
            rows.append(PreviewRow(job.rows[i], job.requests[i], job.keys[i], None if new else c,
                            first is not None and job.rows[i].once is None and job.rows[i].key not in first, tokens))
    order = {n: k for k, n in enumerate(plan.order())}
    for node in sorted(by_node, key=order.__getitem__):
        out.nodes[node] = NodeRows(node, plan.step(node).target.id, tuple(by_node[node]))
    return out


def _run(plan: Plan, lookup: Cache | None, memos: Cache, models: Any, wanted: list[str], lock: Any,
         say: Callable[[str], None], count: bool, more: dict[str, More] | None, recipe: str | None,
         keep: dict[str, set[str]] | None) -> list[tuple[Any, set[str] | None, set[str]]]:
    """The scheduler's preview of `wanted`: each finished job with its node's first-round row keys
    (None for a judge's job) and the row keys added only to look."""
    import networkx as nx

    from synthc.runtime.engine.dispatch import CacheOnlyDispatcher
    from synthc.runtime.engine.quota import between, stages
    from synthc.runtime.engine.scheduler import preview as run_preview
    from synthc.runtime.steps import Context

    found = {n: s for n in wanted if (s := stages(plan, n)) is not None}
    targets = set(wanted).union(*(between(plan, *s) for s in found.values()))  # judges (and their parse)
    run = targets.union(*(nx.ancestors(plan.graph, n) for n in targets))
    places = {s[1] for s in found.values()}  # filters: they place the quota loops (first-round sizes)
    nodes = [n for n in plan.order() if n in run or n in places]
    hidden: dict[str, set[str]] = {n: set() for n in wanted}
    hooks: dict[str, Any] = {}
    for n in wanted:
        then = (more or {}).get(n)
        hooks[n] = _Later(plan, n, hidden[n], (keep or {}).get(n, set()), then) if lookup is not None and n in found \
            else then
    ctx = Context(plan, memos, _Progress(say), models, recipe=recipe or "")  # type: ignore[arg-type]
    values, jobs = run_preview(ctx, CacheOnlyDispatcher(models, lookup, count), nodes, run, lock=lock,
                               more={n: h for n, h in hooks.items() if h is not None}, hidden=hidden)
    renders = {n: next((u for _, u in plan.inputs(n) if plan.step(u).kind == "render"), None) for n in wanted}
    out = []
    for job in jobs:
        render = renders.get(job.node)
        first = {r.key for r in values[render]} if render is not None and render in values else None
        out.append((job, first, hidden.get(job.node, set())))
    return out


class _Later:
    """A generate node's `more` hook: the rows later quota rounds of builds left in the cache.
    Where every row of a label so far is cached, the label's next rows (planned by the build's
    planner, the job continuing its conversations) are added a chunk at a time — 1, 2, 4, … 512 —
    until one is missing; it and the rows after it were added only to look (`hidden`, unless
    `keep` names them). Then `then` (the rows `show --row` asks for)."""

    def __init__(self, plan: Plan, node: str, hidden: set[str], keep: set[str], then: Any) -> None:
        self.v = plan.step(node).target
        self.render = next(u for _, u in plan.inputs(node) if plan.step(u).kind == "render")
        self.hidden, self.keep, self.then = hidden, keep, then
        self.chunk: dict[str, int] | None = None  # label -> size of its next look (None: not started)
        self.looking: dict[str, list[int]] = {}  # label -> the job rows of its last look

    def __call__(self, job: Any, values: dict[str, Any]) -> list[Planned]:
        planner = getattr(values.get(self.render), "planner", None)
        if self.chunk is None:
            labels = planner.labels if planner is not None and self.v.kind != "qa_pairs" else []
            self.chunk = {lb: 1 for lb in labels if _all_cached(job, _label_rows(job, lb))}
        rows: list[Planned] = []
        for lb in list(self.chunk):
            look = self.looking.pop(lb, [])
            missing = next((k for k, i in enumerate(look) if not _all_cached(job, [i])), None)
            if missing is not None:
                self.hidden.update(job.rows[i].key for i in look[missing:] if job.rows[i].key not in self.keep)
                del self.chunk[lb]
                continue
            if look:
                self.chunk[lb] = min(2 * self.chunk[lb], 512)
            mine = _label_rows(job, lb)
            start = max((job.rows[i].index for i in mine), default=-1) + 1
            more = planner.numbered(lb, start, self.chunk[lb]) if planner is not None else []
            if not more:  # the label's inputs ran out
                del self.chunk[lb]
                continue
            self.looking[lb] = list(range(len(job.rows) + len(rows), len(job.rows) + len(rows) + len(more)))
            rows += more
        if rows:
            return rows
        return self.then(job, values) if self.then is not None else []


def _label_rows(job: Any, label: str) -> list[int]:
    return [i for i in job.data_rows() if (job.rows[i].label or "") == label]


def _all_cached(job: Any, rows: list[int]) -> bool:
    return all(job.completions[i] is not None and not would_generate(job.completions[i]) for i in rows)


def _order(job: Any) -> list[int]:
    """A job's data rows in its order (rounds appended), then its `once` value rows."""
    data = job.data_rows()
    return data + [i for i in range(len(job.rows)) if job.rows[i].once is not None]


def _measure(backend: Backend) -> Callable[[Request], int]:
    from synthc.runtime.engine.dispatch import bare
    from synthc.runtime.prompting.history import prompt_size

    size = prompt_size(backend)
    return lambda request: size(bare(request))


def _lock(recipe: str | None) -> Any:
    """The recipe's lock (its keep rates size first rounds, as in a build); none, or unreadable: the prior."""
    if not recipe:
        return None
    from synthc.runtime.store import lock as lockfile

    try:
        return lockfile.read_lock(lockfile.lock_path(os.path.realpath(recipe)))
    except (OSError, ValueError):
        return None


class _Progress(Events):
    """The steps' events, silent except for the progress of a long step (a first retrieval)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(None, True, None)  # type: ignore[arg-type]  # quiet: never writes
        self.say = say

    def emit(self, event: str, **data: Any) -> None:
        if event == "progress":
            self.say(f"{data.get('node')}: {data.get('done')}/{data.get('total')}")

    def notice(self, text: str) -> None:
        pass  # a build's warnings (quota not met, …) are about a build, not this look
