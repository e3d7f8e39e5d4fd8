"""`judge { model = M  rubric = "…"  scale = 1..5  keep = ">= 4" }`: a model scores each
parsed row on the scale with a constrained answer (a `select` over the scale's values), through
the same scheduler, dispatcher and cache as generation; rows whose score fails `keep` are dropped
(reason `judge`). The scoring is its own plan node, `judge:TASK.VARIANT`, between parse and filter
(runtime/prompting/judge.py builds its requests); the filter step only compares the recorded scores.
E230: a scale that is no scale; E231: a `keep` that is no comparison on it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from synthc.compiler.fields import RANGE, REF, STR, BlockSchema, Field
from synthc.compiler.filters.base import FilterKind, PlanBuilder

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.compiler.values import Values, Variant

__all__ = ["Judge", "parse_keep", "compare", "MAX_SCALE"]

MAX_SCALE = 11  # values on a scale (0..10): each is one short answer the model is constrained to
_KEEP = re.compile(r"\s*(>=|<=|==|>|<)\s*(-?\d+)\s*")


def parse_keep(text: str) -> tuple[str, int] | None:
    """`">= 4"` -> (">=", 4); None for anything that is not one comparison with an integer.

    >>> parse_keep(">= 4"), parse_keep("==5"), parse_keep("4"), parse_keep(">= 4.5")
    (('>=', 4), ('==', 5), None, None)
    """
    m = _KEEP.fullmatch(text)
    return (m.group(1), int(m.group(2))) if m else None


def _e230_e231(v: Variant, r: Any) -> None:
    """A scale of 2..MAX_SCALE values; `keep` one comparison that keeps some of them and drops some."""
    filt = v.blocks.get("filter")
    j = filt.children.get("judge") if filt is not None else None
    if j is None:
        return
    x, spans = j.values, j.spans
    lo, hi = x.get("scale") or (1, 5)
    if "scale" in x and not 2 <= hi - lo + 1 <= MAX_SCALE:
        r.once("E230", f"judge `scale` = {lo}..{hi} has {max(0, hi - lo + 1)} value(s)", spans["scale"],
               f"allowed: 2 to {MAX_SCALE} values", help="write a scale such as `scale = 1..5`")
        return
    if "keep" not in x:
        return
    keep = parse_keep(x["keep"])
    if keep is None:
        r.once("E231", f"judge `keep` = {x['keep']!r} is not a comparison", spans["keep"],
               "expected `>= N`, `> N`, `<= N`, `< N` or `== N`", help=f'keep the top scores: `keep = ">= {hi - 1}"`')
        return
    op, n = keep
    kept = [s for s in range(lo, hi + 1) if compare(op, s, n)]
    if not kept or len(kept) == hi - lo + 1:
        what = "no score" if not kept else "every score"
        r.once("E231", f"judge `keep` = {x['keep']!r} keeps {what} of the scale {lo}..{hi}", spans["keep"],
               f"{what} passes", help=f'compare with a score inside {lo}..{hi}, e.g. `keep = ">= {hi - 1}"`')


def _e315_served_judge(v: Variant, r: Any) -> None:
    """A judge on a served model needs its dialect to enforce a `select` (compiler/endpoints.py)."""
    from synthc.compiler.endpoints import HOW, SUPPORTED

    filt = v.blocks.get("filter")
    j = filt.children.get("judge") if filt is not None else None
    m = r.decls["model"].get(j.values.get("model", "")) if j is not None else None
    if m is None or "endpoint" not in m.values:
        return
    dialect, mode = str(m.values["dialect"]), str(m.values["mode"])
    if "select" not in SUPPORTED[dialect][mode]:
        r.once("E315", f"the `{dialect}` server dialect cannot constrain the judge's answer to the scale in {mode} "
               f"mode (model `{m.name}`)", j.spans["model"], "needs a select constraint",  # type: ignore[union-attr]
               help=HOW["select"])


def compare(op: str, score: int, n: int) -> bool:
    return {">=": score >= n, ">": score > n, "<=": score <= n, "<": score < n, "==": score == n}[op]


class Judge(FilterKind):
    name = ir_field = "judge"
    order = 70  # after the cheap per-row filters, before duplicates are counted
    block = BlockSchema("judge", False, (
        Field("model", REF("model"), required=True, doc="the model block that scores rows (local or an endpoint)"),
        Field("rubric", STR, required=True, doc="what a good row is: the judge's instructions, shown before each row"),
        Field("scale", RANGE("int", 0), (1, 5), doc=f"the scores the judge may answer (2 to {MAX_SCALE} integers)"),
        Field("keep", STR, required=True, doc='which scores stay: `">= N"`, `"> N"`, `"<= N"`, `"< N"` or `"== N"`'),
    ))
    card_reasons = ("judge",)
    summary_rank = 35
    rules = (_e230_e231, _e315_served_judge)
    unscored = ("judge.unknown", "without a judge score")

    def lower_block(self, block: Values, seeds: str | None) -> Any:
        from synthc.compiler import ir

        x = block.values
        op, n = parse_keep(x["keep"]) or (">=", x["scale"][1])  # checked: E231 otherwise
        return ir.Judge(model=x["model"], rubric=x["rubric"], scale=tuple(x["scale"]),  # type: ignore[arg-type]
                        keep_op=op, keep_score=n, origin=block.origin)

    def summary(self, f: ir.Filter) -> str | None:
        j = f.judge
        return f"judge {j.keep_op}{j.keep_score}" if j else None

    def plan_stage(self, v: ir.Variant, b: PlanBuilder, candidates: str) -> str:
        j = v.filter.judge
        if j is None:
            return candidates
        from synthc.compiler.plan import Step, variant_node

        m = b.p.model(j.model)
        summary = (f"model {m.name} ({m.where}, {m.mode}) scores each row {j.scale[0]}..{j.scale[1]}, "
                   f"keeps {j.keep_op} {j.keep_score}")
        return b.add(Step(variant_node("judge", v.id), "judge", summary, variant=v.id, origin=j.origin,
                          target=v), ("candidates", candidates))
