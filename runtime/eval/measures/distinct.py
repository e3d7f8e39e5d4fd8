"""`distinct`: distinct-1 and distinct-2 per dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.runtime.eval import metrics as M
from synthc.runtime.eval.measures.base import Column, Measure

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["Distinct"]


class Distinct(Measure):
    name = "distinct"
    rank = 20
    columns = (Column("distinct_2", "distinct-2", "higher", lambda m: m.get("distinct", {}).get("distinct_2"), 20,
                      plotted=True),)

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        toks = run.dataset_tokens(d)
        out["distinct"] = {"distinct_1": round(M.distinct_n(toks, 1), 6), "distinct_2": round(M.distinct_n(toks, 2), 6)}
