"""`near_copy { of = [seeds, SOURCE]  ngram = 8 }`: drop rows sharing a span of `ngram` normalised
words with the named texts (reason `near_copy`; E217 unknown source, E218 `seeds` without seeds)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.compiler.fields import INT, LIST, BlockSchema, Field, T
from synthc.compiler.filters.base import FilterKind, PlanBuilder

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.compiler.values import Values, Variant

__all__ = ["NearCopy", "guards_demos"]


def guards_demos(v: ir.Variant) -> bool:
    """Whether `v`'s decoder is steered off copying its rows' demos (runtime/backends/copy_guard.py):
    a free-text output, demos, and a `near_copy` of the seed source the demos are drawn from."""
    nc = v.filter.near_copy
    return (nc is not None and v.fewshot is not None and v.seeds is not None and v.seeds in nc.of
            and v.output.constraint_kind == "text")


def _e218_seeds(v: Variant, r: Any) -> None:
    """`of = [seeds]` names the task's seed source, so the task must have one."""
    filt = v.blocks.get("filter")
    nc = filt.children.get("near_copy") if filt is not None else None
    if nc is None or "seeds" not in (nc.values.get("of") or ()) or v.values.values.get("seeds"):
        return
    r.once("E218", f"`near_copy` names `seeds`, but {v.label} has no `seeds`", nc.spans["of"],
           "no seed source", help="add `seeds = <source>` to the task, or name the source itself")


class NearCopy(FilterKind):
    name = ir_field = "near_copy"
    order = 50
    block = BlockSchema("near_copy", False, (
        Field("of", LIST(T("textsource", ref="source")), required=True,
              doc="`seeds` (the task's seed source) and/or source names whose texts rows must not copy"),
        Field("ngram", INT(3, 64), 8, doc="drop a row sharing a span of this many normalised words"),
    ))
    card_reasons = ("near_copy",)
    summary_rank = 40
    rules = (_e218_seeds,)

    def lower_block(self, block: Values, seeds: str | None) -> Any:
        from synthc.compiler import ir

        names = (seeds if n == "seeds" else n for n in block.values["of"])  # `seeds`: the task's (E218 if none)
        return ir.NearCopy(of=tuple(dict.fromkeys(n for n in names if n)), ngram=block.values["ngram"],
                           origin=block.origin)

    def summary(self, f: ir.Filter) -> str | None:
        nc = f.near_copy
        return f"near_copy {nc.ngram}-grams of {','.join(nc.of)}" if nc else None

    def plan_inputs(self, f: ir.Filter, b: PlanBuilder) -> list[tuple[str, str]]:
        return [("copy_of", b.load_source(name)) for name in f.near_copy.of] if f.near_copy else []
