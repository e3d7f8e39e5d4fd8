"""`top5_similarity`: per real test text, its 5 nearest synthetic texts' mean cosine similarity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.runtime.eval import metrics as M
from synthc.runtime.eval.measures.base import Column, Measure

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["Top5Similarity"]


class Top5Similarity(Measure):
    name = "top5_similarity"
    rank = 70
    embeds = True
    columns = (Column("top5_similarity", "top-5 sim. to real", "higher", lambda m: m.get("top5_similarity"), 60),)

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        emb = run.dataset_embedding(d)
        if run.real.texts and not reference:
            out["top5_similarity"] = round(M.top_k_similarity(run.real_embeddings(), emb, 5), 6)
