"""`mauve`: MAUVE of the dataset against real texts of the same label (SynthesizRR)."""

from __future__ import annotations

from synthc.compiler.metrics.base import MetricKind

__all__ = ["Mauve"]


class Mauve(MetricKind):
    name = "mauve"
    doc = "MAUVE ×100 against real test texts of the same label (`mauve-text`, synthc[eval]); higher = closer to real"
