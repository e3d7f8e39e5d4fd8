"""`self_bleu`: Self-BLEU-1..5 (SynthesizRR), exact NLTK numbers computed with counts."""

from __future__ import annotations

from synthc.compiler.fields import INT, Field
from synthc.compiler.metrics.base import MetricKind

__all__ = ["SelfBleu"]


class SelfBleu(MetricKind):
    name = "self_bleu"
    doc = "Self-BLEU-1..5 (report 5): n-gram overlap of each text with all others; lower = more diverse"
    settings = (Field("self_bleu_sample", INT(2, 10_000_000), doc="estimate Self-BLEU from this many hypotheses"),)
