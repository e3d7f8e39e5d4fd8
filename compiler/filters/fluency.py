"""`fluency { min_logprob = X }`: drop rows whose mean per-token log-probability under their
generating model is below X (reason `fluency`); rows without one are kept and counted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.compiler.fields import FLOAT, BlockSchema, Field
from synthc.compiler.filters.base import FilterKind

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.compiler.values import Values

__all__ = ["Fluency"]


class Fluency(FilterKind):
    name = ir_field = "fluency"
    order = 60
    block = BlockSchema("fluency", False, (
        Field("min_logprob", FLOAT(-100, 0), required=True,
              doc="drop rows whose mean per-token log-probability under the generating model is below this"),
    ))
    card_reasons = ("fluency",)
    summary_rank = 30
    unscored = ("fluency.unknown", "without a log-prob")

    def lower_block(self, block: Values, seeds: str | None) -> Any:
        from synthc.compiler import ir

        return ir.Fluency(min_logprob=float(block.values["min_logprob"]), origin=block.origin)

    def summary(self, f: ir.Filter) -> str | None:
        return f"fluency logprob>={f.fluency.min_logprob}" if f.fluency else None
