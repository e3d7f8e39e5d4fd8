"""`chamfer`: mean cosine distance of each text to its nearest other text (blocked products)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.runtime.eval import metrics as M
from synthc.runtime.eval.measures.base import Column, Measure

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["Chamfer"]


class Chamfer(Measure):
    name = "chamfer"
    rank = 50
    embeds = True
    columns = (Column("chamfer", "Chamfer", "higher", lambda m: m.get("chamfer"), 50, plotted=True),)

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        emb = run.dataset_embedding(d)
        if len(d.texts) >= 2:
            out["chamfer"] = round(M.chamfer(emb), 6)
