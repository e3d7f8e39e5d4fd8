"""Executes a Plan: the scheduler.

One thread (this one) owns the plan, the cache and the events. It starts every node whose inputs
exist, in the plan's stable order. Synchronous steps (load, retrieve, render, parse, filter,
export, ...; runtime/steps/) run here. A generate node becomes a GenerateJob (runtime/engine/groups.py)
whose ready groups go to the Dispatcher at once — across variants and tasks, so a backend always
has many requests queued — while this thread goes on: parse, filter and export of a finished
variant run while other variants still generate. Finished groups are committed to the cache one
transaction each, with what they spent (the usage ledger, runtime/store/ledger.py). Before any of it, a
served model's context is checked against its server's (runtime/models/doctor.py; `doctor=False` skips). When a generate node's rows are all done, its quota loop (runtime/engine/quota.py)
counts the rows its parse and filter keep per label and may append another round of rows to the
same job; the node is done when every label is met or its attempt budget spent. After a filter
step, each label's kept rows beyond its quota are cut in plan order (equal N across variants). Outputs are written only after every node they depend on succeeded, each file
atomically (an export as one set); the recipe's lock last.

`preview` runs this scheduler for `synthc plan`, `show` and `diff` (runtime/preview/run.py) with a
dispatcher that only reads the cache (runtime/engine/dispatch.py CacheOnlyDispatcher) and commits
nothing: no cache rows, ledger, outputs or lock. Its quota loops plan each label's first round
(sized from the lock's keep rates) and count nothing — a count runs the filters, the label oracle
among them, on text that may not exist yet; the preview's `more` hooks add rows after the rounds
instead (what builds' later rounds left in the cache, a row `show` asks for).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, wait
from collections.abc import Callable
from typing import Any, TextIO

from synthc.compiler import ir
from synthc.compiler.diagnostics import render
from synthc.compiler.paths import recheck
from synthc.compiler.plan import Plan
from synthc.compiler.source import NO_SPAN, SourceMap
from synthc.runtime.backends.base import Completion, kv_bytes
from synthc.runtime.store.cache import CacheError, open_cache
from synthc.runtime.engine.dispatch import Dispatcher, LocalDispatcher
from synthc.runtime.store import lock as lockfile
from synthc.runtime.models.doctor import check_served_context
from synthc.runtime.engine.groups import GenerateJob, Generation
from synthc.runtime.errors import RunFailed, fail
from synthc.runtime.prompting.history import fitter
from synthc.runtime.store.ledger import Spend, new_build, recipe_key
from synthc.runtime.models.load import ModelPool
from synthc.runtime.engine.progress import Events
from synthc.runtime.engine.quota import Quota, between, intended, stages, variant_basis
from synthc.runtime.prompting.rows import RowPlan
from synthc.runtime.steps import Context, inputs_of, run_step
from synthc.runtime.steps.state import Efficiency, Groups, KeepRates, Trimmed
from synthc.runtime.io.outputs import shown
from synthc.runtime.steps.outputs import preflight, write_lock, write_run_log

__all__ = ["execute", "preview", "More", "RunFailed"]

# (preview) A generate node's hook: the rows to add once its rows so far are done, given its job and
# the values ([]: none, the node is done); asked again after the rows it added are done.
More = Callable[[GenerateJob, dict[str, Any]], list[Any]]


def execute(plan: Plan, sources: SourceMap, *, force: bool = False, select: list[str] | None = None,
            locked: bool = False, quiet: bool = False, backend: str = "llama", events: str | None = None,
            err: TextIO | None = None, dispatcher: Dispatcher | None = None, doctor: bool = True) -> str:
    """Run the plan; returns a one-paragraph summary. Raises RunFailed with E5xx diagnostics.
    `dispatcher` runs the generation groups (default: this process's backends, LocalDispatcher).
    `doctor`: before generating, check what can be checked without generating (runtime/models/doctor.py:
    a served model's context against its server's, over the connection the preflight opened)."""
    import os

    nodes = plan.order()
    if select:
        chosen = plan.select(select)
        if chosen is None:
            raise fail("E403", f"--select matched no node: {', '.join(select)}", NO_SPAN,
                       help="`synthc plan SPEC` lists the node ids")
        nodes = [n for n in nodes if n in chosen]
    outside = recheck(plan.program)  # the path policy again, just before files are opened
    if outside:
        raise RunFailed(outside)
    root = plan.program.root
    recipe = os.path.realpath(sources.files[0].path) if sources.files else os.path.join(os.path.realpath(root), "recipe")
    models = ModelPool(plan.program, root, backend)
    ctx = Context(plan, None, None, models, force, recipe=recipe)  # type: ignore[arg-type]
    new_lock, notes = preflight(ctx, nodes, sources, locked)  # refusals happen here, before any output
    if doctor:
        check_served_context(models, [plan.step(n).target.model for n in nodes if plan.step(n).kind == "generate"])
    ctx.events = Events(err or sys.stderr, quiet, events)  # E321 / E505 for an unusable --events
    exports = [n for n in nodes if plan.step(n).kind == "export"]
    dispatch = None
    started = time.time()
    try:
        for note in notes:
            ctx.note("recover", note)
        ctx.cache = open_cache(os.path.join(root, ".synthc"))
        ctx.build = new_build()
        ctx.cache.begin_build(ctx.build, recipe_key(ctx.recipe, ctx.root))
        dispatch = dispatcher or LocalDispatcher(models)
        values = _Scheduler(ctx, dispatch, nodes, _previous_lock(recipe)).run()
        write_lock(ctx, new_lock, bool(exports))
        if locked:  # a served model's weights are out of reach: say what --locked could check
            from synthc.runtime.models.served import locked_notes

            for note in locked_notes(ctx.models.info):
                ctx.note("lock", note)
        write_run_log(ctx, time.time() - started)
        ctx.cache.finish_build(ctx.build, time.time() - started, _kept(ctx, nodes))
        if ctx.warnings:
            stream = err or sys.stderr
            ctx.events.notice(render(ctx.warnings, sources, "full" if stream.isatty() else "concise"))
    except RunFailed as failed:  # the warnings met before the error are shown with it
        failed.diagnostics[:0] = ctx.warnings
        raise
    except CacheError as exc:
        raise fail("E514", f"the cache {shown(exc.path)} cannot be used: {exc.reason}", NO_SPAN,
                   help=exc.help) from None
    except OSError as exc:  # a full disk, a file-size limit, a read-only folder met mid-build
        where = f" {shown(exc.filename)}" if exc.filename else ""
        raise fail("E505", f"cannot write{where}: {exc.strerror or exc}", NO_SPAN,
                   help="free disk space or raise the limit, then rerun: finished generations are cached") from None
    finally:
        if dispatch is not None:
            dispatch.close()
        ctx.events.close()
        if ctx.cache is not None:
            ctx.cache.close()
    written = [shown(p) for n in exports for p in values[n]]
    gen = ctx.stats
    return (f"built {len(nodes)} node(s) in {time.time() - started:.1f}s: "
            f"{gen['generated']} generated, {gen['cached']} from cache, {gen['tokens']} new tokens"
            + _evaluated(ctx) + _per_kept(ctx)
            + (f"; wrote {', '.join(written)}" if written else ""))


def _per_kept(ctx: Context) -> str:
    """`; per kept row: t.a 1.25 requests, 310 prompt tokens (212 evaluated); …` of each quota variant."""
    from synthc.runtime.steps.outputs import run_efficiency

    parts = [f"{vid} {e['requests_per_kept']} requests, {e['prompt_tokens_per_kept']:.0f} prompt tokens "
             f"({e['prompt_evaluated_per_kept']:.0f} evaluated)"
             for vid, e in run_efficiency(ctx).items() if e["requests_per_kept"] is not None]
    return "; per kept row: " + "; ".join(parts) if parts else ""


def _previous_lock(recipe: str) -> dict[str, Any] | None:
    """The recipe's lock before this build (its keep rates plan first rounds); an unreadable one
    plans from the prior (writing the new lock says what is wrong with it)."""
    try:
        return lockfile.read_lock(lockfile.lock_path(recipe))
    except (OSError, ValueError):
        return None


def _generations(job: GenerateJob, rows: list[int]) -> list[Generation]:
    """The generations of rows `rows` of a job, all done."""
    return [job.generation(i) for i in rows]


def _efficiency(q: Quota, generations: list[Generation], kept: int) -> Efficiency:
    """A variant's cost per kept row, for the manifest: facts of the data (requests planned over
    every round, prompt tokens of those requests), the same whatever the cache held; the prompt
    tokens a run actually evaluated depend on the backend's prefix cache: .synthc/last-build.json."""
    return Efficiency(requests=sum(lq.requests for lq in q.labels.values()), kept=kept,
                      prompt_tokens=sum(g.completion.prompt_tokens for g in generations), **q.plan_report())


def _kept(ctx: Context, nodes: list[str]) -> dict[str, int]:
    """Generate node -> rows its filters kept in this build (its variant's final count)."""
    out = {}
    for n in nodes:
        step = ctx.plan.step(n)
        state = ctx.variants.get(step.target.id) if step.kind == "generate" else None
        if state is not None and state.kept is not None:
            out[n] = sum(state.kept.values())
    return out


def _evaluated(ctx: Context) -> str:
    """Prompt tokens evaluated ÷ sent, per variant that sent any (the rest came from the backend's
    KV cache or a server's slot cache); omitted where a backend evaluates everything it is sent
    (the fake one)."""
    tallies = [(vid, s.stats) for vid, s in sorted(ctx.variants.items()) if s.stats is not None]
    parts = [f"{vid} {c['evaluated_tokens'] / c['prompt_tokens']:.2f}"
             for vid, c in tallies if c["prompt_tokens"] and c["evaluated_tokens"] < c["prompt_tokens"]]
    return f"; prompt tokens evaluated ÷ sent: {', '.join(parts)}" if parts else ""


def preview(ctx: Context, dispatcher: Dispatcher, nodes: list[str], run: set[str], *,
            lock: dict[str, Any] | None = None, more: dict[str, More] | None = None,
            hidden: dict[str, set[str]] | None = None) -> tuple[dict[str, Any], list[GenerateJob]]:
    """Run the nodes of `run` (a subset of `nodes`, in their order; the others — a variant's
    filter — only place its quota loop, whose first round they size) and commit nothing: the
    values, and every finished generation job (generate and judge nodes). `more`: see More; a
    node's hook is asked again after the rows it added are done. `hidden`: node -> row keys left
    out of the node's value (the hooks fill it), so its parse and judge never see them."""
    s = _Scheduler(ctx, dispatcher, nodes, lock)
    s.preview, s.more, s.hidden = True, dict(more or {}), hidden if hidden is not None else {}
    s.waiting = [n for n in nodes if n in run]
    return s.run(), s.done


class _Scheduler:
    def __init__(self, ctx: Context, dispatcher: Dispatcher, nodes: list[str],
                 lock: dict[str, Any] | None = None) -> None:
        self.ctx, self.dispatcher = ctx, dispatcher
        self.preview = False  # (`preview`) commit nothing, count nothing; `more` adds rows
        self.more: dict[str, More] = {}
        self.hidden: dict[str, set[str]] = {}
        self.done: list[GenerateJob] = []  # (preview) every finished job
        self.lock = lock  # the recipe's lock as it was before this build: its recorded keep rates
        self.waiting = list(nodes)  # not started, in plan order
        self.position = {n: k for k, n in enumerate(nodes)}
        self.values: dict[str, Any] = {}
        self.jobs: dict[str, GenerateJob] = {}
        self.started: dict[str, float] = {}
        self.inflight: dict[Future[list[Completion]], tuple[GenerateJob, int]] = {}
        self.sent: dict[tuple[GenerateJob, int], float] = {}  # (job, group) -> when it went to the backend
        self.quotas: dict[str, Quota] = {}  # generate node -> its quota loop
        self.by_filter: dict[str, Quota] = {}  # filter node -> the same loop, for the cut
        self.parked: list[GenerateJob] = []  # rounds done, waiting for the filter's other inputs
        self.finishers: dict[str, Callable[[list[Any]], Any]] = {}  # judge node -> its value from the scores
        self.side: dict[GenerateJob, Callable[[list[Any]], None]] = {}  # a quota round's judge job -> what follows
        self.judge_memo: dict[str, dict[str, int | None]] = {}  # judge node -> row key -> score (quota counts)
        self.scoring: dict[str, set[str]] = {}  # judge node -> row keys its side jobs are scoring now

    def run(self) -> dict[str, Any]:
        plan = self.ctx.plan
        while self.waiting or self.jobs:
            self._harvest(block=False)
            node = next((n for n in self.waiting if all(d in self.values for d in plan.deps(n))), None)
            if node is None:
                if not self.inflight and self.parked:  # what they wait for cannot come: no more rounds
                    for job in self.parked[:]:
                        self.parked.remove(job)
                        self._job_done(job)
                    continue
                self._harvest(block=True)
                continue
            self.waiting.remove(node)
            self.started[node] = time.time()
            if plan.step(node).kind == "generate":
                self._start_job(node)
            elif plan.step(node).kind == "judge":
                self._start_judge(node)
            elif self.preview and plan.step(node).kind == "index":  # built only if a retrieval needs it
                from synthc.runtime.steps.retrieval import deferred_index

                self.values[node] = deferred_index(self.ctx, plan.step(node).target, inputs_of(plan, node, self.values), node)
                self._finish(node)
            else:
                self.values[node] = self._after(node, run_step(self.ctx, node, self.values))
                self._finish(node)
                for job in self.parked[:]:
                    self._round_done(job)
        return self.values

    def _finish(self, node: str) -> None:
        self.ctx.timings[node] = round(time.time() - self.started[node], 3)

    # -- generation ----------------------------------------------------------------------------
    def _start_job(self, node: str) -> None:
        ctx = self.ctx
        v: ir.Variant = ctx.plan.step(node).target
        planned = inputs_of(ctx.plan, node, self.values).one("rows")
        width = self.dispatcher.capacity(v.model)
        be = ctx.models.get(v.model)  # this process's copy: its tokenizer measures conversation histories
        fit = fitter(be, ctx.program.model(v.model).context) if v.conversation is not None else None
        rows = list(planned)
        after = stages(ctx.plan, node)
        if isinstance(planned, RowPlan) and v.kind != "qa_pairs" and after and after[1] in self.position:
            basis = variant_basis(v, ctx.program, planned, be.fingerprint())
            q = Quota.start(node, v, planned.planner, planned, *after,
                            rates=lockfile.keep_rates(self.lock, v.id, basis), basis=basis)
            rows += q.extra()  # each label's first round sized from its expected keep rate
            self.quotas[node] = self.by_filter[after[1]] = q
        job = GenerateJob(node, v, ctx.program, rows, width, be.fingerprint(), fit)
        self.jobs[node] = job
        ctx.variant(v).groups = Groups(job.width, len(job.groups))
        ctx.events.emit("generate_start", node=node, total=len(job.rows), width=job.width, groups=len(job.groups),
                        kv_bytes=kv_bytes(be))
        self._launch(job)

    def _start_judge(self, node: str) -> None:
        """The judge's scores of a variant's parsed rows: a generation job on the judge's model
        (batched, dispatched and cached like any), whose value is the rows with their scores.
        Rows a quota round had scored already come from the cache."""
        from synthc.runtime.prompting.judge import degenerate, record_scores

        ctx = self.ctx
        v: ir.Variant = ctx.plan.step(node).target
        j = v.filter.judge
        assert j is not None
        candidates = inputs_of(ctx.plan, node, self.values).one("candidates")
        job = self._judge_job(node, v, candidates)
        self.jobs[node] = job

        def finish(judged: list[Any]) -> list[Any]:
            dist = record_scores(j, candidates, judged)
            ctx.variant(v).judged = dist
            ctx.note(node, f"{len(judged)} rows scored by `{j.model}`: " + "; ".join(
                f"{label or '-'} " + " ".join(f"{s}:{n}" for s, n in sorted(c.items())) for label, c in sorted(dist.items())))
            if (warning := degenerate(j, v.id, dist)) is not None:
                ctx.events.notice(warning)
            return candidates

        self.finishers[node] = finish
        ctx.events.emit("generate_start", node=node, total=len(job.rows), width=job.width, groups=len(job.groups))
        self._launch(job)

    def _judge_job(self, node: str, v: ir.Variant, candidates: list[Any]) -> GenerateJob:
        from synthc.runtime.prompting.judge import judge_request, judge_rows

        ctx, j = self.ctx, v.filter.judge
        assert j is not None
        by_key = {c.key: c for c in candidates}
        return GenerateJob(node, v, ctx.program, judge_rows(v, candidates), self.dispatcher.capacity(j.model),
                           ctx.models.get(j.model).fingerprint(), model=j.model,
                           build=lambda r: judge_request(j, v, ctx.program, by_key[r.key], r.seed_value))

    def _count(self, job: GenerateJob, q: Quota, generations: list[Generation]) -> Counter[str] | None:
        """Kept rows per label if the variant's rows were `generations` (one label's, or the whole
        set). A variant with a judge counts only scored rows: its parsed rows the judge has not
        scored go to it first (a side job on the judge node, cached like the node's own, so the node
        later finds them in the cache), and the count is None until every one is scored — the
        round is done again when the side job comes back."""
        from synthc.runtime.prompting.judge import score_of

        ctx, v = self.ctx, q.variant
        judge = next((n for n in between(ctx.plan, q.parse, q.filter) if n in self.position), None)
        j = v.filter.judge if v.filter is not None else None
        if judge is None or j is None:
            return q.count(ctx, self.values, generations)
        memo = self.judge_memo.setdefault(judge, {})
        scoring = self.scoring.setdefault(judge, set())
        unscored = [c for c in q.parsed(ctx, self.values, generations) if c.dropped is None and c.key not in memo]
        missing = [c for c in unscored if c.key not in scoring]
        if missing:  # rows of a label already being scored are not sent twice
            side = self._judge_job(judge, v, missing)
            scoring.update(c.key for c in missing)
            inline = [True]  # scores found in the cache come back inside _launch: counted below, not re-entered

            def back(judged: list[Any]) -> None:
                for g in judged:
                    memo[g.row.key] = score_of(j, g.completion.text) if g.completion.finish != "error" else None
                    scoring.discard(g.row.key)
                if not inline[0]:
                    self._round_done(job)

            self.side[side] = back
            self._launch(side)
            inline[0] = False
        if any(c.key not in memo for c in unscored):
            return None

        def scored(rows: list[Any]) -> list[Any]:
            for c in rows:
                if memo.get(c.key) is not None:
                    c.scores["judge"] = float(memo[c.key])  # type: ignore[arg-type]
            return rows

        return q.count(ctx, self.values, generations, judged=scored)

    def _launch(self, job: GenerateJob) -> None:
        """Send every ready group: from the cache when all of it is there, else to the dispatcher."""
        while True:
            ready = job.ready()
            if not ready:
                break
            progressed = False
            for g in ready:
                try:
                    requests = job.prepare(g)
                except Exception as exc:  # measuring a history through a server that fails: coded
                    raise job.failure(exc, saved=self.ctx.stats["generated"]) from None
                hit = None if self.ctx.force else job.cached(g, self.ctx.cache)
                if hit is not None:
                    self._commit(job, g, hit, fresh=False)
                    progressed = True
                else:
                    job.state[g] = "running"
                    self.sent[(job, g)] = time.time()
                    self.inflight[self.dispatcher.submit(job.model, requests)] = (job, g)
            if not progressed:
                break
        self._round_done(job)

    def _round_done(self, job: GenerateJob) -> None:
        """After any progress of a job: a label whose rows are all done is counted alone and, if
        short, gets its next round at once (other labels may still be generating); when every
        label is settled and every row done, the whole set is counted and short labels get one more
        round, else the node is done (runtime/engine/quota.py). A variant with a judge does the same
        once the judge has scored the label's rows (a side job whose scores come back here; until
        then the label stays open). Each decision reads only completions."""
        if job in self.side:  # a quota round's judge scores: count what they were for now
            if job.finished:
                self.side.pop(job)(job.result())
            return
        if job.node not in self.jobs:
            return
        q = self.quotas.get(job.node)
        if q is None or self.preview:
            if job.finished:
                self._job_done(job)
            return
        pending = Counter(job.rows[i].label or "" for i in job.data_rows() if job.completions[i] is None)
        ripe = [lb for lb, lq in q.labels.items() if lq.open and not pending[lb]]
        if not ripe and not (job.finished and q.settled):
            return
        if any(u not in self.values for u in q.needs(self.ctx.plan)):
            if job not in self.parked:
                self.parked.append(job)
            return
        if job in self.parked:
            self.parked.remove(job)
        if ripe:
            extended = False
            for lb in ripe:
                mine = _generations(job, [i for i in job.data_rows() if (job.rows[i].label or "") == lb])
                counted = self._count(job, q, mine)
                if counted is None:  # the judge is scoring this label's rows first: it stays open
                    continue
                more = q.label_round(lb, counted.get(lb, 0))
                if more:
                    self._extend(job, q, more, lb)
                    extended = True
            if extended:
                self._launch(job)
                return
            if not (job.finished and q.settled):
                return
        kept = self._count(job, q, job.result())
        if kept is None:  # the judge is scoring this round's rows first
            return
        more = q.next_round(kept)
        if not more:
            self._job_done(job)
            return
        self._extend(job, q, more, None)
        self._launch(job)

    def _extend(self, job: GenerateJob, q: Quota, more: list[Any], label: str | None) -> None:
        job.extend(more)
        self.ctx.variant(job.variant).groups = Groups(job.width, len(job.groups))
        self.ctx.events.emit("generate_round", node=job.node, label=label, rows=len(more), total=len(job.rows),
                             round=max(lq.rounds for lq in q.labels.values()))

    def _after(self, node: str, value: Any) -> Any:
        """A filter step's kept rows, cut to the variant's quota (equal N); records the quota."""
        q = self.by_filter.get(node)
        if q is None:
            return value
        ctx, v = self.ctx, q.variant
        kept, surplus = q.cut(value)
        state = ctx.variant(v)
        state.keep([c.label for c in kept])
        by_label = Counter(intended(c) for c in kept)
        state.quota = q.report(by_label, surplus)
        carto = Counter({lb: n["cartography"] for lb, n in state.dropped_by_label.items() if n["cartography"]})
        state.keep_rates = KeepRates(q.basis, q.measured(by_label, surplus, carto))
        state.efficiency = _efficiency(q, self.values.get(q.node, []), len(kept))
        if surplus:
            ctx.note(node, f"cut {sum(surplus.values())} row(s) beyond the quota: kept {len(kept)}")
        short = {lb: e for lb, e in state.quota.items() if not e.met}
        if short:
            what = ", ".join(f"{lb or '(unlabelled)'} {e.kept} of {e.wanted} after {e.requests} requests"
                             for lb, e in short.items())
            ctx.events.notice(f"warning: quota not met for `{v.id}` (attempts = {v.attempts}): {what}; "
                              "loosen its filters or raise `attempts`")
        return kept

    def _harvest(self, block: bool) -> None:
        if not self.inflight:
            return
        if block:
            done, _ = wait(list(self.inflight), return_when=FIRST_COMPLETED)
        else:
            done = {f for f in self.inflight if f.done()}
        # Commit in plan order (node, then group) whatever order they finished in.
        for future in sorted(done, key=lambda f: (self.position[self.inflight[f][0].node], self.inflight[f][1])):
            job, g = self.inflight.pop(future)
            try:
                completions = future.result()
            except BaseException as exc:  # the whole group failed: name the task
                raise job.failure(exc, saved=self.ctx.stats["generated"]) from None
            self._commit(job, g, completions, fresh=True)
            self._launch(job)

    def _commit(self, job: GenerateJob, g: int, completions: list[Completion], fresh: bool) -> None:
        ctx = self.ctx
        members = job.commit(g, completions)
        if fresh and not self.preview:
            ctx.cache.put_group(job.node, job.entries(g), self._spend(job, g, completions))
        state = ctx.variant(job.variant)
        stats, usage = state.tally(), state.usage
        for c in completions:  # what the rows cost, whichever build generated them (the card's cost)
            usage["requests"] += 1
            usage["prompt_tokens"] += c.prompt_tokens
            usage["generated_tokens"] += c.completion_tokens
        first = job.done_rows - len(members)
        for k, (i, c) in enumerate(zip(members, completions)):
            for counter in (ctx.stats, stats):
                if fresh and c.finish == "error":  # rejected by the endpoint backend; not cached
                    counter["rejected"] += 1
                elif fresh:
                    counter["generated"] += 1
                    counter["tokens"] += c.completion_tokens
                    counter["prompt_tokens"] += c.prompt_tokens
                    counter["evaluated_tokens"] += c.evaluated_tokens
                else:
                    counter["cached"] += 1
            ctx.events.emit("row_done", node=job.node, done=first + k + 1, tokens=c.completion_tokens if fresh else 0,
                            row=job.rows[i].key, cached=not fresh)

    def _spend(self, job: GenerateJob, g: int, completions: list[Completion]) -> Spend:
        """The ledger entry of a freshly generated group, committed with its completions."""
        v, ctx = job.variant, self.ctx
        return Spend(build=ctx.build, recipe=recipe_key(ctx.recipe, ctx.root), node=job.node, model=v.model,
                     fingerprint=job.fingerprint, requests=len(completions),
                     prompt=sum(c.prompt_tokens for c in completions),
                     evaluated=sum(c.evaluated_tokens for c in completions),
                     generated=sum(c.completion_tokens for c in completions),
                     started=self.sent.pop((job, g), time.time()), finished=time.time())

    def _job_done(self, job: GenerateJob) -> None:
        if self.preview and job.node in self.jobs:
            hook = self.more.get(job.node)
            rows = hook(job, self.values) if hook is not None else []
            if rows:
                job.extend(rows)
                self._launch(job)
                return
            self.done.append(job)
        if job.node in self.jobs:
            del self.jobs[job.node]
            q = self.quotas.get(job.node)
            result = [g for g in job.result() if g.row.key not in self.hidden.get(job.node, ())]
            self.values[job.node] = q.ordered(result) if q is not None else result
            if job.node in self.finishers:  # a judge: its value is the rows it scored
                self.values[job.node] = self.finishers.pop(job.node)(self.values[job.node])
            rows, turns = job.trimmed()
            if rows:  # conversation histories trimmed to the context (runtime/prompting/history.py)
                v = job.variant
                self.ctx.variant(v).history = Trimmed(rows, turns)
                self.ctx.note(job.node, f"{rows} conversation turn(s) sent without their oldest {turns} earlier "
                                        f"turn(s) in all, to fit the context of {self.ctx.program.model(v.model).context}")
            self._finish(job.node)
