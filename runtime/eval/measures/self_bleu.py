"""`self_bleu`: Self-BLEU-1..5 per dataset (the counted exact algorithm is in runtime/eval/metrics.py)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from synthc.runtime.eval import metrics as M
from synthc.runtime.eval.measures.base import Column, Measure

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["SelfBleu"]


class SelfBleu(Measure):
    name = "self_bleu"
    rank = 10
    columns = (Column("self_bleu_5", "Self-BLEU-5", "lower", lambda m: m.get("self_bleu", {}).get("self_bleu_5"), 10,
                      plotted=True),)

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        toks = run.dataset_tokens(d)
        if len(toks) < 2:
            out["self_bleu"] = {"note": "needs at least two texts"}
            return
        sample = run.opts.self_bleu_sample
        scores = M.self_bleu(toks, 5, sample=sample, seed=0)
        exact = sample is None or sample >= len(toks)
        est = "exact (all hypotheses)" if exact else f"sampled: {sample} of {len(toks)} hypotheses, seed 0"
        out["self_bleu"] = {f"self_bleu_{n}": round(v, 6) for n, v in scores.items()} | {
            "estimator": est, "smoothing": "NLTK method1", "weights": "uniform 1/n"}

    def details_html(self, d: dict[str, Any]) -> str:
        from synthc.runtime.eval.report import fmt

        sb = d.get("self_bleu", {})
        if "self_bleu_1" not in sb:
            return ""
        return ("<p>Self-BLEU-1..5: " + ", ".join(fmt(sb[f"self_bleu_{n}"]) for n in range(1, 6))
                + f" <small>({html.escape(sb['estimator'])})</small></p>")
