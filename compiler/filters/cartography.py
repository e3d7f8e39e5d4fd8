"""`cartography { keep = 0.83  epochs = 6 }`: keep the most confidently learnable fraction of each
label (dataset cartography; reason `cartography`). Last: it trains on what everything else kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.compiler.fields import FLOAT, INT, BlockSchema, Field
from synthc.compiler.filters.base import FilterKind

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.compiler.values import Values

__all__ = ["Cartography"]


class Cartography(FilterKind):
    name = ir_field = "cartography"
    order = 100
    block = BlockSchema("cartography", False, (
        Field("keep", FLOAT(0, 1), 0.83, doc="keep this top fraction by confidence, per label"),
        Field("epochs", INT(2, 50), 6),
    ))
    card_reasons = ("cartography",)
    summary_rank = 60

    def lower_block(self, block: Values, seeds: str | None) -> Any:
        from synthc.compiler import ir

        return ir.Cartography(keep=float(block.values["keep"]), epochs=block.values["epochs"], origin=block.origin)

    def summary(self, f: ir.Filter) -> str | None:
        return f"cartography keep={f.cartography.keep}" if f.cartography else None
