"""`text_length`: token-length statistics of a dataset and their distance to the real test split's
(SynthesizRR's TextLength; compiler/metrics/text_length.py says why)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.runtime.eval import metrics as M
from synthc.runtime.eval.measures.base import Column, Measure

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["TextLength"]


def _real_lengths(run: Run) -> list[int]:
    return [len(t) for t in run.tokens(run.real.texts)]


class TextLength(Measure):
    name = "text_length"
    rank = 120
    columns = (
        Column("mean_length", "mean length (tok.)", "", lambda m: m.get("text_length", {}).get("mean"), 100,
               only_measured=True),
        Column("length_distance", "length W1 to real", "lower",
               lambda m: m.get("text_length", {}).get("wasserstein_to_real"), 101, only_measured=True),
    )

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        lengths = [len(t) for t in run.dataset_tokens(d)]
        stats = {k: round(v, 6) for k, v in M.length_stats(lengths).items()}
        real = run.shared("text_length.real", lambda: _real_lengths(run))
        extra: dict[str, Any] = {"unit": "tokens (the Self-BLEU tokenizer)"}
        if real:
            real_stats = M.length_stats(real)
            extra |= {"wasserstein_to_real": round(M.wasserstein_1d(lengths, real), 6),
                      "real_mean": round(real_stats["mean"], 6), "real_p50": round(real_stats["p50"], 6)}
        out["text_length"] = stats | extra
