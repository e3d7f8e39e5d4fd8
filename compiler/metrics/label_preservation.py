"""`label_preservation`: do the texts carry their intended labels (SynthesizRR)?"""

from __future__ import annotations

from synthc.compiler.metrics.base import MetricKind

__all__ = ["LabelPreservation"]


class LabelPreservation(MetricKind):
    name = "label_preservation"
    doc = "accuracy / macro-F1 of the intended labels under an oracle trained on the gold train split; higher"
    needs_labels = True
