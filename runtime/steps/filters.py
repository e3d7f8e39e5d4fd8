"""The filter step: length, label, duplicate, oracle and cartography filters over a variant's
candidates (runtime/postprocess.py), with the reasons counted for the manifest."""

from __future__ import annotations

from collections import Counter

from synthc.compiler import ir
from synthc.runtime.errors import fail
from synthc.runtime.postprocess import Candidate, apply_filters
from synthc.runtime.steps import Context, Inputs

__all__ = ["filter_rows"]


def filter_rows(ctx: Context, v: ir.Variant, inputs: Inputs, node: str) -> list[Candidate]:
    rows: list[Candidate] = inputs.one("candidates")
    kept = apply_filters(rows, v.filter, inputs.get("oracle"))
    drops = ctx.dropped.setdefault(v.id, Counter())
    for r in rows:
        if r.dropped:
            drops[r.dropped.split(" ")[0]] += 1
    for r in kept:
        r.provenance["scores"] = r.scores
    if not kept and (rows or sum(drops.values())):
        why = ", ".join(f"{k} {n}" for k, n in drops.most_common()) or "no completion parsed into a row"
        raise fail("E525", f"no row of `{v.id}` survived parsing and filters (dropped: {why})",
                   v.filter.origin if v.filter.origin.file >= 0 else v.origin, "filters of this task",
                   help="loosen the filter that dropped the most rows; generations are cached, so a rebuild is quick")
    ctx.counts[v.id] = dict(Counter(r.label or "" for r in kept))
    ctx.note(node, f"kept {len(kept)} of {len(rows)}")
    return kept
