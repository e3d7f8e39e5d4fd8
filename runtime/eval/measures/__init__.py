"""The measures: the runtime's half of each metric kind, one `Measure` per module, registered by
name in the compiler registry's order (compiler/metrics/kinds.py) — a test checks both name the
same metrics.

A measure computes its numbers for one dataset from the evaluation's shared resources (`Run`:
tokens, embeddings, the real split), records why it cannot (`unavailable`), and declares how the
report shows it: its rows of the side-by-side table (`columns`: key, title, which way is better,
rank), whether the diversity figure draws them, and its part of the per-dataset details. The
evaluation (runtime/eval/evaluate.py) and the report (report.py) read only this registry.
"""

from __future__ import annotations

from synthc.runtime.eval.measures.base import Column, Getter, Measure
from synthc.runtime.eval.measures.chamfer import Chamfer
from synthc.runtime.eval.measures.distinct import Distinct
from synthc.runtime.eval.measures.entity_entropy import EntityEntropy
from synthc.runtime.eval.measures.label_preservation import LabelPreservation
from synthc.runtime.eval.measures.label_similarity import LabelSimilarity
from synthc.runtime.eval.measures.mauve import Mauve
from synthc.runtime.eval.measures.remote_clique import RemoteClique
from synthc.runtime.eval.measures.retrieval import Retrieval
from synthc.runtime.eval.measures.self_bleu import SelfBleu
from synthc.runtime.eval.measures.student import STUDENT_COLUMNS, Student
from synthc.runtime.eval.measures.text_length import TextLength
from synthc.runtime.eval.measures.top5_similarity import Top5Similarity

__all__ = ["Measure", "Column", "Getter", "MEASURES", "STUDENT", "STUDENT_COLUMNS", "get", "in_rank_order",
           "columns", "plotted"]

STUDENT = Student()
_ALL: tuple[Measure, ...] = (
    SelfBleu(), Distinct(), RemoteClique(), Chamfer(), Mauve(), Top5Similarity(), LabelPreservation(), STUDENT,
    EntityEntropy(), LabelSimilarity(), Retrieval(), TextLength(),
)


def _in_registry_order() -> tuple[Measure, ...]:
    from synthc.compiler.metrics import NAMES

    by_name = {m.name: m for m in _ALL}
    assert set(by_name) == set(NAMES), "runtime measures and compiler metric kinds differ"
    return tuple(by_name[n] for n in NAMES)


MEASURES: tuple[Measure, ...] = _in_registry_order()


def get(name: str) -> Measure:
    return next(m for m in MEASURES if m.name == name)


def in_rank_order(names: set[str] | frozenset[str]) -> tuple[Measure, ...]:
    """The measures named, in the order they run on a dataset."""
    return tuple(sorted((m for m in MEASURES if m.name in names), key=lambda m: m.rank))


def columns() -> tuple[Column, ...]:
    """Every measure's table rows, in table order."""
    return tuple(sorted((c for m in MEASURES for c in m.columns), key=lambda c: c.rank))


def plotted() -> tuple[Column, ...]:
    """The rows the diversity figure draws, in registry order."""
    return tuple(c for m in MEASURES for c in m.columns if c.plotted)
