"""`text_length`: how long the texts are, and how far their lengths are from real data's.

SynthesizRR's default metric set reports TextLength beside Self-BLEU and MAUVE: a generator that
writes one-line headlines for a task of paragraph-long news, or pads every text to the token cap,
is caught here before any student is trained. Lengths are in tokens of the same tokenizer as
Self-BLEU; the distance is the 1-D Wasserstein (earth mover's) distance between the dataset's and
the real test split's length distributions, in tokens (0 = the same distribution)."""

from __future__ import annotations

from synthc.compiler.metrics.base import MetricKind

__all__ = ["TextLength"]


class TextLength(MetricKind):
    name = "text_length"
    doc = ("token lengths (mean, std, quantiles) and their Wasserstein distance to the real texts' lengths; "
           "lower distance = lengths like real data")
