"""`synthc plan`'s per-node cache status and, with `--tokens`, exact prompt-token counts and a time
estimate for the rows a build would generate — the new ones, never the cached ones.

Rows come from running the build against the cache (`runtime/preview/run.py`: the real requests,
looked up in the real cache); tokens from the model's own tokenizer. Every request a build sends is
counted: a variant's rows, its `once` values and its judge's scores (a judge node gets its own
line). A conversation turn after one not generated yet is counted without that answer, so its
count is a lower bound and says so. Quota rounds (runtime/engine/quota.py) depend on what the
filters keep: the first round is counted (sized from the lock's keep rates, as a build sizes it)
with the later rounds builds already generated; each node says how many more requests its attempt
budget allows. When a data step must run (a first index or retrieval), a progress line says so on
stderr.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence, TextIO

from synthc.compiler.plan import Plan

if TYPE_CHECKING:
    from synthc.runtime.preview.run import Preview, PreviewRow

__all__ = ["Annotations", "annotate", "speeds", "duration"]


@dataclass(slots=True)
class Annotations:
    notes: dict[str, str]  # generate node -> one line under it in `synthc plan`
    summary: str  # the last line: cached/new over all nodes, and the time for the new rows
    data: dict[str, dict[str, Any]] = field(default_factory=dict)  # for `plan --json`
    preview: Preview | None = None  # the run behind them, for `plan --prompts` to show rows from


def annotate(plan: Plan, err: TextIO, *, count: bool, backend: str = "llama", recipe: str | None = None) -> Annotations:
    """`recipe` (the spec's path): with `count`, compare each node's estimate of a whole build with
    what the recipe's builds spent on it (the usage ledger, runtime/store/ledger.py)."""
    from synthc.runtime.preview.run import cache_path, preview
    from synthc.runtime.store.ledger import recipe_key, spent

    started = time.time()
    say = _Progress(err, started)
    history = spent(cache_path(plan), recipe_key(recipe, plan.program.root)) if count and recipe else {}
    lk = preview(plan, recipe=recipe, backend=backend, count=count, progress=say, count_cached=bool(history))
    sp = speeds(lk.backend())
    notes: dict[str, str] = {}
    data: dict[str, dict[str, Any]] = {}
    total_s = 0.0
    for node, rows in lk.nodes.items():
        new = rows.new_rows()
        status = (f"all {len(rows.rows)} cached" if rows.rows and not new else
                  f"{rows.cached} cached, {len(new)} new" if lk.cache_found else f"{len(new)} new (no cache yet)")
        entry: dict[str, Any] = {"rows": len(rows.rows), "cached": rows.cached, "new": len(new)}
        if rows.once:
            entry["once"] = rows.once
            status += f" (of which {rows.once} `once` value request(s))"
        line = f"cache: {status}"
        if count:
            over = _over_context(plan, node, new)
            if over:
                entry["over_context"] = over
                line = _over_line(over) + "\n" + line
            tokens = sum(r.prompt_tokens or 0 for r in new)
            cap = sum(r.max_tokens for r in new)
            seconds = tokens / sp[0] + cap / sp[1]
            total_s += seconds
            bound = " (lower bound: earlier answers not generated yet not counted)" if rows.partial else ""
            entry.update(prompt_tokens_new=tokens, max_new_tokens=cap, seconds=round(seconds, 1))
            line += (f"; new rows: {tokens} prompt tokens{bound}, ≤ {cap} generated; ≈ {duration(seconds)} "
                     f"at {sp[0]:.0f}/{sp[1]:.0f} tok/s (prompt/decode)") if new else "; nothing to generate"
        more = _quota_budget(plan, node, len(rows.data_rows())) if plan.step(node).kind == "generate" else 0
        if more:
            entry["quota_budget"] = more
            line += f"; quota rounds may add ≤ {more} requests"
        if node in history:
            whole = _estimate(rows.rows, sp)
            entry["estimate"], entry["spent"] = whole, _spent(history[node])
            line += "\n" + _versus(whole, history[node])
        notes[node] = line
        data[node] = entry
    for node, msg in lk.errors.items():
        notes[node] = f"rows unavailable: {msg}"
    n_rows = sum(len(r.rows) for r in lk.nodes.values())
    n_cached = sum(r.cached for r in lk.nodes.values())
    summary = f"cache: {n_cached} of {n_rows} requests cached, {n_rows - n_cached} new"
    if not lk.cache_found:
        summary += f" (no cache at {os.path.relpath(os.path.join(plan.program.root, '.synthc'))} yet)"
    if count:
        summary += f"; ≈ {duration(total_s)} to generate the new ones"
    if history:
        summary += (f"; builds so far spent {sum(h.requests for h in history.values())} requests, "
                    f"{sum(h.prompt for h in history.values())} prompt and {sum(h.generated for h in history.values())} "
                    f"generated tokens, {duration(sum(h.seconds for h in history.values()))} of node time")
    return Annotations(notes, summary + f" (looked up in {time.time() - started:.1f}s)", data, lk)


def _estimate(rows: Sequence[PreviewRow], sp: tuple[float, float]) -> dict[str, Any]:
    """What this estimate says a whole build of the node costs, cached rows included: its first
    round and the later rounds found in the cache."""
    prompt = sum(r.prompt_tokens or 0 for r in rows)
    cap = sum(r.max_tokens for r in rows)
    return {"requests": len(rows), "prompt_tokens": prompt, "max_new_tokens": cap,
            "seconds": round(prompt / sp[0] + cap / sp[1], 1)}


def _spent(s: Any) -> dict[str, Any]:
    return {"builds": s.builds, "requests": s.requests, "prompt_tokens": s.prompt, "evaluated_tokens": s.evaluated,
            "generated_tokens": s.generated, "seconds": s.seconds, "kept": s.kept, "models": list(s.models)}


def _versus(est: dict[str, Any], s: Any) -> str:
    """One line: estimate vs actual. Generation stops before the cap, so generated tokens run under
    it; the estimate's requests are the first round and the later rounds found in the cache, so
    rounds no longer cached (a build since edited away) are the difference."""
    kept = f", kept {s.kept} row(s)" if s.kept is not None else ""
    return (f"spent by {s.builds} build(s): {s.requests} requests (estimated {est['requests']}), "
            f"{s.prompt} prompt tokens (estimated {est['prompt_tokens']}), {s.generated} generated "
            f"(cap {est['max_new_tokens']}), {duration(s.seconds)} (estimated {duration(est['seconds'])}){kept}")


def _over_context(plan: Plan, node: str, rows: Sequence[PreviewRow]) -> dict[str, Any] | None:
    """The new rows whose prompt plus `max_tokens` exceeds the model's `context`: a build stops with
    E506 at the first of them, so `plan --tokens` says so before any generation (a conversation
    turn's count leaves out its history, which the build trims to fit, so it is never overcounted)."""
    model = plan.program.model(plan.step(node).target.model)
    over = [r for r in rows if r.prompt_tokens is not None and r.prompt_tokens + r.max_tokens > model.context]
    if not over:
        return None
    worst = max(over, key=lambda r: r.prompt_tokens + r.max_tokens)
    return {"rows": len(over), "model": model.name, "context": model.context, "row": worst.key,
            "prompt_tokens": worst.prompt_tokens, "max_tokens": worst.max_tokens}


def _over_line(over: dict[str, Any]) -> str:
    return (f"warning: {over['rows']} row(s) do not fit the context of model `{over['model']}` (row {over['row']}: "
            f"{over['prompt_tokens']} prompt tokens + max_tokens {over['max_tokens']} > {over['context']}); the build "
            "stops with E506 — raise `context`, shorten the prompt or demos (e.g. `{{ example.text | truncate(600) }}`), "
            "or lower `shots`")


def _quota_budget(plan: Plan, node: str, first: int) -> int:
    """Requests quota rounds may add to a generate node beyond its first round (runtime/engine/quota.py)."""
    from synthc.runtime.engine.quota import budget

    found = budget(plan.step(node).target, plan.program)
    return max(0, found[1] - first) if found else 0


class _Progress:
    """Lines on stderr while a slow data step runs; silent when everything comes from memos."""

    def __init__(self, err: TextIO, started: float) -> None:
        self.err, self.started = err, started

    def __call__(self, msg: str) -> None:
        print(f"… {msg} ({time.time() - self.started:.0f}s)", file=self.err, flush=True)


def speeds(backend: object | None) -> tuple[float, float]:
    """Prompt-eval and decode tokens/s: SmolLM2-135M Q4_1 on 2 cores (shared/research/runtime.md
    §3a), scaled by the model's size relative to it."""
    path = getattr(backend, "path", "") if backend is not None else ""
    size = os.path.getsize(path) if path and os.path.exists(path) else 98_362_432
    scale = 98_362_432 / max(size, 1)
    return 300.0 * scale, 130.0 * scale


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
