"""`dedupe = exact | near(t) | none`: duplicates after the per-row filters (reasons `dedupe.*`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.compiler.fields import Field, T
from synthc.compiler.filters.base import FilterKind

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.compiler.values import Values

__all__ = ["Dedupe"]


class Dedupe(FilterKind):
    name = ir_field = "dedupe"
    order = 80
    settings = (Field("dedupe", T("dedupe"), "exact"),)
    card_reasons = ("dedupe.*",)
    summary_rank = 10

    def lower(self, filt: Values | None, seeds: str | None) -> dict[str, Any]:
        x = filt.values["dedupe"] if filt is not None else "exact"
        dedupe, threshold = x if isinstance(x, tuple) else (x, 1.0)
        return {"dedupe": dedupe, "near_threshold": float(threshold)}

    def value(self, f: ir.Filter) -> Any:
        return None if f.dedupe == "none" else f.dedupe

    def summary(self, f: ir.Filter) -> str | None:
        return f"dedupe={f.dedupe}" + (f"({f.near_threshold})" if f.dedupe == "near" else "")
