"""`remote_clique`: mean cosine distance of each text to all others (Li et al., Cox et al. 2021)."""

from __future__ import annotations

from synthc.compiler.metrics.base import MetricKind

__all__ = ["RemoteClique"]


class RemoteClique(MetricKind):
    name = "remote_clique"
    doc = "Remote Clique: mean over texts of the mean cosine distance to every other text; higher = more diverse"
