"""`chamfer`: mean cosine distance of each text to its nearest other text (Li et al.)."""

from __future__ import annotations

from synthc.compiler.metrics.base import MetricKind

__all__ = ["Chamfer"]


class Chamfer(MetricKind):
    name = "chamfer"
    doc = "Chamfer distance: mean over texts of the smallest cosine distance to another text; higher = more diverse"
