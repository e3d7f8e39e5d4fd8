"""The metric kinds: each is one self-describing `MetricKind` in its own module, collected here.

A kind declares its name and one-line doc (hover and completion on `metrics = [...]`, the
`evaluate` block's docs, `synthc eval --help`), the settings of the `evaluate` block it owns (each
also a `synthc eval` option) and whether it needs labelled data. compiler/schema.py builds the
`evaluate` block from this registry, compiler/lower.py lowers every setting by name into
`ir.Evaluate`, and the runtime builds its `Options` from the same names (runtime/eval/evaluate.py).
The computation and the report's columns are the `Measure` of the same name in
runtime/eval/measures/; a test checks that the two registries name the same metrics. Adding a
metric = one module here + one there (+ its `ir.Evaluate` field when it has a setting).
"""

from __future__ import annotations

from synthc.compiler.fields import ENUM, Field, T
from synthc.compiler.metrics.base import MetricKind
from synthc.compiler.metrics.kinds import KINDS

__all__ = ["MetricKind", "KINDS", "NAMES", "COMMON", "kind", "settings", "command_line_settings", "needs_labels",
           "names_type"]

NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)
assert len(set(NAMES)) == len(NAMES), "a metric registered twice"

# Settings several metrics share (the semantic ones embed with it), owned by none of them.
COMMON: tuple[Field, ...] = (
    Field("embedder", ENUM("auto", "minilm", "tfidf_svd"), "auto", doc="sentence embedder for the semantic metrics"),
)


def kind(name: str) -> MetricKind:
    return next(k for k in KINDS if k.name == name)


def names_type() -> T:
    """The `metrics` list's element type: the registered names, each with its doc for hover."""
    return ENUM(*NAMES, docs=tuple(k.doc for k in KINDS))


def settings() -> tuple[Field, ...]:
    """Every evaluation setting of the `evaluate` block: the shared ones, then each kind's own."""
    return COMMON + tuple(f for k in KINDS for f in k.settings)


def command_line_settings() -> tuple[Field, ...]:
    """The settings `synthc eval` takes as options (not those naming a recipe's declarations)."""
    return COMMON + tuple(f for k in KINDS if k.command_line for f in k.settings)


def needs_labels(names: tuple[str, ...]) -> bool:
    return any(kind(n).needs_labels for n in names if n in NAMES)
