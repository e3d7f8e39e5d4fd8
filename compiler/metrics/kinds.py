"""The registered metric kinds, in the order the `metrics` list, docs and `synthc eval --help`
name them (new kinds go last: the order is user-visible)."""

from __future__ import annotations

from synthc.compiler.metrics.base import MetricKind
from synthc.compiler.metrics.chamfer import Chamfer
from synthc.compiler.metrics.distinct import Distinct
from synthc.compiler.metrics.entity_entropy import EntityEntropy
from synthc.compiler.metrics.label_preservation import LabelPreservation
from synthc.compiler.metrics.label_similarity import LabelSimilarity
from synthc.compiler.metrics.mauve import Mauve
from synthc.compiler.metrics.remote_clique import RemoteClique
from synthc.compiler.metrics.retrieval import Retrieval
from synthc.compiler.metrics.self_bleu import SelfBleu
from synthc.compiler.metrics.student import Student
from synthc.compiler.metrics.text_length import TextLength
from synthc.compiler.metrics.top5_similarity import Top5Similarity

__all__ = ["KINDS"]

KINDS: tuple[MetricKind, ...] = (
    SelfBleu(), Distinct(), RemoteClique(), Chamfer(), Mauve(), Top5Similarity(), LabelPreservation(), Student(),
    EntityEntropy(), LabelSimilarity(), Retrieval(), TextLength(),
)
