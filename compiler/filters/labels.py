"""`labels = [...]`: keep only rows of these labels (reason `labels`; E107 names an unknown one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.compiler.fields import LIST, STR, Field
from synthc.compiler.filters.base import FilterKind
from synthc.compiler.symbols import did_you_mean

if TYPE_CHECKING:
    from synthc.compiler.values import Values, Variant

__all__ = ["Labels"]


def _e107_unknown(v: Variant, r: Any) -> None:
    """Each kept label must be one of the task's label set (a typo would silently drop every row)."""
    filt = v.blocks.get("filter")
    if filt is None:
        return
    labels = v.values.values.get("labels")
    label_set = r.decls["labels"].get(labels or "")
    names = list(label_set.open) if label_set is not None else []
    for lab in filt.values.get("labels") or ():
        if names and lab not in names:
            r.once("E107", f"unknown label `{lab}`", filt.spans["labels"], f"not a label of `{labels}`",
                   help=did_you_mean(lab, names) or f"labels: {', '.join(names)}")


class Labels(FilterKind):
    name = ir_field = "labels"
    order = 30
    settings = (Field("labels", LIST(STR), doc="keep only these labels"),)
    rules = (_e107_unknown,)

    def lower(self, filt: Values | None, seeds: str | None) -> dict[str, Any]:
        has = filt is not None and "labels" in filt.values
        return {"labels": tuple(filt.values["labels"]) if has else None}  # type: ignore[union-attr]
