"""`label_similarity`: label-wise cosine similarity matrix (SynthesizRR)."""

from __future__ import annotations

from synthc.compiler.metrics.base import MetricKind

__all__ = ["LabelSimilarity"]


class LabelSimilarity(MetricKind):
    name = "label_similarity"
    doc = "mean cosine similarity within and across labels; lower off-diagonal = better separated labels"
    needs_labels = True
