"""`labels = [...]`: keep only rows of these labels (reason `labels`; E107 names an unknown one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.compiler.fields import LIST, STR, Field
from synthc.compiler.filters.base import FilterKind

if TYPE_CHECKING:
    from synthc.compiler.values import Values

__all__ = ["Labels"]


class Labels(FilterKind):
    name = ir_field = "labels"
    order = 30
    settings = (Field("labels", LIST(STR), doc="keep only these labels"),)

    def lower(self, filt: Values | None, seeds: str | None) -> dict[str, Any]:
        has = filt is not None and "labels" in filt.values
        return {"labels": tuple(filt.values["labels"]) if has else None}  # type: ignore[union-attr]
