"""`remote_clique`: mean cosine distance of each text to all others (exact in O(N·d))."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.runtime.eval import metrics as M
from synthc.runtime.eval.measures.base import Column, Measure

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["RemoteClique"]


class RemoteClique(Measure):
    name = "remote_clique"
    rank = 40
    embeds = True
    columns = (Column("remote_clique", "Remote Clique", "higher", lambda m: m.get("remote_clique"), 40, plotted=True),)

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        emb = run.dataset_embedding(d)
        if len(d.texts) >= 2:
            out["remote_clique"] = round(M.remote_clique(emb), 6)
