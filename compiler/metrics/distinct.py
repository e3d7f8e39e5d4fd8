"""`distinct`: distinct-1 / distinct-2 (unique n-grams over all n-grams, pooled)."""

from __future__ import annotations

from synthc.compiler.metrics.base import MetricKind

__all__ = ["Distinct"]


class Distinct(MetricKind):
    name = "distinct"
    doc = "distinct-1 / distinct-2: unique n-grams over all n-grams, pooled and lower-cased; higher = more diverse"
