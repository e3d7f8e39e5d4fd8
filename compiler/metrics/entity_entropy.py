"""`entity_entropy`: entropy of named entities (SynthesizRR), spaCy NER."""

from __future__ import annotations

from synthc.compiler.metrics.base import MetricKind

__all__ = ["EntityEntropy"]


class EntityEntropy(MetricKind):
    name = "entity_entropy"
    doc = "entropy (bits) of spaCy NER entities, pooled over (string, type) and per type; higher = more diverse"
