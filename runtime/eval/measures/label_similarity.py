"""`label_similarity`: the label-by-label mean cosine similarity matrix of a labelled dataset."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from synthc.runtime.eval import metrics as M
from synthc.runtime.eval.measures.base import Measure

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["LabelSimilarity"]


class LabelSimilarity(Measure):
    name = "label_similarity"
    rank = 60
    embeds = True

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        emb = run.dataset_embedding(d)
        if d.labelled:
            names, mat = M.label_similarity(emb, [str(x) for x in d.labels])
            out["label_similarity"] = {"labels": names, "matrix": mat}

    def details_html(self, d: dict[str, Any]) -> str:
        ls = d.get("label_similarity")
        if not ls:
            return ""
        head = "".join(f"<th>{html.escape(x)}</th>" for x in ls["labels"])
        rows = "".join(f"<tr><th>{html.escape(a)}</th>" + "".join(f"<td>{v:.3f}</td>" for v in r) + "</tr>"
                       for a, r in zip(ls["labels"], ls["matrix"]))
        return f"<p>Label-wise cosine similarity:</p><table><tr><th></th>{head}</tr>{rows}</table>"
