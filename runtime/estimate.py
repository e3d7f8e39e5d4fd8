"""`synthc plan --tokens`: exact prompt-token counts per generating node, from the model's own
tokenizer and the real data, and a time estimate from this machine's measured speeds.

Conversation turns are counted without their (not yet generated) history, so those counts are
lower bounds and say so."""

from __future__ import annotations

import os
import time
from typing import TextIO

from synthc.compiler import ir
from synthc.compiler.plan import Plan
from synthc.runtime.cache import Cache
from synthc.runtime.errors import RunFailed
from synthc.runtime.models import ModelPool
from synthc.runtime.progress import Events
from synthc.runtime.rows import build_request
from synthc.runtime.steps import Context, run_until

__all__ = ["estimate"]


def estimate(plan: Plan, err: TextIO) -> dict[str, str]:
    """A note per generate node: prompt tokens, the generation cap, and a time estimate."""
    renders = [n for n in plan.order() if plan.step(n).kind == "render"]
    root = plan.program.root
    ctx = Context(plan, Cache(os.path.join(root, ".synthc")), Events(err, True, None), ModelPool(plan.program, root))
    notes: dict[str, str] = {}
    try:
        values = run_until(ctx, renders)
        for node in renders:
            v: ir.Variant = plan.step(node).target
            generate = next(w for w in plan.graph.successors(node) if plan.step(w).kind == "generate")
            be = ctx.models.get(v.model)
            rows = values[node]
            t0 = time.time()
            requests = [build_request(v, plan.program, r, [])[0] for r in rows]
            total = sum(be.count_tokens(be.render(req)) for req in requests)
            cap = sum(req.max_tokens for req in requests)
            speed = _speeds(be)
            seconds = total / speed[0] + cap / speed[1]
            bound = " (lower bound: conversation history not counted)" if v.conversation else ""
            notes[generate] = (f"{total} prompt tokens{bound}, ≤ {cap} generated; "
                               f"≈ {_duration(seconds)} at {speed[0]:.0f}/{speed[1]:.0f} tok/s "
                               f"(prompt/decode; counted in {time.time() - t0:.1f}s)")
    except RunFailed as failed:
        msg = failed.diagnostics[0].message
        for node in renders:
            generate = next(w for w in plan.graph.successors(node) if plan.step(w).kind == "generate")
            notes.setdefault(generate, f"token counts unavailable: {msg}")
    finally:
        ctx.cache.close()
    return notes


def _speeds(backend: object) -> tuple[float, float]:
    """Prompt-eval and decode tokens/s: SmolLM2-135M Q4_1 on 2 cores (shared/research/runtime.md
    §3a), scaled by the model's size relative to it."""
    size = os.path.getsize(getattr(backend, "path", "")) if hasattr(backend, "path") else 98_362_432
    scale = 98_362_432 / max(size, 1)
    return 300.0 * scale, 130.0 * scale


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
