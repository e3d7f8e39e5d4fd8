"""`top5_similarity`: how closely the dataset covers each real text (Li et al.)."""

from __future__ import annotations

from synthc.compiler.metrics.base import MetricKind

__all__ = ["Top5Similarity"]


class Top5Similarity(MetricKind):
    name = "top5_similarity"
    doc = "per real test text, the mean of its 5 highest cosine similarities to the dataset; higher = closer to real"
